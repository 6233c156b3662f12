"""The raw layer: one landing day of gateway logs into raw.request_logs."""


from datetime import date

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ingest.load import PartitionReport, load_partition
from ingest.settings import Settings
from orchestration.jobs import NIGHTLY_FRESHNESS
from orchestration.partitions import landing_days

WAREHOUSE_POOL = "warehouse"


def _report_table(reports: list[PartitionReport]) -> str:
    rows = [
        "| landing day | files | rows loaded | rejected | duplicates in day | seen on other days |",
        "|---|---|---|---|---|---|",
    ]
    for r in reports:
        rows.append(
            f"| {r.landing_date} | {len(r.files)} | {r.rows_loaded} | {r.rows_rejected} "
            f"| {r.duplicates_in_day} | {r.duplicates_across_days} |"
        )
    return "\n".join(rows)


@asset(
    key=["raw", "request_logs"],
    group_name="raw",
    partitions_def=landing_days,
    backfill_policy=BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    freshness_policy=NIGHTLY_FRESHNESS,
    kinds={"duckdb", "python"},
    description=(
        "Gateway request logs of one landing day (landing/dt=YYYY-MM-DD), checked against "
        "the log contract; bad lines go to raw.request_logs_rejected. Re-running a day "
        "replaces it."
    ),
)
def raw_request_logs(context: AssetExecutionContext) -> MaterializeResult:
    settings = Settings.from_env()
    reports = []
    for key in context.partition_keys:
        report = load_partition(settings, date.fromisoformat(key))
        context.log.info(report.summary())
        if report.missing:
            context.log.warning(f"No landing folder for {key}: {report.landing_path}")
        reports.append(report)
    unreadable = [f"{f.path}: {f.error}" for r in reports for f in r.unreadable_files]
    metadata = {
        "files": sum(len(r.files) for r in reports),
        "rows_loaded": sum(r.rows_loaded for r in reports),
        "rows_rejected": sum(r.rows_rejected for r in reports),
        "duplicates_in_day": sum(r.duplicates_in_day for r in reports),
        "duplicates_across_days": sum(r.duplicates_across_days for r in reports),
        "missing_landing_days": MetadataValue.json(
            [str(r.landing_date) for r in reports if r.missing]
        ),
        "unreadable_files": MetadataValue.json(unreadable),
        "per_landing_day": MetadataValue.md(_report_table(reports)),
    }
    return MaterializeResult(metadata=metadata)
