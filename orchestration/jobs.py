"""The nightly job, its schedule, and when its assets count as fresh.

All three depend on settings (the partitions' first day, the nightly hour, minute and
time zone), so they are built by functions that `build_definitions(settings)` calls,
never at import.
"""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    FreshnessPolicy,
    PartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from config.settings import Settings
from orchestration.focus_assets import EXPORTS_GROUP

if TYPE_CHECKING:  # the type define_asset_job returns; dagster exports it only privately
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

# The nightly run is expected to have finished this long after it fires; assets not
# materialized in that window are shown as stale (failing freshness) in the asset graph.
NIGHTLY_DEADLINE_HOURS = 3


def build_nightly_job(partitions: PartitionsDefinition) -> "UnresolvedAssetJobDefinition":
    # Every asset, so that one landing day flows from files to marts in one run; the
    # exports are monthly files for other tools, made on their own partitions.
    return define_asset_job(
        name="nightly_job",
        selection=AssetSelection.all() - AssetSelection.groups(EXPORTS_GROUP),
        partitions_def=partitions,
        description="Load one landing day (or a range) and rebuild everything downstream of it.",
    )


def nightly_freshness(settings: Settings) -> FreshnessPolicy:
    """Stale when not materialized within NIGHTLY_DEADLINE_HOURS of the nightly tick."""
    deadline_hour = (settings.nightly_hour + NIGHTLY_DEADLINE_HOURS) % 24
    return FreshnessPolicy.cron(
        deadline_cron=f"{settings.nightly_minute} {deadline_hour} * * *",
        lower_bound_delta=timedelta(hours=NIGHTLY_DEADLINE_HOURS),
        timezone=settings.nightly_timezone,
    )


def landing_day_for_tick(tick: datetime) -> str:
    """The landing day a nightly tick loads: the last UTC day complete at the tick."""
    return (tick.astimezone(UTC).date() - timedelta(days=1)).isoformat()


def build_nightly_schedule(
    settings: Settings, job: "UnresolvedAssetJobDefinition"
) -> ScheduleDefinition:
    @schedule(
        name="nightly_schedule",
        job=job,
        cron_schedule=f"{settings.nightly_minute} {settings.nightly_hour} * * *",
        execution_timezone=settings.nightly_timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Every night, load the previous landing day and rebuild what it touches.",
    )
    def nightly_schedule(context: ScheduleEvaluationContext) -> RunRequest:
        day = landing_day_for_tick(context.scheduled_execution_time)
        return RunRequest(run_key=f"nightly-{day}", partition_key=day)

    return nightly_schedule
