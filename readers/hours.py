"""The hour grain for the report and the page: a day's local hours, one hour by its local
label, and what a partial day is "as of", read straight from mart_usage_by_hour
(docs/metrics.md, "Hours").

An hour is named by its local label in the reporting zone; on the day clocks go back one
label names two hours, told apart by their UTC offset, so a label can give two rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd

from config.settings import Settings
from readers.coverage import landing_day_in_progress, latest_request_at
from readers.filters import ALL, filter_columns
from readers.warehouse import read_query, reading

HOURLY_MART = "mart_usage_by_hour"
HOURLY_LATENCY_MART = "mart_latency_by_hour"
# The figures an hour shows, in this order: what the Day view charts.
HOUR_FIGURES = (
    "total_tokens",
    "input_tokens",
    "output_tokens",
    "requests",
    "success_rate",
    "error_rate",
    "spend_usd",
    "avg_latency_ms",
    "avg_throughput_tps",
)


def offset_text(minutes: int) -> str:
    """A UTC offset in minutes as people write it: UTC+05:45, UTC-04:00."""
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(int(minutes)), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def hour_name(label, offset_minutes: int) -> str:
    """An hour as the report prints it: '2026-11-01 01:00 (UTC-04:00)'."""
    return f"{pd.Timestamp(label):%Y-%m-%d %H:%M} ({offset_text(offset_minutes)})"


def _where(chosen: dict[str, str]) -> tuple[str, list[str]]:
    columns = filter_columns()
    return " AND ".join(f"{c} = ?" for c in columns), [chosen.get(c, ALL) for c in columns]


def _read(settings: Settings, condition: str, params: list, chosen: dict[str, str]):
    where, filters = _where(chosen)
    frame = read_query(
        settings,
        "SELECT epoch(period_start) AS hour_start_epoch, hour_label, utc_offset_minutes, "
        f"event_date, {', '.join(HOUR_FIGURES)} FROM main_marts.{HOURLY_MART} "
        f"WHERE {condition} AND {where} ORDER BY period_start",
        [*params, *filters],
    )
    # The instant, whatever the reading connection's own time zone: epoch seconds.
    frame.insert(0, "hour_start", pd.to_datetime(frame.pop("hour_start_epoch"), unit="s", utc=True))
    frame["hour_label"] = pd.to_datetime(frame["hour_label"])
    return frame


def hours_of_day(settings: Settings, day: date, chosen: dict[str, str]) -> pd.DataFrame:
    """The local hours of `day` with requests for the filter, in time order (23 to 25 of
    them at most): hour_start (UTC instant), hour_label, utc_offset_minutes and the
    figures. Empty when the day has none, or is older than the hourly retention."""
    return _read(settings, "event_date = ?", [day], chosen)


def hour_rows(settings: Settings, label: datetime, chosen: dict[str, str]) -> pd.DataFrame:
    """The hour(s) whose local label is `label` (two on the day clocks go back)."""
    return _read(settings, "hour_label = ?", [label], chosen)


def latest_hour(settings: Settings, chosen: dict[str, str]) -> datetime | None:
    """The local label of the latest hour with requests for the filter."""
    where, filters = _where(chosen)
    frame = read_query(
        settings,
        f"SELECT max(hour_label) AS label FROM main_marts.{HOURLY_MART} WHERE {where}",
        filters,
    )
    label = frame["label"].iloc[0]
    return None if pd.isna(label) else pd.Timestamp(label).to_pydatetime()


def nearest_hours(
    settings: Settings, label: datetime, chosen: dict[str, str]
) -> tuple[datetime | None, datetime | None]:
    """The nearest hours before and after `label` with requests for the filter."""
    where, filters = _where(chosen)
    frame = read_query(
        settings,
        "SELECT max(hour_label) FILTER (WHERE hour_label < ?) AS before, "
        "min(hour_label) FILTER (WHERE hour_label > ?) AS after "
        f"FROM main_marts.{HOURLY_MART} WHERE {where}",
        [label, label, *filters],
    )
    return tuple(None if pd.isna(v) else pd.Timestamp(v).to_pydatetime() for v in frame.iloc[0])


def as_of(settings: Settings, first_day: date, last_day: date) -> datetime | None:
    """The latest request loaded on local days first..last, in the reporting zone."""
    with reading(settings) as connection:
        return latest_request_at(connection, first_day, last_day, settings.reporting_timezone)


def hour_is_partial(hour_start: pd.Timestamp) -> bool:
    """An hour whose end falls on a landing day still arriving (today, UTC) can still
    gain requests: its figures are so far."""
    return (hour_start + timedelta(hours=1)).date() >= landing_day_in_progress()
