"""The Dagster home the project runs with, prepared from the shipped instance config."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import Settings

if TYPE_CHECKING:
    from dagster import DagsterInstance

SHIPPED_INSTANCE_CONFIG = Path(__file__).with_name("dagster.yaml")


def prepare_dagster_home(settings: Settings) -> Path:
    """Create $DAGSTER_HOME and put the project's dagster.yaml in it unless one exists."""
    from dagster import DagsterInstance

    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    # Processes started together (two `llm-usage materialize`, or one and `dagster dev`)
    # would each create the SQLite run storage of a new home and stamp its schema twice,
    # which breaks every later start; the first one creates it, under a lock.
    with open(settings.dagster_home / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        config = settings.dagster_home / "dagster.yaml"
        if not config.exists():
            shutil.copyfile(SHIPPED_INSTANCE_CONFIG, config)
        with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
            instance.event_log_storage.get_pool_config()  # storages are created on first use
    return settings.dagster_home


# Runs of `llm-usage materialize` execute in the CLI's own process; these tags let a
# later CLI tell whether that process is still alive.
CLI_PID_TAG = "llm-usage/cli-pid"
CLI_HOST_TAG = "llm-usage/cli-host"
# ... and whether a process it started (dbt, writing the warehouse) still is: every
# child inherits the CLI's environment, which carries this token, so a child outliving
# a killed CLI (reparented, in whatever process group) is still found by it.
CLI_TOKEN_TAG = "llm-usage/cli-token"
CLI_TOKEN_ENV = "LLM_USAGE_CLI_RUN_TOKEN"


def _process_token() -> str:
    """This process's token, set in its environment for the children it starts. A token
    inherited from a parent (a CLI started by a CLI) is replaced: it names the parent."""
    token = os.environ.get(CLI_TOKEN_ENV, "")
    if not token.startswith(f"{os.getpid()}-"):
        token = f"{os.getpid()}-{uuid.uuid4().hex}"
        os.environ[CLI_TOKEN_ENV] = token
    return token


def cli_run_tags() -> dict[str, str]:
    """The tags of a run this process executes (and the token its children carry)."""
    return {
        CLI_PID_TAG: str(os.getpid()),
        CLI_HOST_TAG: socket.gethostname(),
        CLI_TOKEN_TAG: _process_token(),
    }


def _process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def processes_of_token(token: str) -> list[int]:
    """The live processes (of this user) started by the CLI process of `token`."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "environ"]):
        environ = process.info["environ"] or {}  # None: another user's, or gone
        if environ.get(CLI_TOKEN_ENV) == token:
            found.append(process.info["pid"])
    return found


def _lost_cli_runs(instance: DagsterInstance) -> list:
    """Unfinished runs of this host whose CLI process is gone."""
    from dagster import DagsterRunStatus, RunsFilter

    unfinished = instance.get_runs(
        filters=RunsFilter(
            statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED],
            tags={CLI_HOST_TAG: socket.gethostname()},
        )
    )
    return [
        run
        for run in unfinished
        if run.tags.get(CLI_PID_TAG, "").isdigit()
        and not _process_is_alive(int(run.tags[CLI_PID_TAG]))
    ]


def lost_runs_still_writing(instance: DagsterInstance) -> dict[str, list[int]]:
    """Runs whose CLI process died while a process it started (dbt) still runs, with
    those processes: their slots stay taken until the processes end."""
    still = {}
    for run in _lost_cli_runs(instance):
        token = run.tags.get(CLI_TOKEN_TAG)
        pids = processes_of_token(token) if token else []
        if pids:
            still[run.run_id] = pids
    return still


def fail_abandoned_cli_runs(instance: DagsterInstance) -> list[str]:
    """Mark runs whose CLI process died (killed, crashed) as failed and free their slots,
    once no process the CLI started is left.

    A killed process cannot release its claim on the "warehouse" pool; without this the
    next run would wait for that slot forever. But a SIGKILL does not reach the CLI's
    children: dbt goes on writing the warehouse, so the slot is freed only after it (and
    every other process carrying the run's token) has ended (`lost_runs_still_writing`
    names them). Runs that `dagster dev` launched are failed by its code server and
    their slots freed by run monitoring (dagster.yaml).
    """
    abandoned = []
    still_writing = lost_runs_still_writing(instance)
    for run in _lost_cli_runs(instance):
        if run.run_id in still_writing:
            continue
        pid = run.tags[CLI_PID_TAG]
        instance.report_run_failed(
            run, message=f"The llm-usage process (pid {pid}) running it died."
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        abandoned.append(run.run_id)
    return abandoned
