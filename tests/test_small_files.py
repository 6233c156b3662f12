"""A landing day of many small files loads exactly as one file of the same records does,
and the contract's query runs once over a batch of files rather than once per file
(issue 31: a day of 2,000 files of ten records took 20 times as long as one file).

Each layout is loaded into the same warehouse in turn (a load replaces the day), and the
raw tables are compared by each record's place in the day's records, since the file
names and line numbers differ by layout."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from pipeline_in_process import query
from source_records import (
    litellm_payloads,
    openrouter_generations,
    spend_log_row,
    spend_logs_csv,
)

import ingest.load
from ingest import contract
from ingest.landing_files import end_to_end
from ingest.load import load_partition
from ingest.sources import csv_tables

DAY = date(2026, 3, 2)
# Written into the contract's SQL to count how often a load runs it.
MARKER = "/* contract check counted by test_small_files */"


class _CountingConnection:
    """A DuckDB connection that counts the statements inserting checked records."""

    def __init__(self, connection):
        self._connection = connection
        self.contract_runs = 0

    def execute(self, sql, *args, **kwargs):
        if MARKER in sql and sql.lstrip().startswith("INSERT"):
            self.contract_runs += 1
        return self._connection.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._connection, name)


@pytest.fixture
def counted(monkeypatch):
    """The connections the loader opens, each counting its runs of the contract."""
    opened = []
    connect, validated_lines_sql = ingest.load.connect, contract.validated_lines_sql

    def counting_connect(*args, **kwargs):
        opened.append(_CountingConnection(connect(*args, **kwargs)))
        return opened[-1]

    monkeypatch.setattr(ingest.load, "connect", counting_connect)
    monkeypatch.setattr(
        contract, "validated_lines_sql", lambda lines: f"{MARKER} {validated_lines_sql(lines)}"
    )
    return opened


def _record(number: int, **changes) -> dict:
    record = {
        "request_id": f"req_{number}",
        "created_at": f"2026-03-02T10:{number % 60:02d}:00.000Z",
        "api_key_id": f"key_{number % 3}",
        "model": "openai/gpt-5",
        "provider": "openai",
        "billing_mode": "pay_as_you_go",
        "status": "success",
        "http_status": 200,
        "stream": number % 2 == 0,
        "input_tokens": 100 + number,
        "output_tokens": 20,
        "web_search_calls": 0,
        "latency_ms": 900,
        "first_token_ms": 300,
    }
    record.update(changes)
    return record


def _day_lines() -> list[bytes]:
    """A day's lines with what a day can hold: good records, a record delivered twice
    in the same small file and twice across files, lines that are not JSON, break a rule,
    are blank, repeat a field (the last value counts) or are not UTF-8."""
    lines = [json.dumps(_record(n)).encode() for n in range(60)]
    lines[3] = lines[2]  # twice in one file of seven
    lines[40] = lines[10]  # twice across files
    lines[12] = b"{not json"
    lines[20] = json.dumps(_record(20, input_tokens=-5)).encode()
    lines[27] = b"   "
    lines[33] = b'{"request_id": "req_first", ' + lines[33][1:-1] + b', "output_tokens": 7}'
    lines[34] = lines[34][:-1] + b', "input_tokens": 9, "input_tokens": 11}'
    lines[45] = b'{"request_id": "caf\xc3 "}'
    lines[58] = lines[58].replace(b"\n", b"") + b"\r"  # a Windows line end
    return [line + b"\n" for line in lines]


def _shared_files(folder) -> None:
    """Files both layouts hold: an unreadable gzip, a gzip cut short, a Parquet file
    (one of its records also in the JSON Lines files)."""
    (folder / "zz-corrupt.jsonl.gz").write_bytes(b"not gzip at all")
    whole = gzip.compress(
        b"".join(json.dumps(_record(n)).encode() + b"\n" for n in (70, 71)), mtime=0
    )
    (folder / "zz-cut.jsonl.gz").write_bytes(whole[: len(whole) - 12])
    frame = pd.DataFrame([_record(5), _record(72)])
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "zz-rows.parquet")


def _write_one(folder, lines) -> dict[str, int]:
    (folder / "day.jsonl").write_bytes(b"".join(lines))
    return {"day.jsonl": 0}


def _write_many(folder, lines, per_file=7) -> dict[str, int]:
    """Files of `per_file` lines, every third one gzip; {name: lines before it}."""
    first = {}
    for number, at in enumerate(range(0, len(lines), per_file)):
        data = b"".join(lines[at : at + per_file])
        name = f"part-{number:03d}.jsonl" + (".gz" if number % 3 == 1 else "")
        (folder / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        first[name] = at
    return first


def _load(settings, folder, write, lines, counted):
    """Load the day as `write` lays it out; the raw tables with each record's place in
    the day's records, the report and the files' rows."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    first = write(folder, lines)
    _shared_files(folder)
    report = load_partition(settings, DAY)

    def place(source_file: str, line_number: int) -> tuple[str, int]:
        name = source_file.rsplit("/", 1)[-1]
        if name in first:
            return ("records", first[name] + line_number)
        return (name, line_number)

    fields = ", ".join(contract.field_names())
    loaded = _rows(
        query(settings, f"SELECT source_file, line_number, {fields} FROM raw.request_logs")
    )
    rejected = _rows(
        query(
            settings,
            "SELECT source_file, line_number, raw_line, reason FROM raw.request_logs_rejected",
        )
    )
    for row in loaded + rejected:
        source_file, line_number = row.pop("source_file"), row.pop("line_number")
        # A whole unreadable file has no line number.
        row["place"] = place(source_file, line_number) if line_number else (source_file, 0)
    files = _rows(
        query(
            settings,
            "SELECT path, size_bytes, sha256, rows_loaded, rows_rejected, error, lines_read "
            "FROM raw.ingested_files ORDER BY path",
        )
    )
    return loaded, rejected, report, files, first, counted[-1].contract_runs


