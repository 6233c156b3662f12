"""The command line as a person meets it: progress, honest status, readable output, and
readers that cannot leave the warehouse. Every test runs `llm-usage` as a user does (a
subprocess, or the entry point with its output captured) and reads the text it prints.

One warehouse is built for the module with two Dagster runs: nine good landing days
(Monday 2026-02-02 .. Tuesday 2026-02-10, a range that also names an empty day), then a
day whose records break a blocking data-quality check, which puts it on quality hold.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from datetime import date, timedelta

import pandas as pd
import pytest
from conftest import use_data_dir
from reference import read_landing, requests
from runs import finish, start_cli

from sample_data.generate import generate_logs

FIRST, LAST, EMPTY = date(2026, 2, 2), date(2026, 2, 10), date(2026, 2, 11)
HELD = date(2026, 2, 12)
ANSI = re.compile(r"\x1b\[")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, tmp_path_factory.mktemp("cli") / "data")
        generate_logs(
            settings.landing_dir, FIRST, (LAST - FIRST).days + 1, requests_per_day=300, seed=42
        )
        deliveries, _ = read_landing(settings.landing_dir)
        good = requests(deliveries)
        first_run = finish(
            start_cli(settings, "materialize", "--start", str(FIRST), "--end", str(EMPTY))
        )
        generate_logs(
            settings.landing_dir, HELD, 1, requests_per_day=300, seed=42, semantic_faults=True
        )
        # A handful of bad records is quarantined and its day loads; a day is held only
        # when the failing share passes the threshold, here set so that any share does.
        held_run = finish(
            start_cli(
                settings,
                "materialize",
                "--start",
                str(HELD),
                "--end",
                str(HELD),
                LLM_USAGE_DQ_MAX_FAILING_RECORD_SHARE="0",
            )
        )
        yield {"settings": settings, "requests": good, "first_run": first_run, "held_run": held_run}


def run(built, *args: str) -> tuple[int, str, str]:
    """`llm-usage ARGS` through its entry point in this process, with the environment a
    user's run has (only this data set's settings) and its exit code, stdout and stderr.
    The readers (sql, report, list) start no other process, so none is needed here;
    a fresh interpreter per command cost seconds each."""
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key in [key for key in os.environ if key.startswith("LLM_USAGE_")]:
            monkeypatch.delenv(key)
        use_data_dir(monkeypatch, built["settings"].data_dir)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exit_:
                code = exit_.code or 0
    return code, out.getvalue(), err.getvalue()


def paid(built) -> pd.DataFrame:
    rows = built["requests"]
    return rows[rows["billing_mode"] == "pay_as_you_go"]


# ------------------------------------------------------------------------- materialize


def test_materialize_shows_progress_as_it_happens_without_dbt_lines_or_colour(built):
    code, out, err = built["first_run"]
    assert code == 0, err
    lines = out.splitlines()
    # The day without files is left out of the run (it would show as loaded otherwise).
    assert lines[0] == (
        f"Materializing landing days {FIRST} .. {EMPTY - timedelta(days=1)} "
        "and everything downstream ..."
    )
    loaded = [
        line for line in lines if re.match(r"  2026-02-\d\d: 1 files, [\d,]+ rows loaded", line)
    ]
    assert len(loaded) == 9
    busiest = int(built["requests"]["landing_date"].value_counts().max())
    assert f"{busiest:,} rows loaded" in out  # counts carry thousands separators
    # The load comes day by day, then the checks, then one line per dbt stage, in order.
    order = [
        "Loading landing days ...",
        "Checking the loaded records (data-quality rules) ...",
        "Building staging, facts and marts with dbt ...",
        "  dbt: facts built (",
        "  dbt: marts built (",
        "Checking the facts (data-quality rules) ...",
        "Run ",
    ]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(text)) for text in order]
    assert positions == sorted(positions)
    # After the marts (beside the fact checks), the alerts say why they are off.
    alerts = lines.index("Evaluating budgets and alerts ...")
    assert positions[4] < alerts < positions[-1]
    assert (
        lines[alerts + 1].startswith("  No budgets file at ")
        and "alerts are off" in lines[alerts + 1]
    )
    assert not any(" of 1" in line and "START" in line for line in lines)  # no dbt per-model lines
    assert not ANSI.search(out + err)  # piped: no colour codes
    assert len(lines) < 30


def test_materialize_names_days_without_files_and_does_not_count_them(built):
    _, out, err = built["first_run"]
    assert (
        f"Warning: no landing files for {EMPTY}: nothing to load there, so those days are "
        "not counted as loaded." in err
    )


def test_materialize_refuses_a_range_without_any_file_and_runs_nothing(built, capsys):
    from cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["materialize", "--start", "2026-02-20", "--end", "2026-02-22"])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"llm-usage: No landing files for 2026-02-20 .. 2026-02-22 under {built['settings'].landing_dir} "
        f"(landing days found: {FIRST} .. {HELD}); nothing was run."
    )
    assert len(captured.err.splitlines()) == 1


def test_materialize_says_how_many_records_were_set_aside_why_and_how_to_list_them(built):
    """Records a rule quarantines pass unseen in "N checks passed" (issue 31 item 10)."""
    import duckdb

    _, clean, _ = built["first_run"]
    assert "Set aside" not in clean  # nothing was
    _, out, _ = built["held_run"]
    connection = duckdb.connect(str(built["settings"].warehouse_path), read_only=True)
    try:
        reasons = connection.execute(
            "SELECT reason, count(*) AS n FROM raw.quarantined_records WHERE landing_date = ? "
            "GROUP BY ALL ORDER BY n DESC, reason",
            [HELD],
        ).fetchall()
    finally:
        connection.close()
    total = sum(n for _, n in reasons)
    assert total > 0
    lines = out.splitlines()
    start = lines.index(f"Set aside on landing day {HELD} (left out of the facts and marts):")
    assert lines[start + 1] == f"  {total:,} records quarantined by data-quality rules, by reason:"
    for offset, (reason, n) in enumerate(reasons[:3], start=2):
        assert lines[start + offset] == f"    {n:>8,}  {reason}"
    listing = next(line for line in lines[start:] if line.startswith("    list them: "))
    query = re.fullmatch(r'    list them: llm-usage sql "(.+)"', listing).group(1)
    code, listed, err = run(built, "sql", query, "--max-rows", "100000")
    assert code == 0, err
    assert listed.rstrip().endswith(f"({total:,} row{'s' * (total != 1)})")


def test_failed_blocking_check_prints_its_summary_with_examples_and_no_trace(built):
    code, out, err = built["held_run"]
    assert code == 1
    assert "Traceback" not in err and "dagster._core" not in err and "FAILED None" not in err
    assert re.search(
        rf"CHECK FAILED \w+ on raw/request_logs for landing day\(s\) {HELD} \(error\):", err
    )
    # Each failed expectation with its count, then example request_ids with their values.
    assert re.search(r"\n  \w+: [\d,]+ of [\d,]+ \w+ fail \(", err)
    example = re.search(r"\n    e\.g\. request_id=(\S+?),", err)
    assert example
    landing = pd.concat(
        pd.read_json(path, lines=True, dtype=False)
        for path in (built["settings"].landing_dir / f"dt={HELD}").glob("*.jsonl*")
    )
    assert example.group(1) in set(landing["request_id"])
    assert (
        f"FAILED: a blocking data-quality check failed for landing day(s) {HELD}, so the facts "
        "and marts were not changed and those days are on quality hold." in err
    )
    assert f"llm-usage materialize --start {HELD} --end {HELD}" in err
    assert err.rstrip().splitlines()[-1].endswith("(--verbose prints the traces).")


def test_failure_while_another_process_writes_is_one_line(built, tmp_path):
    """A writer holds the warehouse past the ingest's wait: one line says what to do."""
    from test_readers import hold_write_lock

    settings = built["settings"]
    holder = hold_write_lock(settings.warehouse_path, 150)
    try:
        # Its own process, as a user's: the one-line failure is what a terminal shows. The
        # wait is shortened from its 60 s default; what runs out is the same.
        code, out, err = finish(
            start_cli(
                settings.model_copy(update={"write_wait_seconds": 3}),
                "materialize",
                "--start",
                str(LAST),
                "--end",
                str(LAST),
            ),
            400,
        )
    finally:
        holder.kill()
        holder.wait()
    assert code == 1
    assert "Traceback" not in err
    failed = [line for line in err.splitlines() if line.startswith("FAILED ")]
    assert failed == [
        f"FAILED loading the landing files for landing day(s) {LAST}: The warehouse "
        f"{settings.warehouse_path} is being written by another process (a Dagster run, "
        "probably); retry when it has finished. -> another process (a Dagster run?) is "
        "writing the warehouse; wait until it has finished, then run "
        f"`llm-usage materialize --start {LAST} --end {LAST}` again."
    ]


