"""The alert rules: figures in, the alerts that fire out. Pure (no warehouse, no clock).

An alert is identified by its rule, scope, period and level (`Firing.key`): the state
table keeps one row per key, so that each is sent once (alerts/state.py). Messages are
plain text naming the scope, the figure, the threshold and the period; names from the
logs stay text (apprise is told the body is text, docs/alerts.md).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from alerts.budget_status import BudgetStatus
from alerts.budgets_file import (
    ErrorRateRule,
    HourlyErrorRateRule,
    LatencyRule,
    SpendAnomalyRule,
)
from readers.alert_tables import BUDGET_THRESHOLD_RULE

BUDGET_THRESHOLD = BUDGET_THRESHOLD_RULE  # named with the tables readers list it from
BUDGET_FORECAST = "budget_forecast"
ERROR_RATE = "error_rate"
ERROR_RATE_HOURLY = "error_rate_hourly"
LATENCY = "latency"
SPEND_ANOMALY = "spend_anomaly"
# Rules whose period is the budget's: when the period is over, its alerts end quietly
# (the next period starts from nothing); the others resolve with a message.
BUDGET_RULES = (BUDGET_THRESHOLD, BUDGET_FORECAST)


@dataclass(frozen=True)
class Firing:
    rule: str
    scope: str  # "team team-research", "provider openai", a budget's name
    period: str  # "month", "week", "day" or "hour"
    period_start: date  # a datetime (the hour's start, UTC) for period "hour"
    level: str  # "80%", "forecast", "p99_latency_ms", "high"
    figure: float
    threshold: float
    title: str
    body: str

    @property
    def key(self) -> str:
        """The alert's identity as text: a JSON array, so that no name from the logs (a
        provider called 'a|b') can make two alerts one."""
        return alert_key(self.rule, self.scope, self.period, self.period_start, self.level)


def alert_key(rule: str, scope: str, period: str, period_start: date, level: str) -> str:
    return json.dumps([rule, scope, period, str(period_start), level])


def key_parts(key: str) -> dict[str, str]:
    """An alert key's parts by name (rule, scope, period, period_start, level)."""
    return dict(zip(("rule", "scope", "period", "period_start", "level"), json.loads(key)))


def _amount(value: float, unit: str) -> str:
    return f"${value:,.2f}" if unit == "usd" else f"{value:,.0f} tokens"


def _span(status: BudgetStatus) -> str:
    if status.period == "day":
        return f"the day {status.period_start}"
    return f"the {status.period} {status.period_start} .. {status.period_end}"


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def budget_firings(
    status: BudgetStatus, thresholds: tuple[float, ...], as_of: date
) -> list[Firing]:
    """A budget's threshold alerts (actual spend) and its forecast alert (early warning)."""
    fired = []
    name = f"budget {status.budget!r}"
    spent = _amount(status.spent, status.unit)
    limit = _amount(status.limit, status.unit)
    for threshold in thresholds:
        if status.share_used * 100 >= threshold:
            level = f"{threshold:g}%"
            fired.append(
                Firing(
                    rule=BUDGET_THRESHOLD,
                    scope=status.budget,
                    period=status.period,
                    period_start=status.period_start,
                    level=level,
                    figure=status.share_used,
                    threshold=threshold / 100,
                    title=f"Budget {status.budget!r} passed {level} of its limit",
                    body=f"{name} ({_scope(status)}) has spent {spent} of {limit} "
                    f"({_pct(status.share_used)}; threshold {level}) in {_span(status)}, "
                    f"as of {as_of}.",
                )
            )
    if not status.complete and status.forecast_share > 1:
        reached = (
            f"; at the current rate the limit is reached on {status.limit_reached_on}"
            if status.limit_reached_on
            else ""
        )
        fired.append(
            Firing(
                rule=BUDGET_FORECAST,
                scope=status.budget,
                period=status.period,
                period_start=status.period_start,
                level="forecast",
                figure=status.forecast_share,
                threshold=1.0,
                title=f"Budget {status.budget!r} is forecast to pass its limit",
                body=f"{name} ({_scope(status)}) is forecast to spend "
                f"{_amount(status.forecast, status.unit)} against a limit of {limit} "
                f"({_pct(status.forecast_share)}; threshold 100%) by the end of "
                f"{_span(status)}; spent so far {spent}{reached}; as of {as_of}.",
            )
        )
    return fired


def _scope(status: BudgetStatus) -> str:
    return "all traffic" if status.scope_id is None else f"{status.scope} {status.scope_id}"


def _trailing(frame: pd.DataFrame, day: date, days: int) -> pd.DataFrame:
    return frame[(frame["day"] < day) & (frame["day"] >= day - timedelta(days=days))]


def _error_rates(current: pd.DataFrame, before: pd.DataFrame, rule):
    """(row, rate, trailing rate, threshold) for each id of `current` whose error rate is
    above the rule's threshold; `before`: the same ids' trailing rows."""
    for row in current.itertuples():
        if row.requests < rule.min_requests:
            continue  # a quiet provider pages nobody
        rate = (row.requests - row.successful_requests) / row.requests
        trailing = before[before["id"] == row.id]
        total = int(trailing["requests"].sum())
        if total < rule.min_requests:
            continue  # too few trailing requests are no baseline (a new provider)
        baseline = (total - int(trailing["successful_requests"].sum())) / total
        limit = max(rule.multiple * baseline, rule.min_error_rate)
        if rate > limit and rate >= rule.min_error_rate:
            yield row, rate, baseline, limit


