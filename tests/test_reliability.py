"""Issue 11: nothing lost, nothing counted twice, whatever the deliveries, corrections,
withdrawals, odd values and hostile files. One test (or more) per numbered item; each
compares the warehouse with what the landing folders say, never with constants."""

from __future__ import annotations

import json
import os
from datetime import date

import pandas as pd
import pytest

from ingest.load import landing_days_on_disk, load_partition
from pipeline_in_process import dbt_build, query, run

DAY_1, DAY_2, DAY_3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


def record(request_id: str, created_at: str, **changes) -> dict:
    values = {
        "request_id": request_id, "created_at": created_at, "api_key_id": "key_a",
        "model": "openai/gpt-5", "provider": "openai", "billing_mode": "pay_as_you_go",
        "status": "success", "http_status": 200, "stream": True, "input_tokens": 100,
        "output_tokens": 20, "latency_ms": 900.0, "first_token_ms": 300.0,
    }
    values.update(changes)
    return values


def write(settings, day: date, name: str, records: list[dict]):
    folder = settings.landing_dir / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def facts(settings) -> pd.DataFrame:
    return query(
        settings,
        "SELECT request_id, event_date, landing_date, output_tokens FROM main_facts.fct_requests "
        "ORDER BY request_id, event_date",
    )


def daily_requests(settings) -> dict:
    frame = query(settings, "SELECT event_date, sum(requests) AS n FROM main_facts.fct_usage_daily GROUP BY 1")
    return {row.event_date.date(): int(row.n) for row in frame.itertuples() if row.n}


def queue(settings) -> list[date]:
    return [d.date() for d in query(settings, "SELECT landing_date FROM raw.pending_model_builds")["landing_date"]]


def test_item1_removed_landing_files_leave_the_facts_on_re_run(data_dir, tmp_path):
    """Removing a landing day's file and re-running the day must take its requests out of
    the facts and marts (before: raw emptied, facts kept every request)."""
    write(data_dir, DAY_1, "a.jsonl", [record("keep", "2026-03-02T10:00:00Z")])
    removed = write(data_dir, DAY_1, "b.jsonl", [
        record("gone_1", "2026-03-02T11:00:00Z"), record("gone_late", "2026-03-01T23:00:00Z"),
    ])
    run(data_dir, [DAY_1], tmp_path)
    assert set(facts(data_dir)["request_id"]) == {"keep", "gone_1", "gone_late"}

    removed.unlink()
    run(data_dir, [DAY_1], tmp_path)
    assert facts(data_dir)["request_id"].tolist() == ["keep"]
    assert daily_requests(data_dir) == {DAY_1: 1}
    summary = query(data_dir, "SELECT sum(requests) AS n FROM main_marts.mart_usage_summary "
                    "WHERE grain = 'month' AND api_key_id = '*' AND model = '*' AND provider = '*'")
    assert int(summary["n"].sum()) == 1
    assert query(data_dir, "SELECT count(*) AS n FROM raw.replaced_deliveries")["n"].item() == 0


def test_item2_corrections_and_withdrawals_keep_the_latest_surviving_delivery(data_dir, tmp_path):
    """A request corrected to another event day on a later landing day must leave its
    old day; withdrawing the correction must bring the earlier delivery back."""
    write(data_dir, DAY_1, "a.jsonl", [
        record("moved", "2026-03-01T22:00:00Z", output_tokens=1),  # late, on the day before
        record("stays", "2026-03-02T09:00:00Z"),
    ])
    run(data_dir, [DAY_1], tmp_path)
    correction = write(data_dir, DAY_2, "fix.jsonl", [
        record("moved", "2026-03-03T01:00:00Z", output_tokens=2),
    ])
    run(data_dir, [DAY_2], tmp_path)  # only the correction's landing day is re-run
    got = facts(data_dir)
    assert got[got.request_id == "moved"][["event_date", "output_tokens"]].values.tolist() == [
        [pd.Timestamp(DAY_3 - (DAY_3 - date(2026, 3, 3))), 2]
    ]
    assert daily_requests(data_dir) == {DAY_1: 1, date(2026, 3, 3): 1}

    correction.unlink()  # the correction is withdrawn
    run(data_dir, [DAY_2], tmp_path)
    got = facts(data_dir)
    assert got[got.request_id == "moved"][["event_date", "output_tokens"]].values.tolist() == [
        [pd.Timestamp(date(2026, 3, 1)), 1]
    ]
    assert daily_requests(data_dir) == {date(2026, 3, 1): 1, DAY_1: 1}


