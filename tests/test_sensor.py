"""The late-file sensor asks for one re-run per new state of a loaded landing day."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta

import duckdb
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    SkipReason,
    build_sensor_context,
    materialize,
)

from ingest.load import load_partition
from orchestration.alert_assets import ALERTS_KEY
from orchestration.definitions import build_definitions
from orchestration.resources import WarehouseResource
from orchestration.sensors import RAW_ASSET
from sample_data.generate import generate_logs

DAY = date(2026, 3, 2)
NEXT = DAY + timedelta(days=1)


def sensor_context(settings, instance, cursor=None):
    return build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"warehouse": WarehouseResource.from_settings(settings)},
    )


def evaluate(defs, instance, cursor=None):
    """Evaluate one tick; return (partition keys requested, run keys, new cursor)."""
    sensor = defs.resolve_sensor_def("late_landing_files_sensor")
    settings = defs.resources["warehouse"].settings
    result = sensor(sensor_context(settings, instance, cursor))
    if isinstance(result, SkipReason):
        return [], [], cursor, result.skip_message
    requests = result.run_requests or []
    return (
        [r.partition_key for r in requests],
        [r.run_key for r in requests],
        result.cursor,
        result.skip_reason.skip_message if result.skip_reason else None,
    )


@pytest.fixture
def loaded(data_dir, tmp_path):
    """Two landing days on disk and loaded; a spare file that could arrive late."""
    generate_logs(data_dir.landing_dir, DAY, 2, requests_per_day=300, seed=3, fmt="jsonl")
    for day in (DAY, NEXT):
        load_partition(data_dir, day)
    spare = generate_logs(tmp_path / "spare", NEXT + timedelta(days=5), 1, 200, seed=4, fmt="jsonl")
    with DagsterInstance.ephemeral() as instance:
        yield data_dir, instance, spare.files[0], build_definitions(data_dir)


def folder(settings, day):
    return settings.landing_dir / f"dt={day.isoformat()}"


def test_a_late_file_triggers_exactly_one_rerun_of_its_day(loaded):
    settings, instance, spare, defs = loaded
    assert evaluate(defs, instance)[:2] == ([], [])

    shutil.copy(spare, folder(settings, DAY) / "late-00001.jsonl")
    keys, run_keys, cursor, _ = evaluate(defs, instance)
    assert keys == [DAY.isoformat()]
    assert len(run_keys) == 1 and DAY.isoformat() in run_keys[0]

    # The same state asks for nothing more, however often the sensor looks.
    assert evaluate(defs, instance, cursor)[:2] == ([], [])
    assert evaluate(defs, instance, evaluate(defs, instance, cursor)[2])[:2] == ([], [])

    # A corrected version of the late file is a new state: one more request, a new key.
    with open(folder(settings, DAY) / "late-00001.jsonl", "a") as handle:
        handle.write(spare.read_text().splitlines()[0] + "\n")
    keys2, run_keys2, cursor2, _ = evaluate(defs, instance, cursor)
    assert keys2 == [DAY.isoformat()] and run_keys2 != run_keys

    # Once the day is loaded again it is in step: no request, and it leaves the cursor.
    load_partition(settings, DAY)
    keys3, _, cursor3, message = evaluate(defs, instance, cursor2)
    assert keys3 == [] and json.loads(cursor3) == {}
    assert "No loaded landing day changed" in message


def test_touching_a_file_without_changing_it_is_not_a_change(loaded):
    settings, instance, _, defs = loaded
    part = next(folder(settings, NEXT).iterdir())
    stat = part.stat()
    os.utime(part, (stat.st_atime + 3600, stat.st_mtime + 3600))
    assert evaluate(defs, instance)[:2] == ([], [])


def test_removed_file_and_untouched_days(loaded):
    settings, instance, _, defs = loaded
    next(folder(settings, NEXT).iterdir()).unlink()
    keys, _, _, _ = evaluate(defs, instance)
    assert keys == [NEXT.isoformat()]


def test_files_arriving_for_a_day_loaded_empty_count_as_late(loaded):
    settings, instance, spare, defs = loaded
    empty_day = DAY - timedelta(days=1)
    # The nightly run came before the day's files: it failed (the partition is not
    # materialized), and the warehouse holds no file of it.
    result = materialize(
        # resolved from the definitions: bound to their resources (the warehouse)
        [defs.resolve_assets_def(RAW_ASSET)],
        partition_key=empty_day.isoformat(),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    assert empty_day.isoformat() not in instance.get_materialized_partitions(RAW_ASSET)
    assert evaluate(defs, instance)[:2] == ([], [])
    folder(settings, empty_day).mkdir(parents=True)
    shutil.copy(spare, folder(settings, empty_day) / "part-00000.jsonl")
    assert evaluate(defs, instance)[0] == [empty_day.isoformat()]

    # A day never loaded is the nightly schedule's business, not a late file.
    never = NEXT + timedelta(days=2)
    folder(settings, never).mkdir(parents=True)
    shutil.copy(spare, folder(settings, never) / "part-00000.jsonl")
    assert evaluate(defs, instance)[0] == [empty_day.isoformat()]


def test_a_busy_warehouse_skips_the_tick(loaded):
    settings, instance, spare, defs = loaded
    shutil.copy(spare, folder(settings, DAY) / "late-00001.jsonl")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "time.sleep(120)",
            str(settings.warehouse_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        keys, _, cursor, message = evaluate(defs, instance)
        assert keys == [] and cursor is None
        assert "A run is writing the warehouse" in message
    finally:
        holder.kill()
        holder.wait()
    assert evaluate(defs, instance)[0] == [DAY.isoformat()]


def test_a_dead_cli_run_gives_back_its_warehouse_slot(data_dir):
    from dagster import DagsterRun, DagsterRunStatus

    from orchestration.instance import (
        CLI_HOST_TAG,
        CLI_PID_TAG,
        CLI_TOKEN_TAG,
        cli_run_tags,
        prepare_dagster_home,
    )
    from orchestration.sensors import abandoned_cli_runs_sensor

    prepare_dagster_home(data_dir)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # its pid now belongs to no process
    with DagsterInstance.from_config(str(data_dir.dagster_home)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("warehouse", 1)
        runs = {
            # Its own token: this process's children (started after it set its token)
            # carry this process's, and would count as the dead run's live processes.
            "dead": {**cli_run_tags(), CLI_PID_TAG: str(finished.pid), CLI_TOKEN_TAG: "gone"},
            "alive": cli_run_tags(),  # this test's own process
            "elsewhere": {CLI_PID_TAG: str(finished.pid), CLI_HOST_TAG: "another-host"},
        }
        for name, tags in runs.items():
            instance.add_run(
                DagsterRun(
                    job_name="nightly_job",
                    run_id=f"run-{name}",
                    status=DagsterRunStatus.STARTED,
                    tags=tags,
                )
            )
        assert storage.claim_concurrency_slot(
            "warehouse", "run-dead", "raw__request_logs"
        ).is_claimed

        result = abandoned_cli_runs_sensor(build_sensor_context(instance=instance))
        assert "run-dead" in result.skip_message
        assert instance.get_run_by_id("run-dead").status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id("run-alive").status == DagsterRunStatus.STARTED
        assert instance.get_run_by_id("run-elsewhere").status == DagsterRunStatus.STARTED
        assert storage.get_concurrency_info("warehouse").active_slot_count == 0
        assert (
            "No CLI run"
            in abandoned_cli_runs_sensor(build_sensor_context(instance=instance)).skip_message
        )


def test_a_dead_cli_run_keeps_its_slot_while_a_process_it_started_lives(data_dir):
    """A SIGKILL of the CLI leaves its dbt writing: the slot waits for it (issue 31 item 11)."""
    from dagster import DagsterRun, DagsterRunStatus

    from orchestration.instance import (
        CLI_PID_TAG,
        CLI_TOKEN_ENV,
        CLI_TOKEN_TAG,
        cli_run_tags,
        lost_runs_still_writing,
        prepare_dagster_home,
    )
    from orchestration.sensors import abandoned_cli_runs_sensor

    prepare_dagster_home(data_dir)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # the dead CLI
    # What it started, still running: a process whose environment carries its token.
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={**os.environ, CLI_TOKEN_ENV: "dead-cli-token"},
    )
    try:
        with DagsterInstance.from_config(str(data_dir.dagster_home)) as instance:
            storage = instance.event_log_storage
            storage.set_concurrency_slots("warehouse", 1)
            tags = {
                **cli_run_tags(),
                CLI_PID_TAG: str(finished.pid),
                CLI_TOKEN_TAG: "dead-cli-token",
            }
            instance.add_run(
                DagsterRun(
                    job_name="nightly_job",
                    run_id="run-dead",
                    status=DagsterRunStatus.STARTED,
                    tags=tags,
                )
            )
            assert storage.claim_concurrency_slot(
                "warehouse", "run-dead", "raw__request_logs"
            ).is_claimed
            assert lost_runs_still_writing(instance) == {"run-dead": [child.pid]}
            abandoned_cli_runs_sensor(build_sensor_context(instance=instance))
            assert instance.get_run_by_id("run-dead").status == DagsterRunStatus.STARTED
            assert storage.get_concurrency_info("warehouse").active_slot_count == 1

            child.kill()
            child.wait()
            result = abandoned_cli_runs_sensor(build_sensor_context(instance=instance))
            assert "run-dead" in result.skip_message
            assert instance.get_run_by_id("run-dead").status == DagsterRunStatus.FAILURE
            assert storage.get_concurrency_info("warehouse").active_slot_count == 0
    finally:
        child.kill()
        child.wait()


def test_days_a_build_did_not_finish_are_rebuilt_once_no_run_is_in_progress(loaded):
    """load_partition queues its day for dbt; with no dbt build after it (as when a run
    is killed during dbt), the sensor asks for one dbt run once nothing else runs."""
    from dagster import DagsterRun, DagsterRunStatus

    settings, instance, _, defs = loaded
    warehouse_dbt_models = defs.resolve_assets_def(AssetKey(["facts", "fct_requests"]))
    unfinished_model_builds_sensor = defs.resolve_sensor_def("unfinished_model_builds_sensor")

    def tick():
        return unfinished_model_builds_sensor(sensor_context(settings, instance))

    instance.add_run(
        DagsterRun(job_name="nightly_job", run_id="running", status=DagsterRunStatus.STARTED)
    )
    assert "in progress" in tick().skip_message
    instance.report_run_failed(instance.get_run_by_id("running"))

    request = tick()
    assert request.partition_key == NEXT.isoformat()  # both days queued; dbt takes all
    # The models, and the alerts that follow every build of the marts.
    assert set(request.asset_selection) == {*warehouse_dbt_models.keys, ALERTS_KEY}
    assert DAY.isoformat() in request.run_key and NEXT.isoformat() in request.run_key
    assert tick().run_key == request.run_key  # same queue, same key: Dagster runs it once

    load_partition(settings, DAY)  # re-queued: a new state of the queue
    requeued = tick()
    assert requeued.run_key != request.run_key

    # The run it asks for (the dbt assets, one partition) catches up with both days.
    result = materialize(
        [warehouse_dbt_models],
        partition_key=requeued.partition_key,
        instance=instance,
    )
    assert result.success
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        landed = connection.execute(
            "SELECT DISTINCT landing_date FROM main_facts.fct_requests ORDER BY 1"
        ).fetchall()
    assert [row[0] for row in landed] == [DAY, NEXT]
    assert "caught up" in tick().skip_message
