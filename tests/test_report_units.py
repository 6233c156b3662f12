"""`llm-usage report` shows every figure in the unit the marts' YAML declares for its
column (`config.meta.unit`, readers/panels.py UNITS), never in one guessed from the
column's name: in the table a count has separators and no decimals, a share or ratio is
a percent that says what it is a part of, dollars have cents, NULL is '-'; in JSON and
CSV a count or rank is an integer, a share a 0..1 number, NULL null or empty.

Everything is read from the session's sample warehouse (tests/conftest.py), built once.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
from datetime import date

import duckdb
import pytest
from conftest import SAMPLE_START, use_data_dir

from readers.hours import HOUR_FIGURES, HOURLY_MART
from readers.panels import PARTS, UNITS, column_unit, units_from_models
from readers.report import (
    END_USER_PANEL,
    HIDDEN,
    HOURS_PANEL,
    PLAIN,
    SHOWN,
    TABLE_ROWS,
    dashboard,
    panel_key,
    share_base,
)

WEEK = SAMPLE_START  # a Monday: the sample holds the whole ISO week
DAY = date(2026, 1, 27)
# Columns that place an hour (shown as its name), not figures.
HOUR_KEYS = {"hour_label", "utc_offset_minutes", "event_date"}

# A cell of each unit in the terminal table; any unit's NULL is '-'.
WHOLE = r"\d{1,3}(?:,\d{3})*"
DOLLARS = r"-?\$\d{1,3}(?:,\d{3})*\.\d\d"
PERCENT = r"\d{1,3}(?:,\d{3})*\.\d%"
CELL = {
    "count": WHOLE,
    "rank": WHOLE,
    "usd": DOLLARS,
    "usd_per_million_tokens": DOLLARS,
    "ms": rf"{WHOLE} ms",
    "tokens_per_second": r"\d{1,3}(?:,\d{3})*\.\d tok/s",
    "share": PERCENT,
    "ratio": PERCENT,
    "text": r".+?",
    "flag": r"True|False",
}
HOUR_NAME = r"\d{4}-\d\d-\d\d \d\d:\d\d \(UTC[+-]\d\d:\d\d\)"
# The DuckDB types a column of each unit can be built as: a unit that disagrees with
# the built column (a count declared on a float, dollars on a name) is a wrong one.
WHOLE_TYPE = r"U?(?:TINY|SMALL|BIG|HUGE)?INT(?:EGER)?"
REAL_TYPE = r"DOUBLE|FLOAT|REAL|DECIMAL\(\d+,\d+\)"
BUILT_AS = {
    "count": WHOLE_TYPE,
    "rank": WHOLE_TYPE,
    "text": "VARCHAR",
    "flag": "BOOLEAN",
    **{u: REAL_TYPE for u in ("usd", "usd_per_million_tokens", "ms", "tokens_per_second")},
    **{u: REAL_TYPE for u in PARTS},
}


def run(settings, *args: str) -> str:
    """`llm-usage ARGS` through its entry point on this warehouse; its standard output."""
    from cli.main import main

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key in [key for key in os.environ if key.startswith("LLM_USAGE_")]:
            monkeypatch.delenv(key)
        use_data_dir(monkeypatch, settings.data_dir)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            main(list(args))
    return out.getvalue()


@pytest.fixture(scope="module")
def week(sample_warehouse):
    """The week's panels as the report reads them, and the report in its three formats
    (JSON with one end user's figures)."""
    panels = dashboard(sample_warehouse, "week", WEEK, {})
    top = next(f for p, f in panels.items() if p.mart == "mart_top_end_users")
    end_user = next(u for u in top["end_user_id"] if u not in ("(none)", "(other)"))
    args = ("report", "--period", "week", "--date", str(WEEK))
    return {
        "panels": panels,
        "end_user": end_user,
        "table": run(sample_warehouse, *args),
        "json": json.loads(
            run(sample_warehouse, *args, "--end-user", end_user, "--format", "json")
        ),
        "csv": list(csv.DictReader(io.StringIO(run(sample_warehouse, *args, "--format", "csv")))),
    }


def _unit_name(panel, column: str) -> str:
    declared = column_unit(panel.mart, column)
    assert declared is not None, f"{panel.mart}.{column} declares no unit"
    return declared.name


def test_every_built_mart_column_declares_a_unit_of_the_set(sample_warehouse, week):
    connection = duckdb.connect(str(sample_warehouse.warehouse_path), read_only=True)
    try:
        built = connection.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'main_marts'"
        ).fetchall()
    finally:
        connection.close()
    marts = {table for table, _, _ in built}
    assert {p.mart for p in week["panels"]} | {HOURLY_MART} <= marts
    for mart, column, built_type in built:
        if column in HIDDEN | HOUR_KEYS:
            continue
        declared = column_unit(mart, column)
        assert declared is not None and declared.name in UNITS, f"{mart}.{column}: {declared}"
        assert bool(declared.of) == (declared.name in PARTS), f"{mart}.{column}"
        assert re.fullmatch(BUILT_AS[declared.name], built_type), (mart, column, built_type)
    # What the report prints is among them, the hours' and an end user's figures too.
    for panel, frame in week["panels"].items():
        for column in frame.columns:
            assert _unit_name(panel, column) in UNITS
    for column in HOUR_FIGURES:
        assert _unit_name(HOURS_PANEL, column) in UNITS
    for column in ("end_user_id", "total_tokens", "requests", "spend_usd"):
        assert _unit_name(END_USER_PANEL, column) in UNITS
    # The report has a form for each unit, and nothing else.
    assert set(PLAIN) == set(SHOWN) == set(UNITS) == set(CELL) == set(BUILT_AS)


