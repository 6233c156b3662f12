"""A run whose writing step waits for the "warehouse" pool sleeps while it waits.

Dagster (1.13.27, and 1.13.29, the newest at the time of writing) schedules the next
pool claim check of a waiting step 1 to 15 s ahead, but then tells the in-process
executor to sleep `min(0, time to that check)`, which is never more than 0: the waiting
run spins on a core until the slot is free. With the one-writer pool (dagster.yaml) that
is every run launched while another one writes, and on a 2-core machine the spinning run
takes the CPU the writing one needs (two nightly runs started together cost 63 CPU
seconds instead of 34).

`sleep_between_pool_claims()` replaces that one method with the sleep Dagster meant: until
the earliest scheduled check, never negative. A step is claimed exactly as before and at
the same moments (the claim itself returns early until its check is due), so a queued
run starts no later than it did. Called from `build_definitions`, which every process
that executes runs goes through: `llm-usage materialize` and the run workers that
`dagster dev` launches. tests/test_one_writer.py checks the method's answer against a
real instance's pool.
"""

from __future__ import annotations

import time


def _seconds_to_next_claim_check(self) -> float:
    """Seconds until the earliest pending claim is due to be checked again (0 if one is
    due now or has not been tried yet)."""
    if not self._pending_claims:
        return 0.0
    due = min(self._pending_timeouts.get(step_key, 0.0) for step_key in self._pending_claims)
    return max(0.0, due - time.time())


def sleep_between_pool_claims() -> None:
    """Make waiting runs sleep between pool claim checks instead of spinning.

    The method is Dagster's own, not a public API: if a later Dagster moves it, runs are
    left as Dagster makes them (they still queue and succeed, spinning while they wait),
    and the test in tests/test_one_writer.py fails to say this needs a look.
    """
    try:
        from dagster._core.execution.plan.instance_concurrency_context import (
            InstanceConcurrencyContext,
        )
    except ImportError:
        return
    if hasattr(InstanceConcurrencyContext, "interval_to_next_pending_claim_check"):
        InstanceConcurrencyContext.interval_to_next_pending_claim_check = (
            _seconds_to_next_claim_check
        )
