"""Shared fixtures: a temporary data directory per test, and one materialized data set."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from config.settings import Settings  # noqa: E402

_ENV_KEYS = (
    "LLM_USAGE_DATA_DIR",
    "LLM_USAGE_LANDING_DIR",
    "LLM_USAGE_WAREHOUSE",
    "DAGSTER_HOME",
    "LLM_USAGE_REPORTING_TIMEZONE",
)


def pytest_configure(config: pytest.Config) -> None:
    """Build dbt's manifest once, in the controlling process, before any worker starts.

    Loading the definitions builds it when it is stale (orchestration/dbt_assets.py); with
    the suite on two workers (pytest-xdist), both would otherwise run `dbt parse` into the
    same target folder at once.
    """
    if hasattr(config, "workerinput"):
        return
    from orchestration.dbt_assets import prepare_manifest

    prepare_manifest()


def use_data_dir(monkeypatch: pytest.MonkeyPatch, data_dir: Path, **extra: str) -> Settings:
    """Point every setting at `data_dir` for this test, and return the settings."""
    for key in _ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LLM_USAGE_DATA_DIR", str(data_dir))
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    for key, value in {
        "LLM_USAGE_LANDING_DIR": settings.landing_dir,
        "LLM_USAGE_WAREHOUSE": settings.warehouse_path,
        "DAGSTER_HOME": settings.dagster_home,
    }.items():
        monkeypatch.setenv(key, str(value))
    return settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return use_data_dir(monkeypatch, tmp_path / "data")


# A small but complete data set: 10 landing days from a Monday across a month end,
# so it holds whole and partial ISO weeks and two months.
SAMPLE_START = date(2026, 1, 26)
SAMPLE_DAYS = 10
SAMPLE_REQUESTS_PER_DAY = 1500
