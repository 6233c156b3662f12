"""`llm-usage report`: the dashboard's three tabs for one period and filter, read
straight from the marts (nothing is recomputed here)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta

import pandas as pd

from config.settings import Settings
from readers.coverage import DataDays, covers, loaded_landing_days, reaches_today
from readers.csv_text import to_csv
from readers.filters import (
    ALL,
    by_column,
    chosen_columns,
    crossed,
    filter_columns,
    filter_dimensions,
    held_filter_sets,
    held_in_words,
)
from readers.hours import HOUR_FIGURES, HOURLY_MART, hour_name, offset_text
from readers.panels import PARTS, Panel, Unit, column_unit, load_panels
from readers.warehouse import read_query, reading

HIDDEN = {"grain", "period_start", "built_at"}
TABLE_ROWS = 15  # rows of a breakdown panel shown in the terminal table


def period_containing(grain: str, day: date) -> date:
    """The first day of the day / ISO week (Monday) / month that holds `day`."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def _filter_sql(chosen: dict[str, str], breakdown: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    for dimension in filter_columns():
        value = chosen.get(dimension, ALL)
        if dimension == breakdown and value == ALL:
            continue  # every value of the panel's own dimension
        clauses.append(f"{dimension} = ?")
        params.append(value)
    return " AND ".join(clauses), params


def panel_holds(panel: Panel, chosen: dict[str, str]) -> bool:
    """Whether the panel's mart holds rows for the filter. A breakdown by a filter
    dimension (or none) holds the held combinations that include it; a breakdown by
    anything else (group, end user, tag) is cut by the filters without a display name
    only (model, provider): its mart has '*' in the others on every row."""
    kept = chosen_columns(chosen)
    if panel.breakdown in filter_columns():
        return kept | {panel.breakdown} in held_filter_sets()
    if panel.breakdown is None:
        return kept in held_filter_sets()
    return kept <= {d.column for d in crossed()}


def not_held_note(panel: Panel, chosen: dict[str, str]) -> str:
    """Why a panel shows nothing for this filter, in one line."""
    kept = [by_column(c).label for c in filter_columns() if c in chosen_columns(chosen)]
    if panel.breakdown in filter_columns() or panel.breakdown is None:
        what = f"{by_column(panel.breakdown).label} within " if panel.breakdown else ""
        return f"Not held for {what}{' and '.join(kept)}: the marts hold {held_in_words()}."
    only = " and ".join(d.label.lower() for d in crossed())
    return f"Held for {only} filters only; clear the {' and '.join(kept)} filter to see it."


