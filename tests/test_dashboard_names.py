"""Names from logs are text on the page, and thousands of them keep it usable.

A warehouse is built from one landing day whose models, providers, keys and key names
are Markdown and HTML that would link to, or make the browser fetch from, a local HTTP
server (`trap`), plus FILLER_MODELS models and FILLER_KEYS keys with one request each.
Headless (AppTest): every card, caption and message shows each name as its characters
(escaped Markdown); charts show the top rows plus one "other" row that adds up to the
rest; tables page; the filters list a bounded, searchable set. In a browser (Debian's
chromium via Playwright): no request reaches the server and no link or image element
comes from a name, on any tab, in any state the filters reach.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pytest
import requests
from conftest import CHARTS_DRAWN, use_data_dir
from nightly import run_window

from readers.dashboard import TABLE_OPEN
from readers.dashboard_data import CHART_ROWS, FILTER_OPTIONS, TABLE_PAGE_ROWS
from readers.page_text import WORD_JOINER, plain
from readers.warehouse import read_query

REPO = Path(__file__).resolve().parent.parent
PAGE = str(REPO / "readers" / "dashboard.py")
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
DAY = date(2026, 3, 2)
# More models than any chart or filter list shows, and two full table pages and more.
FILLER_MODELS = max(CHART_ROWS, FILTER_OPTIONS, 2 * TABLE_PAGE_ROWS) + 50
FILLER_KEYS = FILTER_OPTIONS + 50
ALL = "*"
# Markdown / HTML / Streamlit directives that would be live markup; {url} is the trap.
HOSTILE = (
    "![p]({url}/image.png)",
    "[x]({url}/link)",
    "<img src={url}/img.png>",
    "{url}/bare",
    "www.example.org and someone@example.org",
    ":red[red] :smile: $x^2$ **bold** `code` # head",
)


class _Trap(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (the standard library's name)
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def trap():
    """A local HTTP server that records every request it gets."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Trap.hits = []
    yield f"http://127.0.0.1:{server.server_address[1]}", _Trap.hits
    server.shutdown()


def _names(url: str, role: str) -> list[str]:
    return [name.format(url=url) + f" {role}" for name in HOSTILE]


def _record(n: int, model: str, provider: str, key: str, key_name: str | None, **figures):
    return {
        "request_id": f"r-{n}",
        "created_at": f"{DAY}T{n % 24:02d}:{n % 60:02d}:00Z",
        "api_key_id": key,
        "api_key_name": key_name,
        "model": model,
        "provider": provider,
        "billing_mode": "pay_as_you_go",
        "status": "success",
        "http_status": 200,
        "stream": True,
        "input_tokens": figures.get("input_tokens", 100),
        "output_tokens": figures.get("output_tokens", 100),
        "latency_ms": figures.get("latency_ms", 1000),
        "first_token_ms": 100,
    }


@pytest.fixture(scope="module")
def hostile(trap, tmp_path_factory):
    url, _ = trap
    models, providers = _names(url, "model"), _names(url, "provider")
    keys, key_names = _names(url, "key"), _names(url, "key name")
    records = []
    # Each hostile model 40 requests (enough to rank), the first the fastest, the last the
    # slowest (the first's throughput, 4,750 tokens/s, stays below the plausibility
    # ceiling, so it counts in the throughput figures); the filler models one request
    # each (too few to rank), all served by the first provider (the busiest); the second
    # provider is the fastest.
    for rank, model in enumerate(models):
        for n in range(40):
            records.append(
                _record(
                    len(records),
                    model,
                    providers[rank],
                    keys[rank],
                    key_names[rank],
                    output_tokens=1900 - 300 * rank,
                    latency_ms=500 + 400 * rank,
                )
            )
    for n in range(FILLER_MODELS):
        records.append(
            _record(
                len(records),
                f"filler/model-{n:05d}",
                providers[0],
                f"key-{n % FILLER_KEYS:04d}",
                None,
            )
        )
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "landing" / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "names.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(
            monkeypatch, root / "data", LLM_USAGE_LANDING_DIR=str(root / "landing")
        )
        run_window(settings, DAY, DAY, root / "data", command="run")
    return settings, {"model": models, "provider": providers, "key": keys, "key name": key_names}


