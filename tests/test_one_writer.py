"""One writer at a time: runs launched together queue, a multi-day run equals day-by-day
runs, a killed run leaves no half-written table, and readers never break a run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date

import duckdb
import pandas as pd
import pytest
from conftest import use_data_dir
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, materialize
from reference import read_landing, requests
from runs import finish, same_table, settings_for, start_cli, wait_for, warehouse_state

from sample_data.generate import generate_logs

START = date(2026, 1, 31)  # a month's last day; its late records land on the next
# Every step of the nightly job writes the warehouse: the load with its data-quality
# checks (they record holds), dbt, and the fact checks.
WRITER_STEPS = {
    "raw_request_logs",
    "warehouse_dbt_models",
    "fct_requests_quality",
    "alerts__evaluation",
}


def landing_days(settings) -> list[str]:
    return sorted(p.name[3:] for p in settings.landing_dir.glob("dt=*"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The same landing files built twice: day by day by runs launched all at once, and
    by one run over every day."""
    base = tmp_path_factory.mktemp("one_writer")
    by_day, one_run = settings_for(base / "by_day"), settings_for(base / "one_run")
    # A few hundred records: what these tests prove (queueing, equal results, whole
    # tables after a kill) does not grow with the data, and a run's cost does.
    generated = generate_logs(
        by_day.landing_dir,
        START,
        1,
        requests_per_day=300,
        seed=21,
        duplicate_rate=0.03,
        late_rate=0.05,
    )
    assert generated.duplicates > 0 and generated.late > 0  # the cases the runs must merge
    shutil.copytree(by_day.landing_dir, one_run.landing_dir)
    days = landing_days(by_day)
    assert len(days) == 2  # late records and some duplicates land on the second day
    processes = [start_cli(by_day, "materialize", "--start", d, "--end", d) for d in days]
    processes.append(start_cli(one_run, "materialize", "--start", days[0], "--end", days[-1]))
    results = [finish(p) for p in processes]
    return by_day, one_run, days, results


def _instance(settings) -> DagsterInstance:
    return DagsterInstance.from_config(str(settings.dagster_home))


def test_runs_launched_together_queue_and_all_succeed(built):
    by_day, _, days, results = built
    for code, out, err in results:
        assert code == 0, out + err
        assert "Traceback" not in err
    with _instance(by_day) as instance:
        runs = instance.get_runs()
        assert len(runs) == len(days)
        assert all(r.status == DagsterRunStatus.SUCCESS for r in runs)
        run_windows, step_windows = [], []
        for run in runs:
            stats = instance.get_run_stats(run.run_id)
            run_windows.append((stats.start_time, stats.end_time))
            starts = {}
            for entry in instance.all_logs(
                run.run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
            ):
                if entry.step_key not in WRITER_STEPS:
                    continue
                if entry.dagster_event.event_type == DagsterEventType.STEP_START:
                    starts[entry.step_key] = entry.timestamp
                else:
                    step_windows.append((starts.pop(entry.step_key), entry.timestamp))
        assert len(step_windows) == len(WRITER_STEPS) * len(days)

    def overlap(a, b):
        return a[0] < b[1] and b[0] < a[1]

    # The runs were alive at the same time, yet their writing steps never were.
    assert any(overlap(a, b) for i, a in enumerate(run_windows) for b in run_windows[i + 1 :])
    for i, a in enumerate(step_windows):
        for b in step_windows[i + 1 :]:
            assert not overlap(a, b), (a, b)


def test_one_run_over_many_days_equals_day_by_day_runs(built):
    by_day, one_run, days, _ = built
    with _instance(one_run) as instance:
        (run,) = instance.get_runs()  # a single run loaded every day
        assert run.tags["dagster/asset_partition_range_start"] == days[0]
        assert run.tags["dagster/asset_partition_range_end"] == days[-1]
    day_by_day, together = warehouse_state(by_day), warehouse_state(one_run)
    assert set(day_by_day) == set(together)
    assert {"main_facts.fct_requests", "main_marts.mart_usage_summary"} <= set(together)
    for table in together:
        pd.testing.assert_frame_equal(day_by_day[table], together[table], obj=table)

    # And both equal an independent count of requests per event day.
    reqs = requests(read_landing(by_day.landing_dir)[0])
    paid = reqs[reqs["billing_mode"] == "pay_as_you_go"].groupby("event_date").size()
    daily = together["main_marts.mart_usage_summary"].query(
        "grain == 'day' and api_key_id == '*' and model == '*' and provider == '*' "
        "and organization_id == '*' and team_id == '*' and project_id == '*'"
    )
    assert [pd.Timestamp(d).date() for d in daily["period_start"]] == [d.date() for d in paid.index]
    assert daily["requests"].tolist() == paid.tolist()