# --------------------------------------------------------------------------------- sql


def test_sql_says_which_day_is_on_quality_hold_why_and_how_to_release_it(built):
    code, out, err = run(built, "sql", "SELECT landing_date, failed_checks FROM raw.quality_holds")
    assert code == 0, err
    assert f"Note: landing day(s) {HELD} are on quality hold ({HELD}: " in err
    assert (
        f"run `llm-usage materialize --start {HELD} --end {HELD}`; a run whose checks pass lifts the hold."
        in err
    )
    assert "have not caught up" not in err
    assert str(HELD) in out and "(1 row)" in out


def test_empty_sql_result_prints_zero_rows_and_the_columns(built):
    code, out, _ = run(
        built, "sql", "SELECT grain, requests FROM main_marts.mart_usage_summary WHERE false"
    )
    assert code == 0
    assert out == "columns: grain, requests\n0 rows\n"


@pytest.mark.parametrize("query", ["", "   ", ";", "SELEC 1", "SELECT * FROM no_such_table"])
def test_empty_or_invalid_sql_is_one_line(built, capsys, query):
    from cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sql", query])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("llm-usage:")]
    assert len(errors) == 1 and "Traceback" not in err
    assert errors[0].startswith(("llm-usage: The query is empty", "llm-usage: The query failed:"))


