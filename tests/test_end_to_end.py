"""From generated landing files through the Dagster job to the usage-summary mart."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from conftest import SAMPLE_START, copy_data_dir
from reference import read_landing, requests, usage_totals

from cli.main import materialize
from readers.filters import all_rows_sql
from readers.warehouse import read_query


@pytest.fixture(scope="module")
def built(sample_warehouse):
    deliveries, invalid = read_landing(sample_warehouse.landing_dir)
    assert invalid == 0
    return sample_warehouse, requests(deliveries)


def _mart(settings, grain, period_start, api_key_id="*", model="*", provider="*"):
    frame = read_query(
        settings,
        "SELECT total_tokens, input_tokens, output_tokens, requests "
        "FROM main_marts.mart_usage_summary WHERE grain = ? AND period_start = ? "
        "AND api_key_id = ? AND model = ? AND provider = ? AND "
        + all_rows_sql("api_key_id", "model", "provider"),
        [grain, period_start, api_key_id, model, provider],
    )
    assert len(frame) == 1, (grain, period_start, api_key_id, model, provider)
    return {k: int(v) for k, v in frame.iloc[0].items()}


def _busiest(frame: pd.DataFrame, column: str) -> str:
    paid = frame[frame["billing_mode"] == "pay_as_you_go"]
    return paid[column].value_counts().index[0]


@pytest.mark.parametrize("grain, period_column", [("week", "week_start"), ("month", "month_start")])
def test_mart_equals_independent_sums(built, grain, period_column):
    settings, reqs = built
    key, model = _busiest(reqs, "api_key_id"), _busiest(reqs, "model")
    periods = sorted(reqs[period_column].unique())
    assert len(periods) >= 2
    for period in periods:
        in_period = reqs[reqs[period_column] == period]
        period_start = pd.Timestamp(period).date()
        cases = {
            ("*", "*"): in_period,
            (key, "*"): in_period[in_period["api_key_id"] == key],
            ("*", model): in_period[in_period["model"] == model],
        }
        for (key_filter, model_filter), expected_rows in cases.items():
            expected = usage_totals(expected_rows)
            if expected["requests"] == 0:
                continue
            actual = _mart(settings, grain, period_start, key_filter, model_filter)
            assert actual == expected, (grain, period_start, key_filter, model_filter)


def test_daily_mart_covers_every_day(built):
    settings, reqs = built
    days = read_query(
        settings,
        "SELECT period_start, requests FROM main_marts.mart_usage_summary "
        "WHERE grain = 'day' AND api_key_id = '*' AND model = '*' AND provider = '*' AND organization_id = '*' AND team_id = '*' AND project_id = '*' "
        "ORDER BY period_start",
    )
    expected = reqs[reqs["billing_mode"] == "pay_as_you_go"].groupby("event_date").size()
    assert [d.date() for d in expected.index] == [
        pd.Timestamp(d).date() for d in days["period_start"]
    ]
    assert days["requests"].tolist() == expected.tolist()


def test_rematerializing_a_day_changes_no_count(built, tmp_path, monkeypatch):
    settings = copy_data_dir(built[0], tmp_path / "data", monkeypatch)
    snapshot_sql = (
        "SELECT grain, period_start, api_key_id, model, provider, total_tokens, "
        "input_tokens, output_tokens, requests FROM main_marts.mart_usage_summary "
        "ORDER BY ALL"
    )
    raw_sql = "SELECT landing_date, count(*) AS n FROM raw.request_logs GROUP BY ALL ORDER BY ALL"
    before, raw_before = read_query(settings, snapshot_sql), read_query(settings, raw_sql)
    middle = SAMPLE_START + timedelta(days=4)
    assert materialize(settings, middle, middle)
    pd.testing.assert_frame_equal(read_query(settings, snapshot_sql), before)
    pd.testing.assert_frame_equal(read_query(settings, raw_sql), raw_before)
