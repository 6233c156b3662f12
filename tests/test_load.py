"""`ingest.load.load_partition` on its own (no Dagster, no dbt): what each landing-day
situation gives in the raw tables, and that a day is replaced atomically."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from datetime import UTC, date, datetime

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pipeline_in_process import query
from reference import count_lines, read_landing

import ingest.landing_files
import ingest.load
from ingest.load import load_partition
from sample_data.generate import generate_logs

DAY = date(2026, 3, 2)


def _sample(settings, day=DAY, fmt="jsonl", **faults):
    return generate_logs(
        settings.landing_dir, day, 1, requests_per_day=300, seed=5, fmt=fmt, **faults
    )


def _folder(settings, day=DAY):
    path = settings.landing_dir / f"dt={day.isoformat()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _record(**changes) -> dict:
    record = {
        "request_id": "req_1",
        "created_at": "2026-03-02T10:00:00.000Z",
        "api_key_id": "key_a",
        "model": "openai/gpt-5",
        "provider": "openai",
        "billing_mode": "pay_as_you_go",
        "status": "success",
        "http_status": 200,
        "stream": True,
        "input_tokens": 100,
        "output_tokens": 20,
        "web_search_calls": 0,
        "latency_ms": 900,
        "first_token_ms": 300,
    }
    record.update(changes)
    return record


def test_faulty_day_every_line_is_loaded_or_rejected_with_its_text(data_dir):
    summary = _sample(data_dir, duplicate_rate=0.05, late_rate=0.05, malformed_rate=0.05)
    report = load_partition(data_dir, DAY)
    deliveries, invalid = read_landing(data_dir.landing_dir, [DAY])
    assert report.rows_loaded == len(deliveries)
    assert report.rows_rejected == invalid == summary.malformed
    assert report.rows_loaded + report.rows_rejected == count_lines(data_dir.landing_dir, [DAY])
    in_day = deliveries.groupby("request_id").size()
    assert report.duplicates_in_day == int((in_day - 1).sum()) > 0

    rejected = query(data_dir, "SELECT * FROM raw.request_logs_rejected ORDER BY line_number")
    assert rejected["reason"].str.len().gt(10).all()
    (path,) = summary.files[:1]
    lines = path.read_text().splitlines()
    for row in rejected.itertuples():
        assert row.source_file == str(path)
        assert lines[row.line_number - 1] == row.raw_line  # the line, verbatim
    loaded = query(data_dir, "SELECT line_number, request_id FROM raw.request_logs")
    for row in loaded.sample(50, random_state=1).itertuples():
        assert json.loads(lines[row.line_number - 1])["request_id"] == row.request_id


def test_every_file_read_is_recorded_with_hash_size_and_counts(data_dir):
    summary = generate_logs(
        data_dir.landing_dir,
        DAY,
        1,
        requests_per_day=300,
        seed=5,
        files_per_day=3,
        malformed_rate=0.05,
    )
    report = load_partition(data_dir, DAY)
    files = query(data_dir, "SELECT * FROM raw.ingested_files ORDER BY path")
    assert files["path"].tolist() == sorted(str(p) for p in summary.files)
    for row in files.itertuples():
        path = next(p for p in summary.files if str(p) == row.path)
        assert row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert row.size_bytes == path.stat().st_size
        assert row.modified_at.timestamp() == pytest.approx(path.stat().st_mtime, abs=1e-3)
        assert row.rows_loaded + row.rows_rejected == count_lines_of(path) == row.lines_read
        assert row.error is None
    assert files["rows_loaded"].sum() == report.rows_loaded
    assert files["rows_rejected"].sum() == report.rows_rejected


def count_lines_of(path) -> int:
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return data.count(b"\n")


def test_corrupt_gzip_is_named_and_the_other_files_still_load(data_dir):
    _sample(data_dir, fmt="jsonl.gz")
    folder = _folder(data_dir)
    good = count_lines(data_dir.landing_dir, [DAY])
    truncated = folder / "part-90000.jsonl.gz"
    records = [json.dumps(_record(request_id=f"cut_{n}")).encode() + b"\n" for n in range(5000)]
    whole = gzip.compress(b"".join(records))
    truncated.write_bytes(whole[: len(whole) // 2])  # a copy that was cut off
    not_gzip = folder / "part-90001.jsonl.gz"
    not_gzip.write_text('{"request_id": "plain text, not gzip"}\n')

    report = load_partition(data_dir, DAY)

    # Issue 11, reconciliation: the lines read before the cut are checked and counted
    # (the last one may be partial), so loaded + rejected = lines read for that file too.
    before_cut = zlib.decompressobj(wbits=31).decompress(truncated.read_bytes())
    lines_before_cut = before_cut.count(b"\n") + (not before_cut.endswith(b"\n"))
    cut = next(f for f in report.files if f.path == str(truncated))
    assert cut.lines_read == lines_before_cut > 100
    assert cut.rows_loaded + cut.rows_rejected == lines_before_cut
    assert cut.rows_loaded >= lines_before_cut - 1
    assert report.rows_loaded == good + cut.rows_loaded
    assert sorted(f.path for f in report.unreadable_files) == [str(truncated), str(not_gzip)]
    assert all("gzip" in f.error for f in report.unreadable_files)
    assert "cut short" in cut.error and str(truncated) in report.summary()
    rejected = query(data_dir, "SELECT * FROM raw.request_logs_rejected WHERE line_number IS NULL")
    assert rejected["source_file"].tolist() == [str(not_gzip)]
    assert rejected["reason"].str.startswith("unreadable file: not a readable gzip file").all()
    files = query(
        data_dir,
        "SELECT path, error, lines_read, rows_loaded, rows_rejected "
        "FROM raw.ingested_files WHERE error IS NOT NULL ORDER BY path",
    )
    assert files["path"].tolist() == [str(truncated), str(not_gzip)]
    assert files["lines_read"].tolist() == [lines_before_cut, 0]


def test_corrupt_parquet_is_named_and_the_other_files_still_load(data_dir):
    _sample(data_dir, fmt="parquet")
    good = count_lines(data_dir.landing_dir, [DAY])
    broken = _folder(data_dir) / "part-90000.parquet"
    broken.write_bytes(b"PAR1 this is not a parquet file")
    report = load_partition(data_dir, DAY)
    assert report.rows_loaded == good
    assert [f.path for f in report.unreadable_files] == [str(broken)]
    assert "Parquet" in report.unreadable_files[0].error


def test_missing_day_is_reported_not_a_crash_and_clears_an_earlier_load(data_dir):
    report = load_partition(data_dir, DAY)
    assert report.missing and report.rows_loaded == 0 and report.files == []
    assert "no landing folder" in report.summary()

    _sample(data_dir)
    assert load_partition(data_dir, DAY).rows_loaded > 0
    for path in _folder(data_dir).iterdir():
        path.unlink()
    _folder(data_dir).rmdir()
    report = load_partition(data_dir, DAY)  # the day's files were withdrawn
    assert report.missing
    counts = query(
        data_dir,
        "SELECT (SELECT count(*) FROM raw.request_logs) + "
        "(SELECT count(*) FROM raw.ingested_files) AS n",
    )
    assert counts["n"].item() == 0


def test_empty_day_and_empty_file_load_zero_rows(data_dir):
    folder = _folder(data_dir)
    report = load_partition(data_dir, DAY)
    assert not report.missing and report.files == [] and report.rows_loaded == 0
    (folder / "part-00000.jsonl").write_text("")
    report = load_partition(data_dir, DAY)
    assert len(report.files) == 1 and report.rows_loaded == report.rows_rejected == 0


def test_files_of_other_formats_are_reported_as_skipped(data_dir):
    _sample(data_dir)
    folder = _folder(data_dir)
    (folder / "export.csv").write_text("request_id\nreq_1\n")
    (folder / "_SUCCESS").write_text("")
    report = load_partition(data_dir, DAY)
    assert report.skipped_files == [str(folder / "export.csv")]
    assert "skipped" in report.summary() and "export.csv" in report.summary()


def test_reloading_a_day_replaces_it(data_dir):
    _sample(data_dir, duplicate_rate=0.05, malformed_rate=0.05)
    columns = "* EXCLUDE (ingested_at)"
    load_partition(data_dir, DAY)
    first = [
        query(data_dir, f"SELECT {columns} FROM raw.{t} ORDER BY ALL")
        for t in ("request_logs", "request_logs_rejected", "ingested_files")
    ]
    load_partition(data_dir, DAY)
    again = [
        query(data_dir, f"SELECT {columns} FROM raw.{t} ORDER BY ALL")
        for t in ("request_logs", "request_logs_rejected", "ingested_files")
    ]
    for before, after in zip(first, again):
        pd.testing.assert_frame_equal(before, after)


class _CrashingConnection:
    """A connection that fails on the last write of the day's transaction."""

    def __init__(self, connection):
        self._connection = connection

    def execute(self, sql, *args):
        if sql.startswith("INSERT INTO raw.ingested_files"):
            raise duckdb.IOException("disk full (simulated)")
        return self._connection.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._connection, name)


