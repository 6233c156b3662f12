"""Reading gateway request logs and loading them into the warehouse's raw tables.

Plain Python and DuckDB, usable and testable without Dagster.
"""
