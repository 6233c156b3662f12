"""Budgets, forecasts and alert rules evaluated on the marts after every build, their
state and history in the warehouse, and their delivery through apprise (docs/alerts.md)."""
