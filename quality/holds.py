"""Quality holds and quarantine: what the rules' verdict means for the warehouse.

The rules (quality/rules.py) judge a window of landing days; this module records what
that judgement means. Records that break a blocking record-level rule go to
`raw.quarantined_records` (staging leaves them out, the rest of the day loads); a day
whose failing share passes `max_failing_record_share` is a systemic fault and is held in
`raw.quality_holds`: it stays in raw (its records can be inspected) but staging leaves
all its records out (dbt_project/models/staging/stg_gateway__request_logs.sql), so that
no later build, such as one rebuilding an event day for a late record, pulls them in.
Both tables are created with the other raw tables (ingest/warehouse.py); on Spark they
are Parquet folders in the lake (ingest/lake.py), and the same code runs on them
(check_and_hold).
"""

from __future__ import annotations

from datetime import date

import duckdb

from config.settings import Settings
from ingest import lake
from ingest.warehouse import connect, ensure_raw_schema
from quality.rules import (
    ERROR,
    RAW_CHECKS,
    RAW_ROW_RULES,
    CheckOutcome,
    Thresholds,
    check_raw,
    raw_relation,
)


def _hold_every_day(
    connection: duckdb.DuckDBPyConnection, first: date, last: date, why: str
) -> None:
    connection.execute(
        "INSERT INTO raw.quality_holds SELECT CAST(day AS DATE), ?, now() "
        "FROM range(CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP) + INTERVAL 1 DAY, "
        "INTERVAL 1 DAY) AS days(day)",
        [why, first, last],
    )


def quarantine_and_hold(
    connection: duckdb.DuckDBPyConnection, first: date, last: date, thresholds: Thresholds
) -> dict[date, str]:
    """Quarantine the records of landing days [first, last] that break a blocking
    record-level rule (raw.quarantined_records, the rules as the reason), and hold a day
    (raw.quality_holds) only when the share of its records that fail passes
    `max_failing_record_share`. Returns the held days with the reason.

    Every blocking rule is a record-level rule (the aggregate checks are warnings), so a
    record that fails belongs to the quarantine, and the rest of its day loads.
    """
    source, params = raw_relation(first, last)
    failing = " union all ".join(
        f"select landing_date, source_file, line_number, request_id, '{rule.check}' as check_name, "
        f"'{rule.name}' as rule from {source} "
        f"where ({rule.scope}) and ({rule.violation_sql(thresholds)})"
        for rule in RAW_ROW_RULES
        if next(c for c in RAW_CHECKS if c.name == rule.check).severity == ERROR
    )
    connection.execute("BEGIN TRANSACTION")
    try:
        for table in ("raw.quarantined_records", "raw.quality_holds"):
            connection.execute(
                f"DELETE FROM {table} WHERE landing_date BETWEEN $first AND $last", params
            )
        connection.execute(
            f"""
            INSERT INTO raw.quarantined_records
            SELECT landing_date, source_file, line_number, request_id,
                   'failed ' || string_agg(DISTINCT rule, ', ' ORDER BY rule), now()
            FROM ({failing})
            GROUP BY ALL
            """,
            params,
        )
        shares = connection.execute(
            """
            WITH days AS (
                SELECT landing_date, count(*) AS records FROM raw.request_logs
                WHERE landing_date BETWEEN $first AND $last GROUP BY ALL
            ),
            failed AS (
                SELECT landing_date, count(*) AS failing,
                       string_agg(DISTINCT replace(reason, 'failed ', ''), ', ') AS rules
                FROM raw.quarantined_records
                WHERE landing_date BETWEEN $first AND $last GROUP BY ALL
            )
            SELECT landing_date, failing, records, rules
            FROM failed JOIN days USING (landing_date) ORDER BY landing_date
            """,
            params,
        ).fetchall()
        check_of = {rule.name: rule.check for rule in RAW_ROW_RULES}
        held = {}
        for day, failing_records, records, rules in shares:
            share = failing_records / records
            if share > thresholds.max_failing_record_share:
                rule_names = sorted(set(rules.split(", ")))
                checks = sorted({check_of[r] for r in rule_names})
                held[day] = (
                    f"{failing_records:,} of {records:,} records ({share:.1%}) break blocking "
                    f"checks {', '.join(checks)} ({', '.join(rule_names)}), more than "
                    "max_failing_record_share "
                    f"{thresholds.max_failing_record_share:.1%}: a systemic fault, so the "
                    "whole day is held"
                )
                connection.execute(
                    "INSERT INTO raw.quality_holds VALUES (?, ?, now())", [day, held[day]]
                )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return held


class ChecksCrashed(RuntimeError):
    """The checks of a window could not run; its landing days are held."""


def check_raw_and_hold(
    connection: duckdb.DuckDBPyConnection, first: date, last: date, thresholds: Thresholds
) -> tuple[list[CheckOutcome], dict[date, str]]:
    """Run every raw check on landing days [first, last], quarantine the records that
    fail, hold the days with a systemic fault; returns the outcomes and the held days.

    A check that cannot run (a crash, not a verdict) holds every day of the window, as a
    failed blocking check would: otherwise a later build of another day, rebuilding an
    event day those records touch, would carry unchecked records into the facts. The
    error is raised again (ChecksCrashed) after the hold is committed.
    """
    try:
        outcomes = check_raw(connection, first, last, thresholds)
        held = quarantine_and_hold(connection, first, last, thresholds)
    except Exception as error:
        reason = f"the checks could not run ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
        try:
            connection.execute("ROLLBACK")
        except duckdb.Error:
            pass  # no transaction was open
        connection.execute("BEGIN TRANSACTION")
        connection.execute(
            "DELETE FROM raw.quality_holds WHERE landing_date BETWEEN ? AND ?", [first, last]
        )
        _hold_every_day(connection, first, last, reason)
        connection.execute("COMMIT")
        raise ChecksCrashed(
            f"Landing days {first} .. {last} are held: {reason}. Fix the cause and run them again."
        ) from error
    return outcomes, held


def check_and_hold(
    settings: Settings, first: date, last: date, thresholds: Thresholds
) -> tuple[list[CheckOutcome], dict[date, str]]:
    """check_raw_and_hold on the engine's raw tables: the warehouse file, or on Spark the
    lake's Parquet files, whose quarantine and holds of the window are written back
    (ingest/lake.py), the holds of a crashed check included."""
    if settings.on_spark:
        with lake.editing_days(
            connect(settings, read_only=True),
            settings,
            ("quarantined_records", "quality_holds"),
            first,
            last,
        ) as connection:
            return check_raw_and_hold(connection, first, last, thresholds)
    with connect(settings, wait_seconds=settings.write_wait_seconds) as connection:
        ensure_raw_schema(connection)
        return check_raw_and_hold(connection, first, last, thresholds)