def _rows(frame: pd.DataFrame) -> list[dict]:
    """The rows of a query's result, a NULL as None (NaN would not equal itself) and a
    list column (tags) as a Python list (numpy arrays do not compare with ==)."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [
        {k: list(v) if hasattr(v, "tolist") and not isinstance(v, str) else v for k, v in r.items()}
        for r in rows
    ]


@pytest.mark.parametrize("batch_bytes", [None, 6000], ids=["one batch", "batches of 6000 bytes"])
def test_many_small_files_load_exactly_as_one_file(data_dir, counted, monkeypatch, batch_bytes):
    if batch_bytes:
        # Small batches of files, and their lines merged into record batches of 5 rows.
        monkeypatch.setattr(ingest.load, "BATCH_BYTES", batch_bytes)
        monkeypatch.setattr(ingest.load, "BATCH_ROWS", 5)
    folder = data_dir.landing_dir / f"dt={DAY.isoformat()}"
    lines = _day_lines()
    one = _load(data_dir, folder, _write_one, lines, counted)
    many = _load(data_dir, folder, _write_many, lines, counted)
    one_loaded, one_rejected, one_report, one_files, _, one_runs = one
    loaded, rejected, report, files, first, runs = many

    # The same records loaded and rejected, with the same reasons, in the same order.
    assert [r["place"] for r in loaded] == sorted(r["place"] for r in loaded)
    assert loaded == one_loaded
    assert rejected == one_rejected
    by_id = {r["request_id"]: r for r in loaded}
    # A repeated field's last value counts, wherever the line falls in a batch.
    assert (by_id["req_33"]["output_tokens"], by_id["req_34"]["input_tokens"]) == (7, 11)
    assert "req_first" not in by_id and "req_72" in by_id
    # Not JSON, a broken rule, a blank line, bad UTF-8.
    assert [r["place"] for r in rejected if r["place"][0] == "records"] == [
        ("records", n) for n in (13, 21, 28, 46)
    ]
    for name in ("rows_loaded", "rows_rejected", "duplicates_in_day", "duplicates_across_days"):
        assert getattr(report, name) == getattr(one_report, name), name
    assert report.duplicates_in_day == 3 and report.event_dates == one_report.event_dates
    assert report.rows_loaded + report.rows_rejected == sum(f.lines_read or 1 for f in report.files)

    # Each small file is reported for its own lines, hash and size.
    by_path = {row["path"].rsplit("/", 1)[-1]: row for row in files}
    assert len(by_path) == len(first) + 3
    for name, before in first.items():
        row, count = by_path[name], min(7, len(lines) - before)
        places = range(before + 1, before + count + 1)
        assert row["lines_read"] == count
        assert row["rows_loaded"] == sum(
            r["place"][1] in places for r in one_loaded if r["place"][0] == "records"
        )
        assert row["rows_rejected"] == sum(
            r["place"][1] in places for r in one_rejected if r["place"][0] == "records"
        )
        assert row["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert row["size_bytes"] == (folder / name).stat().st_size
        assert row["error"] is None
    shared = [row for name, row in by_path.items() if name.startswith("zz-")]
    assert shared == [row for row in one_files if "/zz-" in row["path"]]
    assert [row["error"] is not None for row in shared] == [True, True, False]
    reports = {f.path.rsplit("/", 1)[-1]: f for f in report.files}
    for name, row in by_path.items():
        got = reports[name]
        assert (got.lines_read, got.rows_loaded, got.rows_rejected, got.error) == (
            row["lines_read"],
            row["rows_loaded"],
            row["rows_rejected"],
            row["error"],
        )

    # The contract's query ran once for all the readable files, or once per batch of
    # at most batch_bytes of lines (a file larger than that is a batch of its own).
    if batch_bytes is None:
        assert one_runs == runs == 1
    else:
        # The one file is a batch of its own; the cut gzip and the Parquet file another.
        assert one_runs == 2
        assert 1 < runs < len(first)


@pytest.fixture(scope="module")
def some_payloads():
    return litellm_payloads()[:4]


def test_many_small_source_files_load_exactly_as_one_file(data_dir, counted, some_payloads):
    """JSON Lines and CSV files of a source folder, one file or a file per record or two:
    the same rows, and the contract's query runs once per run of files of one layout
    (CSV files with another header are a batch of their own)."""
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.or]\nformat = "openrouter"\napi_key_id = "or-key"\n'
        '[sources.spend]\nformat = "litellm_spend_logs"\n'
    )
    generations = openrouter_generations()
    generations = generations + [dict(generations[0], id="x2", native_tokens_prompt=1.5)]
    generation_lines = [json.dumps(g) + "\n" for g in generations] + ["{broken\n"]
    spend_rows = [spend_log_row(p) for p in some_payloads]
    spend_rows.append(dict(spend_rows[0], request_id="r2", completion_tokens="many"))
    header, *spend_lines = spend_logs_csv(spend_rows).splitlines(keepends=True)
    other_header, *other_lines = spend_logs_csv(
        [dict(row, extra_column="x") for row in spend_rows[:2]]  # two records again
    ).splitlines(keepends=True)

    def layout(many: bool):
        for source in ("or", "spend"):
            shutil.rmtree(data_dir.landing_dir / source, ignore_errors=True)
        openrouter = data_dir.landing_dir / "or" / f"dt={DAY.isoformat()}"
        spend = data_dir.landing_dir / "spend" / f"dt={DAY.isoformat()}"
        openrouter.mkdir(parents=True)
        spend.mkdir(parents=True)
        first = {}
        if many:
            for number, at in enumerate(range(0, len(generation_lines), 2)):
                name = f"g-{number:03d}.jsonl" + (".gz" if number == 1 else "")
                data = "".join(generation_lines[at : at + 2]).encode()
                (openrouter / name).write_bytes(gzip.compress(data) if number == 1 else data)
                first[name] = at
            for number, line in enumerate(spend_lines):
                (spend / f"s-{number:03d}.csv").write_text(header + line)
                first[f"s-{number:03d}.csv"] = number
        else:
            (openrouter / "g.jsonl").write_text("".join(generation_lines))
            (spend / "s.csv").write_text(header + "".join(spend_lines))
            first = {"g.jsonl": 0, "s.csv": 0}
        (spend / "z-other.csv").write_text(other_header + "".join(other_lines))
        report = load_partition(data_dir, DAY)

        def place(source_file: str, line_number: int):
            name = source_file.rsplit("/", 1)[-1]
            return (name[0], first[name] + line_number) if name in first else (name, line_number)

        fields = ", ".join(contract.field_names())
        loaded = query(data_dir, f"SELECT source_file, line_number, {fields} FROM raw.request_logs")
        rejected = query(
            data_dir,
            "SELECT source_file, line_number, raw_line, reason FROM raw.request_logs_rejected",
        )
        tables = []
        for frame in (loaded, rejected):
            rows = _rows(frame)
            for row in rows:
                row["place"] = place(row.pop("source_file"), row.pop("line_number"))
            tables.append(sorted(rows, key=lambda row: row["place"]))
        return tables, report, counted[-1].contract_runs

    (one_loaded, one_rejected), one_report, one_runs = layout(many=False)
    (loaded, rejected), report, runs = layout(many=True)
    assert loaded == one_loaded and rejected == one_rejected
    assert len(rejected) == 3 and len(loaded) == len(generations) - 1 + len(spend_rows) - 1 + 2
    for name in ("rows_loaded", "rows_rejected", "duplicates_in_day"):
        assert getattr(report, name) == getattr(one_report, name), name
    assert report.duplicates_in_day == 2
    assert len(report.files) == (len(generation_lines) + 1) // 2 + len(spend_lines) + 1
    for file_report in report.files:
        name = file_report.path.rsplit("/", 1)[-1]
        if name.startswith("s-"):  # a CSV file of one row; the last row is the broken one
            broken = name == f"s-{len(spend_lines) - 1:03d}.csv"
            assert (file_report.rows_loaded, file_report.rows_rejected) == (
                (0, 1) if broken else (1, 0)
            )
    # One run for the OpenRouter files, one for the CSV files of one header, one for the
    # CSV file of the other: as many as with one file each.
    assert runs == one_runs == 3


def _parquet_parts(data_dir, records: int, per_file: int, prefix: str):
    """`records` records of the day written as Parquet files of `per_file` each, named
    PREFIX0.parquet, PREFIX1.parquet, ...: the day's folder and the records' table."""
    folder = data_dir.landing_dir / f"dt={DAY.isoformat()}"
    folder.mkdir(parents=True)
    frame = pd.DataFrame([_record(n) for n in range(records)])
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for number, at in enumerate(range(0, records, per_file)):
        pq.write_table(table.slice(at, per_file), folder / f"{prefix}{number}.parquet")
    return folder, table


def test_small_parquet_files_read_together_give_what_each_read_alone_gives(data_dir, monkeypatch):
    """Consecutive Parquet files of the same columns are read by one query: the lines
    are those each file gives read alone, with an empty file, a corrupt one and files of
    other columns (one with a column named like the file-name column) in between."""
    folder, table = _parquet_parts(data_dir, records=12, per_file=3, prefix="a-")
    pq.write_table(table.slice(0, 0), folder / "b-empty.parquet")
    (folder / "c-corrupt.parquet").write_bytes(b"PAR1 not really")
    pq.write_table(table.drop_columns(["stream"]).slice(3, 2), folder / "d-fewer.parquet")
    pq.write_table(
        table.slice(5, 2).append_column("source_file", pa.array(["x", "y"])),
        folder / "e-named.parquet",
    )
    pq.write_table(table.slice(7, 5), folder / "f-more.parquet")

    def raw_tables():
        report = load_partition(data_dir, DAY)
        files = [
            (f.path, f.lines_read, f.rows_loaded, f.rows_rejected, f.error) for f in report.files
        ]
        return [
            files,
            _rows(query(data_dir, "SELECT * EXCLUDE (ingested_at) FROM raw.request_logs")),
            _rows(query(data_dir, "SELECT * EXCLUDE (ingested_at) FROM raw.request_logs_rejected")),
            _rows(query(data_dir, "SELECT path, sha256 FROM raw.ingested_files ORDER BY path")),
        ]

    queries, hashed_in_pieces = [], []
    read_files, file_sha256 = ingest.load._lines_of_parquet_files, ingest.load.file_sha256
    monkeypatch.setattr(
        ingest.load,
        "file_sha256",
        lambda path: hashed_in_pieces.append(path.name) or file_sha256(path),
    )

    def counted_read(connection, paths, columns):
        queries.append([str(path).rsplit("/", 1)[-1] for path in paths])
        return read_files(connection, paths, columns)

    monkeypatch.setattr(ingest.load, "_lines_of_parquet_files", counted_read)
    together = raw_tables()
    # The first four files and the empty one (same columns) by one query; the others,
    # of other columns or not next to them, alone; the corrupt one fails before.
    assert queries == [
        ["a-0.parquet", "a-1.parquet", "a-2.parquet", "a-3.parquet", "b-empty.parquet"],
        ["d-fewer.parquet"],
        ["e-named.parquet"],
        ["f-more.parquet"],
    ]
    # A small file is read once, for its footer and its hash; the corrupt one, whose
    # footer cannot be read, is hashed apart.
    assert hashed_in_pieces == ["c-corrupt.parquet"]
    monkeypatch.setattr(ingest.load, "BATCH_BYTES", 0)  # no group: every file alone
    monkeypatch.setattr(ingest.load, "WHOLE_READ_BYTES", 0)  # every file hashed apart
    queries.clear()
    hashed_in_pieces.clear()
    alone = raw_tables()
    assert len(queries) == 8 and len(hashed_in_pieces) == 9
    assert together == alone
    files, loaded, rejected, hashes = together
    assert [row["sha256"] for row in hashes] == [
        hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())
    ]
    # Twelve, two with an extra column, five; two without "stream", and the corrupt file.
    assert len(loaded) == 12 + 2 + 5 and len(rejected) == 2 + 1
    assert [f[1] for f in files] == [3, 3, 3, 3, 0, 0, 2, 2, 5]
    assert files[5][4].startswith("not a readable Parquet file")


def _with_broken_pages(path) -> None:
    """Overwrite the first column chunk's pages of a Parquet file, keeping its footer: the
    file is grouped with its neighbours by that footer and fails only when its rows are
    read."""
    chunk = pq.read_metadata(path).row_group(0).column(0)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start : start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(data))


def test_a_bad_parquet_file_in_a_run_of_small_ones_spoils_only_itself(data_dir):
    """A run of small Parquet files of one schema holding a file whose footer reads but
    whose pages do not, and a file of the wrong column types, is read by one query that
    fails: every good file still loads all its rows, the broken file is rejected whole
    with one line naming it, and the wrongly typed file's rows are each rejected with
    the contract's reason."""
    folder, table = _parquet_parts(data_dir, records=20, per_file=4, prefix="part-")
    _with_broken_pages(folder / "part-2.parquet")
    wrong = table.slice(0, 3).set_column(
        table.schema.get_field_index("input_tokens"),
        "input_tokens",
        pa.array(["many", "few", "none"]),
    )
    pq.write_table(wrong, folder / "part-3x.parquet")

    report = load_partition(data_dir, DAY)

    by_name = {f.path.rsplit("/", 1)[-1]: f for f in report.files}
    for name in ("part-0.parquet", "part-1.parquet", "part-3.parquet", "part-4.parquet"):
        good = by_name[name]
        assert (good.lines_read, good.rows_loaded, good.rows_rejected, good.error) == (
            4,
            4,
            0,
            None,
        ), name
    broken = by_name["part-2.parquet"]
    assert broken.error.startswith("not a readable Parquet file (") and "\n" not in broken.error
    assert (broken.rows_loaded, broken.rows_rejected) == (0, 1)
    typed = by_name["part-3x.parquet"]
    assert (typed.error, typed.lines_read, typed.rows_loaded, typed.rows_rejected) == (
        None,
        3,
        0,
        3,
    )
    loaded = query(data_dir, "SELECT source_file, request_id FROM raw.request_logs")
    assert sorted(loaded["request_id"]) == sorted(
        f"req_{n}" for n in [*range(0, 8), *range(12, 20)]
    )
    rejected = _rows(
        query(
            data_dir,
            "SELECT source_file, line_number, reason FROM raw.request_logs_rejected "
            "ORDER BY source_file, line_number",
        )
    )
    assert [(r["source_file"].rsplit("/", 1)[-1], r["line_number"]) for r in rejected] == [
        ("part-2.parquet", None),
        ("part-3x.parquet", 1),
        ("part-3x.parquet", 2),
        ("part-3x.parquet", 3),
    ]
    assert rejected[0]["reason"] == f"unreadable file: {broken.error}"
    assert broken.error.isprintable()  # DuckDB's message quotes the file's bytes
    assert all("input_tokens" in r["reason"] for r in rejected[1:])


