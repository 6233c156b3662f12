"""The warehouse tables of the alerts, as the page and the CLI read them.

alerts/ writes them after every build (alerts/state.py, docs/alerts.md); here they are
only named and read. A warehouse whose alerts were never evaluated has none of them:
every reader then gets no rows.
"""

from __future__ import annotations

import pandas as pd

from config.settings import Settings
from readers.warehouse import reader_connection

SCHEMA = "alerts"
STATE_TABLE = f"{SCHEMA}.alert_state"  # one row per alert (rule, scope, period, level)
DELIVERIES_TABLE = f"{SCHEMA}.alert_deliveries"  # one row per message and URL
BUDGET_STATUS_TABLE = f"{SCHEMA}.budget_status"  # one row per budget and period
ACTIVE = "active"
RESOLVED = "resolved"
ENDED = "ended"  # its period is over (a budget's), or a newer period's alert replaced it


def _read(settings: Settings, table: str, sql: str, params: list | None = None) -> pd.DataFrame:
    schema, name = table.split(".")
    connection = reader_connection(settings)
    try:
        exists = connection.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
        if not exists:
            return pd.DataFrame()
        return connection.execute(sql, params or []).fetchdf()
    finally:
        connection.close()


ALERT_COLUMNS = (
    "status, rule, scope, period, period_start, level, figure, threshold, title, body, "
    "first_fired_at, changed_at"
)


def active_alerts(settings: Settings) -> pd.DataFrame:
    """The alerts firing at the last evaluation, newest first."""
    return _read(
        settings,
        STATE_TABLE,
        f"SELECT {ALERT_COLUMNS} FROM {STATE_TABLE} WHERE status = ? "
        "ORDER BY first_fired_at DESC, alert_key",
        [ACTIVE],
    )


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
    return _read(
        settings,
        BUDGET_STATUS_TABLE,
        f"SELECT * FROM {BUDGET_STATUS_TABLE} "
        "QUALIFY period_start = max(period_start) OVER (PARTITION BY budget) ORDER BY budget",
    )


def undelivered_messages(settings: Settings) -> pd.DataFrame:
    """Messages not delivered yet to one of their URLs (retried at the next evaluation)."""
    return _read(
        settings,
        DELIVERIES_TABLE,
        f"SELECT * FROM {DELIVERIES_TABLE} WHERE delivered_at IS NULL ORDER BY created_at",
    )
