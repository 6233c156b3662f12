"""Issue 11: nothing lost, nothing counted twice, whatever the deliveries, corrections,
withdrawals, odd values and hostile files. One test (or more) per numbered item; each
compares the warehouse with what the landing folders say, never with constants."""

from __future__ import annotations

import json
import os
from datetime import date

import pandas as pd
import pytest
from nightly import run_window
from pipeline_in_process import dbt_build, query, run
from reference import read_landing, requests

from ingest.load import landing_days_on_disk, load_partition

DAY_1, DAY_2, DAY_3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


def record(request_id: str, created_at: str, **changes) -> dict:
    values = {
        "request_id": request_id,
        "created_at": created_at,
        "api_key_id": "key_a",
        "model": "openai/gpt-5",
        "provider": "openai",
        "billing_mode": "pay_as_you_go",
        "status": "success",
        "http_status": 200,
        "stream": True,
        "input_tokens": 100,
        "output_tokens": 20,
        "latency_ms": 900.0,
        "first_token_ms": 300.0,
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
    frame = query(
        settings, "SELECT event_date, sum(requests) AS n FROM main_facts.fct_usage_daily GROUP BY 1"
    )
    return {row.event_date.date(): int(row.n) for row in frame.itertuples() if row.n}


def landing_daily_requests(settings, timezone: str = "UTC") -> dict:
    """Requests per event day from the landing files alone (tests/reference.py: the
    latest delivery of each request wins): what daily_requests must show."""
    reference = requests(read_landing(settings.landing_dir)[0], timezone)
    return reference.groupby(reference["event_date"].dt.date).size().to_dict()


def run_models(settings, days: list[date], scratch) -> None:
    """Load `days` and rebuild every model for them (`dbt run`), as run() does but
    without dbt's data tests: for a night before the one a test judges. The test's last
    run is a full build (run()), whose data tests check the state the test asserts on."""
    run_window(settings, min(days), max(days), scratch, command="run")


def queue(settings) -> list[date]:
    return [
        d.date()
        for d in query(settings, "SELECT landing_date FROM raw.pending_model_builds")[
            "landing_date"
        ]
    ]


def test_item1_removed_landing_files_leave_the_facts_on_re_run(data_dir, tmp_path):
    """Removing a landing day's file and re-running the day must take its requests out of
    the facts and marts (before: raw emptied, facts kept every request)."""
    write(data_dir, DAY_1, "a.jsonl", [record("keep", "2026-03-02T10:00:00Z")])
    removed = write(
        data_dir,
        DAY_1,
        "b.jsonl",
        [
            record("gone_1", "2026-03-02T11:00:00Z"),
            record("gone_late", "2026-03-01T23:00:00Z"),
        ],
    )
    run_models(data_dir, [DAY_1], tmp_path)
    assert set(facts(data_dir)["request_id"]) == {"keep", "gone_1", "gone_late"}

    removed.unlink()
    run(data_dir, [DAY_1], tmp_path)
    assert facts(data_dir)["request_id"].tolist() == ["keep"]
    assert daily_requests(data_dir) == {DAY_1: 1}
    assert daily_requests(data_dir) == landing_daily_requests(data_dir)
    summary = query(
        data_dir,
        "SELECT sum(requests) AS n FROM main_marts.mart_usage_summary "
        "WHERE grain = 'month' AND api_key_id = '*' AND model = '*' AND provider = '*' AND organization_id = '*' AND team_id = '*' AND project_id = '*'",
    )
    assert int(summary["n"].sum()) == 1
    assert query(data_dir, "SELECT count(*) AS n FROM raw.replaced_deliveries")["n"].item() == 0


def test_item2_corrections_and_withdrawals_keep_the_latest_surviving_delivery(data_dir, tmp_path):
    """A request corrected to another event day on a later landing day must leave its
    old day; withdrawing the correction must bring the earlier delivery back."""
    write(
        data_dir,
        DAY_1,
        "a.jsonl",
        [
            record("moved", "2026-03-01T22:00:00Z", output_tokens=1),  # late, on the day before
            record("stays", "2026-03-02T09:00:00Z"),
        ],
    )
    run_models(data_dir, [DAY_1], tmp_path)
    correction = write(
        data_dir,
        DAY_2,
        "fix.jsonl",
        [
            record("moved", "2026-03-03T01:00:00Z", output_tokens=2),
        ],
    )
    run_models(data_dir, [DAY_2], tmp_path)  # only the correction's landing day is re-run
    got = facts(data_dir)
    assert got[got.request_id == "moved"][["event_date", "output_tokens"]].values.tolist() == [
        [pd.Timestamp(date(2026, 3, 3)), 2]
    ]
    assert daily_requests(data_dir) == {DAY_1: 1, date(2026, 3, 3): 1}
    assert daily_requests(data_dir) == landing_daily_requests(data_dir)

    correction.unlink()  # the correction is withdrawn
    run(data_dir, [DAY_2], tmp_path)
    got = facts(data_dir)
    assert got[got.request_id == "moved"][["event_date", "output_tokens"]].values.tolist() == [
        [pd.Timestamp(date(2026, 3, 1)), 1]
    ]
    assert daily_requests(data_dir) == {date(2026, 3, 1): 1, DAY_1: 1}
    assert daily_requests(data_dir) == landing_daily_requests(data_dir)


def test_item2_the_nightly_build_tests_the_latest_delivery_on_the_days_it_touched(
    data_dir, tmp_path
):
    """The build's own test finds a request kept on two days, in the build itself."""
    write(data_dir, DAY_1, "a.jsonl", [record("r1", "2026-03-02T10:00:00Z")])
    run_models(data_dir, [DAY_1], tmp_path)
    with __import__("duckdb").connect(str(data_dir.warehouse_path)) as connection:
        # A stale copy of r1 on another day, as the old incremental logic left behind.
        connection.execute(
            "INSERT INTO main_facts.fct_requests SELECT * REPLACE (DATE '2026-03-03' AS event_date) "
            "FROM main_facts.fct_requests"
        )
        connection.execute(
            "INSERT INTO raw.pending_model_builds VALUES (DATE '2026-03-02', 'test', now())"
        )
    result = dbt_build(data_dir, tmp_path, "--select", "assert_requests_keep_their_latest_delivery")
    assert result.returncode != 0 and "assert_requests_keep_their_latest_delivery" in result.stdout


def test_item3_a_failing_mart_test_leaves_the_day_queued(data_dir, tmp_path):
    """A mart test that fails (here: a '*' model that slipped past the contract makes two
    "all" rows) must not let the on-run-end hook mark the build done."""
    write(data_dir, DAY_1, "a.jsonl", [record("r1", "2026-03-02T10:00:00Z")])
    run_models(data_dir, [DAY_1], tmp_path)
    assert queue(data_dir) == []
    with __import__("duckdb").connect(str(data_dir.warehouse_path)) as connection:
        connection.execute(
            "INSERT INTO raw.request_logs SELECT * REPLACE ('r2' AS request_id, '*' AS model) "
            "FROM raw.request_logs"
        )
        connection.execute(
            "INSERT INTO raw.pending_model_builds VALUES (DATE '2026-03-02', 'test', now())"
        )
    result = dbt_build(data_dir, tmp_path)
    assert result.returncode != 0
    assert queue(data_dir) == [DAY_1]  # the next build rebuilds it


def test_item3_the_marker_is_rejected_by_the_contract(data_dir):
    write(
        data_dir,
        DAY_1,
        "a.jsonl",
        [
            record("ok", "2026-03-02T10:00:00Z"),
            record("star_model", "2026-03-02T10:00:00Z", model="*"),
            record("star_key", "2026-03-02T10:00:00Z", api_key_id="*"),
            record("star_provider", "2026-03-02T10:00:00Z", provider="*"),
        ],
    )
    report = load_partition(data_dir, DAY_1)
    assert (report.rows_loaded, report.rows_rejected) == (1, 3)
    reasons = query(data_dir, "SELECT reason FROM raw.request_logs_rejected ORDER BY line_number")[
        "reason"
    ]
    assert all('must not be "*"' in r for r in reasons)


def test_item5_one_huge_token_count_does_not_block_any_day(data_dir, tmp_path):
    """2^62 tokens passed the contract and overflowed the fact's sums, keeping the day
    queued and failing every later build. Now the record is rejected, and both days
    build."""
    write(
        data_dir,
        DAY_1,
        "a.jsonl",
        [
            record("ok_1", "2026-03-02T10:00:00Z"),
            record("huge", "2026-03-02T10:00:00Z", input_tokens=2**62, output_tokens=2**62),
            record("huge_2", "2026-03-02T10:00:01Z", input_tokens=2**62),
        ],
    )
    run_models(data_dir, [DAY_1], tmp_path)
    write(data_dir, DAY_2, "a.jsonl", [record("ok_2", "2026-03-03T10:00:00Z")])
    run(data_dir, [DAY_2], tmp_path)
    assert queue(data_dir) == []
    assert facts(data_dir)["request_id"].tolist() == ["ok_1", "ok_2"]
    rejected = query(data_dir, "SELECT reason FROM raw.request_logs_rejected")["reason"]
    assert len(rejected) == 2 and all("must be <= 1e+09" in r for r in rejected)


def _check(settings, day, **thresholds):
    from ingest.warehouse import connect
    from quality.holds import check_raw_and_hold
    from quality.rules import Thresholds

    with connect(settings) as connection:
        return check_raw_and_hold(connection, day, day, Thresholds(**thresholds))


def test_item6_a_check_that_crashes_holds_its_day(data_dir, tmp_path, monkeypatch):
    """A check that cannot run recorded no hold, so a later build of another day pulled
    the unchecked records into the facts. Now it holds its day like a failed check."""
    import quality.rules
    from quality.holds import ChecksCrashed

    write(data_dir, DAY_1, "a.jsonl", [record("unchecked", "2026-03-02T10:00:00Z")])
    load_partition(data_dir, DAY_1)

    def crash(*args, **kwargs):
        raise MemoryError("out of memory (simulated)")

    monkeypatch.setattr(quality.rules, "run_row_rules", crash)
    with pytest.raises(ChecksCrashed, match="could not run"):
        _check(data_dir, DAY_1)
    monkeypatch.undo()
    holds = query(data_dir, "SELECT landing_date, failed_checks FROM raw.quality_holds")
    assert [d.date() for d in holds["landing_date"]] == [DAY_1]
    assert "MemoryError" in holds["failed_checks"][0]

    # A later run of another day rebuilds DAY_1's event day for a late record: the
    # unchecked records must stay out.
    write(
        data_dir,
        DAY_2,
        "a.jsonl",
        [record("late", "2026-03-02T23:00:00Z"), record("own", "2026-03-03T10:00:00Z")],
    )
    with __import__("duckdb").connect(str(data_dir.warehouse_path)) as connection:
        connection.execute("DELETE FROM raw.pending_model_builds")  # DAY_1's build failed
    run(data_dir, [DAY_2], tmp_path)
    assert facts(data_dir)["request_id"].tolist() == ["late", "own"]


def _day_with_odd_records(settings, day, total, odd):
    """`total` records of which `odd` report more output tokens than one request can
    produce (a blocking token-count check; a throughput above its ceiling no longer
    blocks: issue 31 item 1, tests/test_fast_responses.py)."""
    records = [record(f"ok_{n:05d}", f"{day}T10:00:00Z") for n in range(total - odd)]
    records += [
        record(
            f"odd_{n}",
            f"{day}T11:00:00Z",
            output_tokens=300000,
            latency_ms=1500.0,
            first_token_ms=500.0,
        )
        for n in range(odd)
    ]
    # A streamed success without first_token_ms, and one with it: the warning check
    # watches their share; neither may block the day.
    records[0] = record("no_first_token", f"{day}T09:00:00Z", first_token_ms=None)
    write(settings, day, "a.jsonl", records)


def test_item7_a_few_odd_records_are_quarantined_and_the_day_loads(data_dir, tmp_path):
    """4 of 1,603 records breaking a blocking check held the whole day; a streamed
    success without first_token_ms blocked it before the 5% warning could fire."""
    _day_with_odd_records(data_dir, DAY_1, 1603, 4)
    load_partition(data_dir, DAY_1)
    outcomes, held = _check(data_dir, DAY_1)
    assert held == {}
    quarantined = query(
        data_dir, "SELECT request_id, reason FROM raw.quarantined_records ORDER BY 1"
    )
    assert quarantined["request_id"].tolist() == [f"odd_{n}" for n in range(4)]
    assert (quarantined["reason"] == "failed output_tokens_below_ceiling").all()
    # The missing first token is for the warning check to weigh (1 of 1,599: passes).
    by_name = {o.name: o for o in outcomes}
    assert by_name["first_token_null_share"].passed
    assert by_name["first_token_valid"].passed

    run(data_dir, [DAY_1], tmp_path, checks=True)  # load, check (as the job does), build
    in_facts = query(data_dir, "SELECT request_id FROM main_facts.fct_requests")["request_id"]
    assert len(in_facts) == 1603 - 4 and not in_facts.str.startswith("odd_").any()
    reconciled = query(data_dir, "SELECT * FROM main_audit.ingest_reconciliation")
    assert reconciled["quarantined_records"].tolist() == [4]
    assert reconciled["reconciles"].all()


def test_item7_a_systemic_fault_holds_the_day(data_dir, tmp_path):
    """Above max_failing_record_share (1% by default), the day is held as a whole."""
    from readers.warehouse import held_days

    _day_with_odd_records(data_dir, DAY_1, 400, 40)
    load_partition(data_dir, DAY_1)
    _, held = _check(data_dir, DAY_1)
    assert list(held) == [DAY_1] and "40 of 400 records (10.0%)" in held[DAY_1]
    shown = held_days(data_dir)
    assert [d for d, _ in shown] == [DAY_1] and "output_tokens_below_ceiling" in shown[0][1]
    # Under a higher threshold (the environment's LLM_USAGE_DQ_MAX_FAILING_RECORD_SHARE),
    # the same day loads without its 40 records.
    _, held = _check(data_dir, DAY_1, max_failing_record_share=0.2)
    assert held == {} and held_days(data_dir) == []


def test_item8_a_changed_reporting_zone_rebuilds_every_day(tmp_path, monkeypatch):
    """Re-running one day after changing the zone re-bucketed only the touched days and
    counted some requests twice. The warehouse records its zone; a build under another
    zone rebuilds every model."""
    from conftest import use_data_dir

    utc = use_data_dir(monkeypatch, tmp_path / "data")
    write(
        utc,
        DAY_1,
        "a.jsonl",
        [record("evening", "2026-03-02T20:00:00Z"), record("morning", "2026-03-02T02:00:00Z")],
    )
    write(utc, DAY_2, "a.jsonl", [record("next", "2026-03-03T10:00:00Z")])
    run_models(utc, [DAY_1, DAY_2], tmp_path)
    assert query(utc, "SELECT reporting_timezone FROM raw.model_build_settings")[
        "reporting_timezone"
    ].tolist() == ["UTC"]

    tokyo = use_data_dir(monkeypatch, tmp_path / "data", LLM_USAGE_REPORTING_TIMEZONE="Asia/Tokyo")
    run(tokyo, [DAY_2], tmp_path)  # only the second day is re-run
    got = facts(tokyo)
    assert got["request_id"].is_unique
    expected = {"evening": date(2026, 3, 3), "morning": date(2026, 3, 2), "next": date(2026, 3, 3)}
    assert {r.request_id: r.event_date.date() for r in got.itertuples()} == expected
    assert daily_requests(tokyo) == {date(2026, 3, 2): 1, date(2026, 3, 3): 2}
    assert daily_requests(tokyo) == landing_daily_requests(tokyo, "Asia/Tokyo")
    assert query(tokyo, "SELECT reporting_timezone FROM raw.model_build_settings")[
        "reporting_timezone"
    ].tolist() == ["Asia/Tokyo"]


def test_item9_links_that_leave_the_landing_directory_are_not_read(data_dir, tmp_path):
    """A link to /etc/passwd (or any readable file) put its lines into
    raw.request_logs_rejected. Links outside are refused and recorded with their size;
    a link inside the landing directory is followed."""
    secret = tmp_path / "secret.jsonl"
    secret.write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        + json.dumps(record("leak", "2026-03-02T10:00:00Z"))
        + "\n"
    )
    write(data_dir, DAY_1, "a.jsonl", [record("ok", "2026-03-02T10:00:00Z")])
    folder = data_dir.landing_dir / f"dt={DAY_1}"
    (folder / "passwd.jsonl").symlink_to(secret)
    shared = write(data_dir, DAY_2, "shared.jsonl", [record("shared", "2026-03-02T11:00:00Z")])
    (folder / "inside.jsonl").symlink_to(shared)  # stays inside the landing directory
    outside_day = tmp_path / "elsewhere"
    outside_day.mkdir()
    (outside_day / "x.jsonl").write_text(json.dumps(record("leak2", "2026-03-04T10:00:00Z")) + "\n")
    (data_dir.landing_dir / f"dt={DAY_3}").symlink_to(outside_day)

    report = load_partition(data_dir, DAY_1)
    assert (report.rows_loaded, report.rows_rejected) == (2, 0)
    assert "passwd.jsonl" in report.summary()
    texts = query(data_dir, "SELECT * FROM raw.request_logs_rejected")
    assert texts.empty
    anomalies = query(
        data_dir,
        "SELECT path, kind, size_bytes, reason FROM raw.landing_anomalies "
        "WHERE landing_date IS NOT NULL",
    )
    assert anomalies["path"].tolist() == [str(folder / "passwd.jsonl")]
    assert anomalies["size_bytes"].tolist() == [secret.stat().st_size]
    assert "not followed" in anomalies["reason"][0]

    report = load_partition(data_dir, DAY_3)
    assert report.rows_loaded == 0 and "leaves the landing directory" in report.summary()
    loaded = query(data_dir, "SELECT request_id FROM raw.request_logs ORDER BY 1")["request_id"]
    assert loaded.tolist() == ["ok", "shared"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_item9_an_unreadable_file_is_named_not_copied(data_dir):
    path = write(data_dir, DAY_1, "locked.jsonl", [record("r", "2026-03-02T10:00:00Z")])
    path.chmod(0)
    report = load_partition(data_dir, DAY_1)
    assert "permission denied" in report.unreadable_files[0].error
    rejected = query(data_dir, "SELECT raw_line FROM raw.request_logs_rejected")
    assert rejected["raw_line"].isna().all()


def test_item10_folders_and_files_that_are_not_read_are_reported_and_counted(data_dir):
    """dt= folders that are not a real date or spelled otherwise, a broken link named
    .jsonl and a folder inside a landing day were skipped without a trace."""
    write(data_dir, DAY_1, "a.jsonl", [record("ok", "2026-03-02T10:00:00Z")])
    root = data_dir.landing_dir
    for name in ("dt=2026-02-30", "dt=garbage", "dt=20260301", "dt=2026-3-1"):
        (root / name).mkdir()
        (root / name / "a.jsonl").write_text(
            json.dumps(record(name, "2026-03-01T10:00:00Z")) + "\n"
        )
    folder = root / f"dt={DAY_1}"
    (folder / "broken.jsonl").symlink_to(folder / "does-not-exist.jsonl")
    (folder / "nested").mkdir()
    (folder / "nested" / "b.jsonl").write_text(
        json.dumps(record("nested", "2026-03-02T10:00:00Z")) + "\n"
    )

    days, directory = landing_days_on_disk(data_dir)
    assert days == [DAY_1]
    assert sorted(a.path for a in directory) == sorted(
        str(root / n) for n in ("dt=2026-02-30", "dt=garbage", "dt=20260301", "dt=2026-3-1")
    )

    report = load_partition(data_dir, DAY_1)
    assert report.rows_loaded == 1
    summary = report.summary()
    for name in (
        "dt=2026-02-30",
        "dt=garbage",
        "dt=20260301",
        "dt=2026-3-1",
        "broken.jsonl",
        "nested",
    ):
        assert name in summary, name
    table = query(
        data_dir, "SELECT kind, count(*) AS n FROM raw.landing_anomalies GROUP BY 1 ORDER BY 1"
    )
    assert dict(zip(table["kind"], table["n"])) == {
        "broken link": 1,
        "folder": 1,
        "not a landing day": 4,
    }

    from cli.main import landing_days_present

    assert landing_days_present(data_dir) == [DAY_1]


def test_item11_duplicate_keys_last_one_wins_like_python_json(data_dir):
    """{"output_tokens": 1, "output_tokens": 2}: Python's json, JavaScript and Go take
    the last value; DuckDB's JSON functions take the first. The loader takes the last."""
    base = record("dup", "2026-03-02T10:00:00Z")
    text = (
        json.dumps(base)[:-1]
        + ', "output_tokens": 7, "model": "anthropic/claude-x", "created_at": "2026-03-01T10:00:00Z"}'
    )
    assert json.loads(text)["output_tokens"] == 7
    folder = data_dir.landing_dir / f"dt={DAY_1}"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text(
        text + "\n" + json.dumps(record("plain", "2026-03-02T10:00:00Z")) + "\n"
    )
    # A duplicate key whose last value breaks the contract is rejected for that value.
    bad = json.dumps(record("dup_bad", "2026-03-02T10:00:00Z"))[:-1] + ', "input_tokens": -1}'
    with (folder / "a.jsonl").open("a") as handle:
        handle.write(bad + "\n")
    report = load_partition(data_dir, DAY_1)
    assert (report.rows_loaded, report.rows_rejected) == (2, 1)
    got = query(
        data_dir,
        "SELECT request_id, output_tokens, model, created_at FROM raw.request_logs ORDER BY 1",
    )
    expected = json.loads(text)
    row = got[got.request_id == "dup"].iloc[0]
    assert (row.output_tokens, row.model) == (expected["output_tokens"], expected["model"])
    assert row.created_at == pd.Timestamp(expected["created_at"])


def test_reconciliation_counts_lines_apart_from_parsing_and_shows_a_loss(
    data_dir, tmp_path, monkeypatch
):
    """records_read used to be loaded + rejected, taken from the database, so a record
    lost inside the loader could not show. Lines are now counted from the file's bytes:
    a line the reader drops shows as records_lost_in_reading and reconciles = false."""
    import ingest.load

    write(
        data_dir,
        DAY_1,
        "a.jsonl",
        [record(f"r{n}", "2026-03-02T10:00:00Z") for n in range(5)] + [{"not": "a record"}],
    )
    write(data_dir, DAY_2, "a.jsonl", [record("s1", "2026-03-03T10:00:00Z")])
    real = ingest.load.lines_and_sha256

    def drops_the_last_line(path):
        lines, count, cut, sha256 = real(path)
        return (
            (lines.slice(0, lines.num_rows - 1) if DAY_2.isoformat() in str(path) else lines),
            count,
            cut,
            sha256,
        )

    monkeypatch.setattr(ingest.load, "lines_and_sha256", drops_the_last_line)
    result = run(data_dir, [DAY_1, DAY_2], tmp_path, expect_ok=False)
    # The reconciliation's own dbt test (the weekly audit's) fails on the loss.
    assert "accepted_values_ingest_reconciliation_reconciles" in result.stdout
    view = query(
        data_dir,
        "SELECT landing_date, lines_read, records_read, rows_loaded, rows_rejected, "
        "records_lost_in_reading, files_not_reconciled, reconciles "
        "FROM main_audit.ingest_reconciliation ORDER BY landing_date",
    )
    assert view[["lines_read", "rows_loaded", "rows_rejected"]].values.tolist() == [
        [6, 5, 1],
        [1, 0, 0],
    ]
    assert view["records_lost_in_reading"].tolist() == [0, 1]
    assert view["files_not_reconciled"].tolist() == [0, 1]
    assert view["reconciles"].tolist() == [True, False]
