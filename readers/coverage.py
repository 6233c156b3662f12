"""Which periods of the reporting time zone the loaded data covers in full.

Landing days are UTC days (`raw.ingested_files`); periods (day, ISO week, month) are
days of the reporting zone. A local period is complete only when every UTC landing day
it overlaps was loaded and is not on quality hold: with Asia/Kathmandu (UTC+5:45) the
landing days 1..4 cover local 1 05:45 .. 5 05:45, so local day 5 has requests yet is
partial, and local day 1 is partial too. The first and last days with requests say
nothing about that, which is why both the report and the page ask this module.

A landing day that is not over yet (today, UTC) is never complete, though the intraday
refresh loads it (docs/operations.md, "Hour by hour, and today so far"): its periods are partial, "as of"
the latest request loaded (`latest_request_at`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import duckdb

# Landing days whose every file was read without error, less the days on quality hold
# (their records are in no figure). Both tables are in every warehouse ensure_raw_schema
# made; an older one without quality_holds has nothing on hold.
LOADED_LANDING_DAYS = (
    "SELECT landing_date FROM raw.ingested_files GROUP BY 1 HAVING count(error) = 0 "
    "EXCEPT SELECT landing_date FROM raw.quality_holds ORDER BY 1"
)


class DataDays(NamedTuple):
    """The first and last local days with requests, and what judges a period complete."""

    first: date
    last: date
    landing_days: frozenset[date] = frozenset()  # loaded UTC landing days
    zone: str = "UTC"  # the reporting zone the periods are days of


def loaded_landing_days(connection: duckdb.DuckDBPyConnection) -> frozenset[date]:
    """The UTC landing days whose records are in the figures (see LOADED_LANDING_DAYS)."""
    tables = {
        row[0]
        for row in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
        ).fetchall()
    }
    if "ingested_files" not in tables:
        return frozenset()
    query = LOADED_LANDING_DAYS
    if "quality_holds" not in tables:
        query = query.split(" EXCEPT ")[0]
    return frozenset(row[0] for row in connection.execute(query).fetchall())


def utc_days_of(first_day: date, last_day: date, zone: str) -> list[date]:
    """The UTC days that local days first_day .. last_day (in `zone`) overlap."""
    tz = ZoneInfo(zone)
    begins = datetime.combine(first_day, time(), tz).astimezone(UTC)
    ends = datetime.combine(last_day + timedelta(days=1), time(), tz).astimezone(UTC)
    last_utc = (ends - timedelta(microseconds=1)).date()
    return [begins.date() + timedelta(days=n) for n in range((last_utc - begins.date()).days + 1)]


def landing_day_in_progress() -> date:
    """The landing day files are still arriving for: today, UTC (landing days are UTC
    days); it and later days are loaded in part at most."""
    return datetime.now(UTC).date()


def reaches_today(first_day: date, last_day: date, zone: str) -> bool:
    """Whether local days first..last (in `zone`) reach into the landing day still
    arriving: their figures are so far, "as of" the latest request loaded."""
    return utc_days_of(first_day, last_day, zone)[-1] >= landing_day_in_progress()


def covers(days: DataDays, first_day: date, last_day: date) -> bool:
    """Whether the loaded landing days hold every moment of local days first..last."""
    utc_days = utc_days_of(first_day, last_day, days.zone)
    if reaches_today(first_day, last_day, days.zone):
        return False
    if not days.landing_days:
        # A warehouse without its load log: judge by the days with requests alone.
        return days.first <= first_day and last_day <= days.last
    return all(day in days.landing_days for day in utc_days)


def latest_request_at(
    connection: duckdb.DuckDBPyConnection, first_day: date, last_day: date, zone: str
) -> datetime | None:
    """The latest pay-as-you-go request loaded on local days first..last, in `zone`:
    what a partial period's figures are "as of"."""
    row = connection.execute(
        "SELECT max(last_request_at) FROM main_facts.fct_usage_daily "
        "WHERE billing_mode = 'pay_as_you_go' AND event_date BETWEEN ? AND ?",
        [first_day, last_day],
    ).fetchone()
    if row is None or row[0] is None:
        return None
    at = row[0]
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(zone))
