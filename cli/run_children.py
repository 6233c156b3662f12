"""No process that an `llm-usage materialize` run starts outlives it (issue 31 item 11).

The run executes in the CLI's process; its dbt step runs `dbt build` as a child process
that writes the warehouse. Three ways the CLI can end, three answers:

- Ctrl+C (SIGINT): Dagster interrupts the step and dagster-dbt forwards the interrupt
  to dbt and waits for it. SIGTERM and SIGHUP (`kill PID`, a closed terminal) are turned
  into that same interrupt while the run executes, instead of ending the CLI at once
  (Dagster maps SIGTERM so itself while a step runs, but not SIGHUP, nor SIGTERM
  outside its steps).
- A run that ends without success, however it ends: processes it started that are still
  alive are stopped (SIGTERM, then SIGKILL after a grace period) before the CLI goes on
  (dagster-dbt waits for an interrupted dbt only so long).
- SIGKILL (or a crash) of the CLI reaches none of its children. The next run finds the
  dead run's processes by the token they carry (orchestration/instance.py) and waits
  for them to end before it frees the dead run's warehouse slot, so it never starts
  writing while they still do (`wait_for_lost_runs`).
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator

# How long stopped children get to end after SIGTERM before SIGKILL.
STOP_GRACE_SECONDS = 10.0
# How often the next run looks again whether a dead run's processes have ended.
LOST_RUN_POLL_SECONDS = 0.5
INTERRUPTING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum, frame) -> None:
    # Whatever handles SIGINT at this moment (Dagster's, during a step) handles this too.
    signal.raise_signal(signal.SIGINT)


def stop_children(grace_seconds: float = STOP_GRACE_SECONDS) -> list[int]:
    """Stop every process this one started that is still alive; their pids."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_seconds)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=grace_seconds)
    return [child.pid for child in children]


class RunEnd:
    """How the run ended; the caller sets `succeeded` once it has the run's result."""

    succeeded = False


@contextlib.contextmanager
def children_end_with_the_run() -> Iterator[RunEnd]:
    """While the run executes, SIGTERM and SIGHUP interrupt it as Ctrl+C does; when it
    ends without success (interrupted, failed, raised), no process it started is left
    running. After a success every child has ended on its own: dbt has, and helpers of
    the CLI process itself (multiprocessing's resource tracker) are left to it."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in INTERRUPTING_SIGNALS}
    end = RunEnd()
    try:
        yield end
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not end.succeeded:
            stop_children()


def wait_for_lost_runs(instance, say: Callable[[str], None]) -> None:
    """Free the warehouse slot of every run whose CLI process died, once the processes it
    started (dbt, writing) have ended too; says what it frees and what it waits for."""
    from orchestration.instance import fail_abandoned_cli_runs, lost_runs_still_writing

    told: set[str] = set()
    while True:
        waiting = lost_runs_still_writing(instance)
        if not waiting:
            # Freed only now: a process that ends between a freeing pass (which skips its
            # run) and this check would otherwise leave its run's slot taken for good.
            # A dead run gains no process, so none is skipped here.
            for run_id in fail_abandoned_cli_runs(instance):
                say(
                    f"Run {run_id} lost its process; marked it failed and freed its warehouse slot."
                )
            return
        for run_id, pids in waiting.items():
            if run_id not in told:
                told.add(run_id)
                listed = " ".join(map(str, pids))
                say(
                    f"Run {run_id}'s llm-usage process died, but processes it started are "
                    f"still running (pid {listed}; its dbt may still be writing the "
                    "warehouse); waiting for them to end before this run writes "
                    f"(`kill {listed}` stops them)."
                )
        time.sleep(LOST_RUN_POLL_SECONDS)
