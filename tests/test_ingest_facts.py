"""Ingest through the Dagster job into the facts, with every delivery fault the
generator can inject: malformed lines, duplicate deliveries and late records.

Each warehouse is compared with `reference.py`, an independent pandas reading of the
same landing files, and a warehouse built from the same records in another format
(Parquet), loaded in another order and loaded twice, is compared with the first.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest
from conftest import use_data_dir
from dagster import DagsterInstance
from reference import count_lines, read_landing, requests

from cli.main import materialize
from orchestration.dbt_assets import DBT_TARGET_DIR
from readers.warehouse import read_query
from sample_data.generate import generate_logs

START = date(2026, 2, 27)  # across a month end
DAYS = 3
LANDING_DAYS = [START + timedelta(days=n) for n in range(DAYS + 1)]  # + the day late ones land
FAULTS = dict(duplicate_rate=0.03, late_rate=0.03, malformed_rate=0.03)
REQUESTS_PER_DAY = 300
SEED = 23

FACT_COLUMNS = [
    "request_id",
    "event_date",
    "landing_date",
    "deliveries",
    "api_key_id",
    "model",
    "provider",
    "billing_mode",
    "status",
    "stream",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "web_search_calls",
    "latency_ms",
    "first_token_ms",
    "cost_usd",
]
DAILY_KEYS = ["event_date", "api_key_id", "model", "provider", "billing_mode"]
DAILY_MEASURES = [
    "requests",
    "deliveries",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "web_search_calls",
]


def _generate(landing_dir, fmt):
    """The generator's faults, plus one corrected re-delivery written by hand."""
    summary = generate_logs(
        landing_dir,
        START,
        DAYS,
        requests_per_day=REQUESTS_PER_DAY,
        seed=SEED,
        fmt=fmt,
        files_per_day=2,
        **FAULTS,
    )
    _add_correction(landing_dir)
    return summary


def _add_correction(landing_dir) -> None:
    """Re-deliver one request of the first day on the second day with a different day
    and different tokens, in a JSON Lines file beside the day's other files: the later
    delivery must replace the earlier one, even though it moves the request to another
    event day."""
    first = LANDING_DAYS[0]
    deliveries, _ = read_landing(landing_dir, [first])
    once = deliveries.drop_duplicates("request_id", keep=False)
    chosen = once[once.created_at.str.endswith("Z")].sort_values("request_id").iloc[0]
    record = {
        k: v
        for k, v in chosen.items()
        if k not in ("landing_date", "source_file", "line_number")
        # a list (tags) is a value; pd.isna would test each of its items
        and (isinstance(v, list) or not pd.isna(v))
    }
    record["created_at"] = f"{LANDING_DAYS[1]}T00:30:00.000Z"
    record["output_tokens"] = int(record["output_tokens"]) + 1000
    folder = landing_dir / f"dt={LANDING_DAYS[1]}"
    (folder / "zz-corrections.jsonl").write_text(
        json.dumps(record, default=lambda value: value.item()) + "\n"
    )


def _facts(settings) -> pd.DataFrame:
    frame = read_query(
        settings,
        f"SELECT {', '.join(FACT_COLUMNS)} FROM main_facts.fct_requests ORDER BY request_id",
    )
    for column in ("event_date", "landing_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _daily(settings) -> pd.DataFrame:
    frame = read_query(
        settings,
        f"SELECT {', '.join(DAILY_KEYS + DAILY_MEASURES)} FROM main_facts.fct_usage_daily "
        f"ORDER BY {', '.join(DAILY_KEYS)}",
    )
    frame["event_date"] = pd.to_datetime(frame["event_date"])
    return frame


def _expected_facts(deliveries: pd.DataFrame) -> pd.DataFrame:
    """fct_requests as the reference computes it: valid records, latest delivery kept."""
    frame = requests(deliveries)
    frame["deliveries"] = frame["request_id"].map(deliveries.groupby("request_id").size())
    frame["landing_date"] = pd.to_datetime(frame["landing_date"])
    return frame[FACT_COLUMNS].sort_values("request_id").reset_index(drop=True)


def _expected_daily(facts: pd.DataFrame) -> pd.DataFrame:
    grouped = facts.assign(requests=1).groupby(DAILY_KEYS, as_index=False)[DAILY_MEASURES].sum()
    return grouped.sort_values(DAILY_KEYS).reset_index(drop=True)


def _assert_same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        actual.reset_index(drop=True),
        expected.reset_index(drop=True),
        check_dtype=False,
        check_exact=False,
        rtol=1e-12,
    )