HOSTILE = {
    "copy to a file": "COPY (SELECT 1) TO '{tmp}/copied.csv'",
    "export the database": "EXPORT DATABASE '{tmp}/exported'",
    "attach read-write": "ATTACH '{tmp}/other.duckdb' AS other (READ_WRITE)",
    "read /etc/passwd": "SELECT * FROM read_csv('/etc/passwd')",
    "read text of a file": "SELECT * FROM read_text('/etc/hostname')",
    "list a directory": "SELECT * FROM glob('/etc/*')",
    "install an extension": "INSTALL httpfs",
    "load an extension": "LOAD httpfs",
    "turn external access back on": "SET enable_external_access = true",
    "unlock the configuration": "SET lock_configuration = false",
    "reset a setting": "RESET enable_external_access",
    "profile into a file": "PRAGMA enable_profiling",
    "write a table": "CREATE TABLE main_marts.x AS SELECT 1",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_sql_cannot_write_files_read_other_files_or_undo_its_limits(built, capsys, tmp_path, name):
    from cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sql", HOSTILE[name].format(tmp=tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("llm-usage:")]
    assert len(errors) == 1 and errors[0].startswith("llm-usage: The query was refused:"), err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ report


def test_report_defaults_to_the_latest_complete_period_and_labels_a_partial_one(built):
    code, out, err = run(built, "report", "--period", "week")
    assert code == 0, err
    assert out.splitlines()[0].startswith("Week 2026-02-02 .. 2026-02-08  api_key_id=*")
    assert "PARTIAL" not in out.splitlines()[0]
    assert "on quality hold" in err
    code, out, _ = run(built, "report", "--period", "week", "--date", str(LAST))
    assert out.splitlines()[0].endswith("PARTIAL: the data covers 2026-02-09 .. 2026-02-10 only")


def test_report_numbers_are_readable(built):
    rows = paid(built)
    week = rows[
        (rows["event_date"] >= pd.Timestamp(FIRST))
        & (rows["event_date"] <= pd.Timestamp("2026-02-08"))
    ]
    code, out, _ = run(built, "report", "--period", "week")
    assert code == 0
    assert re.search(rf"\n   requests +{len(week):,}\n", out)
    assert re.search(rf"\n   total_tokens +{int(week['total_tokens'].sum()):,}\n", out)
    assert "token_share (% of all models' tokens)" in out
    assert re.search(r"\n   success_rate +\d+\.\d% of requests\n", out)
    assert re.search(r"\n   avg_latency_ms +[\d,]+ ms\n", out)  # whole milliseconds
    assert not re.search(r"\d\.000\b", out)  # no counts shown as 750.000


def test_report_json_has_snake_case_keys_and_csv_one_row_per_figure(built):
    code, out, _ = run(built, "report", "--period", "week", "--format", "json")
    assert code == 0
    report = json.loads(out)

    def keys(value):
        if isinstance(value, dict):
            for key, inner in value.items():
                yield key
                yield from keys(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from keys(inner)

    assert all(re.fullmatch(r"[a-z0-9_]+", key) for key in keys(report))
    # The provider figures count the requests that reached a provider: all but the
    # gateway cache hits (issue 27, docs/metrics.md "Gateway cache hits").
    assert (
        report["panels"]["usage_summary"]["requests"]
        == report["panels"]["provider_summary"]["requests"]
        + report["panels"]["caching"]["gateway_cache_hits"]
    )
    assert report["panels"]["caching"]["gateway_cache_hits"] > 0
    assert isinstance(report["panels"]["usage_summary"]["requests"], int)

    code, out, _ = run(built, "report", "--period", "week", "--format", "csv")
    long = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert list(long.columns) == [
        "grain",
        "period_start",
        "api_key_id",
        "model",
        "provider",
        "organization_id",
        "team_id",
        "project_id",
        # What identifies a row of the panels listed by no filter (groups, end users, tags).
        "dimension",
        "group_id",
        "end_user_id",
        "tag_key",
        "tag_value",
        "untagged",
        # Top error types: a type is listed within its class ('(none)' can be in several).
        "error_class",
        "error_type",
        "panel",
        "metric",
        "value",
    ]
    by_model = long[(long["panel"] == "usage_by_model") & (long["metric"] == "requests")]
    assert set(by_model["api_key_id"]) == {"*"} and "*" not in set(by_model["model"])
    total = long[(long["panel"] == "usage_summary") & (long["metric"] == "requests")]["value"]
    assert by_model["value"].astype(int).sum() == int(total.iloc[0])


def test_report_lists_errors_by_class_per_provider_and_the_top_error_types(built):
    """Issue 27: `report` prints what the Provider tab shows: the filter's failures by
    class, the same per provider (which add up to it), and the top error types (which
    add up to the failures); and the Caching panel."""
    code, out, _ = run(built, "report", "--period", "week", "--format", "json")
    assert code == 0
    panels = json.loads(out)["panels"]
    total = panels["errors_by_class"]
    classes = [c for c in total if c.endswith("_errors")]
    assert len(classes) == 8
    assert sum(total[c] for c in classes) == total["unsuccessful_requests"] > 0
    by_provider = panels["errors_by_provider"]
    assert by_provider and "*" not in {r["provider"] for r in by_provider}
    for column in ["unsuccessful_requests", "provider_requests", *classes]:
        assert sum(r[column] for r in by_provider) == total[column], column
    types = panels["top_error_types"]
    assert sum(t["errors"] for t in types) == total["unsuccessful_requests"]
    assert {"gateway_cache_hits", "cache_read_token_rate"} <= set(panels["caching"])

    code, out, _ = run(built, "report", "--period", "week")
    assert code == 0
    for title in (
        "-- Errors by class",
        "-- Errors by provider",
        "-- Top error types",
        "-- Caching",
    ):
        assert title in out, title


def test_report_month_without_data_names_the_nearest_periods(built, capsys):
    from cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--period", "month", "--date", "2025-11-20"])
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "in the month 2025-11-01 .. 2025-11-30. Nearest months with data start 2026-02-01 (after)."
        )
    )


