"""Assembles the warehouse's Dagster definitions; `workspace.yaml` loads this module."""

from __future__ import annotations

from dagster import Definitions

from orchestration.audit import weekly_audit_job, weekly_audit_schedule
from orchestration.checks import fct_requests_quality, raw_request_logs_quality
from orchestration.dbt_assets import dbt_resource, warehouse_dbt_models
from orchestration.ingest_assets import raw_request_logs
from orchestration.jobs import nightly_job, nightly_schedule
from orchestration.sensors import (
    abandoned_cli_runs_sensor,
    late_landing_files_sensor,
    unfinished_model_builds_sensor,
)

# Importing this module reads no settings and writes no environment: the steps that run
# dbt export the resolved settings for dbt's profiles.yml when they run
# (orchestration/dbt_assets.py, orchestration/audit.py).
defs = Definitions(
    assets=[raw_request_logs, warehouse_dbt_models],
    asset_checks=[raw_request_logs_quality, fct_requests_quality],
    jobs=[nightly_job, weekly_audit_job],
    schedules=[nightly_schedule, weekly_audit_schedule],
    sensors=[late_landing_files_sensor, unfinished_model_builds_sensor, abandoned_cli_runs_sensor],
    resources={"dbt": dbt_resource()},
)
