"""Alert state and history in the warehouse: what fired, what resolved, what each URL got.

One row per alert key (rule, scope, period, level) in `alerts.alert_state`, and one per
message and URL in `alerts.alert_deliveries` (its key is the alert, the kind of message
and the URL), so that a message is queued once, whatever happens to the alert later,
and stays queued until its URL takes it. Table names: readers/alert_tables.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from alerts.delivery import Sender, shown_url, url_id
from alerts.rules import BUDGET_RULES, Firing, key_parts
from readers.alert_tables import (
    ACTIVE,
    BUDGET_STATUS_COLUMNS,
    BUDGET_STATUS_TABLE,
    DELIVERIES_TABLE,
    ENDED,
    RESOLVED,
    SCHEMA,
    STATE_TABLE,
)

FIRED = "fired"
RESOLVED_MESSAGE = "resolved"

DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
        alert_key VARCHAR PRIMARY KEY,
        rule VARCHAR, scope VARCHAR, period VARCHAR, period_start DATE, level VARCHAR,
        status VARCHAR, figure DOUBLE, threshold DOUBLE, title VARCHAR, body VARCHAR,
        first_fired_at TIMESTAMPTZ, changed_at TIMESTAMPTZ, evaluated_at TIMESTAMPTZ)""",
    f"""CREATE TABLE IF NOT EXISTS {DELIVERIES_TABLE} (
        alert_key VARCHAR, kind VARCHAR, url_id VARCHAR, url_shown VARCHAR,
        title VARCHAR, body VARCHAR, created_at TIMESTAMPTZ, attempts INTEGER,
        delivered_at TIMESTAMPTZ, last_error VARCHAR,
        PRIMARY KEY (alert_key, kind, url_id))""",
)


# Replaced whole at each evaluation, so a new version's columns apply at once.
BUDGET_STATUS_DDL = (
    f"CREATE OR REPLACE TABLE {BUDGET_STATUS_TABLE} ("
    + ", ".join(f"{name} {kind}" for name, kind, _ in BUDGET_STATUS_COLUMNS)
    + ")"
)


def ensure_tables(connection: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        connection.execute(statement)


@dataclass
class Changes:
    fired: list[str]
    resolved: list[str]
    ended: list[str]


def apply_firings(
    connection: duckdb.DuckDBPyConnection,
    firings: list[Firing],
    budget_periods: dict[str, date],
    urls: tuple[str, ...],
    now: datetime,
    page_url: str = "",
) -> Changes:
    """Record this evaluation's alerts and queue the messages their changes call for.

    `budget_periods`: each configured budget's current period start. An active alert that
    no longer fires is resolved (one message), unless its period is over: a budget's
    alerts end quietly with their period, and a day rule's alert of an earlier day ends
    quietly when the same alert fires for a later day (which is a message of its own).
    """
    rows = connection.execute(
        f"SELECT alert_key, status, rule, scope, level, period_start, title, body "
        f"FROM {STATE_TABLE}"
    ).fetchall()
    known = {row[0]: row for row in rows}
    firing = {f.key: f for f in firings}
    changes = Changes([], [], [])
    for key, f in firing.items():
        if key not in known:
            connection.execute(
                f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    key,
                    f.rule,
                    f.scope,
                    f.period,
                    # An hour's alert: the hour's UTC day (its title names the local hour).
                    f.period_start.date()
                    if isinstance(f.period_start, datetime)
                    else f.period_start,
                    f.level,
                    ACTIVE,
                    f.figure,
                    f.threshold,
                    f.title,
                    f.body,
                    now,
                    now,
                    now,
                ],
            )
            _queue(connection, key, FIRED, f.title, _with_link(f.body, page_url), urls, now)
            changes.fired.append(key)
            continue
        # Fired before: sent once already; a resolved one firing again is shown, not re-sent.
        was_active = known[key][1] == ACTIVE
        connection.execute(
            f"UPDATE {STATE_TABLE} SET status = ?, figure = ?, threshold = ?, body = ?, "
            "evaluated_at = ?, changed_at = CASE WHEN ? THEN changed_at ELSE ? END "
            "WHERE alert_key = ?",
            [ACTIVE, f.figure, f.threshold, f.body, now, was_active, now, key],
        )
    # A rule's periods (days, or hours as UTC instants) compare as the text of their key:
    # one rule writes them all in one ISO form.
    later = {(f.rule, f.scope, f.level): str(f.period_start) for f in firings}
    for key, (_, status, rule, scope, level, period_start, title, body) in known.items():
        if status != ACTIVE or key in firing:
            continue
        if rule in BUDGET_RULES:
            over = budget_periods.get(scope) != period_start
        else:
            own = key_parts(key)["period_start"]
            over = later.get((rule, scope, level), own) > own
        new_status = ENDED if over else RESOLVED
        connection.execute(
            f"UPDATE {STATE_TABLE} SET status = ?, changed_at = ?, evaluated_at = ? "
            "WHERE alert_key = ?",
            [new_status, now, now, key],
        )
        if over:
            changes.ended.append(key)
            continue
        _queue(
            connection,
            key,
            RESOLVED_MESSAGE,
            f"Resolved: {title}",
            _with_link(f"No longer the case as of this evaluation: {body}", page_url),
            urls,
            now,
        )
        changes.resolved.append(key)
    return changes


