"""Today so far: the intraday sensor asks for one ordinary run of today's landing day per
new state of its files, at most every LLM_USAGE_INTRADAY_MINUTES, never while a refresh
of the day waits or runs; 0 turns it off; the late-file sensor leaves today to it."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, SkipReason
from test_sensor import folder, sensor_context

from ingest.load import load_partition
from orchestration import sensors
from orchestration.definitions import build_definitions
from sample_data.generate import generate_logs

TODAY = date(2026, 3, 2)


@pytest.fixture
def today(data_dir, tmp_path, monkeypatch):
    """A clock at TODAY, three batches of today's files waiting in a spare folder, and
    the definitions with the default interval."""
    monkeypatch.setattr(sensors, "current_landing_day", lambda: TODAY)
    spare = generate_logs(tmp_path / "spare", TODAY, 1, 300, seed=5, fmt="jsonl", files_per_day=3)
    with DagsterInstance.ephemeral() as instance:
        yield data_dir, instance, sorted(spare.files), build_definitions(data_dir)


def tick(defs, instance, name="intraday_refresh_sensor", cursor=None):
    sensor = defs.resolve_sensor_def(name)
    return sensor(sensor_context(defs.resources["warehouse"].settings, instance, cursor))


def arrive(settings, batch):
    target = folder(settings, TODAY)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(batch, target / batch.name)


def test_each_new_state_of_todays_files_asks_for_one_refresh(today):
    settings, instance, batches, defs = today
    sensor = defs.resolve_sensor_def("intraday_refresh_sensor")
    assert sensor.minimum_interval_seconds == 15 * 60
    assert sensor.job_name == "nightly_job"  # an ordinary run: its steps take the pool

    assert "No landing files" in tick(defs, instance).skip_message
    cursor, run_keys = None, []
    for batch in batches:
        arrive(settings, batch)
        result = tick(defs, instance, cursor=cursor)
        (request,) = result.run_requests
        assert request.partition_key == TODAY.isoformat()
        assert request.tags["llm-usage/trigger"] == "intraday"
        run_keys.append(request.run_key)
        cursor = result.cursor
        # However often it looks, the same files ask for nothing more.
        again = tick(defs, instance, cursor=cursor)
        assert isinstance(again, SkipReason) and "not changed" in again.skip_message
    assert len(set(run_keys)) == 3


def test_no_second_refresh_while_one_of_today_waits_or_runs(today):
    settings, instance, batches, defs = today
    arrive(settings, batches[0])
    instance.add_run(
        DagsterRun(
            job_name="nightly_job",
            run_id="refreshing",
            status=DagsterRunStatus.STARTED,
            tags={"dagster/partition": TODAY.isoformat(), "llm-usage/trigger": "intraday"},
        )
    )
    waiting = tick(defs, instance)
    assert isinstance(waiting, SkipReason) and "queued or running" in waiting.skip_message
    # A nightly run or backfill of another day does not hold the refresh back: the
    # one-writer pool orders the runs.
    instance.report_run_failed(instance.get_run_by_id("refreshing"))
    instance.add_run(
        DagsterRun(
            job_name="nightly_job",
            run_id="nightly",
            status=DagsterRunStatus.STARTED,
            tags={"dagster/partition": "2026-03-01"},
        )
    )
    (request,) = tick(defs, instance).run_requests
    assert request.partition_key == TODAY.isoformat()


def test_zero_minutes_turns_the_refresh_off(data_dir, monkeypatch):
    off = build_definitions(data_dir.model_copy(update={"intraday_minutes": 0}))
    names = {s.name for s in off.sensors}
    assert "late_landing_files_sensor" in names and "intraday_refresh_sensor" not in names
    every_five = build_definitions(data_dir.model_copy(update={"intraday_minutes": 5}))
    sensor = every_five.resolve_sensor_def("intraday_refresh_sensor")
    assert sensor.minimum_interval_seconds == 300


def test_the_late_file_sensor_leaves_today_to_the_intraday_refresh(today):
    settings, instance, batches, defs = today
    arrive(settings, batches[0])
    load_partition(settings, TODAY)  # a refresh loaded the first batch
    arrive(settings, batches[1])
    late = tick(defs, instance, name="late_landing_files_sensor")
    assert not late.run_requests
    (request,) = tick(defs, instance).run_requests
    assert request.partition_key == TODAY.isoformat()
    # With the refresh off, a change of today's loaded files is a late file as before.
    off = build_definitions(settings.model_copy(update={"intraday_minutes": 0}))
    (rerun,) = tick(off, instance, name="late_landing_files_sensor").run_requests
    assert rerun.partition_key == TODAY.isoformat()


def assert_days_equal_pandas(settings, rows) -> None:
    """Each day of `rows` (the requests, by pandas): the day's all-traffic summary row
    equals the independent computation."""
    from mart_reference import same, usage_summary

    from readers.filters import all_rows_sql
    from readers.warehouse import read_query

    for day, in_day in rows.groupby("event_date"):
        summary = read_query(
            settings,
            "SELECT * FROM main_marts.mart_usage_summary WHERE grain = 'day' "
            f"AND period_start = ? AND {all_rows_sql()}",
            [day.date()],
        ).iloc[0]
        for column, value in usage_summary(in_day).items():
            assert same(summary[column], value), (day, column, summary[column], value)


def test_refreshes_as_files_arrive_equal_pandas_on_the_files_so_far(data_dir, tmp_path):
    """What a refresh runs (load today's partition, rebuild what it touches: run_window,
    as the nightly job's steps) after the first batch and again after the last: each
    time the day's and hours' figures equal pandas on the files present, so a refresh
    replaces what the one before loaded and counts nothing twice."""
    from mart_reference import (
        compare_hours,
        with_local_hours,
        with_performance_fields,
    )
    from nightly import run_window
    from reference import read_landing, requests

    from readers.warehouse import read_query

    spare = generate_logs(tmp_path / "spare", TODAY, 1, 240, seed=8, fmt="jsonl", files_per_day=3)
    batches = sorted(spare.files)
    for arrived in (batches[:1], batches[1:]):
        for batch in arrived:
            arrive(data_dir, batch)
        run_window(data_dir, TODAY, TODAY, tmp_path, command="run")
        deliveries, invalid = read_landing(data_dir.landing_dir)
        assert invalid == 0
        rows = with_local_hours(with_performance_fields(requests(deliveries)), "UTC")
        assert_days_equal_pandas(data_dir, rows)
        hourly = read_query(data_dir, "SELECT * FROM main_marts.mart_usage_by_hour")
        assert compare_hours(hourly, rows, [{}]) > 100
    assert len(requests(deliveries)) == spare.records  # the three batches, every request
