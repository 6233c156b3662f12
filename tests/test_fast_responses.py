"""Issue 31 item 1: fast responses held a whole day. Real LiteLLM payloads of calls that
take milliseconds (the `litellm` client with `mock_response`; in production gateway
cache hits and very fast providers) break the throughput ceiling; that was a blocking
check, so with more than 1% of a day over it the whole day was held and its tokens and
spend vanished from every mart.

Now every plausibility check on a performance field (throughput over the ceiling, first
token after the last byte, latency outside its range) is a warning with a count and
examples, and such a record keeps its tokens, requests and spend in every sum and is
left out of the figures its timing would distort only (docs/metrics.md, "Which requests
each performance figure leaves out"). The expected figures come from
tests/mart_reference.py and from the definitions written out below, never from the
warehouse's SQL."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from conftest import use_data_dir
from mart_reference import MARTS, same, select, with_performance_fields
from pipeline_in_process import query, run
from source_records import PLAN_TAG, expected_from_payload, litellm_payloads

from config.settings import Thresholds
from ingest.warehouse import connect
from orchestration.checks import RAW_KEY, to_check_result
from quality.rules import ERROR, WARNING, check_raw
from readers.filters import filter_columns

MAX_TPS = Thresholds().max_throughput_tps
MAX_LATENCY = Thresholds().max_latency_ms


def _retimed(payload: dict, suffix: str, latency_s: float, first_token_s: float | None):
    """A copy of a real payload as if the call had taken `latency_s` (first token after
    `first_token_s`): what the same call looks like from a slower provider."""
    out = copy.deepcopy(payload)
    out["litellm_call_id"] = f"{payload['litellm_call_id']}-{suffix}"
    out["id"] = out["litellm_call_id"]
    out["endTime"] = out["startTime"] + latency_s
    out["completionStartTime"] = out["startTime"] + (
        first_token_s if first_token_s is not None else latency_s
    )
    return out


def _own_record(request_id: str, day: date, **changes) -> dict:
    values = {
        "request_id": request_id,
        "created_at": f"{day.isoformat()}T12:00:00Z",
        "api_key_id": "key_timings",
        "model": "timings/model",
        "provider": "timings",
        "billing_mode": "pay_as_you_go",
        "status": "success",
        "http_status": 200,
        "stream": True,
        "input_tokens": 100,
        "output_tokens": 50,
        "latency_ms": 1000.0,
        "first_token_ms": 200.0,
        "cost_usd": 0.25,
    }
    values.update(changes)
    return values


def _figures_of(row: dict) -> dict:
    """Which figures a request feeds, written from docs/metrics.md."""
    success = row["status"] == "success"
    latency, first = row["latency_ms"], row.get("first_token_ms")
    generation = latency - first if first is not None else latency
    throughput = (
        row["output_tokens"] / (generation / 1000.0)
        if success and row["output_tokens"] > 0 and generation > 0
        else None
    )
    latency_ok = 0 < latency < MAX_LATENCY
    return {
        "latency": success and latency_ok,
        "first_token": success and row["stream"] and first is not None and first <= latency,
        "throughput": throughput is not None and latency_ok and throughput < MAX_TPS,
        "throughput_over_ceiling": throughput is not None and throughput >= MAX_TPS,
        "latency_out_of_range": not latency_ok,
        "first_token_late": first is not None and first > latency,
    }


@pytest.fixture(scope="module")
def fast_day(tmp_path_factory):
    """A day of real LiteLLM mock_response payloads (milliseconds each), the same calls
    re-timed as a slower provider would answer them and one answered in 0 ms, beside
    our own format's records with a first token after the last byte, a latency over the
    ceiling and a throughput over it; loaded, checked as the nightly job checks, built."""
    root = tmp_path_factory.mktemp("fast")
    fast = litellm_payloads() + litellm_payloads()
    successes = [p for p in fast[:9] if p["status"] == "success"]
    slow = [_retimed(p, "slow", 2.0, 0.5 if p.get("stream") else None) for p in successes]
    instant = [_retimed(p, "instant", 0.0, 0.0) for p in successes if not p.get("stream")][:1]
    payloads = fast + slow + instant
    day = datetime.fromtimestamp(payloads[0]["startTime"], UTC).date()
    own = [
        _own_record("late_first_token", day, latency_ms=800.0, first_token_ms=900.0),
        _own_record("over_an_hour", day, latency_ms=MAX_LATENCY + 1000.0),
        _own_record("cached_burst", day, output_tokens=60000, latency_ms=1100.0),
        _own_record("ordinary", day),
    ]
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, root / "data")
        settings.landing_dir.mkdir(parents=True)
        (settings.landing_dir / "sources.toml").write_text(
            f'[sources.litellm]\nformat = "litellm"\nsubscription_tags = ["{PLAN_TAG}"]\n'
        )
        folder = settings.landing_dir / "litellm" / f"dt={day.isoformat()}"
        folder.mkdir(parents=True)
        for number, payload in enumerate(payloads):
            (folder / f"{number:04d}.json").write_text(json.dumps(payload))
        own_folder = settings.landing_dir / f"dt={day.isoformat()}"
        own_folder.mkdir(parents=True)
        (own_folder / "timings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in own))

        # Loads, checks (quarantine and holds, as the nightly job's raw step) and builds.
        run(settings, [day], root, checks=True)
        held = query(settings, "SELECT * FROM raw.quality_holds")
        with connect(settings, read_only=True) as connection:
            outcomes = {o.name: o for o in check_raw(connection, day, day, Thresholds())}
        rows = [expected_from_payload(p) for p in payloads] + [
            {**r, "created_at": datetime.fromisoformat(r["created_at"])} for r in own
        ]
        yield settings, day, rows, outcomes, held


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["total_tokens"] = frame["input_tokens"] + frame["output_tokens"]
    frame["cost_usd"] = frame["cost_usd"].astype("float64")
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["event_date"] = frame["created_at"].dt.tz_localize(None).dt.normalize()
    return with_performance_fields(frame)


def test_the_fast_day_is_not_held_and_nothing_is_quarantined(fast_day):
    settings, day, rows, _, held = fast_day
    fast = [r for r in rows if _figures_of(r)["throughput_over_ceiling"]]
    assert len(fast) / len(rows) > Thresholds().max_failing_record_share  # held on main
    assert held.empty, held.to_dict("records")
    assert query(settings, "SELECT * FROM raw.quarantined_records").empty
    loaded = query(settings, "SELECT request_id FROM main_facts.fct_requests")["request_id"]
    assert sorted(loaded) == sorted(r["request_id"] for r in rows)


def test_tokens_requests_and_spend_of_every_record_are_in_the_marts(fast_day):
    settings, _, rows, _, _ = fast_day
    frame = _frame(rows)
    paid = frame[frame["billing_mode"] == "pay_as_you_go"]
    mart = query(
        settings,
        "SELECT * FROM main_marts.mart_usage_summary WHERE grain = 'day' "
        "AND api_key_id = '*' AND model = '*' AND provider = '*' AND organization_id = '*' AND team_id = '*' AND project_id = '*'",
    )
    assert mart["requests"].sum() == len(paid)
    assert mart["total_tokens"].sum() == paid["total_tokens"].sum()
    assert mart["spend_usd"].sum() == pytest.approx(paid["cost_usd"].fillna(0).sum(), rel=1e-9)
    for name in ("mart_usage_summary", "mart_usage_by_model", "mart_provider_distribution"):
        _compare(settings, frame, name)


def test_each_performance_figure_leaves_out_only_its_implausible_records(fast_day):
    settings, _, rows, _, _ = fast_day
    frame = _frame(rows)
    figures = {r["request_id"]: _figures_of(r) for r in rows if r["billing_mode"] != "subscription"}
    # The reference follows the documented definition: check it against the one above.
    assert set(frame.loc[frame["throughput_tps"].notna(), "request_id"]) == {
        i for i, f in figures.items() if f["throughput"]
    }
    throughput = query(
        settings,
        "SELECT model, throughput_requests, avg_throughput_tps FROM "
        "main_marts.mart_throughput_by_model WHERE grain = 'day' AND api_key_id = '*' "
        "AND provider = '*' AND organization_id = '*' AND team_id = '*' AND project_id = '*'",
    ).set_index("model")
    kept = frame[frame["throughput_tps"].notna()]
    assert throughput["throughput_requests"].to_dict() == kept.groupby("model").size().to_dict()
    assert (throughput["avg_throughput_tps"] < MAX_TPS).all()
    summary = query(
        settings,
        "SELECT avg_throughput_tps, avg_latency_ms, requests FROM "
        "main_marts.mart_performance_summary WHERE grain = 'day' AND api_key_id = '*' "
        "AND model = '*' AND provider = '*' AND organization_id = '*' AND team_id = '*' AND project_id = '*'",
    )
    expected = kept["output_tokens"].sum() / (kept["generation_ms"].sum() / 1000.0)
    assert summary["avg_throughput_tps"][0] == pytest.approx(expected, rel=1e-9)
    in_latency = [i for i, f in figures.items() if f["latency"]]
    assert summary["avg_latency_ms"][0] == pytest.approx(
        frame.set_index("request_id").loc[in_latency, "latency_ms"].mean(), rel=1e-9
    )
    assert summary["requests"][0] == len(figures)  # every request counts
    for name in (
        "mart_performance_summary",
        "mart_provider_summary",
        "mart_latency_by_model",
        "mart_first_token_latency_by_model",
        "mart_throughput_by_model",
    ):
        _compare(settings, frame, name)
    flags = query(
        settings,
        "SELECT request_id, in_latency_figures, in_first_token_figures, in_throughput_figures "
        "FROM main_facts.fct_requests WHERE billing_mode = 'pay_as_you_go'",
    ).set_index("request_id")
    for request_id, want in figures.items():
        got = flags.loc[request_id]
        assert bool(got["in_latency_figures"]) == want["latency"], request_id
        assert bool(got["in_first_token_figures"]) == want["first_token"], request_id
        assert bool(got["in_throughput_figures"]) == want["throughput"], request_id


def test_the_warnings_name_the_count_and_examples(fast_day):
    _, day, rows, outcomes, _ = fast_day
    for check, flag in (
        ("throughput_plausible", "throughput_over_ceiling"),
        ("first_token_valid", "first_token_late"),
        ("latency_valid", "latency_out_of_range"),
    ):
        flagged = {r["request_id"] for r in rows if _figures_of(r)[flag]}
        outcome = outcomes[check]
        assert outcome.severity == WARNING and not outcome.passed, check
        assert outcome.unexpected_count == len(flagged) > 0, check
        [expectation] = outcome.expectations
        examples = {e["request_id"] for e in expectation.examples}
        assert examples <= flagged and len(examples) == min(len(flagged), Thresholds().examples)
        assert f"{len(flagged):,} of {len(rows):,} rows fail" in outcome.explanation()
        result = to_check_result(RAW_KEY, outcome, day, day)
        assert result.severity.value == "WARN" and not result.passed
        assert result.metadata["unexpected_count"].value == len(flagged)
        assert any(e in result.metadata["explanation"].value for e in examples)
    # What still blocks: ids, times and token counts.
    blocking = {name for name, o in outcomes.items() if o.severity == ERROR}
    assert blocking == {
        "token_counts_valid",
        "token_parts_within_totals",
        "output_tokens_plausible",
        "request_keys_valid",
        "created_at_in_window",
    }
    assert all(outcomes[name].passed for name in blocking)


def _compare(settings, frame: pd.DataFrame, name: str) -> None:
    """The mart's day rows for all filters equal tests/mart_reference.py's figures."""
    figures, breakdown = MARTS[name]
    mart = query(settings, f"SELECT * FROM main_marts.{name} WHERE grain = 'day'")
    mart["period_start"] = pd.to_datetime(mart["period_start"])
    compared = 0
    paid = frame[frame["billing_mode"] == "pay_as_you_go"]
    for period, in_period in paid.groupby("event_date"):
        got = mart[mart["period_start"] == period]
        for dimension in filter_columns():
            if dimension != breakdown:
                got = got[got[dimension] == "*"]
        want = figures(select(in_period))
        if not breakdown:
            want = {None: want}
            got = got.assign(item=None)
        got = got.set_index(breakdown or "item")
        assert set(got.index) == set(want), name
        for item, values in want.items():
            for column, value in values.items():
                if column.startswith(("p50_", "p90_", "p99_", "median_")):
                    continue  # sketch-based: tests/test_sketches.py bounds them
                assert same(got.loc[item, column], value), (name, item, column)
                compared += 1
    assert compared > 3, name


def test_one_setting_moves_the_check_and_the_figures(tmp_path, monkeypatch):
    """The ceiling is declared once (config/settings.py): with LLM_USAGE_DQ_MAX_THROUGHPUT_TPS
    lowered to 200, the raw check warns about the request at 300 tokens/s and the fact
    leaves it out of the throughput figures, while the one at 100 tokens/s stays in."""
    settings = use_data_dir(monkeypatch, tmp_path / "data", LLM_USAGE_DQ_MAX_THROUGHPUT_TPS="200")
    day = date(2026, 3, 2)
    folder = settings.landing_dir / f"dt={day.isoformat()}"
    folder.mkdir(parents=True)
    own = [
        _own_record("at_100", day, output_tokens=100, latency_ms=1200.0, first_token_ms=200.0),
        _own_record("at_300", day, output_tokens=300, latency_ms=1200.0, first_token_ms=200.0),
    ]
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in own))
    run(settings, [day], tmp_path, checks=True)
    with connect(settings, read_only=True) as connection:
        outcomes = {o.name: o for o in check_raw(connection, day, day, settings.thresholds)}
    [expectation] = outcomes["throughput_plausible"].expectations
    assert [e["request_id"] for e in expectation.examples] == ["at_300"]
    flags = query(
        settings, "SELECT request_id, in_throughput_figures FROM main_facts.fct_requests"
    ).set_index("request_id")["in_throughput_figures"]
    assert flags.to_dict() == {"at_100": True, "at_300": False}
    summary = query(
        settings,
        "SELECT avg_throughput_tps FROM main_marts.mart_performance_summary WHERE grain = 'day' "
        "AND api_key_id = '*' AND model = '*' AND provider = '*' AND organization_id = '*' AND team_id = '*' AND project_id = '*'",
    )
    assert summary["avg_throughput_tps"][0] == pytest.approx(100.0, rel=1e-12)


def test_dbt_run_by_hand_without_the_ceilings_stops_with_one_line(tmp_path):
    """dbt has no ceiling of its own to fall back on (it is declared once, in
    config/settings.py): a build without the settings' environment says what to do."""
    from orchestration.dbt_assets import DBT_EXECUTABLE, DBT_PROJECT_DIR

    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_USAGE_")}
    env["LLM_USAGE_WAREHOUSE"] = str(tmp_path / "warehouse.duckdb")
    done = subprocess.run(
        [
            DBT_EXECUTABLE,
            "run",
            "--select",
            "fct_requests",
            *("--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)),
            *("--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1
    assert "LLM_USAGE_DQ_MAX_LATENCY_MS is not set" in done.stdout
    assert 'eval "$(python -m config.settings)"' in done.stdout