def test_small_tables_are_merged_into_record_batches_and_large_ones_kept():
    tables = [
        pa.table({"n": pa.chunked_array([list(range(start, start + size))])})
        for start, size in ((0, 3), (3, 3), (6, 10), (16, 2), (18, 2), (20, 1))
    ]
    tables[2] = pa.Table.from_batches(tables[2].to_batches(max_chunksize=4))  # 4, 4, 2
    joined = end_to_end(tables, 5)
    assert joined.column("n").to_pylist() == list(range(21))
    assert [len(chunk) for chunk in joined.column("n").chunks] == [3, 3, 4, 4, 2, 5]


def test_small_csv_files_parsed_together_give_what_each_parsed_alone_gives(
    data_dir, monkeypatch, some_payloads
):
    """Runs of small CSV files of one header line are parsed by one pyarrow call; every
    row, reason, count and hash is what the files give parsed one by one, whatever the
    files hold: CRLF rows, byte-order marks, quoted newlines, blank lines, a last row
    without a newline, a file of a header alone, gzip, and files that cannot be parsed
    with others (the boundary text itself, an unterminated quote, a row of another
    width, bad UTF-8), each sending its run to be parsed file by file."""
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.spend]\nformat = "litellm_spend_logs"\n'
    )
    folder = data_dir.landing_dir / "spend" / f"dt={DAY.isoformat()}"
    folder.mkdir(parents=True)
    rows = [
        dict(spend_log_row(payload), request_id=f"r{number}-{index}")
        for number in range(6)
        for index, payload in enumerate(some_payloads)
    ]
    rows[1]["end_user"] = "two\nlines"  # a quoted newline (a control character: rejected)
    rows[2]["end_user"] = 'a "quoted" word'
    rows[3]["completion_tokens"] = "many"  # rejected with its reason
    header, *lines = spend_logs_csv(rows).splitlines(keepends=True)
    header = header.encode()
    lines = [line.encode() for line in lines]
    quoted = [at for at, line in enumerate(lines) if line.count(b'"') % 2]  # "two\nlines"
    lines[quoted[0] : quoted[0] + 2] = [lines[quoted[0]] + lines[quoted[0] + 1]]
    bom, crlf = b"\xef\xbb\xbf", [line.replace(b"\n", b"\r\n") for line in lines]
    # A header with a quote is read alone: such files end one run and start the next.
    quoted_header = b'"request_id"' + header[len(b"request_id") :]
    files = {
        # A run of files of one header line.
        "a-0.csv": header + lines[0] + lines[1],
        "a-1.csv": bom + header + crlf[2] + crlf[3],
        "a-2.csv": header + b"\n" + lines[4] + b"\n\n" + lines[5].rstrip(b"\n"),
        "a-3.csv": header,
        "a-4.csv.gz": gzip.compress(header + lines[6] + bom + lines[7], mtime=0),
        "a-5.csv": header + lines[8],
        "az.csv": quoted_header + lines[21],
        # The boundary text in a cell.
        "b-0.csv": header + lines[9],
        "b-1.csv": header + lines[10].replace(b"r2-", f"{csv_tables.BOUNDARY}-".encode()),
        "bz.csv": quoted_header + lines[22],
        # An unterminated quote, whose cell would run into the next file.
        "c-0.csv": header + lines[11][: lines[11].rindex(b",") + 1] + b'"open\n',
        "c-1.csv": header + lines[12],
        "cz.csv": quoted_header + lines[23],
        # A row of another width.
        "d-0.csv": header + lines[13] + b"1,2\n",
        "d-1.csv": header + lines[14],
        "dz.csv": quoted_header,
        # Bad UTF-8.
        "e-0.csv": header + lines[15].replace(b"r", b"\xff", 1),
        "e-1.csv": header + lines[16],
        "ez.csv": quoted_header + lines[17],
        # CRLF header lines: a run of their own.
        "g-0.csv": header.replace(b"\n", b"\r\n") + crlf[18],
        "g-1.csv": header.replace(b"\n", b"\r\n") + crlf[19] + crlf[20],
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)

    def raw_tables():
        report = load_partition(data_dir, DAY)
        reports = [
            (f.path, f.lines_read, f.rows_loaded, f.rows_rejected, f.error) for f in report.files
        ]
        return [
            reports,
            _rows(query(data_dir, "SELECT * EXCLUDE (ingested_at) FROM raw.request_logs")),
            _rows(query(data_dir, "SELECT * EXCLUDE (ingested_at) FROM raw.request_logs_rejected")),
            _rows(query(data_dir, "SELECT * EXCLUDE (ingested_at) FROM raw.ingested_files")),
        ]

    parses = []
    read_csv = pyarrow.csv.read_csv

    def counted_read_csv(source, **options):
        parses.append(options.get("read_options") is not None)  # True: a run's parse
        return read_csv(source, **options)

    monkeypatch.setattr(pyarrow.csv, "read_csv", counted_read_csv)
    together = raw_tables()
    # The a and g runs by one parse each; c, d and e tried as runs (b is not: its text
    # holds the boundary), then each file alone, as are the quoted headers.
    assert parses.count(True) == 5
    # The runs' headers, b-0 to e-1 alone (e-0's bad byte fails before pyarrow reads
    # it), and the z files.
    assert len(parses) - parses.count(True) == 6 + 7 + 5
    monkeypatch.setattr(csv_tables, "read_together", lambda header, bodies: None)
    parses.clear()
    alone = raw_tables()
    assert parses.count(True) == 0 and len(parses) == len(files) - 1  # not e-0
    assert together == alone

    reports, loaded, rejected, ingested = together
    by_name = {path.rsplit("/", 1)[-1]: tuple(report) for path, *report in reports}
    assert [by_name[f"a-{n}.csv"][1:3] for n in (0, 1, 2, 3, 5)] == [
        (1, 1),
        (1, 1),
        (2, 0),
        (0, 0),
        (1, 0),
    ]
    assert by_name["a-4.csv.gz"][1:3] == (2, 0)
    assert 'a "quoted" word' in {row["end_user_id"] for row in loaded}
    assert any('"two\\nlines"' in row["raw_line"] for row in rejected if row["raw_line"])
    # The unterminated quote's cell runs to the end of its file, as pyarrow reads it.
    assert by_name["c-0.csv"][3] is None and sum(by_name["c-0.csv"][1:3]) == 1
    assert by_name["d-0.csv"][3].startswith("not a readable CSV file")
    assert by_name["e-0.csv"][3].startswith("could not be read (UnicodeDecodeError")
    sha = {row["path"].rsplit("/", 1)[-1]: row["sha256"] for row in ingested}
    assert sha == {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
