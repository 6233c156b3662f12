"""The Usage Analytics page in a real browser: how long a person waits after each choice.

benchmarks/dashboard.py times the page script (AppTest); what a browser does with its
output is not in it: laying out thousands of filter options, drawing charts with
thousands of rows. This script serves the page (`streamlit run`, as `llm-usage
dashboard` does) to Debian's chromium through Playwright and times each choice from the
click (or the first key typed into a filter's list) to the page settled (no script
running, every visible chart drawn; 0.1 s of waiting for the rerun to start included),
and records
the tallest chart canvas (browsers refuse canvases beyond about 32,767 pixels a side and
show a broken image instead). The page draws only its open tab, so opening a tab is a
choice timed too: until the tab's first card shows and the page settled.

Beside the wall time, each choice's CPU seconds: the served page's process and the
browser's (every process this script started but the page: chromium's and Playwright's
driver's). On a shared machine the wall time overstates what a choice costs; their CPU
does not.

    .venv/bin/python benchmarks/dashboard_browser.py --warehouse W.duckdb
    .venv/bin/python benchmarks/dashboard_browser.py --warehouse W.duckdb --checkout ../other

`--checkout` serves another checkout's page (for a before/after comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
SETTLED = """() => {
    const running = document.querySelector('[data-testid="stStatusWidget"]');
    if (running && running.innerText.trim()) return false;
    if (document.querySelector('[data-stale="true"]')) return false;
    return [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .filter(c => c.offsetParent).every(c => c.querySelector('canvas, svg'));
}"""
# The cards are drawn before the charts below them, and SETTLED holds for a page whose
# charts have not appeared yet: the first load waits for a drawn chart as well.
CHART_DRAWN = """() => [...document.querySelectorAll(
    '[data-testid="stVegaLiteChart"] :is(canvas, svg)')].some(c => c.offsetParent !== null)"""
# What a choice that changes the figures changes: the first card, or (a grain changed on
# a tab whose first card reads the same) the caption naming the period.
FIRST_CARD = (
    "(document.querySelector('[data-testid=\"stMetricValue\"]')?.innerText + '|' + "
    "[...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')]"
    ".map(c => c.innerText).find(t => t.includes('figures built at')))"
)
# A card with this label drawn and visible: the tab just opened has been drawn.
SHOWN = """(label) => [...document.querySelectorAll('[data-testid="stMetric"]')]
    .some(m => m.offsetParent !== null && m.innerText.includes(label))"""
TALLEST = """() => Math.max(0, ...[...document.querySelectorAll(
    '[data-testid="stVegaLiteChart"] :is(canvas, svg)')]
    .map(c => c.height?.baseVal?.value ?? c.height))"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(checkout: Path, warehouse: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "LLM_USAGE_WAREHOUSE": str(warehouse), "PYTHONPATH": str(checkout)}
    process = subprocess.Popen(
        [
            str(BIN / "streamlit"),
            "run",
            str(checkout / "readers" / "dashboard.py"),
            *("--server.address", "127.0.0.1", "--server.port", str(port)),
            *("--server.headless", "true", "--browser.gatherUsageStats", "false"),
            *("--server.fileWatcherType", "none"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=5).ok:
                return process, url
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the page did not start")
        time.sleep(0.5)


def _cpu_seconds(page_pid: int) -> tuple[float, float]:
    """CPU seconds so far of the served page and of every other process this script
    started (the browser and Playwright's driver)."""
    import psutil

    page = browser = 0.0
    for process in psutil.Process().children(recursive=True):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # a browser helper that has ended
            continue
        if process.pid == page_pid:
            page += times.user + times.system
        else:
            browser += times.user + times.system
    return page, browser


def measure(url: str, key: str, model: str, page_pid: int) -> dict:
    from playwright.sync_api import sync_playwright

    def settle(page, before: str | None, shows: str | None = None) -> float:
        """Seconds until the page settled; with `before`, only once the first card no
        longer reads `before` (the rerun has drawn the new figures: a loaded machine can
        take longer than any fixed pause to start it); with `shows`, once a card of that
        label is visible."""
        began = time.perf_counter()
        if shows is not None:
            page.wait_for_function(SHOWN, arg=shows, timeout=120_000, polling=50)
            page.wait_for_function(SETTLED, timeout=120_000, polling=50)
        elif before is None:
            page.wait_for_timeout(100)  # let the rerun start (counted in the figure)
            page.wait_for_function(SETTLED, timeout=120_000, polling=50)
        else:
            page.wait_for_function(
                f"(before) => ({SETTLED})() && {FIRST_CARD} !== before",
                arg=before,
                timeout=120_000,
                polling=50,
            )
        return time.perf_counter() - began

    def search(page, label: str, text: str) -> None:
        # A filter with more values than it lists has a search box above it.
        box = page.locator('[data-testid="stTextInput"]', has_text=f"Find {label}")
        if box.count():
            box.locator("input").fill(text)
            box.locator("input").press("Enter")

    def choose(page, label: str, text: str) -> None:
        page.locator('[data-testid="stSelectbox"]', has_text=label).first.click()
        page.keyboard.type(text)
        page.keyboard.press("Enter")

    def open_tab(page, tab: str) -> None:
        page.get_by_role("tab", name=tab).click()

    # (label, action, whether the figures change, the card a tab opened shows): a choice
    # that changes them is timed until the first card (or the period's caption) shows its
    # new value; opening a tab until its first card shows.
    steps = [
        ("grain week", lambda p: p.locator("button", has_text="Week").first.click(), True, None),
        # A day adds the Usage tab's three hourly charts.
        ("grain day", lambda p: p.locator("button", has_text="Day").first.click(), True, None),
        ("grain month", lambda p: p.locator("button", has_text="Month").first.click(), True, None),
        (f"search API key ({key})", lambda p: search(p, "API key", key), False, None),
        (f"one API key ({key})", lambda p: choose(p, "API key", key), True, None),
        ("all keys", lambda p: choose(p, "API key", "All keys"), True, None),
        (f"search model ({model})", lambda p: search(p, "Model", model), False, None),
        (f"one model ({model})", lambda p: choose(p, "Model", model), True, None),
        ("tab Provider", lambda p: open_tab(p, "Provider"), False, "Primary Provider"),
        ("tab Performance", lambda p: open_tab(p, "Performance"), False, "Average Latency"),
        (
            "grain week on Performance",
            lambda p: p.locator("button", has_text="Week").first.click(),
            True,
            None,
        ),
        ("tab Usage", lambda p: open_tab(p, "Usage"), False, "Total Token Usage"),
    ]
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            began = time.perf_counter()
            page.goto(url, timeout=120_000)
            page.wait_for_selector('[data-testid="stMetric"]', timeout=120_000)
            page.wait_for_function(CHART_DRAWN, timeout=120_000, polling=50)
            page.wait_for_function(SETTLED, timeout=120_000, polling=50)
            first = time.perf_counter() - began
            tallest = page.evaluate(TALLEST)
            for label, action, changes, shows in steps:
                before = page.evaluate(f"() => {FIRST_CARD}") if changes else None
                cpu_before = _cpu_seconds(page_pid)
                began = time.perf_counter()
                action(page)  # clicks, or typing into a filter's list (filtering it as typed)
                acting = time.perf_counter() - began
                waiting = settle(page, before, shows)
                page_cpu, browser_cpu = (
                    after - earlier for after, earlier in zip(_cpu_seconds(page_pid), cpu_before)
                )
                results.append(
                    {
                        "change": label,
                        "seconds": round(acting + waiting, 3),
                        "action_seconds": round(acting, 3),
                        "settle_seconds": round(waiting, 3),
                        "page_cpu_seconds": round(page_cpu, 3),
                        "browser_cpu_seconds": round(browser_cpu, 3),
                    }
                )
                print(
                    f"{label}: {acting + waiting:.3f} s ({acting:.3f} s acting, "
                    f"{waiting:.3f} s until settled; CPU {page_cpu:.3f} s page, "
                    f"{browser_cpu:.3f} s browser)",
                    file=sys.stderr,
                    flush=True,
                )
            selectors = page.evaluate(
                "() => [...document.querySelectorAll('[data-testid=\"stSelectbox\"]')].length"
            )
        finally:
            browser.close()
    return {
        "first_load_seconds": round(first, 3),
        "tallest_chart_canvas_pixels": tallest,
        "selectors": selectors,
        "redraws": results,
        "redraw_max_seconds": max(r["seconds"] for r in results),
        "settle_max_seconds": max(r["settle_seconds"] for r in results),
        "redraw_max_cpu_seconds": max(
            r["page_cpu_seconds"] + r["browser_cpu_seconds"] for r in results
        ),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--checkout", type=Path, default=REPO, help="whose page to serve")
    parser.add_argument("--key", help="API key to choose (default: the least busy)")
    parser.add_argument("--model", help="model to choose (default: the least busy)")
    parser.add_argument("--json", type=Path, help="where to write the result")
    args = parser.parse_args(argv)
    os.environ["LLM_USAGE_WAREHOUSE"] = str(args.warehouse.absolute())
    from config.settings import Settings
    from readers.report import dimension_values

    settings = Settings.from_env()
    key = args.key or dimension_values(settings, "api_key_id")["api_key_id"].iloc[-1]
    model = args.model or dimension_values(settings, "model")["model"].iloc[-1]
    load_before = os.getloadavg()[0]
    process, url = serve(args.checkout.absolute(), args.warehouse.absolute())
    try:
        result = {
            "checkout": str(args.checkout.absolute()),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            **measure(url, key, model, process.pid),
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    result["load_average_1m"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