def test_a_unit_outside_the_set_or_a_share_without_its_base_is_named():
    def model(meta: dict) -> list[dict]:
        return [{"name": "mart_x", "columns": [{"name": "spend", "config": {"meta": meta}}]}]

    with pytest.raises(ValueError, match=r"mart_x\.spend: unit 'dollars' is not one of count"):
        units_from_models(model({"unit": "dollars"}))
    with pytest.raises(ValueError, match=r"mart_x\.spend: give `of`"):
        units_from_models(model({"unit": "share"}))
    with pytest.raises(ValueError, match=r"mart_x\.spend: give `of`"):
        units_from_models(model({"unit": "count", "of": "requests"}))
    assert units_from_models(model({"unit": "ratio", "of": "requests"}))["mart_x"]["spend"].of


def _sections(text: str) -> dict[str, list[str]]:
    """The report's panels by title, each with its lines."""
    sections, title = {}, None
    for line in text.splitlines():
        if line.startswith("-- "):
            title = line[3:]
            sections[title] = []
        elif line.startswith("== "):
            title = None
        elif title and line:
            sections[title].append(line)
    return sections


def _cell(panel, column: str) -> str:
    return rf"(?:{CELL[_unit_name(panel, column)]}|-)"


def test_the_table_shows_each_cell_in_its_units_form(week):
    sections = _sections(week["table"])
    checked_units = set()
    for panel, frame in week["panels"].items():
        lines = sections[panel.title]
        assert not frame.empty, panel.title
        if not panel.breakdown:
            row = frame.iloc[0]
            assert len(lines) == len(frame.columns), panel.title
            for column, line in zip(frame.columns, lines):
                name, shown = re.fullmatch(r"   (\S+) +(.*)", line).groups()
                assert name == column
                base = share_base(panel, column)
                if base:  # a share says what it is a part of
                    assert shown.endswith(f" {base}"), (column, shown)
                    shown = shown.removesuffix(f" {base}")
                assert re.fullmatch(_cell(panel, column), shown), (panel.title, column, shown)
                assert (shown == "-") == bool(row.isna()[column]), (column, shown)
                checked_units.add(_unit_name(panel, column))
            continue
        header, *rows = [line for line in lines if not line.lstrip().startswith("... ")]
        assert len(rows) == min(len(frame), TABLE_ROWS), panel.title
        headers = [
            f"{c} (% {share_base(panel, c)})" if share_base(panel, c) else c for c in frame.columns
        ]
        assert header.split()[0] == headers[0]
        assert [h for h in headers if h not in header] == [], panel.title
        pattern = "   " + r"\s+".join(f"({_cell(panel, c)})" for c in frame.columns)
        for line, (_, row) in zip(rows, frame.head(TABLE_ROWS).iterrows()):
            cells = re.fullmatch(pattern, line.rstrip())
            assert cells, (panel.title, line)
            for column, shown in zip(frame.columns, cells.groups()):
                unit = _unit_name(panel, column)
                checked_units.add(unit)
                if unit != "text":  # a name may itself be '-'
                    assert (shown == "-") == bool(row.isna()[column]), (column, shown)
                if unit in ("count", "rank") and shown != "-":
                    assert int(shown.replace(",", "")) == row[column], (column, shown)
    assert checked_units == set(UNITS)


