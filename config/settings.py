"""Where the warehouse keeps its files and how it reports time, read from the environment.

Every path has a working default relative to the current directory, so the project runs
from the repo root with no configuration at all. One data directory holds everything;
each part can be moved on its own:

| variable                     | default                          |
|------------------------------|----------------------------------|
| LLM_USAGE_DATA_DIR           | ./data                           |
| LLM_USAGE_LANDING_DIR        | $LLM_USAGE_DATA_DIR/landing      |
| LLM_USAGE_WAREHOUSE          | $LLM_USAGE_DATA_DIR/warehouse.duckdb |
| DAGSTER_HOME                 | $LLM_USAGE_DATA_DIR/dagster_home |
| LLM_USAGE_REPORTING_TIMEZONE | UTC                              |
| LLM_USAGE_DUCKDB_MEMORY_LIMIT| 4GB                              |
| LLM_USAGE_DUCKDB_THREADS     | number of cores                  |
| LLM_USAGE_ENGINE             | duckdb (or spark)                |
| LLM_USAGE_LAKE_DIR           | $LLM_USAGE_DATA_DIR/lake (spark) |
| LLM_USAGE_SPARK_MASTER       | local[number of cores] (spark)   |
| LLM_USAGE_SPARK_DRIVER_MEMORY| 4g (spark)                       |

With LLM_USAGE_ENGINE=spark the raw tables are Parquet under the lake directory and dbt
builds on Spark (docs/scaling.md); DuckDB stays the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENGINES = ("duckdb", "spark")


class SettingsError(ValueError):
    """A setting in the environment has a value the warehouse cannot use."""


def iana_zone_setting(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The IANA time zone in environment variable `name` (default UTC), checked here only."""
    env = os.environ if environ is None else environ
    value = env.get(name) or "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"{name}={value!r} is not an IANA time zone name; use one such as 'UTC', "
            "'Asia/Shanghai' or 'America/New_York'."
        ) from None
    return value


def clock_setting(
    name: str, default: int, upper: int, environ: Mapping[str, str] | None = None
) -> int:
    """A whole number from 0 to upper - 1 in environment variable `name` (an hour, a minute)."""
    env = os.environ if environ is None else environ
    text = env.get(name) or str(default)
    if not text.isdigit() or int(text) >= upper:
        raise SettingsError(f"{name}={text!r} must be a whole number from 0 to {upper - 1}.")
    return int(text)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    warehouse_path: Path
    dagster_home: Path
    reporting_timezone: str
    duckdb_memory_limit: str
    duckdb_threads: int
    engine: str = "duckdb"
    lake_dir: Path | None = None  # spark only: raw Parquet tables and Spark's own tables
    spark_master: str = "local[1]"
    spark_driver_memory: str = "4g"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("LLM_USAGE_DATA_DIR") or "data").absolute()
        timezone = iana_zone_setting("LLM_USAGE_REPORTING_TIMEZONE", env)
        threads_text = env.get("LLM_USAGE_DUCKDB_THREADS") or str(os.cpu_count() or 1)
        if not threads_text.isdigit() or int(threads_text) < 1:
            raise SettingsError(
                f"LLM_USAGE_DUCKDB_THREADS={threads_text!r} must be a positive whole number."
            )
        engine = (env.get("LLM_USAGE_ENGINE") or "duckdb").strip().lower()
        if engine not in ENGINES:
            raise SettingsError(
                f"LLM_USAGE_ENGINE={env.get('LLM_USAGE_ENGINE')!r} is not an engine the "
                "warehouse runs on; use 'duckdb' (the default) or 'spark'."
            )
        return cls(
            data_dir=data_dir,
            landing_dir=Path(env.get("LLM_USAGE_LANDING_DIR") or data_dir / "landing").absolute(),
            warehouse_path=Path(
                env.get("LLM_USAGE_WAREHOUSE") or data_dir / "warehouse.duckdb"
            ).absolute(),
            dagster_home=Path(env.get("DAGSTER_HOME") or data_dir / "dagster_home").absolute(),
            reporting_timezone=timezone,
            duckdb_memory_limit=env.get("LLM_USAGE_DUCKDB_MEMORY_LIMIT") or "4GB",
            duckdb_threads=int(threads_text),
            engine=engine,
            lake_dir=Path(env.get("LLM_USAGE_LAKE_DIR") or data_dir / "lake").absolute(),
            spark_master=env.get("LLM_USAGE_SPARK_MASTER") or f"local[{os.cpu_count() or 1}]",
            spark_driver_memory=env.get("LLM_USAGE_SPARK_DRIVER_MEMORY") or "4g",
        )

    @property
    def on_spark(self) -> bool:
        return self.engine == "spark"

    def export(self) -> None:
        """Put the resolved paths into this process's environment.

        dbt's profiles.yml and the Dagster instance read them from there, so every layer
        sees the same warehouse no matter which one resolved the defaults.
        """
        os.environ["LLM_USAGE_DATA_DIR"] = str(self.data_dir)
        os.environ["LLM_USAGE_LANDING_DIR"] = str(self.landing_dir)
        os.environ["LLM_USAGE_WAREHOUSE"] = str(self.warehouse_path)
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)
        os.environ["LLM_USAGE_REPORTING_TIMEZONE"] = self.reporting_timezone
        os.environ["LLM_USAGE_DUCKDB_MEMORY_LIMIT"] = self.duckdb_memory_limit
        os.environ["LLM_USAGE_DUCKDB_THREADS"] = str(self.duckdb_threads)
        os.environ["LLM_USAGE_ENGINE"] = self.engine
        os.environ["LLM_USAGE_LAKE_DIR"] = str(self.lake_dir)
        os.environ["LLM_USAGE_SPARK_MASTER"] = self.spark_master
        os.environ["LLM_USAGE_SPARK_DRIVER_MEMORY"] = self.spark_driver_memory
