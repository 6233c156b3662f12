"""The nightly job and its schedule."""


import os
from datetime import datetime, timedelta, timezone

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from orchestration.partitions import landing_days

# Every asset, so that one landing day flows from files to marts in one run.
nightly_job = define_asset_job(
    name="nightly_job",
    selection=AssetSelection.all(),
    partitions_def=landing_days,
    description="Load one landing day (or a range) and rebuild everything downstream of it.",
)

NIGHTLY_HOUR = int(os.environ.get("LLM_USAGE_NIGHTLY_HOUR") or 2)
NIGHTLY_MINUTE = int(os.environ.get("LLM_USAGE_NIGHTLY_MINUTE") or 0)
NIGHTLY_TIMEZONE = os.environ.get("LLM_USAGE_NIGHTLY_TIMEZONE") or "UTC"


def landing_day_for_tick(tick: datetime) -> str:
    """The landing day a nightly tick loads: the last UTC day complete at the tick."""
    return (tick.astimezone(timezone.utc).date() - timedelta(days=1)).isoformat()


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
