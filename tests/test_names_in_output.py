"""Names from the logs are data in every CLI output (issue 31 items 4 and 5): a terminal
shows them and is never driven by them, none passes for the marts' '*' ("all"), a CSV
opens in a spreadsheet without running them, and JSON carries them exactly.

The warehouse is a copy of the sample one whose marts are given hostile names, as a
warehouse built before ingest quarantined such records still holds them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import unicodedata

import duckdb
import pytest
from conftest import copy_data_dir, use_data_dir

from readers.terminal_text import for_terminal, message_for_terminal

# Existing names are renamed to these, in every mart that has the column.
HOSTILE = {
    "api_key_id": [
        '=HYPERLINK("http://evil.example","click")',  # a spreadsheet formula
        "*\x00",  # NUL after the "all" marker
        "*\u200b",  # a zero-width space after it
        "key\x1b]0;owned\x07\x1b[2J\x1b[1;1H",  # retitle the window, clear the screen
        "bidi\u202edcba\u2066x\u2069",  # right-to-left override and an isolate
    ],
    "model": ["@SUM(A1)", "-2+3", "gpt\rFAKE", "tab\tname\x7f\x85"],
    "provider": ["+cmd|' /C calc'!A0", "* "],
}
# What a terminal must not receive: every control (C0, DEL, C1) but the line ends the
# CLI writes itself, and every bidirectional or zero-width format character.
FORBIDDEN = {chr(c) for c in range(0x20) if chr(c) != "\n"} | {chr(c) for c in range(0x7F, 0xA0)}


def _unsafe(text: str) -> list[str]:
    return sorted(
        {c for c in text if c in FORBIDDEN or unicodedata.category(c) in ("Cf", "Zl", "Zp")}
    )


@pytest.fixture(scope="module")
def hostile(sample_warehouse, tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = copy_data_dir(
            sample_warehouse, tmp_path_factory.mktemp("names") / "data", monkeypatch
        )
    connection = duckdb.connect(str(settings.warehouse_path))
    try:
        for column, names in HOSTILE.items():
            existing = [
                row[0]
                for row in connection.execute(
                    f"SELECT {column} FROM main_marts.mart_usage_summary WHERE {column} <> '*' "
                    f"GROUP BY ALL ORDER BY sum(requests) DESC, {column} LIMIT {len(names)}"
                ).fetchall()
            ]
            assert len(existing) == len(names), (column, existing)
            tables = connection.execute(
                "SELECT table_name FROM duckdb_columns() WHERE schema_name = 'main_marts' "
                "AND column_name = ? AND table_name IN (SELECT table_name FROM duckdb_tables())",
                [column],
            ).fetchall()
            for (table,) in tables:
                for old, new in zip(existing, names):
                    connection.execute(
                        f"UPDATE main_marts.{table} SET {column} = ? WHERE {column} = ?",
                        [new, old],
                    )
    finally:
        connection.close()
    return settings


def run(settings, *args: str) -> tuple[int, str, str]:
    """`llm-usage ARGS` through its entry point, with this warehouse's settings."""
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key in [key for key in os.environ if key.startswith("LLM_USAGE_")]:
            monkeypatch.delenv(key)
        use_data_dir(monkeypatch, settings.data_dir)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exit_:
                code = exit_.code or 0
    return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ item 5: terminals


@pytest.mark.parametrize(
    "name, shown",
    [
        ("*\x00", "*\\x00"),
        ("\x1b[2J", "\\x1b[2J"),
        ("a\rb", "a\\x0db"),
        ("x\u202ey", "x\\u202ey"),
        ("*\u200b", "*\\u200b"),
        ("* ", "*\\x20"),
        (" *", "\\x20*"),
        ("a\u00a0b", "a\\xa0b"),
        ("c1\x9b", "c1\\x9b"),
        ("\\x00", "\\\\x00"),  # the text of an escape is not taken for the escape
        ("gpt-4o", "gpt-4o"),
        ("naïve 日本 🙂", "naïve 日本 🙂"),
    ],
)
def test_a_name_is_shown_with_its_invisible_characters_escaped(name, shown):
    assert for_terminal(name) == shown
    assert not _unsafe(for_terminal(name))


def test_a_message_escapes_the_same_characters_but_keeps_its_backslashes():
    assert message_for_terminal("bad value 'a\\x00' \x1b[31m!") == "bad value 'a\\x00' \\x1b[31m!"