def test_item2_the_nightly_build_tests_the_latest_delivery_on_the_days_it_touched(data_dir, tmp_path):
    """The build's own test finds a request kept on two days, in the build itself."""
    write(data_dir, DAY_1, "a.jsonl", [record("r1", "2026-03-02T10:00:00Z")])
    run(data_dir, [DAY_1], tmp_path)
    with __import__("duckdb").connect(str(data_dir.warehouse_path)) as connection:
        # A stale copy of r1 on another day, as the old incremental logic left behind.
        connection.execute(
            "INSERT INTO main_facts.fct_requests SELECT * REPLACE (DATE '2026-03-03' AS event_date) "
            "FROM main_facts.fct_requests"
        )
        connection.execute("INSERT INTO raw.pending_model_builds VALUES (DATE '2026-03-02', 'test', now())")
    result = dbt_build(data_dir, tmp_path, "--select", "assert_requests_keep_their_latest_delivery")
    assert result.returncode != 0 and "assert_requests_keep_their_latest_delivery" in result.stdout


def test_item3_a_failing_mart_test_leaves_the_day_queued(data_dir, tmp_path):
    """A mart test that fails (here: a '*' model that slipped past the contract makes two
    "all" rows) must not let the on-run-end hook mark the build done."""
    write(data_dir, DAY_1, "a.jsonl", [record("r1", "2026-03-02T10:00:00Z")])
    run(data_dir, [DAY_1], tmp_path)
    assert queue(data_dir) == []
    with __import__("duckdb").connect(str(data_dir.warehouse_path)) as connection:
        connection.execute(
            "INSERT INTO raw.request_logs SELECT * REPLACE ('r2' AS request_id, '*' AS model) "
            "FROM raw.request_logs"
        )
        connection.execute("INSERT INTO raw.pending_model_builds VALUES (DATE '2026-03-02', 'test', now())")
    result = dbt_build(data_dir, tmp_path)
    assert result.returncode != 0
    assert queue(data_dir) == [DAY_1]  # the next build rebuilds it


def test_item3_the_marker_is_rejected_by_the_contract(data_dir):
    write(data_dir, DAY_1, "a.jsonl", [
        record("ok", "2026-03-02T10:00:00Z"), record("star_model", "2026-03-02T10:00:00Z", model="*"),
        record("star_key", "2026-03-02T10:00:00Z", api_key_id="*"),
        record("star_provider", "2026-03-02T10:00:00Z", provider="*"),
    ])
    report = load_partition(data_dir, DAY_1)
    assert (report.rows_loaded, report.rows_rejected) == (1, 3)
    reasons = query(data_dir, "SELECT reason FROM raw.request_logs_rejected ORDER BY line_number")["reason"]
    assert all('must not be "*"' in r for r in reasons)


def test_item5_one_huge_token_count_does_not_block_any_day(data_dir, tmp_path):
    """2^62 tokens passed the contract and overflowed the fact's sums, keeping the day
    queued and failing every later build. Now the record is rejected, and both days
    build."""
    write(data_dir, DAY_1, "a.jsonl", [
        record("ok_1", "2026-03-02T10:00:00Z"),
        record("huge", "2026-03-02T10:00:00Z", input_tokens=2**62, output_tokens=2**62),
        record("huge_2", "2026-03-02T10:00:01Z", input_tokens=2**62),
    ])
    run(data_dir, [DAY_1], tmp_path)
    write(data_dir, DAY_2, "a.jsonl", [record("ok_2", "2026-03-03T10:00:00Z")])
    run(data_dir, [DAY_2], tmp_path)
    assert queue(data_dir) == []
    assert facts(data_dir)["request_id"].tolist() == ["ok_1", "ok_2"]
    rejected = query(data_dir, "SELECT reason FROM raw.request_logs_rejected")["reason"]
    assert len(rejected) == 2 and all("must be <= 1e+09" in r for r in rejected)
