"""Landing days (UTC) are the warehouse's partitions."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

from dagster import DailyPartitionsDefinition

# The first landing day the Dagster UI offers; older days can still be loaded by moving
# this back (LLM_USAGE_FIRST_LANDING_DAY).
FIRST_LANDING_DAY = os.environ.get("LLM_USAGE_FIRST_LANDING_DAY") or "2024-01-01"

# end_offset=1 makes today a partition too, so a partial day can be loaded by hand.
landing_days = DailyPartitionsDefinition(start_date=FIRST_LANDING_DAY, timezone="UTC", end_offset=1)


def landing_days_in_window(window_start: datetime, window_end: datetime) -> list[date]:
    """The landing days of a partition time window, [window_start, window_end)."""
    return landing_days_between(window_start.date(), window_end.date() - timedelta(days=1))


def landing_days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
