"""The nightly job, its schedule, and when its assets count as fresh."""

from datetime import UTC, datetime, timedelta

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    FreshnessPolicy,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from config.settings import clock_setting, iana_zone_setting
from orchestration.partitions import landing_days

# Every asset, so that one landing day flows from files to marts in one run.
nightly_job = define_asset_job(
    name="nightly_job",
    selection=AssetSelection.all(),
    partitions_def=landing_days,
    description="Load one landing day (or a range) and rebuild everything downstream of it.",
)


NIGHTLY_HOUR = clock_setting("LLM_USAGE_NIGHTLY_HOUR", 2, 24)
NIGHTLY_MINUTE = clock_setting("LLM_USAGE_NIGHTLY_MINUTE", 0, 60)
NIGHTLY_TIMEZONE = iana_zone_setting("LLM_USAGE_NIGHTLY_TIMEZONE")

# The nightly run is expected to have finished this long after it fires; assets not
# materialized in that window are shown as stale (failing freshness) in the asset graph.
NIGHTLY_DEADLINE_HOURS = 3
NIGHTLY_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron=f"{NIGHTLY_MINUTE} {(NIGHTLY_HOUR + NIGHTLY_DEADLINE_HOURS) % 24} * * *",
    lower_bound_delta=timedelta(hours=NIGHTLY_DEADLINE_HOURS),
    timezone=NIGHTLY_TIMEZONE,
)


def landing_day_for_tick(tick: datetime) -> str:
    """The landing day a nightly tick loads: the last UTC day complete at the tick."""
    return (tick.astimezone(UTC).date() - timedelta(days=1)).isoformat()


@schedule(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule=f"{NIGHTLY_MINUTE} {NIGHTLY_HOUR} * * *",
    execution_timezone=NIGHTLY_TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every night, load the previous landing day and rebuild what it touches.",
)
def nightly_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    day = landing_day_for_tick(context.scheduled_execution_time)
    return RunRequest(run_key=f"nightly-{day}", partition_key=day)
