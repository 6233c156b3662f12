"""Budget status per budget and period: spent, share used, the forecast for the period's
end and the day the limit is (or will be) reached. Pure: daily figures in, rows out.

The forecast (docs/metrics.md, "Budget status"): the mean daily figure of the trailing
`trailing_days` complete days (days without requests count as 0) times the days left in
the period after the last complete day, plus what the period has spent so far. A period
that ended before the last complete day is complete: its forecast is what it spent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from alerts.budgets_file import Budget

TRAILING_DAYS = 7


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """The first and last day of the `period` (day, ISO week from Monday, month) holding `day`."""
    if period == "day":
        return day, day
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


@dataclass(frozen=True)
class BudgetStatus:
    budget: str
    scope: str
    scope_id: str | None
    period: str
    period_start: date
    period_end: date
    unit: str
    limit: float
    spent: float
    share_used: float
    daily_rate: float | None  # None for a complete period
    forecast: float
    forecast_share: float
    limit_reached_on: date | None
    complete: bool


def budget_status(
    budget: Budget,
    daily: dict[date, float],
    as_of: date,
    last_complete: date,
    trailing_days: int = TRAILING_DAYS,
) -> list[BudgetStatus]:
    """The budget's status in every period from its first day with data to `as_of`'s.

    `as_of` is the latest day the figures reach; `last_complete` the last day known to be
    whole (as_of itself after a nightly build, the day before during an intraday one).
    """
    first = min([d for d in daily if d <= as_of], default=as_of)
    rows = []
    start, end = period_bounds(budget.period, first)
    while start <= as_of:
        rows.append(_one_period(budget, daily, start, end, as_of, last_complete, trailing_days))
        start, end = period_bounds(budget.period, end + timedelta(days=1))
    return rows


def _one_period(budget, daily, start, end, as_of, last_complete, trailing_days) -> BudgetStatus:
    days = [start + timedelta(days=i) for i in range((min(end, as_of) - start).days + 1)]
    spent = sum(daily.get(d, 0.0) for d in days)
    complete = end <= last_complete
    rate = None
    forecast = spent
    if not complete:
        window = [last_complete - timedelta(days=i) for i in range(trailing_days)]
        rate = sum(daily.get(d, 0.0) for d in window) / trailing_days
        forecast = spent + rate * (end - last_complete).days
    reached = None
    if spent >= budget.limit:
        running = 0.0
        for d in days:
            running += daily.get(d, 0.0)
            if running >= budget.limit:
                reached = d
                break
    elif rate:
        day = last_complete + timedelta(days=math.ceil((budget.limit - spent) / rate))
        reached = day if day <= end else None
    return BudgetStatus(
        budget=budget.name,
        scope=budget.scope,
        scope_id=budget.scope_id,
        period=budget.period,
        period_start=start,
        period_end=end,
        unit=budget.unit,
        limit=budget.limit,
        spent=spent,
        share_used=spent / budget.limit,
        daily_rate=rate,
        forecast=forecast,
        forecast_share=forecast / budget.limit,
        limit_reached_on=reached,
        complete=complete,
    )
