"""The nightly job's two steps without the Dagster run around them, for tests that
need several runs: load each landing day of the window (ingest.load), then queue the
window for dbt and build, as the dbt asset does (`dbt build`; `dbt run` skips the data
tests where a test has already run them on the same models)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipeline_in_process import WITHOUT_UNIT_TESTS, invoke_dbt

from config.settings import Settings
from ingest.load import landing_path, load_partition
from ingest.warehouse import connect, ensure_raw_schema, request_model_build
from orchestration.partitions import landing_days_between


def run_window(
    settings: Settings,
    first: date,
    last: date,
    scratch: Path,
    command: str = "build",
    select: tuple[str, ...] = (),
) -> None:
    """Load the landing days in [first, last] that have a folder, and rebuild dbt for
    that window: every model, or those `select` names (dbt's node selection syntax, e.g.
    "+mart_usage_by_hour" for a mart and what it is built from) where a test reads only
    those."""
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
    selection = ("--select", *select) if select else ()
    result = invoke_dbt(settings, command, scratch, *WITHOUT_UNIT_TESTS, *selection)
    # What failed, by node, in place of the console output a subprocess would show.
    failed = [
        f"{node.node.unique_id}: {node.status} {node.message}"
        for node in getattr(result.result, "results", [])
        if str(node.status) not in ("success", "pass")
    ]
    assert result.success, f"dbt {command} failed: {result.exception or failed}"
