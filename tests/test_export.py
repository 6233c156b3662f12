"""`llm-usage export` (readers/export.py, cli/export.py): what comes back from a file is
what the marts hold, a spreadsheet opens it safely, a failed export leaves nothing under
the name asked for, large exports stream in bounded memory, and every bad argument gets
one line and exit code 2. Reads the session's sample warehouse (conftest.py); tests that
change a warehouse change a copy."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_LAST_DAY, SAMPLE_START, copy_data_dir, use_data_dir

from readers.export import VIEWS, hourly, keys, mart_columns, resolve_source
from readers.warehouse import read_query

REPO = Path(__file__).resolve().parent.parent


def run(settings, *args: str) -> tuple[int, bytes, str]:
    """`llm-usage ARGS` through its entry point in this process: exit code, the bytes it
    wrote to standard output, and its standard error."""
    from cli.main import main

    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key in [key for key in os.environ if key.startswith("LLM_USAGE_")]:
            monkeypatch.delenv(key)
        use_data_dir(monkeypatch, settings.data_dir)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as stop:
                code = stop.code
    out.flush()
    return code, raw.getvalue(), err.getvalue()


def mart_rows(settings, mart: str, grain: str, detail_only: bool = False, columns=None):
    KEYS = keys()
    columns = columns or mart_columns()[mart]
    # A view's rows: every real key x model x provider, the other filters all ('*').
    detail = ("api_key_id", "model", "provider")
    where = (
        " AND ".join(f"{d} <> '*'" if d in detail else f"{d} = '*'" for d in KEYS[2:])
        if detail_only
        else "true"
    )
    return read_query(
        settings,
        f"SELECT {', '.join([*KEYS, *columns])} FROM main_marts.{mart} "
        f"WHERE grain = ? AND {where} "
        f"ORDER BY {', '.join(dict.fromkeys([*KEYS[1:], *columns]))}",
        [grain],
    )


def read_back(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "jsonl":
        return pd.DataFrame([json.loads(line) for line in path.read_text("utf-8").splitlines()])
    text_columns = {c: str for c in keys()}
    return pd.read_csv(path, dtype=text_columns, keep_default_na=False, na_values=[""])


def same(back: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal cell for cell: dates and instants as the same date or instant (ISO text in
    CSV and JSON lines), numbers exactly, missing as missing. Column by column (a
    Python comparison per cell took a minute for the sample warehouse's marts)."""
    assert list(back.columns) == list(expected.columns)
    assert len(back) == len(expected) > 0
    for column in expected.columns:
        left = back[column].reset_index(drop=True)
        right = expected[column].reset_index(drop=True)
        missing = right.isna().to_numpy()
        lost = np.flatnonzero(missing & ~left.isna().to_numpy())
        assert not len(lost), (column, left[lost[0]], right[lost[0]])
        left, right = left[~missing], right[~missing]
        if right.empty:
            continue
        first = right.iloc[0]
        if isinstance(first, (date, datetime)):  # pd.Timestamp is a datetime
            equal = (
                pd.to_datetime(left, format="ISO8601").to_numpy()
                == pd.to_datetime(right).to_numpy()
            )
        elif isinstance(first, str):
            equal = left.to_numpy(dtype=object) == right.to_numpy(dtype=object)
        else:  # exact: no rounding on the way
            equal = left.astype(float).to_numpy() == right.astype(float).to_numpy()
        wrong = np.flatnonzero(~np.asarray(equal, dtype=bool))
        assert not len(wrong), (column, left.iloc[wrong[0]], right.iloc[wrong[0]])


@pytest.fixture(scope="module")
def every_mart(sample_warehouse) -> dict[str, tuple[list[str], pd.DataFrame]]:
    """For each mart, the export's arguments and the rows it must give back, read once
    for the three formats. The hourly marts' hours of one day: all of them are two
    thirds of the rows and add nothing a day's do not check."""
    day = SAMPLE_START.isoformat()
    marts = {}
    for mart in mart_columns():
        if hourly(resolve_source(mart)):
            expected = mart_rows(sample_warehouse, mart, "hour")
            expected = expected[expected["event_date"].astype(str) == day]
            marts[mart] = (["--grain", "hour", "--from", day, "--to", day], expected)
        else:
            marts[mart] = (["--grain", "month"], mart_rows(sample_warehouse, mart, "month"))
    return marts


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_every_mart_reads_back_equal_to_its_rows(sample_warehouse, every_mart, tmp_path, fmt):
    for mart, (args, expected) in every_mart.items():
        out = tmp_path / f"{mart}.{fmt}"
        code, _, err = run(sample_warehouse, "export", mart, *args, "--out", str(out))
        assert code == 0, err
        same(read_back(out, fmt), expected)


