"""One evaluation of the alerts, after a build changed the marts: budget status, the
rules, the state and history tables, and delivery of what is queued (docs/alerts.md).

`evaluate_alerts(settings, connection)` is what the Dagster asset runs
(orchestration/alert_assets.py); it raises only `BudgetsFileError` (a mistake in the
budgets file, one line) and warehouse errors. Deliveries never raise: a failed one is
recorded and tried again at the next evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

from alerts import figures, rules
from alerts.budget_status import BudgetStatus, budget_status, period_bounds
from alerts.budgets_file import AlertConfig, Budget, alert_urls, read_alert_config
from alerts.delivery import Sender, send_message
from alerts.state import (
    BUDGET_STATUS_DDL,
    apply_firings,
    deliver_pending,
    end_all_active,
    ensure_tables,
)
from config.dimensions import dimension
from config.settings import Settings
from readers.alert_tables import BUDGET_STATUS_COLUMNS, BUDGET_STATUS_TABLE

# How far back the rules read the marts: the longest trailing window plus the day judged.
_LOOKBACK_MARGIN_DAYS = 1


@dataclass
class Evaluation:
    """What one evaluation did, for the asset's log and metadata."""

    off: str | None = None  # why alerts are off (no budgets file), else None
    as_of: date | None = None
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    delivered: int = 0
    failed: list[str] = field(default_factory=list)
    budgets: list[BudgetStatus] = field(default_factory=list)
    # Budgets whose scope no request has carried yet (a new team, or a typo in `id`).
    unmatched: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.off:
            return self.off
        return (
            f"Alerts as of {self.as_of}: {len(self.fired)} fired, {len(self.resolved)} "
            f"resolved, {len(self.ended)} ended; {self.delivered} message(s) delivered, "
            f"{len(self.failed)} failed (retried at the next evaluation)."
        )


def last_complete_day(as_of: date, now: datetime, zone: str) -> date:
    """`as_of` when it is over in the reporting zone, else the day before (an intraday
    build's today is still filling)."""
    today = now.astimezone(ZoneInfo(zone)).date()
    return as_of if as_of < today else as_of - timedelta(days=1)


def evaluate_alerts(
    settings: Settings,
    connection: duckdb.DuckDBPyConnection,
    *,
    now: datetime | None = None,
    as_of: date | None = None,
    send: Sender = send_message,
) -> Evaluation:
    """Evaluate every budget and rule on the marts as of `as_of` (default: the latest
    event day), record the changes, and deliver every queued message."""
    now = now or datetime.now(UTC)
    ensure_tables(connection)
    config = read_alert_config(settings)
    if config is None:
        # Alerts turned off: nothing stays active on the page, no budget is shown.
        ended = end_all_active(connection, now)
        connection.execute(f"DROP TABLE IF EXISTS {BUDGET_STATUS_TABLE}")
        return Evaluation(
            ended=ended,
            off=f"No budgets file at {settings.budgets_file} (LLM_USAGE_BUDGETS_FILE): "
            "alerts are off (docs/alerts.md).",
        )
    as_of = as_of or figures.latest_day(connection)
    if as_of is None:
        return Evaluation(off="The marts hold no requests yet: nothing to evaluate.")
    last_complete = last_complete_day(as_of, now, settings.reporting_timezone)
    evaluation = Evaluation(as_of=as_of)

    firings: list[rules.Firing] = []
    budget_periods: dict[str, date] = {}
    for budget in (*config.budgets, *_gateway_budgets(connection, config)):
        days = figures.budget_days(connection, budget)
        if not days and budget.scope_id is not None:
            evaluation.unmatched.append(
                f"budget {budget.name!r}: no request in the warehouse carries "
                f"{budget.scope} {budget.scope_id!r} yet; check its id in {config.path}."
            )
        statuses = budget_status(budget, days, as_of, last_complete)
        evaluation.budgets.extend(statuses)
        current = statuses[-1]
        budget_periods[budget.name] = period_bounds(budget.period, as_of)[0]
        firings.extend(rules.budget_firings(current, budget.thresholds, as_of))
    firings.extend(_rule_firings(connection, config, as_of, now))

    urls = alert_urls(settings, config)
    # State, history and the messages they queue change together or not at all: a step
    # killed in between must not leave an alert recorded whose message was never queued.
    connection.execute("BEGIN TRANSACTION")
    try:
        _write_budget_status(connection, evaluation.budgets, now)
        changes = apply_firings(connection, firings, budget_periods, urls, now, settings.page_url)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    evaluation.fired, evaluation.resolved, evaluation.ended = (
        changes.fired,
        changes.resolved,
        changes.ended,
    )
    delivered = deliver_pending(connection, urls, send, now)
    evaluation.delivered, evaluation.failed = delivered.delivered, delivered.failed
    return evaluation