def _step_started(step_key):
    def reached(instance, run_id):
        return any(
            e.step_key == step_key
            for e in instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)
        )

    return reached


def _dbt_built_a_model(instance, run_id):
    return any(
        e.asset_materialization.asset_key.path[0] != "raw"
        for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    )


def _file_is_free(settings) -> bool:
    try:
        duckdb.connect(str(settings.warehouse_path), read_only=True).close()
    except duckdb.IOException:
        return False
    return True


def _kill_when(settings, day: str, reached) -> None:
    """Run `llm-usage materialize` for `day`; SIGKILL it and its children (dbt) when
    `reached(instance, run_id)` holds for its run."""
    with _instance(settings) as instance:
        known = {r.run_id for r in instance.get_runs()}
        process = start_cli(settings, "materialize", "--start", day, "--end", day)

        def at_kill_point():
            new = [r.run_id for r in instance.get_runs() if r.run_id not in known]
            return any(reached(instance, run_id) for run_id in new) or process.poll() is not None

        try:
            wait_for(at_kill_point, 300, "the run to reach its kill point")
            assert process.poll() is None, "the run ended before it could be killed"
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            # dbt, a child in the same group, holds the file until its last thread is gone.
            wait_for(lambda: _file_is_free(settings), 120, "the killed processes to let go")


def test_a_killed_run_leaves_no_half_written_table(built, tmp_path):
    by_day, _, days, _ = built
    settings = settings_for(tmp_path / "data")
    shutil.copytree(by_day.data_dir, settings.data_dir)
    before = warehouse_state(settings)
    # Extra records of the middle day (another seed), so that the re-run changes the
    # warehouse; they are dated on that day so the blocking time-window check passes.
    spare = generate_logs(tmp_path / "spare", date.fromisoformat(days[1]), 1, 300, seed=5)
    shutil.copy(spare.files[0], settings.landing_dir / f"dt={days[1]}" / "late-00001.jsonl.gz")

    _kill_when(settings, days[1], _step_started("raw_request_logs"))
    killed_in_ingest = warehouse_state(settings)
    _kill_when(settings, days[1], _dbt_built_a_model)
    killed_in_dbt = warehouse_state(settings)

    # The day whose build died stays queued, and readers are told.
    queued = killed_in_dbt["raw.pending_model_builds"]
    assert queued["landing_date"].astype(str).tolist() == [days[1]]
    code, out, err = finish(start_cli(settings, "sql", "SELECT 1 AS one"))
    assert code == 0 and f"not caught up with landing day(s) {days[1]}" in err, out + err

    # The next run, of the other day, catches up with the queued one as well.
    code, out, err = finish(
        start_cli(settings, "materialize", "--start", days[0], "--end", days[0])
    )
    assert code == 0, out + err
    assert out.count("lost its process") == 1  # the second kill's run; the first was freed
    after = warehouse_state(settings)
    assert after["raw.pending_model_builds"].empty
    with _instance(settings) as instance:
        statuses = sorted(r.status.value for r in instance.get_runs())
    assert statuses.count("FAILURE") == 2 and statuses.count("SUCCESS") == len(days) + 1

    queue = ["raw.pending_model_builds"]
    raw = [t for t in after if t.startswith("raw.") and t not in queue]
    models = [t for t in after if not t.startswith("raw.")]
    assert not all(same_table(before[t], after[t]) for t in raw + models)  # the change counts
    for killed in (killed_in_ingest, killed_in_dbt):
        # The raw day is replaced in one transaction: all of it before, or all after.
        assert all(same_table(killed[t], before[t]) for t in raw) or all(
            same_table(killed[t], after[t]) for t in raw
        )
        # Each model replaces its days in one transaction: whole before, or whole after.
        for table in models:
            assert same_table(killed[table], before[table]) or same_table(
                killed[table], after[table]
            ), table
    # The day is queued in the transaction that replaces it: a kill during the ingest
    # step leaves it queued exactly when the load had committed (on a busy machine the
    # kill can come after that).
    loaded = all(same_table(killed_in_ingest[t], after[t]) for t in raw)
    queued_then = killed_in_ingest[queue[0]]["landing_date"].astype(str).tolist()
    assert queued_then == ([days[1]] if loaded else []), (loaded, queued_then)
    # The dbt kill came after ingest committed: raw already held the corrected day.
    assert all(same_table(killed_in_dbt[t], after[t]) for t in raw)

    reqs = requests(read_landing(settings.landing_dir)[0])
    paid = reqs[reqs["billing_mode"] == "pay_as_you_go"]
    for grain, period in (("day", "event_date"), ("month", "month_start")):
        mart = after["main_marts.mart_usage_summary"].query(
            "grain == @grain and api_key_id == '*' and model == '*' and provider == '*' "
            "and organization_id == '*' and team_id == '*' and project_id == '*'"
        )
        assert mart["requests"].tolist() == paid.groupby(period).size().tolist()
        assert mart["total_tokens"].tolist() == paid.groupby(period)["total_tokens"].sum().tolist()


