"""The FOCUS cost and usage dataset: one file per calendar month under the exports folder.

Monthly partitions, because FOCUS billing periods are months and a FinOps tool imports
a month at a time; a partition reads the facts read-only (readers/focus.py) and replaces
its month's file whole (written beside it, then renamed), so it may run while readers
read and be run again after a late landing day changed the month.
"""

from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Config,
    MaterializeResult,
    MetadataValue,
    MonthlyPartitionsDefinition,
    asset,
)

from config.settings import Settings
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from readers.focus import FOCUS_VERSION, focus_month, write_focus

FOCUS_KEY = AssetKey(["exports", "focus"])
# Files for other tools: outside the nightly job, whose partitions are landing days.
EXPORTS_GROUP = "exports"
USAGE_FACT = AssetKey(["facts", "fct_usage_daily"])


def focus_path(settings: Settings, month: str, fmt: str) -> Path:
    """Where a month's FOCUS file lives: exports_dir/focus/focus-YYYY-MM.<fmt>."""
    return settings.exports_dir / "focus" / f"focus-{month}.{fmt}"


def focus_months(settings: Settings) -> MonthlyPartitionsDefinition:
    """Every calendar month from the first landing day's on (UTC, like the landing days)."""
    start = settings.first_landing_day.replace(day=1)
    return MonthlyPartitionsDefinition(start_date=start.isoformat(), end_offset=1)


class FocusConfig(Config):
    csv: bool = False  # also write the month as CSV beside the Parquet file


def build_focus_dataset(settings: Settings) -> AssetsDefinition:
    """The monthly FOCUS asset; `build_definitions` calls it."""

    @asset(
        key=FOCUS_KEY,
        deps=[USAGE_FACT],
        partitions_def=focus_months(settings),
        group_name=EXPORTS_GROUP,
        # A reader, but one that waits for the writer to finish rather than failing
        # after read_wait_seconds while a run builds the month it reads.
        pool=WAREHOUSE_POOL,
        description=f"The month's pay-as-you-go spend as a FOCUS {FOCUS_VERSION} cost and "
        "usage dataset (docs/exports.md), Parquet (and CSV when config csv is true).",
    )
    def focus_dataset(
        context: AssetExecutionContext, config: FocusConfig, warehouse: WarehouseResource
    ) -> MaterializeResult:
        current = warehouse.settings
        month = context.partition_key[:7]  # YYYY-MM-DD of the month's first day
        first, last = focus_month(context.partition_time_window.start.date())
        metadata = {"focus_version": FOCUS_VERSION}
        for fmt in ("parquet", "csv") if config.csv else ("parquet",):
            path = focus_path(current, month, fmt)
            written = write_focus(current, first, last, fmt, path)
            metadata[f"{fmt}_path"] = MetadataValue.path(str(path))
        for note in written.notes():
            context.log.warning(note)
        metadata.update(
            rows=written.rows,
            requests_without_cost=written.requests_without_cost,
            tokens_without_cost=written.tokens_without_cost,
        )
        return MaterializeResult(metadata=metadata)

    return focus_dataset
