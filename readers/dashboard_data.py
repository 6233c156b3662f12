"""What the Usage Analytics page (`readers/dashboard.py`) reads from the warehouse.

Every figure comes from a mart row as it is; this module only picks the rows (one
`WHERE` on the grain, the period and the declared filter columns) and never computes a
metric. It imports no Streamlit, so the benchmark and the tests can call it directly;
the page caches its results per warehouse file version (`warehouse_version`).

Each function opens the warehouse read-only once, runs all its queries on that one
connection and closes it, so a Dagster run is never kept waiting by an idle page.

The page draws only its open tab, so `load_view` reads only what the tabs it is asked
for need: their panels (each mart's tab is declared in the marts' YAML, readers/panels.py)
and the rows beside the panels each tab draws (TAB_READS), plus the usage summary and
the "as of" time every tab's heading shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from config.settings import Settings
from ingest.warehouse import pending_model_builds
from readers.alert_tables import (
    ACTIVE_SQL,
    BUDGET_STATUS_TABLE,
    CURRENT_BUDGETS_SQL,
    STATE_TABLE,
    highest_thresholds,
    read_rows,
)
from readers.coverage import (
    DataDays,
    covers,
    latest_request_at,
    loaded_landing_days,
    reaches_today,
)
from readers.filters import filter_columns, parties
from readers.hours import HOUR_FIGURES, HOURLY_LATENCY_MART, HOURLY_MART, offset_text
from readers.panels import TABS, load_panels
from readers.report import (
    ERRORS_MART,
    errors_by_provider_panel,
    errors_by_provider_query,
    panel_holds,
    panel_query,
    period_containing,
    period_end,
)
from readers.warehouse import QueryError, behind_sentence, reader_connection

GRAINS = ("month", "week", "day")
ALL = "*"  # the marts' value for "every key / model / provider / team ..."
TREND_DAYS = 30  # a day's trend shows the 30 days up to and including it
# A page should not hang for the readers' full wait while a run writes the file.
PAGE_WAIT_SECONDS = 3
# How much of a long breakdown the page draws (README "The page with thousands of
# models"): a chart shows its CHART_ROWS largest rows and sums the rest into one "other"
# row (or, for percentiles, which do not add up, names how many more the table lists); a
# table shows TABLE_PAGE_ROWS rows a page; a filter lists at most FILTER_OPTIONS values,
# the busiest first, among those its search box matches.
CHART_ROWS = 15
TABLE_PAGE_ROWS = 100
FILTER_OPTIONS = 200
# The page's heading (the "figures built at" caption, and "nothing matches" when it has
# no row) reads this panel whichever tab is open.
HEAD_MART = "mart_usage_summary"
# The rows beside the panels (View's fields) each tab draws: the Usage tab's comparison
# with the previous period and its daily trend, the Day view's hours (tokens on Usage,
# success and error rate on Provider), the Provider tab's errors and the Performance
# tab's hourly latency. The panels' own marts come from readers/panels.py.
TAB_READS = {
    "Usage": ("previous", "trend", "hours"),
    "Provider": ("hours", "errors_by_provider", "error_trend"),
    "Performance": ("hour_latency",),
}


def warehouse_version(settings: Settings) -> tuple[float, float]:
    """Modification times of the warehouse file and its write-ahead log: the cache key.

    A run that changes anything changes one of them, so cached figures never outlive
    the data they were read from.
    """
    if settings.on_spark:
        # Spark's marts are Parquet folders (ingest/lake.py): a build that rewrites a
        # period's partition changes the modification time of the folder above it.
        marts = settings.lake_dir / "spark-warehouse" / "main_marts.db"
        folders = [*marts.glob("*"), *marts.glob("*/*")] if marts.is_dir() else []
        return (max((p.stat().st_mtime for p in folders), default=0.0), 0.0)
    path = settings.warehouse_path
    wal = path.with_name(path.name + ".wal")
    return (
        path.stat().st_mtime if path.exists() else 0.0,
        wal.stat().st_mtime if wal.exists() else 0.0,
    )


def previous_period(grain: str, start: date) -> date:
    return period_containing(grain, start - timedelta(days=1))


@dataclass(frozen=True)
class Catalog:
    """What the filters offer, and the notes the page shows above them."""

    first_day: date | None
    last_day: date | None
    periods: dict[str, list[date]]  # grain -> periods with data, latest first
    api_keys: dict[str, str | None]  # id -> the latest name the logs gave it, if any
    models: list[str]
    providers: list[str]
    built_at: pd.Timestamp | None  # when the marts were last written
    behind_note: str | None
    quality_holds: list[tuple[date, str]] = field(default_factory=list)
    landing_days: frozenset[date] = frozenset()  # loaded UTC landing days (readers/coverage.py)
    zone: str = "UTC"  # the reporting time zone the periods are days of
    # The other party filters (organization_id, team_id, project_id): column -> id ->
    # the latest name the logs gave it, busiest first.
    groups: dict[str, dict[str, str | None]] = field(default_factory=dict)
    tag_keys: list[str] = field(default_factory=list)  # busiest first
    # The alerts firing at the last evaluation (title, body), newest first, and each
    # budget's status in its current period (readers/alert_tables.py).
    active_alerts: list[tuple[str, str]] = field(default_factory=list)
    budgets: pd.DataFrame = field(default_factory=pd.DataFrame)

    def names(self, column: str) -> dict[str, str | None]:
        """A party filter's values with their display names (API keys included)."""
        return self.api_keys if column == "api_key_id" else self.groups.get(column, {})

    def is_partial(self, grain: str, start: date) -> bool:
        """True when the loaded landing days cover only part of the period in the
        reporting zone (readers/coverage.py)."""
        if self.first_day is None or self.last_day is None:
            return False
        days = DataDays(self.first_day, self.last_day, self.landing_days, self.zone)
        return not covers(days, start, period_end(grain, start))

    def default_period(self, grain: str) -> date | None:
        """The period of today while today's files arrive (the intraday refresh: so far,
        marked partial); else the latest complete period, or the latest one when none is
        complete."""
        periods = self.periods.get(grain, [])
        if periods and reaches_today(periods[0], period_end(grain, periods[0]), self.zone):
            return periods[0]
        for start in periods:
            if not self.is_partial(grain, start):
                return start
        return periods[0] if periods else None