@pytest.mark.parametrize("what, column", [("keys", "api_key_id"), ("models", "model")])
def test_list_shows_every_name_visibly_and_none_as_the_all_marker(hostile, what, column):
    code, out, err = run(hostile, "list", what)
    assert code == 0, err
    assert _unsafe(out) == []
    listed = [line[2:].rsplit("  ", 1)[0].rstrip() for line in out.splitlines()[2:]]
    for name in HOSTILE[column]:
        assert for_terminal(name) in listed
    assert "*" not in listed


def test_providers_with_an_edge_space_do_not_pass_for_the_all_marker(hostile):
    code, out, err = run(hostile, "list", "providers")
    assert code == 0, err
    listed = [line[2:].rsplit("  ", 1)[0].rstrip() for line in out.splitlines()[2:]]
    assert "*\\x20" in listed and "*" not in listed
    assert _unsafe(out) == []


def test_report_table_and_sql_show_names_visibly(hostile):
    code, out, err = run(hostile, "report", "--period", "month", "--date", "2026-01-26")
    assert code == 0, err
    assert _unsafe(out + err) == []
    assert "*\\x00" in out and "\\x1b]0;owned\\x07" in out and "gpt\\x0dFAKE" in out
    code, out, err = run(
        hostile,
        "sql",
        "SELECT DISTINCT api_key_id, model FROM main_marts.mart_usage_summary "
        "WHERE api_key_id LIKE 'bidi%' OR model LIKE 'tab%'",
    )
    assert code == 0, err
    assert _unsafe(out + err) == []
    assert "bidi\\u202edcba\\u2066x\\u2069" in out and "tab\\x09name\\x7f\\x85" in out


def test_an_error_that_quotes_a_value_is_shown_visibly(hostile):
    code, _, err = run(
        hostile,
        "sql",
        "SELECT CAST(api_key_id AS INTEGER) FROM main_marts.mart_usage_summary WHERE api_key_id LIKE '%owned%'",
    )
    assert code == 2 and err.startswith("llm-usage: The query failed")
    assert _unsafe(err.rstrip("\n")) == [] and "\\x1b[2J" in err


def test_report_json_carries_the_names_exactly(hostile):
    code, out, err = run(
        hostile, "report", "--period", "month", "--date", "2026-01-26", "--format", "json"
    )
    assert code == 0, err
    assert _unsafe(out) == []  # JSON's own escapes
    body = json.loads(out)
    keys = {row["api_key_id"] for row in body["panels"]["usage_by_api_key"]}
    assert set(HOSTILE["api_key_id"]) <= keys


# ------------------------------------------------------------------- item 4: CSV cells


def test_report_csv_opens_every_name_as_text_in_a_spreadsheet(hostile):
    code, out, err = run(
        hostile, "report", "--period", "month", "--date", "2026-01-26", "--format", "csv"
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    cells = {column: {row[column] for row in rows} for column in HOSTILE}
    for column, names in HOSTILE.items():
        for name in names:
            if name.startswith(("=", "+", "-", "@")):
                assert "'" + name in cells[column] and name not in cells[column]
    # No cell of any row starts a formula; figures stay numbers.
    assert not [v for row in rows for v in row.values() if v.startswith(("=", "+", "-", "@"))]
    figures = [row["value"] for row in rows if row["metric"] == "requests"]
    assert figures and all(int(v) >= 0 for v in figures)


def test_the_page_offers_no_csv_export_that_would_write_formulas(data_dir, monkeypatch):
    """Streamlit's own table download writes cells as they are (it cannot go through
    readers/csv_text.py), so the page is served with it off."""
    from cli import main as cli

    started = {}
    monkeypatch.setattr(
        cli.os, "execve", lambda path, command, env: started.update(command=command)
    )
    cli.main(["dashboard", "--port", "8599"])
    command = started["command"]
    assert command[command.index("--client.disableDataExport") + 1] == "true"


def test_verbose_dbt_lines_keep_dbt_colours_but_show_data_escapes():
    """`materialize --verbose` on a terminal: dbt's colour codes pass, anything else in a
    line (a value from the data in dbt's error) is shown, not acted on."""
    from cli.main import _DbtOutput

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    _DbtOutput(terminal, verbose=True).write(
        "Conversion Error: 'key\x1b]0;owned\x07\x1b[2J' [\x1b[31mERROR\x1b[0m in 0.1s]\n"
    )
    assert terminal.getvalue() == (
        "    dbt| Conversion Error: 'key\\x1b]0;owned\\x07\\x1b[2J' [\x1b[31mERROR\x1b[0m in 0.1s]\n"
    )
