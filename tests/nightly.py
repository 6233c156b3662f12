"""The nightly job's two steps without the Dagster run around them, for tests that
need several runs: load each landing day of the window (ingest.load), then queue the
window for dbt and build, as the dbt asset does (`dbt build`; `dbt run` skips the data
tests where a test has already run them on the same models)."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

from config.settings import Settings
from ingest.load import landing_path, load_partition
from ingest.warehouse import connect, ensure_raw_schema, request_model_build
from orchestration.dbt_assets import DBT_EXECUTABLE, DBT_PROJECT_DIR
from orchestration.partitions import landing_days_between


def run_window(
    settings: Settings, first: date, last: date, scratch: Path, command: str = "build"
) -> None:
    """Load the landing days in [first, last] that have a folder, and rebuild dbt for
    that window."""
    days = landing_days_between(first, last)
    for day in days:
        if landing_path(settings, day).is_dir():
            load_partition(settings, day)
    connection = connect(settings)
    try:
        ensure_raw_schema(connection)
        request_model_build(connection, days, "dbt step")
    finally:
        connection.close()
    result = subprocess.run(
        [
            DBT_EXECUTABLE,
            command,
            "--quiet",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            # Own target and log folders, so test builds leave the project's manifest alone.
            "--target-path",
            str(scratch / "target"),
            "--log-path",
            str(scratch / "logs"),
        ],
        env={**os.environ, "LLM_USAGE_WAREHOUSE": str(settings.warehouse_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