def _frame(
    connection: duckdb.DuckDBPyConnection, query: str, params: list | None = None
) -> pd.DataFrame:
    try:
        return connection.execute(query, params or []).fetchdf()
    except duckdb.Error as error:
        raise QueryError(f"The query failed: {str(error).splitlines()[0]}") from None


def _distinct(connection, dimension: str) -> list[str]:
    # Month rows are the fewest; every value that has data is in some month.
    others = " AND ".join(f"{d} = '{ALL}'" for d in filter_columns() if d != dimension)
    # Busiest first: a filter over thousands of values lists the likely picks on top.
    frame = _frame(
        connection,
        f"SELECT {dimension} AS value FROM main_marts.mart_usage_summary "
        f"WHERE grain = 'month' AND {dimension} <> '{ALL}' AND {others} "
        "GROUP BY 1 ORDER BY sum(requests) DESC, 1",
    )
    return frame["value"].tolist()


def load_catalog(settings: Settings) -> Catalog:
    connection = reader_connection(settings, PAGE_WAIT_SECONDS)
    try:
        all_filters = " AND ".join(f"{d} = '{ALL}'" for d in filter_columns())
        periods = _frame(
            connection,
            "SELECT grain, period_start FROM main_marts.mart_usage_summary "
            f"WHERE {all_filters} ORDER BY grain, period_start DESC",
        )
        by_grain = {
            grain: [
                pd.Timestamp(day).date()
                for day in periods.loc[periods.grain == grain, "period_start"]
            ]
            for grain in GRAINS
        }
        days = by_grain["day"]
        built_at = _frame(
            connection, "SELECT max(built_at) AS built_at FROM main_marts.mart_usage_summary"
        )
        # Key names are labels, not figures: the latest name each key was logged with.
        names = _frame(
            connection,
            "SELECT api_key_id, arg_max(api_key_name, created_at) "
            "FILTER (WHERE api_key_name IS NOT NULL) AS api_key_name "
            "FROM main_facts.fct_requests WHERE billing_mode = 'pay_as_you_go' GROUP BY 1",
        )
        holds = _frame(
            connection,
            "SELECT landing_date, failed_checks FROM raw.quality_holds ORDER BY landing_date",
        )
        pending = pending_model_builds(connection)
        landing_days = loaded_landing_days(connection)
        keys, models, providers = (
            _distinct(connection, d) for d in ("api_key_id", "model", "provider")
        )
        # Group names are labels: the latest name each group carried, over every month.
        group_names = _frame(
            connection,
            "SELECT dimension, group_id, arg_max(group_name, period_start) AS group_name "
            "FROM main_marts.mart_usage_by_group WHERE grain = 'month' AND "
            + " AND ".join(f"{d} = '{ALL}'" for d in filter_columns())
            + " GROUP BY ALL",
        )
        groups = {}
        for party in parties():
            if party.name == "api_key":
                continue
            named = group_names[group_names.dimension == party.name]
            labels = dict(zip(named.group_id, named.group_name))
            groups[party.column] = {
                value: None if pd.isna(labels.get(value)) else str(labels[value])
                for value in _distinct(connection, party.column)
            }
        tag_keys = _frame(
            connection,
            "SELECT tag_key FROM main_marts.mart_usage_by_tag WHERE grain = 'month' AND NOT "
            "untagged AND "
            + " AND ".join(f"{d} = '{ALL}'" for d in filter_columns())
            + " GROUP BY 1 ORDER BY sum(requests) DESC, 1",
        )["tag_key"].tolist()
        alerts = highest_thresholds(read_rows(connection, STATE_TABLE, ACTIVE_SQL))
        budgets = read_rows(connection, BUDGET_STATUS_TABLE, CURRENT_BUDGETS_SQL)
    finally:
        connection.close()
    named = dict(zip(names.api_key_id, names.api_key_name))
    stamp = built_at["built_at"].iloc[0]
    return Catalog(
        first_day=min(days) if days else None,
        last_day=max(days) if days else None,
        periods=by_grain,
        api_keys={key: None if pd.isna(named.get(key)) else str(named[key]) for key in keys},
        models=models,
        providers=providers,
        built_at=None if pd.isna(stamp) else pd.Timestamp(stamp),
        behind_note=behind_sentence(pending),
        quality_holds=[
            (pd.Timestamp(d).date(), str(c))
            for d, c in zip(holds.landing_date, holds.failed_checks)
        ],
        landing_days=landing_days,
        zone=settings.reporting_timezone,
        groups=groups,
        tag_keys=tag_keys,
        active_alerts=[
            (str(t), str(b)) for t, b in zip(alerts.get("title", []), alerts.get("body", []))
        ],
        budgets=budgets,
    )


