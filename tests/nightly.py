"""The nightly job's two steps without the Dagster run around them, for tests that
need several runs: load each landing day of the window (ingest.load), then queue the
window for dbt and build, as the dbt asset does (`dbt build`; `dbt run` skips the data
tests where a test has already run them on the same models)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from config.settings import Settings
from ingest.load import landing_path, load_partition
from ingest.warehouse import connect, ensure_raw_schema, request_model_build
from orchestration.dbt_assets import DBT_PROJECT_DIR
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
    _dbt_in_this_process(
        [
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
        settings,
    )


def _dbt_in_this_process(args: list[str], settings: Settings) -> None:
    """dbt through its Python entry point: the same command as `dbt ARGS`, without a
    fresh interpreter importing dbt each time (seconds per call, many calls a suite)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    saved = os.environ.get("LLM_USAGE_WAREHOUSE")
    os.environ["LLM_USAGE_WAREHOUSE"] = str(settings.warehouse_path)  # profiles.yml reads it
    try:
        result = dbtRunner().invoke(args)
    finally:
        if saved is None:
            del os.environ["LLM_USAGE_WAREHOUSE"]
        else:
            os.environ["LLM_USAGE_WAREHOUSE"] = saved
        # dbt-duckdb keeps its DuckDB connection open in the process; close it, or the
        # next writer (the loader, another build) cannot open the file.
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None
    # What failed, by node, in place of the console output a subprocess would show.
    failed = [
        f"{node.node.unique_id}: {node.status} {node.message}"
        for node in getattr(result.result, "results", [])
        if str(node.status) not in ("success", "pass")
    ]
    assert result.success, f"dbt {args[0]} failed: {result.exception or failed}"
