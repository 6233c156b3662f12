"""Landing days (UTC) are the warehouse's partitions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dagster import DailyPartitionsDefinition

from config.settings import Settings


def landing_days_partitions(settings: Settings) -> DailyPartitionsDefinition:
    """Every landing day from settings.first_landing_day (LLM_USAGE_FIRST_LANDING_DAY) on;
    older days can still be loaded by moving that setting back.

    end_offset=1 makes today a partition too, so a partial day can be loaded by hand.
    """
    return DailyPartitionsDefinition(
        start_date=settings.first_landing_day.isoformat(), timezone="UTC", end_offset=1
    )


def landing_days_in_window(window_start: datetime, window_end: datetime) -> list[date]:
    """The landing days of a partition time window, [window_start, window_end)."""
    return landing_days_between(window_start.date(), window_end.date() - timedelta(days=1))


def landing_days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
