"""The raw tables as Parquet (LLM_USAGE_ENGINE=spark), without Spark: the lake holds what
the DuckDB warehouse holds for the same landing day, a reload replaces the day, and the
queue and holds behave as on DuckDB. The Spark build itself: tests/test_spark.py."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from config.settings import Settings, SettingsError
from ingest import lake
from ingest.load import load_partition
from ingest.warehouse import connect
from quality.holds import _hold_every_day
from sample_data.generate import generate_logs

DAY = date(2026, 3, 2)
TABLES = ("request_logs", "request_logs_rejected", "ingested_files")


def test_engine_setting_defaults_to_duckdb_and_names_a_wrong_value():
    assert Settings.from_env({}).engine == "duckdb"
    assert Settings.from_env({"LLM_USAGE_ENGINE": "Spark"}).on_spark
    with pytest.raises(SettingsError, match="LLM_USAGE_ENGINE='oracle'.*'duckdb'.*'spark'"):
        Settings.from_env({"LLM_USAGE_ENGINE": "oracle"})


def _settings(tmp_path, engine: str) -> Settings:
    return Settings.from_env(
        {
            "LLM_USAGE_DATA_DIR": str(tmp_path / engine),
            "LLM_USAGE_LANDING_DIR": str(tmp_path / "landing"),
            "LLM_USAGE_ENGINE": engine,
        }
    )


def _table(settings: Settings, table: str) -> pd.DataFrame:
    with connect(settings, read_only=True) as connection:
        frame = connection.execute(f"SELECT * FROM raw.{table}").fetchdf()
    frame = frame.drop(columns=[c for c in ("ingested_at",) if c in frame])
    return frame.sort_values(list(frame.columns)[:3]).reset_index(drop=True)


def test_a_landing_day_in_the_lake_is_the_warehouse_day_and_a_reload_replaces_it(tmp_path):
    generate_logs(
        tmp_path / "landing", DAY, 1, 400, seed=4, duplicate_rate=0.05, malformed_rate=0.02
    )
    duck, spark = _settings(tmp_path, "duckdb"), _settings(tmp_path, "spark")
    load_partition(duck, DAY)
    first = load_partition(spark, DAY)
    again = load_partition(spark, DAY)
    assert again.summary() == first.summary()
    assert first.rows_loaded > 0 and first.rows_rejected > 0
    folders = list((lake.raw_dir(spark) / "request_logs").iterdir())
    assert [f.name for f in folders] == [f"landing_date={DAY}"]
    for table in TABLES:
        pd.testing.assert_frame_equal(_table(duck, table), _table(spark, table), check_dtype=True)
    queued = _table(spark, "pending_model_builds")
    assert [pd.Timestamp(d).date() for d in queued["landing_date"]] == [DAY]


def _hold(settings: Settings, first: date, last: date, failed_checks: list[str]) -> None:
    """Hold landing days [first, last] (release them when `failed_checks` is empty) the
    way quality.holds.check_and_hold writes holds on the lake: through lake.editing_days."""
    with lake.editing_days(
        lake.connect_lake(settings), settings, ("quality_holds",), first, last
    ) as connection:
        connection.execute(
            "DELETE FROM raw.quality_holds WHERE landing_date BETWEEN ? AND ?", [first, last]
        )
        if failed_checks:
            _hold_every_day(connection, first, last, ", ".join(failed_checks))


def test_holds_and_the_queue_on_the_lake(tmp_path):
    settings = _settings(tmp_path, "spark")
    _hold(settings, DAY, date(2026, 3, 3), ["tokens_valid"])
    assert _table(settings, "quality_holds")["failed_checks"].tolist() == ["tokens_valid"] * 2
    _hold(settings, DAY, DAY, [])
    assert len(_table(settings, "quality_holds")) == 1

    lake.request_model_build(settings, [DAY], "dbt step")
    with connect(settings, read_only=True) as connection:
        (requested_at,) = connection.execute(
            "SELECT requested_at FROM raw.pending_model_builds"
        ).fetchone()
    # What dbt on Spark appends when a build caught up (macros/pending_model_builds.sql).
    caught_up = lake.raw_dir(settings) / lake.CAUGHT_UP_FOLDER
    pq.write_table(
        pa.table(
            {
                "landing_date": pa.array([DAY], pa.date32()),
                "requested_at": pa.array([requested_at.astimezone(UTC)], pa.timestamp("us", "UTC")),
            }
        ),
        caught_up / "part-00000.parquet",
    )
    assert _table(settings, "pending_model_builds").empty
    # A newer request for the same day is pending again.
    lake.request_model_build(settings, [DAY], "ingest")
    pending = _table(settings, "pending_model_builds")
    assert pending["requested_by"].tolist() == ["ingest"]
    assert pending["requested_at"][0] > pd.Timestamp(datetime(2000, 1, 1, tzinfo=UTC))


def test_readers_and_the_sensor_see_the_lake_tables_which_are_views(tmp_path):
    """The queue, the holds and the files read are views on the lake, and the readers
    and the late-file sensor find them there as they find the warehouse's tables."""
    from ingest.landing_state import recorded_files
    from ingest.warehouse import pending_model_builds
    from readers.warehouse import held_days

    generate_logs(tmp_path / "landing", DAY, 1, 50, seed=4)
    settings = _settings(tmp_path, "spark")
    load_partition(settings, DAY)
    _hold(settings, DAY, DAY, ["tokens_valid"])
    with connect(settings, read_only=True) as connection:
        assert [day for day, _ in pending_model_builds(connection)] == [DAY]
        assert list(recorded_files(connection)) == [DAY]
    assert [(h.landing_date, h.failed_checks) for h in held_days(settings)] == [
        (DAY, "tokens_valid")
    ]


def test_the_dagster_resources_carry_the_engine():
    """The dbt resource's target is the engine, and the warehouse resource hands the
    assets settings that are on Spark when the environment says so."""
    from orchestration.dbt_assets import dbt_resource
    from orchestration.resources import WarehouseResource

    duckdb_settings = Settings.from_env({})
    assert dbt_resource(duckdb_settings).target == "duckdb"
    assert not WarehouseResource.from_settings(duckdb_settings).settings.on_spark
    spark = Settings.from_env({"LLM_USAGE_ENGINE": "spark", "LLM_USAGE_LAKE_DIR": "/lake"})
    assert dbt_resource(spark).target == "spark"
    resource_settings = WarehouseResource.from_settings(spark).settings
    assert resource_settings.on_spark and str(resource_settings.lake_dir) == "/lake"
    assert spark.environment()["LLM_USAGE_ENGINE"] == "spark"