@pytest.fixture(scope="module")
def in_order(tmp_path_factory):
    """JSON Lines (gzip) with every fault, all landing days loaded in one run."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, tmp_path_factory.mktemp("in_order") / "data")
        summary = _generate(settings.landing_dir, "jsonl.gz")
        assert summary.duplicates and summary.late and summary.malformed
        assert materialize(settings, LANDING_DAYS[0], LANDING_DAYS[-1])
        deliveries, invalid = read_landing(settings.landing_dir)
        yield settings, summary, deliveries, invalid


def test_every_line_is_loaded_rejected_or_a_dropped_duplicate(in_order):
    settings, summary, deliveries, invalid = in_order
    written = summary.lines_written + 1  # and the correction, a duplicate too
    assert count_lines(settings.landing_dir) == written
    raw = read_query(
        settings,
        "SELECT (SELECT count(*) FROM raw.request_logs) AS loaded, "
        "(SELECT count(*) FROM raw.request_logs_rejected) AS rejected, "
        "(SELECT count(*) FROM main_facts.fct_requests) AS requests",
    ).iloc[0]
    duplicates = raw.loaded - raw.requests
    assert raw.loaded + raw.rejected == written
    assert raw.requests + duplicates + raw.rejected == written
    # ... and each part is what was injected, and what an independent reading finds.
    assert raw.rejected == summary.malformed == invalid
    assert duplicates == summary.duplicates + 1 == len(deliveries) - deliveries.request_id.nunique()
    assert raw.requests == summary.records


def test_facts_equal_the_independent_computation(in_order):
    settings, _, deliveries, _ = in_order
    expected = _expected_facts(deliveries)
    _assert_same(_facts(settings), expected)
    _assert_same(_daily(settings), _expected_daily(expected))


def test_reconciliation_view_accounts_for_every_record_per_landing_day(in_order):
    settings, _, deliveries, _ = in_order
    view = read_query(
        settings, "SELECT * FROM main_audit.ingest_reconciliation ORDER BY landing_date"
    )
    assert view["reconciles"].all()
    assert (view["unaccounted_records"] == 0).all()
    lines = pd.Series({day: count_lines(settings.landing_dir, [day]) for day in LANDING_DAYS})
    # Independently: a delivery is dropped when the same request_id is delivered later.
    ordered = deliveries.sort_values(["landing_date", "source_file", "line_number"])
    dropped = ordered[ordered.duplicated("request_id", keep="last")]
    kept = ordered.drop_duplicates("request_id", keep="last")
    by_day = view.set_index(pd.to_datetime(view["landing_date"]).dt.date)
    assert list(by_day.index) == LANDING_DAYS
    for day in LANDING_DAYS:
        row = by_day.loc[day]
        assert row.records_read == lines[day]
        assert row.rows_loaded == (deliveries.landing_date == day).sum()
        assert row.duplicates_dropped == (dropped.landing_date == day).sum()
        day_kept = kept[kept.landing_date == day]
        assert row.requests_in_facts == len(day_kept)
        assert row.subscription_requests == (day_kept.billing_mode == "subscription").sum()


def _requests_on(settings, day) -> set[str]:
    return set(
        read_query(
            settings, "SELECT request_id FROM main_facts.fct_requests WHERE event_date = ?", [day]
        )["request_id"]
    )


@pytest.fixture(scope="module")
def parquet_out_of_order(in_order, tmp_path_factory):
    """The same records written as Parquet, loaded out of order and then again: D+1..D+3
    first (D+1's files hold D's late records), then D, then D again; and the requests the
    first day holds after each of the first two runs. One warehouse serves both the
    out-of-order and the Parquet comparison with `in_order` (JSON Lines, in order): a
    Dagster run fewer than building each on its own."""
    first, late_day = LANDING_DAYS[0], LANDING_DAYS[1]
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, tmp_path_factory.mktemp("parquet") / "data")
        # dbt's line on its parse state is at debug level (the suite writes no dbt.log:
        # conftest).
        monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")
        summary = _generate(settings.landing_dir, "parquet")
        deliveries, invalid = read_landing(settings.landing_dir)
        on_first = []
        assert materialize(settings, late_day, LANDING_DAYS[-1])
        on_first.append(_requests_on(settings, first))
        assert materialize(settings, first, first)
        on_first.append(_requests_on(settings, first))
        assert materialize(settings, first, first)
        yield settings, summary, deliveries, invalid, on_first


def test_out_of_order_and_repeated_runs_give_identical_facts(in_order, parquet_out_of_order):
    """Load D+1..D+3 first (D+1's files hold D's late records), then D, then D again."""
    reference_settings = in_order[0]
    settings, _, deliveries, _, on_first = parquet_out_of_order
    first, late_day = LANDING_DAYS[0], LANDING_DAYS[1]
    created_on_first = (
        pd.to_datetime(deliveries.created_at, utc=True, format="ISO8601").dt.date == first
    )
    late_ids = set(
        deliveries.loc[(deliveries.landing_date == late_day) & created_on_first, "request_id"]
    ) - set(deliveries.loc[deliveries.landing_date == first, "request_id"])
    assert late_ids, "the generator put no late record of the first day into the second"

    # Materializing D+1 counts D's late records (and D's duplicates delivered again on
    # D+1) on D, their own day.
    delivered_later = set(
        deliveries.loc[(deliveries.landing_date != first) & created_on_first, "request_id"]
    )
    assert on_first[0] == delivered_later >= late_ids
    kept = requests(deliveries)
    assert on_first[1] == set(kept.loc[kept.event_date.dt.date == first, "request_id"])

    # The repeated runs, with the same settings, reused the parse state dbt wrote in the
    # run before them instead of parsing the whole project again.
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        runs = sorted(
            instance.get_runs(), key=lambda r: instance.get_run_stats(r.run_id).start_time
        )
    assert len(runs) == 3
    for run in runs[1:]:
        (dbt_log,) = DBT_TARGET_DIR.glob(f"{run.run_id[:8]}-*/dbt.log")
        assert "Nothing changed, skipping partial parsing" in dbt_log.read_text(), run.run_id
    # Each build asks the warehouse once which zone it was built in (the first build,
    # which finds none, and the next two alike), not once per model and test: ~200
    # questions of two statements each were most of a small refresh's statements. (One
    # log event per statement; the JSON log repeats the SQL within its line.)
    for run in runs:
        (dbt_log,) = DBT_TARGET_DIR.glob(f"{run.run_id[:8]}-*/dbt.log")
        asked = [
            line
            for line in dbt_log.read_text().splitlines()
            if "table_name = 'model_build_settings'" in line
        ]
        assert len(asked) == 1, run.run_id

    _assert_same(_facts(settings), _facts(reference_settings))
    _assert_same(_daily(settings), _daily(reference_settings))
    marts = "SELECT * EXCLUDE (built_at) FROM main_marts.mart_usage_summary ORDER BY ALL"
    _assert_same(read_query(settings, marts), read_query(reference_settings, marts))


def test_parquet_and_json_lines_give_identical_facts(in_order, parquet_out_of_order):
    reference_settings, json_summary, _, _ = in_order
    settings, summary, deliveries, invalid, _ = parquet_out_of_order
    assert summary.records == json_summary.records
    assert summary.lines_written == json_summary.lines_written
    assert invalid == summary.malformed
    _assert_same(_facts(settings), _facts(reference_settings))
    _assert_same(_facts(settings), _expected_facts(deliveries))
    _assert_same(_daily(settings), _daily(reference_settings))
