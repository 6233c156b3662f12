"""Quality holds: landing days kept out of the facts and marts until their checks pass.

The rules (quality/rules.py) judge a window of landing days; this module records what
that judgement means for the warehouse. A held day stays in raw (its records are loaded
and can be inspected) but staging leaves its records out
(dbt_project/models/staging/stg_gateway__request_logs.sql), so that no later build, such
as one rebuilding an event day for a late record, pulls them in. `raw.quality_holds` is
created with the other raw tables (ingest/warehouse.py).
"""

from __future__ import annotations

from datetime import date

import duckdb

from quality.rules import ERROR, CheckOutcome


def record_holds(
    connection: duckdb.DuckDBPyConnection, first: date, last: date, outcomes: list[CheckOutcome]
) -> list[str]:
    """Hold landing days [first, last] out of staging if an error check failed, else release them.

    The checks judge the window as a whole, and a failed blocking check stops the whole
    run, so every day of the window is held until a run over it passes.
    """
    failed = [o.name for o in outcomes if o.severity == ERROR and not o.passed]
    connection.execute("BEGIN TRANSACTION")
    connection.execute(
        "DELETE FROM raw.quality_holds WHERE landing_date BETWEEN ? AND ?", [first, last]
    )
    if failed:
        connection.execute(
            "INSERT INTO raw.quality_holds SELECT CAST(day AS DATE), ?, now() "
            "FROM range(CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP) + INTERVAL 1 DAY, "
            "INTERVAL 1 DAY) AS days(day)",
            [", ".join(failed), first, last],
        )
    connection.execute("COMMIT")
    return failed
