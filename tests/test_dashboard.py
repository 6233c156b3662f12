"""The Usage Analytics page (readers/dashboard.py) shows the marts' figures.

Headless: Streamlit's AppTest runs the page script in this process, for each grain and
for all / one key / one model / one provider / model x provider, and every card of each
tab (opened one at a time: only the open tab is drawn) is compared with the mart row
read here with SQL. The states a user can meet (no
warehouse, no marts, no match, busy, not caught up, quality hold) each show a sentence.

In a browser: `llm-usage dashboard` serves the page on a free port and headless
Chromium (Debian's /usr/bin/chromium, driven by Playwright) opens each tab, then the Day
view, whose hourly bars are compared with mart_usage_by_hour.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import requests
from conftest import CHARTS_DRAWN, SAMPLE_BUDGET, SAMPLE_LAST_DAY

from ingest.warehouse import request_model_build
from readers.dashboard import TABLE_OPEN
from readers.dashboard_data import FILTER_OPTIONS, TABLE_PAGE_ROWS
from readers.filters import all_rows_sql, filter_columns
from readers.page_text import WORD_JOINER
from readers.warehouse import read_query, reader_connection

REPO = Path(__file__).resolve().parent.parent
PAGE = str(REPO / "readers" / "dashboard.py")
BIN = Path(sys.executable).parent
LAST_DAY = SAMPLE_LAST_DAY  # 2026-02-04, a Wednesday
# The sample runs Monday 2026-01-26 .. Wednesday 2026-02-04: both months are partial, so
# the page opens on the latest one; the first ISO week is the latest complete one.
DEFAULT_PERIOD = {"month": date(2026, 2, 1), "week": date(2026, 1, 26), "day": LAST_DAY}
CHROMIUM = Path("/usr/bin/chromium")
ALL = "*"


@pytest.fixture(scope="module")
def sample(sample_warehouse):
    """The session's sample warehouse, read only (tests that change it copy the file)."""
    return sample_warehouse


