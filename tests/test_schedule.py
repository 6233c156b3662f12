"""The nightly schedule: which day a tick loads, its settings, and when assets go stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dagster import build_schedule_context

REPO = Path(__file__).resolve().parent.parent


def _requests_for_tick(defs, schedule, tick: datetime):
    context = build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    )
    data = schedule.evaluate_tick(context)
    return [(r.partition_key, r.run_key) for r in data.run_requests]


@pytest.mark.parametrize(
    "tick, day",
    [
        (datetime(2026, 3, 9, 2, 0, tzinfo=UTC), "2026-03-08"),
        (datetime(2026, 3, 1, 2, 0, tzinfo=UTC), "2026-02-28"),  # across a month end
        (datetime(2027, 1, 1, 2, 0, tzinfo=UTC), "2026-12-31"),  # and a year end
    ],
)
def test_a_tick_targets_the_previous_landing_day(data_dir, tick, day):
    from orchestration.definitions import defs
    from orchestration.jobs import nightly_schedule

    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "UTC"
    assert _requests_for_tick(defs, nightly_schedule, tick) == [(day, f"nightly-{day}")]


def _probe(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Import the schedule in a fresh process with these settings and evaluate two ticks."""
    code = """
import json
from datetime import datetime
from zoneinfo import ZoneInfo
from dagster import build_schedule_context
from orchestration.jobs import NIGHTLY_FRESHNESS, nightly_schedule
zone = ZoneInfo(nightly_schedule.execution_timezone)
ticks = [datetime(2026, 3, 9, 6, 30, tzinfo=zone), datetime(2026, 3, 9, 23, 30, tzinfo=zone)]
days = [nightly_schedule(build_schedule_context(scheduled_execution_time=t)).partition_key
        for t in ticks]
print(json.dumps({"cron": nightly_schedule.cron_schedule, "tz": nightly_schedule.execution_timezone,
                  "days": days, "deadline": NIGHTLY_FRESHNESS.deadline_cron,
                  "deadline_tz": NIGHTLY_FRESHNESS.timezone}))
"""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_hour_and_time_zone_are_settings():
    result = _probe(
        {
            "LLM_USAGE_NIGHTLY_HOUR": "6",
            "LLM_USAGE_NIGHTLY_MINUTE": "30",
            "LLM_USAGE_NIGHTLY_TIMEZONE": "Asia/Shanghai",
        }
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["cron"] == "30 6 * * *" and probe["tz"] == "Asia/Shanghai"
    # 06:30 in Shanghai is 22:30 UTC the day before: the last complete UTC landing day is
    # the one before that. At 23:30 Shanghai (15:30 UTC) it is the previous UTC day.
    assert probe["days"] == ["2026-03-07", "2026-03-08"]
    assert probe["deadline"] == "30 9 * * *" and probe["deadline_tz"] == "Asia/Shanghai"


def test_a_bad_nightly_setting_is_one_sentence(data_dir):
    # A day with files, so the run gets as far as reading the schedule's settings.
    from sample_data.generate import generate_logs

    generate_logs(data_dir.landing_dir, date(2026, 3, 1), 1, requests_per_day=50, seed=1)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("llm-usage")),
            "materialize",
            "--start",
            "2026-03-01",
            "--end",
            "2026-03-01",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LLM_USAGE_NIGHTLY_HOUR": "25"},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "llm-usage: LLM_USAGE_NIGHTLY_HOUR='25' must be a whole number from 0 to 23."
    )


def test_a_missed_night_makes_every_asset_stale(data_dir):
    """Every asset carries the nightly freshness policy; its window holds the nightly run."""
    from dagster._utils.schedules import get_latest_completed_cron_tick

    from orchestration.definitions import defs
    from orchestration.jobs import NIGHTLY_FRESHNESS, nightly_schedule

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).freshness_policy == NIGHTLY_FRESHNESS, key.to_user_string()

    def fresh(materialized_at: datetime, now: datetime) -> bool:
        # What Dagster's cron freshness evaluation does: a materialization after the start
        # of the last completed deadline window counts as fresh.
        tick = get_latest_completed_cron_tick(
            NIGHTLY_FRESHNESS.deadline_cron, now, NIGHTLY_FRESHNESS.timezone
        )
        return materialized_at >= tick - NIGHTLY_FRESHNESS.lower_bound_delta

    zone = ZoneInfo(nightly_schedule.execution_timezone)
    night = datetime(2026, 3, 9, 2, 0, tzinfo=zone)  # the schedule's tick that night
    ran = night + timedelta(minutes=20)
    morning = night + timedelta(hours=6)
    assert fresh(ran, morning)
    assert fresh(ran, morning + timedelta(hours=18))  # until the next night's deadline
    # The run of the night before, and nothing since: the asset graph flags it.
    assert not fresh(ran - timedelta(days=1), morning)
    assert not fresh(ran, morning + timedelta(days=1))