def test_a_crash_half_way_leaves_the_previous_day(data_dir, monkeypatch):
    _sample(data_dir)
    load_partition(data_dir, DAY)
    before = query(data_dir, "SELECT * FROM raw.request_logs ORDER BY ALL")
    generate_logs(data_dir.landing_dir, DAY, 1, requests_per_day=500, seed=6, fmt="jsonl")

    real_connect = ingest.load.connect
    monkeypatch.setattr(
        ingest.load, "connect", lambda *a, **k: _CrashingConnection(real_connect(*a, **k))
    )
    with pytest.raises(duckdb.IOException):
        load_partition(data_dir, DAY)
    pd.testing.assert_frame_equal(
        query(data_dir, "SELECT * FROM raw.request_logs ORDER BY ALL"), before
    )
    monkeypatch.undo()
    report = load_partition(data_dir, DAY)
    assert report.rows_loaded == count_lines(data_dir.landing_dir, [DAY]) != len(before)


def test_windows_line_ends_byte_order_mark_and_bad_utf8(data_dir):
    folder = _folder(data_dir)
    lines = [
        json.dumps(_record(request_id="req_crlf", api_key_name="équipe")).encode(),
        json.dumps(_record(request_id="req_ok")).encode(),
        json.dumps(_record(request_id="req_latin1", api_key_name="X")).encode()[:-1]
        + b', "note": "caf\xe9"}',
    ]
    (folder / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n")
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (2, 1)
    loaded = query(data_dir, "SELECT request_id, api_key_name FROM raw.request_logs ORDER BY 1")
    assert loaded.fillna("-").values.tolist() == [["req_crlf", "équipe"], ["req_ok", "-"]]
    rejected = query(data_dir, "SELECT line_number, reason FROM raw.request_logs_rejected")
    position = lines[2].index(b"\xe9") + 1
    assert rejected.values.tolist() == [
        [3, f"line is not valid UTF-8 (bad byte at position {position})"]
    ]


def test_parquet_from_pandas_with_timestamps_and_nullable_ints_loads_like_json(data_dir):
    """A Parquet file written the way pandas writes one: created_at as a UTC timestamp,
    nullable integer columns as doubles."""
    records = [
        _record(request_id="req_1", created_at="2026-03-02T10:00:00.250+02:00"),
        _record(request_id="req_2", first_token_ms=None, reasoning_tokens=7, stream=False),
    ]
    frame = pd.DataFrame(records)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    frame["reasoning_tokens"] = frame["reasoning_tokens"].astype("float64")  # NaN, 7.0
    folder = _folder(data_dir)
    frame.to_parquet(folder / "a.parquet", index=False)
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (2, 0)
    from_parquet = query(
        data_dir,
        "SELECT * EXCLUDE (source_file, ingested_at) FROM raw.request_logs ORDER BY request_id",
    )

    (folder / "a.parquet").unlink()
    (folder / "a.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    load_partition(data_dir, DAY)
    from_json = query(
        data_dir,
        "SELECT * EXCLUDE (source_file, ingested_at) FROM raw.request_logs ORDER BY request_id",
    )
    pd.testing.assert_frame_equal(from_parquet, from_json)
    assert from_json["created_at"][0] == datetime(2026, 3, 2, 8, 0, 0, 250000, tzinfo=UTC)


def test_naive_parquet_timestamp_is_rejected_with_a_reason(data_dir):
    frame = pd.DataFrame([_record()])
    frame["created_at"] = pd.to_datetime(frame["created_at"]).dt.tz_localize(None)
    pq.write_table(pa.Table.from_pandas(frame), _folder(data_dir) / "a.parquet")
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (0, 1)
    reason = query(data_dir, "SELECT reason FROM raw.request_logs_rejected")["reason"].item()
    assert reason.startswith('"created_at" must be an RFC 3339 time with an offset')


def test_line_ends_blank_lines_and_a_last_line_without_newline(data_dir, monkeypatch):
    """Lines are split on "\\n" only: "\\r" before it is dropped, a blank or space-only
    line is rejected where it stands, and a last line without "\\n" is still a line.
    Tiny search and batch sizes make line and batch boundaries fall everywhere."""
    monkeypatch.setattr(ingest.landing_files, "NEWLINE_SEARCH_BYTES", 7)
    monkeypatch.setattr(ingest.landing_files, "BATCH_ROWS", 2)
    folder = _folder(data_dir)
    one, two, three = (json.dumps(_record(request_id=f"req_{n}")).encode() for n in (1, 2, 3))
    (folder / "a.jsonl.gz").write_bytes(
        gzip.compress(
            b"\xef\xbb\xbf" + one + b"\r\n" + b"\n" + b"\r\n" + two + b"\r\r\n" + b"  \n" + three
        )
    )
    (folder / "b.jsonl").write_bytes(b"\n")
    (folder / "c.jsonl").write_bytes(one + b"\n" + b'{"request_id": "caf\xc3')  # cut mid-character

    report = load_partition(data_dir, DAY)

    assert (report.rows_loaded, report.rows_rejected) == (4, 5)
    loaded = query(data_dir, "SELECT source_file, line_number, request_id FROM raw.request_logs")
    assert loaded.values.tolist() == [
        [str(folder / "a.jsonl.gz"), 1, "req_1"],
        [str(folder / "a.jsonl.gz"), 4, "req_2"],
        [str(folder / "a.jsonl.gz"), 6, "req_3"],
        [str(folder / "c.jsonl"), 1, "req_1"],
    ]
    rejected = query(
        data_dir, "SELECT source_file, line_number, raw_line, reason FROM raw.request_logs_rejected"
    )
    assert rejected.values.tolist() == [
        [str(folder / "a.jsonl.gz"), 2, "", "empty line"],
        [str(folder / "a.jsonl.gz"), 3, "", "empty line"],
        [str(folder / "a.jsonl.gz"), 5, "  ", "empty line"],
        [str(folder / "b.jsonl"), 1, "", "empty line"],
        [
            str(folder / "c.jsonl"),
            2,
            '{"request_id": "caf\ufffd',
            "line is not valid UTF-8 (bad byte at position 20)",
        ],
    ]


# Issue 31 item 12: files joined or written with other line ends.
BOM = b"\xef\xbb\xbf"


def test_a_byte_order_mark_at_the_start_of_any_gzip_member_is_dropped(data_dir):
    """`cat a.jsonl.gz b.jsonl.gz` of two files that each start with a byte-order mark:
    every record loads, as each file would alone (the second's first line was rejected)."""
    one, two, three = (json.dumps(_record(request_id=f"req_{n}")).encode() for n in (1, 2, 3))
    folder = _folder(data_dir)
    members = [BOM + one + b"\n", BOM + two + b"\n" + three + b"\n", BOM]
    (folder / "a.jsonl.gz").write_bytes(b"".join(gzip.compress(m) for m in members))
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (3, 0)
    (file,) = report.files
    assert file.lines_read == 3 == file.rows_loaded
    loaded = query(data_dir, "SELECT line_number, request_id FROM raw.request_logs ORDER BY 1")
    assert loaded.values.tolist() == [[1, "req_1"], [2, "req_2"], [3, "req_3"]]


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz"])
def test_a_file_with_cr_only_line_ends_is_read_line_by_line(data_dir, name):
    """Lines ended by CR alone (no LF anywhere in the file) were one rejected line
    holding every record; each is now a line, counted as such."""
    one, two = (json.dumps(_record(request_id=f"req_{n}")).encode() for n in (1, 2))
    text = BOM + one + b"\r" + b"\r" + two + b"\r"  # a blank line between the records
    folder = _folder(data_dir)
    (folder / name).write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (2, 1)
    assert report.files[0].lines_read == 3
    loaded = query(data_dir, "SELECT line_number, request_id FROM raw.request_logs ORDER BY 1")
    assert loaded.values.tolist() == [[1, "req_1"], [3, "req_2"]]
    rejected = query(data_dir, "SELECT line_number, reason FROM raw.request_logs_rejected")
    assert rejected.values.tolist() == [[2, "empty line"]]


def test_a_cr_or_a_byte_order_mark_inside_a_file_of_lf_lines_says_what_to_fix(data_dir):
    """Where a file mixes LF lines with records ended by CR alone, or plain files with
    byte-order marks were joined, the rejected line says what to fix."""
    one, two, three = (json.dumps(_record(request_id=f"req_{n}")).encode() for n in (1, 2, 3))
    folder = _folder(data_dir)
    (folder / "a.jsonl").write_bytes(one + b"\n" + two + b"\r" + three + b"\n" + BOM + one + b"\n")
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (1, 2)
    reasons = query(data_dir, "SELECT reason FROM raw.request_logs_rejected ORDER BY line_number")
    first, second = reasons["reason"]
    assert first.startswith(
        "line is not valid JSON and holds a carriage return (CR): end each record with LF "
        "or CRLF, not CR alone: "
    )
    assert "\r" not in first
    assert second.startswith(
        "line starts with a byte-order mark (U+FEFF), as where files were joined: remove it"
    )