@pytest.fixture
def page(hostile, monkeypatch):
    from streamlit.testing.v1 import AppTest

    for key, value in hostile[0].environment().items():
        monkeypatch.setenv(key, value)
    page = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not page.exception, page.exception
    page.segmented_control(key="grain").set_value("day").run()
    assert not page.exception, page.exception
    return page


def _shown(markdown: str) -> str:
    """What a reader sees of the page's escaped Markdown (readers/page_text.py)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace(WORD_JOINER, "")


def _markdown_texts(page) -> list[str]:
    """Everything the page drew that Streamlit renders as Markdown."""
    texts = []
    for metric in page.metric:
        texts += [metric.value, metric.delta or ""]
    for kind in ("caption", "info", "warning", "error", "subheader", "markdown"):
        texts += [element.value for element in getattr(page, kind)]
    return texts


def _charts(page) -> list[tuple[dict, object]]:
    charts = []
    for element in page.get("vega_lite_chart"):
        data = element.proto.data.data
        frame = pa.ipc.open_stream(data).read_pandas() if data else None
        charts.append((json.loads(element.proto.spec), frame))
    return charts


def _on_tab(page, tab: str):
    """Open a tab (a widget keyed "tab"): the page draws only the open tab."""
    page.session_state["tab"] = tab
    page.run()
    assert not page.exception, page.exception
    return page


def test_names_are_text_in_cards_captions_and_messages(hostile, page):
    _, names = hostile
    texts = []
    for tab in ("Provider", "Performance", "Usage"):
        texts += _markdown_texts(_on_tab(page, tab))
    # The busiest and fastest model and provider are on the cards.
    for name in [names["model"][0], names["model"][-1], *names["provider"][:2]]:
        holding = [text for text in texts if name in _shown(text)]
        assert holding, (name, "on no card")
        for text in holding:
            assert name not in text and plain(name) in text, text  # never raw Markdown
    # A filter that matches nothing names the filter values as text too.
    page.selectbox(key="model").set_value(names["model"][0])
    page.selectbox(key="provider").set_value(names["provider"][1]).run()
    message = page.info[0].value
    assert message.startswith(
        f"No pay-as-you-go requests match model {plain(names['model'][0])} and "
        f"provider {plain(names['provider'][1])}"
    ), message


def test_charts_show_the_top_rows_and_the_rest_as_other(hostile, page):
    settings, _ = hostile
    total = read_query(
        settings,
        "SELECT total_tokens, requests FROM main_marts.mart_usage_summary WHERE grain = 'day' "
        "AND period_start = ? AND api_key_id = '*' AND model = '*' AND provider = '*' "
        "AND organization_id = '*' AND team_id = '*' AND project_id = '*'",
        [DAY],
    ).iloc[0]
    models = next(
        frame
        for spec, frame in _charts(page)
        if frame is not None and "model" in frame.columns and "token_share" in frame.columns
    )
    assert len(models) == CHART_ROWS + 1
    other = models.iloc[-1]
    rest = len(HOSTILE) + FILLER_MODELS - CHART_ROWS
    assert other["model"] == f"other ({rest:,} models)"
    # Nothing lost, nothing counted twice: the rows add up to the period's total.
    assert models["total_tokens"].sum() == total["total_tokens"]
    assert models["requests"].sum() == total["requests"]
    assert abs(models["token_share"].sum() - 1) < 1e-9
    # Percentile charts cannot add the rest up: they show CHART_ROWS models and say so.
    _on_tab(page, "Performance")
    spreads = [
        frame for spec, frame in _charts(page) if frame is not None and "stat" in frame.columns
    ]
    assert spreads and all(frame["model"].nunique() == CHART_ROWS for frame in spreads)
    assert any(f"all {len(HOSTILE) + FILLER_MODELS:,}" in _shown(c.value) for c in page.caption)


def test_tables_page_and_filters_search(hostile, page):
    settings, names = hostile
    by_model = read_query(
        settings,
        "SELECT model FROM main_marts.mart_usage_by_model WHERE grain = 'day' AND period_start = ? "
        "AND api_key_id = '*' AND provider = '*' AND organization_id = '*' AND team_id = '*' "
        "AND project_id = '*' ORDER BY total_tokens DESC, model",
        [DAY],
    )["model"].tolist()
    assert len(by_model) > 2 * TABLE_PAGE_ROWS  # the second page is a full one
    page.session_state[f"{TABLE_OPEN}models"] = True  # the model table is folded
    page.run()
    table = next(
        frame.value
        for frame in page.dataframe
        if "token_share" in frame.value.columns and "model" in frame.value.columns
    )
    assert table["model"].tolist() == by_model[:TABLE_PAGE_ROWS]
    page.number_input(key="page_models").set_value(2).run()
    table = next(
        frame.value
        for frame in page.dataframe
        if "token_share" in frame.value.columns and "model" in frame.value.columns
    )
    assert table["model"].tolist() == by_model[TABLE_PAGE_ROWS : 2 * TABLE_PAGE_ROWS]

    # Filters list at most FILTER_OPTIONS values (plus "all"), busiest first, and search.
    models = page.selectbox(key="model")
    assert len(models.options) == FILTER_OPTIONS + 1
    assert models.options[1] == names["model"][0]  # shown as its characters
    last = f"filler/model-{FILLER_MODELS - 1:05d}"
    page.text_input(key="find_model").input(last.removeprefix("filler/")).run()
    assert page.selectbox(key="model").options == ["All models", last]
    page.selectbox(key="model").set_value(last).run()
    assert not page.exception
    assert _shown(page.metric[0].value) == "200"  # that model's one request's tokens
    keys = page.selectbox(key="api_key_id")
    assert len(keys.options) <= FILTER_OPTIONS + 1
    page.text_input(key="find_api_key_id").input("key name").run()
    assert sorted(page.selectbox(key="api_key_id").options[1:]) == sorted(
        f"{name} ({key})" for key, name in zip(names["key"], names["key name"])
    )


# ----------------------------------------------------------------------------- browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(hostile, tmp_path_factory):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("served-names") / "dashboard.log"
    env = {**os.environ, **hostile[0].environment()}
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
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Elements a name could have become: links and anything that fetches.
FETCHING = "a[href], img, image, picture, source, iframe, object, embed, video, audio, link[href]"


def _pointing_at(page, trap_url: str) -> list[str]:
    return page.evaluate(
        """([selector, target]) => [...document.querySelectorAll(selector)]
             .map(e => (e.closest('[data-testid]')?.getAttribute('data-testid') || '') + ' '
                  + (e.closest('[data-testid^="stElementContainer"]')?.innerText || '').slice(0, 80)
                  + ' ' + e.outerHTML.slice(0, 200))
             .filter(html => html.includes(target))""",
        [FETCHING, trap_url.removeprefix("http://")],
    )


def _tooltip(page, chart) -> str:
    """The text of the tooltip over the top row of `chart` ('' if none showed); fails if
    the tooltip holds a link or an image."""
    box = chart.bounding_box()
    for y in (12, 40):  # a bar chart's first row; a spread chart's, under its legend
        for step in range(4, 100, 3):
            page.mouse.move(box["x"] + box["width"] * step / 100, box["y"] + y)
            tip = page.evaluate(
                """() => { const t = document.querySelector('#vg-tooltip-element.visible');
                     return t ? [t.innerText, t.querySelectorAll('a, img').length] : null; }"""
            )
            if tip:
                assert tip[1] == 0, tip
                return tip[0]
    return ""


def _wait_for_charts(page) -> None:
    page.wait_for_function(CHARTS_DRAWN, timeout=60_000)


@pytest.mark.browser
def test_names_cause_no_request_and_no_link_in_a_real_browser(
    hostile, trap, served, tmp_path_factory
):
    from playwright.sync_api import sync_playwright

    trap_url, hits = trap
    _, names = hostile
    shots = tmp_path_factory.mktemp("screenshots-names")
    fetched: list[str] = []
    tips: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.on("request", lambda request: fetched.append(request.url))
            page.goto(served, timeout=120_000)
            page.wait_for_selector('[data-testid="stMetric"]', timeout=120_000)
            for tab, first_card in (
                ("Usage", "Total Token Usage"),
                ("Provider", "Primary Provider"),
                ("Performance", "Average Latency"),
            ):
                # Opening a tab reruns the page, which then draws that tab.
                page.get_by_role("tab", name=tab).click()
                page.locator('[data-testid="stMetric"]', has_text=first_card).wait_for(
                    state="visible", timeout=60_000
                )
                _wait_for_charts(page)
                assert page.locator('[data-testid="stException"]').count() == 0
                # Sweep the mouse along the top row of each visible chart until its
                # tooltip (vega-tooltip's element) shows: the row's name, as text.
                for chart in page.locator('[data-testid="stVegaLiteChart"]').all():
                    if chart.is_visible():
                        tips.append(_tooltip(page, chart))
                assert not _pointing_at(page, trap_url), tab
                # The page's own Markdown links nowhere but to its own headings (the
                # anchors Streamlit gives subheaders) and to the Dagster UI in its footer:
                # any other link or image is a name's.
                found = page.evaluate(
                    """() => [...document.querySelectorAll(
                        '[data-testid="stMarkdownContainer"] :is(a, img)')]
                        .filter(e => !/^(#|http:[/][/]127.0.0.1:3000)/.test(
                            e.getAttribute('href') || ''))
                        .map(e => e.outerHTML.slice(0, 200))"""
                )
                assert not found, (tab, found)
                page.screenshot(path=str(shots / f"names-{tab.lower()}.png"), full_page=True)
            # The card shows the name's characters as text.
            text = page.locator('[data-testid="stMetric"]', has_text="Highest Throughput Model")
            shown = text.locator('[data-testid="stMetricValue"]').inner_text()
            assert shown.replace(WORD_JOINER, "") == names["model"][0]
            # Every filter's list, opened, shows names as text too.
            for label in ("Model", "Provider", "API key"):
                select = page.locator('[data-testid="stSelectbox"]', has_text=label).first
                select.click()
                page.wait_for_timeout(500)
                assert not _pointing_at(page, trap_url), label
                page.keyboard.press("Escape")
            page.screenshot(path=str(shots / "names-filters.png"), full_page=True)
            page.wait_for_timeout(1000)
        finally:
            browser.close()
    assert not hits, hits
    assert not [url for url in fetched if url.startswith(trap_url)]
    # The tooltips of the model and provider charts named a hostile name as plain text.
    hostile_tips = [
        tip for tip in tips if any(n in tip for n in names["model"] + names["provider"])
    ]
    assert len(hostile_tips) >= 4, tips
    print(f"screenshots in {shots}")


def test_the_other_row_adds_up_and_never_reads_as_a_name():
    """_top on a provider breakdown: tokens, requests and shares of the rest add up; the
    rest's success rate is their successful requests over their requests; a provider
    logged under the "other" row's own label does not merge with it."""
    import pandas as pd

    from readers.dashboard import PROVIDER_RATES, PROVIDER_SUMS, _top

    count = CHART_ROWS + 9
    providers = pd.DataFrame(
        {
            "provider": ["other (9 providers)"] + [f"p{n:02d}" for n in range(1, count)],
            "requests": [1000 - 10 * n for n in range(count)],
            "successful_requests": [900 - 9 * n - n % 3 for n in range(count)],
            "total_tokens": [50_000 - 7 * n for n in range(count)],
        }
    )
    providers["success_rate"] = providers["successful_requests"] / providers["requests"]
    providers["request_share"] = providers["requests"] / providers["requests"].sum()
    providers["token_share"] = providers["total_tokens"] / providers["total_tokens"].sum()
    top = _top(providers, "provider", "requests", PROVIDER_SUMS, PROVIDER_RATES)
    assert len(top) == CHART_ROWS + 1
    other, rest = top.iloc[-1], providers.iloc[CHART_ROWS:]
    assert top["provider"].iloc[0] == "other (9 providers)"  # the busiest, as logged
    assert other["provider"] == "(other (9 providers))"  # so the rest's row reads otherwise
    assert top["provider"].is_unique
    for column in ("requests", "successful_requests", "total_tokens"):
        assert top[column].sum() == providers[column].sum(), column
    assert abs(top["request_share"].sum() - 1) < 1e-12
    assert other["success_rate"] == rest["successful_requests"].sum() / rest["requests"].sum()
