"""Assembles the warehouse's Dagster definitions; `workspace.yaml` loads this module.

Importing it reads no settings, writes no environment and runs no dbt: `defs` is a lazy
`@dagster.definitions` function that Dagster calls when it loads the code location, and
`build_definitions(settings)` builds everything from one `Settings` object, so that a
test or the CLI builds the definitions in-process with settings of its own.
"""

from __future__ import annotations

import dagster
from dagster import Definitions, in_process_executor

from config.settings import Settings
from orchestration.alert_assets import build_alert_evaluation
from orchestration.audit import build_weekly_audit_schedule, weekly_audit_job
from orchestration.checks import fct_requests_quality
from orchestration.dbt_assets import build_warehouse_dbt_models, dbt_resource, prepare_manifest
from orchestration.focus_assets import build_focus_dataset
from orchestration.ingest_assets import build_raw_request_logs
from orchestration.jobs import build_nightly_job, build_nightly_schedule, nightly_freshness
from orchestration.partitions import landing_days_partitions
from orchestration.pool_wait import sleep_between_pool_claims
from orchestration.resources import WarehouseResource
from orchestration.sensors import abandoned_cli_runs_sensor, build_landing_sensors


def build_definitions(settings: Settings) -> Definitions:
    """Every asset, check, job, schedule and sensor, with the warehouse these settings
    name as the `warehouse` resource and dbt as the `dbt` resource."""
    # dbt's manifest describes the dbt assets; it is built by `make setup` and rebuilt
    # here only when the dbt project changed since.
    prepare_manifest()
    # A run waiting for the one-writer pool would otherwise spin on a core (pool_wait.py).
    sleep_between_pool_claims()
    partitions = landing_days_partitions(settings)
    freshness = nightly_freshness(settings)
    raw_request_logs = build_raw_request_logs(partitions, freshness)
    warehouse_dbt_models = build_warehouse_dbt_models(partitions, freshness)
    alert_evaluation = build_alert_evaluation(partitions, warehouse_dbt_models, freshness)
    nightly_job = build_nightly_job(partitions)
    return Definitions(
        # Every step of every job in the run's own process, as `llm-usage materialize`
        # runs them: the steps write one warehouse one after the other anyway (the pool
        # admits one writer), and a process per step paid the Python imports of Dagster,
        # dbt and Great Expectations again for each, seconds a night. A run whose process
        # dies is still failed and retried by run monitoring (dagster.yaml).
        executor=in_process_executor,
        assets=[
            raw_request_logs,
            warehouse_dbt_models,
            alert_evaluation,
            build_focus_dataset(settings),
        ],
        asset_checks=[fct_requests_quality],
        jobs=[nightly_job, weekly_audit_job],
        schedules=[
            build_nightly_schedule(settings, nightly_job),
            build_weekly_audit_schedule(settings),
        ],
        sensors=[
            *build_landing_sensors(
                partitions, nightly_job, warehouse_dbt_models, (alert_evaluation,)
            ),
            abandoned_cli_runs_sensor,
        ],
        resources={
            "dbt": dbt_resource(settings),
            "warehouse": WarehouseResource.from_settings(settings),
        },
    )


@dagster.definitions
def defs() -> Definitions:
    """The definitions with the settings of the environment, read when Dagster loads them."""
    return build_definitions(Settings.from_env())
