"""The nightly pipeline in this process, for tests that run it many times: load landing
days (ingest.load), run the raw quality checks (quality.rules, as the Dagster check
step does), queue the days and `dbt build` (as the dbt asset does). Faster than a
Dagster run and free to return the build's outcome instead of raising."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from config.settings import Settings
from ingest.load import load_partition
from ingest.warehouse import connect, ensure_raw_schema, request_model_build
from orchestration.dbt_assets import DBT_EXECUTABLE, DBT_PROJECT_DIR


def dbt_build(settings: Settings, scratch: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            DBT_EXECUTABLE,
            "build",
            "--quiet",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(scratch / "target"),
            "--log-path",
            str(scratch / "logs"),
            *extra,
        ],
        env={
            **os.environ,
            "LLM_USAGE_WAREHOUSE": str(settings.warehouse_path),
            "LLM_USAGE_REPORTING_TIMEZONE": settings.reporting_timezone,
        },
        capture_output=True,
        text=True,
    )


def run(
    settings: Settings,
    days: list[date],
    scratch: Path,
    *,
    checks: bool = False,
    expect_ok: bool = True,
) -> subprocess.CompletedProcess:
    """Load `days`, optionally run the raw checks on them, and build."""
    for day in days:
        load_partition(settings, day)
    connection = connect(settings)
    try:
        ensure_raw_schema(connection)
        if checks:
            from quality.holds import check_raw_and_hold
            from quality.rules import Thresholds

            for day in days:
                check_raw_and_hold(connection, day, day, Thresholds.from_env())
        request_model_build(connection, days, "dbt step")
    finally:
        connection.close()
    result = dbt_build(settings, scratch)
    if expect_ok:
        assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    return result


def query(settings: Settings, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchdf()
