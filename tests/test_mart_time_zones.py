"""The reporting time zone decides a request's day, ISO week and month, DST included;
and the picks of the summary marts follow their rules on hand-made thin and tied data."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest
from conftest import use_data_dir
from mart_reference import (
    DIMENSIONS,
    HOURLY_MARTS,
    MARTS,
    compare_hours,
    same,
    with_local_hours,
    with_performance_fields,
)
from nightly import run_window
from reference import read_landing, requests, usage_totals

from cli.main import landing_days_present
from readers.warehouse import read_query
from sample_data.generate import generate_logs

ZONES = ("America/New_York", "Asia/Shanghai")
# The hour grain is checked in these too: half- and quarter-hour offsets from UTC.
HOURLY_ZONES = (*ZONES, "Asia/Kolkata", "Asia/Kathmandu")
HOURLY_ZONE_MODELS = tuple(f"+{mart}" for mart in (*sorted(HOURLY_MARTS), "mart_usage_summary"))
# Built with the default hourly retention (90 days): its March hours are gone.
RETENTION_ZONE = "Asia/Shanghai"

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

# created_at -> (local hour label, UTC offset in minutes) in New York, around its DST
# changes: 02:00 on 2026-03-08 does not exist; 01:00 on 2026-11-01 happens twice.
DST_HOURS = {
    "2026-03-08T06:59:59Z": ("2026-03-08 01:00", -300),
    "2026-03-08T07:00:00Z": ("2026-03-08 03:00", -240),
    "2026-11-01T05:00:00Z": ("2026-11-01 01:00", -240),
    "2026-11-01T05:59:59Z": ("2026-11-01 01:00", -240),
    "2026-11-01T06:00:00Z": ("2026-11-01 01:00", -300),
    "2026-11-01T06:30:00Z": ("2026-11-01 01:00", -300),
    "2026-11-01T07:00:00Z": ("2026-11-01 02:00", -300),
}
# created_at -> local hour label in Kolkata (+05:30) and Kathmandu (+05:45).
OFFSET_HOURS = {
    "2026-03-09T04:14:59Z": {
        "Asia/Kolkata": "2026-03-09 09:00",
        "Asia/Kathmandu": "2026-03-09 09:00",
    },
    "2026-03-09T04:15:00Z": {
        "Asia/Kolkata": "2026-03-09 09:00",
        "Asia/Kathmandu": "2026-03-09 10:00",
    },
    "2026-03-09T04:29:59Z": {
        "Asia/Kolkata": "2026-03-09 09:00",
        "Asia/Kathmandu": "2026-03-09 10:00",
    },
    "2026-03-09T04:30:00Z": {
        "Asia/Kolkata": "2026-03-09 10:00",
        "Asia/Kathmandu": "2026-03-09 10:00",
    },
}


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
    records += [
        _record(f"hour-{n}", created, key="key_hours")
        for n, created in enumerate([*DST_HOURS, *OFFSET_HOURS])
    ]
    # One request every half hour through New York's 23-hour and 25-hour days.
    for first, hours in (("2026-03-08T05:10:00Z", 23), ("2026-11-01T04:10:00Z", 25)):
        for n in range(hours * 2):
            at = pd.Timestamp(first) + pd.Timedelta(minutes=30 * n)
            records.append(
                _record(f"dst-{first[:10]}-{n}", at.strftime("%Y-%m-%dT%H:%M:%SZ"), key="key_dst")
            )
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
        for zone in HOURLY_ZONES:
            if zone == RETENTION_ZONE:
                monkeypatch.delenv("LLM_USAGE_HOURLY_RETENTION_DAYS", raising=False)
            settings = use_data_dir(
                monkeypatch,
                root / zone.replace("/", "_"),
                LLM_USAGE_LANDING_DIR=str(landing),
                LLM_USAGE_REPORTING_TIMEZONE=zone,
                # The data spans March to November: keep every hour, but in the zone
                # that checks the default retention (RETENTION_ZONE).
                **({} if zone == RETENTION_ZONE else {"LLM_USAGE_HOURLY_RETENTION_DAYS": "366"}),
            )
            days = landing_days_present(settings)
            # The zones of the hour grain alone are read only through the hourly marts
            # and the daily summary their hours add up to: those and what they are built from.
            select = () if zone in ZONES else HOURLY_ZONE_MODELS
            scratch = root / zone.replace("/", "_")
            run_window(settings, days[0], days[-1], scratch, command="run", select=select)
            built[zone] = settings
        deliveries, invalid = read_landing(landing)
        assert invalid == 0
        yield built, deliveries


@pytest.fixture(scope="module")
def local_rows(zones):
    """zone -> the reference's requests in that zone's local hours (with_local_hours of
    with_performance_fields), computed once per zone for the module; tests only read."""
    _, deliveries = zones
    computed = {}

    def rows(zone: str) -> pd.DataFrame:
        if zone not in computed:
            local = with_performance_fields(requests(deliveries, timezone=zone))
            computed[zone] = with_local_hours(local, zone)
        return computed[zone]

    return rows


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


# ------------------------------------------------------------------------ the hour grain


def _hourly_mart(settings, name="mart_usage_by_hour") -> pd.DataFrame:
    return read_query(settings, f"SELECT * EXCLUDE (built_at) FROM main_marts.{name}")


@pytest.mark.parametrize("name", sorted(HOURLY_MARTS))
@pytest.mark.parametrize("zone", HOURLY_ZONES)
def test_hourly_figures_equal_pandas_in_the_local_hours(zones, local_rows, zone, name):
    """Every hour of every filter compared equals the independent computation in that
    zone's local hours, 23- and 25-hour days (New York) and :30 / :45 offsets included."""
    built, _ = zones
    rows = local_rows(zone)
    if zone == RETENTION_ZONE:
        rows = rows[rows["event_date"] > rows["event_date"].max() - pd.Timedelta(days=90)]
    model = rows["model"].value_counts().index[0]
    provider = rows[rows["model"] == model]["provider"].value_counts().index[0]
    filters = [
        {},
        {"api_key_id": "key_hours"},
        {"model": model},
        {"provider": provider},
        {"model": model, "provider": provider},
    ]
    assert compare_hours(_hourly_mart(built[zone], name), rows, filters, name) > 1000