def test_hours_export_by_their_local_days_and_only_with_the_hour_grain(sample_warehouse, tmp_path):
    """An hourly mart exports the hours of the days asked for (its default grain), with
    each hour's instant, local label and offset; a grain it does not hold is one line."""
    day = SAMPLE_START.isoformat()
    out = tmp_path / "hours.csv"
    code, _, err = run(
        sample_warehouse, "export", "usage_by_hour", "--from", day, "--to", day, "--out", str(out)
    )
    assert code == 0, err
    back = read_back(out, "csv")
    expected = mart_rows(sample_warehouse, "mart_usage_by_hour", "hour")
    expected = expected[expected["event_date"].astype(str) == day]
    assert len(back) == len(expected) > 0
    assert set(back["event_date"]) == {day}
    assert all(str(v).endswith("Z") for v in back["period_start"])  # instants, in UTC
    for what, grain in (("usage_by_hour", "day"), ("usage_summary", "hour")):
        code, _, err = run(sample_warehouse, "export", what, "--grain", grain)
        assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert "--grain" in err, err


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_the_views_hold_the_detail_rows_that_add_up_to_the_totals(sample_warehouse, tmp_path, view):
    out = tmp_path / f"{view}.csv"
    code, _, err = run(sample_warehouse, "export", view, "--grain", "day", "--out", str(out))
    assert code == 0, err
    mart, columns = VIEWS[view]
    expected = mart_rows(sample_warehouse, mart, "day", detail_only=True, columns=columns)
    back = read_back(out, "csv")
    same(back, expected)
    # No '*' row: the rows of a day add up to the day's all-keys total.
    totals = mart_rows(sample_warehouse, mart, "day", columns=columns)
    totals = totals[(totals[list(keys()[2:])] == "*").all(axis=1)]
    assert back.groupby("period_start")["requests"].sum().tolist() == totals["requests"].tolist()


def test_standard_output_period_filters_and_columns(sample_warehouse):
    code, out, err = run(
        sample_warehouse,
        *("export", "usage_by_model", "--period", SAMPLE_START.isoformat(), "--grain", "month"),
        *("--api-key", "*", "--provider", "*", "--columns", "spend_usd,requests"),
        *("--organization", "*", "--team", "*", "--project", "*"),
    )
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out.decode("utf-8"))))
    assert rows[0] == [*keys(), "spend_usd", "requests"]
    expected = read_query(
        sample_warehouse,
        "SELECT model, requests FROM main_marts.mart_usage_by_model WHERE grain = 'month' "
        "AND period_start = ? AND api_key_id = '*' AND provider = '*' AND organization_id = '*' "
        "AND team_id = '*' AND project_id = '*' ORDER BY model",
        [SAMPLE_START.replace(day=1)],
    )
    model, requests = keys().index("model"), len(keys()) + 1
    assert [r[model] for r in rows[1:]] == list(expected["model"])
    assert [int(r[requests]) for r in rows[1:]] == list(expected["requests"])
    assert {r[1] for r in rows[1:]} == {"2026-01-01"}


def test_a_month_as_period_exports_its_days_or_weeks(sample_warehouse):
    code, out, err = run(
        sample_warehouse, "export", "usage", "--grain", "day", "--period", "2026-01"
    )
    assert code == 0, err
    days = {row[1] for row in csv.reader(io.StringIO(out.decode()))} - {"period_start"}
    assert days == {f"2026-01-{day}" for day in range(SAMPLE_START.day, 32)}


def test_a_range_covers_the_periods_holding_its_days_and_says_what_is_missing(sample_warehouse):
    code, out, err = run(
        sample_warehouse,
        "export",
        "usage",
        "--grain",
        "week",
        "--from",
        "2026-01-28",
        "--to",
        "2026-02-28",
    )
    assert code == 0, err
    weeks = {row[1] for row in csv.reader(io.StringIO(out.decode()))} - {"period_start"}
    # The week of 2026-01-28 starts on Monday 2026-01-26; the data ends in the next week.
    assert weeks == {"2026-01-26", "2026-02-02"}
    assert f"the marts hold days {SAMPLE_START} .. {SAMPLE_LAST_DAY} only" in err


HOSTILE = [
    '=HYPERLINK("http://evil.example","open")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tkey",
    "\rkey",
    'say "hi", twice\nthen again',
    "naïve-ключ-鍵",
]


