"""Read-only access to the warehouse for the people who look at it: SQL, report, dashboard."""
