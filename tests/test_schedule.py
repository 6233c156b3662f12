"""The nightly schedule: which day a tick loads, its settings, and when assets go stale."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dagster import AssetKey, build_schedule_context
from runs import finish, start_cli


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
    from orchestration.definitions import build_definitions

    defs = build_definitions(data_dir)
    nightly_schedule = defs.resolve_schedule_def("nightly_schedule")
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "UTC"
    assert _requests_for_tick(defs, nightly_schedule, tick) == [(day, f"nightly-{day}")]


def test_hour_and_time_zone_are_settings(data_dir):
    from config.settings import Settings
    from orchestration.definitions import build_definitions

    settings = Settings.from_env(
        {
            "LLM_USAGE_DATA_DIR": str(data_dir.data_dir),
            "LLM_USAGE_NIGHTLY_HOUR": "6",
            "LLM_USAGE_NIGHTLY_MINUTE": "30",
            "LLM_USAGE_NIGHTLY_TIMEZONE": "Asia/Shanghai",
        }
    )
    defs = build_definitions(settings)
    nightly_schedule = defs.resolve_schedule_def("nightly_schedule")
    assert nightly_schedule.cron_schedule == "30 6 * * *"
    assert nightly_schedule.execution_timezone == "Asia/Shanghai"
    zone = ZoneInfo("Asia/Shanghai")
    ticks = [datetime(2026, 3, 9, 6, 30, tzinfo=zone), datetime(2026, 3, 9, 23, 30, tzinfo=zone)]
    # 06:30 in Shanghai is 22:30 UTC the day before: the last complete UTC landing day is
    # the one before that. At 23:30 Shanghai (15:30 UTC) it is the previous UTC day.
    assert [_requests_for_tick(defs, nightly_schedule, t)[0][0] for t in ticks] == [
        "2026-03-07",
        "2026-03-08",
    ]
    freshness = defs.resolve_asset_graph().get(AssetKey(["raw", "request_logs"])).freshness_policy
    assert freshness.deadline_cron == "30 9 * * *" and freshness.timezone == "Asia/Shanghai"
    assert defs.resolve_schedule_def("weekly_audit_schedule").cron_schedule == "30 8 * * 0"


def test_a_bad_nightly_setting_is_one_sentence(data_dir):
    # A day with files, so only the setting can stop the command: it is read and checked
    # with every other setting before any run starts (config/settings.py).
    from sample_data.generate import generate_logs

    generate_logs(data_dir.landing_dir, date(2026, 3, 1), 1, requests_per_day=50, seed=1)
    code, _, err = finish(
        start_cli(
            data_dir,
            "materialize",
            "--start",
            "2026-03-01",
            "--end",
            "2026-03-01",
            LLM_USAGE_NIGHTLY_HOUR="25",
        ),
        timeout=300,
    )
    assert code == 2
    assert err.strip() == (
        "llm-usage: LLM_USAGE_NIGHTLY_HOUR='25' must be a whole number from 0 to 23."
    )


def test_a_missed_night_makes_every_asset_stale(data_dir):
    """Every asset of the nightly job carries the nightly freshness policy; its window
    holds the nightly run. (The exports are monthly files outside it: docs/exports.md.)"""
    from dagster._utils.schedules import get_latest_completed_cron_tick

    from orchestration.definitions import build_definitions
    from orchestration.focus_assets import EXPORTS_GROUP
    from orchestration.jobs import nightly_freshness

    defs = build_definitions(data_dir)
    nightly_schedule = defs.resolve_schedule_def("nightly_schedule")
    NIGHTLY_FRESHNESS = nightly_freshness(data_dir)
    graph = defs.resolve_asset_graph()
    nightly = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name != EXPORTS_GROUP]
    assert len(nightly) == len(graph.get_all_asset_keys()) - 1
    for key in nightly:
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
