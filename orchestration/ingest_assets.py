"""The raw layer: one landing day of gateway logs into raw.request_logs, checked.

A partition of `raw/request_logs` shows as materialized only for a landing day whose
files are in the warehouse and may go on to the facts: a day without landing folder
fails the step, and a day the data-quality checks put on hold (quality/holds.py) gets
no materialization. That is why the raw checks run inside this asset's step
(orchestration/checks.py, `raw_check_results`): their verdict decides what it records.
"""

from datetime import date

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    multi_asset,
)

from config.settings import Settings
from ingest.load import UNSUPPORTED_KIND, PartitionReport, load_partition
from orchestration.checks import RAW_CHECK_SPECS, raw_check_results
from orchestration.dbt_assets import BOOKKEEPING_GROUP
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource


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


REQUEST_LOGS = AssetKey(["raw", "request_logs"])
REJECTED = AssetKey(["raw", "request_logs_rejected"])
INGESTED_FILES = AssetKey(["raw", "ingested_files"])
PENDING_MODEL_BUILDS = AssetKey(["raw", "pending_model_builds"])
REPLACED_DELIVERIES = AssetKey(["raw", "replaced_deliveries"])

RAW_GROUP = "raw"


def build_raw_request_logs(
    partitions: PartitionsDefinition, freshness: FreshnessPolicy
) -> AssetsDefinition:
    """The raw multi-asset over `partitions`; `build_definitions` calls it."""

    @multi_asset(
        specs=[
            AssetSpec(
                REQUEST_LOGS,
                group_name=RAW_GROUP,
                description=(
                    "Valid gateway request records of one landing day (landing/dt=YYYY-MM-DD), "
                    "one row per delivery. Re-running a day replaces it. A day on quality "
                    "hold is loaded (inspectable) but not marked materialized."
                ),
                kinds={"duckdb", "python"},
                freshness_policy=freshness,
                # No materialization for a held run (see the module's docstring).
                skippable=True,
            ),
            AssetSpec(
                REJECTED,
                group_name=RAW_GROUP,
                description="Lines of the day that broke the log contract, with the reason.",
                kinds={"duckdb"},
                freshness_policy=freshness,
            ),
            AssetSpec(
                INGESTED_FILES,
                group_name=RAW_GROUP,
                description="Every file of the day that was read, with its hash and counts.",
                kinds={"duckdb"},
                freshness_policy=freshness,
            ),
            AssetSpec(
                REPLACED_DELIVERIES,
                # Run control, not business data: beside the dbt models that read it.
                group_name=BOOKKEEPING_GROUP,
                description=(
                    "Deliveries a re-load took away or changed (a file removed, a record "
                    "withdrawn or corrected): the next build rebuilds the event days they "
                    "were on, then clears them."
                ),
                kinds={"duckdb"},
                freshness_policy=freshness,
            ),
            AssetSpec(
                PENDING_MODEL_BUILDS,
                group_name=BOOKKEEPING_GROUP,
                description=(
                    "Landing days the facts and marts have not caught up with yet: the load "
                    "queues its day, and a dbt build that rebuilt every model removes it."
                ),
                kinds={"duckdb"},
                freshness_policy=freshness,
            ),
        ],
        check_specs=RAW_CHECK_SPECS,
        name="raw_request_logs",
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def raw_request_logs(context: AssetExecutionContext, warehouse: WarehouseResource):
        yield from load_and_check(context, warehouse)

    return raw_request_logs


def load_and_check(context: AssetExecutionContext, warehouse: WarehouseResource):
    """One `load_partition` per landing day writes the raw tables in one transaction;
    then the raw checks judge the run's days, and only the days they do not hold are
    marked materialized. A held day fails the step (its blocking checks failed), so
    Dagster skips every model downstream."""
    settings = warehouse.settings
    reports = []
    for key in context.partition_keys:
        report = load_partition(settings, date.fromisoformat(key))
        context.log.info(report.summary())
        for anomaly in report.anomalies:
            if anomaly.kind == UNSUPPORTED_KIND:
                context.log.warning(f"Skipped {anomaly.path}: {anomaly.reason}")
            else:
                context.log.warning(f"Not read: {anomaly.describe()}")
        reports.append(report)
    _fail_on_missing_landing_folders(settings, reports)
    first, last = reports[0].landing_date, reports[-1].landing_date
    # cli/main.py shows this line as the start of the checks.
    context.log.info("Checking the loaded records (data-quality rules) ...")
    check_results, held = raw_check_results(context, warehouse, first, last)
    if not held:
        # Each landing day's own counts go on that partition's materialization, also
        # when one run (a backfill) loads many days.
        for report in reports:
            context.add_asset_metadata(
                _partition_metadata(report),
                asset_key=REQUEST_LOGS,
                partition_key=report.landing_date.isoformat(),
            )
        yield MaterializeResult(
            asset_key=REQUEST_LOGS,
            metadata={"run_landing_days": MetadataValue.md(_report_table(reports))},
        )
    else:
        # One output stands for every partition of the run; with a day held it is left
        # out, and the days of the run that are not held are recorded one by one.
        for report in reports:
            if report.landing_date not in held:
                yield AssetMaterialization(
                    asset_key=REQUEST_LOGS,
                    partition=report.landing_date.isoformat(),
                    metadata=_partition_metadata(report),
                )
    yield MaterializeResult(asset_key=REJECTED)
    yield MaterializeResult(asset_key=INGESTED_FILES)
    yield MaterializeResult(asset_key=REPLACED_DELIVERIES)
    yield MaterializeResult(asset_key=PENDING_MODEL_BUILDS)
    yield from check_results


def _fail_on_missing_landing_folders(settings: Settings, reports: list[PartitionReport]) -> None:
    """Fail the step when a landing day of the run has no folder, so that no partition
    of the run shows as materialized.

    A materialized partition says "this day's files are in the warehouse"; a day whose
    files never arrived must not say so. One run materializes all of its partitions or
    none (the backfill policy makes a range one run), so the step fails as a whole, after
    loading: `load_partition` of a day without folder clears what an earlier load left
    (the folder was removed) and records the day as attempted, so that files arriving
    later are picked up by late_landing_files_sensor; the days with files are loaded and
    queued for the next build. An empty folder is a deliberate day of no records and is
    materialized as such.
    """
    absent = [r.landing_date.isoformat() for r in reports if r.missing]
    if not absent:
        return
    shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
    raise Failure(
        description=(
            f"No landing folder for {shown} under {settings.landing_dir}: no partition of "
            "this run is marked materialized. Materialize only landing days that have files "
            "(`llm-usage materialize` picks them by default); files that arrive later for "
            "these days are loaded by late_landing_files_sensor."
        ),
        metadata={"days_without_landing_folder": MetadataValue.json(absent)},
        allow_retries=False,
    )


def _partition_metadata(report: PartitionReport) -> dict:
    return {
        "files": len(report.files),
        "rows_loaded": report.rows_loaded,
        "rows_rejected": report.rows_rejected,
        "duplicates_in_day": report.duplicates_in_day,
        "duplicates_across_days": report.duplicates_across_days,
        "missing_landing_folder": report.missing,
        "unreadable_files": MetadataValue.json(
            [{"path": f.path, "error": f.error} for f in report.unreadable_files]
        ),
        "skipped_files": MetadataValue.json(report.skipped_files),
        # Links, folders and dt= names not read (raw.landing_anomalies), and how many.
        "entries_not_read": len(report.anomalies),
        "not_read": MetadataValue.json(
            [{"path": a.path, "kind": a.kind, "reason": a.reason} for a in report.anomalies]
        ),
    }