@dataclass(frozen=True)
class View:
    """The rows behind one redraw of the tabs in `tabs` for the chosen period and filter:
    their panels (and the usage summary, which every tab's heading needs), the usage
    summary of the period before, the day rows of the token trend, ... (TAB_READS).
    Rows a tab not in `tabs` needs are not read: its panels are absent from `panels`
    and its other fields are empty."""

    grain: str
    period_start: date
    chosen: dict[str, str]
    panels: dict[str, pd.DataFrame]  # mart name -> rows (one row, or one per breakdown value)
    trend_first: date
    trend_last: date
    tabs: tuple[str, ...] = TABS  # the tabs whose rows were read
    # mart_usage_summary: the previous period of the same grain, and the day rows of the
    # token trend (period_start, input_tokens, output_tokens, ...).
    previous: pd.DataFrame = field(default_factory=pd.DataFrame)
    trend: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The Day view's local hours (mart_usage_by_hour, in time order; empty for a week or
    # month, or a day older than the hourly retention).
    hours: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Their latency percentiles (mart_latency_by_hour: p50 and p99 per hour).
    hour_latency: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The latest request loaded in the period, in the reporting zone: what a partial
    # period is "as of".
    as_of: datetime | None = None
    # mart_errors per provider within the filter (one row per provider; empty where the
    # marts do not hold the filter with a provider), and its day rows over the trend's
    # days for the error rate per day.
    errors_by_provider: pd.DataFrame = field(default_factory=pd.DataFrame)
    error_trend: pd.DataFrame = field(default_factory=pd.DataFrame)

    def holds(self, mart: str) -> bool:
        """Whether the mart holds rows for this filter (readers/report.panel_holds)."""
        return panel_holds(next(p for p in load_panels() if p.mart == mart), self.chosen)

    def row(self, mart: str) -> pd.Series | None:
        """The one row of a headline panel, or None when nothing matches."""
        frame = self.panels[mart]
        return None if frame.empty else frame.iloc[0]

    @property
    def empty(self) -> bool:
        return self.panels[HEAD_MART].empty


def trend_window(grain: str, period_start: date) -> tuple[date, date]:
    """The days of the token trend: the chosen month or week, or the 30 days up to a day."""
    if grain == "day":
        return period_start - timedelta(days=TREND_DAYS - 1), period_start
    return period_start, period_end(grain, period_start)


def tab_marts(tabs: tuple[str, ...]) -> tuple[str, ...]:
    """The marts whose panels the tabs show (readers/panels.py), the heading's first."""
    marts = [panel.mart for panel in load_panels() if panel.tab in tabs]
    return (HEAD_MART, *(mart for mart in marts if mart != HEAD_MART))


def _hours_of_day(connection, mart: str, figures, where: str, values: list) -> pd.DataFrame:
    return hourly_chart_rows(
        _frame(
            connection,
            f"SELECT hour_label, utc_offset_minutes, {', '.join(figures)} "
            f"FROM main_marts.{mart} {where} ORDER BY period_start",
            values,
        )
    )


