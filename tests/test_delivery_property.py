"""Property (issue 11): whatever sequence of deliveries, re-deliveries, corrections,
withdrawals, file removals and re-runs over a few landing days, once every changed day
has been re-run, fct_requests, fct_usage_daily and every additive mart equal an
independent pandas computation from the landing folders as they finally stand.

Hypothesis draws the sequences (a fixed, derandomized budget, so CI is stable). The
pipeline runs in this process: ingest.load for the landing days, then `dbt run` through
dbt's Python entry point (the data tests are not needed: the comparison is the test).
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from conftest import use_data_dir
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from mart_reference import (
    DIMENSIONS,
    MARTS,
    held_filter_sets,
    same,
    select,
    with_performance_fields,
)
from pipeline_in_process import invoke_dbt, query
from reference import read_landing, requests

from ingest.load import load_partition
from ingest.warehouse import connect, ensure_raw_schema, request_model_build

LANDING_DAYS = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]  # Sun .. Tue: two ISO weeks
REQUEST_IDS = [f"r{n}" for n in range(6)]
KEYS, MODELS, PROVIDERS = (
    ["key_a", "key_b"],
    ["openai/gpt-5", "anthropic/claude-x"],
    ["openai", "bedrock"],
)
ADDITIVE_MARTS = [
    "mart_usage_summary",
    "mart_usage_by_token_type",
    "mart_web_search_usage",
    "mart_usage_by_model",
    "mart_usage_by_api_key",
    "mart_provider_distribution",
]
PERIOD_COLUMN = {"day": "event_date", "week": "week_start", "month": "month_start"}

# One delivered record: which request, on which landing day relative to its created_at
# (0 = same day, -1 = the day before: a late record), and its figures.
records = st.fixed_dictionaries(
    {
        "request_id": st.sampled_from(REQUEST_IDS),
        "days_before_landing": st.sampled_from([0, 0, 1]),
        "hour": st.sampled_from([0, 11, 23]),
        "api_key_id": st.sampled_from(KEYS),
        "model": st.sampled_from(MODELS),
        "provider": st.sampled_from(PROVIDERS),
        "billing_mode": st.sampled_from(["pay_as_you_go", "pay_as_you_go", "subscription"]),
        "input_tokens": st.integers(0, 5000),
        "output_tokens": st.integers(0, 500),
        "web_search_calls": st.sampled_from([0, 0, 2]),
        # USD as the gateway reports it (micro-dollar steps); None = unknown, not free.
        "cost_usd": st.one_of(
            st.none(),
            st.just(0.0),
            st.integers(1, 2_000_000).map(lambda micro: micro / 1_000_000),
        ),
    }
)
# A step changes one landing day's folder, or re-runs some days (as the nightly run or
# the late-file sensor would).
steps = st.one_of(
    st.tuples(
        st.just("deliver"),
        st.sampled_from(LANDING_DAYS),
        st.sampled_from(["a", "b"]),
        st.lists(records, min_size=1, max_size=4),
    ),  # writes or replaces (corrects) a file
    st.tuples(st.just("remove"), st.sampled_from(LANDING_DAYS), st.sampled_from(["a", "b"])),
    st.tuples(st.just("run"), st.sets(st.sampled_from(LANDING_DAYS), min_size=1)),
)


def _line(landing: date, r: dict) -> str:
    created = landing - timedelta(days=r["days_before_landing"])
    return json.dumps(
        {
            "request_id": r["request_id"],
            "created_at": f"{created}T{r['hour']:02d}:30:00Z",
            "api_key_id": r["api_key_id"],
            "model": r["model"],
            "provider": r["provider"],
            "billing_mode": r["billing_mode"],
            "status": "success",
            "stream": False,
            "input_tokens": r["input_tokens"],
            "output_tokens": r["output_tokens"],
            "cached_input_tokens": r["input_tokens"] // 3,
            "reasoning_tokens": r["output_tokens"] // 4,
            "web_search_calls": r["web_search_calls"],
            "latency_ms": 1000.0 + r["output_tokens"],
            "cost_usd": r["cost_usd"],
        }
    )


def _build(settings, scratch: Path) -> None:
    result = invoke_dbt(settings, "run", scratch)
    assert result.success, result.exception


def _run(settings, days, scratch) -> None:
    for day in days:
        load_partition(settings, day)
    with connect(settings) as connection:
        ensure_raw_schema(connection)
        request_model_build(connection, sorted(days), "dbt step")
    _build(settings, scratch)


def _expected_mart(name: str, rows: pd.DataFrame) -> dict:
    """{(grain, period, *filter columns): figures} for every held filter combination
    that has requests, from the reference alone."""
    figures, breakdown = MARTS[name]
    expected = {}
    for grain, column in PERIOD_COLUMN.items():
        for period, in_period in rows.groupby(column):
            choices = [
                ["*", *sorted(in_period[d].unique())] if d != breakdown else ["*"]
                for d in DIMENSIONS
            ]
            held = held_filter_sets()
            for combination in pd.MultiIndex.from_product(choices):
                chosen = dict(zip(DIMENSIONS, combination))
                kept = frozenset(d for d, v in chosen.items() if v != "*" or d == breakdown)
                if kept not in held:
                    continue  # a combination the marts do not hold (docs/metrics.md)
                matching = select(in_period, **chosen)
                if not len(matching):
                    continue
                if breakdown:
                    for value, values in figures(matching).items():
                        key = tuple({**chosen, breakdown: value}[d] for d in DIMENSIONS)
                        expected[(grain, pd.Timestamp(period), *key)] = values
                else:
                    expected[(grain, pd.Timestamp(period), *combination)] = figures(matching)
    return expected


def _assert_warehouse_equals_landing(settings) -> None:
    deliveries, invalid = read_landing(settings.landing_dir)
    assert invalid == 0
    facts = query(
        settings,
        "SELECT request_id, event_date, landing_date, input_tokens, output_tokens, "
        "billing_mode, cost_usd FROM main_facts.fct_requests ORDER BY request_id",
    )
    if deliveries.empty:
        assert facts.empty
        for name in ADDITIVE_MARTS:
            assert query(settings, f"SELECT count(*) AS n FROM main_marts.{name}")["n"].item() == 0
        return
    reference = requests(deliveries)
    expected_facts = reference.sort_values("request_id")[
        [
            "request_id",
            "event_date",
            "landing_date",
            "input_tokens",
            "output_tokens",
            "billing_mode",
            "cost_usd",
        ]
    ].reset_index(drop=True)
    expected_facts["landing_date"] = pd.to_datetime(expected_facts["landing_date"])
    expected_facts["cost_usd"] = expected_facts["cost_usd"].astype("float64")  # None -> NaN
    pd.testing.assert_frame_equal(facts, expected_facts, check_dtype=False, rtol=1e-12, atol=0.0)

    daily = query(
        settings,
        "SELECT event_date, api_key_id, model, provider, billing_mode, requests, "
        "input_tokens, output_tokens, spend_usd, requests_with_cost, tokens_with_cost "
        "FROM main_facts.fct_usage_daily "
        "ORDER BY ALL",
    )
    cost = reference["cost_usd"].astype("float64")
    expected_daily = (
        reference.assign(
            requests=1,
            spend_usd=cost.fillna(0.0),  # a missing cost adds nothing (unknown, not free)
            requests_with_cost=cost.notna().astype("int64"),
            tokens_with_cost=reference["total_tokens"].where(cost.notna(), 0),
        )
        .groupby(["event_date", "api_key_id", "model", "provider", "billing_mode"], as_index=False)[
            [
                "requests",
                "input_tokens",
                "output_tokens",
                "spend_usd",
                "requests_with_cost",
                "tokens_with_cost",
            ]
        ]
        .sum()
        .sort_values(["event_date", "api_key_id", "model", "provider", "billing_mode"])
        .reset_index(drop=True)
    )
    # Spend is a float sum: summed in another order by DuckDB, so within a tiny tolerance.
    pd.testing.assert_frame_equal(daily, expected_daily, check_dtype=False, rtol=1e-9, atol=1e-12)

    rows = with_performance_fields(reference)
    for name in ADDITIVE_MARTS:
        mart = query(settings, f"SELECT * EXCLUDE (built_at) FROM main_marts.{name}")
        mart["period_start"] = pd.to_datetime(mart["period_start"])
        mart = mart.set_index(["grain", "period_start", *DIMENSIONS])
        expected = _expected_mart(name, rows)
        assert set(mart.index) == set(expected), name  # no row missing, none left over
        for key, figures in expected.items():
            for column, value in figures.items():
                assert same(mart.loc[key, column], value), (
                    name,
                    key,
                    column,
                    mart.loc[key, column],
                    value,
                )


@pytest.mark.filterwarnings("ignore")
@hypothesis_settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(steps, min_size=2, max_size=5))
def test_facts_and_marts_equal_the_landing_folders_after_any_sequence(
    sequence, monkeypatch, tmp_path
):
    # Every example starts from an empty data folder at the same path (tmp_path is one
    # folder for all of Hypothesis' examples), and dbt's target folder is kept from one
    # example to the next: with the same project and warehouse path, dbt parses the
    # project once and reuses its partial-parse cache afterwards.
    work = tmp_path / "data"
    shutil.rmtree(work, ignore_errors=True)
    try:
        settings = use_data_dir(monkeypatch, work)
        changed: set[date] = set()
        for step in sequence:
            kind, *args = step
            if kind == "run":
                _run(settings, args[0], tmp_path)
                changed -= args[0]
                continue
            day, name = args[0], args[1]
            folder = settings.landing_dir / f"dt={day}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.jsonl"
            if kind == "deliver":
                path.write_text("".join(_line(day, r) + "\n" for r in args[2]))
            elif path.exists():
                path.unlink()
            changed.add(day)
        # The late-file sensor's part: every day whose folder changed since its last load
        # is run again (once, together); days not changed are not.
        if changed or not (settings.warehouse_path.exists()):
            _run(settings, changed or {LANDING_DAYS[0]}, tmp_path)
        _assert_warehouse_equals_landing(settings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
