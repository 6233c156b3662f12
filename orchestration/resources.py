"""The warehouse as a Dagster resource: the settings assets, checks and sensors run with.

`build_definitions(settings)` (orchestration/definitions.py) makes one
`WarehouseResource` from the settings it was given; every asset, check and sensor takes
it as a parameter and opens the DuckDB file through it, so none of them reads the
process's environment, and a test can hand in settings of its own.
"""

from __future__ import annotations

import duckdb
from dagster import ConfigurableResource, EnvVar

from config.settings import Settings
from ingest.warehouse import connect

# Every step that writes the warehouse takes a slot of this Dagster pool (size 1,
# orchestration/dagster.yaml): DuckDB has one writer at a time.
WAREHOUSE_POOL = "warehouse"
ALERT_URLS_VARIABLE = "LLM_USAGE_ALERT_URLS"


class WarehouseResource(ConfigurableResource):
    """Where the warehouse's files are, how DuckDB may run, and the quality thresholds.

    Held as the environment variables that set them (`Settings.environment()`, the names
    the README documents), which is also how the Dagster UI shows the resource's config;
    `settings` reads them back through the one `Settings` model, so no field is listed
    twice.
    """

    environment: dict[str, str]
    # LLM_USAGE_ALERT_URLS, which Settings.environment() leaves out (secrets): held as a
    # reference to the variable, which Dagster resolves when a run starts and never shows.
    alert_urls: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        urls = EnvVar(ALERT_URLS_VARIABLE) if settings.alert_urls else ""
        return cls(environment=settings.environment(), alert_urls=urls)

    @property
    def settings(self) -> Settings:
        """The settings this resource was made from (the process's environment is not read)."""
        urls = self.alert_urls
        if isinstance(urls, EnvVar):  # not resolved by a run yet (a test, a script)
            urls = urls.get_value() or ""
        return Settings.from_env({**self.environment, ALERT_URLS_VARIABLE: urls})

    def connect(
        self, *, read_only: bool = False, wait_seconds: float = 0.0
    ) -> duckdb.DuckDBPyConnection:
        """Open the warehouse (ingest.warehouse.connect: waits, then says who holds it)."""
        return connect(self.settings, read_only=read_only, wait_seconds=wait_seconds)