@pytest.fixture
def page(sample, monkeypatch):
    """A fresh page on the sample warehouse (the env var is what the page reads)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LLM_USAGE_WAREHOUSE", str(sample.warehouse_path))
    return AppTest.from_file(PAGE, default_timeout=120)


def _row(settings, mart: str, grain: str, period: date, chosen: dict[str, str]) -> pd.Series | None:
    connection = reader_connection(settings)
    try:
        return _row_on(connection, mart, grain, period, chosen)
    finally:
        connection.close()


def _row_on(connection, mart: str, grain: str, period: date, chosen: dict[str, str]):
    """_row on an open reader connection: each connection reads the warehouse's catalog
    anew, so a test reading many rows reads them on one."""
    columns = filter_columns()  # the filters not chosen are all ('*')
    frame = connection.execute(
        f"SELECT * FROM main_marts.{mart} WHERE grain = ? AND period_start = ? AND "
        + " AND ".join(f"{c} = ?" for c in columns),
        [grain, period, *(chosen.get(c, ALL) for c in columns)],
    ).fetchdf()
    assert len(frame) <= 1
    return None if frame.empty else frame.iloc[0]


def _filters(connection) -> dict[str, dict[str, str]]:
    """All / the busiest key / the top model / the top provider / that model x provider."""

    def top(dimension: str) -> str:
        return (
            connection.execute(
                f"SELECT {dimension} AS value FROM main_marts.mart_usage_summary WHERE grain = 'month' "
                f"AND period_start = ? AND {dimension} <> '*' AND "
                + " AND ".join(f"{d} = '*'" for d in filter_columns() if d != dimension)
                + " ORDER BY requests DESC, value LIMIT 1",
                [DEFAULT_PERIOD["month"]],
            )
            .fetchdf()["value"]
            .iloc[0]
        )

    key, model = top("api_key_id"), top("model")
    provider = (
        connection.execute(
            "SELECT provider FROM main_marts.mart_provider_distribution WHERE grain = 'month' "
            "AND period_start = ? AND api_key_id = '*' AND model = ? AND organization_id = '*' "
            "AND team_id = '*' AND project_id = '*' ORDER BY requests DESC LIMIT 1",
            [DEFAULT_PERIOD["month"], model],
        )
        .fetchdf()["provider"]
        .iloc[0]
    )
    return {
        "all": {"api_key_id": ALL, "model": ALL, "provider": ALL},
        "one key": {"api_key_id": key, "model": ALL, "provider": ALL},
        "one model": {"api_key_id": ALL, "model": model, "provider": ALL},
        "one provider": {"api_key_id": ALL, "model": ALL, "provider": top("provider")},
        "model x provider": {"api_key_id": ALL, "model": model, "provider": provider},
    }


def _open(page, grain: str, chosen: dict[str, str], period: date | None = None):
    page.run()
    assert not page.exception, page.exception
    page.segmented_control(key="grain").set_value(grain).run()
    if period is not None:
        page.selectbox(key=f"period_{grain}").set_value(period)
    for dimension, value in chosen.items():
        page.selectbox(key=dimension).set_value(value)
    page.run()
    assert not page.exception, page.exception
    return page


def _on_tab(page, tab: str):
    """Open a tab (the tabs are a widget keyed "tab", readers/dashboard.py): the page
    draws only the open tab."""
    page.session_state["tab"] = tab
    page.run()
    assert not page.exception, page.exception
    return page


def _shown(markdown: str | None) -> str | None:
    """What a reader sees of Markdown the page escaped (readers/page_text.py): the
    characters, without the backslashes that keep them from being markup."""
    if markdown is None:
        return None
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace(WORD_JOINER, "")


def _cards(page) -> dict[str, tuple[str, str]]:
    return {metric.label: (_shown(metric.value), _shown(metric.delta)) for metric in page.metric}


def _count(value) -> str:
    return f"{int(value):,}"


def _pct(value) -> str:
    return f"{100 * float(value):.1f}%"


def _ms(value) -> str:
    return f"{float(value):,.0f} ms"


def _tps(value) -> str:
    return f"{float(value):,.1f} tokens/s"


def _pick(value) -> str:
    return "not enough requests to rank" if pd.isna(value) else str(value)


def _previous(grain: str, start: date) -> date:
    day = start - timedelta(days=1)
    return {"day": day, "week": day - timedelta(days=day.weekday()), "month": day.replace(day=1)}[
        grain
    ]


def _expected_of_every_filter(settings, grain: str) -> dict[str, dict]:
    """For each of _filters' selections, the mart rows its cards and key table show in
    the grain's default period (and the summary of the period before), read here with
    SQL on one connection."""
    period = DEFAULT_PERIOD[grain]
    expected = {}
    connection = reader_connection(settings)
    try:
        for label, chosen in _filters(connection).items():
            rows = {
                mart: _row_on(connection, mart, grain, period, chosen)
                for mart in (
                    "mart_usage_summary",
                    "mart_web_search_usage",
                    "mart_provider_summary",
                    "mart_performance_summary",
                )
            }
            rows["previous"] = _row_on(
                connection, "mart_usage_summary", grain, _previous(grain, period), chosen
            )
            rows["by_key"] = connection.execute(
                "SELECT api_key_id, total_tokens, requests FROM main_marts.mart_usage_by_api_key "
                "WHERE grain = ? AND period_start = ? AND model = ? AND provider = ? "
                + ("AND api_key_id = ? " if chosen["api_key_id"] != ALL else "")
                + "ORDER BY total_tokens DESC, api_key_id",
                [grain, period, chosen["model"], chosen["provider"]]
                + ([chosen["api_key_id"]] if chosen["api_key_id"] != ALL else []),
            ).fetchdf()
            expected[label] = {"chosen": chosen, **rows}
    finally:
        connection.close()
    return expected


@pytest.mark.parametrize("grain", ["month", "week", "day"])
def test_every_card_is_the_mart_value(sample, page, grain):
    expected = _expected_of_every_filter(sample, grain)
    page.run()
    assert not page.exception, page.exception
    page.segmented_control(key="grain").set_value(grain)
    for label, rows in expected.items():
        chosen = rows["chosen"]
        # Each selection in one script run, on the Usage tab (its key table is checked
        # there); the other tabs are opened after it, one run each.
        page.session_state["tab"] = "Usage"
        for dimension, value in chosen.items():
            page.selectbox(key=dimension).set_value(value)
        page.run()
        assert not page.exception, page.exception
        assert page.session_state["tab"] == "Usage"
        period = page.selectbox(key=f"period_{grain}").value
        assert period == DEFAULT_PERIOD[grain], (label, period)
        summary = rows["mart_usage_summary"]
        if summary is None:
            assert "No pay-as-you-go requests match" in page.info[0].value, label
            assert not page.metric
            continue
        # The breakdown tables list the mart's rows as they are: the first page of them
        # (readers.dashboard_data.TABLE_PAGE_ROWS rows a page).
        by_key = rows["by_key"].head(TABLE_PAGE_ROWS)
        shown = next(frame.value for frame in page.dataframe if "api_key_id" in frame.value.columns)
        assert shown["api_key_id"].tolist() == by_key["api_key_id"].tolist(), label
        assert shown["total_tokens"].tolist() == by_key["total_tokens"].tolist(), label

        cards = _cards(page)
        for tab in ("Provider", "Performance"):
            cards |= _cards(_on_tab(page, tab))
        previous = rows["previous"]
        for card, column in (
            ("Total Token Usage", "total_tokens"),
            ("Input Token Usage", "input_tokens"),
            ("Output Token Usage", "output_tokens"),
            ("Total API Requests", "requests"),
        ):
            value, delta = cards[card]
            assert value == _count(summary[column]), (label, card)
            if previous is None:
                assert not delta, (label, card)
            else:
                assert delta.startswith(f"{int(summary[column]) - int(previous[column]):+,}"), (
                    label,
                    card,
                    delta,
                )

        web = rows["mart_web_search_usage"]
        assert cards["Web search requests"][0] == _count(web["web_search_requests"])
        assert cards["Web search calls"][0] == _count(web["web_search_calls"])
        assert cards["Tokens of web search requests"][0] == _count(web["web_search_total_tokens"])
        assert cards["Share of requests"][0] == _pct(web["web_search_request_share"])

        providers = rows["mart_provider_summary"]
        assert cards["Primary Provider"][0] == providers["primary_provider"], label
        assert cards["Provider Count"][0] == _count(providers["provider_count"])
        assert cards["Average Success Rate"][0] == _pct(providers["success_rate"])
        assert cards["Fastest Response Provider"][0] == _pick(
            providers["fastest_response_provider"]
        ), label

        performance = rows["mart_performance_summary"]
        assert cards["Average Latency"][0] == _ms(performance["avg_latency_ms"]), label
        assert cards["Average Throughput"][0] == _tps(performance["avg_throughput_tps"]), label
        assert cards["Fastest Model"][0] == _pick(performance["fastest_model"]), label
        assert cards["Slowest Model"][0] == _pick(performance["slowest_model"]), label
        assert cards["Highest Throughput Model"][0] == _pick(
            performance["highest_throughput_model"]
        ), label
        assert cards["Lowest Throughput Model"][0] == _pick(
            performance["lowest_throughput_model"]
        ), label


def _chart_data(page) -> list[pd.DataFrame]:
    import pyarrow as pa

    return [
        pa.ipc.open_stream(chart.proto.data.data).read_all().to_pandas()
        for chart in page.get("vega_lite_chart")
    ]


def test_only_the_open_tab_is_read_and_drawn(sample, page, monkeypatch):
    """Issue 31 item 8: a script run draws the open tab only and reads only the marts of
    its panels (each mart's tab is declared in the marts' YAML, readers/panels.py);
    opening another tab reads and draws that one, with the mart's figures, and going
    back to a tab already read for the selection reads nothing (the page's cache)."""
    import streamlit as st

    from readers import dashboard_data
    from readers.panels import TABS, load_panels

    read: list[str] = []
    real = dashboard_data._frame

    def spy(connection, query, params=None):
        read.append(query)
        return real(connection, query, params)

    def marts_read() -> set[str]:
        return {m for m in marts if any(re.search(rf"\b{m}\b", query) for query in read)}

    monkeypatch.setattr(dashboard_data, "_frame", spy)
    marts = {panel.mart: panel.tab for panel in load_panels()}
    st.cache_resource.clear()  # nothing read before in this process
    page.run()
    assert not page.exception, page.exception
    # The first tab is open: its marts are read, its cards drawn, nothing of the others.
    assert marts_read() == {m for m, tab in marts.items() if tab == "Usage"}
    shown = {metric.label for metric in page.metric}
    assert "Total Token Usage" in shown
    assert not shown & {"Primary Provider", "Average Latency"}
    assert [tab.label for tab in page.tabs] == list(TABS)
    assert page.session_state["tab"] == TABS[0] == "Usage"

    read.clear()
    _on_tab(page, "Provider")
    # The caption's usage summary (the heading) and the Provider tab's panels only.
    assert marts_read() == {"mart_usage_summary"} | {
        m for m, tab in marts.items() if tab == "Provider"
    }
    everything = dict.fromkeys(filter_columns(), ALL)
    period = DEFAULT_PERIOD["month"]
    summary = _row(sample, "mart_provider_summary", "month", period, everything)
    cards = _cards(page)
    assert "Total Token Usage" not in cards and "Average Latency" not in cards
    assert cards["Primary Provider"][0] == summary["primary_provider"]
    assert cards["Provider Count"][0] == _count(summary["provider_count"])
    distribution = read_query(
        sample,
        "SELECT provider, total_tokens, requests FROM main_marts.mart_provider_distribution "
        "WHERE grain = 'month' AND period_start = ? AND provider <> '*' AND "
        + all_rows_sql("provider")
        + " ORDER BY provider",
        [period],
    )
    assert 1 < len(distribution) <= dashboard_data.CHART_ROWS  # every provider is a bar
    bars = [frame for frame in _chart_data(page) if {"provider", "request_share"} <= set(frame)]
    assert len(bars) == 3  # tokens, requests and success rate by provider
    for frame in bars:
        drawn = frame.sort_values("provider")[["provider", "total_tokens", "requests"]]
        assert drawn.to_dict("list") == distribution.to_dict("list")

    read.clear()
    _on_tab(page, "Usage")
    assert read == [] and "Total Token Usage" in _cards(page)


def test_choices_made_in_a_tab_stay_when_another_tab_was_open(sample, page):
    """Streamlit forgets a widget not drawn in a run, and a closed tab is not drawn: the
    Usage tab's group-by and tag key are still as chosen after the Provider tab was open."""
    page.run()
    from readers.filters import parties

    group = page.segmented_control(key="group_dimension")
    other = next(d.name for d in parties() if d.name not in ("api_key", group.value))
    group.set_value(other).run()
    tag_key = page.selectbox(key="tag_key")
    tag = next(option for option in tag_key.options if option != tag_key.value)
    tag_key.set_value(tag).run()
    _on_tab(page, "Provider")
    _on_tab(page, "Usage")
    assert page.segmented_control(key="group_dimension").value == other
    assert page.selectbox(key="tag_key").value == tag
    assert not page.warning  # no choice set twice (Streamlit warns of that)


def test_the_tag_table_names_its_untagged_row(page):
    """The mart's tag_value is NULL on a key's untagged row: the table says "(untagged)"
    there, never an empty cell or "None", and every value it shows is named."""
    page.run()
    (values,) = [f.value for f in page.dataframe if "tag_value" in f.value.columns]
    assert values["untagged"].any()  # the sample has requests without the chosen key
    assert values["tag_value"].notna().all()
    assert (values.loc[values["untagged"], "tag_value"] == "(untagged)").all()
    assert not (values.loc[~values["untagged"], "tag_value"] == "(untagged)").any()


def test_each_tab_declares_the_rows_it_reads_beside_its_panels():
    """TAB_READS names, for every tab of readers/panels.py, View fields load_view fills."""
    from dataclasses import fields

    from readers.dashboard_data import TAB_READS, View
    from readers.panels import TABS

    assert set(TAB_READS) == set(TABS)
    assert {read for reads in TAB_READS.values() for read in reads} <= {
        f.name for f in fields(View)
    }


def test_a_link_naming_a_tab_opens_that_tab(page):
    """The open tab is the URL's `?tab=` (bind="query-params"): a link opens that tab."""
    page.query_params["tab"] = "Performance"
    page.run()
    assert not page.exception, page.exception
    cards = _cards(page)
    assert "Average Latency" in cards and "Total Token Usage" not in cards


def test_periods_are_labelled_and_the_trend_covers_the_period(sample, page):
    page.run()
    # AppTest lists a select box's options as the labels the user sees.
    assert page.selectbox(key="period_month").options == [
        "February 2026 · partial",
        "January 2026 · partial",
    ]
    _open(page, "week", {"api_key_id": ALL, "model": ALL, "provider": ALL})
    assert page.selectbox(key="period_week").options == [
        "Week of 2026-02-02 – 2026-02-08 · partial",
        "Week of 2026-01-26 – 2026-02-01",
    ]
    assert any("Tokens per day in the week" in header.value for header in page.subheader)
    _open(page, "day", {"api_key_id": ALL, "model": ALL, "provider": ALL})
    assert any("the 30 days up to 2026-02-04" in header.value for header in page.subheader)


def test_a_filter_that_matches_nothing_says_so(sample, page):
    # A key with requests in the sample but none on its last day.
    key = read_query(
        sample,
        "SELECT api_key_id FROM main_marts.mart_usage_summary WHERE grain = 'month' "
        "AND model = '*' AND provider = '*' AND api_key_id <> '*' EXCEPT "
        "SELECT api_key_id FROM main_marts.mart_usage_summary WHERE grain = 'day' AND period_start = ? "
        "AND model = '*' AND provider = '*' ORDER BY 1 LIMIT 1",
        [LAST_DAY],
    )["api_key_id"].iloc[0]
    _open(page, "day", {"api_key_id": key, "model": ALL, "provider": ALL})
    assert not page.metric and not page.dataframe
    assert _shown(page.info[0].value).startswith(
        f"No pay-as-you-go requests match API key {key} in this day."
    )


def test_without_a_warehouse_the_page_says_how_to_build_one(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LLM_USAGE_WAREHOUSE", str(tmp_path / "missing.duckdb"))
    page = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not page.exception
    assert "There is no warehouse yet" in page.info[0].value and "make demo" in page.info[0].value
    assert not page.metric
    assert "http://127.0.0.1:3000" in page.caption[-1].value


def test_a_warehouse_without_marts_says_to_materialize(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    monkeypatch.setenv("LLM_USAGE_WAREHOUSE", str(empty))
    page = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not page.exception
    assert "llm-usage materialize" in page.error[0].value
    assert not page.metric


def _copy(sample, tmp_path) -> Path:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(sample.warehouse_path, copy)
    return copy


def test_marts_without_rows_say_there_is_no_usage_yet(sample, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    copy = _copy(sample, tmp_path)
    with duckdb.connect(str(copy)) as connection:
        connection.execute("DELETE FROM main_marts.mart_usage_summary")
    monkeypatch.setenv("LLM_USAGE_WAREHOUSE", str(copy))
    page = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not page.exception
    assert "has no pay-as-you-go requests yet" in page.info[0].value
    assert not page.metric and not page.selectbox


def test_spend_shows_where_the_marts_carry_it(sample, page):
    """The usage marts carry spend (spend_usd, spend_share, cost coverage): a Spend card
    and spend columns in the breakdown tables show the mart's figures."""
    page.run()
    assert not page.exception
    settings = sample
    everything = {"api_key_id": ALL, "model": ALL, "provider": ALL}
    summary = _row(settings, "mart_usage_summary", "month", DEFAULT_PERIOD["month"], everything)
    previous = _row(settings, "mart_usage_summary", "month", date(2026, 1, 1), everything)
    value, delta = _cards(page)["Spend"]
    assert value == f"${summary['spend_usd']:,.2f}" and summary["spend_usd"] > 0
    difference = summary["spend_usd"] - previous["spend_usd"]
    assert delta.startswith(f"{'+' if difference >= 0 else '-'}${abs(difference):,.2f}")
    assert any(
        "of them;" in caption.value and "per million tokens" in caption.value
        for caption in page.caption
    )
    page.session_state[f"{TABLE_OPEN}models"] = True  # the model table is folded
    for tab, table in (("Usage", "model"), ("Usage", "api_key_id"), ("Provider", "provider")):
        _on_tab(page, tab)
        shown = next(frame.value for frame in page.dataframe if table in frame.value.columns)
        assert {"spend_usd", "spend_share"} <= set(shown.columns), table


def test_tables_a_chart_shows_are_sent_only_when_opened(sample, page):
    """The Usage tab's tables whose rows a chart beside them shows (by model, by token
    type, by team, top end users) are folded: closed, the page sends no grid for them
    (each grid costs the browser on every redraw) but keeps their download; opened, the
    table shows the mart's rows. Tables no chart shows (API keys, tag values, budgets)
    stay open."""
    page.run()
    assert not page.exception
    folded = {"models", "token_types", "groups_team", "end_users"}

    def grids() -> list[pd.DataFrame]:
        return [frame.value for frame in page.dataframe]

    closed = grids()
    assert not [f for f in closed if "token_share" in f.columns and "model" in f.columns]
    assert not [f for f in closed if {"token_type", "group_id", "end_user_id"} & set(f.columns)]
    assert any("api_key_id" in f.columns for f in closed)  # shown: no chart shows the keys
    assert any("tag_value" in f.columns for f in closed)
    assert any("forecast" in f.columns for f in closed)  # budgets
    labels = [expander.label for expander in page.expander]
    assert len([label for label in labels if label.startswith("Table (")]) == len(folded)
    downloads = {button.key for button in page.get("download_button")}
    assert {f"download_{key}" for key in folded} <= downloads

    everything = {"api_key_id": ALL, "model": ALL, "provider": ALL}
    models = read_query(
        sample,
        "SELECT model, total_tokens FROM main_marts.mart_usage_by_model WHERE grain = 'month' "
        "AND period_start = ? AND "
        + " AND ".join(f"{c} = '*'" for c in filter_columns() if c != "model")
        + " ORDER BY total_tokens DESC, model",
        [DEFAULT_PERIOD["month"]],
    )
    assert f"Table ({len(models):,} rows)" in labels
    for key in folded:
        page.session_state[f"{TABLE_OPEN}{key}"] = True
    page.run()
    assert not page.exception
    opened = grids()
    shown = next(f for f in opened if "model" in f.columns and "token_share" in f.columns)
    assert shown["model"].tolist() == models["model"].tolist()[:TABLE_PAGE_ROWS]
    assert shown["total_tokens"].tolist() == models["total_tokens"].tolist()[:TABLE_PAGE_ROWS]
    summary = _row(sample, "mart_usage_summary", "month", DEFAULT_PERIOD["month"], everything)
    types = next(f for f in opened if "token_type" in f.columns)
    assert types["tokens"].sum() == summary["total_tokens"]
    assert any("group_id" in f.columns for f in opened)
    assert any("end_user_id" in f.columns for f in opened)


def test_caching_and_errors_show_the_marts_figures(sample, page):
    """Issue 27: the Usage tab's Caching cards are mart_cache_usage's row; the Provider
    tab lists each provider's failures by class (mart_errors' provider rows) and the top
    error types (mart_top_error_types), as the marts hold them. The sample data has
    gateway cache hits and failures of several classes, so none of it is empty."""
    page.run()
    assert not page.exception
    period, everything = DEFAULT_PERIOD["month"], {c: ALL for c in filter_columns()}
    cache = _row(sample, "mart_cache_usage", "month", period, everything)
    assert cache["gateway_cache_hits"] > 0 and cache["cache_read_tokens"] > 0
    cards = _cards(page)
    assert cards["Gateway cache hits"] == (
        _count(cache["gateway_cache_hits"]),
        f"{_pct(cache['gateway_cache_hit_share'])} of requests",
    )
    assert cards["Saved by the gateway cache"][0] == f"${cache['saved_cache_cost_usd']:,.2f}"
    assert cards["Prompt cache hit rate (tokens)"][0] == _pct(cache["cache_read_token_rate"])
    assert cards["Prompt cache hit rate (requests)"][0] == _pct(cache["cache_read_request_rate"])
    assert cards["Prompt cache write tokens"][0] == _count(cache["cache_write_tokens"])

    _on_tab(page, "Provider")
    others = " AND ".join(f"{c} = '*'" for c in filter_columns() if c != "provider")
    by_provider = read_query(
        sample,
        "SELECT * FROM main_marts.mart_errors WHERE grain = 'month' AND period_start = ? "
        f"AND provider <> '*' AND {others} AND unsuccessful_requests > 0 "
        "ORDER BY unsuccessful_requests DESC, provider",
        [period],
    )
    classes = [c for c in by_provider.columns if c.endswith("_errors")]
    assert len(classes) == 8 and (by_provider[classes] > 0).sum(axis=1).max() >= 2
    shown = next(f.value for f in page.dataframe if "unsuccessful_requests" in f.value.columns)
    assert shown["provider"].tolist() == by_provider["provider"].tolist()
    for column in ["unsuccessful_requests", *classes]:
        assert shown[column].tolist() == by_provider[column].tolist(), column

    types = read_query(
        sample,
        "SELECT * FROM main_marts.mart_top_error_types WHERE grain = 'month' "
        f"AND period_start = ? AND provider = '*' AND {others} ORDER BY error_rank NULLS LAST",
        [period],
    )
    assert len(types) >= 4
    shown = next(f.value for f in page.dataframe if "error_share" in f.value.columns)
    assert shown["error_type"].tolist() == types["error_type"].tolist()
    assert shown["errors"].tolist() == types["errors"].tolist()


def test_days_behind_and_on_hold_are_named_above_the_figures(sample, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    copy = _copy(sample, tmp_path)
    with duckdb.connect(str(copy)) as connection:
        request_model_build(connection, [LAST_DAY], "ingest")  # as a load that no build followed
        connection.execute(
            "INSERT INTO raw.quality_holds VALUES (DATE '2026-02-05', 'requests_per_day', now())"
        )
    monkeypatch.setenv("LLM_USAGE_WAREHOUSE", str(copy))
    page = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not page.exception
    warnings = [_shown(warning.value) for warning in page.warning]
    assert any("not caught up with landing day(s) 2026-02-04" in text for text in warnings), (
        warnings
    )
    assert any(
        "On quality hold" in text and "2026-02-05 (requests_per_day)" in text for text in warnings
    ), warnings
    assert page.metric  # the figures are still shown under the notes


def test_active_alerts_are_a_banner_and_budgets_are_on_the_usage_tab(sample, page):
    """The sample's nightly run evaluated its budgets file (tests/conftest.py): the page
    names the active alerts above the figures and lists the budget's status."""
    from readers.alert_tables import active_alerts, current_budget_status, highest_thresholds

    page.run()
    assert not page.exception
    titles = list(highest_thresholds(active_alerts(sample))["title"])
    assert f"Budget '{SAMPLE_BUDGET}' passed 100% of its limit" in titles
    # ... which implies its 50% and 80%: active too, but not listed.
    assert f"Budget '{SAMPLE_BUDGET}' passed 80% of its limit" in set(
        active_alerts(sample)["title"]
    )
    assert not any("passed 80%" in title or "passed 50%" in title for title in titles)
    (banner,) = [e for e in page.error if "Active alerts" in e.value]
    shown = _shown(banner.value)
    assert f"Active alerts ({len(titles)}):" in shown
    assert all(title in shown for title in titles)
    budgets = next(frame.value for frame in page.dataframe if "forecast" in frame.value.columns)
    status = current_budget_status(sample).iloc[0]
    assert list(budgets["budget"]) == [SAMPLE_BUDGET]
    assert budgets["spent"].iloc[0] == pytest.approx(status["spent"])
    assert budgets["share_used"].iloc[0] == pytest.approx(100 * status["share_used"])


def _budgets_of_two_units() -> None:
    """An AppTest script (run from its own source: it imports what it uses): the budgets
    section of a dollar budget and a token budget."""
    from datetime import date

    import pandas as pd

    from readers.dashboard import _budgets_section

    _budgets_section(
        pd.DataFrame(
            {
                "budget": ["All traffic, monthly", "Search team, weekly tokens"],
                "scope": ["all", "team"],
                "scope_id": [None, "team_search"],
                "period": ["month", "week"],
                "period_start": pd.to_datetime(["2026-11-01", "2026-11-30"]),
                "unit": ["usd", "tokens"],
                "budget_limit": [12000.0, 5_000_000.0],
                "spent": [12988.19, 1_200_000.0],
                "share_used": [1.0823, 0.24],
                "forecast": [12988.19, 4_000_000.0],
                "forecast_share": [1.0823, 0.8],
                "limit_reached_on": [date(2026, 11, 28), None],
            }
        )
    )


def test_budget_amounts_read_in_their_unit():
    """Dollar limits as dollars and token limits as token counts, a table per unit, the
    period start as a date and the all-traffic budget's missing id said in words."""
    import json

    from streamlit.testing.v1 import AppTest

    page = AppTest.from_function(_budgets_of_two_units).run()
    assert not page.exception
    assert [c.value for c in page.caption][:2] == ["Limits in US dollars", "Limits in tokens"]
    dollars, tokens = page.dataframe
    assert list(dollars.value["budget"]) == ["All traffic, monthly"]
    assert list(tokens.value["budget"]) == ["Search team, weekly tokens"]
    assert dollars.value["scope_id"].iloc[0] == "(all)"
    assert dollars.value["share_used"].iloc[0] == pytest.approx(108.23)
    for frame, amount in ((dollars, "dollar"), (tokens, "localized")):
        config = json.loads(frame.proto.columns)
        assert "unit" not in frame.value.columns
        assert config["period_start"]["type_config"]["type"] == "date"
        for column in ("budget_limit", "spent", "forecast"):
            assert config[column]["type_config"]["format"] == amount, column


def test_a_busy_warehouse_is_named_not_a_traceback(sample, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    copy = _copy(sample, tmp_path)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(120)",
            str(copy),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "open"
        monkeypatch.setenv("LLM_USAGE_WAREHOUSE", str(copy))
        page = AppTest.from_file(PAGE, default_timeout=60).run()
        assert not page.exception
        assert "The warehouse is busy" in page.warning[0].value
    finally:
        writer.kill()
        writer.wait()


# ----------------------------------------------------------------------------- browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(sample, tmp_path_factory):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(
                f"{CHROMIUM} is missing: .ci/run installs Debian's chromium before the tests"
            )
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("served") / "dashboard.log"  # the sample is shared
    env = {
        **os.environ,
        "LLM_USAGE_DATA_DIR": str(sample.data_dir),
        "LLM_USAGE_WAREHOUSE": str(sample.warehouse_path),
    }
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(BIN / "llm-usage"), "dashboard", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if requests.get(f"{url}/_stcore/health", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (
                "the dashboard did not answer in 120 s:\n" + log_path.read_text()
            )
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.browser
def test_each_tab_in_a_real_browser(sample, served, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    total = _row(
        sample,
        "mart_usage_summary",
        "month",
        DEFAULT_PERIOD["month"],
        {"api_key_id": ALL, "model": ALL, "provider": ALL},
    )["total_tokens"]
    shots = tmp_path_factory.mktemp("screenshots")
    first_card = {
        "Usage": "Total Token Usage",
        "Provider": "Primary Provider",
        "Performance": "Average Latency",
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            received: list[bytes] = []  # what the server sends (protobuf) on the page's socket
            page.on(
                "websocket",
                lambda socket: socket.on(
                    "framereceived",
                    lambda frame: received.append(frame if isinstance(frame, bytes) else b""),
                ),
            )
            page.goto(served, timeout=120_000)
            page.wait_for_selector('[data-testid="stMetric"]', timeout=120_000)
            for tab, card in first_card.items():
                page.get_by_role("tab", name=tab).click()
                metric = page.locator('[data-testid="stMetric"]', has_text=card)
                metric.wait_for(state="visible", timeout=60_000)
                # Charts are drawn by the browser after the cards: wait until the script
                # has finished and each visible one has its canvas.
                page.wait_for_function(CHARTS_DRAWN, timeout=60_000)
                assert page.locator('[data-testid="stException"]').count() == 0
                if tab == "Usage":
                    # The sample's active alerts are a banner above the tabs.
                    assert (
                        page.get_by_text(
                            f"Budget '{SAMPLE_BUDGET}' passed 100% of its limit"
                        ).count()
                        == 1
                    )
                    value = metric.locator('[data-testid="stMetricValue"]').inner_text()
                    assert value == f"{int(total):,}"
                    _check_group_download(sample, page, shots)
                    _check_group_by_redraws_only_its_section(page, received)
                page.screenshot(path=str(shots / f"dashboard-{tab.lower()}.png"), full_page=True)
                assert (shots / f"dashboard-{tab.lower()}.png").stat().st_size > 10_000
            _check_an_opened_table_stays_open(page)
            _check_day_view_hours(sample, page, shots)
        finally:
            browser.close()
    print(f"screenshots in {shots}")


def _check_an_opened_table_stays_open(page) -> None:
    """The team table opened on the Usage tab (_check_group_download) is open again when
    the Usage tab is, after the other tabs were (Streamlit forgets the state of a widget
    that a run does not draw)."""
    page.get_by_role("tab", name="Usage").click()
    page.locator('[data-testid="stMetric"]', has_text="Total Token Usage").wait_for(
        state="visible", timeout=60_000
    )
    page.wait_for_function(CHARTS_DRAWN, timeout=60_000)
    team = page.locator(".st-key-open_table_groups_team")
    team.locator('[data-testid="stDataFrame"]').first.wait_for(state="visible", timeout=60_000)


def _check_group_download(sample, page, folder: Path) -> None:
    """Issue 25's panels are on the Usage tab, and Usage by Team's download (written by
    readers/csv_text.py) holds the mart's rows."""
    for title in ("Usage by Team", "Top end users", "Usage by tag key"):
        page.get_by_role("heading", name=title).wait_for(state="visible", timeout=60_000)
    assert page.get_by_text("tag rows do not add up to the total").count() == 1
    # The team table is folded (a chart shows its rows): opening it draws its grid.
    team = page.locator(".st-key-open_table_groups_team")
    grids = team.locator('[data-testid="stDataFrame"]')
    assert grids.count() == 0
    team.get_by_text("Table (").click()
    grids.first.wait_for(state="visible", timeout=60_000)
    with page.expect_download(timeout=60_000) as download:
        page.locator(".st-key-download_groups_team button").first.click()
    path = folder / "groups_team.csv"
    download.value.save_as(str(path))
    shown = pd.read_csv(path, keep_default_na=False)
    mart = read_query(
        sample,
        "SELECT group_id, group_name, total_tokens, requests FROM main_marts.mart_usage_by_group "
        "WHERE grain = 'month' AND period_start = ? AND dimension = 'team' AND "
        + " AND ".join(f"{c} = '*'" for c in filter_columns())
        + " ORDER BY total_tokens DESC, group_id",
        [DEFAULT_PERIOD["month"]],
    )
    assert list(shown["group_id"]) == list(mart["group_id"])
    assert list(shown["total_tokens"]) == list(mart["total_tokens"])
    assert list(shown["requests"]) == list(mart["requests"])


def _check_group_by_redraws_only_its_section(page, received: list[bytes]) -> None:
    """Choosing a group-by reruns only its section (a fragment): the server sends the
    section anew and nothing of the rest of the tab (a full rerun would send every card
    again, the first one included)."""
    group = page.locator(".st-key-group_dimension")
    received.clear()
    group.locator("button", has_text="Organization").click()
    page.get_by_role("heading", name="Usage by Organization").wait_for(
        state="visible", timeout=60_000
    )
    page.wait_for_function(CHARTS_DRAWN, timeout=60_000)
    sent = b"".join(received)
    assert b"Usage by Organization" in sent
    assert b"Total Token Usage" not in sent and b"Web search calls" not in sent
    group.locator("button", has_text="Team").click()
    page.get_by_role("heading", name="Usage by Team").wait_for(state="visible", timeout=60_000)
    page.wait_for_function(CHARTS_DRAWN, timeout=60_000)


# What each visible chart drew: Streamlit keeps the chart's Vega view in a React ref
# (no public handle; its charts are canvases), so this finds the view through the chart
# element's React fiber and reads the view's scenegraph: each bar (`rect`) or point
# (`symbol`) that carries an `hour`, with its datum and its drawn box.
DRAWN_HOURS = """
() => {
  const isView = (v) => v && typeof v.scenegraph === 'function'
    && typeof v.data === 'function' && typeof v.runAsync === 'function';
  const charts = [];
  for (const chart of document.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    if (!chart.offsetParent) continue;
    const views = new Set();
    for (const element of [chart, ...chart.querySelectorAll('*')]) {
      const key = Object.keys(element).find((k) => k.startsWith('__reactFiber$'));
      for (let fiber = key && element[key]; fiber; fiber = fiber.return) {
        for (let hook = fiber.memoizedState; hook && typeof hook === 'object' && 'next' in hook;
             hook = hook.next) {
          const ref = hook.memoizedState;
          if (ref && typeof ref === 'object' && isView(ref.current)) views.add(ref.current);
        }
      }
    }
    const drawn = [];
    const walk = (mark) => {
      if (mark.role === 'mark' && ['rect', 'symbol'].includes(mark.marktype)) {
        for (const item of mark.items || []) {
          if (item.datum && 'hour' in item.datum) {
            drawn.push({hour: item.datum.hour, series: item.datum.series,
                        value: item.datum.value, x: item.x, height: item.height});
          }
        }
      }
      for (const item of mark.items || []) for (const child of item.items || []) walk(child);
    };
    for (const view of views) walk(view.scenegraph().root);
    if (drawn.length) charts.push(drawn);
  }
  return charts;
}
"""


def _check_day_view_hours(sample, page, folder: Path) -> None:
    """In the browser, the Day view of the sample's last day (the day it opens on) draws
    its hourly bars from mart_usage_by_hour's all-traffic rows: one bar per local hour and
    figure, left to right in time order, each with the mart's value and a height in
    proportion to it."""

    page.get_by_role("tab", name="Usage").click()
    page.locator(".st-key-grain button", has_text="Day").click()
    page.get_by_role("heading", name=f"By hour on {LAST_DAY:%Y-%m-%d} (local hours)").wait_for(
        state="visible", timeout=60_000
    )
    # Tokens (input and output stacked), requests and spend: three hourly charts.
    page.wait_for_function(f"() => ({DRAWN_HOURS})().length === 3", timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    tokens, requests_, spend = page.evaluate(DRAWN_HOURS)
    page.screenshot(path=str(folder / "dashboard-day.png"), full_page=True)

    hours = read_query(
        sample,
        "SELECT strftime(hour_label, '%H:%M') AS hour, input_tokens, output_tokens, requests, "
        f"spend_usd FROM main_marts.mart_usage_by_hour WHERE event_date = ? AND {all_rows_sql()} "
        "ORDER BY period_start",
        [LAST_DAY],
    )
    assert len(hours) == 24 and hours["requests"].gt(0).all()
    for drawn, series, column in (
        (tokens, "Input", "input_tokens"),
        (tokens, "Output", "output_tokens"),
        (requests_, "Requests", "requests"),
        (spend, "Spend", "spend_usd"),
    ):
        bars = sorted((bar for bar in drawn if bar["series"] == series), key=lambda bar: bar["x"])
        assert [(bar["hour"], bar["value"]) for bar in bars] == list(
            zip(hours["hour"], hours[column])
        ), series
        # Drawn to scale: every bar's height is its value times the chart's one scale.
        scale = max(bar["height"] for bar in bars) / hours[column].max()
        assert all(abs(bar["height"] - scale * bar["value"]) < 0.5 for bar in bars), series
    assert {bar["series"] for bar in tokens} == {"Input", "Output"}


@pytest.mark.benchmark_script
def test_the_benchmark_script_runs_on_a_warehouse(sample, tmp_path):
    """benchmarks/dashboard.py measures every step and writes its JSON (no timing is checked)."""
    import json

    out = tmp_path / "result.json"
    env = {**os.environ, "LLM_USAGE_WAREHOUSE": str(sample.warehouse_path)}
    subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "dashboard.py"),
            "--warehouse",
            str(sample.warehouse_path),
            "--json",
            str(out),
        ],
        env=env,
        check=True,
        cwd=REPO,
        capture_output=True,
        timeout=600,
    )
    result = json.loads(out.read_text())
    assert result["requests_in_month"] == int(
        _row(
            sample,
            "mart_usage_summary",
            "month",
            DEFAULT_PERIOD["month"],
            {"api_key_id": ALL, "model": ALL, "provider": ALL},
        )["requests"]
    )
    # Three more (search, pick, back to all) for each filter with more values than it lists.
    searched = sum(result[n] > FILTER_OPTIONS for n in ("api_keys", "models"))
    # Each other party (organization, team, project): its kind, its busiest value and
    # back to all; then back to API keys, the three group-bys and up to three tag keys.
    from readers.dashboard_data import load_catalog
    from readers.filters import NONE

    catalog = load_catalog(sample)
    valued = [
        p for p in ("organization", "team", "project") if set(catalog.names(f"{p}_id")) - {NONE}
    ]
    tag_keys = catalog.tag_keys[1:4]
    assert len(valued) == 3 and tag_keys  # the sample names them all and sends tags
    labels = [r["change"] for r in result["redraws"]]
    assert [label for label in labels if label.startswith("filter by ")] == [
        "filter by organization",
        "filter by team",
        "filter by project",
        "filter by API key",
    ]
    assert [label for label in labels if label.startswith("usage by ")] == [
        "usage by team",
        "usage by project",
        "usage by organization",
    ]
    assert [label for label in labels if label.startswith("tag key ")] == [
        f"tag key {key}" for key in tag_keys
    ]
    # Only the open tab is drawn: the other tabs opened, a filter change on one of them
    # and back to Usage, each a timed script run.
    tabs = labels[labels.index("tab Provider") :]
    assert tabs == [
        "tab Provider",
        "tab Performance",
        "grain week on Performance",
        "tab Provider (week)",
        "tab Usage (week)",
        "grain month on Usage",
    ]
    assert len(labels) == 11 + 4 + 2 * len(valued) + 3 + len(tag_keys) + 3 * searched + len(tabs)
    assert all(r["seconds"] > 0 for r in result["redraws"])
    assert not next(r for r in result["redraws"] if r["change"] == "tab Provider")["cached"]
    assert {r["tab"] for r in result["read_only_seconds"]} == {
        "all",
        "Usage",
        "Provider",
        "Performance",
    }
    assert {"uncached_redraw_max_cpu_seconds", "read_only_seconds", "first_load_seconds"} <= set(
        result
    )


@pytest.mark.browser
@pytest.mark.benchmark_script
def test_the_browser_benchmark_script_runs_on_a_warehouse(sample, tmp_path):
    """benchmarks/dashboard_browser.py serves the page to chromium and times each choice
    (no timing is checked)."""
    import json

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    out = tmp_path / "browser.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "dashboard_browser.py"),
            "--warehouse",
            str(sample.warehouse_path),
            "--json",
            str(out),
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
        timeout=600,
    )
    result = json.loads(out.read_text())
    assert [r["change"] for r in result["redraws"]][:3] == [
        "grain week",
        "grain day",
        "grain month",
    ]
    assert [r["change"] for r in result["redraws"]][-4:] == [
        "tab Provider",
        "tab Performance",
        "grain week on Performance",
        "tab Usage",
    ]
    assert len(result["redraws"]) == 12 and all(r["seconds"] > 0 for r in result["redraws"])
    assert all(r["page_cpu_seconds"] >= 0 < r["browser_cpu_seconds"] for r in result["redraws"])
    assert 0 < result["tallest_chart_canvas_pixels"] < 32_767


def _hourly_charts(page) -> list[pd.DataFrame]:
    """The data of the page's charts drawn by local hour, in page order."""
    import json

    import pyarrow as pa

    return [
        pa.ipc.open_stream(chart.proto.data.data).read_all().to_pandas()
        for chart in page.get("vega_lite_chart")
        if json.loads(chart.proto.spec).get("encoding", {}).get("x", {}).get("field") == "hour"
    ]


def test_the_day_view_charts_the_marts_hours(sample, page):
    """Day view: tokens, requests and spend per hour (Usage), success and error rate
    (Provider) and latency p50 / p99 (Performance), each chart's data the rows of
    mart_usage_by_hour / mart_latency_by_hour for the day, in time order; a week has no
    hourly charts."""
    shown = {"api_key_id": ALL, "model": ALL, "provider": ALL}  # the page's own selects
    _open(page, "week", shown)
    assert _hourly_charts(page) == []
    _open(page, "day", shown)
    headers = [header.value for header in page.subheader]
    assert f"By hour on {LAST_DAY:%Y-%m-%d} (local hours)" in headers
    tokens, requests_, spend = _hourly_charts(page)
    (rates,) = _hourly_charts(_on_tab(page, "Provider"))
    assert "Success and error rate by hour" in [header.value for header in page.subheader]
    (latency,) = _hourly_charts(_on_tab(page, "Performance"))
    assert "Latency p50 and p99 by hour" in [header.value for header in page.subheader]

    everything = " AND ".join(f"{c} = '*'" for c in filter_columns())
    hours = read_query(
        sample,
        "SELECT strftime(hour_label, '%H:%M') AS hour, input_tokens, output_tokens, requests, "
        f"spend_usd, success_rate, error_rate FROM main_marts.mart_usage_by_hour "
        f"WHERE event_date = ? AND {everything} ORDER BY period_start",
        [LAST_DAY],
    )
    assert len(hours) == 24

    def series(chart, name):
        rows = chart[chart["series"] == name]
        return rows["hour"].tolist(), rows["value"].tolist()

    assert series(tokens, "Input") == (hours["hour"].tolist(), hours["input_tokens"].tolist())
    assert series(tokens, "Output") == (hours["hour"].tolist(), hours["output_tokens"].tolist())
    assert series(requests_, "Requests") == (hours["hour"].tolist(), hours["requests"].tolist())
    assert series(spend, "Spend") == (hours["hour"].tolist(), hours["spend_usd"].tolist())
    assert series(rates, "Success") == (hours["hour"].tolist(), hours["success_rate"].tolist())
    assert series(rates, "Error") == (hours["hour"].tolist(), hours["error_rate"].tolist())
    day = _row(sample, "mart_usage_summary", "day", LAST_DAY, dict.fromkeys(filter_columns(), ALL))
    assert hours["requests"].sum() == day["requests"]

    percentiles = read_query(
        sample,
        "SELECT strftime(hour_label, '%H:%M') AS hour, p50_latency_ms, p99_latency_ms "
        f"FROM main_marts.mart_latency_by_hour WHERE event_date = ? AND {everything} "
        "ORDER BY period_start",
        [LAST_DAY],
    )
    assert series(latency, "p50") == (
        percentiles["hour"].tolist(),
        percentiles["p50_latency_ms"].tolist(),
    )
    assert series(latency, "p99") == (
        percentiles["hour"].tolist(),
        percentiles["p99_latency_ms"].tolist(),
    )


def test_the_hourly_charts_colour_and_stack_each_series_as_the_daily_trend(sample, page):
    """Input and output tokens keep the daily trend's colours and stacking (input at the
    bottom) in the Day view's hours; success is green and errors red."""
    import json

    def colours(spec) -> dict[str, str]:
        scale = spec["encoding"]["color"]["scale"]
        return dict(zip(scale["domain"], scale["range"]))

    shown = {"api_key_id": ALL, "model": ALL, "provider": ALL}
    _open(page, "week", shown)
    specs = [json.loads(chart.proto.spec) for chart in page.get("vega_lite_chart")]
    trend = next(s for s in specs if s.get("encoding", {}).get("x", {}).get("field") == "day")
    _open(page, "day", shown)
    specs = [json.loads(chart.proto.spec) for chart in page.get("vega_lite_chart")]
    hourly = [s for s in specs if s.get("encoding", {}).get("x", {}).get("field") == "hour"]
    tokens = hourly[0]
    assert colours(tokens) == colours(trend)
    assert tokens["encoding"]["order"]["sort"] == trend["encoding"]["order"]["sort"]
    ranks = _hourly_charts(page)[0]
    assert ranks.groupby("series")["rank"].first().to_dict() == {"Input": 0, "Output": 1}
    _on_tab(page, "Provider")
    specs = [json.loads(chart.proto.spec) for chart in page.get("vega_lite_chart")]
    (rates,) = [s for s in specs if s.get("encoding", {}).get("x", {}).get("field") == "hour"]
    assert colours(rates) == {"Success": "#54a24b", "Error": "#e45756"}


def test_a_repeated_hour_is_labelled_with_its_offset():
    from readers.dashboard_data import hourly_chart_rows

    hours = pd.DataFrame(
        {
            "hour_label": pd.to_datetime(["2026-11-01 00:00", "2026-11-01 01:00"] * 1
                                         + ["2026-11-01 01:00", "2026-11-01 02:00"]),
            "utc_offset_minutes": [-240, -240, -300, -300],
            "requests": [1, 2, 3, 4],
        }
    )  # fmt: skip
    assert hourly_chart_rows(hours)["hour"].tolist() == [
        "00:00 (UTC-04:00)",
        "01:00 (UTC-04:00)",
        "01:00 (UTC-05:00)",
        "02:00 (UTC-05:00)",
    ]
    one_offset = hours.assign(utc_offset_minutes=345)
    assert hourly_chart_rows(one_offset)["hour"].tolist()[:2] == ["00:00", "01:00"]


def test_while_todays_files_arrive_the_page_opens_on_today_as_of_its_latest_request(
    sample, page, monkeypatch
):
    """With the sample's last landing day as the day still arriving (the intraday
    refresh loads it), the Day view opens on it, marked partial and "as of" the latest
    request loaded; the days before it stay complete."""
    from readers import coverage

    monkeypatch.setattr(coverage, "landing_day_in_progress", lambda: LAST_DAY)
    latest = read_query(
        sample,
        "SELECT max(created_at) AS at FROM main_facts.fct_requests "
        "WHERE billing_mode = 'pay_as_you_go' AND event_date = ?",
        [LAST_DAY],
    )["at"].iloc[0]
    _open(page, "day", {"api_key_id": ALL, "model": ALL, "provider": ALL})
    captions = [_shown(caption.value) for caption in page.caption]
    expected = (
        f"{LAST_DAY:%Y-%m-%d (%a)} · partial · as of {pd.Timestamp(latest).tz_convert('UTC'):%H:%M}"
    )
    assert any(caption.startswith(expected) for caption in captions), captions
    assert (
        page.selectbox(key="period_day").options[1]
        == f"{LAST_DAY - timedelta(days=1):%Y-%m-%d (%a)}"
    )
