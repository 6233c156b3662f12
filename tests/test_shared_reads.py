"""A command that only reads makes its queries on one connection (readers/warehouse.py,
`shared_reads`), and leaves the warehouse free for a writer when it ends."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from conftest import use_data_dir

import readers.warehouse as warehouse
from cli.main import main

COMMANDS = [
    ["report", "--period", "month"],
    ["report", "--period", "day", "--by-hour", "--format", "json"],
    ["list", "models"],
    ["export", "mart_usage_summary", "--grain", "week", "--format", "csv"],
    ["alerts"],
    ["sql", "SELECT count(*) FROM main_marts.mart_usage_summary"],
]


@pytest.fixture(scope="module")
def own_copy(sample_warehouse, tmp_path_factory):
    """A copy of the session's sample data directory: the tests open it as a writer, which
    other workers' read-only connections to the shared sample would refuse."""
    folder = tmp_path_factory.mktemp("shared_reads") / "data"
    shutil.copytree(sample_warehouse.data_dir, folder)
    return folder


@pytest.fixture
def own(own_copy, monkeypatch):
    """Every setting pointing at this module's copy, for this test."""
    return use_data_dir(monkeypatch, own_copy)


@pytest.fixture
def opened(own, monkeypatch):
    connections: list[duckdb.DuckDBPyConnection] = []
    real = warehouse.reader_connection

    def counted(*args, **kwargs):
        connections.append(real(*args, **kwargs))
        return connections[-1]

    monkeypatch.setattr(warehouse, "reader_connection", counted)
    return connections


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_a_reading_command_opens_one_connection_and_closes_it(opened, own, capsys, argv):
    main(argv)
    assert capsys.readouterr().out.strip()
    assert len(opened) == 1
    with pytest.raises(duckdb.ConnectionException):  # closed: no writer is kept out
        opened[0].execute("SELECT 1")
    duckdb.connect(str(own.warehouse_path)).close()  # a writer gets the file


def test_a_failing_command_closes_its_connection_too(opened, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--period", "month", "--date", "2025-11-20"])
    assert exit_info.value.code == 2
    assert "llm-usage:" in capsys.readouterr().err
    assert len(opened) == 1
    with pytest.raises(duckdb.ConnectionException):
        opened[0].execute("SELECT 1")


def test_reads_outside_a_command_each_open_and_close_their_own(opened, own):
    warehouse.read_query(own, "SELECT 1")
    warehouse.read_query(own, "SELECT 2")
    assert len(opened) == 2
    for connection in opened:
        with pytest.raises(duckdb.ConnectionException):
            connection.execute("SELECT 1")