def _error_rate_alerts(
    current: pd.DataFrame,
    before: pd.DataFrame,
    rule: ErrorRateRule | HourlyErrorRateRule,
    *,
    kind: str,
    name: str,
    period: str,
    period_start: date | datetime,
    title_when: str,
    body_when: str,
    baseline_words: str,
) -> list[Firing]:
    """One firing per provider (or model) of `current` whose error rate crosses `rule`
    against `before`; `title_when` / `body_when` name the period judged, and
    `baseline_words` the baseline (a format string of `baseline`)."""
    fired = []
    for row, rate, baseline, limit in _error_rates(current, before, rule):
        scope = f"{kind} {row.id}"
        fired.append(
            Firing(
                rule=name,
                scope=scope,
                period=period,
                period_start=period_start,
                level="high",
                figure=rate,
                threshold=limit,
                title=f"Error rate of {scope} is {_pct(rate)} {title_when}",
                body=f"{scope}: {_pct(rate)} of {row.requests} requests failed {body_when}, "
                f"above the threshold {_pct(limit)} ({rule.multiple:g}x its "
                + baseline_words.format(baseline=_pct(baseline))
                + f" at least {_pct(rule.min_error_rate)}).",
            )
        )
    return fired


def error_rate_firings(
    frame: pd.DataFrame, kind: str, day: date, rule: ErrorRateRule
) -> list[Firing]:
    """`frame`: day, id, requests, successful_requests per provider (or model) and day."""
    return _error_rate_alerts(
        frame[frame["day"] == day],
        _trailing(frame, day, rule.trailing_days),
        rule,
        kind=kind,
        name=ERROR_RATE,
        period="day",
        period_start=day,
        title_when=f"on {day}",
        body_when=f"on the day {day}",
        baseline_words=f"trailing {rule.trailing_days}-day rate {{baseline}},",
    )


def hourly_error_rate_firings(
    frame: pd.DataFrame, kind: str, hour: datetime, hour_shown: str, rule: HourlyErrorRateRule
) -> list[Firing]:
    """`frame`: hour (its UTC start), id, requests, successful_requests per provider (or
    model) and hour; `hour_shown` names the judged hour in the reporting zone."""
    start = hour - timedelta(days=rule.trailing_days)
    return _error_rate_alerts(
        frame[frame["hour"] == hour],
        frame[(frame["hour"] < hour) & (frame["hour"] >= start)],
        rule,
        kind=kind,
        name=ERROR_RATE_HOURLY,
        period="hour",
        period_start=hour,
        title_when=f"in the hour {hour_shown}",
        body_when=f"in the hour {hour_shown}",
        baseline_words=f"rate over the trailing {rule.trailing_days} days' hours, {{baseline}};",
    )


def latency_firings(
    frame: pd.DataFrame, figure: str, sample: str, day: date, rule: LatencyRule
) -> list[Firing]:
    """`frame`: day, id (model), the `sample` count and the `figure` per model and day."""
    fired = []
    today = frame[frame["day"] == day]
    trailing = _trailing(frame, day, rule.trailing_days)
    trailing = trailing[(trailing[sample] >= rule.min_requests) & trailing[figure].notna()]
    for row in today.itertuples():
        value = getattr(row, figure)
        if getattr(row, sample) < rule.min_requests or pd.isna(value):
            continue
        before = trailing[trailing["id"] == row.id][figure].tolist()
        if not before:
            continue  # no baseline yet
        baseline = statistics.median(before)
        limit = rule.multiple * baseline
        if value > limit:
            scope = f"model {row.id}"
            label = figure.removesuffix("_ms").replace("_", " ")
            fired.append(
                Firing(
                    rule=LATENCY,
                    scope=scope,
                    period="day",
                    period_start=day,
                    level=figure,
                    figure=float(value),
                    threshold=float(limit),
                    title=f"{label} of {scope} is {value:,.0f} ms on {day}",
                    body=f"{scope}: {label} {value:,.0f} ms over {getattr(row, sample)} "
                    f"requests on the day {day}, above the threshold {limit:,.0f} ms "
                    f"({rule.multiple:g}x the median of its trailing "
                    f"{rule.trailing_days} days' values, {baseline:,.0f} ms).",
                )
            )
    return fired


def spend_anomaly_firings(
    frame: pd.DataFrame, kind: str, day: date, rule: SpendAnomalyRule
) -> list[Firing]:
    """`frame`: day, id, spend_usd per key (or team) and day."""
    fired = []
    today = frame[frame["day"] == day]
    trailing = _trailing(frame, day, rule.trailing_days)
    for row in today.itertuples():
        spend = float(row.spend_usd or 0)
        if spend < rule.min_usd:
            continue
        by_day = trailing[trailing["id"] == row.id].set_index("day")["spend_usd"].fillna(0)
        days = [day - timedelta(days=i) for i in range(1, rule.trailing_days + 1)]
        # Days without requests spent nothing: they count as 0.
        baseline = statistics.median(float(by_day.get(d, 0.0)) for d in days)
        limit = rule.multiple * baseline
        if spend > limit:
            scope = f"{kind} {row.id}"
            fired.append(
                Firing(
                    rule=SPEND_ANOMALY,
                    scope=scope,
                    period="day",
                    period_start=day,
                    level="high",
                    figure=spend,
                    threshold=limit,
                    title=f"Spend of {scope} is ${spend:,.2f} on {day}",
                    body=f"{scope} spent ${spend:,.2f} on the day {day}, above the threshold "
                    f"${limit:,.2f} ({rule.multiple:g}x the median of its trailing "
                    f"{rule.trailing_days} days, ${baseline:,.2f}; at least "
                    f"${rule.min_usd:,.2f}).",
                )
            )
    return fired