def end_all_active(connection: duckdb.DuckDBPyConnection, now: datetime) -> list[str]:
    """End every active alert quietly (the budgets file was removed: alerts are off)."""
    keys = [
        row[0]
        for row in connection.execute(
            f"SELECT alert_key FROM {STATE_TABLE} WHERE status = ?", [ACTIVE]
        ).fetchall()
    ]
    connection.execute(
        f"UPDATE {STATE_TABLE} SET status = ?, changed_at = ?, evaluated_at = ? WHERE status = ?",
        [ENDED, now, now, ACTIVE],
    )
    return keys


def _with_link(body: str, page_url: str) -> str:
    return f"{body}\nPage: {page_url}" if page_url else body


def _queue(connection, key: str, kind: str, title: str, body: str, urls, now) -> None:
    for url in urls:
        connection.execute(
            f"INSERT OR IGNORE INTO {DELIVERIES_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL)",
            [key, kind, url_id(url), shown_url(url), title, body, now],
        )


@dataclass
class Delivered:
    delivered: int
    failed: list[str]  # "<url shown>: <reason>" per failed attempt


def deliver_pending(
    connection: duckdb.DuckDBPyConnection, urls: tuple[str, ...], send: Sender, now: datetime
) -> Delivered:
    """Send every queued message to its URL, if the URL is still configured; record the
    outcome of each attempt. Never raises for a delivery: a failure waits for the next
    evaluation."""
    by_id = {url_id(url): url for url in urls}
    pending = connection.execute(
        f"SELECT alert_key, kind, url_id, title, body FROM {DELIVERIES_TABLE} "
        "WHERE delivered_at IS NULL ORDER BY created_at, alert_key, kind"
    ).fetchall()
    outcome = Delivered(0, [])
    for key, kind, uid, title, body in pending:
        url = by_id.get(uid)
        if url is None:
            continue  # its URL was removed from the configuration
        try:
            error = send(url, title, body)
        except Exception as exception:  # a notifier's bug must not fail the build either
            error = f"{type(exception).__name__}: {exception}"
        connection.execute(
            f"UPDATE {DELIVERIES_TABLE} SET attempts = attempts + 1, delivered_at = ?, "
            "last_error = ? WHERE alert_key = ? AND kind = ? AND url_id = ?",
            [None if error else now, error, key, kind, uid],
        )
        if error:
            outcome.failed.append(f"{shown_url(url)}: {error}")
        else:
            outcome.delivered += 1
    return outcome