def _gateway_budgets(connection: duckdb.DuckDBPyConnection, config: AlertConfig) -> list[Budget]:
    """A budget for each key and team whose latest record carries the gateway's own limit,
    when the budgets file turns them on ([gateway_limits], docs/alerts.md)."""
    switch = config.gateway_limits
    if not switch.enabled:
        return []
    budgets = [
        Budget(
            name=f"gateway limit of {scope.replace('_', ' ')} {scope_id}",
            scope=scope,
            scope_id=scope_id,
            period=switch.period,
            limit=limit,
            unit="usd",
            thresholds=switch.thresholds,
        )
        for scope, scope_id, limit in figures.gateway_limits(connection)
        # A limit of 0 blocks the key in the gateway: there is no spend to warn about.
        if limit > 0
    ]
    # A budget of the file with the same name is the one kept: names identify budgets.
    taken = {budget.name for budget in config.budgets}
    return [budget for budget in budgets if budget.name not in taken]


def _rule_firings(
    connection: duckdb.DuckDBPyConnection, config: AlertConfig, day: date, now: datetime
) -> list[rules.Firing]:
    fired: list[rules.Firing] = []
    errors, latency, anomaly = config.error_rate, config.latency, config.spend_anomaly
    hourly = config.error_rate_hourly
    judged = figures.latest_complete_hour(connection, day, now) if hourly.enabled else None
    if judged:
        hour, shown = judged
        for kind in hourly.by:
            frame = figures.breakdown_hours(
                connection,
                dimension(kind).column,
                hour - timedelta(days=hourly.trailing_days),
                hour,
            )
            fired += rules.hourly_error_rate_firings(frame, kind, hour, shown, hourly)
    if errors.enabled:
        since = day - timedelta(days=errors.trailing_days + _LOOKBACK_MARGIN_DAYS)
        for kind in errors.by:
            frame = figures.breakdown_days(
                connection,
                "mart_provider_summary",
                dimension(kind).column,
                ("requests", "successful_requests"),
                since,
            )
            fired += rules.error_rate_firings(frame, kind, day, errors)
    if latency.enabled:
        since = day - timedelta(days=latency.trailing_days + _LOOKBACK_MARGIN_DAYS)
        sources = {
            "p99_latency_ms": ("mart_latency_by_model", "successful_requests"),
            "p99_first_token_ms": ("mart_first_token_latency_by_model", "streaming_requests"),
        }
        for figure in latency.figures:
            mart, sample = sources[figure]
            frame = figures.breakdown_days(connection, mart, "model", (sample, figure), since)
            fired += rules.latency_firings(frame, figure, sample, day, latency)
    if anomaly.enabled:
        since = day - timedelta(days=anomaly.trailing_days + _LOOKBACK_MARGIN_DAYS)
        for kind in anomaly.by:
            frame = figures.breakdown_days(
                connection, "mart_usage_summary", dimension(kind).column, ("spend_usd",), since
            )
            fired += rules.spend_anomaly_firings(frame, kind, day, anomaly)
    return fired


def _write_budget_status(
    connection: duckdb.DuckDBPyConnection, statuses: list[BudgetStatus], now: datetime
) -> None:
    """Replace the budget status table with this evaluation's rows."""
    connection.execute(BUDGET_STATUS_DDL)
    if statuses:
        connection.executemany(
            f"INSERT INTO {BUDGET_STATUS_TABLE} VALUES "
            f"({', '.join('?' for _ in BUDGET_STATUS_COLUMNS)})",
            [
                [
                    s.budget,
                    s.scope,
                    s.scope_id,
                    s.period,
                    s.period_start,
                    s.period_end,
                    s.unit,
                    s.limit,
                    s.spent,
                    s.share_used,
                    s.daily_rate,
                    s.forecast,
                    s.forecast_share,
                    s.limit_reached_on,
                    s.complete,
                    now,
                ]
                for s in statuses
            ],
        )


def send_test_message(settings: Settings) -> list[tuple[str, str | None]]:
    """`llm-usage alerts --test`: a test message to every configured URL; per URL its
    shown form and None (delivered) or why not."""
    from alerts.delivery import shown_url

    config = read_alert_config(settings)
    results = []
    for url in alert_urls(settings, config):
        error = send_message(
            url,
            "llm-usage test message",
            "This is a test message from the LLM usage warehouse: alerts reach this address."
            + (f"\nPage: {settings.page_url}" if settings.page_url else ""),
        )
        results.append((shown_url(url), error))
    return results