def test_dbt_starts_again_when_a_reader_slips_in_before_it(built, tmp_path, monkeypatch):
    """A reader that opens the file between dbt's wait for the lock and dbt's own open."""
    from orchestration import dbt_assets
    from orchestration.definitions import build_definitions

    by_day, _, days, _ = built
    settings = use_data_dir(monkeypatch, tmp_path / "data")
    shutil.copytree(by_day.data_dir, settings.data_dir)
    before = warehouse_state(settings)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; sys.stdin.readline(); c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('reading', flush=True); sys.stdin.readline()",
            str(settings.warehouse_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    waits = []
    queue_for_build = dbt_assets._queue_for_build

    def reader_slips_in(warehouse, landing_dates, deadline):
        waits.append(1)
        if len(waits) == 2:
            reader.stdin.close()  # the reader is done: the second wait gets the lock
        queue_for_build(warehouse, landing_dates, deadline)
        if len(waits) == 1:  # the reader opens the file just after dbt's first wait
            reader.stdin.write("go\n")
            reader.stdin.flush()
            assert reader.stdout.readline().strip() == "reading"

    monkeypatch.setattr(dbt_assets, "_queue_for_build", reader_slips_in)
    defs = build_definitions(settings)
    try:
        with DagsterInstance.ephemeral() as instance:
            result = materialize(
                [defs.resolve_assets_def(AssetKey(["facts", "fct_requests"]))],
                partition_key=days[0],
                instance=instance,
                raise_on_error=False,
            )
    finally:
        reader.kill()
        reader.wait()
    assert result.success
    assert len(waits) == 2  # dbt lost the lock once, then started again and finished
    after = warehouse_state(settings)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(after[table], frame, obj=table)


def test_a_step_waiting_for_the_pool_sleeps_until_its_next_check(tmp_path, monkeypatch):
    """Dagster would have a waiting run spin on a core (orchestration/pool_wait.py); with
    the definitions built, it sleeps until its next claim check, then gets the slot."""
    from dagster._core.execution.plan.instance_concurrency_context import (
        InstanceConcurrencyContext,
    )
    from dagster._core.test_utils import create_run_for_test

    from orchestration.definitions import build_definitions
    from orchestration.instance import prepare_dagster_home

    settings = use_data_dir(monkeypatch, tmp_path / "data")
    prepare_dagster_home(settings)
    build_definitions(settings)
    step = "raw_request_logs"
    with _instance(settings) as instance:
        writing, waiting = (create_run_for_test(instance, job_name="nightly_job") for _ in "ab")
        with (
            InstanceConcurrencyContext(instance, writing) as writer,
            InstanceConcurrencyContext(instance, waiting) as waiter,
        ):
            assert writer.claim("warehouse", step)
            assert not waiter.claim("warehouse", step)  # one writer at a time
            pause = waiter.interval_to_next_pending_claim_check()
            assert 0.5 < pause <= 15  # Dagster's first back-off is 1 s
            writer.free_step(step)
            assert not waiter.claim("warehouse", step)  # not due yet: no query, no slot
            time.sleep(pause)
            assert waiter.interval_to_next_pending_claim_check() == 0
            assert waiter.claim("warehouse", step)
            waiter.free_step(step)
