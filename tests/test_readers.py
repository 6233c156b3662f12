"""`llm-usage sql` while another process writes the warehouse: wait, then one sentence."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
from runs import finish, start_cli


def hold_write_lock(path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('holding', flush=True); time.sleep(float(sys.argv[2]))",
            str(path),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


@pytest.fixture
def warehouse(data_dir):
    data_dir.warehouse_path.parent.mkdir(parents=True)
    with duckdb.connect(str(data_dir.warehouse_path)) as connection:
        connection.execute("CREATE TABLE answer AS SELECT 42 AS value")
    return data_dir


def test_sql_fails_with_one_sentence_while_a_writer_stays(warehouse):
    holder = hold_write_lock(warehouse.warehouse_path, 120)
    try:
        sql = start_cli(
            warehouse, "sql", "SELECT value FROM answer", LLM_USAGE_READ_WAIT_SECONDS="2"
        )
        code, out, err = finish(sql, 120)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert "Traceback" not in err and out == ""
    assert err.strip() == (
        f"llm-usage: The warehouse {warehouse.warehouse_path} is being written by another "
        "process (a Dagster run, probably); retry when it has finished."
    )


def test_sql_waits_for_a_short_writer(warehouse):
    # Held longer than the CLI takes to start, and let go well within the reader's wait.
    holder = hold_write_lock(warehouse.warehouse_path, 3)
    try:
        sql = start_cli(
            warehouse, "sql", "SELECT value FROM answer", LLM_USAGE_READ_WAIT_SECONDS="20"
        )
        code, out, err = finish(sql, 120)
    finally:
        holder.wait()
    assert code == 0, err
    assert "42" in out and "(1 row)" in out
