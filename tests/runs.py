"""Helpers for tests that run `llm-usage` in other processes and compare warehouse states."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

from config.settings import Settings

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Columns that record when a row was written, not what it says.
WRITE_TIME_COLUMNS = {"built_at", "ingested_at", "requested_at", "recorded_at"}
LANDING_PATH_COLUMNS = {"path", "source_file"}


def settings_for(data_dir: Path) -> Settings:
    return Settings.from_env({"LLM_USAGE_DATA_DIR": str(data_dir)})


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a user's process with these settings (every one of them), and
    `extra` variables over them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_USAGE_")}
    env.update(settings.environment())
    env.update(extra)
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        GX_ANALYTICS_ENABLED="false",
    )
    return env


def run_benchmark(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """`python benchmarks/SCRIPT ARGS` from the repo root, as `make bench` runs it; fails
    the test with the end of its output unless it exits 0."""
    completed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


def start_cli(settings: Settings, *args: str, **extra_env: str) -> subprocess.Popen:
    """Start `llm-usage ARGS` in its own process group (so a test can kill all of it),
    with `extra_env` added to its environment."""
    return subprocess.Popen(
        [str(BIN / "llm-usage"), *args],
        cwd=REPO,
        env=cli_env(settings, **extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def warehouse_state(settings: Settings) -> dict[str, pd.DataFrame]:
    """Every table of the raw, fact and mart schemas, sorted, without write-time columns."""
    connection = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        tables = connection.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE schema_name IN ('raw', 'main_facts', 'main_marts') ORDER BY ALL"
        ).fetchall()
        state = {}
        for schema, table in tables:
            columns = [
                row[0]
                for row in connection.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? "
                    "AND table_name = ? ORDER BY column_index",
                    [schema, table],
                ).fetchall()
                if row[0] not in WRITE_TIME_COLUMNS
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            frame = connection.execute(
                f"SELECT {select} FROM {schema}.{table} ORDER BY ALL"
            ).fetchdf()
            # File paths from the landing day's folder on, so copies of a data set compare
            # (a copied warehouse keeps the original's paths until a day is re-loaded).
            for column in LANDING_PATH_COLUMNS & set(frame.columns):
                frame[column] = frame[column].str.replace(r"^.*/(?=dt=)", "", regex=True)
            state[f"{schema}.{table}"] = frame
        return state
    finally:
        connection.close()


def same_table(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    except AssertionError:
        return False
    return True


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
