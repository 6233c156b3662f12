"""The warehouse as a Dagster resource: the settings assets, checks and sensors run with.

`build_definitions(settings)` (orchestration/definitions.py) makes one
`WarehouseResource` from the settings it was given; every asset, check and sensor takes
it as a parameter and opens the DuckDB file through it, so none of them reads the
environment, and a test can hand in settings of its own.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from config.settings import Settings, Thresholds
from ingest.warehouse import connect

# Every step that writes the warehouse takes a slot of this Dagster pool (size 1,
# orchestration/dagster.yaml): DuckDB has one writer at a time.
WAREHOUSE_POOL = "warehouse"


class WarehouseResource(ConfigurableResource):
    """Where the warehouse's files are, how DuckDB may run, and the quality thresholds."""

    data_dir: str
    landing_dir: str
    warehouse_path: str
    dagster_home: str
    reporting_timezone: str = "UTC"
    duckdb_memory_limit: str = "4GB"
    duckdb_threads: int = 1
    first_landing_day: str = "2024-01-01"
    # Thresholds' fields by name (a Dagster config field cannot be a pydantic model).
    thresholds: dict[str, float] = {}
    # The engine and, on Spark, the lake and the local session (docs/scaling.md).
    engine: str = "duckdb"
    lake_dir: str = ""
    spark_master: str = "local[1]"
    spark_driver_memory: str = "4g"
    spark_shuffle_partitions: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(
            data_dir=str(settings.data_dir),
            landing_dir=str(settings.landing_dir),
            warehouse_path=str(settings.warehouse_path),
            dagster_home=str(settings.dagster_home),
            reporting_timezone=settings.reporting_timezone,
            duckdb_memory_limit=settings.duckdb_memory_limit,
            duckdb_threads=settings.duckdb_threads,
            first_landing_day=settings.first_landing_day.isoformat(),
            thresholds=settings.thresholds.model_dump(),
            engine=settings.engine,
            lake_dir=str(settings.lake_dir),
            spark_master=settings.spark_master,
            spark_driver_memory=settings.spark_driver_memory,
            spark_shuffle_partitions=settings.spark_shuffle_partitions,
        )

    @property
    def settings(self) -> Settings:
        """The settings this resource was made from (the environment is not read again)."""
        return Settings.model_construct(
            data_dir=Path(self.data_dir),
            landing_dir=Path(self.landing_dir),
            warehouse_path=Path(self.warehouse_path),
            dagster_home=Path(self.dagster_home),
            reporting_timezone=self.reporting_timezone,
            duckdb_memory_limit=self.duckdb_memory_limit,
            duckdb_threads=self.duckdb_threads,
            first_landing_day=date.fromisoformat(self.first_landing_day),
            thresholds=self.quality_thresholds,
            engine=self.engine,
            lake_dir=Path(self.lake_dir),
            spark_master=self.spark_master,
            spark_driver_memory=self.spark_driver_memory,
            spark_shuffle_partitions=self.spark_shuffle_partitions,
        )

    @property
    def quality_thresholds(self) -> Thresholds:
        return Thresholds.model_validate(self.thresholds)

    def connect(
        self, *, read_only: bool = False, wait_seconds: float = 0.0
    ) -> duckdb.DuckDBPyConnection:
        """Open the warehouse (ingest.warehouse.connect: waits, then says who holds it)."""
        return connect(self.settings, read_only=read_only, wait_seconds=wait_seconds)
