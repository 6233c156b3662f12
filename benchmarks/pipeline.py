"""Benchmark of the nightly pipeline, side by side with its floor.

One run generates gateway logs at a chosen scale and measures, on the same files:

1. the generator's rate (records/s);
2. our ingest of the new landing day (`ingest.load.load_partition`) against the floor:
   DuckDB's own `read_json` with typed columns into a table, no validation;
3. the nightly dbt step for that day (`dbt build` of one queued landing day) after a
   short history (default 7 days) and after a long one (default 30 days; with the
   default new day, 2026-03-31, that night ends a 31-day month), and the ingest of the
   day after each;
4. the whole nightly run for the day through Dagster (`llm-usage materialize`, the job
   the schedule runs), in its own process: wall time and peak memory of the process
   tree, and where the time goes (imports, run start, steps, the events it writes);
5. backfills in one dbt build each, never a week at a time: the long history, and a
   `--full-refresh` of the whole month once the night is in;
6. optionally (--big-night-requests) a bigger night through Dagster on the short
   history: time and peak memory.

A pandas computation of the day's usage by model from the same files checks the mart's
numbers (a correctness check, not a race: pandas does a small part of the work).

Usage (from the repo root; `make bench` runs the defaults):

    .venv/bin/python benchmarks/pipeline.py --requests-per-day 1000000 --days 7 --history-days 30

The result is printed as a table and written as JSON (default benchmarks/results/). The
targets are reported, never asserted: a missed target is a finding, not a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402
import psutil  # noqa: E402

from config.settings import Settings  # noqa: E402
from ingest import contract  # noqa: E402
from ingest.load import load_partition  # noqa: E402
from ingest.warehouse import connect, request_model_build  # noqa: E402
from orchestration.dbt_assets import NIGHTLY_EXCLUDE  # noqa: E402
from orchestration.partitions import landing_days_between  # noqa: E402
from readers.filters import all_rows_sql  # noqa: E402
from sample_data.generate import generate_logs  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO / "dbt_project"
BIN = Path(sys.executable).parent
# The new landing day every measurement is about: the last day of a 31-day month, so
# that after the long history its month holds 31 days, the most a night ever reads.
DEFAULT_NEW_DAY = date(2026, 3, 31)
GIB = 1024**3

# Goals from issue 15; reported, not asserted.
TARGET_INGEST_VS_FLOOR = 0.7  # ours / floor rows per second, at least
TARGET_HISTORY_GROWTH = 1.1  # step after long history / step after short history, at most
TARGET_INGEST_GROWTH = 1.1  # ingest after long history / after short history, at most
TARGET_NIGHTLY_SECONDS = 30.0  # for a 1,000,000-request day
TARGET_DUCKDB_MEMORY_LIMIT_BYTES = 4e9  # DuckDB's '4GB'
TARGET_BIG_NIGHT_FACTOR = 5.5  # a 5x night's time / the 1x night's time, at most


# ------------------------------------------------------------------------------ output

_STARTED = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- memory


def _tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class PeakMemory:
    """Samples a process tree's resident memory every 50 ms and keeps the peak."""

    def __init__(self, process: psutil.Process | None = None):
        self.process = process or psutil.Process()
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak_bytes = max(self.peak_bytes, _tree_rss(self.process))
            if self._stop.wait(0.05):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Timed:
    seconds: float
    peak_bytes: int
    output: str = ""
    # CPU seconds (user + system) of the process tree. On a shared machine the wall time
    # follows the load (a 7-day backfill took 533 s of wall time for 36 s of CPU at a
    # load average of 22); the CPU seconds are the work itself.
    cpu_seconds: float = 0.0


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_command(command: list[str], env: dict[str, str], cwd: Path = REPO) -> Timed:
    """Run a command to completion; its wall time, CPU time and its process tree's peak
    memory. Commands run one at a time, so the change in the CPU time of waited-for
    children is this command's tree."""
    cpu_before = _children_cpu_seconds()
    started = time.perf_counter()
    process = psutil.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    with PeakMemory(process) as memory:
        output, _ = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` failed with exit code {process.returncode}:\n{output[-4000:]}"
        )
    return Timed(seconds, memory.peak_bytes, output, _children_cpu_seconds() - cpu_before)


# -------------------------------------------------------------------------- warehouses


@dataclass
class Warehouse:
    """One warehouse file with its landing folder, and the environment that points at it."""

    name: str
    work_dir: Path
    landing_dir: Path
    memory_limit: str
    threads: int

    @property
    def path(self) -> Path:
        return self.work_dir / f"{self.name}.duckdb"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            LLM_USAGE_DATA_DIR=str(self.work_dir),
            LLM_USAGE_LANDING_DIR=str(self.landing_dir),
            LLM_USAGE_WAREHOUSE=str(self.path),
            DAGSTER_HOME=str(self.work_dir / f"dagster_home_{self.name}"),
            # The pandas comparison buckets requests by UTC day, as the landing days are.
            LLM_USAGE_REPORTING_TIMEZONE="UTC",
            LLM_USAGE_DUCKDB_MEMORY_LIMIT=self.memory_limit,
            LLM_USAGE_DUCKDB_THREADS=str(self.threads),
            LLM_USAGE_FIRST_LANDING_DAY="2020-01-01",
            GX_ANALYTICS_ENABLED="false",
            # dagster-dbt looks for `dbt` on PATH when it (re)builds the manifest.
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        return env

    def settings(self) -> Settings:
        return Settings.from_env(self.env())

    def copy_as(self, name: str) -> Warehouse:
        copy = Warehouse(name, self.work_dir, self.landing_dir, self.memory_limit, self.threads)
        shutil.copyfile(self.path, copy.path)
        return copy


def landing_files(landing_dir: Path, day: date) -> list[Path]:
    folder = landing_dir / f"dt={day.isoformat()}"
    return sorted(p for p in folder.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")))


def load_days(warehouse: Warehouse, first: date, last: date) -> int:
    """Ingest landing days [first, last] one by one; the rows read."""
    settings = warehouse.settings()
    rows = 0
    day = first
    while day <= last:
        report = load_partition(settings, day)
        rows += report.rows_loaded + report.rows_rejected
        day += timedelta(days=1)
    return rows


@dataclass
class DbtRun:
    seconds: float
    peak_bytes: int
    dbt_elapsed: float  # dbt's own elapsed time for the nodes, from run_results.json
    model_seconds: float
    test_seconds: float
    slowest: list[tuple[str, float]] = field(default_factory=list)
    cpu_seconds: float = 0.0
    # Every model's and test's own time, so that what grows with history shows node by
    # node when two builds are compared.
    nodes: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "peak_rss_bytes": self.peak_bytes,
            "dbt_elapsed_seconds": round(self.dbt_elapsed, 3),
            "model_seconds": round(self.model_seconds, 3),
            "test_seconds": round(self.test_seconds, 3),
            # Process start, imports, project parse and adapter set-up: the fixed cost.
            "startup_seconds": round(self.seconds - self.dbt_elapsed, 3),
            "slowest_nodes": [[name, round(s, 3)] for name, s in self.slowest],
            "node_seconds": {name: round(s, 3) for name, s in self.nodes.items()},
        }


def dbt_build(
    warehouse: Warehouse,
    first: date | None,
    end: date | None,
    target_dir: Path,
    extra: list[str] = (),
) -> DbtRun:
    """`dbt build` over landing days [first, end), as the Dagster dbt asset runs it: the
    days are queued for dbt, which rebuilds what the queue holds."""
    if first is not None:
        connection = connect(warehouse.settings())
        try:
            request_model_build(
                connection, landing_days_between(first, end - timedelta(days=1)), "dbt step"
            )
        finally:
            connection.close()
    # A target folder per warehouse keeps dbt's partial-parse cache warm between its
    # builds, as in a deployment (dbt parses in full when the profile, which names the
    # warehouse file, changes), without touching the project's target/.
    target_dir = target_dir / warehouse.name
    command = [
        str(BIN / "dbt"),
        "build",
        *extra,
        "--exclude",
        NIGHTLY_EXCLUDE,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(target_dir / "logs"),
    ]
    # Every setting, as the Dagster dbt step hands them (orchestration/dbt_assets.py): dbt
    # reads the data-quality ceilings of the performance figures from them too.
    env = {**warehouse.env(), **warehouse.settings().environment()}
    timed = run_command(command, env, cwd=DBT_PROJECT_DIR)
    results = json.loads((target_dir / "run_results.json").read_text())
    nodes = [(r["unique_id"], float(r["execution_time"])) for r in results["results"]]
    return DbtRun(
        seconds=timed.seconds,
        cpu_seconds=timed.cpu_seconds,
        peak_bytes=timed.peak_bytes,
        dbt_elapsed=float(results["elapsed_time"]),
        model_seconds=sum(s for uid, s in nodes if uid.startswith("model.")),
        test_seconds=sum(s for uid, s in nodes if uid.startswith("test.")),
        slowest=sorted(nodes, key=lambda n: -n[1])[:5],
        nodes=dict(nodes),
    )


# ------------------------------------------------------------------------------ ingest


def floor_read_json(
    files: list[Path], work_dir: Path, memory_limit: str, threads: int
) -> tuple[int, float, float]:
    """DuckDB reading the files straight into a typed table: no validation, no bookkeeping.
    Rows, wall seconds and CPU seconds."""
    scratch = work_dir / "floor.duckdb"
    scratch.unlink(missing_ok=True)
    columns = "{" + ", ".join(f"'{f.name}': '{f.sql_type}'" for f in contract.fields()) + "}"
    connection = duckdb.connect(
        str(scratch), config={"memory_limit": memory_limit, "threads": threads}
    )
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        connection.execute(
            "CREATE TABLE request_logs AS SELECT * FROM read_json(?, format = 'newline_delimited', "
            f"columns = {columns})",
            [[str(p) for p in files]],
        )
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        rows = connection.execute("SELECT count(*) FROM request_logs").fetchone()[0]
    finally:
        connection.close()
        scratch.unlink(missing_ok=True)
    return rows, seconds, cpu_seconds


# ------------------------------------------------------------------------------ pandas


def pandas_usage_by_model(files: list[Path], day: date) -> pd.DataFrame:
    """What an analyst writes by hand: the day's pay-as-you-go usage by model."""
    logs = pd.concat([pd.read_json(path, lines=True) for path in files], ignore_index=True)
    logs = logs.drop_duplicates("request_id", keep="last")
    logs = logs[logs["billing_mode"] == "pay_as_you_go"]
    logs["event_date"] = pd.to_datetime(logs["created_at"], utc=True, format="ISO8601").dt.date
    logs = logs[logs["event_date"] == day]
    usage = logs.groupby("model").agg(
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        requests=("request_id", "size"),
    )
    usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    return usage


def mart_usage_by_model(warehouse: Warehouse, day: date) -> pd.DataFrame:
    connection = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        return (
            connection.execute(
                "SELECT model, input_tokens, output_tokens, requests, total_tokens "
                "FROM main_marts.mart_usage_summary WHERE grain = 'day' AND period_start = ? "
                "AND model <> '*' AND " + all_rows_sql("model"),
                [day],
            )
            .fetchdf()
            .set_index("model")
        )
    finally:
        connection.close()


def compare_usage(expected: pd.DataFrame, actual: pd.DataFrame) -> list[str]:
    """Differences between two usage-by-model tables, as sentences (empty = identical)."""
    problems = []
    for model in sorted(set(expected.index) | set(actual.index)):
        if model not in actual.index or model not in expected.index:
            side = "mart" if model not in actual.index else "pandas"
            problems.append(f"{model}: missing in {side}")
            continue
        for column in ("input_tokens", "output_tokens", "requests", "total_tokens"):
            want, got = int(expected.at[model, column]), int(actual.at[model, column])
            if want != got:
                problems.append(f"{model} {column}: pandas {want} != mart {got}")
    return problems


# ------------------------------------------------------------------------------- steps


def generate(
    landing_dir: Path,
    first: date,
    days: int,
    requests_per_day: int,
    seed: int,
    duplicate_rate: float,
    late_rate: float,
) -> dict:
    progress(f"generating {days} days x {requests_per_day:,} requests/day into {landing_dir} ...")
    summary = generate_logs(
        landing_dir,
        first,
        days,
        requests_per_day=requests_per_day,
        seed=seed,
        duplicate_rate=duplicate_rate,
        late_rate=late_rate,
    )
    rate = summary.records / summary.seconds
    progress(
        f"  {summary.records:,} records, {summary.lines_written:,} lines in "
        f"{summary.seconds:.1f} s ({rate:,.0f} records/s)"
    )
    return {
        "days": days,
        "requests_per_day": requests_per_day,
        "records": summary.records,
        "lines": summary.lines_written,
        "bytes": sum(p.stat().st_size for p in summary.files),
        "seconds": round(summary.seconds, 3),
        "records_per_second": round(rate),
    }


def reuse_landing(source: Path, landing_dir: Path, first: date, days: int) -> dict:
    """Hard-link the landing days [first, first + days) of an earlier run's landing folder
    (the generator is deterministic for the same seed, scale and rates, so they are the
    files it would write). On a busy machine the generator alone can take half an hour
    at 1,000,000 requests a day; its rate is then not measured."""
    progress(f"reusing {days} landing days from {source} ...")
    size = 0
    for offset in range(days):
        name = f"dt={(first + timedelta(days=offset)).isoformat()}"
        if not (source / name).is_dir():
            raise SystemExit(f"--landing-from {source} has no folder {name}")
        (landing_dir / name).mkdir(parents=True)
        for path in sorted((source / name).iterdir()):
            os.link(path, landing_dir / name / path.name)
            size += path.stat().st_size
    return {"days": days, "reused_from": str(source), "bytes": size}


def build_history(warehouse: Warehouse, first: date, new_day: date, target_dir: Path) -> dict:
    """Load landing days [first, new_day) before the measured night, then build them in
    one dbt build, as a backfill does (no chunking): its time and peak memory."""
    progress(f"[{warehouse.name}] loading history {first} .. {new_day - timedelta(days=1)} ...")
    started = time.perf_counter()
    rows = load_days(warehouse, first, new_day - timedelta(days=1))
    ingest_seconds = time.perf_counter() - started
    progress(
        f"[{warehouse.name}]   {rows:,} rows loaded in {ingest_seconds:.1f} s; one dbt build ..."
    )
    run = dbt_build(warehouse, first, new_day, target_dir)
    progress(
        f"[{warehouse.name}]   dbt build (backfill of {(new_day - first).days} days) in "
        f"{run.seconds:.1f} s ({run.cpu_seconds:.1f} CPU s), peak {run.peak_bytes / GIB:.2f} GiB"
    )
    return {
        "days": (new_day - first).days,
        "rows": rows,
        "ingest_seconds": round(ingest_seconds, 3),
        "dbt_build": run.as_json(),
    }


def full_refresh(warehouse: Warehouse, target_dir: Path) -> dict:
    """`dbt build --full-refresh`: every model rebuilt from all of raw in one build."""
    progress(f"[{warehouse.name}] dbt build --full-refresh ...")
    run = dbt_build(warehouse, None, None, target_dir, extra=["--full-refresh"])
    progress(f"[{warehouse.name}]   {run.seconds:.1f} s, peak {run.peak_bytes / GIB:.2f} GiB")
    return run.as_json()


def ingest_new_day(warehouse: Warehouse, new_day: date) -> tuple[int, float, float]:
    """Rows, wall seconds and CPU seconds (this process, DuckDB's threads included)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    report = load_partition(warehouse.settings(), new_day)
    seconds = time.perf_counter() - started
    return report.rows_loaded + report.rows_rejected, seconds, time.process_time() - cpu_started


def nightly_step(warehouse: Warehouse, new_day: date, target_dir: Path, history_days: int) -> dict:
    progress(f"[{warehouse.name}] ingest of {new_day} ...")
    rows, ingest_seconds, ingest_cpu_seconds = ingest_new_day(warehouse, new_day)
    progress(f"[{warehouse.name}]   {rows:,} rows in {ingest_seconds:.1f} s; dbt step ...")
    run = dbt_build(warehouse, new_day, new_day + timedelta(days=1), target_dir)
    progress(
        f"[{warehouse.name}]   dbt step in {run.seconds:.1f} s ({run.cpu_seconds:.1f} CPU s) "
        f"(models {run.model_seconds:.1f} s, tests {run.test_seconds:.1f} s, "
        f"start-up {run.seconds - run.dbt_elapsed:.1f} s)"
    )
    return {
        "history_days": history_days,
        "ingest_rows": rows,
        "ingest_seconds": round(ingest_seconds, 3),
        "ingest_cpu_seconds": round(ingest_cpu_seconds, 3),
        "dbt_build": run.as_json(),
    }


# Where a run's time went, from the events it wrote to the Dagster instance: one line of
# JSON. Run in the warehouse's environment (DAGSTER_HOME), after the run.
_RUN_TIMELINE = r"""
import collections, json
from dagster import DagsterInstance
instance = DagsterInstance.get()
run = instance.get_runs(limit=1)[0]
records = instance.all_logs(run.run_id)
events = [r for r in records if r.dagster_event is not None]
kinds = collections.Counter(r.dagster_event.event_type_value for r in events)
first = records[0].timestamp
steps = {}
for r in events:
    kind, key = r.dagster_event.event_type_value, r.step_key
    if kind == "STEP_START":
        steps.setdefault(key, {})["start"] = r.timestamp - first
    elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
        steps.setdefault(key, {})["end"] = r.timestamp - first
starts = [s["start"] for s in steps.values() if "start" in s]
print(json.dumps({
    "events": len(records), "dagster_events": len(events), "by_type": dict(kinds.most_common()),
    "run_seconds": records[-1].timestamp - first,
    "before_first_step_seconds": min(starts) if starts else None,
    "steps": {k: {**v, "seconds": v.get("end", 0) - v.get("start", 0)} for k, v in steps.items()},
}))
"""

# Python start-up and the imports `llm-usage materialize` pays before the run: each line
# is timed in a fresh interpreter, cumulatively (each includes the ones before it).
_IMPORTS = {
    "python": "pass",
    "dagster": "import dagster",
    "dagster_dbt": "import dagster, dagster_dbt",
    "definitions": "import dagster, dagster_dbt; from orchestration.definitions import defs; defs()",
}


def whole_nightly_run(warehouse: Warehouse, new_day: date) -> dict:
    """`llm-usage materialize` for one landing day: the nightly job in a fresh process."""
    env = warehouse.env()
    # Create the Dagster instance first: a deployment has one already, so its one-time
    # storage set-up is not part of a night.
    run_command(
        [
            str(BIN / "python"),
            "-c",
            "from dagster import DagsterInstance; from config.settings import Settings; "
            "from orchestration.instance import prepare_dagster_home; "
            "prepare_dagster_home(Settings.from_env()); DagsterInstance.get().dispose()",
        ],
        env,
    )
    progress(f"[{warehouse.name}] nightly job through Dagster for {new_day} ...")
    day = new_day.isoformat()
    timed = run_command([str(BIN / "llm-usage"), "materialize", "--start", day, "--end", day], env)
    progress(
        f"[{warehouse.name}]   {timed.seconds:.1f} s ({timed.cpu_seconds:.1f} CPU s), "
        f"peak {timed.peak_bytes / GIB:.2f} GiB"
    )
    try:
        timeline = json.loads(
            run_command([str(BIN / "python"), "-c", _RUN_TIMELINE], env)
            .output.strip()
            .splitlines()[-1]
        )
    except (RuntimeError, ValueError, IndexError) as error:  # the run itself was measured
        timeline = {
            "error": str(error)[-2000:],
            "events": 0,
            "before_first_step_seconds": None,
            "steps": {},
        }
    return {
        "seconds": round(timed.seconds, 3),
        "cpu_seconds": round(timed.cpu_seconds, 3),
        "peak_rss_bytes": timed.peak_bytes,
        "run": timeline,
    }


def import_seconds(env: dict[str, str], repeats: int = 2) -> dict:
    """Wall time of a fresh interpreter doing each import line (best of `repeats`)."""
    out = {}
    for name, code in _IMPORTS.items():
        out[name] = round(
            min(
                run_command([str(BIN / "python"), "-c", code], env).seconds for _ in range(repeats)
            ),
            3,
        )
    return out


def pandas_baseline(warehouse: Warehouse, files: list[Path], new_day: date) -> dict:
    progress(f"pandas baseline over {len(files)} file(s) of {new_day} ...")
    started = time.perf_counter()
    with PeakMemory() as memory:
        expected = pandas_usage_by_model(files, new_day)
    seconds = time.perf_counter() - started
    problems = compare_usage(expected, mart_usage_by_model(warehouse, new_day))
    progress(
        f"  {seconds:.1f} s; {len(expected)} models, "
        f"{'same numbers as the mart' if not problems else f'{len(problems)} differences'}"
    )
    return {
        "seconds": round(seconds, 3),  # for the record; not compared with ours
        # The whole benchmark process, so an upper bound on what pandas itself needed.
        "process_peak_rss_bytes": memory.peak_bytes,
        "models": len(expected),
        "requests": int(expected["requests"].sum()),
        "matches_mart": not problems,
        "differences": problems[:20],
    }


# ------------------------------------------------------------------------------ report


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        # Other work on the machine slows every figure; the load average tells how much.
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
    }


def limit_bytes(limit: str) -> float:
    """A DuckDB memory limit such as '4GB' or '500MiB' in bytes (GB = 1000^3, GiB = 1024^3)."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)(i?)B\s*", limit, re.IGNORECASE)
    if not match:
        raise SystemExit(f"--memory-limit {limit!r}: give it as DuckDB does, such as 4GB")
    number, prefix, binary = match.groups()
    power = " KMGT".index(prefix.upper() or " ")
    return float(number) * (1024 if binary else 1000) ** power


def targets(results: dict, requests_per_day: int, memory_limit: str) -> dict:
    # The builds below got this far, so they ran; with what limit decides the goal.
    within_memory_goal = limit_bytes(memory_limit) <= TARGET_DUCKDB_MEMORY_LIMIT_BYTES
    ingest = results["ingest"]
    step = results["nightly_step"]
    nightly = results["nightly_run"]
    out = {
        "ingest_vs_floor": {
            "value": ingest["ratio"],
            "goal": f">= {TARGET_INGEST_VS_FLOOR}",
            "met": ingest["ratio"] >= TARGET_INGEST_VS_FLOOR,
        },
        "history_growth": {
            "value": step["ratio"],
            "goal": f"<= {TARGET_HISTORY_GROWTH}",
            "met": step["ratio"] <= TARGET_HISTORY_GROWTH,
        },
        "ingest_history_growth": {
            "value": step["ingest_ratio"],
            "goal": f"<= {TARGET_INGEST_GROWTH}",
            "met": step["ingest_ratio"] <= TARGET_INGEST_GROWTH,
        },
        "nightly_seconds": {
            "value": nightly["seconds"],
            "goal": f"< {TARGET_NIGHTLY_SECONDS:g} s at 1,000,000/day",
            "met": nightly["seconds"] < TARGET_NIGHTLY_SECONDS and requests_per_day >= 1_000_000,
        },
        # The memory goal is DuckDB's limit: the build runs with it set to 4 GB (it
        # spills to disk rather than fail). The value is the peak resident memory of dbt's
        # whole process tree, which also holds Python, dbt and what DuckDB keeps outside
        # its buffer pool, so it may pass the limit without the build failing.
        "month_end_night_memory": {
            "value": step["long_history"]["dbt_build"]["peak_rss_bytes"],
            "goal": "runs with DuckDB's memory_limit at 4 GB",
            "met": within_memory_goal,
        },
        "month_backfill_memory": {
            "value": results["month_backfill"]["peak_rss_bytes"],
            "goal": "runs with DuckDB's memory_limit at 4 GB",
            "met": within_memory_goal,
        },
    }
    if "big_night" in results:
        big = results["big_night"]
        out["big_night_vs_night"] = {
            "value": big["vs_night"],
            "goal": f"<= {TARGET_BIG_NIGHT_FACTOR}x for {big['factor']:g}x the requests",
            "met": big["vs_night"] <= TARGET_BIG_NIGHT_FACTOR,
        }
    return out


def print_table(report: dict) -> None:
    r = report["results"]
    step_short = r["nightly_step"]["short_history"]
    step_long = r["nightly_step"]["long_history"]
    run = r["nightly_run"]
    rows = [
        (
            "generator",
            f"{r['generate']['records_per_second']:,} records/s"
            if "records_per_second" in r["generate"]
            else f"not run: files reused from {r['generate']['reused_from']}",
            "",
        ),
        (
            "ingest, ours (load_partition)",
            f"{r['ingest']['ours_rows_per_second']:,} rows/s",
            f"{r['ingest']['ours_seconds']:.1f} s",
        ),
        (
            "ingest, floor (read_json typed)",
            f"{r['ingest']['floor_rows_per_second']:,} rows/s",
            f"{r['ingest']['floor_seconds']:.1f} s",
        ),
        ("ingest ours / floor", f"{r['ingest']['ratio']:.2f}", ""),
    ]
    for step in (step_short, step_long):
        build = step["dbt_build"]
        rows.append(
            (
                f"dbt step, {step['history_days']}-day history, {step['requests_per_day']:,}/day",
                f"{build['seconds']:.1f} s",
                f"models {build['model_seconds']:.1f} s, tests {build['test_seconds']:.1f} s, "
                f"start-up {build['startup_seconds']:.1f} s, peak {build['peak_rss_bytes'] / GIB:.2f} GiB",
            )
        )
    rows += [
        ("dbt step long / short", f"{r['nightly_step']['ratio']:.2f}", ""),
        (
            "ingest long / short",
            f"{r['nightly_step']['ingest_ratio']:.2f}",
            f"{step_long['ingest_seconds']:.1f} s vs {step_short['ingest_seconds']:.1f} s",
        ),
        (
            "whole nightly run (Dagster)",
            f"{run['seconds']:.1f} s",
            f"peak {run['peak_rss_bytes'] / GIB:.2f} GiB",
        ),
        (
            "  imports before the run",
            f"{r['imports']['definitions']:.1f} s",
            f"python {r['imports']['python']:.1f}, +dagster {r['imports']['dagster']:.1f}, "
            f"+dagster_dbt {r['imports']['dagster_dbt']:.1f}",
        ),
        (
            "  run start to first step",
            f"{run['run']['before_first_step_seconds'] or 0:.1f} s",
            f"{run['run']['events']} events in the run",
        ),
        *[(f"  step {key}", f"{v['seconds']:.1f} s", "") for key, v in run["run"]["steps"].items()],
        (
            f"backfill, one build of {r['history_build']['long']['days']} days",
            f"{r['history_build']['long']['dbt_build']['seconds']:.1f} s",
            f"peak {r['history_build']['long']['dbt_build']['peak_rss_bytes'] / GIB:.2f} GiB",
        ),
        (
            "full refresh, the whole month",
            f"{r['month_backfill']['seconds']:.1f} s",
            f"peak {r['month_backfill']['peak_rss_bytes'] / GIB:.2f} GiB",
        ),
    ]
    if "big_night" in r:
        big = r["big_night"]
        rows.append(
            (
                f"nightly run, {big['requests_per_day']:,} requests",
                f"{big['seconds']:.1f} s",
                f"peak {big['peak_rss_bytes'] / GIB:.2f} GiB, {big['vs_night']:.2f}x the night",
            )
        )
    rows.append(
        (
            "pandas check of the day's usage by model",
            "same numbers" if r["pandas"]["matches_mart"] else "DIFFERENT numbers",
            "",
        )
    )
    width = max(len(name) for name, _, _ in rows)
    print(
        f"\nBenchmark {report['started_at']}: {report['config']['requests_per_day']:,} "
        f"requests/day, new landing day {report['config']['new_day']}"
    )
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>20}  {note}")
    print("\nTargets:")
    for name, target in report["targets"].items():
        value = target["value"]
        shown = f"{value / GIB:.2f} GiB" if "memory" in name else f"{value:g}"
        print(
            f"  {name:<28} {shown:>12}  goal {target['goal']:<36} "
            f"{'met' if target['met'] else 'MISSED'}"
        )


# -------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = Settings.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests-per-day",
        type=int,
        default=1_000_000,
        help="mean requests a day (default 1,000,000; at most 5,000,000)",
    )
    parser.add_argument("--days", type=int, default=7, help="short history, in days (default 7)")
    parser.add_argument(
        "--history-days", type=int, default=30, help="long history, in days (default 30)"
    )
    parser.add_argument(
        "--history-requests-per-day",
        type=int,
        help="requests a day for the long history (default: --requests-per-day); "
        "a smaller value makes the growth ratio approximate",
    )
    parser.add_argument(
        "--new-day",
        type=date.fromisoformat,
        default=DEFAULT_NEW_DAY,
        help=f"the landing day measured (default {DEFAULT_NEW_DAY})",
    )
    parser.add_argument(
        "--big-night-requests",
        type=int,
        default=0,
        help="also run one night of this many requests through Dagster on the "
        "short history (e.g. 5000000; default: not run)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--duplicate-rate", type=float, default=0.01)
    parser.add_argument("--late-rate", type=float, default=0.005)
    parser.add_argument(
        "--memory-limit",
        default=defaults.duckdb_memory_limit,
        help="DuckDB memory limit for ingest, dbt and the floor "
        "(default $LLM_USAGE_DUCKDB_MEMORY_LIMIT or 4GB)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.duckdb_threads,
        help="DuckDB threads (default $LLM_USAGE_DUCKDB_THREADS or the core count)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=REPO / "data" / "bench",
        help="scratch folder for landing files and warehouses (emptied first)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="where to write the result (default benchmarks/results/<UTC time>.json)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    parser.add_argument(
        "--landing-from",
        type=Path,
        help="take the landing days from this folder (an earlier run's work-dir/landing, "
        "made with the same seed, scale and rates) instead of generating them",
    )
    parser.add_argument(
        "--import-repeats",
        type=int,
        default=2,
        help="time each import line this many times and keep the best (default 2; the "
        "smoke test uses 1, as each is a fresh interpreter importing Dagster)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.big_night_requests <= 5_000_000:
        parser.error("--big-night-requests must be between 0 and 5,000,000")
    if not 1 <= args.requests_per_day <= 5_000_000:
        parser.error("--requests-per-day must be between 1 and 5,000,000")
    if not 1 <= args.days <= args.history_days <= 60:
        parser.error("need 1 <= --days <= --history-days <= 60")
    if args.landing_from and args.landing_from.absolute().is_relative_to(args.work_dir.absolute()):
        parser.error("--landing-from must lie outside --work-dir, which is emptied first")
    if args.import_repeats < 1:
        parser.error("--import-repeats must be at least 1")
    args.history_requests_per_day = args.history_requests_per_day or args.requests_per_day
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started_at = datetime.now(UTC)
    work = args.work_dir.absolute()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    new_day = args.new_day
    target_dir = work / "dbt_target"
    report = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "requests_per_day": args.requests_per_day,
            "history_requests_per_day": args.history_requests_per_day,
            "short_history_days": args.days,
            "long_history_days": args.history_days,
            "new_day": new_day.isoformat(),
            "duplicate_rate": args.duplicate_rate,
            "late_rate": args.late_rate,
            "duckdb_memory_limit": args.memory_limit,
            "duckdb_threads": args.threads,
            "seed": args.seed,
            "big_night_requests": args.big_night_requests,
        },
        "results": {},
    }
    results = report["results"]
    out = args.json or REPO / "benchmarks" / "results" / f"{started_at:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    def save_partial() -> None:
        # A long run on a busy machine: what was measured so far survives a failure.
        out.with_suffix(".partial.json").write_text(
            json.dumps(report, indent=2, default=str) + "\n"
        )

    same_scale = args.history_requests_per_day == args.requests_per_day

    # 1. Generator. At one scale, one landing folder serves both histories; its first day
    #    is the long history's.
    main_first = new_day - timedelta(days=args.history_days if same_scale else args.days)
    landing = work / "landing"
    if args.landing_from:
        results["generate"] = reuse_landing(
            args.landing_from, landing, main_first, (new_day - main_first).days + 1
        )
    else:
        results["generate"] = generate(
            landing,
            main_first,
            (new_day - main_first).days + 1,
            args.requests_per_day,
            args.seed,
            args.duplicate_rate,
            args.late_rate,
        )

    # The short-history warehouse, built up to the night before the new day.
    short = Warehouse("short_history", work, landing, args.memory_limit, args.threads)
    results["history_build"] = {
        "short": build_history(short, new_day - timedelta(days=args.days), new_day, target_dir)
    }
    before_night = short.copy_as("before_night")
    big_night = short.copy_as("before_big_night") if args.big_night_requests else None

    # 2. Ingest of the new day: the floor first, then ours, on the same files.
    files = landing_files(landing, new_day)
    progress(f"floor: read_json of {len(files)} file(s) of {new_day} ...")
    floor_rows, floor_seconds, floor_cpu = floor_read_json(
        files, work, args.memory_limit, args.threads
    )
    progress(f"  {floor_rows:,} rows in {floor_seconds:.1f} s")
    # 3a. The nightly step after the short history (its ingest is ours, measured above).
    step_short = nightly_step(short, new_day, target_dir, args.days)
    step_short["requests_per_day"] = args.requests_per_day
    ours_rows, ours_seconds = step_short["ingest_rows"], step_short["ingest_seconds"]
    results["ingest"] = {
        "files": [str(p) for p in files],
        "rows": ours_rows,
        "floor_rows": floor_rows,
        "ours_seconds": ours_seconds,
        "floor_seconds": round(floor_seconds, 3),
        # On a shared machine the wall times follow the load; the CPU seconds do not.
        "ours_cpu_seconds": step_short["ingest_cpu_seconds"],
        "floor_cpu_seconds": round(floor_cpu, 3),
        "ours_rows_per_second": round(ours_rows / ours_seconds),
        "floor_rows_per_second": round(floor_rows / floor_seconds),
        "ratio": round((ours_rows / ours_seconds) / (floor_rows / floor_seconds), 3),
    }

    # pandas on the same files, checked against the mart the step just built.
    results["pandas"] = pandas_baseline(short, files, new_day)
    save_partial()

    # 4. The whole nightly run through Dagster, from the state before the night, and the
    #    imports it pays before the run starts.
    results["nightly_run"] = whole_nightly_run(before_night, new_day)
    results["imports"] = import_seconds(before_night.env(), args.import_repeats)
    progress(f"  imports: {results['imports']}")
    save_partial()

    # 3b / 5. The long history from scratch in one dbt build, its night, then the whole
    #    month rebuilt in one build.
    for warehouse in (before_night,):
        warehouse.path.unlink()
    if same_scale:
        long_landing, long_first = landing, new_day - timedelta(days=args.history_days)
    else:
        long_landing = work / "landing_long"
        long_first = new_day - timedelta(days=args.history_days)
        results["generate_long_history"] = generate(
            long_landing,
            long_first,
            args.history_days + 1,
            args.history_requests_per_day,
            args.seed,
            args.duplicate_rate,
            args.late_rate,
        )
        # The short-history step is re-measured at the long history's scale, so that the
        # growth ratio compares like with like; the full-scale one is kept beside it.
        results["nightly_step_full_scale"] = step_short
        short_small = Warehouse(
            "short_history_small", work, long_landing, args.memory_limit, args.threads
        )
        build_history(short_small, new_day - timedelta(days=args.days), new_day, target_dir)
        step_short = nightly_step(short_small, new_day, target_dir, args.days)
    long = Warehouse("long_history", work, long_landing, args.memory_limit, args.threads)
    results["history_build"]["long"] = build_history(long, long_first, new_day, target_dir)
    step_short["requests_per_day"] = args.history_requests_per_day
    step_long = nightly_step(long, new_day, target_dir, args.history_days)
    step_long["requests_per_day"] = args.history_requests_per_day
    results["nightly_step"] = {
        "short_history": step_short,
        "long_history": step_long,
        "ratio": round(step_long["dbt_build"]["seconds"] / step_short["dbt_build"]["seconds"], 3),
        "ingest_ratio": round(step_long["ingest_seconds"] / step_short["ingest_seconds"], 3),
        # The same ratios in CPU seconds, which a busy machine does not stretch.
        "cpu_ratio": round(
            step_long["dbt_build"]["cpu_seconds"]
            / max(step_short["dbt_build"]["cpu_seconds"], 1e-9),
            3,
        ),
        "ingest_cpu_ratio": round(
            step_long["ingest_cpu_seconds"] / max(step_short["ingest_cpu_seconds"], 1e-9), 3
        ),
    }
    results["month_backfill"] = full_refresh(long, target_dir)
    results["month_backfill"]["days"] = (new_day - long_first).days + 1
    save_partial()
    # 6. A bigger night through Dagster on the short history (last: the longest step).
    if big_night is not None:
        big_landing = work / "landing_big_night"
        results["generate_big_night"] = generate(
            big_landing,
            new_day,
            1,
            args.big_night_requests,
            args.seed + 1,
            args.duplicate_rate,
            args.late_rate,
        )
        big_night.landing_dir = big_landing
        big = whole_nightly_run(big_night, new_day)
        big_night.path.unlink()
        factor = args.big_night_requests / args.requests_per_day
        results["big_night"] = {
            **big,
            "requests_per_day": args.big_night_requests,
            "factor": factor,
            "vs_night": round(big["seconds"] / results["nightly_run"]["seconds"], 3),
        }

    report["targets"] = targets(results, args.requests_per_day, args.memory_limit)
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]

    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".partial.json").unlink(missing_ok=True)
    print_table(report)
    print(f"\nWritten to {out}")
    if not args.keep:
        shutil.rmtree(work)
    return report


if __name__ == "__main__":
    main()