def test_csv_is_safe_in_a_spreadsheet_rfc4180_and_utf8(sample_warehouse, tmp_path, monkeypatch):
    settings = copy_data_dir(sample_warehouse, tmp_path / "data", monkeypatch)
    day = SAMPLE_START.isoformat()
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        keys = [
            row[0]
            for row in connection.execute(
                "SELECT DISTINCT api_key_id FROM main_marts.mart_usage_summary "
                "WHERE grain = 'day' AND period_start = ? AND api_key_id <> '*' ORDER BY 1",
                [day],
            ).fetchall()
        ][: len(HOSTILE)]
        for key, name in zip(keys, HOSTILE):
            connection.execute(
                "UPDATE main_marts.mart_usage_summary SET api_key_id = ? WHERE api_key_id = ?",
                [name, key],
            )
        # A negative figure is a number, not a formula: it keeps its sign.
        connection.execute(
            "UPDATE main_marts.mart_usage_summary SET spend_usd = -1.5 WHERE api_key_id = ?",
            [HOSTILE[0]],
        )
    out = tmp_path / "spend.csv"
    code, _, err = run(
        settings, "export", "spend", "--grain", "day", "--period", day, "--out", str(out)
    )
    assert code == 0, err
    data = out.read_bytes()
    data.decode("utf-8")  # UTF-8 throughout
    assert b"\r\n" in data and data.endswith(b"\r\n")  # RFC 4180 line ends
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    ids = {row["api_key_id"] for row in rows}
    for name in HOSTILE:
        safe = "'" + name if name[0] in "=+-@\t\r" else name
        assert safe in ids, name
    for row in rows:
        assert not row["api_key_id"].startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert {row["spend_usd"] for row in rows if row["api_key_id"] == "'" + HOSTILE[0]} == {"-1.5"}


def test_a_failed_export_leaves_no_file_under_its_name(sample_warehouse, tmp_path, monkeypatch):
    from readers import export

    out = tmp_path / "usage.csv"
    out.write_text("the previous export\n")

    def broken(handle, schema, batches):
        for number, batch in enumerate(batches):
            handle.write(b"x" * batch.num_rows)
            if number == 1:
                raise OSError("No space left on device")

    monkeypatch.setitem(export.WRITERS, "csv", broken)
    source = export.resolve_source("usage")
    queries = export.export_queries(
        sample_warehouse, source, source.columns, export.Periods.between("day", None, None), {}
    )
    with pytest.raises(OSError, match="No space left"):
        export.write_export(sample_warehouse, queries, "csv", out, batch_rows=10)
    assert out.read_text() == "the previous export\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["usage.csv"]  # no partial file


def test_an_export_says_on_stderr_when_a_day_is_on_quality_hold(
    sample_warehouse, tmp_path, monkeypatch
):
    settings = copy_data_dir(sample_warehouse, tmp_path / "data", monkeypatch)
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute(
            "INSERT INTO raw.quality_holds VALUES (?, 'status_values (40% failing)', now())",
            [SAMPLE_LAST_DAY],
        )
    code, _, err = run(settings, "export", "spend", "--out", str(tmp_path / "spend.csv"))
    assert code == 0, err
    assert f"{SAMPLE_LAST_DAY} are on quality hold" in err


