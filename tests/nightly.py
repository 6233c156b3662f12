"""The nightly job's two steps without the Dagster run around them, for tests that
need several runs: load each landing day of the window (ingest.load), then dbt with the
window's vars, as the dbt asset does (`dbt build`; `dbt run` skips the data tests where
a test has already run them on the same models)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from ingest.load import landing_path, load_partition
from ingest.settings import Settings
from orchestration.dbt_assets import DBT_EXECUTABLE, DBT_PROJECT_DIR
from orchestration.partitions import dbt_window_vars, landing_days_between


def run_window(settings: Settings, first: date, last: date, scratch: Path, command: str = "build") -> None:
    """Load the landing days in [first, last] that have a folder, and rebuild dbt for
    that window."""
    for day in landing_days_between(first, last):
        if landing_path(settings, day).is_dir():
            load_partition(settings, day)
    start = datetime.combine(first, time(), tzinfo=timezone.utc)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=timezone.utc)
    result = subprocess.run(
        [
            DBT_EXECUTABLE, command, "--quiet",
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            # Own target and log folders, so test builds leave the project's manifest alone.
            "--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs"),
            "--vars", json.dumps(dbt_window_vars(start, end)),
        ],
        env={**os.environ, "LLM_USAGE_WAREHOUSE": str(settings.warehouse_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
