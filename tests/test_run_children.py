"""No process an `llm-usage materialize` run starts outlives it unnoticed (issue 31 item
11): a SIGHUP to the CLI alone (its terminal closed) stops its dbt with it, and after a
SIGKILL of the CLI alone the next run waits for the dead run's dbt to end before it
writes anything. (SIGTERM needs no test of its own: while a step runs, Dagster maps it
to its Ctrl+C handler, and the CLI does the same for SIGHUP.)

Unlike tests/test_one_writer.py, which kills a run's whole process group, these tests
signal the CLI's own pid, as `kill PID` or an out-of-memory kill does.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import date

import psutil
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from reference import read_landing, requests
from runs import finish, settings_for, start_cli, wait_for, warehouse_state

from orchestration.instance import CLI_TOKEN_TAG, prepare_dagster_home, processes_of_token
from sample_data.generate import generate_logs

DAY = date(2026, 3, 2)
FROZEN_SECONDS = 8  # how long the dead run's dbt is held while the next run must wait


def _dbt_build(process) -> psutil.Process | None:
    """The `dbt build` the CLI process started, once it runs."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for child in children:
        try:
            if "build" in child.cmdline() and any("dbt" in part for part in child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _runs(instance):
    return {run.run_id: run for run in instance.get_runs()}


def _built_a_model(instance, run_ids) -> bool:
    return any(
        e.asset_materialization.asset_key.path[0] != "raw"
        for run_id in run_ids
        for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    )


def test_a_run_s_dbt_ends_with_it_or_is_waited_for(tmp_path):
    settings = settings_for(tmp_path / "data")
    generate_logs(settings.landing_dir, DAY, 1, requests_per_day=400, seed=31)
    # The test reads the runs through one instance: opening one per poll (every 0.05 s,
    # about 25 ms of CPU each, mostly Alembic's schema check) kept half a core busy while
    # the runs ran.
    prepare_dagster_home(settings)
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        _signal_the_cli_alone(settings, instance)


def _signal_the_cli_alone(settings, instance):
    day = DAY.isoformat()
    materialize = ("materialize", "--start", day, "--end", day)

    # 1. SIGHUP of the CLI alone while dbt builds: dbt ends with it, and the run ends as a
    # run, so that the next one has nothing to free.
    terminated = start_cli(settings, *materialize)
    dbt = wait_for(lambda: _dbt_build(terminated), 300, "dbt to start")
    (run_id,) = _runs(instance)
    token = _runs(instance)[run_id].tags[CLI_TOKEN_TAG]
    terminated.send_signal(signal.SIGHUP)
    code, out, err = finish(terminated, timeout=120)
    assert code != 0 and "Traceback" not in err, out + err
    assert _gone(dbt) and processes_of_token(token) == []
    assert _runs(instance)[run_id].status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)

    # 2. SIGKILL of the CLI alone once dbt writes: dbt is held (SIGSTOP) so that it
    # certainly outlives its parent, as a long model would.
    killed = start_cli(settings, *materialize)
    known = set(_runs(instance))
    wait_for(lambda: set(_runs(instance)) - known, 120, "the second run to start")
    (killed_id,) = set(_runs(instance)) - known
    wait_for(lambda: _built_a_model(instance, [killed_id]), 300, "dbt to build a model")
    orphan = _dbt_build(killed)
    assert orphan is not None
    orphan.suspend()
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()

    # 3. The next run waits for the dead run's dbt: it says so, and neither frees the
    # dead run's slot nor starts a run of its own meanwhile.
    following = start_cli(settings, *materialize)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(following.stdout), daemon=True)
    reader.start()
    waiting = f"Run {killed_id}'s llm-usage process died, but processes it started"
    wait_for(lambda: any(waiting in line for line in lines), 180, "the next run to wait")
    time.sleep(FROZEN_SECONDS)
    assert following.poll() is None
    assert set(_runs(instance)) == known | {killed_id}
    assert _runs(instance)[killed_id].status == DagsterRunStatus.STARTED  # slot not freed
    orphan.resume()
    wait_for(lambda: _gone(orphan), 300, "the dead run's dbt to end")
    gone_at = time.time()
    code = following.wait(timeout=600)
    reader.join(timeout=60)
    out, err = "".join(lines), following.stderr.read()
    assert code == 0, out + err
    assert f"Run {killed_id} lost its process" in out

    runs = _runs(instance)
    assert runs[killed_id].status == DagsterRunStatus.FAILURE
    (next_id,) = set(runs) - known - {killed_id}
    assert runs[next_id].status == DagsterRunStatus.SUCCESS
    starts = [e.timestamp for e in instance.all_logs(next_id, of_type=DagsterEventType.STEP_START)]
    # Its first step (the load, a writer) started only after the old dbt had ended
    # (`gone_at` is seen up to a poll later than the end itself).
    assert starts and min(starts) >= gone_at - 1.0

    # And the warehouse holds the day exactly once.
    reqs = requests(read_landing(settings.landing_dir)[0])
    paid = reqs[reqs["billing_mode"] == "pay_as_you_go"]
    mart = warehouse_state(settings)["main_marts.mart_usage_summary"].query(
        "grain == 'day' and api_key_id == '*' and model == '*' and provider == '*' "
        "and organization_id == '*' and team_id == '*' and project_id == '*'"
    )
    assert mart["requests"].tolist() == paid.groupby("event_date").size().tolist()
