"""The warehouse tables of the alerts, as the page and the CLI read them.

alerts/ writes them after every build (alerts/state.py, docs/alerts.md); here they are
only named and read. A warehouse whose alerts were never evaluated has none of them:
every reader then gets no rows.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from config.settings import Settings
from readers.warehouse import reading

SCHEMA = "alerts"
STATE_TABLE = f"{SCHEMA}.alert_state"  # one row per alert (rule, scope, period, level)
DELIVERIES_TABLE = f"{SCHEMA}.alert_deliveries"  # one row per message and URL
BUDGET_STATUS_TABLE = f"{SCHEMA}.budget_status"  # one row per budget and period
# The rule of a budget's thresholds (50%, 80%, 100% by default): each fires, and is sent,
# on its own; a reader lists only the highest one passed (highest_thresholds).
BUDGET_THRESHOLD_RULE = "budget_threshold"
# The budget status table's columns: (name, DuckDB type, definition). alerts/state.py
# creates the table from them and docs/metrics.md ("Budget status", written by
# tools/metrics_doc.py) lists them.
BUDGET_STATUS_COLUMNS = (
    ("budget", "VARCHAR", "the budget's name (its `name` in the budgets file)"),
    ("scope", "VARCHAR", "`all`, or the dimension it is for (api_key, organization, team, ...)"),
    ("scope_id", "VARCHAR", "the id within that dimension (`key:value` for a tag); NULL for all"),
    ("period", "VARCHAR", "`month`, `week` (ISO, from Monday) or `day`, in the reporting zone"),
    ("period_start", "DATE", "the period's first day"),
    ("period_end", "DATE", "the period's last day"),
    ("unit", "VARCHAR", "`usd` (spend_usd) or `tokens` (total_tokens)"),
    ("budget_limit", "DOUBLE", "the budget's limit in its unit"),
    ("spent", "DOUBLE", "the scope's spend (or tokens) in the period up to `as_of`"),
    ("share_used", "DOUBLE", "spent / limit"),
    (
        "daily_rate",
        "DOUBLE",
        "mean daily spend of the trailing 7 complete days up to the last complete day "
        "(days without requests count as 0); NULL for a complete period",
    ),
    (
        "forecast",
        "DOUBLE",
        "spent + daily_rate x the days of the period after the last complete day; spent "
        "for a complete period",
    ),
    ("forecast_share", "DOUBLE", "forecast / limit"),
    (
        "limit_reached_on",
        "DATE",
        "the day the running total reached the limit; before that, the last complete day "
        "+ ceil((limit - spent) / daily_rate) days if within the period, else NULL",
    ),
    ("complete", "BOOLEAN", "the period ended on or before the last complete day"),
    ("evaluated_at", "TIMESTAMPTZ", "when the alerts asset wrote the row"),
)
# How the evaluation decides the days it reads, stated once for docs/metrics.md.
BUDGET_DAYS_NOTE = (
    "`as_of` is the latest event day in the marts; the last complete day is `as_of` when "
    "that day is over in the reporting zone (a nightly build), else the day before (an "
    "intraday build), whose partial spend is in `spent` while the day also counts as a "
    "day left (the forecast leans high by at most that part of a day). Rows: every "
    "period from the budget's first day with data to the period holding `as_of`, "
    "replaced at each evaluation."
)
ACTIVE = "active"
RESOLVED = "resolved"
ENDED = "ended"  # its period is over (a budget's), or a newer period's alert replaced it


def read_rows(
    connection: duckdb.DuckDBPyConnection, table: str, sql: str, params: list | None = None
) -> pd.DataFrame:
    """`sql` on an open connection, or no rows when `table` does not exist yet."""
    schema, name = table.split(".")
    exists = connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()[0]
    if not exists:
        return pd.DataFrame()
    return connection.execute(sql, params or []).fetchdf()


def _read(settings: Settings, table: str, sql: str, params: list | None = None) -> pd.DataFrame:
    with reading(settings) as connection:
        return read_rows(connection, table, sql, params)


ALERT_COLUMNS = (
    "status, rule, scope, period, period_start, level, figure, threshold, title, body, "
    "first_fired_at, changed_at"
)


ACTIVE_SQL = (
    f"SELECT {ALERT_COLUMNS} FROM {STATE_TABLE} WHERE status = '{ACTIVE}' "
    "ORDER BY first_fired_at DESC, alert_key"
)
CURRENT_BUDGETS_SQL = (
    f"SELECT * FROM {BUDGET_STATUS_TABLE} "
    "QUALIFY period_start = max(period_start) OVER (PARTITION BY budget) ORDER BY budget"
)


def active_alerts(settings: Settings) -> pd.DataFrame:
    """The alerts firing at the last evaluation, newest first."""
    return _read(settings, STATE_TABLE, ACTIVE_SQL)


def highest_thresholds(active: pd.DataFrame) -> pd.DataFrame:
    """The active alerts as a person reads them: of the thresholds one budget has passed in
    one period only the highest, since it implies the lower ones (passing 100% of a limit
    has passed 50% and 80%). Each stays an alert of its own in the state table, sent once."""
    if active.empty:
        return active
    threshold = (active["rule"] == BUDGET_THRESHOLD_RULE).to_numpy()
    highest = active.groupby(["rule", "scope", "period", "period_start"])["threshold"].transform(
        "max"
    )
    return active[~threshold | (active["threshold"] == highest).to_numpy()]


def recent_alerts(settings: Settings, limit: int = 20) -> pd.DataFrame:
    """The alerts that changed most recently (fired, resolved or ended), newest first."""
    return _read(
        settings,
        STATE_TABLE,
        f"SELECT {ALERT_COLUMNS} FROM {STATE_TABLE} ORDER BY changed_at DESC, alert_key LIMIT ?",
        [limit],
    )


def current_budget_status(settings: Settings) -> pd.DataFrame:
    """Each budget's status in its latest period (the one the last evaluation is in)."""
    return _read(settings, BUDGET_STATUS_TABLE, CURRENT_BUDGETS_SQL)


def undelivered_messages(settings: Settings) -> pd.DataFrame:
    """Messages not delivered yet to one of their URLs (retried at the next evaluation)."""
    return _read(
        settings,
        DELIVERIES_TABLE,
        f"SELECT * FROM {DELIVERIES_TABLE} WHERE delivered_at IS NULL ORDER BY created_at",
    )
