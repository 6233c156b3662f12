"""A refresh of today that the intraday sensor asks for while the nightly run of yesterday
holds the one-writer pool waits for it, then runs, and the marts count both days once.

End to end on a real Dagster instance (the project's dagster.yaml, pool "warehouse" of
one slot): the nightly run is `llm-usage materialize` in its own process, as a person or
the schedule runs it; the refresh is the sensor's run request executed in this process,
as a run worker executes it. A reader holds the warehouse file while the nightly run's
load step holds the pool, so the nightly run is still writing, whatever the machine's
speed, when the refresh reaches the pool; the reader lets go once the refresh says it is
blocked. One module, two small days, the two builds of the two runs."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from runs import finish, start_cli, wait_for
from test_intraday import TODAY, assert_days_equal_pandas
from test_one_writer import WRITER_STEPS
from test_sensor import sensor_context

from ingest.warehouse import connect, ensure_raw_schema
from orchestration import sensors
from orchestration.definitions import build_definitions
from orchestration.instance import prepare_dagster_home
from orchestration.resources import WAREHOUSE_POOL
from sample_data.generate import generate_logs

YESTERDAY = TODAY - timedelta(days=1)
BLOCKED = f"blocked by limit for pool {WAREHOUSE_POOL}"


def _writer_steps(instance: DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """The writing steps of a run: step -> (start, end) timestamps."""
    starts, windows = {}, {}
    for entry in instance.all_logs(
        run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
    ):
        if entry.step_key not in WRITER_STEPS:
            continue
        if entry.dagster_event.event_type == DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        else:
            windows[entry.step_key] = (starts.pop(entry.step_key), entry.timestamp)
    return windows


def _was_blocked(instance: DagsterInstance, run_id: str) -> bool:
    return any(
        BLOCKED in (entry.message or "")
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
    )


def _refresh_runs(instance: DagsterInstance) -> list:
    return [r for r in instance.get_runs() if r.tags.get("llm-usage/trigger") == "intraday"]


@pytest.fixture
def reader(data_dir):
    """A process holding the warehouse open read-only until told to let go (a line on
    its standard input): no writer can open the file meanwhile."""
    connection = connect(data_dir)  # the file exists before the reader opens it
    try:
        ensure_raw_schema(connection)
    finally:
        connection.close()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('reading', flush=True); sys.stdin.readline(); c.close()",
            str(data_dir.warehouse_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "reading"
    yield process
    if process.poll() is None:
        process.stdin.close()
    process.wait(timeout=60)


def test_a_refresh_while_the_nightly_run_holds_the_pool_waits_then_runs(
    data_dir, reader, monkeypatch, tmp_path
):
    from mart_reference import compare_hours, with_local_hours
    from mart_reference import with_performance_fields as with_fields
    from reference import read_landing, requests

    from readers.warehouse import read_query

    # The load step waits for the reader well past the time this test needs.
    settings = data_dir.model_copy(update={"write_wait_seconds": 300})
    monkeypatch.setattr(sensors, "current_landing_day", lambda: TODAY)
    generate_logs(settings.landing_dir, YESTERDAY, 2, 150, seed=13, fmt="jsonl")
    prepare_dagster_home(settings)
    defs = build_definitions(settings)

    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        nightly = start_cli(
            settings, "materialize", "--start", f"{YESTERDAY}", "--end", f"{YESTERDAY}"
        )
        try:
            # The nightly run's load step has the pool's one slot (and waits for the reader).
            def holding():
                assert nightly.poll() is None, finish(nightly)
                runs = instance.get_runs()
                steps = runs and instance.all_logs(
                    runs[0].run_id, of_type=DagsterEventType.STEP_START
                )
                return any(e.step_key == "raw_request_logs" for e in steps or [])

            # Polled twice a second, as the release below: each look reads the run and
            # event storage, and the nightly run takes seconds to reach its load step.
            wait_for(holding, 300, "the nightly run's load step to take the pool", interval=0.5)
            (nightly_run,) = instance.get_runs()

            # Meanwhile today's files are there: the sensor asks for a refresh of today.
            sensor = defs.resolve_sensor_def("intraday_refresh_sensor")
            (request,) = sensor(sensor_context(settings, instance)).run_requests
            assert request.partition_key == TODAY.isoformat()

            # The reader lets go once the refresh is blocked by the pool (or after three
            # minutes, so that a refresh that was never blocked fails below, not hangs).
            def release():
                try:
                    wait_for(
                        lambda: any(
                            _was_blocked(instance, r.run_id) for r in _refresh_runs(instance)
                        ),
                        180,
                        "the refresh to be blocked by the pool",
                        interval=0.5,
                    )
                finally:
                    reader.stdin.write("done\n")
                    reader.stdin.flush()

            releaser = threading.Thread(target=release)
            releaser.start()
            result = defs.resolve_job_def("nightly_job").execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                tags=request.tags,
                raise_on_error=False,
            )
            releaser.join()
        finally:
            code, out, err = finish(nightly)
        assert code == 0, out + err
        assert result.success

        refresh_run = instance.get_run_by_id(result.run_id)
        assert refresh_run.tags["llm-usage/trigger"] == "intraday"
        assert refresh_run.tags["dagster/partition"] == TODAY.isoformat()
        assert instance.get_run_by_id(nightly_run.run_id).status == DagsterRunStatus.SUCCESS
        # It waited: blocked by the pool while the nightly run's load step held it, and
        # none of its writing steps began before that step ended or overlapped any of
        # the nightly run's.
        assert _was_blocked(instance, refresh_run.run_id)
        night, refresh = (_writer_steps(instance, run.run_id) for run in (nightly_run, refresh_run))
        assert set(night) == set(refresh) == WRITER_STEPS
        assert min(start for start, _ in refresh.values()) >= night["raw_request_logs"][1]
        for a in night.values():
            for b in refresh.values():
                assert a[1] <= b[0] or b[1] <= a[0], (night, refresh)

    # Then it ran: yesterday's and today's figures equal pandas on every file, each
    # request counted once.
    deliveries, invalid = read_landing(settings.landing_dir)
    assert invalid == 0
    rows = with_local_hours(with_fields(requests(deliveries)), "UTC")
    assert {d.date() for d in rows["event_date"]} == {YESTERDAY, TODAY}
    assert_days_equal_pandas(settings, rows)
    for mart in ("mart_usage_by_hour", "mart_latency_by_hour"):
        hourly = read_query(settings, f"SELECT * FROM main_marts.{mart}")
        assert compare_hours(hourly, rows, [{}], mart) > 40