BAD = {
    "unknown mart": (["export", "mart_nope"], "There is no mart or view called 'mart_nope'"),
    "unknown column": (["export", "usage", "--columns", "requests,tokns"], "no column 'tokns'"),
    "empty columns": (["export", "usage", "--columns", " , "], "--columns is empty"),
    "unknown filter value": (["export", "usage", "--model", "gpt-nope"], "model='gpt-nope'"),
    "backwards range": (
        ["export", "usage", "--from", "2026-02-03", "--to", "2026-02-01"],
        "--from 2026-02-03 is after --to 2026-02-01: the range is empty.",
    ),
    "range without data": (
        ["export", "spend", "--period", "2025-06"],
        "No rows of spend for months",
    ),
    "period and range": (
        ["export", "usage", "--period", "2026-01", "--from", "2026-01-01"],
        "not both",
    ),
    "month outside focus": (
        ["export", "usage", "--month", "2026-01"],
        "--month is for `export focus`",
    ),
    "focus without month": (["export", "focus"], "needs --month"),
    "focus with a filter": (
        ["export", "focus", "--month", "2026-01", "--model", "x"],
        "--model does not apply",
    ),
    "focus month without data": (
        ["export", "focus", "--month", "2025-06"],
        "No pay-as-you-go requests with a known cost in 2025-06-01 .. 2025-06-30",
    ),
    "focus as jsonl": (["export", "focus", "--month", "2026-01", "--format", "jsonl"], "not jsonl"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_bad_argument_gets_one_line_and_exit_2(sample_warehouse, tmp_path, case):
    args, message = BAD[case]
    out = tmp_path / "out.csv"
    code, stdout, err = run(sample_warehouse, *args, "--out", str(out))
    assert code == 2
    errors = [line for line in err.splitlines() if not line.startswith("Note:")]
    assert len(errors) == 1 and errors[0].startswith("llm-usage: "), err
    assert message in errors[0]
    assert "Traceback" not in err and stdout == b""
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a partial file


def test_an_out_path_that_is_a_folder_is_refused(sample_warehouse, tmp_path):
    code, _, err = run(sample_warehouse, "export", "usage", "--out", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_bad_dates_and_formats_are_refused_by_the_parser(sample_warehouse):
    for args in (["--from", "2026-02-30"], ["--period", "March"], ["--format", "xlsx"]):
        code, _, err = run(sample_warehouse, "export", "usage", *args)
        assert code == 2 and "Traceback" not in err, args


# ------------------------------------------------------------------- bounded memory

BIG_TABLE = """
CREATE SCHEMA main_marts;
CREATE TABLE main_marts.mart_usage_summary AS
SELECT 'day' AS grain, DATE '2025-01-01' + (i // 4000)::INTEGER AS period_start,
    'key_' || (i % 400) AS api_key_id, 'vendor/model-' || (i % 10) AS model,
    'provider' AS provider, '*' AS organization_id, '*' AS team_id, '*' AS project_id,
    i * 7 AS total_tokens, i * 5 AS input_tokens,
    i * 2 AS output_tokens, (i % 97 + 1)::BIGINT AS requests, i / 1e6 AS spend_usd,
    (i % 97 + 1)::BIGINT AS requests_with_cost, 1.0 AS cost_coverage,
    2.5 AS cost_per_million_tokens, now() AS built_at
FROM range(?) t(i);
"""


def peak_rss_mb(settings, *args: str) -> float:
    """Peak resident memory of `llm-usage ARGS` in a process of its own, in MB."""
    # VmHWM: the peak of this process's own memory (ru_maxrss would carry the peak of
    # the forking pytest process across exec).
    script = (
        "import re, sys\n"
        "from cli.main import main\n"
        "try:\n    main(sys.argv[1:])\n"
        "finally:\n"
        "    status = open('/proc/self/status').read()\n"
        "    print(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1), file=sys.stderr)\n"
    )
    environment = {**os.environ, **settings.environment(), "LLM_USAGE_DUCKDB_MEMORY_LIMIT": "64MB"}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=environment,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def test_a_large_export_streams_in_bounded_memory(tmp_path, monkeypatch):
    """Five times the rows do not take more memory: the rows are never all held. CSV,
    whose rows pass through Python one by one (Parquet goes batch to batch in Arrow;
    docs/benchmarks.md measures both)."""
    peaks = {}
    for rows in (100_000, 500_000):
        settings = use_data_dir(monkeypatch, tmp_path / f"data{rows}")
        settings.data_dir.mkdir(parents=True)
        with duckdb.connect(str(settings.warehouse_path)) as connection:
            connection.execute(BIG_TABLE.replace("?", str(rows)))
        out = tmp_path / f"{rows}.csv"
        peaks[rows] = peak_rss_mb(
            settings, "export", "mart_usage_summary", "--grain", "day", "--out", str(out)
        )
        with out.open() as written:
            assert sum(1 for _ in written) == rows + 1
    # Holding the extra 400,000 rows would take well over 100 MB as Python objects (16
    # fields a row), and DuckDB is held to 64 MB; the growth allowed is DuckDB's own caches.
    assert peaks[500_000] - peaks[100_000] < 40, peaks


def test_decimal_figures_are_numbers_in_every_format(tmp_path, monkeypatch):
    settings = use_data_dir(monkeypatch, tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute(BIG_TABLE.replace("?", "3"))  # cost_coverage is a DECIMAL there
    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"decimal.{fmt}"
        code, _, err = run(
            settings, "export", "mart_usage_summary", "--grain", "day", "--out", str(out)
        )
        assert code == 0, err
        back = read_back(out, fmt)
        assert [float(v) for v in back["cost_coverage"]] == [1.0, 1.0, 1.0], fmt
        assert [float(v) for v in back["cost_per_million_tokens"]] == [2.5, 2.5, 2.5], fmt


def test_cells_are_converted_by_column_as_each_cell_would_be():
    """readers/export.py converts a batch column by column (Arrow): every cell comes out
    as `_text` makes it on its own, instants before 1970 and with fractions included."""
    from datetime import UTC

    import pyarrow as pa

    from readers.export import _rows, _text

    batch = pa.record_batch(
        [
            pa.array([datetime(2026, 3, 8, 1, 2, 3, 999_999), None]),
            pa.array(
                [
                    datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
                    datetime(2026, 1, 1, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            pa.array([float("nan"), 2.5]),
            pa.array([date(1, 1, 1), None]),
            pa.array(["=x", None]),
            pa.array([7, None], pa.int64()),
        ],
        names=list("abcdef"),
    )
    by_cell = [[_text(v) for v in row] for row in zip(*(c.to_pylist() for c in batch.columns))]
    assert [list(row) for row in _rows([batch])] == by_cell
    assert by_cell[0][1] == "1969-12-31T23:59:59Z" and by_cell[0][2] is None