def test_new_york_days_have_23_and_25_hours_told_apart_by_offset(zones):
    mart = _hourly_mart(zones[0]["America/New_York"])
    mart = mart[mart["api_key_id"] == "key_hours"]
    hours = {
        (pd.Timestamp(r["hour_label"]).strftime("%Y-%m-%d %H:%M"), r["utc_offset_minutes"])
        for _, r in mart.iterrows()
    }
    assert set(DST_HOURS.values()) <= hours
    assert sum(1 for label, _ in hours if label == "2026-11-01 01:00") == 2
    dst = _hourly_mart(zones[0]["America/New_York"])
    others = [d for d in DIMENSIONS if d != "api_key_id"]
    dst = dst[(dst["api_key_id"] == "key_dst") & (dst[others] == "*").all(axis=1)]
    days = pd.to_datetime(dst["event_date"])
    spring = dst[days == pd.Timestamp("2026-03-08")]
    assert len(spring) == 23 and spring["hour_label"].nunique() == 23
    assert pd.Timestamp("2026-03-08 02:00") not in set(pd.to_datetime(spring["hour_label"]))
    fall = dst[days == pd.Timestamp("2026-11-01")]
    assert len(fall) == 25 and fall["hour_label"].nunique() == 24
    assert set(fall["utc_offset_minutes"]) == {-240, -300}
    assert (fall["requests"] == 2).all() and (spring["requests"] == 2).all()


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Asia/Kathmandu"])
def test_half_and_quarter_hour_zones_bucket_by_local_hour(zones, zone):
    mart = _hourly_mart(zones[0][zone])
    others = [d for d in DIMENSIONS if d != "api_key_id"]
    mart = mart[(mart["api_key_id"] == "key_hours") & (mart[others] == "*").all(axis=1)]
    starts = pd.to_datetime(mart["period_start"], utc=True)
    assert set(starts.dt.minute) == {30 if zone == "Asia/Kolkata" else 15}
    labels = dict(
        zip(
            mart["hour_label"].map(lambda t: pd.Timestamp(t).strftime("%Y-%m-%d %H:%M")),
            mart["requests"],
        )
    )
    expected = pd.Series([hours[zone] for hours in OFFSET_HOURS.values()]).value_counts()
    for label, count in expected.items():
        assert labels[label] == count, (zone, label)


@pytest.mark.parametrize("zone", HOURLY_ZONES)
def test_hours_of_each_local_day_add_up_to_the_day(zones, zone):
    """mart_usage_by_hour's hours of a local day = mart_usage_summary's day row, for every
    filter combination the marts hold (both marts from the same facts, built apart)."""
    settings = zones[0][zone]
    filters = ", ".join(DIMENSIONS)
    bad = read_query(
        settings,
        f"""
        WITH hours AS (
            SELECT event_date AS period_start, {filters}, sum(requests) AS requests,
                   sum(total_tokens) AS total_tokens, sum(input_tokens) AS input_tokens,
                   sum(output_tokens) AS output_tokens, sum(spend_usd) AS spend_usd
            FROM main_marts.mart_usage_by_hour GROUP BY ALL
        ), days AS (
            SELECT period_start, {filters}, requests, total_tokens, input_tokens,
                   output_tokens, spend_usd
            FROM main_marts.mart_usage_summary WHERE grain = 'day'
        )
        SELECT count(*) AS n, count(*) FILTER (
            WHERE h.requests IS DISTINCT FROM d.requests
               OR h.total_tokens IS DISTINCT FROM d.total_tokens
               OR h.input_tokens IS DISTINCT FROM d.input_tokens
               OR h.output_tokens IS DISTINCT FROM d.output_tokens
               OR abs(coalesce(h.spend_usd, -1) - coalesce(d.spend_usd, -2)) > 1e-9
        ) AS bad
        FROM hours AS h FULL OUTER JOIN days AS d USING (period_start, {filters})
        WHERE period_start >= (SELECT min(event_date) FROM main_marts.mart_usage_by_hour)
        """,
    ).iloc[0]
    assert bad["n"] > 100 and bad["bad"] == 0, zone


