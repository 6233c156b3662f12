"""The weekly audit: every dbt data test over all of history.

The nightly build tests what it rebuilt (dbt_project/macros/test_scope.sql) and leaves
out the tests that read all of history (tag full_history: the ingest reconciliation,
request_id unique across every day), so that a night's cost does not grow with the
warehouse. This job runs them all, unscoped, once a week and on demand.
"""

import json

from dagster import (
    DefaultScheduleStatus,
    Failure,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)
from dagster_dbt import DbtCliResource

from config.settings import Settings
from orchestration.dbt_assets import (
    DBT_LOCK_WAIT_SECONDS,
    dbt_environment,
    dbt_project,
    wait_for_write_lock,
)
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

AUDIT_VARS = {"test_scope": "all"}


@op(
    pool=WAREHOUSE_POOL,  # dbt-duckdb opens the file for writing, even to test
    description="Every dbt data test over all of history, full_history tests included.",
)
def dbt_tests_over_all_history(
    context: OpExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> None:
    wait_for_write_lock(warehouse, DBT_LOCK_WAIT_SECONDS)
    with dbt_environment(warehouse.settings):
        invocation = dbt.cli(
            ["test", "--vars", json.dumps(AUDIT_VARS)],
            manifest=dbt_project.manifest_path,
            raise_on_error=False,
        )
    invocation.wait()
    results = invocation.get_artifact("run_results.json")["results"]
    failed = [r for r in results if r["status"] in ("fail", "error")]
    context.log.info(f"{len(results) - len(failed)} of {len(results)} data tests passed.")
    if failed:
        names = ", ".join(f"{r['unique_id'].split('.')[2]} ({r['status']})" for r in failed)
        raise Failure(
            description=f"{len(failed)} data test(s) failed over all of history: {names}",
            metadata={"failed_tests": [r["unique_id"] for r in failed]},
        )


@job(
    description="Weekly: every dbt data test over all of history (the nightly tests what it rebuilt)."
)
def weekly_audit_job():
    dbt_tests_over_all_history()


def build_weekly_audit_schedule(settings: Settings) -> ScheduleDefinition:
    # Sunday, two hours after the nightly tick, so that it queues behind nothing.
    return ScheduleDefinition(
        name="weekly_audit_schedule",
        job=weekly_audit_job,
        cron_schedule=f"{settings.nightly_minute} {(settings.nightly_hour + 2) % 24} * * 0",
        execution_timezone=settings.nightly_timezone,
        default_status=DefaultScheduleStatus.RUNNING,
    )
