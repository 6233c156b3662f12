"""Benchmark of the Usage Analytics page: how long each filter change takes to redraw.

It builds (or reuses) a warehouse holding one month of generated logs, then drives the
page headless with Streamlit's AppTest, the same script `llm-usage dashboard` serves,
and times each script run after a filter change: reading the marts for a selection not
seen before (nothing cached) plus drawing the open tab. It then opens the other tabs
(each a script run that reads and draws that tab), changes a filter with another tab
open, revisits selections already seen (answered from the page's cache) and times the
reading alone (`readers.dashboard_data.load_view`, no Streamlit), all tabs and each.

Only the open tab is drawn (readers/dashboard.py), so a tab change is a script run too.
`--checkout` runs another checkout's page (for a before/after comparison; a page that
draws every tab ignores the tab steps' choice).

Usage (from the repo root):

    .venv/bin/python benchmarks/dashboard.py --requests-per-day 1000000      # builds a month
    .venv/bin/python benchmarks/dashboard.py --warehouse data/warehouse.duckdb  # reuses one
    .venv/bin/python benchmarks/dashboard.py --days 3 --requests-per-day 20000 \
        --models 5000 --keys 20000          # thousands of names (filters search, charts top N)
    .venv/bin/python benchmarks/dashboard.py --warehouse W.duckdb --checkout ../other

The result is printed and written as JSON (default benchmarks/results/). The 1 s target
is reported, never asserted.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PAGE = REPO / "readers" / "dashboard.py"
TARGET_SECONDS = 1.0
TAGGED_PER_TAG = 50  # wide requests a day for each added tag (--tags)


def progress(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def write_wide(landing: Path, start: date, days: int, models: int, keys: int, tags: int = 0) -> int:
    """Beside the generated logs, one file a day of requests that name `models` models and
    `keys` API keys beyond the generator's catalogue (one request per name, spread over
    the days): what a gateway with thousands of models and keys gives the page. With
    `tags`, each of those requests (at least TAGGED_PER_TAG a day per tag) also carries
    two of `tags` distinct tags under ten tag keys (`bench0:v000` ...), beside the
    generator's own few dozen, so the tag breakdowns hold hundreds of values every day.
    Returns the records written."""
    import json

    names = max(models, keys, tags * TAGGED_PER_TAG * days)
    written = 0
    for offset in range(days):
        day = start + timedelta(days=offset)
        lines = []
        for n in range(offset, names, days):
            lines.append(
                json.dumps(
                    {
                        "request_id": f"wide-{n}",
                        "created_at": f"{day}T{n % 24:02d}:{n % 60:02d}:{n % 59:02d}Z",
                        "api_key_id": f"key-wide-{n % keys:05d}" if keys else "key-wide",
                        "api_key_name": f"wide key {n % keys:05d}" if keys else None,
                        "model": f"wide/model-{n % models:05d}" if models else "wide/model",
                        "provider": f"wide-provider-{n % 7}",
                        "billing_mode": "pay_as_you_go",
                        "status": "success",
                        "http_status": 200,
                        "stream": True,
                        "input_tokens": 100 + n % 900,
                        "output_tokens": 50 + n % 400,
                        "latency_ms": 400 + n % 3000,
                        "first_token_ms": 100 + n % 300,
                        **({"tags": _bench_tags(n, tags)} if tags else {}),
                    }
                )
            )
        (landing / f"dt={day}" / "wide.jsonl").write_text("\n".join(lines) + "\n")
        written += len(lines)
    return written


def _bench_tags(n: int, tags: int) -> list[str]:
    """Two of `tags` distinct tags for wide request `n`, under ten keys."""
    first, second = n % tags, (n // tags + n + 1) % tags
    return sorted({f"bench{t % 10}:v{t:03d}" for t in (first, second)})


def build(
    data_dir: Path,
    start: date,
    days: int,
    requests_per_day: int,
    models: int = 0,
    keys: int = 0,
    tags: int = 0,
) -> float:
    """Generate `days` landing days from `start` and load and build them as the pipeline
    benchmark builds its history (benchmarks/pipeline.py's build_history: every day
    loaded, then one `dbt build` of them all, without the Dagster run's data-quality
    gates, which a generated month of millions of requests can trip on one odd record);
    the seconds it took."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import pipeline

    began = time.monotonic()
    landing = data_dir / "landing"
    if not landing.exists():
        pipeline.generate(
            landing, start, days, requests_per_day, seed=7, duplicate_rate=0.0, late_rate=0.0
        )
        if models or keys or tags:
            wide = write_wide(landing, start, days, models, keys, tags)
            progress(f"  wide: {wide:,} records")
    defaults = pipeline.Settings.from_env()
    warehouse = pipeline.Warehouse(
        "warehouse", data_dir, landing, defaults.duckdb_memory_limit, defaults.duckdb_threads
    )
    pipeline.build_history(warehouse, start, start + timedelta(days=days), data_dir / "dbt_target")
    return time.monotonic() - began