def period_end(grain: str, period_start: date) -> date:
    """The last day of the day / ISO week / month starting on `period_start`."""
    if grain == "week":
        return period_start + timedelta(days=6)
    if grain == "month":
        following = (period_start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return following - timedelta(days=1)
    return period_start


def data_days(settings: Settings) -> DataDays | None:
    """The first and last day (reporting time zone) on which the marts have any request,
    with the loaded landing days that say which periods are complete."""
    frame = read_query(
        settings,
        "SELECT min(period_start) AS first, max(period_start) AS last "
        "FROM main_marts.mart_usage_summary WHERE grain = 'day' AND "
        + " AND ".join(f"{c} = '{ALL}'" for c in filter_columns()),
    )
    first, last = frame["first"].iloc[0], frame["last"].iloc[0]
    if pd.isna(first):
        return None
    with reading(settings) as connection:
        landing = loaded_landing_days(connection)
    return DataDays(
        pd.Timestamp(first).date(), pd.Timestamp(last).date(), landing, settings.reporting_timezone
    )


def is_partial(grain: str, period_start: date, days: DataDays | None) -> bool:
    """Whether the loaded landing days cover only part of the period in the reporting
    zone (readers/coverage.py)."""
    if days is None:
        return False
    return not covers(days, period_start, period_end(grain, period_start))


def periods_with_data(settings: Settings, grain: str, chosen: dict[str, str]) -> list[date]:
    where, params = _filter_sql(chosen, None)
    frame = read_query(
        settings,
        f"SELECT DISTINCT period_start FROM main_marts.mart_usage_summary WHERE grain = ? "
        f"AND {where} ORDER BY period_start",
        [grain, *params],
    )
    return [pd.Timestamp(v).date() for v in frame["period_start"]]


def latest_period(settings: Settings, grain: str, chosen: dict[str, str]) -> date | None:
    """The period of today while today's files arrive (so far, marked partial); else the
    latest complete period with data for the filter, or the latest partial one."""
    periods = periods_with_data(settings, grain, chosen)
    if periods and reaches_today(
        periods[-1], period_end(grain, periods[-1]), settings.reporting_timezone
    ):
        return periods[-1]
    if not periods:
        return None
    days = data_days(settings)
    complete = [p for p in periods if not is_partial(grain, p, days)]
    return (complete or periods)[-1]


def nearest_periods(
    settings: Settings, grain: str, chosen: dict[str, str], period_start: date
) -> tuple[date | None, date | None]:
    """The nearest periods before and after `period_start` that have data for the filter."""
    periods = periods_with_data(settings, grain, chosen)
    before = [p for p in periods if p < period_start]
    after = [p for p in periods if p > period_start]
    return (before[-1] if before else None), (after[0] if after else None)


def listable() -> dict[str, str]:
    """`llm-usage list WHAT` -> the filter column it lists: keys, models, providers,
    organizations, teams, projects (from the declaration; the API key lists as keys)."""
    return {
        ("keys" if d.name == "api_key" else plural(d.column)): d.column for d in filter_dimensions()
    }


def plural(column: str) -> str:
    """A dimension's name in the plural, for messages (from its declared label)."""
    for d in filter_dimensions():
        if d.column == column:
            return "keys" if d.name == "api_key" else d.label.lower() + "s"
    return {"end_user_id": "end users", "group_id": "groups", "tag_value": "tag values"}.get(
        column, column
    )


def other_listable() -> dict[str, str]:
    """`llm-usage list` of the dimensions that are no filter: end users (high
    cardinality, from their daily fact) and tags (key:value, from mart_usage_by_tag)."""
    return {"end-users": "end_user_id", "tags": "tag"}


GRAIN_COLUMN = {"day": "event_date", "week": "week_start", "month": "month_start"}
END_USER_FACT = "main_facts.fct_end_user_usage_daily"


def _other_values(
    settings: Settings, dimension: str, grain: str | None, period_start: date | None
) -> pd.DataFrame:
    if dimension == "end_user_id":
        where, params = "billing_mode = 'pay_as_you_go'", []
        if grain is not None:
            where += f" AND {GRAIN_COLUMN[grain]} = ?"
            params.append(period_start)
        return read_query(
            settings,
            f"SELECT end_user_id, sum(requests)::BIGINT AS requests FROM {END_USER_FACT} "
            f"WHERE {where} GROUP BY ALL ORDER BY requests DESC, end_user_id",
            params,
        )
    scope = "grain = 'month'" if grain is None else "grain = ? AND period_start = ?"
    others = " AND ".join(f"{d} = '{ALL}'" for d in filter_columns())
    return read_query(
        settings,
        "SELECT tag_key || coalesce(':' || tag_value, '') AS tag, sum(requests)::BIGINT AS "
        f"requests FROM main_marts.mart_usage_by_tag WHERE {scope} AND {others} "
        "AND NOT untagged GROUP BY ALL ORDER BY requests DESC, tag",
        [] if grain is None else [grain, period_start],
    )


def end_user_figures(
    settings: Settings, grain: str, period_start: date, chosen: dict[str, str], end_user: str
) -> dict:
    """One end user's pay-as-you-go figures in the period, by exact id, summed from the
    end-user daily fact (which carries model and provider only)."""
    kept = chosen_columns(chosen)
    held = [d.column for d in crossed()]  # in the declaration's order, for the message
    if not kept <= set(held):
        from readers.filters import FilterError

        raise FilterError(
            "--end-user is held with "
            + " and ".join(f"--{by_column(c).name}" for c in held)
            + " only; drop the other filters."
        )
    where = " AND ".join(f"{c} = ?" for c in sorted(kept))
    frame = read_query(
        settings,
        "SELECT coalesce(sum(total_tokens), 0)::BIGINT AS total_tokens, "
        "coalesce(sum(requests), 0)::BIGINT AS requests, sum(spend_usd) AS spend_usd "
        f"FROM {END_USER_FACT} WHERE billing_mode = 'pay_as_you_go' AND end_user_id = ? "
        f"AND {GRAIN_COLUMN[grain]} = ?" + (f" AND {where}" if where else ""),
        [end_user, period_start, *(chosen[c] for c in sorted(kept))],
    )
    row = frame.iloc[0]
    return {
        "end_user_id": end_user,
        **{c: _plain(END_USER_PANEL, c, row[c]) for c in frame.columns},
    }


def dimension_values(
    settings: Settings, dimension: str, grain: str | None = None, period_start: date | None = None
) -> pd.DataFrame:
    """Every value of a filter dimension with its pay-as-you-go requests, busiest first:
    over all of history (the months add up to it), or within one period."""
    if dimension in other_listable().values():
        return _other_values(settings, dimension, grain, period_start)
    others = " AND ".join(f"{d} = '{ALL}'" for d in filter_columns() if d != dimension)
    if grain is None:
        where, params = "grain = 'month'", []
    else:
        where, params = "grain = ? AND period_start = ?", [grain, period_start]
    return read_query(
        settings,
        f"SELECT {dimension}, sum(requests)::BIGINT AS requests "
        f"FROM main_marts.mart_usage_summary WHERE {where} AND {others} AND {dimension} <> '*' "
        f"GROUP BY ALL ORDER BY requests DESC, {dimension}",
        params,
    )


def did_you_mean(settings: Settings, dimension: str, value: str) -> str | None:
    """An existing value that `value` names ignoring case (or nearly), if there is one."""
    import difflib

    existing = list(dimension_values(settings, dimension)[dimension])
    if value in existing:
        return None
    same = [v for v in existing if v.lower() == value.lower()]
    if same:
        return same[0]
    close = difflib.get_close_matches(value.lower(), [v.lower() for v in existing], n=1, cutoff=0.8)
    if close:
        return next(v for v in existing if v.lower() == close[0])
    return None


def panel_query(
    panel: Panel, grain: str, period_start: date, chosen: dict[str, str]
) -> tuple[str, list]:
    """The SQL and parameters that read a panel's rows for one period and filter."""
    where, params = _filter_sql(chosen, panel.breakdown)
    # A panel listed within a column (group rows per dimension, tag values per key) keeps
    # each part together, in the part's name order.
    first = "".join(f"{c}, " for c in panel.within)
    order = f" ORDER BY {first}{panel.order_by}, {panel.breakdown}" if panel.breakdown else ""
    return (
        f"SELECT * FROM main_marts.{panel.mart} WHERE grain = ? AND period_start = ? AND {where}{order}",
        [grain, period_start, *params],
    )


ERRORS_MART = "mart_errors"


def errors_by_provider_panel() -> Panel:
    """Errors by provider: mart_errors' rows of each provider within the filter (the
    mart holds them as the rows with the provider filter set), most failures first."""
    errors = next(p for p in load_panels() if p.mart == ERRORS_MART)
    return replace(
        errors,
        title="Errors by provider",
        breakdown="provider",
        order_by="unsuccessful_requests DESC",
    )


def errors_by_provider_query(
    grain: str, period_start: date, chosen: dict[str, str]
) -> tuple[str, list]:
    """The SQL and parameters of errors_by_provider_panel()'s rows: every filter column as
    chosen, the provider the chosen one or every real one (never the '*' row)."""
    clauses, params = ["grain = ?", "period_start = ?"], [grain, period_start]
    for column in filter_columns():
        value = chosen.get(column, ALL)
        clauses.append(
            "provider <> ?" if column == "provider" and value == ALL else f"{column} = ?"
        )
        params.append(value)
    return (
        f"SELECT * FROM main_marts.{ERRORS_MART} WHERE {' AND '.join(clauses)} "
        "ORDER BY unsuccessful_requests DESC, provider",
        params,
    )


def dashboard(
    settings: Settings, grain: str, period_start: date, chosen: dict[str, str]
) -> dict[Panel, pd.DataFrame]:
    """Each panel's rows for the period and filter (empty frames when nothing matches),
    and after Errors by class the same errors per provider."""
    panels = {}
    for panel in load_panels():  # as the marts' YAML declares them
        listed = [(panel, panel_query(panel, grain, period_start, chosen))]
        if panel.mart == ERRORS_MART:
            by_provider = errors_by_provider_panel()
            listed.append((by_provider, errors_by_provider_query(grain, period_start, chosen)))
        for shown, query in listed:
            if panel_holds(shown, chosen):
                frame = read_query(settings, *query)
            else:  # not a row of the mart: render() says why
                frame = read_query(settings, f"SELECT * FROM main_marts.{shown.mart} WHERE false")
            keep = [
                c
                for c in frame.columns
                if c not in HIDDEN and (c == shown.breakdown or c not in filter_columns())
            ]
            panels[shown] = frame[keep]
    return panels


def panel_key(panel: Panel) -> str:
    """The panel's name in JSON and CSV: snake_case of its title."""
    return re.sub(r"[^a-z0-9]+", "_", panel.title.lower()).strip("_")


def unit(panel: Panel, column: str) -> Unit | None:
    """The unit the marts' YAML declares for a column of the panel's mart."""
    return column_unit(panel.mart, column)


def share_base(panel: Panel, column: str) -> str | None:
    """What a share or ratio column is a part of, in words; None for other columns."""
    declared = unit(panel, column)
    if declared is None or declared.name not in PARTS:
        return None
    if declared.name == "ratio":
        return f"of {declared.of}"
    among = f"all {plural(panel.breakdown)}'" if panel.breakdown else "all"
    if panel.within:
        among = f"all {plural(panel.breakdown)}' (per {', '.join(panel.within)})"
    return f"of {among} {declared.of}"


def _whole(value) -> int:
    # A count or rank is whole; DuckDB hands a sum back as HUGEINT or DECIMAL, and pandas
    # a row of mixed columns as floats, so it is made an int here, by its unit.
    return int(round(value))


def _dollars(value: float) -> str:
    return f"{'-' if value < 0 else ''}${abs(value):,.2f}"


def _percent(value: float) -> str:
    return f"{100 * value:,.1f}%"


# Each unit (readers/panels.py UNITS) as JSON and CSV hold it, and as the table shows it.
PLAIN = {
    "count": _whole,
    "rank": _whole,
    "usd": float,
    "usd_per_million_tokens": float,
    "ms": float,
    "tokens_per_second": float,
    "share": float,  # 0..1
    "ratio": float,  # 0..1
    "text": str,
    "flag": bool,
}
SHOWN = {
    "count": "{:,}".format,
    "rank": "{:,}".format,
    "usd": _dollars,
    "usd_per_million_tokens": _dollars,
    "ms": lambda value: f"{round(value):,} ms",
    "tokens_per_second": "{:,.1f} tok/s".format,
    "share": _percent,
    "ratio": _percent,
    "text": str,
    "flag": str,
}


def _plain(panel: Panel, column: str, value):
    """A JSON/CSV-ready value of a panel's column, by its declared unit: NULL as None,
    counts and ranks as int, the other figures as float, text as str, a flag as bool."""
    if value is None or pd.isna(value):
        return None
    value = value.item() if hasattr(value, "item") else value
    declared = unit(panel, column)
    return value if declared is None else PLAIN[declared.name](value)


def _show(panel: Panel, column: str, value) -> str:
    """A cell as a person reads it, by the column's declared unit: separators, whole ms,
    dollars with cents, shares in percent; NULL as '-'."""
    value = _plain(panel, column, value)
    if value is None:
        return "-"
    declared = unit(panel, column)
    return str(value) if declared is None else SHOWN[declared.name](value)


def row_keys(panel: Panel, frame: pd.DataFrame) -> tuple[str, ...]:
    """The columns that identify a panel's row besides the filters: the breakdown, the
    column it is listed within (a group's dimension, a tag's key) and a flag such as
    `untagged` (a key's untagged row has a NULL value, like a tag without ':')."""
    if not panel.breakdown:
        return ()
    flags = tuple(c for c in frame.columns if getattr(unit(panel, c), "name", None) == "flag")
    return (*panel.within, panel.breakdown, *flags)


def as_records(panels: dict[Panel, pd.DataFrame], heading: dict) -> list[dict]:
    """Long form: one record per figure, keyed like the mart row it comes from."""
    records = []
    for panel, frame in panels.items():
        keys = row_keys(panel, frame)
        for row in frame.to_dict("records"):
            filters = dict(heading["filters"])
            filters.update({k: _plain(panel, k, row[k]) for k in keys})
            for column, value in row.items():
                if column not in keys:
                    records.append(
                        {
                            "grain": heading["grain"],
                            "period_start": heading["period_start"],
                            **filters,
                            "panel": panel_key(panel),
                            "metric": column,
                            "value": _plain(panel, column, value),
                        }
                    )
    return records


# `--end-user`: one end user's figures, shown before the tabs (not a mart panel). They
# are summed from fct_end_user_usage_daily and read in the units of the Top end users'
# columns of the same names, the mart this panel names.
END_USER_PANEL = Panel(tab="Usage", title="End user", mart="mart_top_end_users")


def csv_columns(panels: dict[Panel, pd.DataFrame]) -> list[str]:
    """The long form's columns: the period, the filters, then each other column that
    identifies a panel's row (empty on the other panels' records)."""
    filters = filter_columns()
    extra = [
        k for panel, frame in panels.items() for k in row_keys(panel, frame) if k not in filters
    ]
    return ["grain", "period_start", *filters, *dict.fromkeys(extra), "panel", "metric", "value"]


def long_form(records: list[dict], columns: list[str]) -> pd.DataFrame:
    """The long form's records as a frame whose cells keep the types _plain gave them: a
    `value` column of counts and dollars would otherwise become floats throughout."""
    return pd.DataFrame(records, columns=columns, dtype=object)


def _table(panel: Panel, frame: pd.DataFrame) -> list[str]:
    """A breakdown panel as aligned text; share columns name their base in the header."""
    shown = pd.DataFrame(
        {
            (f"{c} (% {share_base(panel, c)})" if share_base(panel, c) else c): [
                _show(panel, c, v) for v in frame[c]
            ]
            for c in frame.columns
        }
    )
    widths = {c: max(len(c), *(len(v) for v in shown[c])) for c in shown.columns}
    first = shown.columns[0]

    def line(cells):
        return "  ".join(
            str(cells[c]).ljust(widths[c]) if c == first else str(cells[c]).rjust(widths[c])
            for c in shown.columns
        ).rstrip()

    return [line({c: c for c in shown.columns})] + [line(row) for row in shown.to_dict("records")]


def render(
    panels: dict[Panel, pd.DataFrame], heading: dict, fmt: str, hours: pd.DataFrame | None = None
) -> str:
    """The tabs for one period and filter; with `hours` (a day's rows of
    readers.hours.hours_of_day: `--by-hour`) that day's hours after them."""
    if fmt == "json":
        body = {
            **heading,
            **({"by_hour": hour_records(hours)} if hours is not None else {}),
            "panels": {
                panel_key(panel): [
                    {k: _plain(panel, k, v) for k, v in row.items()}
                    for row in frame.to_dict("records")
                ]
                if panel.breakdown
                else {
                    k: _plain(panel, k, v) for k, v in (frame.to_dict("records") or [{}])[0].items()
                }
                for panel, frame in panels.items()
            },
        }
        return json.dumps(body, indent=2, default=str) + "\n"
    if fmt == "csv":
        if "end_user" in heading:
            panels = {END_USER_PANEL: pd.DataFrame([heading["end_user"]]), **panels}
        records = as_records(panels, heading)
        if hours is not None:
            records += hour_long_records(hours, heading["filters"])
        return to_csv(long_form(records, csv_columns(panels)))
    partial = (
        f"  PARTIAL: the data covers {heading['data_covers']} only" if heading["partial"] else ""
    )
    if heading.get("as_of"):
        partial += f", as of {heading['as_of']}"
    lines = [
        f"{heading['grain'].capitalize()} {heading['period_start']} .. {heading['period_end']}  "
        + "  ".join(f"{k}={heading['filters'][k]}" for k in filter_columns())
        + "   ('*' = all; pay-as-you-go only)"
        + partial
    ]
    if "end_user" in heading:
        figures = heading["end_user"]
        lines += ["", f"== End user {figures['end_user_id']} =="]
        lines += [
            f"   {c:<34} {_show(END_USER_PANEL, c, v)}"
            for c, v in figures.items()
            if c != "end_user_id"
        ]
    tab = None
    for panel, frame in panels.items():
        if panel.tab != tab:
            tab = panel.tab
            lines += ["", f"== {tab} =="]
        lines.append(f"-- {panel.title}")
        if frame.empty and not panel_holds(panel, heading["filters"]):
            lines.append(f"   ({not_held_note(panel, heading['filters'])})")
        elif frame.empty:
            lines.append("   (no rows)")
        elif panel.breakdown:
            lines += ["   " + line for line in _table(panel, frame.head(TABLE_ROWS))]
            if len(frame) > TABLE_ROWS:
                lines.append(
                    f"   ... {len(frame) - TABLE_ROWS} more rows (--format csv or json lists all)"
                )
        else:
            for column, value in frame.iloc[0].items():
                base = share_base(panel, column)
                lines.append(
                    f"   {column:<34} {_show(panel, column, value)}" + (f" {base}" if base else "")
                )
    if hours is not None:
        lines += ["", "== By hour (local hours of the reporting time zone) =="]
        lines += (
            ["   " + line for line in hours_table(hours)]
            if len(hours)
            else ["   (no hourly rows: no requests, or older than the hourly retention)"]
        )
    return "\n".join(lines) + "\n"


def render_hour(hours: pd.DataFrame, heading: dict, fmt: str) -> str:
    """`--period hour`: the hour(s) of one local label (two on the day clocks go back)."""
    if fmt == "json":
        return json.dumps({**heading, "hours": hour_records(hours)}, indent=2, default=str) + "\n"
    if fmt == "csv":
        return to_csv(
            long_form(
                hour_long_records(hours, heading["filters"]),
                ["grain", "period_start", *filter_columns(), "panel", "metric", "value"],
            )
        )
    lines = []
    for _, row in hours.iterrows():
        partial = "  PARTIAL: so far" if heading["partial"] else ""
        if heading.get("as_of") and heading["partial"]:
            partial += f", as of {heading['as_of']}"
        lines += [
            f"Hour {hour_name(row['hour_label'], row['utc_offset_minutes'])}  "
            + "  ".join(f"{k}={heading['filters'][k]}" for k in filter_columns())
            + "   ('*' = all; pay-as-you-go only)"
            + partial
        ]
        lines += [f"   {c:<34} {_show(HOURS_PANEL, c, row[c])}" for c in HOUR_FIGURES]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------- the hour grain

# The hourly table as a panel of the report, for its number formats (readers/report.py).
HOURS_PANEL = Panel(tab="Usage", title="Usage by hour", mart=HOURLY_MART)


def _cells(frame: pd.DataFrame) -> list[dict[str, str]]:
    return [
        {
            "hour": hour_name(row["hour_label"], row["utc_offset_minutes"]),
            **{c: _show(HOURS_PANEL, c, row[c]) for c in HOUR_FIGURES},
        }
        for _, row in frame.iterrows()
    ]


def hours_table(frame: pd.DataFrame) -> list[str]:
    """The hours as aligned text, one line each."""
    rows = _cells(frame)
    header = {"hour": "hour", **{c: c for c in HOUR_FIGURES}}
    widths = {c: max(len(header[c]), *(len(r[c]) for r in rows)) for c in header}
    return [
        "  ".join(
            cells[c].ljust(widths[c]) if c == "hour" else cells[c].rjust(widths[c]) for c in header
        ).rstrip()
        for cells in [header, *rows]
    ]


def hour_records(frame: pd.DataFrame) -> list[dict]:
    """The hours for JSON: each with its instant (ISO 8601 with offset), local label,
    offset and figures (NULL as None)."""
    return [
        {
            "hour_start": row["hour_start"].isoformat(),
            "hour_label": f"{row['hour_label']:%Y-%m-%dT%H:%M}",
            "utc_offset": offset_text(row["utc_offset_minutes"]),
            **{c: _plain(HOURS_PANEL, c, row[c]) for c in HOUR_FIGURES},
        }
        for _, row in frame.iterrows()
    ]


def hour_long_records(frame: pd.DataFrame, filters: dict[str, str]) -> list[dict]:
    """The hours in the report's long CSV form: grain 'hour', period_start the hour's
    instant, one record per figure."""
    return [
        {
            "grain": "hour",
            "period_start": row["hour_start"].isoformat(),
            **{c: filters.get(c, ALL) for c in filter_columns()},
            "panel": "usage_by_hour",
            "metric": column,
            "value": _plain(HOURS_PANEL, column, row[column]),
        }
        for _, row in frame.iterrows()
        for column in HOUR_FIGURES
    ]
