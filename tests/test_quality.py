"""The data-quality rules (quality/rules.py) on a loaded landing day, without Dagster.

Expected counts come from the generator's fault log and from pandas over the landing
files (tests/reference.py); the DuckDB pushdown is compared with Great Expectations run
on the full frame.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest
from conftest import use_data_dir
from reference import read_landing

from ingest.load import load_partition
from quality.rules import (
    DERIVED_SQL,
    ERROR,
    RAW_ROW_RULES,
    GxValidator,
    RuleError,
    ThresholdError,
    Thresholds,
    check_raw,
    raw_relation,
)
from sample_data.generate import generate_logs

DAY = date(2026, 2, 9)
DISTRIBUTION_GUARDS = {
    "provider_hour_error_rate_below_ceiling",
    "first_token_null_share_below_ceiling",
    "model_mean_latency_within_trailing_ratio",
}
TRAILING = 3  # clean days loaded before DAY, so the trailing-days guard has history


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, tmp_path_factory.mktemp("quality") / "data")
        start = DAY - timedelta(days=TRAILING)
        generate_logs(settings.landing_dir, start, TRAILING, requests_per_day=2000, seed=5)
        summary = generate_logs(
            settings.landing_dir, DAY, 1, requests_per_day=3000, seed=5, semantic_faults=True
        )
        for offset in range(TRAILING + 1):
            load_partition(settings, start + timedelta(days=offset))
        deliveries, invalid = read_landing(settings.landing_dir, [DAY])
        assert invalid == 0
        yield settings, summary, deliveries


@pytest.fixture(scope="module")
def validator():
    return GxValidator()


def _open(path):
    connection = duckdb.connect(str(path))
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def _by_name(outcomes):
    return {o.name: o for o in outcomes}


def test_injected_faults_fail_the_right_checks_with_exact_counts(loaded):
    settings, summary, deliveries = loaded
    with _open(settings.warehouse_path) as connection:
        outcomes = _by_name(check_raw(connection, DAY, DAY, Thresholds(min_requests=10)))

    frame = deliveries.copy()
    for column in ("cached_input_tokens", "cache_write_tokens"):
        frame[column] = frame[column].fillna(0)
    over_cached = frame[frame.cached_input_tokens + frame.cache_write_tokens > frame.input_tokens]
    late_first = frame[frame.first_token_ms.notna() & (frame.first_token_ms > frame.latency_ms)]
    assert len(over_cached) == summary.semantic["cached_above_input"] > 0
    assert len(late_first) == summary.semantic["first_token_after_last_byte"] > 0

    failed_errors = {n for n, o in outcomes.items() if o.severity == ERROR and not o.passed}
    assert failed_errors == {"token_parts_within_totals"}
    # A first token after the last byte is a warning: counted with examples, never blocking
    # (the record keeps its sums and leaves the first-token figures; issue 31 item 1).
    assert outcomes["first_token_valid"].severity == "warning"
    assert not outcomes["first_token_valid"].passed

    parts = {e.name: e for e in outcomes["token_parts_within_totals"].expectations}
    assert parts["cache_read_plus_write_le_input"].unexpected_count == len(over_cached)
    assert parts["reasoning_le_output"].success
    examples = parts["cache_read_plus_write_le_input"].examples
    assert examples and {e["request_id"] for e in examples} <= set(over_cached.request_id)
    one = over_cached.set_index("request_id").loc[examples[0]["request_id"]]
    assert examples[0]["input_tokens"] == one.input_tokens
    assert examples[0]["cache_read_plus_write"] == one.cached_input_tokens + one.cache_write_tokens

    first_token = {e.name: e for e in outcomes["first_token_valid"].expectations}
    assert first_token["first_token_le_latency"].unexpected_count == len(late_first)
    assert {e["request_id"] for e in first_token["first_token_le_latency"].examples} <= set(
        late_first.request_id
    )
    assert "first_token_le_latency: " in outcomes["first_token_valid"].explanation()

    # The outage: one provider-hour fails, all of whose requests are the injected burst.
    burst = outcomes["provider_error_rate"]
    assert burst.severity == "warning" and not burst.passed
    [flagged] = burst.expectations[0].examples
    assert burst.expectations[0].unexpected_count == 1
    assert flagged["provider"] == summary.semantic["provider_error_burst_provider"]
    assert flagged["errors"] == flagged["requests"] == summary.semantic["provider_error_burst"]


def test_clean_days_pass_every_check(loaded):
    settings, _, _ = loaded
    first, last = DAY - timedelta(days=TRAILING), DAY - timedelta(days=1)
    with _open(settings.warehouse_path) as connection:
        outcomes = check_raw(connection, first, last, Thresholds())
    assert [o.name for o in outcomes if not o.passed] == []
    assert all(o.rows_checked > 0 for o in outcomes)


# expectation -> SET clause that breaks exactly that expectation (applied to two requests).
TAMPERING = {
    "output_tokens_below_ceiling": "output_tokens = 250000, reasoning_tokens = 0, latency_ms = 900000, first_token_ms = 1000",
    "latency_ms_in_range": "latency_ms = 0, first_token_ms = 0",
    "reasoning_le_output": "reasoning_tokens = output_tokens + 7",
    "cache_write_tokens_non_negative": "cache_write_tokens = -5",
    "throughput_below_ceiling": "output_tokens = 60000, reasoning_tokens = 0, latency_ms = 2000, first_token_ms = 1000",
    "created_at_in_landing_window": "created_at = created_at + INTERVAL 3 DAY",
}


def _tampered_copy(settings, tmp_path):
    """A copy of the warehouse with TAMPERING applied to chosen clean rows of DAY."""
    path = tmp_path / "tampered.duckdb"
    shutil.copyfile(settings.warehouse_path, path)
    connection = _open(path)
    clean = (
        "landing_date = ? and status = 'success' and stream and output_tokens > 100 "
        "and first_token_ms < latency_ms and coalesce(cached_input_tokens, 0) "
        "+ coalesce(cache_write_tokens, 0) <= input_tokens"
    )
    ids = [
        row[0]
        for row in connection.execute(
            f"select request_id from raw.request_logs where {clean} order by request_id limit ?",
            [DAY, 2 * len(TAMPERING)],
        ).fetchall()
    ]
    chosen = {}
    for i, (rule, assignment) in enumerate(TAMPERING.items()):
        pair = ids[2 * i : 2 * i + 2]
        connection.execute(
            f"update raw.request_logs set {assignment} where request_id in (?, ?)", pair
        )
        chosen[rule] = set(pair)
    return connection, chosen


def test_each_rule_flags_exactly_the_tampered_rows(loaded, tmp_path):
    settings, summary, _ = loaded
    connection, chosen = _tampered_copy(settings, tmp_path)
    with connection:
        outcomes = check_raw(connection, DAY, DAY, Thresholds(min_requests=10))
    found = {e.name: e for o in outcomes for e in o.expectations}
    injected = {
        "cache_read_plus_write_le_input": summary.semantic["cached_above_input"],
        "first_token_le_latency": summary.semantic["first_token_after_last_byte"],
    }
    for name, expectation in found.items():
        if name in chosen:
            flagged = {e["request_id"] for e in expectation.examples}
            assert expectation.unexpected_count == len(chosen[name]), name
            assert flagged == chosen[name], name
        elif name in injected:
            assert expectation.unexpected_count == injected[name], name
        elif name not in DISTRIBUTION_GUARDS:  # tested on their own below
            assert expectation.success, (name, expectation.examples)


def test_pushdown_agrees_with_gx_on_the_full_frame(loaded, tmp_path, validator):
    """For every row rule, GX on all rows in scope finds what the compact path found."""
    settings, _, _ = loaded
    connection, _ = _tampered_copy(settings, tmp_path)
    thresholds = Thresholds()
    with connection:
        outcomes = check_raw(connection, DAY, DAY, thresholds)
        compact = {e.name: e.unexpected_count for o in outcomes for e in o.expectations}
        source, params = raw_relation(DAY, DAY)
        for rule in RAW_ROW_RULES:
            columns = ", ".join(dict.fromkeys(("request_id", *rule.columns)))
            full = connection.execute(
                f"select {columns} from {source} where {rule.scope}", params
            ).fetchdf()
            result = validator.validate(
                full, rule.expectation(validator.gxe, thresholds), ["request_id"], 3
            )
            assert result.result["unexpected_count"] == compact[rule.name], rule.name
    assert sum(compact.values()) > 0


def test_thresholds_come_from_the_environment(loaded):
    settings, _, deliveries = loaded
    thresholds = Thresholds.from_env({"LLM_USAGE_DQ_MAX_OUTPUT_TOKENS": "3000"})
    assert thresholds.max_output_tokens == 3000
    assert thresholds.max_latency_ms == Thresholds().max_latency_ms
    with _open(settings.warehouse_path) as connection:
        outcomes = _by_name(check_raw(connection, DAY, DAY, thresholds))
    [expectation] = outcomes["output_tokens_plausible"].expectations
    assert expectation.unexpected_count == int((deliveries.output_tokens > 3000).sum()) > 0


@pytest.mark.parametrize("value", ["lots", "-1"])
def test_a_bad_threshold_names_the_variable(value):
    with pytest.raises(ThresholdError, match="LLM_USAGE_DQ_MAX_LATENCY_MS"):
        Thresholds.from_env({"LLM_USAGE_DQ_MAX_LATENCY_MS": value})


def test_derived_columns_match_the_metric_catalogue():
    """throughput as dbt defines it (macros/derived_fields.sql), computed by DuckDB on a tiny example."""
    frame = pd.DataFrame(
        {
            "status": ["success", "success", "error", "success"],
            "output_tokens": [500, 500, 0, 0],
            "latency_ms": [2000.0, 2000.0, 300.0, 100.0],
            "first_token_ms": [1000.0, None, None, 50.0],
        }
    )
    with duckdb.connect() as connection:
        connection.register("frame", frame)
        values = connection.execute(f"select {DERIVED_SQL['throughput_tps']} from frame").fetchall()
    assert [v[0] for v in values] == [500.0, 250.0, None, None]


def test_a_rule_gx_cannot_evaluate_is_an_error_not_a_data_failure(validator):
    frame = pd.DataFrame({"request_id": ["r1"], "latency_ms": [5.0]})
    expectation = validator.gxe.ExpectColumnPairValuesToBeEqual(
        column_A="latency_ms", column_B="no_such_column"
    )
    with pytest.raises(RuleError, match="no_such_column"):
        validator.validate(frame, expectation, ["request_id"], 3)


def test_distribution_guards_flag_a_slow_model_and_missing_first_tokens(loaded, tmp_path):
    settings, _, _ = loaded
    path = tmp_path / "drifted.duckdb"
    shutil.copyfile(settings.warehouse_path, path)
    with _open(path) as connection:
        model = connection.execute(
            "select model from raw.request_logs where landing_date = ? and status = 'success' "
            "group by model order by count(*) desc limit 1",
            [DAY],
        ).fetchone()[0]
        connection.execute(
            "update raw.request_logs set latency_ms = latency_ms * 3, "
            "first_token_ms = first_token_ms * 3 where landing_date = ? and model = ?",
            [DAY, model],
        )
        # Every 10th streamed success loses its first_token_ms: a 10% share.
        connection.execute(
            "update raw.request_logs set first_token_ms = null where request_id in ("
            "select request_id from (select request_id, row_number() over (order by request_id) "
            "as n from raw.request_logs where landing_date = ? and stream and status = 'success') "
            "where n % 10 = 0)",
            [DAY],
        )
        streamed, missing = connection.execute(
            "select count(*), count(*) filter (where first_token_ms is null) "
            "from raw.request_logs where landing_date = ? and stream and status = 'success'",
            [DAY],
        ).fetchone()
        outcomes = _by_name(check_raw(connection, DAY, DAY, Thresholds()))

    [slow] = outcomes["model_latency_vs_trailing"].expectations
    assert not slow.success and [e["model"] for e in slow.examples] == [model]
    [share] = outcomes["first_token_null_share"].expectations
    assert not share.success
    assert share.examples == [
        {
            "null_share": missing / streamed,
            "landing_date": str(DAY),
            "streamed_successes": streamed,
            "missing_first_token": missing,
        }
    ]
