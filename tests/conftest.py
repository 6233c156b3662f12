"""Shared fixtures: a temporary data directory per test, and one materialized data set."""

from __future__ import annotations

import gc
import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# dbt writes every SQL statement it runs to its file log at its default level (debug),
# and formats every event for that log whatever its level: in the dbt processes the
# suite's Dagster runs start (they inherit this environment) that is about a tenth of a
# small build's CPU time. The suite's builds write no dbt.log (dbt's console lines still
# reach the step's captured output); a deployment keeps dbt's default. A test that reads
# a debug line sets the level back for its own runs.
os.environ.setdefault("DBT_LOG_LEVEL_FILE", "none")
# The workers already keep both cores busy, and a test's tables fit in one DuckDB row
# group (122,880 rows), which one thread scans anyway: a second DuckDB thread per
# connection only adds its scheduling cost (about a tenth of a small build's CPU time).
os.environ.setdefault("LLM_USAGE_DUCKDB_THREADS", "1")

from config.settings import Settings  # noqa: E402

_ENV_KEYS = (
    "LLM_USAGE_DATA_DIR",
    "LLM_USAGE_LANDING_DIR",
    "LLM_USAGE_WAREHOUSE",
    "DAGSTER_HOME",
    "LLM_USAGE_REPORTING_TIMEZONE",
)


def pytest_configure(config: pytest.Config) -> None:
    """Build dbt's manifest once, in the controlling process, before any worker starts.

    Loading the definitions builds it when it is stale (orchestration/dbt_assets.py); with
    the suite on several workers (pytest-xdist), each would otherwise run `dbt parse` into
    the same target folder at once.
    """
    # A worker's in-process dbt builds and pandas references make objects by the million,
    # and the youngest generation's default threshold (700) ran the cyclic collector often
    # enough to take about a twelfth of a small build's CPU time. Nothing in the suite
    # relies on when cycles are collected; the processes it starts keep the defaults.
    gc.set_threshold(50_000, 20, 100)
    if hasattr(config, "workerinput"):
        return
    from orchestration.dbt_assets import prepare_manifest

    prepare_manifest()


# The modules that take longest (from half a minute to two minutes each on a 2-core
# machine: Dagster runs, dbt builds, fresh processes), longest first, as the sums of
# their tests' durations in a run of 2026-12-07 (evening) ordered them.
# pytest-xdist hands each worker one module at a time in this order (`--no-loadscope-reorder`; its default order puts the
# modules with the most tests first, which left these for the end and one worker
# running them alone), so the workers end within a short module of each other.
SLOWEST_MODULES = (
    "test_marts",
    "test_ingest_facts",
    "test_one_writer",
    "test_quality_gates",
    "test_reliability",
    "test_cli",
    "test_run_children",
    "test_mart_time_zones",
    "test_ui",
    "test_intraday_pool",
    "test_dashboard",
    "test_sketches",
    "test_fast_responses",
    "test_export",
    "test_sensor",
    "test_audit",
    "test_end_to_end",
    "test_dashboard_names",
    "test_alerts",
    "test_partial_periods",
    "test_sources",
    "test_hostile_values",
    "test_delivery_property",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(SLOWEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


def use_data_dir(monkeypatch: pytest.MonkeyPatch, data_dir: Path, **extra: str) -> Settings:
    """Point every setting at `data_dir` for this test, and return the settings."""
    for key in _ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LLM_USAGE_DATA_DIR", str(data_dir))
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    for key, value in {
        "LLM_USAGE_LANDING_DIR": settings.landing_dir,
        "LLM_USAGE_WAREHOUSE": settings.warehouse_path,
        "DAGSTER_HOME": settings.dagster_home,
    }.items():
        monkeypatch.setenv(key, str(value))
    return settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return use_data_dir(monkeypatch, tmp_path / "data")


# The page in a browser (tests marked `browser`): its script has finished (no status,
# nothing stale) and the visible charts are drawn; a tab's cards show before its charts,
# and a tab is drawn when it is opened.
CHARTS_DRAWN = """() => {
    const running = document.querySelector('[data-testid="stStatusWidget"]');
    if (running && running.innerText.trim()) return false;
    if (document.querySelector('[data-stale="true"]')) return false;
    const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .filter(c => c.offsetParent);
    return charts.length > 0 && charts.every(c => c.querySelector('canvas, svg'));
}"""

# A small but complete data set: 10 landing days from a Monday across a month end,
# so it holds whole and partial ISO weeks and two months.
SAMPLE_START = date(2026, 1, 26)
SAMPLE_DAYS = 10
SAMPLE_REQUESTS_PER_DAY = 1500
SAMPLE_LAST_DAY = SAMPLE_START + timedelta(days=SAMPLE_DAYS - 1)
# The sample's budgets file: the nightly run's alerts asset evaluates it (docs/alerts.md),
# so the page and the CLI have active alerts and a budget to show. A dollar a month for
# all traffic is passed on the first day; the rules keep their defaults.
SAMPLE_BUDGET = "Sample monthly"
SAMPLE_BUDGETS_FILE = f"""
[[budget]]
name = "{SAMPLE_BUDGET}"
period = "month"
limit_usd = 1
"""


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Settings:
    """The sample data set (SAMPLE_*) materialized through the nightly job, once per run.

    Several modules read the same warehouse; building it costs a Dagster run and a dbt
    build, so one pytest-xdist worker builds it under a file lock and the others reuse
    it. Tests only read it: a test that changes a warehouse takes `copy_data_dir` of it.
    """
    from filelock import FileLock

    from cli.main import materialize
    from sample_data.generate import generate_logs

    # Shared by the workers of this run: the parent of each worker's own temp folder.
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent
    data_dir, built = root / "sample" / "data", root / "sample" / "built"
    with FileLock(str(root / "sample.lock")):
        with pytest.MonkeyPatch.context() as monkeypatch:
            settings = use_data_dir(monkeypatch, data_dir)
            if not built.exists():
                generate_logs(
                    settings.landing_dir,
                    SAMPLE_START,
                    SAMPLE_DAYS,
                    requests_per_day=SAMPLE_REQUESTS_PER_DAY,
                    seed=11,
                )
                settings.budgets_file.write_text(SAMPLE_BUDGETS_FILE)
                assert materialize(settings, SAMPLE_START, SAMPLE_LAST_DAY)
                built.touch()
    return settings


def copy_data_dir(
    source: Settings, destination: Path, monkeypatch: pytest.MonkeyPatch, **extra: str
) -> Settings:
    """A copy of a built data directory (landing files, warehouse, Dagster home) that a
    test may change; every setting points at the copy for this test (with `extra`
    variables, as use_data_dir takes them)."""
    shutil.copytree(source.data_dir, destination)
    return use_data_dir(monkeypatch, destination, **extra)