def measure(warehouse: Path, page: Path = PAGE) -> dict:
    os.environ["LLM_USAGE_WAREHOUSE"] = str(warehouse)
    from streamlit.testing.v1 import AppTest

    from config.settings import Settings
    from readers.dashboard_data import FILTER_OPTIONS, load_catalog, load_view
    from readers.filters import NONE, all_rows_sql, everything, parties

    settings = Settings.from_env()
    catalog = load_catalog(settings)
    requests = None
    from readers.warehouse import read_query

    rows = read_query(settings, "SELECT count(*) AS n FROM main_marts.mart_usage_summary")[
        "n"
    ].iloc[0]
    month = catalog.default_period("month")
    requests = int(
        read_query(
            settings,
            "SELECT requests FROM main_marts.mart_usage_summary WHERE grain = 'month' "
            "AND period_start = ? AND " + all_rows_sql(),
            [month],
        )["requests"].iloc[0]
    )
    busiest_key = read_query(
        settings,
        "SELECT api_key_id FROM main_marts.mart_usage_by_api_key WHERE grain = 'month' "
        "AND period_start = ? AND "
        + all_rows_sql("api_key_id")
        + " ORDER BY requests DESC LIMIT 1",
        [month],
    )["api_key_id"].iloc[0]
    model, provider = catalog.models[0], catalog.providers[0]
    # The least busy key and model: on a page with thousands, found through the search box.
    rare_key, rare_model = list(catalog.api_keys)[-1], catalog.models[-1]

    app = AppTest.from_file(str(page), default_timeout=120)
    began, began_cpu = time.perf_counter(), time.process_time()
    app.run()
    first_load, first_load_cpu = time.perf_counter() - began, time.process_time() - began_cpu
    assert not app.exception, app.exception

    # Each step changes one filter to a selection the page has not read yet.
    steps = [
        ("grain week", lambda: app.segmented_control(key="grain").set_value("week")),
        ("grain day", lambda: app.segmented_control(key="grain").set_value("day")),
        ("grain month", lambda: app.segmented_control(key="grain").set_value("month")),
        (
            "previous month",
            lambda: app.selectbox(key="period_month").set_value(catalog.periods["month"][-1]),
        ),
        ("latest month", lambda: app.selectbox(key="period_month").set_value(month)),
        (
            f"one API key ({busiest_key})",
            lambda: app.selectbox(key="api_key_id").set_value(busiest_key),
        ),
        ("all keys", lambda: app.selectbox(key="api_key_id").set_value("*")),
        (f"one model ({model})", lambda: app.selectbox(key="model").set_value(model)),
        (
            f"model x provider ({provider})",
            lambda: app.selectbox(key="provider").set_value(provider),
        ),
        ("all models", lambda: app.selectbox(key="model").set_value("*")),
        ("all providers", lambda: app.selectbox(key="provider").set_value("*")),
    ]
    # The other parties (organization, team, project): the kind, then its busiest value;
    # the Usage tab's group-by and tag-key choices.
    for party in ("organization", "team", "project"):
        column = f"{party}_id"
        values = [v for v in catalog.names(column) if v != NONE]
        steps.append(
            (f"filter by {party}", lambda p=party: app.selectbox(key="party").set_value(p))
        )
        if values:
            steps += [
                (
                    f"one {party} ({values[0]})",
                    lambda c=column, v=values[0]: app.selectbox(key=c).set_value(v),
                ),
                (f"all {party}s", lambda c=column: app.selectbox(key=c).set_value("*")),
            ]
    steps.append(("filter by API key", lambda: app.selectbox(key="party").set_value("api_key")))
    for group in ("team", "project", "organization"):
        steps.append(
            (
                f"usage by {group}",
                lambda g=group: app.segmented_control(key="group_dimension").set_value(g),
            )
        )
    for tag_key in catalog.tag_keys[1:4]:
        steps.append(
            (f"tag key {tag_key}", lambda k=tag_key: app.selectbox(key="tag_key").set_value(k))
        )
    if len(catalog.api_keys) > FILTER_OPTIONS:
        steps += [
            (
                f"search a key ({rare_key})",
                lambda: app.text_input(key="find_api_key_id").input(rare_key),
            ),
            (f"that key ({rare_key})", lambda: app.selectbox(key="api_key_id").set_value(rare_key)),
            ("all keys again", lambda: app.selectbox(key="api_key_id").set_value("*")),
        ]
    if len(catalog.models) > FILTER_OPTIONS:
        steps += [
            (
                f"search a model ({rare_model})",
                lambda: app.text_input(key="find_model").input(rare_model),
            ),
            (
                f"that model ({rare_model})",
                lambda: app.selectbox(key="model").set_value(rare_model),
            ),
            ("all models again", lambda: app.selectbox(key="model").set_value("*")),
        ]

    # The other tabs (each read and drawn when opened), a filter change with a tab other
    # than Usage open, and back to Usage (read for that selection already: cached).
    def open_tab(tab: str):
        app.session_state["tab"] = tab

    steps += [
        ("tab Provider", lambda: open_tab("Provider")),
        ("tab Performance", lambda: open_tab("Performance")),
        ("grain week on Performance", lambda: app.segmented_control(key="grain").set_value("week")),
        ("tab Provider (week)", lambda: open_tab("Provider")),
        ("tab Usage (week)", lambda: open_tab("Usage")),
        ("grain month on Usage", lambda: app.segmented_control(key="grain").set_value("month")),
    ]

    def value(widget, key: str):
        try:
            return getattr(app, widget)(key=key).value
        except KeyError:  # not on the page for this selection (no tags, no groups)
            return None

    def selection() -> tuple:
        grain = value("segmented_control", "grain")
        party = value("selectbox", "party")
        return (
            grain,
            value("selectbox", f"period_{grain}"),
            party,
            value("selectbox", by_name[party]),
            value("selectbox", "model"),
            value("selectbox", "provider"),
            value("segmented_control", "group_dimension"),
            value("selectbox", "tag_key"),
            app.session_state["tab"] if "tab" in app.session_state else "Usage",
        )

    by_name = {d.name: d.column for d in parties()}
    seen = {selection()}
    redraws = []
    for label, change in steps:
        change()
        began, began_cpu = time.perf_counter(), time.process_time()
        app.run()
        seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        assert not app.exception, (label, app.exception)
        # A selection read before is answered from the page's cache.
        cached = selection() in seen
        seen.add(selection())
        redraws.append(
            {
                "change": label,
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu, 3),
                "cached": cached,
            }
        )
        progress(f"{label}: {seconds:.3f} s wall, {cpu:.3f} s CPU{' (cached)' if cached else ''}")

    reads = []
    # Every tab's rows (what a redraw read before only the open tab was), then each tab's
    # alone where the checkout's load_view reads one tab.
    tabs = [None]
    if "tabs" in inspect.signature(load_view).parameters:
        from readers.panels import TABS

        tabs += [(tab,) for tab in TABS]
    for grain in ("month", "week", "day"):
        for tab in tabs:
            began, began_cpu = time.perf_counter(), time.process_time()
            load_view(
                settings,
                grain,
                catalog.default_period(grain),
                everything(),
                **({} if tab is None else {"tabs": tab}),
            )
            reads.append(
                {
                    "grain": grain,
                    "tab": "all" if tab is None else tab[0],
                    "seconds": round(time.perf_counter() - began, 3),
                    "cpu_seconds": round(time.process_time() - began_cpu, 3),
                }
            )

    uncached = [r["seconds"] for r in redraws if not r["cached"]]
    uncached_cpu = [r["cpu_seconds"] for r in redraws if not r["cached"]]
    return {
        "warehouse": str(warehouse),
        "warehouse_bytes": warehouse.stat().st_size,
        "month": month.isoformat(),
        "requests_in_month": requests,
        "mart_usage_summary_rows": int(rows),
        "models": len(catalog.models),
        "api_keys": len(catalog.api_keys),
        "providers": len(catalog.providers),
        "first_load_seconds": round(first_load, 3),
        "first_load_cpu_seconds": round(first_load_cpu, 3),
        "redraws": redraws,
        "uncached_redraw_max_seconds": max(uncached),
        "uncached_redraw_median_seconds": statistics.median(uncached),
        "cached_redraw_max_seconds": max(r["seconds"] for r in redraws if r["cached"]),
        # CPU time of this process (the page's thread and DuckDB's): what a redraw costs
        # when the two cores are not shared with other work, which wall time on a busy
        # machine overstates.
        "uncached_redraw_max_cpu_seconds": max(uncached_cpu),
        "uncached_redraw_median_cpu_seconds": statistics.median(uncached_cpu),
        "read_only_seconds": reads,
        "target_seconds": TARGET_SECONDS,
        "target_met_wall": max(uncached) < TARGET_SECONDS,
        "target_met_cpu": max(uncached_cpu) < TARGET_SECONDS,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests-per-day", type=int, default=1_000_000)
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 3, 1),
        help="first day of the generated month (default 2026-03-01)",
    )
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument(
        "--models", type=int, default=0, help="add this many distinct models (one request each)"
    )
    parser.add_argument(
        "--keys", type=int, default=0, help="add this many distinct API keys (one request each)"
    )
    parser.add_argument(
        "--tags",
        type=int,
        default=0,
        help="add this many distinct tags (under ten tag keys) on added requests",
    )
    parser.add_argument("--work-dir", type=Path, default=REPO / "data" / "bench-dashboard")
    parser.add_argument(
        "--warehouse", type=Path, help="measure this warehouse instead of building one"
    )
    parser.add_argument("--json", type=Path, help="where to write the result")
    parser.add_argument(
        "--checkout", type=Path, default=REPO, help="whose page (and readers) to run"
    )
    args = parser.parse_args(argv)
    checkout = args.checkout.absolute()
    # AppTest runs the page in this process: its imports come from the checkout measured.
    sys.path.insert(0, str(checkout))

    result: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    }
    warehouse = args.warehouse
    if warehouse is None:
        warehouse = args.work_dir / "warehouse.duckdb"
        if not warehouse.exists():
            progress(
                f"building {args.days} days at {args.requests_per_day:,} requests/day in {args.work_dir}"
            )
            result["build_seconds"] = round(
                build(
                    args.work_dir,
                    args.start,
                    args.days,
                    args.requests_per_day,
                    args.models,
                    args.keys,
                    args.tags,
                ),
                1,
            )
        result["requests_per_day"] = args.requests_per_day
        result["added_models"], result["added_keys"] = args.models, args.keys
        result["added_tags"] = args.tags
    load_before = os.getloadavg()
    result["checkout"] = str(checkout)
    result.update(measure(warehouse.absolute(), checkout / "readers" / "dashboard.py"))
    # The machine is shared: its load says how much of the two cores the page had.
    result["machine"]["load_average_1m"] = [round(load_before[0], 1), round(os.getloadavg()[0], 1)]
    print(json.dumps(result, indent=2))
    out = (
        args.json
        or REPO / "benchmarks" / "results" / f"dashboard-{datetime.now():%Y%m%d-%H%M%S}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    progress(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
