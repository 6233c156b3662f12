"""The reporting time zone decides a request's day, ISO week and month, DST included;
and the picks of the summary marts follow their rules on hand-made thin and tied data."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest
from conftest import use_data_dir
from mart_reference import DIMENSIONS, MARTS
from nightly import run_window
from reference import read_landing, requests, usage_totals

from cli.main import landing_days_present
from readers.warehouse import read_query
from sample_data.generate import generate_logs

ZONES = ("America/New_York", "Asia/Shanghai")

# created_at -> the local day it belongs to in each zone. US DST starts 2026-03-08 02:00
# (UTC-5 -> UTC-4) and ends 2026-11-01 02:00; Shanghai is UTC+8 all year.
NEAR_MIDNIGHT = {
    "2026-03-08T04:59:59Z": {"America/New_York": "2026-03-07", "Asia/Shanghai": "2026-03-08"},
    "2026-03-07T23:30:00-05:00": {"America/New_York": "2026-03-07", "Asia/Shanghai": "2026-03-08"},
    "2026-03-08T05:00:00Z": {"America/New_York": "2026-03-08", "Asia/Shanghai": "2026-03-08"},
    "2026-03-08T15:59:59Z": {"America/New_York": "2026-03-08", "Asia/Shanghai": "2026-03-08"},
    "2026-03-08T16:00:00+00:00": {"America/New_York": "2026-03-08", "Asia/Shanghai": "2026-03-09"},
    "2026-03-09T03:59:59Z": {"America/New_York": "2026-03-08", "Asia/Shanghai": "2026-03-09"},
    "2026-03-09T04:00:00Z": {"America/New_York": "2026-03-09", "Asia/Shanghai": "2026-03-09"},
    "2026-11-01T03:59:59Z": {"America/New_York": "2026-10-31", "Asia/Shanghai": "2026-11-01"},
    "2026-11-01T04:00:00Z": {"America/New_York": "2026-11-01", "Asia/Shanghai": "2026-11-01"},
    "2026-11-02T04:59:59Z": {"America/New_York": "2026-11-01", "Asia/Shanghai": "2026-11-02"},
    "2026-11-02T05:00:00Z": {"America/New_York": "2026-11-02", "Asia/Shanghai": "2026-11-02"},
}
TIES_DAY = date(2026, 3, 9)  # 12:00 UTC is 08:00 in New York and 20:00 in Shanghai


def _record(
    request_id,
    created_at,
    *,
    key="key_tz",
    model="tz/model",
    provider="tz-provider",
    status="success",
    billing_mode="pay_as_you_go",
    latency_ms=1000,
    first_token_ms=200,
    input_tokens=50,
    output_tokens=100,
):
    ok = status == "success"
    return {
        "request_id": request_id,
        "created_at": created_at,
        "api_key_id": key,
        "model": model,
        "provider": provider,
        "billing_mode": billing_mode,
        "status": status,
        "http_status": 200 if ok else 502,
        "stream": True,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens if ok else 0,
        "latency_ms": latency_ms,
        "first_token_ms": first_token_ms if ok else None,
    }


def _crafted_records() -> list[dict]:
    records = [_record(f"tz-{n}", created) for n, created in enumerate(NEAR_MIDNIGHT)]
    noon = f"{TIES_DAY}T12:00:00Z"
    # Two models and two providers tie exactly; a faster third is one request too thin.
    for n in range(20):
        records.append(
            _record(f"tie-b-{n}", noon, key="key_ties", model="ties/beta", provider="prov-a")
        )
        records.append(
            _record(f"tie-a-{n}", noon, key="key_ties", model="ties/alpha", provider="prov-b")
        )
    for n in range(19):
        records.append(
            _record(
                f"tie-g-{n}",
                noon,
                key="key_ties",
                model="ties/gamma",
                provider="prov-c",
                latency_ms=10,
                first_token_ms=2,
            )
        )
    # Equal requests: the provider with more tokens is primary even though its name is later.
    for n in range(3):
        records.append(
            _record(f"tok-y-{n}", noon, key="key_tokens", provider="prov-y", input_tokens=10)
        )
        records.append(
            _record(f"tok-z-{n}", noon, key="key_tokens", provider="prov-z", input_tokens=1000)
        )
    for n in range(5):
        records.append(_record(f"thin-{n}", noon, key="key_thin"))
    for n in range(3):
        records.append(_record(f"err-{n}", noon, key="key_errors", status="error"))
    for n in range(2):
        records.append(
            _record(f"sub-{n}", noon, key="key_subscription", billing_mode="subscription")
        )
    return records


@pytest.fixture(scope="module")
def zones(tmp_path_factory):
    """One warehouse per zone, built from the same landing files."""
    root = tmp_path_factory.mktemp("zones")
    landing = root / "landing"
    for first in (date(2026, 3, 6), date(2026, 10, 30)):
        generate_logs(landing, first, 4, requests_per_day=150, seed=3)
    crafted = landing / f"dt={TIES_DAY}" / "crafted.jsonl"
    crafted.write_text("".join(json.dumps(r) + "\n" for r in _crafted_records()))
    built = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for zone in ZONES:
            settings = use_data_dir(
                monkeypatch,
                root / zone.replace("/", "_"),
                LLM_USAGE_LANDING_DIR=str(landing),
                LLM_USAGE_REPORTING_TIMEZONE=zone,
            )
            days = landing_days_present(settings)
            run_window(settings, days[0], days[-1], root / zone.replace("/", "_"), command="run")
            built[zone] = settings
        deliveries, invalid = read_landing(landing)
        assert invalid == 0
        yield built, deliveries


@pytest.mark.parametrize("zone", ZONES)
def test_requests_near_midnight_land_on_the_local_day(zones, zone):
    built, _ = zones
    facts = read_query(
        built[zone],
        "SELECT request_id, event_date, week_start, month_start FROM main_facts.fct_requests "
        "WHERE request_id LIKE 'tz-%'",
    ).set_index("request_id")
    for n, local_days in enumerate(NEAR_MIDNIGHT.values()):
        day = date.fromisoformat(local_days[zone])
        row = facts.loc[f"tz-{n}"]
        assert pd.Timestamp(row["event_date"]).date() == day, (zone, n)
        assert pd.Timestamp(row["week_start"]).date() == day - timedelta(days=day.weekday())
        assert pd.Timestamp(row["month_start"]).date() == day.replace(day=1)


@pytest.mark.parametrize("zone", ZONES)
def test_usage_per_local_period_equals_pandas_and_days_add_up(zones, zone):
    built, deliveries = zones
    local = requests(deliveries, timezone=zone)
    mart = read_query(
        built[zone],
        "SELECT grain, period_start, total_tokens, input_tokens, output_tokens, requests "
        "FROM main_marts.mart_usage_summary WHERE "
        + " AND ".join(f"{d} = '*'" for d in DIMENSIONS),
    )
    mart["period_start"] = pd.to_datetime(mart["period_start"])
    for grain, column in (("day", "event_date"), ("week", "week_start"), ("month", "month_start")):
        actual = mart[mart["grain"] == grain].set_index("period_start").drop(columns="grain")
        expected = {
            period: usage_totals(group)
            for period, group in local.groupby(column)
            if (group["billing_mode"] == "pay_as_you_go").any()
        }
        assert sorted(actual.index) == sorted(expected), (zone, grain)
        for period, figures in expected.items():
            assert actual.loc[period].to_dict() == figures, (zone, grain, period)
        if grain != "day":
            days = mart[mart["grain"] == "day"].copy()
            days["period"] = days["period_start"].map(
                lambda d: d - timedelta(days=d.weekday()) if grain == "week" else d.replace(day=1)
            )
            rolled = days.groupby("period")[["total_tokens", "requests"]].sum()
            assert rolled.to_dict() == actual[["total_tokens", "requests"]].to_dict(), (zone, grain)


def _summary(settings, mart, key, grain="day", period=TIES_DAY):
    frame = read_query(
        settings,
        f"SELECT * FROM main_marts.{mart} WHERE grain = ? AND period_start = ? "
        "AND api_key_id = ? AND model = '*' AND provider = '*'",
        [grain, period, key],
    )
    assert len(frame) == 1, (mart, key)
    return frame.iloc[0]


def test_picks_respect_the_minimum_sample_and_break_ties_by_name(zones):
    settings = zones[0]["America/New_York"]
    for grain, period in (
        ("day", TIES_DAY),
        ("week", TIES_DAY),
        ("month", TIES_DAY.replace(day=1)),
    ):
        performance = _summary(settings, "mart_performance_summary", "key_ties", grain, period)
        # alpha and beta tie on latency and throughput; gamma beats both but has 19 < 20.
        assert performance["fastest_model"] == "ties/alpha"
        assert performance["slowest_model"] == "ties/alpha"
        assert performance["highest_throughput_model"] == "ties/alpha"
        assert performance["lowest_throughput_model"] == "ties/alpha"
        assert performance["fastest_model_avg_latency_ms"] == 1000
        assert performance["highest_throughput_tps"] == pytest.approx(100 / 0.8, rel=1e-12)
        providers = _summary(settings, "mart_provider_summary", "key_ties", grain, period)
        assert providers["primary_provider"] == "prov-a"
        assert providers["fastest_response_provider"] == "prov-a"
        assert providers["provider_count"] == 3
    assert _summary(settings, "mart_provider_summary", "key_tokens")["primary_provider"] == "prov-z"


def test_thin_and_failed_filters_give_nulls_not_nan(zones):
    settings = zones[0]["America/New_York"]
    thin = _summary(settings, "mart_performance_summary", "key_thin")
    assert thin["avg_latency_ms"] == 1000 and thin["successful_requests"] == 5
    assert thin["fastest_model"] is None and thin["highest_throughput_model"] is None
    assert (
        _summary(settings, "mart_provider_summary", "key_thin")["fastest_response_provider"] is None
    )

    failed = read_query(
        settings,
        "SELECT avg_latency_ms IS NULL AS no_latency, avg_throughput_tps IS NULL AS no_throughput, "
        "median_throughput_tps IS NULL AS no_median, requests FROM main_marts.mart_performance_summary "
        "WHERE grain = 'day' AND period_start = ? AND api_key_id = 'key_errors' AND model = '*' AND provider = '*'",
        [TIES_DAY],
    ).iloc[0]
    assert (
        failed["no_latency"]
        and failed["no_throughput"]
        and failed["no_median"]
        and failed["requests"] == 3
    )
    assert _summary(settings, "mart_provider_summary", "key_errors")["success_rate"] == 0
    for mart in (
        "mart_latency_by_model",
        "mart_throughput_by_model",
        "mart_first_token_latency_by_model",
    ):
        rows = read_query(
            settings, f"SELECT count(*) AS n FROM main_marts.{mart} WHERE api_key_id = 'key_errors'"
        )
        assert rows["n"].iloc[0] == 0, mart


def test_quiet_periods_and_subscription_requests_have_no_rows(zones):
    settings = zones[0]["America/New_York"]
    for mart in MARTS:
        counts = read_query(
            settings,
            f"SELECT count(*) FILTER (WHERE period_start BETWEEN DATE '2026-03-16' AND DATE '2026-09-30') AS quiet, "
            f"count(*) FILTER (WHERE api_key_id = 'key_subscription') AS subscription, "
            f"count(*) AS rows FROM main_marts.{mart}",
        ).iloc[0]
        assert counts["rows"] > 0 and counts["quiet"] == 0 and counts["subscription"] == 0, mart
