"""The daily figures the budgets and rules read, from the marts' day rows.

Each function takes an open DuckDB connection (the alerts step's own) and returns plain
values; the marts are read as any reader reads them: one filter kept, the others at
'*' (readers/filters.py).
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from alerts.budgets_file import ALL_TRAFFIC, Budget
from config.dimensions import dimension
from readers.alert_tables import read_rows
from readers.filters import ALL, NONE, all_rows_sql
from readers.hours import hour_name

MARTS = "main_marts"


def _frame(connection: duckdb.DuckDBPyConnection, sql: str, params: list) -> pd.DataFrame:
    return connection.execute(sql, params).fetchdf()


def latest_day(connection: duckdb.DuckDBPyConnection) -> date | None:
    """The latest event day any request landed on (None: an empty warehouse)."""
    row = connection.execute(
        f"SELECT max(period_start) FROM {MARTS}.mart_usage_summary "
        f"WHERE grain = 'day' AND {all_rows_sql()}"
    ).fetchone()
    return row[0] if row and row[0] else None


def budget_days(connection: duckdb.DuckDBPyConnection, budget: Budget) -> dict[date, float]:
    """The budget's scope's spend (USD) or total tokens per event day, every day it has."""
    measure = "spend_usd" if budget.unit == "usd" else "total_tokens"
    if budget.scope == ALL_TRAFFIC:
        sql = (
            f"SELECT period_start, {measure} FROM {MARTS}.mart_usage_summary "
            f"WHERE grain = 'day' AND {all_rows_sql()}"
        )
        params: list = []
    elif dimension(budget.scope).cardinality == "multi":
        key, _, value = budget.scope_id.partition(":")
        sql = (
            f"SELECT period_start, {measure} FROM {MARTS}.mart_usage_by_tag "
            f"WHERE grain = 'day' AND {all_rows_sql()} AND NOT untagged AND tag_key = ? "
            "AND tag_value IS NOT DISTINCT FROM ?"
        )
        params = [key, value if ":" in budget.scope_id else None]
    else:
        column = dimension(budget.scope).column
        sql = (
            f"SELECT period_start, {measure} FROM {MARTS}.mart_usage_summary "
            f"WHERE grain = 'day' AND {all_rows_sql(column)} AND {column} = ?"
        )
        params = [budget.scope_id]
    return {day: float(value or 0) for day, value in connection.execute(sql, params).fetchall()}


def breakdown_days(
    connection: duckdb.DuckDBPyConnection,
    mart: str,
    column: str,
    measures: tuple[str, ...],
    since: date,
) -> pd.DataFrame:
    """Day rows of `mart` broken down by the filter `column` (every other filter '*'),
    from `since` on: columns day, id and the measures. The requests that name no value
    of the dimension ('(none)': no team, no project) are nobody's to judge and are left
    out; their spend still counts in every all-traffic figure."""
    frame = _frame(
        connection,
        f"SELECT period_start AS day, {column} AS id, {', '.join(measures)} "
        f"FROM {MARTS}.{mart} WHERE grain = 'day' AND {all_rows_sql(column)} "
        f"AND {column} NOT IN ('{ALL}', '{NONE}') AND period_start >= ? ORDER BY day, id",
        [since],
    )
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


HOURLY_MART = "mart_usage_by_hour"


def latest_complete_hour(
    connection: duckdb.DuckDBPyConnection, day: date, now: datetime
) -> tuple[datetime, str] | None:
    """The latest hour of the local day `day` (or before) that the hourly mart holds and
    that has ended by `now`: its start (UTC, naive) and its local name."""
    row = connection.execute(
        f"SELECT period_start AT TIME ZONE 'UTC' AS hour, hour_label, utc_offset_minutes "
        f"FROM {MARTS}.{HOURLY_MART} WHERE grain = 'hour' AND {all_rows_sql()} "
        "AND event_date <= ? AND period_start + INTERVAL 1 HOUR <= ? "
        "ORDER BY period_start DESC LIMIT 1",
        [day, now],
    ).fetchone()
    if row is None:
        return None
    return row[0], hour_name(row[1], row[2])


def breakdown_hours(
    connection: duckdb.DuckDBPyConnection, column: str, since: datetime, until: datetime
) -> pd.DataFrame:
    """Hour rows of the hourly mart broken down by the filter `column` (every other
    filter '*'), from `since` to `until` (UTC, naive): columns hour, id, requests,
    successful_requests."""
    return _frame(
        connection,
        f"SELECT period_start AT TIME ZONE 'UTC' AS hour, {column} AS id, requests, "
        f"successful_requests FROM {MARTS}.{HOURLY_MART} WHERE grain = 'hour' "
        f"AND {all_rows_sql(column)} AND {column} <> '{ALL}' "
        "AND period_start AT TIME ZONE 'UTC' BETWEEN ? AND ? ORDER BY hour, id",
        [since, until],
    )


# The dbt model of the gateway's limits (dbt_project/models/facts/), and its table.
GATEWAY_LIMITS_MODEL = "dim_gateway_limits"
GATEWAY_LIMITS = f"main_facts.{GATEWAY_LIMITS_MODEL}"


def gateway_limits(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, str, float]]:
    """(scope, id, limit in USD) of each key and team whose latest record carries the
    gateway's own limit; none before the first build that made the view."""
    rows = read_rows(
        connection,
        GATEWAY_LIMITS,
        f"SELECT scope, scope_id, max_budget_usd FROM {GATEWAY_LIMITS} ORDER BY scope, scope_id",
    )
    return [(r.scope, r.scope_id, float(r.max_budget_usd)) for r in rows.itertuples()]
