"""The Usage Analytics page: the brief's Usage, Provider and Performance tabs.

Started by `llm-usage dashboard` (Streamlit runs this file as a script). Every number
shown is a mart column read by `readers.dashboard_data`; this page formats and draws.
Only the open tab is drawn, and only its rows are read: the tabs are a widget (its
value is also the URL's `?tab=`, so a link opens the same tab), and opening another
tab reruns the script. Reads are cached per warehouse file version, selection and tab,
so each tab of a selection reads the marts once.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from math import ceil

import pandas as pd
import streamlit as st

from config.settings import Settings, SettingsError
from ingest.warehouse import WarehouseBusyError, WarehouseMissingError
from readers.coverage import reaches_today
from readers.csv_text import to_csv
from readers.dashboard_data import (
    ALL,
    CHART_ROWS,
    FILTER_OPTIONS,
    GRAINS,
    HEAD_MART,
    TABLE_PAGE_ROWS,
    Catalog,
    View,
    error_class_columns,
    load_catalog,
    load_view,
    period_end,
    warehouse_version,
)
from readers.filters import by_column, crossed, held_in_words, in_sentence, parties
from readers.page_text import card, say
from readers.panels import TABS, load_panels
from readers.report import not_held_note, plural
from readers.warehouse import QueryError

DAGSTER_UI = "http://127.0.0.1:3000"
# One colour per series wherever it is drawn (the daily trend and the Day view's hours):
# tokens in and out, success green and errors red, the median and the tail of latency.
SERIES_COLOURS = {
    "Input": "#4c78a8",
    "Output": "#f58518",
    "Success": "#54a24b",
    "Error": "#e45756",
    "p50": "#4c78a8",
    "p99": "#e45756",
}
TOKEN_PARTS = (  # Usage by Token Type: the five parts of total_tokens, in reading order
    ("uncached_input_tokens", "Uncached input"),
    ("cache_read_tokens", "Cache read"),
    ("cache_write_tokens", "Cache write"),
    ("output_excl_reasoning_tokens", "Output (excl. reasoning)"),
    ("reasoning_tokens", "Reasoning"),
)
# The Usage tab's cards: (label, mart_usage_summary column).
USAGE_CARDS = (
    ("Total Token Usage", "total_tokens"),
    ("Input Token Usage", "input_tokens"),
    ("Output Token Usage", "output_tokens"),
    ("Total API Requests", "requests"),
)
# Spend: shown wherever a mart carries these columns (the usage marts gain them when the
# gateway's logs carry a cost per request); absent columns draw nothing.
SPEND = "spend_usd"
SPEND_SHARE = "spend_share"

# Columns a chart's "other" row adds up (shares of a whole add up too), and rates it
# recomputes from added-up parts: success_rate is successful_requests / requests.
USAGE_SUMS = (
    "total_tokens",
    "input_tokens",
    "output_tokens",
    "requests",
    "token_share",
    SPEND,
    SPEND_SHARE,
)
PROVIDER_SUMS = (*USAGE_SUMS, "successful_requests", "request_share")
PROVIDER_RATES = {"success_rate": ("successful_requests", "requests")}


# --------------------------------------------------------------------------- formats


def count(value) -> str:
    """A whole number with thousands separators; '-' for a missing value."""
    return "-" if value is None or pd.isna(value) else f"{int(value):,}"


def percent(share) -> str:
    """A 0..1 share as a percentage with one decimal."""
    return "-" if share is None or pd.isna(share) else f"{100 * float(share):.1f}%"


def milliseconds(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):,.0f} ms"


def dollars(value) -> str:
    return "-" if value is None or pd.isna(value) else f"${float(value):,.2f}"


def tokens_per_second(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):,.1f} tokens/s"


def name(value, missing: str = "not enough requests to rank") -> str:
    return missing if value is None or pd.isna(value) else str(value)


def period_label(grain: str, start: date, partial: bool) -> str:
    if grain == "month":
        text = start.strftime("%B %Y")
    elif grain == "week":
        end = period_end(grain, start)
        text = f"Week of {start:%Y-%m-%d} – {end:%Y-%m-%d}"
    else:
        text = start.strftime("%Y-%m-%d (%a)")
    return text + (" · partial" if partial else "")


# --------------------------------------------------------------------------- reading


# Cached per warehouse file version (`version`): a run that writes the warehouse makes
# the next redraw read afresh. cache_resource hands back the same objects instead of
# unpickling copies on every redraw; the page never changes them.
@st.cache_resource(show_spinner=False, max_entries=8)
def _catalog(warehouse: str, version: tuple[float, float]) -> Catalog:
    return load_catalog(Settings.from_env())


# One entry per selection and tab: 64 selections with each of their tabs read.
@st.cache_resource(show_spinner=False, max_entries=64 * len(TABS))
def _view(
    warehouse: str,
    version: tuple[float, float],
    grain: str,
    period_start: date,
    chosen: tuple[tuple[str, str], ...],  # (filter column, value), hashable for the cache
    tab: str,
) -> View:
    return load_view(Settings.from_env(), grain, period_start, dict(chosen), (tab,))


def _stop(template: str, kind: str = "info", **fields) -> None:
    """Say why the page shows no figures (fields are data, shown as text) and stop."""
    say(kind, template, **fields)
    _footer()
    st.stop()


def _footer() -> None:
    # The page's own words: the Dagster UI's address stays a link.
    st.caption(
        f"Jobs run in the Dagster UI at {DAGSTER_UI} (start it with `llm-usage ui`). "
        "This page only reads the warehouse."
    )


# ----------------------------------------------------------------------------- charts
# Charts are Vega-Lite specs handed to Streamlit as dicts: building them with Altair
# validated each against the Vega-Lite JSON schema on every redraw, which alone took
# over a second for the page's nine charts.


# Axis labels like 200M and 1.5B (d3's SI prefixes say G for a billion).
SI_AXIS = {"format": "~s", "labelExpr": "replace(datum.label, 'G', 'B')"}


def _bar(
    frame: pd.DataFrame,
    category: str,
    value: str,
    title: str,
    value_format: str,
    share: str | None = None,
    color: str = "#4c78a8",
) -> dict:
    """A horizontal bar per category, largest first (the others' row last), with the
    value (and share) on hover."""
    is_share = "%" in value_format
    x = {
        "field": value,
        "type": "quantitative",
        "title": title,
        "axis": {"format": "%"} if is_share else SI_AXIS,
    }
    if is_share:
        x["scale"] = {"domain": [0, 1]}
    tooltip = [
        {"field": category, "type": "nominal", "title": category.replace("_", " ").capitalize()},
        {"field": value, "type": "quantitative", "title": title, "format": value_format},
    ]
    if share and share != value:
        tooltip.append({"field": share, "type": "quantitative", "title": "Share", "format": ".1%"})
    layers = [{"mark": {"type": "bar", "color": color}}]
    if share:
        layers.append(
            {
                "mark": {"type": "text", "align": "left", "dx": 4, "color": "#333333"},
                "encoding": {"text": {"field": share, "type": "quantitative", "format": ".1%"}},
            }
        )
    return {
        "height": {"step": 24},
        "encoding": {
            "x": x,
            "y": {
                "field": category,
                "type": "nominal",
                "sort": _bar_order(frame, category, value),
                "title": None,
                "axis": {"labelLimit": 320},
            },
            "tooltip": tooltip,
        },
        "layer": layers,
    }


def _bar_order(frame: pd.DataFrame, category: str, value: str) -> list[str]:
    last = frame[OTHER].fillna(False) if OTHER in frame.columns else False
    return (
        frame.assign(_last=last)
        .sort_values(["_last", value], ascending=[True, False], kind="stable")[category]
        .tolist()
    )


def _spread(
    frame: pd.DataFrame, columns: dict[str, str], title: str, value_format: str
) -> tuple[pd.DataFrame, dict]:
    """Several statistics per model on one line each (mean, p50, p90, p99 as dots, joined
    by a rule from the lowest to the highest), models in the mart's order."""
    long = frame.melt(
        id_vars="model", value_vars=list(columns), var_name="stat", value_name="value"
    )
    long["stat"] = long["stat"].map(columns)
    long = long.dropna(subset=["value"])
    order = list(columns.values())
    y = {
        "field": "model",
        "type": "nominal",
        "title": None,
        "sort": frame["model"].tolist(),
        "axis": {"labelLimit": 320},
    }
    spec = {
        "height": {"step": 24},
        "layer": [
            {
                "mark": {"type": "rule", "color": "#bbbbbb", "strokeWidth": 2},
                "encoding": {
                    "y": y,
                    "x": {
                        "aggregate": "min",
                        "field": "value",
                        "type": "quantitative",
                        "title": title,
                    },
                    "x2": {"aggregate": "max", "field": "value"},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 90, "opacity": 1},
                "encoding": {
                    "y": y,
                    "x": {
                        "field": "value",
                        "type": "quantitative",
                        "title": title,
                        "axis": {"format": value_format},
                    },
                    "color": {
                        "field": "stat",
                        "type": "nominal",
                        "sort": order,
                        "title": None,
                        "legend": {"orient": "top"},
                        "scale": {
                            "domain": order,
                            "range": ["#4c78a8", "#54a24b", "#f58518", "#e45756"][: len(order)],
                        },
                    },
                    "shape": {
                        "field": "stat",
                        "type": "nominal",
                        "sort": order,
                        "title": None,
                        "scale": {"domain": order},
                    },
                    "tooltip": [
                        {"field": "model", "type": "nominal", "title": "Model"},
                        {"field": "stat", "type": "nominal", "title": "Statistic"},
                        {
                            "field": "value",
                            "type": "quantitative",
                            "title": title,
                            "format": value_format,
                        },
                    ],
                },
            },
        ],
    }
    return long, spec


def _top(
    frame: pd.DataFrame,
    category: str,
    rank_by: str,
    sums: tuple[str, ...],
    rates: dict[str, tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """The CHART_ROWS rows largest by `rank_by`, then one row for all the others: their
    `sums` added up and each of `rates` (column -> numerator, denominator) recomputed
    from the sums, so a chart of thousands of models stays a chart."""
    ranked = frame.sort_values(rank_by, ascending=False, kind="stable")
    if len(frame) <= CHART_ROWS:
        return ranked
    shown, rest = ranked.iloc[:CHART_ROWS], ranked.iloc[CHART_ROWS:]
    other = {column: rest[column].sum() for column in sums if column in frame.columns}
    for column, (numerator, denominator) in (rates or {}).items():
        total = rest[denominator].sum()
        other[column] = rest[numerator].sum() / total if total else None
    label = f"other ({len(rest):,} {plural(category)})"
    while label in set(shown[category]):  # a logged name may read the same
        label = f"({label})"
    other[category] = label
    other[OTHER] = True
    return pd.concat([shown.assign(**{OTHER: False}), pd.DataFrame([other])], ignore_index=True)


OTHER = "is_other"  # marks _top's row of all the others, which a bar chart draws last


def _chart(data: pd.DataFrame, spec: dict) -> None:
    st.vega_lite_chart(data, spec, width="stretch")


def _table(frame: pd.DataFrame, config: dict, key: str, folded: bool = False) -> None:
    """A breakdown table, TABLE_PAGE_ROWS rows a page in the mart's order, with a download
    of all its rows as CSV written by readers/csv_text.py (Streamlit's own table export is
    off: it would write a name from the logs such as `=HYPERLINK(...)` as a formula). The
    CSV is written when the button is clicked, not on every redraw: for a table of 20,000
    keys writing it took half of each redraw.

    `folded`: a chart beside it shows the same rows, so the table is behind a closed
    expander (the download stays in view) and is sent to the browser only while that is
    open: each table drawn costs the browser a data grid on every redraw, and the Usage
    tab's redraws were the page's slowest (docs/benchmarks.md, "Ninth pass")."""
    if folded:
        _download(frame, key)
        opened = f"{TABLE_OPEN}{key}"
        # Streamlit forgets a widget's state when a run does not draw it (another tab was
        # open): a table opened before comes back open.
        if opened not in st.session_state and _kept(opened):
            st.session_state[opened] = True
        shelf = st.expander(
            f"Table ({len(frame):,} {'row' if len(frame) == 1 else 'rows'})",
            key=opened,
            on_change="rerun",
        )
        _keep(opened, shelf.open)
        if shelf.open:
            with shelf:
                _grid(frame, config, key)
        return
    _download(frame, key)
    _grid(frame, config, key)


# A folded table's expander is keyed TABLE_OPEN + the table's key (True while open).
TABLE_OPEN = "open_table_"


def _download(frame: pd.DataFrame, key: str) -> None:
    st.download_button(
        "Download CSV",
        partial(to_csv, frame),
        file_name=f"{key}.csv",
        mime="text/csv",
        key=f"download_{key}",
        help="All rows of this table; names from the logs are written as text.",
    )


def _grid(frame: pd.DataFrame, config: dict, key: str) -> None:
    pages = max(1, ceil(len(frame) / TABLE_PAGE_ROWS))
    if pages > 1:
        # A page chosen before a filter change that left fewer pages becomes the last.
        if st.session_state.get(f"page_{key}", 1) > pages:
            st.session_state[f"page_{key}"] = pages
        page = st.number_input(
            f"Page of {pages} ({len(frame):,} rows, {TABLE_PAGE_ROWS} a page)",
            min_value=1,
            max_value=pages,
            key=f"page_{key}",
        )
        frame = frame.iloc[(page - 1) * TABLE_PAGE_ROWS : page * TABLE_PAGE_ROWS]
    shown = frame.copy()
    for column, setting in config.items():
        if (
            isinstance(setting, dict)
            and setting.get("type_config", {}).get("format") == SHARE_FORMAT
        ):
            shown[column] = 100 * shown[column]  # 0..1 share shown as percent
    st.dataframe(shown, width="stretch", hide_index=True, column_config=config)


SHARE_FORMAT = "%.1f%%"
COUNT_COLUMN = {"format": "localized"}
SHARE_COLUMN = {"format": SHARE_FORMAT}


def _counts(label: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, **COUNT_COLUMN)


def _share(label: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, **SHARE_COLUMN)


# ------------------------------------------------------------------------------- tabs


def _change(current, previous: pd.Series | None, column: str, grain: str) -> str | None:
    """The difference against the previous period of the same grain, as card delta."""
    if previous is None or pd.isna(current) or pd.isna(previous[column]):
        return None
    before = previous[column]
    if column == SPEND:
        difference = float(current) - float(before)
        shown = f"{'+' if difference >= 0 else '-'}${abs(difference):,.2f}"
    else:
        difference = int(current) - int(before)
        shown = f"{difference:+,}"
    relative = f" ({difference / before:+.1%})" if before else ""
    return f"{shown}{relative} vs previous {grain}"


def _spend_columns(frame: pd.DataFrame) -> dict:
    """Table columns for spend, when the mart has them."""
    config = {}
    if SPEND in frame.columns:
        config[SPEND] = st.column_config.NumberColumn("Spend", format="dollar")
    if SPEND_SHARE in frame.columns:
        config[SPEND_SHARE] = _share("Spend share")
    return config


def usage_tab(
    view: View, key_names: dict[str, str | None], tag_keys: list[str] | None = None
) -> None:
    tag_keys = tag_keys or []
    summary = view.row("mart_usage_summary")
    previous = None if view.previous.empty else view.previous.iloc[0]
    cards = USAGE_CARDS + ((("Spend", SPEND),) if SPEND in summary.index else ())
    for column_slot, (label, column) in zip(st.columns(len(cards)), cards):
        card(
            column_slot,
            label,
            (dollars if column == SPEND else count)(summary[column]),
            _change(summary[column], previous, column, view.grain),
            help=None
            if previous is not None
            else f"No usage in the previous {view.grain} to compare with.",
        )
    if "cost_coverage" in summary.index:
        say(
            "caption",
            "Spend counts the requests whose logs carry a cost: {coverage} of them; {cost} per "
            "million tokens.",
            coverage=percent(summary["cost_coverage"]),
            cost=dollars(summary.get("cost_per_million_tokens")),
        )

    if view.grain == "day":
        st.subheader(
            f"Tokens per day, the {len(pd.date_range(view.trend_first, view.trend_last))} days "
            f"up to {view.period_start:%Y-%m-%d}"
        )
    else:
        st.subheader(f"Tokens per day in the {view.grain}")
    _trend_chart(view)
    if view.grain == "day":
        st.subheader(f"By hour on {view.period_start:%Y-%m-%d} (local hours)")
        if not _no_hours(view):
            _hourly_chart(
                view.hours,
                {"input_tokens": "Input", "output_tokens": "Output"},
                "Tokens",
                ",d",
                stacked=True,
            )
            left, right = st.columns(2)
            with left:
                _hourly_chart(view.hours, {"requests": "Requests"}, "Requests", ",d")
            with right:
                _hourly_chart(view.hours, {"spend_usd": "Spend"}, "Spend (USD)", "$,.2f")

    st.subheader("Usage by Model")
    models = view.panels["mart_usage_by_model"]
    top = _top(models, "model", "total_tokens", USAGE_SUMS)
    _chart(top, _bar(top, "model", "total_tokens", "Total tokens", ",d", share="token_share"))
    config = {
        "model": "Model",
        "total_tokens": _counts("Total tokens"),
        "input_tokens": _counts("Input"),
        "output_tokens": _counts("Output"),
        "requests": _counts("Requests"),
        "token_share": _share("Token share"),
        **_spend_columns(models),
    }
    _table(models[list(config)], config, "models", folded=True)

    st.subheader("Usage by Token Type")
    token_row = view.row("mart_usage_by_token_type")
    parts = pd.DataFrame(
        {
            "token_type": [label for _, label in TOKEN_PARTS],
            "tokens": [int(token_row[column]) for column, _ in TOKEN_PARTS],
        }
    )
    # A part's share of the total is plain arithmetic on mart values: the five parts add
    # up exactly to total_tokens on every row (a dbt test checks it).
    parts["share"] = parts["tokens"] / summary["total_tokens"] if summary["total_tokens"] else None
    _chart(
        parts,
        _bar(parts, "token_type", "tokens", "Tokens", ",d", share="share", color="#72b7b2"),
    )
    say(
        "caption",
        "The five parts add up to the total of {total} tokens.",
        total=count(summary["total_tokens"]),
    )
    _table(
        parts,
        {
            "token_type": "Token type",
            "tokens": _counts("Tokens"),
            "share": _share("Share of total"),
        },
        "token_types",
        folded=True,
    )

    _caching_section(view)

    st.subheader("Usage by API Key")
    if not view.holds("mart_usage_by_api_key"):
        say("info", "{note}", note=_not_held(view, "mart_usage_by_api_key"))
    else:
        _keys_table(view, key_names)

    st.subheader("Web Search Usage")
    web = view.row("mart_web_search_usage")
    cards = st.columns(4)
    card(cards[0], "Web search requests", count(web["web_search_requests"]))
    card(cards[1], "Web search calls", count(web["web_search_calls"]))
    card(
        cards[2],
        "Tokens of web search requests",
        count(web["web_search_total_tokens"]),
    )
    card(cards[3], "Share of requests", percent(web["web_search_request_share"]))

    _groups_section(view)
    _end_users_section(view)
    _tags_section(view, tag_keys)


def _caching_section(view: View) -> None:
    """Beside Usage by Token Type: how well the providers' prompt cache and the gateway's
    response cache work, and what the gateway cache saved (mart_cache_usage)."""
    st.subheader("Caching")
    cache = view.row("mart_cache_usage")
    if cache is None:
        return
    cards = st.columns(5)
    card(
        cards[0],
        "Prompt cache hit rate (tokens)",
        percent(cache["cache_read_token_rate"]),
        help="Input tokens read from the provider's prompt cache / input tokens.",
    )
    card(
        cards[1],
        "Prompt cache hit rate (requests)",
        percent(cache["cache_read_request_rate"]),
        help="Requests that read any input token from the prompt cache / requests sent to a provider.",
    )
    card(cards[2], "Prompt cache write tokens", count(cache["cache_write_tokens"]))
    card(
        cards[3],
        "Gateway cache hits",
        count(cache["gateway_cache_hits"]),
        f"{percent(cache['gateway_cache_hit_share'])} of requests",
        delta_color="off",
        delta_arrow="off",
        help="Requests the gateway answered from its own response cache: no provider was called.",
    )
    card(
        cards[4],
        "Saved by the gateway cache",
        dollars(cache["saved_cache_cost_usd"]),
        help="What the gateway cache hits would have cost, where the logs say.",
    )
    if cache["gateway_cache_hits"]:
        say(
            "caption",
            "Gateway cache hits count in requests, tokens and spend, and in no provider, "
            "latency or throughput figure; {known} of {hits} report what they saved.",
            known=count(cache["gateway_cache_hits_with_saved_cost"]),
            hits=count(cache["gateway_cache_hits"]),
        )


def _not_held(view: View, mart: str) -> str:
    panel = next(p for p in load_panels() if p.mart == mart)
    return not_held_note(panel, view.chosen)


# A section with a widget of its own (a group-by, a tag key, a table's page) is a fragment:
# choosing there reruns and redraws only that section, not the whole Usage tab, whose
# redraw is the page's costliest in the browser (docs/benchmarks.md, "Ninth pass").
@st.fragment
def _keys_table(view: View, key_names: dict[str, str | None]) -> None:
    keys = view.panels["mart_usage_by_api_key"].copy()
    # The mart's own key name when it carries one, else the latest name in the facts.
    names = (
        keys["api_key_name"]
        if "api_key_name" in keys.columns
        else keys["api_key_id"].map(key_names)
    )
    keys.insert(0, "name", names.fillna("(no name)"))
    config = {
        "name": "Key name",
        "api_key_id": "Key id",
        "total_tokens": _counts("Total tokens"),
        "input_tokens": _counts("Input"),
        "output_tokens": _counts("Output"),
        "requests": _counts("Requests"),
        "token_share": _share("Token share"),
        "request_share": _share("Request share"),
        **_spend_columns(keys),
    }
    _table(keys[list(config)], config, "keys")
    st.caption("Click a column header to sort (a page at a time).")


GROUP_MART = "mart_usage_by_group"
END_USER_MART = "mart_top_end_users"
TAG_MART = "mart_usage_by_tag"


@st.fragment
def _groups_section(view: View) -> None:
    """Usage by Team, and by organization or project: one group dimension at a time."""
    groups = [d for d in parties() if d.name != "api_key"]
    default = dict(next(p for p in load_panels() if p.mart == GROUP_MART).example)
    names = [d.name for d in groups]
    chosen = _kept("group_dimension") or default.get("dimension", names[0])
    group = next(d for d in groups if d.name == chosen) if chosen in names else groups[0]
    _keep("group_dimension", group.name)
    st.subheader(f"Usage by {group.label}")
    st.segmented_control(
        "Group by",
        names,
        default=group.name,
        required=True,
        format_func=lambda name: next(d.label for d in groups if d.name == name),
        key="group_dimension",
    )
    if not view.holds(GROUP_MART):
        say("info", "{note}", note=_not_held(view, GROUP_MART))
        return
    frame = view.panels[GROUP_MART]
    rows = frame[frame["dimension"] == group.name].reset_index(drop=True)
    if rows.empty:
        say("info", "No {label} in this period and filter.", label=group.label.lower())
        return
    top = _top(rows, "group_id", "total_tokens", USAGE_SUMS)
    _chart(top, _bar(top, "group_id", "total_tokens", "Total tokens", ",d", share="token_share"))
    config = {
        "group_name": f"{group.label} name",
        "group_id": f"{group.label} id",
        "total_tokens": _counts("Total tokens"),
        "requests": _counts("Requests"),
        "token_share": _share("Token share"),
        "request_share": _share("Request share"),
        **_spend_columns(rows),
    }
    _table(rows[list(config)], config, f"groups_{group.name}", folded=True)
    say(
        "caption",
        "Requests that name no {label} are the row (none); the shares are of all {labels}' "
        "usage in this period and filter.",
        label=group.label.lower(),
        labels=plural(group.column),
    )


def _end_users_section(view: View) -> None:
    st.subheader("Top end users")
    if not view.holds(END_USER_MART):
        say("info", "{note}", note=_not_held(view, END_USER_MART))
        return
    rows = view.panels[END_USER_MART]
    if rows.empty:
        st.info("No end users in this period and filter.")
        return
    ranked = rows[rows["spend_rank"].notna()]
    other = rows[rows["spend_rank"].isna()]
    chart = rows.assign(**{OTHER: rows["spend_rank"].isna()})
    _chart(chart, _bar(chart, "end_user_id", "spend_usd", "Spend", "$,.2f", share="spend_share"))
    config = {
        "spend_rank": _counts("Rank"),
        "end_user_id": "End user",
        "end_users": _counts("End users"),
        "total_tokens": _counts("Total tokens"),
        "requests": _counts("Requests"),
        "token_share": _share("Token share"),
        **_spend_columns(rows),
    }
    _table(rows[list(config)], config, "end_users", folded=True)
    say(
        "caption",
        "The top {n} end users by spend (ties: more tokens); (other) adds up the other "
        "{others} end users, and (none) the requests that name no end user. The rows add up "
        "to the total.",
        n=f"{len(ranked):,}",
        others=f"{int(other['end_users'].sum()) if not other.empty else 0:,}",
    )


# What the tag table shows where the mart's tag_value is NULL (see _tags_section).
UNTAGGED = "(untagged)"
NO_VALUE = "(no value)"


@st.fragment
def _tags_section(view: View, tag_keys: list[str]) -> None:
    st.subheader("Usage by tag key")
    if not view.holds(TAG_MART):
        say("info", "{note}", note=_not_held(view, TAG_MART))
        return
    rows = view.panels[TAG_MART]
    present = [k for k in tag_keys if k in set(rows["tag_key"])]
    if not present:
        st.info("No tagged requests in this period and filter.")
        return
    example = dict(next(p for p in load_panels() if p.mart == TAG_MART).example)
    default = example.get("tag_key") if example.get("tag_key") in present else present[0]
    if st.session_state.get("tag_key") not in present:
        kept = _kept("tag_key")
        st.session_state["tag_key"] = kept if kept in present else default
    key = _choose_tag_key(present)
    values = rows[rows["tag_key"] == key].reset_index(drop=True)
    # The mart's value is NULL on the key's untagged row and for a tag without ':'; the
    # table names which of the two a row is instead of showing an empty cell or "None".
    values["tag_value"] = values["tag_value"].where(
        values["tag_value"].notna(), values["untagged"].map({True: UNTAGGED, False: NO_VALUE})
    )
    config = {
        "tag_value": "Value",
        "untagged": st.column_config.CheckboxColumn("Untagged"),
        "total_tokens": _counts("Total tokens"),
        "requests": _counts("Requests"),
        "request_share": _share("Share of requests"),
        "token_share": _share("Share of tokens"),
        **(
            {SPEND: st.column_config.NumberColumn("Spend", format="dollar")}
            if SPEND in values
            else {}
        ),
    }
    _table(values[list(config)], config, "tag_values")
    st.caption(
        "A request counts under each of its tags, so tag rows do not add up to the total: "
        "a request tagged with two values of a key counts under both, and the keys together "
        "count a request once per key. (untagged): the requests that carry no tag of this key; "
        "(no value): the tag is the key alone, without ':'. The key (none) is the requests without any tag. Shares are of all the requests "
        "and tokens of this period and filter."
    )


def _choose_tag_key(keys: list[str]) -> str:
    key = st.selectbox("Tag key", keys, key="tag_key", format_func=str)
    _keep("tag_key", key)
    return key


# Streamlit forgets a widget's value in a run that does not draw it, and only the open tab
# is drawn: a choice made in a tab (group by, tag key) is kept under its own key, so it
# is still chosen when the user comes back to that tab.
KEPT = "kept_"


def _kept(key: str):
    """The widget's value, or the one kept when its tab was last drawn."""
    value = st.session_state.get(key)
    return st.session_state.get(KEPT + key) if value is None else value


def _keep(key: str, value) -> None:
    st.session_state[KEPT + key] = value


def _trend_chart(view: View) -> None:
    days = pd.DataFrame({"day": pd.date_range(view.trend_first, view.trend_last, freq="D")})
    trend = view.trend.assign(day=pd.to_datetime(view.trend["day"]))
    # A day without a row had no matching requests: it is drawn as zero, not left out.
    trend = days.merge(trend, on="day", how="left").fillna(0)
    if not trend["total_tokens"].any():
        st.info("No matching requests on these days.")
        return
    long = trend.melt(
        id_vars=["day", "total_tokens", "requests"],
        value_vars=["input_tokens", "output_tokens"],
        var_name="part",
        value_name="tokens",
    )
    long["part"] = long["part"].map({"input_tokens": "Input", "output_tokens": "Output"})
    long["day"] = long["day"].dt.strftime("%Y-%m-%d")
    _chart(
        long,
        {
            "height": 280,
            "mark": {"type": "bar"},
            "encoding": {
                "x": {
                    "field": "day",
                    "type": "ordinal",
                    "title": None,
                    "axis": {"labelAngle": -45},
                },
                "y": {
                    "field": "tokens",
                    "type": "quantitative",
                    "title": "Tokens",
                    "stack": "zero",
                    "axis": SI_AXIS,
                },
                "color": {
                    "field": "part",
                    "type": "nominal",
                    "title": None,
                    "sort": ["Input", "Output"],
                    "legend": {"orient": "top"},
                    "scale": {
                        "domain": ["Input", "Output"],
                        "range": [SERIES_COLOURS["Input"], SERIES_COLOURS["Output"]],
                    },
                },
                "order": {"field": "part", "sort": "ascending"},
                "tooltip": [
                    {"field": "day", "type": "ordinal", "title": "Day"},
                    {"field": "part", "type": "nominal", "title": "Part"},
                    {"field": "tokens", "type": "quantitative", "title": "Tokens", "format": ",d"},
                    {
                        "field": "total_tokens",
                        "type": "quantitative",
                        "title": "Total tokens",
                        "format": ",d",
                    },
                    {
                        "field": "requests",
                        "type": "quantitative",
                        "title": "Requests",
                        "format": ",d",
                    },
                ],
            },
        },
    )


def _no_hours(view: View, say_why: bool = True) -> bool:
    """True (and, with say_why, says why) when the Day view has no hours to chart."""
    if not view.hours.empty:
        return False
    if say_why:
        st.info(
            "No hourly figures for this day: hours are kept for the last "
            "LLM_USAGE_HOURLY_RETENTION_DAYS days (config/settings.py has the default)."
        )
    return True


def _hourly_chart(
    hours: pd.DataFrame,
    series: dict[str, str],
    title: str,
    value_format: str,
    stacked: bool = False,
) -> None:
    """One chart of a day's hours (readers.dashboard_data.hourly_chart_rows), one bar
    stack or line per column of `series` (column -> legend label), hours in time order."""
    long = hours.melt(
        id_vars=["hour"], value_vars=list(series), var_name="series", value_name="value"
    )
    labels = list(series.values())
    long["series"] = long["series"].map(series)
    # Stacked in the legend's order, bottom up, as the daily trend stacks its parts.
    long["rank"] = long["series"].map(labels.index)
    order = list(dict.fromkeys(hours["hour"]))
    _chart(
        long,
        {
            "height": 220,
            "mark": {"type": "bar"} if stacked or len(series) == 1 else {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "hour", "type": "ordinal", "sort": order, "title": None,
                      "axis": {"labelAngle": -45}},
                "y": {"field": "value", "type": "quantitative", "title": title,
                      "stack": "zero" if stacked else None,
                      # Counts in SI units (10M) as the daily trend shows them.
                      "axis": SI_AXIS if value_format == ",d"
                      else {"format": value_format.lstrip("$")}},
                "color": {"field": "series", "type": "nominal", "title": None,
                          "sort": labels, "legend": {"orient": "top"},
                          "scale": {"domain": labels,
                                    "range": [SERIES_COLOURS.get(label, SERIES_COLOURS["Input"])
                                              for label in labels]}},
                "order": {"field": "rank", "type": "quantitative", "sort": "ascending"},
                "tooltip": [
                    {"field": "hour", "type": "ordinal", "title": "Hour"},
                    {"field": "series", "type": "nominal", "title": "Figure"},
                    {"field": "value", "type": "quantitative", "title": title,
                     "format": value_format},
                ],
            },
        },
    )  # fmt: skip


def provider_tab(view: View) -> None:
    summary = view.row("mart_provider_summary")
    cards = st.columns(4)
    card(cards[0], "Primary Provider", name(summary["primary_provider"]))
    card(cards[1], "Provider Count", count(summary["provider_count"]))
    card(cards[2], "Average Success Rate", percent(summary["success_rate"]))
    card(
        cards[3],
        "Fastest Response Provider",
        name(summary["fastest_response_provider"]),
        None
        if pd.isna(summary["fastest_response_avg_latency_ms"])
        else f"{milliseconds(summary['fastest_response_avg_latency_ms'])} mean latency",
        delta_color="off",
        delta_arrow="off",
    )
    if view.grain == "day" and not _no_hours(view, say_why=False):
        st.subheader("Success and error rate by hour")
        _hourly_chart(
            view.hours, {"success_rate": "Success", "error_rate": "Error"}, "Share", ".1%"
        )
    providers = view.panels["mart_provider_distribution"]
    left, right = st.columns(2)
    with left:
        st.subheader("Token Distribution")
        top = _top(providers, "provider", "total_tokens", PROVIDER_SUMS, PROVIDER_RATES)
        _chart(
            top, _bar(top, "provider", "total_tokens", "Total tokens", ",d", share="token_share")
        )
    with right:
        st.subheader("Request Distribution")
        top = _top(providers, "provider", "requests", PROVIDER_SUMS, PROVIDER_RATES)
        _chart(
            top,
            _bar(
                top,
                "provider",
                "requests",
                "Requests",
                ",d",
                share="request_share",
                color="#f58518",
            ),
        )
    st.subheader("Success Rate by Provider")
    left, right = st.columns([2, 3])
    with left:
        # The busiest providers' success rates; the others' rate is theirs together.
        top = _top(providers, "provider", "requests", PROVIDER_SUMS, PROVIDER_RATES)
        _chart(
            top,
            _bar(
                top,
                "provider",
                "success_rate",
                "Success rate",
                ".1%",
                share="success_rate",
                color="#54a24b",
            ),
        )
    with right:
        config = {
            "provider": "Provider",
            "total_tokens": _counts("Total tokens"),
            "token_share": _share("Token share"),
            "requests": _counts("Requests"),
            "request_share": _share("Request share"),
            "success_rate": _share("Success rate"),
            **_spend_columns(providers),
        }
        _table(providers[list(config)], config, "providers")
    _errors_section(view)


def _class_labels() -> dict[str, str]:
    """mart_errors' class columns -> their labels (the marts' YAML)."""
    panel = next(p for p in load_panels() if p.mart == "mart_errors")
    labels = {m.column: m.label for m in panel.metrics}
    return {column: labels[column] for column in error_class_columns()}


def _errors_section(view: View) -> None:
    """Which provider failed how: failures by provider stacked by error class, the error
    rate per day and the sources' top error types (mart_errors, mart_top_error_types)."""
    labels = _class_labels()
    st.subheader("Errors by provider")
    providers = view.errors_by_provider
    if not view.holds("mart_errors") or providers.empty:
        st.info("No provider rows for this filter.")
    elif not providers["unsuccessful_requests"].any():
        st.info("No failed requests in this period and filter.")
    else:
        failing = providers[providers["unsuccessful_requests"] > 0]
        shown = failing.nlargest(CHART_ROWS, "unsuccessful_requests", keep="first")
        long = shown.melt(
            id_vars=["provider", "error_rate"],
            value_vars=list(labels),
            var_name="error_class",
            value_name="failures",
        )
        long["error_class"] = long["error_class"].map(labels)
        long = long[long["failures"] > 0]
        _chart(long, _stacked_errors(long, shown["provider"].tolist(), list(labels.values())))
        if len(failing) > len(shown):
            say(
                "caption",
                "The {shown} providers with the most failures; the table lists all {total}.",
                shown=len(shown),
                total=f"{len(failing):,}",
            )
        config = {
            "provider": "Provider",
            "provider_requests": _counts("Requests"),
            "unsuccessful_requests": _counts("Failed"),
            "error_rate": _share("Error rate"),
            **{column: _counts(label) for column, label in labels.items()},
        }
        _table(failing[list(config)], config, "errors_by_provider")

    st.subheader("Error rate per day")
    days = pd.DataFrame({"day": pd.date_range(view.trend_first, view.trend_last, freq="D")})
    trend = view.error_trend
    if trend.empty or not trend["provider_requests"].any():
        st.info("No requests on these days.")
    else:
        trend = days.merge(trend.assign(day=pd.to_datetime(trend["day"])), on="day", how="left")
        trend["day"] = trend["day"].dt.strftime("%Y-%m-%d")
        _chart(
            trend,
            {
                "height": 220,
                "mark": {"type": "line", "point": True, "color": "#e45756"},
                "encoding": {
                    "x": {
                        "field": "day",
                        "type": "ordinal",
                        "title": None,
                        "axis": {"labelAngle": -45},
                    },
                    "y": {
                        "field": "error_rate",
                        "type": "quantitative",
                        "title": "Error rate",
                        "axis": {"format": "%"},
                    },
                    "tooltip": [
                        {"field": "day", "type": "ordinal", "title": "Day"},
                        {
                            "field": "error_rate",
                            "type": "quantitative",
                            "title": "Error rate",
                            "format": ".2%",
                        },
                        {
                            "field": "unsuccessful_requests",
                            "type": "quantitative",
                            "title": "Failed",
                            "format": ",d",
                        },
                        {
                            "field": "provider_requests",
                            "type": "quantitative",
                            "title": "Requests",
                            "format": ",d",
                        },
                    ],
                },
            },
        )

    st.subheader("Top error types")
    if not view.holds("mart_top_error_types"):
        say("info", "{note}", note=_not_held(view, "mart_top_error_types"))
        return
    types = view.panels["mart_top_error_types"]
    if types.empty:
        st.info("No failed requests in this period and filter.")
        return
    class_names = {column.removesuffix("_errors"): label for column, label in labels.items()}
    # By rank (most failures first; the mart lists each class's types together).
    shown = types.sort_values("error_rank", na_position="last", kind="stable").assign(
        error_class=types["error_class"].map(class_names)
    )
    config = {
        "error_rank": _counts("Rank"),
        "error_type": "Error type",
        "error_class": "Class",
        "errors": _counts("Failures"),
        "error_share": _share("Share of failures"),
    }
    _table(shown[list(config)], config, "top_error_types")
    say(
        "caption",
        "The error types as the logs name them (HTTP status and error type decide the "
        "class); (other) adds up the rest, (none) failures that name no type.",
    )


def _stacked_errors(long: pd.DataFrame, providers: list[str], classes: list[str]) -> dict:
    """One horizontal bar per provider (most failures first), stacked by error class."""
    return {
        "height": {"step": 24},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {
                "field": "provider",
                "type": "nominal",
                "sort": providers,
                "title": None,
                "axis": {"labelLimit": 320},
            },
            "x": {
                "field": "failures",
                "type": "quantitative",
                "title": "Failed requests",
                "stack": "zero",
            },
            "color": {
                "field": "error_class",
                "type": "nominal",
                "title": None,
                "scale": {"domain": classes},
                "legend": {"orient": "top"},
            },
            "tooltip": [
                {"field": "provider", "type": "nominal", "title": "Provider"},
                {"field": "error_class", "type": "nominal", "title": "Class"},
                {"field": "failures", "type": "quantitative", "title": "Failed", "format": ",d"},
                {
                    "field": "error_rate",
                    "type": "quantitative",
                    "title": "Error rate",
                    "format": ".2%",
                },
            ],
        },
    }


def _model_table(
    frame: pd.DataFrame,
    stats: dict[str, str],
    unit: str,
    key: str,
    number_format: str = "localized",
) -> None:
    shown = frame[["model", *stats]].copy()
    if number_format == "localized":
        shown[list(stats)] = shown[list(stats)].round()  # milliseconds without decimals
    _table(
        shown,
        {
            "model": "Model",
            **{
                column: st.column_config.NumberColumn(label + unit, format=number_format)
                for column, label in stats.items()
            },
        },
        key,
        folded=True,
    )


def _spread_chart(
    frame: pd.DataFrame, volume: str, stats: dict[str, str], title: str, value_format: str
) -> None:
    """The spread of the CHART_ROWS models with the most requests behind the figures, in
    the mart's order. Percentiles of the rest cannot be added up into an "other" row, so
    the caption says how many more the table lists."""
    busiest = frame.nlargest(CHART_ROWS, volume, keep="first").index
    shown = frame[frame.index.isin(busiest)]
    _chart(*_spread(shown, stats, title, value_format))
    if len(frame) > len(shown):
        say(
            "caption",
            "The {shown} models with the most requests; the table below lists all {total}.",
            shown=len(shown),
            total=f"{len(frame):,}",
        )


def performance_tab(view: View) -> None:
    summary = view.row("mart_performance_summary")
    cards = st.columns(2)
    card(
        cards[0],
        "Average Latency",
        milliseconds(summary["avg_latency_ms"]),
        help="Mean latency of successful requests.",
    )
    card(
        cards[1],
        "Average Throughput",
        tokens_per_second(summary["avg_throughput_tps"]),
        help="Output tokens over generation seconds, token-weighted; per-request median "
        f"{tokens_per_second(summary['median_throughput_tps'])}.",
    )
    if view.grain == "day" and not view.hour_latency.empty:
        st.subheader("Latency p50 and p99 by hour")
        _hourly_chart(
            view.hour_latency,
            {"p50_latency_ms": "p50", "p99_latency_ms": "p99"},
            "Latency (ms)",
            ",.0f",
        )
    picks = st.columns(4)
    for slot, (label, pick, figure, show) in zip(
        picks,
        (
            ("Fastest Model", "fastest_model", "fastest_model_avg_latency_ms", milliseconds),
            ("Slowest Model", "slowest_model", "slowest_model_avg_latency_ms", milliseconds),
            (
                "Highest Throughput Model",
                "highest_throughput_model",
                "highest_throughput_tps",
                tokens_per_second,
            ),
            (
                "Lowest Throughput Model",
                "lowest_throughput_model",
                "lowest_throughput_tps",
                tokens_per_second,
            ),
        ),
    ):
        card(
            slot,
            label,
            name(summary[pick]),
            None if pd.isna(summary[figure]) else show(summary[figure]),
            delta_color="off",
            delta_arrow="off",
        )

    first_token = view.panels["mart_first_token_latency_by_model"]
    st.subheader("First Token Latency by Model")
    if first_token.empty:
        st.info(
            "No successful streaming requests match, so there is no first-token latency to show."
        )
    else:
        stats = {
            "avg_first_token_ms": "mean",
            "p50_first_token_ms": "p50",
            "p90_first_token_ms": "p90",
            "p99_first_token_ms": "p99",
        }
        _spread_chart(first_token, "streaming_requests", stats, "First token latency (ms)", ",.0f")
        _model_table(first_token, stats, " (ms)", "first_token")
    left, right = st.columns(2)
    with left:
        st.subheader("Throughput by Model")
        throughput = view.panels["mart_throughput_by_model"]
        if throughput.empty:
            st.info("No successful requests with output match, so there is no throughput to show.")
        else:
            stats = {
                "avg_throughput_tps": "average",
                "p50_throughput_tps": "p50",
                "p90_throughput_tps": "p90",
            }
            _spread_chart(throughput, "throughput_requests", stats, "Tokens per second", ",.1f")
            _model_table(throughput, stats, " (tokens/s)", "throughput", "%.1f")
    with right:
        st.subheader("Latency by Model")
        latency = view.panels["mart_latency_by_model"]
        if latency.empty:
            st.info("No successful requests match, so there is no latency to show.")
        else:
            stats = {
                "avg_latency_ms": "mean",
                "p50_latency_ms": "p50",
                "p90_latency_ms": "p90",
                "p99_latency_ms": "p99",
            }
            _spread_chart(latency, "successful_requests", stats, "Latency (ms)", ",.0f")
            _model_table(latency, stats, " (ms)", "latency")


# ------------------------------------------------------------------------------- page


def _alerts_banner(catalog: Catalog) -> None:
    """The alerts firing at the last evaluation (docs/alerts.md), above the figures."""
    if catalog.active_alerts:
        say(
            "error",
            "**Active alerts ({count}):** {titles}. `llm-usage alerts` lists them with their "
            "figures; budgets are on the Usage tab.",
            count=len(catalog.active_alerts),
            titles="; ".join(title for title, _ in catalog.active_alerts),
        )


def _budgets_section(budgets: pd.DataFrame) -> None:
    """Each budget's status in its current period, under the Usage tab's figures: one
    table per unit of the limits (dollars, tokens), so each amount reads in its unit."""
    if budgets.empty:
        return
    st.subheader("Budgets")
    units = list(dict.fromkeys(budgets["unit"]))
    for unit in units:
        rows = budgets[budgets["unit"] == unit]
        named, shown_as = BUDGET_UNITS.get(unit, (unit, "localized"))
        if len(units) > 1:
            st.caption(f"Limits in {named}")
        config = {
            "budget": "Budget",
            "scope": "Scope",
            "scope_id": "Of",
            "period": "Period",
            "period_start": st.column_config.DateColumn("Period start"),
            "budget_limit": st.column_config.NumberColumn("Limit", format=shown_as),
            "spent": st.column_config.NumberColumn("Spent", format=shown_as),
            "share_used": _share("Share used"),
            "forecast": st.column_config.NumberColumn("Forecast", format=shown_as),
            "forecast_share": _share("Forecast share"),
            "limit_reached_on": st.column_config.DateColumn("Limit reached on"),
        }
        _table(
            rows[list(config)].assign(scope_id=rows["scope_id"].fillna("(all)")),
            config,
            key="budgets" if len(units) == 1 else f"budgets_{unit}",
        )
    st.caption(
        "Forecast: the mean daily spend (or tokens) of the trailing 7 complete days times the "
        "days left, plus what the period has used (docs/metrics.md, Budget status)."
    )


# A budget's unit (alerts/budgets_file.py) -> how its limits are named and formatted.
BUDGET_UNITS = {"usd": ("US dollars", "dollar"), "tokens": ("tokens", "localized")}


def _notes(catalog: Catalog) -> None:
    if catalog.behind_note:
        say("warning", "{note}", note=catalog.behind_note)
    if catalog.quality_holds:
        held = ", ".join(f"{day:%Y-%m-%d} ({checks})" for day, checks in catalog.quality_holds)
        say(
            "warning",
            "On quality hold, not in any figure: landing day(s) {held}. Fix or replace those "
            "days' files and materialize them again (Dagster UI or `llm-usage materialize`).",
            held=held,
        )


def _choose(label: str, dimension: str, values: list[str], show) -> str:
    """A filter: one of `values` (busiest first) or all. With more than FILTER_OPTIONS
    values a search box narrows the list, so a redraw never sends thousands of options."""
    if len(values) > FILTER_OPTIONS:
        query = st.text_input(
            f"Find {label}",
            key=f"find_{dimension}",
            placeholder=f"part of the name ({len(values):,} in all)",
        ).strip()
        folded = query.casefold()
        matches = [v for v in values if folded in show(v).casefold()] if query else values
        current = st.session_state.get(dimension, ALL)
        values = matches[:FILTER_OPTIONS]
        if current != ALL and current not in values:
            values.append(current)  # the choice stays while the search changes
    return st.selectbox(
        label,
        [ALL, *values],
        key=dimension,
        format_func=lambda value: f"All {plural(dimension)}" if value == ALL else show(value),
    )


def _filter_name(column: str) -> str:
    """A filter's name inside a sentence: 'API key', 'model', 'team' (from its label)."""
    return in_sentence(by_column(column))


def _filters(catalog: Catalog) -> tuple[str, date, dict[str, str]]:
    grain_slot, period_slot, party_slot, value_slot, model_slot, provider_slot = st.columns(
        [1.9, 1.8, 1.2, 2.2, 1.9, 1.6]
    )
    with grain_slot:
        grain = st.segmented_control(
            "Time range",
            GRAINS,
            default="month",
            required=True,
            format_func=str.capitalize,
            key="grain",
        )
    periods = catalog.periods[grain]
    with period_slot:
        period_start = st.selectbox(
            "Period",
            periods,
            index=periods.index(catalog.default_period(grain)),
            key=f"period_{grain}",
            format_func=lambda start: period_label(grain, start, catalog.is_partial(grain, start)),
        )
    # The marts hold one party (API key, organization, team, project) at a time, with any
    # model and provider (docs/metrics.md, "Filter combinations"): the page offers exactly
    # that, one party filter picked by its kind.
    who = {d.name: d for d in parties()}
    with party_slot:
        kind = st.selectbox(
            "Filter by",
            list(who),
            key="party",
            format_func=lambda name: who[name].label,
            help=f"The figures are held for {held_in_words()}.",
        )
    party = who[kind]
    names = catalog.names(party.column)
    with value_slot:
        value = _choose(
            party.label,
            party.column,
            list(names),
            lambda key: f"{names[key]} ({key})" if names.get(key) not in (None, key) else key,
        )
    chosen = dict.fromkeys((d.column for d in (*parties(), *crossed())), ALL)
    chosen[party.column] = value
    options = {"model": catalog.models, "provider": catalog.providers}
    for slot, dimension in zip((model_slot, provider_slot), crossed()):
        with slot:
            chosen[dimension.column] = _choose(
                dimension.label, dimension.column, options.get(dimension.column, []), str
            )
    return grain, period_start, chosen


def main() -> None:
    st.set_page_config(page_title="Usage Analytics", layout="wide")
    # Card values wrap rather than cut a long model name short with an ellipsis.
    st.html(
        "<style>[data-testid='stMetricValue'] * {white-space: normal !important; overflow-wrap: anywhere;"
        " text-overflow: clip !important; overflow: visible !important; font-size: 1.9rem;"
        " line-height: 1.2}</style>"
    )
    st.title("Usage Analytics")
    st.caption("Pay-as-you-go requests only; subscription usage is not counted.")
    try:
        settings = Settings.from_env()
        version = warehouse_version(settings)
        catalog = _catalog(str(settings.warehouse_path), version)
    except WarehouseMissingError:
        _stop(
            "There is no warehouse yet at {path}. Build one with `make demo` "
            "(sample data) or `llm-usage materialize`, then reload this page.",
            path=settings.warehouse_path,
        )
    except WarehouseBusyError:
        _stop(
            "The warehouse is busy: a Dagster run is writing it. Reload this page in a moment.",
            "warning",
        )
    except SettingsError as error:
        _stop("{error}", "error", error=error)
    except QueryError as error:
        _stop(
            "The warehouse cannot be read yet ({error}). Run `llm-usage materialize` to build the "
            "marts.",
            "error",
            error=error,
        )
    if not catalog.periods["day"]:
        _stop(
            "The warehouse at {path} has no pay-as-you-go requests yet. Load some "
            "with `llm-usage materialize` (or `make demo`).",
            path=settings.warehouse_path,
        )

    _notes(catalog)
    _alerts_banner(catalog)
    grain, period_start, chosen = _filters(catalog)
    # The caption sits above the tabs but needs the figures, which depend on the open tab.
    heading = st.container()
    tabs = st.tabs(list(TABS), key="tab", on_change="rerun", bind="query-params")
    # The first tab when none says it is open (a `?tab=` naming no tab).
    tab, container = next(((t, c) for t, c in zip(TABS, tabs) if c.open), (TABS[0], tabs[0]))
    with container:
        _open_tab(settings, catalog, version, grain, period_start, chosen, tab, heading)
    _footer()


def _open_tab(
    settings: Settings,
    catalog: Catalog,
    version: tuple[float, float],
    grain: str,
    period_start: date,
    chosen: dict[str, str],
    tab: str,
    heading,
) -> None:
    """Read and draw the open tab (nothing of the others) and write the caption above."""
    try:
        view = _view(
            str(settings.warehouse_path),
            version,
            grain,
            period_start,
            tuple(chosen.items()),
            tab,
        )
    except WarehouseBusyError:
        _stop(
            "The warehouse is busy: a Dagster run is writing it. Reload this page in a moment.",
            "warning",
        )
    except QueryError as error:
        _stop("The marts could not be read ({error}).", "error", error=error)

    built = view.row(HEAD_MART)
    stamp = catalog.built_at if built is None else pd.Timestamp(built["built_at"])
    with heading:
        say(
            "caption",
            "{period} · data from {first} to {last} · figures built at {stamp} UTC · "
            "warehouse {path}",
            period=period_label(grain, period_start, catalog.is_partial(grain, period_start))
            + (
                f" · as of {view.as_of:%H:%M}"
                if view.as_of is not None
                and reaches_today(period_start, period_end(grain, period_start), catalog.zone)
                else ""
            ),
            first=f"{catalog.first_day:%Y-%m-%d}",
            last=f"{catalog.last_day:%Y-%m-%d}",
            stamp=f"{stamp:%Y-%m-%d %H:%M}",
            path=settings.warehouse_path,
        )
    if view.empty:
        described = [
            f"{_filter_name(dimension)} {value}"
            for dimension, value in chosen.items()
            if value != ALL
        ]
        _stop(
            "No pay-as-you-go requests match {what} in this {grain}. Pick another period or "
            "widen the filter.",
            what=" and ".join(described) or "this filter",
            grain=grain,
        )
    if tab == "Usage":
        usage_tab(view, catalog.api_keys, catalog.tag_keys)
        _budgets_section(catalog.budgets)
    elif tab == "Provider":
        provider_tab(view)
    elif tab == "Performance":
        performance_tab(view)
    else:
        raise ValueError(f"the page has no drawing for the tab {tab!r}")


# Streamlit runs this file as __main__; importing it (tests, tools) draws nothing.
if __name__ == "__main__":
    main()