def test_the_hours_show_each_figure_in_its_units_form(sample_warehouse):
    text = run(sample_warehouse, "report", "--period", "day", "--date", str(DAY), "--by-hour")
    hours = text.split("== By hour (local hours of the reporting time zone) ==\n")[1]
    header, *rows = hours.splitlines()
    assert header.split() == ["hour", *HOUR_FIGURES]
    assert len(rows) == 24
    pattern = "   " + HOUR_NAME + "".join(rf"\s+{_cell(HOURS_PANEL, c)}" for c in HOUR_FIGURES)
    for line in rows:
        assert re.fullmatch(pattern, line), line


def _assert_plain(panel, column: str, value) -> None:
    unit = _unit_name(panel, column)
    where = (panel.title, column, value)
    if value is None:
        return
    if unit in ("count", "rank"):
        assert type(value) is int, where
    elif unit in PARTS:
        assert type(value) is float and 0 <= value <= 1, where
    elif unit == "text":
        assert type(value) is str, where
    elif unit == "flag":
        assert type(value) is bool, where
    else:  # dollars, milliseconds, tokens per second
        assert type(value) is float, where


def test_json_holds_counts_and_ranks_as_integers_and_shares_as_parts_of_one(week, sample_warehouse):
    report, checked = week["json"], 0
    for panel, frame in week["panels"].items():
        body = report["panels"][panel_key(panel)]
        rows = body if panel.breakdown else [body]
        assert len(rows) == len(frame), panel.title
        for row in rows:
            for column, value in row.items():
                _assert_plain(panel, column, value)
                checked += 1
    figures = report["end_user"]
    assert figures["end_user_id"] == week["end_user"] and figures["requests"] > 0
    for column, value in figures.items():
        _assert_plain(END_USER_PANEL, column, value)
    day = json.loads(
        run(
            sample_warehouse,
            "report",
            "--period",
            "day",
            "--date",
            str(DAY),
            "--by-hour",
            "--format",
            "json",
        )
    )
    for hour in day["by_hour"]:
        for column in HOUR_FIGURES:
            _assert_plain(HOURS_PANEL, column, hour[column])
    assert checked > 500


def test_csv_writes_counts_and_ranks_as_integers_and_null_as_empty(week, sample_warehouse):
    by_key = {panel_key(p): p for p in week["panels"]}
    whole = {"count", "rank"}
    seen = set()
    for record in week["csv"]:
        panel = by_key[record["panel"]]
        unit = _unit_name(panel, record["metric"])
        if unit in whole:
            assert re.fullmatch(r"\d+|", record["value"]), record
            seen.add(record["value"] == "")
        elif unit in PARTS and record["value"]:
            assert 0 <= float(record["value"]) <= 1, record
    assert seen == {True, False}  # a NULL rank ('(other)') is empty, the rest integers
    hour = run(
        sample_warehouse, "report", "--period", "hour", "--date", f"{DAY}T10", "--format", "csv"
    )
    for record in csv.DictReader(io.StringIO(hour)):
        if column_unit(HOURLY_MART, record["metric"]).name in whole:
            assert re.fullmatch(r"\d+", record["value"]), record
