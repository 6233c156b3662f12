"""The Dagster home the project runs with, prepared from the shipped instance config."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
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


def cli_run_tags() -> dict[str, str]:
    return {CLI_PID_TAG: str(os.getpid()), CLI_HOST_TAG: socket.gethostname()}


def _process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_abandoned_cli_runs(instance: DagsterInstance) -> list[str]:
    """Mark runs whose CLI process died (killed, crashed) as failed and free their slots.

    A killed process cannot release its claim on the "warehouse" pool; without this the
    next run would wait for that slot forever. Runs that `dagster dev` launched are
    failed by its code server and their slots freed by run monitoring (dagster.yaml).
    """
    from dagster import DagsterRunStatus, RunsFilter

    abandoned = []
    unfinished = instance.get_runs(
        filters=RunsFilter(
            statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED],
            tags={CLI_HOST_TAG: socket.gethostname()},
        )
    )
    for run in unfinished:
        pid = run.tags.get(CLI_PID_TAG, "")
        if pid.isdigit() and not _process_is_alive(int(pid)):
            instance.report_run_failed(
                run, message=f"The llm-usage process (pid {pid}) running it died."
            )
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            abandoned.append(run.run_id)
    return abandoned
