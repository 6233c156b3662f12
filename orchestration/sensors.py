"""Sensors: re-run a loaded landing day when its files change; finish a dbt build that
stopped midway; free dead CLI runs' slots.

A gateway sometimes uploads a day late (after the nightly run loaded it empty) or
replaces a file with a corrected one. Every minute the sensor compares each loaded day's
landing folder with what its last load read (`ingest.landing_state`) and asks for one
run of that day's partition per new state of the folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, TypeVar

import duckdb
from dagster import (
    AssetKey,
    AssetPartitionStatus,
    AssetsDefinition,
    DagsterRunStatus,
    DefaultSensorStatus,
    PartitionsDefinition,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ingest.landing_state import changed_landing_days, recorded_files
from ingest.warehouse import (
    WarehouseBusyError,
    WarehouseMissingError,
    pending_model_builds,
)
from orchestration.instance import fail_abandoned_cli_runs
from orchestration.resources import WarehouseResource

if TYPE_CHECKING:  # the type define_asset_job returns; dagster exports it only privately
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

T = TypeVar("T")

RAW_ASSET = AssetKey(["raw", "request_logs"])
RUN_IN_PROGRESS = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def _read_warehouse(
    warehouse: WarehouseResource, read: Callable[[duckdb.DuckDBPyConnection], T]
) -> T | SkipReason:
    """`read(connection)` on the warehouse, opened read-only and without waiting: a writer
    holding the file only delays the tick, which then says why it skipped."""
    try:
        connection = warehouse.connect(read_only=True)
    except WarehouseMissingError:
        return SkipReason(
            f"No warehouse at {warehouse.settings.warehouse_path} yet; nothing is loaded."
        )
    except WarehouseBusyError:
        return SkipReason("A run is writing the warehouse; it is read again next tick.")
    try:
        return read(connection)
    finally:
        connection.close()


@sensor(
    name="abandoned_cli_runs_sensor",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Marks runs of an `llm-usage materialize` process that died as failed and frees "
        "their slot in the warehouse pool, so that scheduled runs do not wait for it."
    ),
)
def abandoned_cli_runs_sensor(context: SensorEvaluationContext) -> SkipReason:
    abandoned = fail_abandoned_cli_runs(context.instance)
    if abandoned:
        return SkipReason(f"Freed the warehouse slot of dead CLI runs {', '.join(abandoned)}.")
    return SkipReason("No CLI run lost its process.")


def build_landing_sensors(
    partitions: PartitionsDefinition,
    nightly_job: UnresolvedAssetJobDefinition,
    dbt_models: AssetsDefinition,
    after_models: tuple[AssetsDefinition, ...] = (),
) -> list[SensorDefinition]:
    """late_landing_files_sensor and unfinished_model_builds_sensor over `partitions`,
    asking for runs of `nightly_job`; `build_definitions` calls it. A rebuild of the
    models also runs `after_models` (the alerts), which follow every build of the marts."""

    @sensor(
        name="late_landing_files_sensor",
        job=nightly_job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Re-runs a landing day that was already loaded when files are added to, changed in "
            "or removed from its folder; once per new state of the folder."
        ),
    )
    def late_landing_files_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource):
        settings = warehouse.settings
        recorded = _read_warehouse(warehouse, recorded_files)
        if isinstance(recorded, SkipReason):
            return recorded

        partition_keys = set(partitions.get_partition_keys())
        # Days loaded while their folder was empty or missing have no file rows; Dagster
        # knows them: an empty folder materializes its day, a missing one fails its run
        # (orchestration/ingest_assets.py) after recording the attempt, as a held day does.
        statuses = (
            context.instance.get_status_by_partition(RAW_ASSET, sorted(partition_keys), partitions)
            or {}
        )
        loaded_empty = [
            date.fromisoformat(key)
            for key, status in statuses.items()
            if status in (AssetPartitionStatus.MATERIALIZED, AssetPartitionStatus.FAILED)
        ]
        changes = [
            change
            for change in changed_landing_days(settings, recorded, also_loaded=loaded_empty)
            if change.landing_date.isoformat() in partition_keys
        ]

        # The cursor holds the folder state already requested per day, so a state is asked
        # for once even if its run is still queued or failed; days back in step drop out.
        requested: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        run_requests = []
        for change in changes:
            key = change.landing_date.isoformat()
            if requested.get(key) == change.fingerprint:
                continue
            context.log.info(f"Landing files changed since the last load of {change.describe()}")
            run_requests.append(
                RunRequest(
                    run_key=f"landing-{key}-{change.fingerprint}",
                    partition_key=key,
                    tags={"llm-usage/trigger": "late-landing-files"},
                )
            )
        cursor = {c.landing_date.isoformat(): c.fingerprint for c in changes}
        if not run_requests:
            return SensorResult(
                skip_reason="No loaded landing day changed since its last load or last request.",
                cursor=json.dumps(cursor),
            )
        return SensorResult(run_requests=run_requests, cursor=json.dumps(cursor))

    @sensor(
        name="unfinished_model_builds_sensor",
        job=nightly_job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Rebuilds the facts and marts for landing days a dbt build did not finish (its run "
            "was killed or failed), once no run is in progress; once per state of the queue."
        ),
    )
    def unfinished_model_builds_sensor(
        context: SensorEvaluationContext, warehouse: WarehouseResource
    ):
        pending = _read_warehouse(warehouse, pending_model_builds)
        if isinstance(pending, SkipReason):
            return pending
        if not pending:
            return SkipReason("The facts and marts have caught up with every landing day.")
        # While a run is queued or running, the queue is normally its own work in progress.
        if context.instance.get_runs(filters=RunsFilter(statuses=RUN_IN_PROGRESS), limit=1):
            return SkipReason("A run is queued or in progress; it rebuilds the queued days.")
        days = sorted({day.isoformat() for day, _ in pending})
        if days[-1] not in partitions.get_partition_keys():
            return SkipReason(
                f"Landing day {days[-1]} is not a partition Dagster knows; rebuild with "
                "`llm-usage materialize` after setting LLM_USAGE_FIRST_LANDING_DAY."
            )
        latest = max(requested_at for _, requested_at in pending)
        context.log.info(f"The facts and marts are behind landing day(s) {', '.join(days)}.")
        # dbt rebuilds every queued day whatever the partition, so one partition is enough;
        # the newest keeps the run beside the latest data in the UI.
        return RunRequest(
            run_key=f"unfinished-builds-{'+'.join(days)}-{latest.isoformat()}",
            partition_key=days[-1],
            asset_selection=[*dbt_models.keys, *(k for a in after_models for k in a.keys)],
            tags={"llm-usage/trigger": "unfinished-model-builds"},
        )

    return [late_landing_files_sensor, unfinished_model_builds_sensor]