def test_hourly_detail_older_than_the_retention_is_dropped(zones):
    """Default retention, 90 days back from the latest event day (2026-11-02): the March
    days keep their day, week and month rows but have no hours."""
    built, deliveries = zones
    settings = built[RETENTION_ZONE]
    latest = requests(deliveries, timezone=RETENTION_ZONE)["event_date"].max()
    for table in (
        "main_facts.fct_usage_hourly",
        "main_facts.fct_latency_sketch_hourly",
        "main_marts.mart_usage_by_hour",
        "main_marts.mart_latency_by_hour",
    ):
        days = read_query(settings, f"SELECT DISTINCT event_date FROM {table}")["event_date"]
        days = pd.to_datetime(days)
        assert (days >= latest - pd.Timedelta(days=89)).all(), table
        assert len(days) >= 4, table  # the November days keep their hours
    march = read_query(
        settings,
        "SELECT count(*) AS n FROM main_marts.mart_usage_summary "
        "WHERE grain = 'day' AND period_start < DATE '2026-04-01'",
    )["n"].iloc[0]
    assert march > 0


def test_report_by_hour_in_new_york_equals_pandas_and_tells_repeated_hours_apart(
    zones, local_rows, capsys, monkeypatch
):
    from mart_reference import usage_by_hour

    from cli.main import main

    zone = "America/New_York"
    built, _ = zones
    for name, value in built[zone].environment().items():
        monkeypatch.setenv(name, value)
    rows = local_rows(zone)

    main(["report", "--period", "hour", "--date", "2026-11-01T01", "--api-key", "key_dst",
          "--format", "json"])  # fmt: skip
    hours = json.loads(capsys.readouterr().out)["hours"]
    assert [(h["hour_start"], h["utc_offset"], h["requests"]) for h in hours] == [
        ("2026-11-01T05:00:00+00:00", "UTC-04:00", 2),
        ("2026-11-01T06:00:00+00:00", "UTC-05:00", 2),
    ]

    main(["report", "--period", "day", "--date", "2026-11-01", "--by-hour", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    day = rows[rows["event_date"] == pd.Timestamp("2026-11-01")]
    expected = {pd.Timestamp(h).isoformat(): usage_by_hour(g) for h, g in day.groupby("hour_start")}
    assert [h["hour_start"] for h in report["by_hour"]] == sorted(expected)
    assert len(report["by_hour"]) == 25
    for hour in report["by_hour"]:
        for column, value in hour.items():
            if column in expected[hour["hour_start"]]:
                assert same(value, expected[hour["hour_start"]][column]), (hour, column)
    assert (
        sum(h["requests"] for h in report["by_hour"])
        == report["panels"]["usage_summary"]["requests"]
    )

    # The hour clocks skip names the hours either side; a day with an hour is refused.
    with pytest.raises(SystemExit):
        main(["report", "--period", "hour", "--date", "2026-03-08T02"])
    assert "2026-03-08T01 (before) and 2026-03-08T03 (after)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--period", "day", "--date", "2026-03-08T02"])
    assert "names an hour" in capsys.readouterr().err
    main(["report", "--period", "day", "--date", "2026-03-08", "--by-hour"])
    table = capsys.readouterr().out
    assert "2026-03-08 01:00 (UTC-05:00)" in table and "2026-03-08 03:00 (UTC-04:00)" in table
    assert "2026-03-08 02:00" not in table


def test_a_day_reaching_into_todays_landing_day_is_partial_as_of_its_latest_request(
    zones, capsys, monkeypatch
):
    """While today's landing day is still arriving (the intraday refresh loads it), the
    local days reaching into it are partial, "as of" the latest request loaded."""
    from cli.main import main
    from readers import coverage

    zone = "America/New_York"
    built, deliveries = zones
    for name, value in built[zone].environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(coverage, "landing_day_in_progress", lambda: date(2026, 11, 2))
    local = requests(deliveries, timezone=zone)
    paid = local[(local["billing_mode"] == "pay_as_you_go")]
    latest = pd.to_datetime(
        paid[paid["event_date"] == pd.Timestamp("2026-11-02")]["created_at"],
        utc=True,
        format="ISO8601",
    ).max()

    main(["report", "--period", "day", "--date", "2026-11-02", "--format", "json"])
    today = json.loads(capsys.readouterr().out)
    assert today["partial"] is True
    assert today["as_of"] == f"{latest.tz_convert(zone):%Y-%m-%d %H:%M}"
    main(["report", "--period", "day", "--date", "2026-10-31", "--format", "json"])
    before = json.loads(capsys.readouterr().out)
    assert before["partial"] is False and "as_of" not in before
    main(["report", "--period", "week", "--date", "2026-11-02"])
    assert f", as of {latest.tz_convert(zone):%Y-%m-%d %H:%M}" in capsys.readouterr().out
    # Without --date the report opens on today so far, not on the latest complete day.
    main(["report", "--period", "day", "--format", "json"])
    assert json.loads(capsys.readouterr().out)["period_start"] == "2026-11-02"