def test_report_filter_in_other_case_suggests_the_real_value(built, capsys):
    from cli.main import main

    model = paid(built)["model"].value_counts().index[0]
    with pytest.raises(SystemExit):
        main(["report", "--period", "week", "--model", model.upper()])
    assert (
        f"did you mean {model!r}? `llm-usage list models` lists every model"
        in capsys.readouterr().err
    )


# -------------------------------------------------------------------------------- list


@pytest.mark.parametrize(
    "what, column", [("keys", "api_key_id"), ("models", "model"), ("providers", "provider")]
)
def test_list_names_every_value_with_its_requests(built, what, column):
    code, out, _ = run(built, "list", what)
    assert code == 0
    counts = paid(built)[column].value_counts()
    lines = out.splitlines()
    assert lines[0] == f"{len(counts):,} {what} with pay-as-you-go requests over all loaded days:"
    listed = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in lines[2:]}
    assert listed == counts.to_dict()


def test_list_within_a_period(built):
    code, out, _ = run(built, "list", "providers", "--period", "day", "--date", str(FIRST))
    rows = paid(built)
    counts = rows[rows["event_date"] == pd.Timestamp(FIRST)]["provider"].value_counts()
    assert (
        out.splitlines()[0]
        == f"{len(counts)} providers with pay-as-you-go requests in the day {FIRST}:"
    )
    busiest = out.splitlines()[2].split()
    assert busiest == [counts.index[0], f"{counts.iloc[0]:,}"]