def load_view(
    settings: Settings,
    grain: str,
    period_start: date,
    chosen: dict[str, str],
    tabs: tuple[str, ...] = TABS,
) -> View:
    """The rows the tabs in `tabs` draw (all three by default; the page asks for its open
    tab only)."""
    unknown = set(tabs) - set(TABS)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not tabs; the tabs are {TABS}")
    reads = {read for tab in tabs for read in TAB_READS[tab]}
    where = " AND ".join(f"{d} = ?" for d in filter_columns())
    values = [chosen.get(d, ALL) for d in filter_columns()]
    first, last = trend_window(grain, period_start)
    by_mart = {panel.mart: panel for panel in load_panels()}
    read: dict[str, pd.DataFrame] = {}
    connection = reader_connection(settings, PAGE_WAIT_SECONDS)
    try:
        # A panel whose mart does not hold the filter has no rows (the page says why).
        panels = {
            mart: _frame(
                connection,
                *(
                    panel_query(by_mart[mart], grain, period_start, chosen)
                    if panel_holds(by_mart[mart], chosen)
                    else (f"SELECT * FROM main_marts.{mart} WHERE false", [])
                ),
            )
            for mart in tab_marts(tuple(tabs))
        }
        if "previous" in reads:
            read["previous"] = _frame(
                connection,
                f"SELECT * FROM main_marts.mart_usage_summary WHERE grain = ? AND period_start = ? AND {where}",
                [grain, previous_period(grain, period_start), *values],
            )
        if "trend" in reads:
            read["trend"] = _frame(
                connection,
                "SELECT period_start AS day, input_tokens, output_tokens, total_tokens, requests "
                "FROM main_marts.mart_usage_summary WHERE grain = 'day' "
                f"AND period_start BETWEEN ? AND ? AND {where} ORDER BY period_start",
                [first, last, *values],
            )
        # The Day view's hourly charts: the day's hours, for the chosen filters.
        hours = f"WHERE event_date = ? AND {where}"
        if "hours" in reads and grain == "day":
            read["hours"] = _hours_of_day(
                connection, HOURLY_MART, HOUR_FIGURES, hours, [period_start, *values]
            )
        if "hour_latency" in reads and grain == "day":
            read["hour_latency"] = _hours_of_day(
                connection,
                HOURLY_LATENCY_MART,
                ("p50_latency_ms", "p99_latency_ms"),
                f"{hours} AND latency_ms_requests > 0",
                [period_start, *values],
            )
        as_of = latest_request_at(
            connection, period_start, period_end(grain, period_start), settings.reporting_timezone
        )
        if "errors_by_provider" in reads:
            read["errors_by_provider"] = _errors_by_provider(
                connection, grain, period_start, chosen
            )
        if "error_trend" in reads:
            read["error_trend"] = _frame(
                connection,
                "SELECT period_start AS day, provider_requests, unsuccessful_requests, "
                "error_rate, "
                + ", ".join(error_class_columns())
                + " FROM main_marts.mart_errors WHERE grain = 'day' "
                f"AND period_start BETWEEN ? AND ? AND {where} ORDER BY period_start",
                [first, last, *values],
            )
    finally:
        connection.close()
    return View(
        grain, period_start, dict(chosen), panels, first, last, tuple(tabs), as_of=as_of, **read
    )


def hourly_chart_rows(hours: pd.DataFrame) -> pd.DataFrame:
    """A day's hours as the page's charts draw them, in time order: `hour` is the local
    HH:MM, with the UTC offset on a day that has two (the day clocks go back, when 01:00
    comes twice)."""
    if hours.empty:
        return hours
    two_offsets = hours["utc_offset_minutes"].nunique() > 1
    return hours.assign(
        hour=[
            f"{pd.Timestamp(label):%H:%M}" + (f" ({offset_text(offset)})" if two_offsets else "")
            for label, offset in zip(hours["hour_label"], hours["utc_offset_minutes"])
        ]
    )


def error_class_columns() -> tuple[str, ...]:
    """mart_errors' per-class columns (`<class>_errors`), in the YAML's (the classes') order."""
    panel = next(p for p in load_panels() if p.mart == ERRORS_MART)
    return tuple(
        m.column
        for m in panel.metrics
        if m.column.endswith("_errors") and m.column != "unsuccessful_requests"
    )


def _errors_by_provider(connection, grain: str, period_start: date, chosen: dict[str, str]):
    """mart_errors' rows of each provider within the filter, where the marts hold the
    filter with a provider (readers/report.py, errors_by_provider_panel)."""
    if not panel_holds(errors_by_provider_panel(), chosen):
        return _frame(connection, f"SELECT * FROM main_marts.{ERRORS_MART} WHERE false")
    return _frame(connection, *errors_by_provider_query(grain, period_start, chosen))
