"""The Dagster definitions load (after the dbt manifest is built) and form one graph."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from dagster import AssetKey

REPO = Path(__file__).resolve().parent.parent


def test_definitions_load_with_the_expected_graph(data_dir):
    from orchestration.definitions import build_definitions

    defs = build_definitions(data_dir)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {
        "raw/request_logs",
        "staging/stg_gateway__request_logs",
        "facts/fct_requests",
        "facts/fct_usage_daily",
        "facts/fct_usage_periods",
        "marts/mart_usage_summary",
    } <= keys
    # The dbt staging model reads the raw asset, so one run flows from files to marts.
    staging = graph.get(AssetKey(["staging", "stg_gateway__request_logs"]))
    assert AssetKey(["raw", "request_logs"]) in staging.parent_keys
    job = defs.resolve_job_def("nightly_job")
    assert job.partitions_def is not None
    # The alerts are evaluated after every mart, in every nightly (and backfill) run.
    alerts = graph.get(AssetKey(["alerts", "evaluation"]))
    marts = {key for key in graph.get_all_asset_keys() if key.path[0] == "marts"}
    assert marts and marts <= alerts.parent_keys
    # ... and after the view of the gateway's own limits, which budgets can come from.
    assert AssetKey(["facts", "dim_gateway_limits"]) in alerts.parent_keys
    assert AssetKey(["alerts", "evaluation"]) in job.asset_layer.asset_graph.get_all_asset_keys()
    # Every job runs its steps in the run's process (UI, schedule and sensor runs too),
    # the asset jobs the UI builds for a selection included.
    for name in ("nightly_job", "weekly_audit_job", "__ASSET_JOB"):
        assert defs.resolve_job_def(name).executor_def.name == "in_process", name
    for key in keys:
        assert graph.get(AssetKey.from_user_string(key)).pools == {"warehouse"}


def test_assets_are_grouped_by_layer_with_bookkeeping_apart(data_dir):
    from orchestration.definitions import build_definitions

    defs = build_definitions(data_dir)
    graph = defs.resolve_asset_graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    # The README's layers, and the run-control tables in a group of their own.
    assert set(groups) == {
        "raw",
        "staging",
        "facts",
        "marts",
        "audit",
        "bookkeeping",
        "exports",
        "alerts",
    }
    assert groups["exports"] == {"exports/focus"}
    assert groups["alerts"] == {"alerts/evaluation"}
    assert groups["bookkeeping"] == {
        "raw/pending_model_builds",
        "raw/replaced_deliveries",
        "intermediate/int_landing_days_in_build",
        "intermediate/int_event_dates_touched_by_run",
    }
    assert groups["raw"] == {"raw/request_logs", "raw/request_logs_rejected", "raw/ingested_files"}
    for group in ("staging", "facts", "marts", "audit"):
        assert all(key.startswith(f"{group}/") for key in groups[group]), groups[group]
    # Every mart model of the dbt project is an asset (counted from the project, so a
    # new mart needs no edit here).
    marts_dir = REPO / "dbt_project" / "models" / "marts"
    assert groups["marts"] == {f"marts/{p.stem}" for p in marts_dir.glob("mart_*.sql")}
    assert len(groups["marts"]) >= 17
    # The intermediate folder holds run control only: none of it among business assets.
    business = set().union(*(groups[g] for g in ("raw", "staging", "facts", "marts", "audit")))
    assert not any(key.startswith("intermediate/") for key in business)


def test_workspace_validates_with_the_dagster_cli(data_dir):
    from orchestration.instance import prepare_dagster_home

    prepare_dagster_home(data_dir)
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_nightly_schedule_targets_the_previous_day():
    from orchestration.jobs import landing_day_for_tick

    tick = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    assert landing_day_for_tick(tick) == "2026-03-08"


def test_partition_window_becomes_its_landing_days():
    from orchestration.partitions import landing_days_in_window

    days = landing_days_in_window(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)
    )
    assert days == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]


def test_importing_the_definitions_writes_no_environment(data_dir, monkeypatch):
    import importlib
    import os

    import orchestration.definitions

    monkeypatch.delenv("LLM_USAGE_WAREHOUSE", raising=False)
    before = dict(os.environ)
    importlib.reload(orchestration.definitions)
    assert dict(os.environ) == before


def test_importing_the_definitions_reads_no_settings_and_runs_no_dbt():
    # Bad settings do not matter to an import, and dbt (a subprocess) does not run: the
    # definitions are built when Dagster (or a test, or the CLI) asks for them.
    code = (
        "import os, subprocess\n"
        "popen = subprocess.Popen\n"
        "def refuse_dbt(command, *args, **kwargs):\n"
        "    assert 'dbt' not in str(command), f'dbt was started on import: {command}'\n"
        "    return popen(command, *args, **kwargs)\n"
        "subprocess.Popen = refuse_dbt\n"
        "before = dict(os.environ)\n"
        "import orchestration.definitions\n"
        "assert dict(os.environ) == before\n"
        "print('imported')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LLM_USAGE_NIGHTLY_HOUR": "25", "LLM_USAGE_DQ_EXAMPLES": "x"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "imported"


def test_loading_the_definitions_reads_the_settings_then(monkeypatch):
    from config.settings import SettingsError
    from orchestration.definitions import defs

    monkeypatch.setenv("LLM_USAGE_NIGHTLY_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(SettingsError, match="^LLM_USAGE_NIGHTLY_TIMEZONE='Mars/Olympus_Mons' is"):
        defs()


def test_the_dbt_resource_overrides_methods_dagster_dbt_still_has():
    # orchestration/dbt_assets.py WarehouseDbtCli replaces two private methods to save
    # dbt start-up time; if dagster-dbt renamed them, the overrides would silently do nothing.
    from dagster_dbt import DbtCliResource

    from orchestration.dbt_assets import WarehouseDbtCli

    for name in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert hasattr(DbtCliResource, name), name
        assert name in WarehouseDbtCli.__dict__, name


def test_the_warehouse_resource_gives_back_every_setting_it_was_made_from(tmp_path):
    """The resource holds the settings as their environment variables; reading them back
    gives the same settings, the ones no variable set included, without the process's
    environment."""
    from config.settings import Settings
    from orchestration.resources import WarehouseResource

    settings = Settings.from_env(
        {
            "LLM_USAGE_DATA_DIR": str(tmp_path / "data"),
            "LLM_USAGE_WAREHOUSE": str(tmp_path / "elsewhere.duckdb"),
            "LLM_USAGE_REPORTING_TIMEZONE": "Asia/Shanghai",
            "LLM_USAGE_DUCKDB_THREADS": "3",
            "LLM_USAGE_FIRST_LANDING_DAY": "2025-06-01",
            "LLM_USAGE_NIGHTLY_HOUR": "5",
            "LLM_USAGE_NIGHTLY_TIMEZONE": "America/New_York",
            "LLM_USAGE_DQ_MAX_OUTPUT_TOKENS": "3000",
            "LLM_USAGE_DQ_MAX_FAILING_RECORD_SHARE": "0.25",
        }
    )
    assert WarehouseResource.from_settings(settings).settings == settings
    assert Settings.from_env(settings.environment()) == settings
    assert settings.thresholds.max_output_tokens == 3000


@pytest.mark.parametrize("value", ["-5", "1.5", "soon"])
@pytest.mark.parametrize("wait", ["write_wait_seconds", "read_wait_seconds"])
def test_a_wait_that_is_not_whole_seconds_is_one_line(wait, value):
    from config.settings import Settings, SettingsError

    variable = f"LLM_USAGE_{wait.upper()}"
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert str(raised.value) == (
        f"{variable}='{value}' must be a whole number of seconds (0 or more)."
    )
    assert getattr(Settings.from_env({variable: " 0 "}), wait) == 0