# ---------------------------------------------------------------------------------- ui


@pytest.mark.parametrize(
    "extra, host, port",
    [([], "127.0.0.1", "3000"), (["--host", "0.0.0.0", "--port", "3100"], "0.0.0.0", "3100")],
)
def test_ui_listens_on_this_machine_only_unless_told(data_dir, monkeypatch, extra, host, port):
    from cli import main as cli

    started = {}
    monkeypatch.setattr(
        cli.os, "execve", lambda path, command, env: started.update(command=command, env=env)
    )
    monkeypatch.setattr(cli.os, "chdir", lambda path: None)
    cli.main(["ui", *extra])
    command = started["command"]
    assert command[1:2] == ["dev"]
    # `dagster dev` gets the resolved settings in its environment, not this process.
    assert started["env"]["DAGSTER_HOME"] == str(data_dir.dagster_home)
    assert command[command.index("-h") + 1] == host and command[command.index("-p") + 1] == port


# ---------------------------------------------------------- materialize: failure lines


def test_verbose_dbt_lines_have_no_colour_codes_when_piped():
    """What `materialize --verbose` passes on from dbt, when stdout is a pipe or file."""
    from cli.main import _DbtOutput

    piped = io.StringIO()  # isatty() is False, as for `llm-usage materialize --verbose > log`
    output = _DbtOutput(piped, verbose=True)
    output.write(
        "1 of 9 OK created sql table model main_facts.fct_requests  [\x1b[32mOK\x1b[0m in 0.4s]\n"
    )
    output.write("2 of 9 FAIL 3 unique_fct_requests_request_id  [\x1b[31mFAIL 3\x1b[0m in 0.1s]\n")
    assert piped.getvalue() == (
        "    dbt| 1 of 9 OK created sql table model main_facts.fct_requests  [OK in 0.4s]\n"
        "    dbt| 2 of 9 FAIL 3 unique_fct_requests_request_id  [FAIL 3 in 0.1s]\n"
    )
    quiet = io.StringIO()
    kept = _DbtOutput(quiet, verbose=False)
    kept.write("2 of 9 FAIL 3 unique_fct_requests_request_id  [\x1b[31mFAIL 3\x1b[0m in 0.1s]\n")
    assert quiet.getvalue() == ""  # without --verbose, dbt's lines are not printed ...
    assert kept.problems == [
        "2 of 9 FAIL 3 unique_fct_requests_request_id  [FAIL 3 in 0.1s]"
    ]  # ... but kept


@pytest.mark.parametrize(
    "error, action",
    [
        (
            'IO Error: Cannot open file "/data/warehouse.duckdb": Read-only file system',
            "cannot be written; make it writable for this user",
        ),
        ("IO Error: Could not write file: No space left on device", "is full; free space"),
        (
            "Out of Range Error: Overflow in addition of INT64 (9223372036854775000 + 9000)!",
            "is too large to add up; find the record",
        ),
        (
            "Out of Memory Error: could not allocate block of size 256.0 KiB",
            "raise LLM_USAGE_DUCKDB_MEMORY_LIMIT",
        ),
    ],
)
def test_each_failure_class_gets_its_action(data_dir, error, action):
    from cli.main import _what_to_do

    text = _what_to_do(data_dir, error, "raw_request_logs", "2026-02-10")
    assert action in text and text.endswith(
        ("again.", "(`llm-usage materialize --start 2026-02-10 --end 2026-02-10`).")
    )
