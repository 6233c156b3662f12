"""`llm-usage`: generate sample logs, materialize landing days, and query the warehouse."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import re
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# Great Expectations phones home on import unless told not to; set before anything loads it.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from cli.arguments import (  # noqa: E402
    UsageError,
    add_filter_options,
    chosen_filters,
    parse_day_or_hour,
)
from cli.arguments import check_filter_values as _check_filter_values  # noqa: E402
from cli.arguments import parse_day as _parse_day  # noqa: E402
from cli.arguments import span as _span  # noqa: E402
from config.settings import Settings, SettingsError  # noqa: E402
from ingest.warehouse import WarehouseBusyError, WarehouseMissingError  # noqa: E402
from readers.filters import all_rows_sql  # noqa: E402
from readers.terminal_text import for_terminal, message_for_terminal  # noqa: E402
from readers.warehouse import (  # noqa: E402
    QueryError,
    note_models_behind,
    read_query,
    shared_reads,
)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive whole number")
    return int(text)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a share between 0 and 1")
    return value


# ---------------------------------------------------------------------------- generate


def cmd_generate(args: argparse.Namespace, settings: Settings) -> None:
    from sample_data.generate import generate_logs

    out_dir = Path(args.out) if args.out else settings.landing_dir
    summary = generate_logs(
        out_dir,
        args.start,
        args.days,
        requests_per_day=args.requests_per_day,
        seed=args.seed,
        fmt=args.format,
        duplicate_rate=args.duplicate_rate,
        late_rate=args.late_rate,
        malformed_rate=args.malformed_rate,
        semantic_faults=args.semantic_faults,
    )
    print(
        f"Wrote {summary.records:,} requests ({summary.lines_written:,} lines: "
        f"{summary.duplicates:,} duplicates, {summary.late:,} late, "
        f"{summary.malformed:,} malformed) in {len(summary.files)} files under {out_dir} "
        f"in {summary.seconds:.1f} s ({summary.records / max(summary.seconds, 1e-9):,.0f} records/s)"
    )
    if summary.semantic:
        faults = ", ".join(f"{name}={value}" for name, value in summary.semantic.items())
        print(f"Semantic faults the data-quality checks should catch: {faults}")


# ------------------------------------------------------------------------- materialize


def landing_days_present(settings: Settings) -> list[date]:
    from ingest.load import landing_days_on_disk
    from ingest.sources import landing_days

    # Only dt=YYYY-MM-DD folders of real days (the loader reports the others), and the
    # days of the source folders sources.toml declares.
    return sorted(set(landing_days_on_disk(settings)[0]) | set(landing_days(settings)))


def _days_loaded_before(settings: Settings, start: date, end: date) -> set[date]:
    """Landing days in [start, end] that an earlier run loaded files of."""
    try:
        frame = read_query(
            settings,
            "SELECT DISTINCT landing_date FROM raw.ingested_files WHERE landing_date BETWEEN ? AND ?",
            [start, end],
        )
    except (WarehouseMissingError, WarehouseBusyError, QueryError):
        return set()  # no earlier load to tell about (or the run itself will wait for the writer)
    return {value.date() if hasattr(value, "date") else value for value in frame["landing_date"]}


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def check_landing_days(settings: Settings, start: date, end: date) -> list[date]:
    """The days of [start, end] that have files (or had, in an earlier load); says which
    have nothing, and refuses a range where no day has anything."""
    from ingest.load import landing_day_has_files

    requested = _days(start, end)
    with_files = [day for day in requested if landing_day_has_files(settings, day)]
    empty = [day for day in requested if day not in with_files]
    emptied = sorted(_days_loaded_before(settings, start, end) & set(empty)) if empty else []
    nothing = [day for day in empty if day not in emptied]
    if not with_files and not emptied:
        present = landing_days_present(settings)
        known = (
            f"landing days found: {present[0]} .. {present[-1]}"
            if present
            else "no landing days found"
        )
        raise UsageError(
            f"No landing files for {_span(start, end)} under {settings.landing_dir} "
            f"({known}); nothing was run. Pick days that have dt=YYYY-MM-DD folders with "
            ".jsonl, .jsonl.gz or .parquet files, or files in a source folder that "
            "sources.toml declares (docs/sources.md)."
        )
    if nothing:
        print(
            f"Warning: no landing files for {_list_days(nothing)}: nothing to load there, "
            "so those days are not counted as loaded.",
            file=sys.stderr,
        )
    if emptied:
        print(
            f"Warning: {_list_days(emptied)} had files loaded before but has none now: "
            "its earlier load is replaced by nothing.",
            file=sys.stderr,
        )
    return sorted(with_files + emptied)


def _list_days(days: list[date]) -> str:
    from readers.warehouse import describe_days

    return describe_days(sorted(days))


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Numbers in the ingest's per-day summary, not digits of dates or paths.
_SUMMARY_NUMBER = re.compile(r"(?<![\w/.:-])(\d{4,})(?= (?:files|rows|rejected|duplicate|already))")

# The raw asset's step loads the landing days, then checks them (orchestration/
# ingest_assets.py); it logs this line between the two.
CHECKING_RAW = "Checking the loaded records (data-quality rules) ..."

STEP_NAMES = {
    "raw_request_logs": "loading the landing files",
    "warehouse_dbt_models": "the dbt build of the facts and marts",
    "fct_requests_quality": "the data-quality checks on facts/fct_requests",
}
ALERTS_STEP = "alerts__evaluation"  # orchestration/alert_assets.py (its asset key, as a step)


SGR = re.compile(r"\x1b\[[0-9;]*m")  # a colour or style code, the only ones dbt writes


def _coloured(line: str) -> str:
    """A dbt line for a terminal: its colour codes kept, all else shown as text."""
    shown, at = [], 0
    for code in SGR.finditer(line):
        shown += [message_for_terminal(line[at : code.start()]), code.group()]
        at = code.end()
    return "".join([*shown, message_for_terminal(line[at:])])


class _DbtOutput(io.TextIOBase):
    """Stands in for sys.stdout while the run executes: dbt's per-model lines (which
    dagster-dbt writes there) go to the terminal only with --verbose, without colour codes
    when it is not a terminal, and the failing ones are kept for the summary."""

    def __init__(self, real, verbose: bool):
        self.real, self.verbose = real, verbose
        self.colour = real.isatty()
        self.problems: list[str] = []
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            plain = ANSI_ESCAPE.sub("", line)
            if re.search(r"\b(ERROR|FAIL|Failure|Error|WARN)\b", plain) and " START " not in plain:
                self.problems.append(plain.strip())
            if self.verbose:
                # dbt's own colour codes pass to a terminal; anything else in the line
                # (a value from the data in an error) is shown, not acted on.
                shown = message_for_terminal(plain) if not self.colour else _coloured(line)
                self.real.write("    dbt| " + shown + "\n")
        return len(text)

    def flush(self) -> None:
        self.real.flush()


class _Progress(logging.Handler):
    """Turns the run's Dagster events into a few lines a person can follow as they happen."""

    def __init__(self, out, dbt_groups: dict[str, int], verbose: bool):
        super().__init__(logging.DEBUG)
        self.out, self.dbt_groups, self.verbose = out, dbt_groups, verbose
        self.built: dict[str, set] = {group: set() for group in dbt_groups}
        self.tests = {"passed": 0, "failed": 0}
        self.checks = {"passed": 0, "failed": 0}
        self.step_started: dict[str, float] = {}
        self.stage_started = time.monotonic()

    def say(self, text: str) -> None:
        # Run messages quote file names, values and reasons from the landing files.
        self.out.write(message_for_terminal(text) + "\n")
        self.out.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(record)
        except Exception:  # progress output must never break the run
            pass

    def _emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is None:
            message = meta.get("orig_message", record.getMessage())
            # The raw step loads, then checks; the checks' own lines are shown as the
            # other checks' are (their results below, their logs with --verbose).
            loading = step == "raw_request_logs" and "raw_checks" not in self.step_started
            if step == "raw_request_logs" and message == CHECKING_RAW:
                self.step_started["raw_checks"] = time.monotonic()
                self.say(message)
            elif loading and record.levelno == logging.INFO:
                for line in message.splitlines():
                    self.say(
                        "  " + _SUMMARY_NUMBER.sub(lambda m: f"{int(m.group(1)):,}", line.strip())
                    )
            elif loading and record.levelno >= logging.WARNING:
                if not message.startswith("No landing folder"):  # the CLI said so before the run
                    self.say(f"  warning: {message}")
            elif step == ALERTS_STEP and record.levelno >= logging.INFO:
                self.say(f"  {message}")  # what the alerts did, or why they did not run
            elif self.verbose and record.levelno >= logging.INFO:
                self.say(f"    {step}: {message}")
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.step_started[step] = self.stage_started = time.monotonic()
            self.say(
                {
                    "raw_request_logs": "Loading landing days ...",
                    "warehouse_dbt_models": "Building staging, facts and marts with dbt ...",
                    "fct_requests_quality": "Checking the facts (data-quality rules) ...",
                    ALERTS_STEP: "Evaluating budgets and alerts ...",
                }.get(step, f"Running {step} ...")
            )
        elif kind == "ASSET_MATERIALIZATION" and step == "warehouse_dbt_models":
            group = event.asset_key.path[0]
            if group in self.built and event.asset_key not in self.built[group]:
                self.built[group].add(event.asset_key)
                if len(self.built[group]) == self.dbt_groups[group]:
                    seconds = time.monotonic() - self.step_started.get(step, time.monotonic())
                    count = self.dbt_groups[group]
                    self.say(
                        f"  dbt: {group} built ({count} model{'s' * (count != 1)}) after {seconds:.0f} s"
                    )
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if step == "warehouse_dbt_models":
                self.tests["passed" if evaluation.passed else "failed"] += 1
                return
            self.checks["passed" if evaluation.passed else "failed"] += 1
            if not evaluation.passed and evaluation.severity.value == "WARN":
                first = (evaluation.description or "").splitlines()[:1]
                self.say(
                    f"  warning: {evaluation.check_name} on "
                    f"{evaluation.asset_key.to_user_string()}: {' '.join(first)}"
                )
        elif kind == "STEP_FAILURE":
            if step.endswith("_quality") or step == "raw_request_logs":
                self.say(
                    f"  {self.checks['passed']} checks passed, {self.checks['failed']} failed."
                )
            self.say(f"  {STEP_NAMES.get(step, step)} failed (what to do: below).")
        elif kind == "STEP_SUCCESS":
            seconds = time.monotonic() - self.step_started.get(step, time.monotonic())
            if step == "warehouse_dbt_models":
                tests = f", {self.tests['passed']} tests passed" if self.tests["passed"] else ""
                self.say(f"  dbt done in {seconds:.0f} s{tests}.")
            elif step.endswith("_quality") or step == "raw_request_logs":
                if step == "raw_request_logs":  # the checks ran after the load, in its step
                    seconds = time.monotonic() - self.step_started.get(
                        "raw_checks", time.monotonic()
                    )
                failed = f", {self.checks['failed']} failed" if self.checks["failed"] else ""
                self.say(f"  {self.checks['passed']} checks passed{failed} in {seconds:.0f} s.")
                self.checks = {"passed": 0, "failed": 0}


def _text_for_terminal(text: str) -> str:
    """Lines of text (a trace) for a terminal, each line shown safely."""
    return "\n".join(message_for_terminal(line) for line in text.splitlines())


def _frame_for_terminal(frame):
    """A data frame to print as a table: its text cells and column names shown safely
    (numbers, dates and nested values, which pandas prints by repr, as they are)."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    shown = frame.rename(columns=lambda c: for_terminal(c))
    for index, dtype in enumerate(shown.dtypes):
        if is_object_dtype(dtype) or is_string_dtype(dtype):
            shown.isetitem(
                index,
                shown.iloc[:, index].map(lambda v: for_terminal(v) if isinstance(v, str) else v),
            )
    return shown


def _root_error(error):
    """The innermost cause of a Dagster step error: the exception the step's code raised."""
    while error.cause is not None:
        error = error.cause
    return error


def _what_to_do(settings: Settings, text: str, step: str, days: str) -> str:
    """The action a person takes for a failure, from what its error says."""
    lowered = text.lower()
    retry = f"llm-usage materialize --start {days.split(' .. ')[0]} --end {days.split(' .. ')[-1]}"
    if "being written by another process" in lowered or "could not set lock" in lowered:
        return f"another process (a Dagster run?) is writing the warehouse; wait until it has finished, then run `{retry}` again."
    if "read-only" in lowered or "permission denied" in lowered or "readonly" in lowered:
        return f"the warehouse {settings.warehouse_path} (or its folder) cannot be written; make it writable for this user and run `{retry}` again."
    if "no space left" in lowered or "disk full" in lowered or "out of disk" in lowered:
        return f"the disk holding {settings.warehouse_path.parent} is full; free space and run `{retry}` again."
    if "out of memory" in lowered:
        return f"DuckDB ran out of memory; raise LLM_USAGE_DUCKDB_MEMORY_LIMIT or run fewer days at a time (`{retry}`)."
    if "overflow" in lowered or "out of range" in lowered:
        return (
            f"a value in the landing files of {days} is too large to add up; find the record "
            f"(llm-usage sql on raw.request_logs), fix or replace its file and run `{retry}` again."
        )
    if step == "warehouse_dbt_models":
        return (
            f"the facts and marts keep their last good state and {days} stay queued; "
            f"the failing dbt models or tests are named above (all of dbt's output: --verbose); "
            f"fix the cause and run `{retry}` again."
        )
    return f"fix the cause and run `{retry}` again (--verbose shows the full trace)."


def _print_failed_check(evaluation, out) -> None:
    """A failed check's own summary: each failed expectation with example request_ids."""
    metadata = evaluation.metadata or {}
    days = getattr(metadata.get("landing_days"), "value", None) or "?"
    print(
        f"CHECK FAILED {evaluation.check_name} on {evaluation.asset_key.to_user_string()} "
        f"for landing day(s) {days} ({evaluation.severity.value.lower()}):",
        file=out,
    )
    expectations = getattr(metadata.get("expectations"), "value", None) or []
    failed = [e for e in expectations if not e.get("success")]
    if not failed:
        for line in (evaluation.description or "").splitlines():
            print(f"  {message_for_terminal(line)}", file=out)
    for e in failed:
        print(
            f"  {e['expectation']}: {e['unexpected_count']:,} of {e['checked']:,} {e['unit']} "
            f"fail ({e['description']})",
            file=out,
        )
        for example in e.get("examples") or []:
            # request_id first: it is what a person looks up in the landing files
            ordered = sorted(example.items(), key=lambda item: item[0] != "request_id")
            shown = ", ".join(f"{k}={v}" for k, v in ordered)
            print("    e.g. " + for_terminal(shown), file=out)


def materialize(settings: Settings, start: date, end: date, *, verbose: bool = False) -> bool:
    """Run the nightly job over the landing days of [start, end] that have files (or had,
    in an earlier load); True if every run succeeded.

    Days with nothing are left out, so that no partition says they were loaded: a range
    with gaps runs as one run per stretch of consecutive days.
    """
    days = check_landing_days(settings, start, end)  # before importing Dagster: it takes seconds
    stretches: list[list[date]] = []
    for day in days:
        if stretches and (day - stretches[-1][-1]).days == 1:
            stretches[-1].append(day)
        else:
            stretches.append([day])
    succeeded = True
    for stretch in stretches:
        succeeded = (
            _materialize_stretch(settings, stretch[0], stretch[-1], verbose=verbose) and succeeded
        )
    return succeeded


def _materialize_stretch(settings: Settings, start: date, end: date, *, verbose: bool) -> bool:
    """Run the nightly job over landing days [start, end] in one run; True if it succeeded."""
    from dagster import DagsterInstance, LoggerDefinition

    from cli.run_children import children_end_with_the_run, wait_for_lost_runs
    from orchestration.instance import cli_run_tags, prepare_dagster_home
    from orchestration.partitions import landing_days_partitions
    from quality.rules import start_importing_great_expectations

    first, last = start.isoformat(), end.isoformat()
    available = landing_days_partitions(settings).get_partition_keys()
    for key in (first, last):
        if key not in available:
            raise UsageError(
                f"Landing day {key} is outside the partitions Dagster knows "
                f"({available[0]} .. {available[-1]}); set LLM_USAGE_FIRST_LANDING_DAY "
                "earlier, or pick days up to today (UTC)."
            )
    prepare_dagster_home(settings)
    from orchestration.definitions import build_definitions

    # In-process, with these settings: the run's assets, checks and dbt get the warehouse
    # from the definitions' resources, not from this process's environment.
    defs = build_definitions(settings)
    dbt_models = next(a for a in defs.assets if a.node_def.name == "warehouse_dbt_models")
    dbt_groups: dict[str, int] = {}
    for key in dbt_models.keys:
        dbt_groups[key.path[0]] = dbt_groups.get(key.path[0], 0) + 1
    real_stdout = sys.stdout
    progress = _Progress(real_stdout, dbt_groups, verbose)
    # The run's own log lines go to `progress` instead of Dagster's console logger, whose
    # stack traces come before the line that matters; the traces stay in the run's event
    # log (the Dagster UI) and --verbose prints them.
    run_logger = logging.getLogger(f"llm_usage.materialize.{os.getpid()}")
    run_logger.handlers, run_logger.propagate = [progress], False
    run_logger.setLevel(logging.DEBUG)
    job = defs.resolve_job_def("nightly_job").with_logger_defs(
        {"progress": LoggerDefinition(lambda _init: run_logger)}
    )
    print(
        f"Materializing landing days {_span(start, end)} and everything downstream ...", flush=True
    )
    # The run executes in this process, so its data-quality checks can find GX imported.
    start_importing_great_expectations()
    started = time.monotonic()
    dbt_output = _DbtOutput(real_stdout, verbose)
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        wait_for_lost_runs(instance, lambda line: print(line, flush=True))
        # Waits while another run holds the "warehouse" pool (dagster.yaml), then runs.
        with children_end_with_the_run() as run_end, contextlib.redirect_stdout(dbt_output):
            result = job.execute_in_process(
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": first,
                    "dagster/asset_partition_range_end": last,
                    **cli_run_tags(),
                },
                run_config={"loggers": {"progress": {}}},
                raise_on_error=False,
            )
            run_end.succeeded = result.success
    seconds = time.monotonic() - started
    # Records set aside pass the checks unseen ("11 checks passed"): say how many, and why.
    from readers.set_aside import set_aside_note

    for line in set_aside_note(settings, start, end):
        print(line)
    if result.success:
        print(f"Run {result.run_id} succeeded in {seconds:.1f} s.")
        return True
    days = _span(start, end)
    err = sys.stderr
    blocked = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.blocking:
            blocked.append(evaluation)
            _print_failed_check(evaluation, err)
    if blocked:
        print(
            f"FAILED: a blocking data-quality check failed for landing day(s) {days}, so the "
            f"facts and marts were not changed and those days are on quality hold. Fix or "
            f"replace their files under {settings.landing_dir}/dt={first if first == last else 'YYYY-MM-DD'} and run "
            f"`llm-usage materialize --start {first} --end {last}` again.",
            file=err,
        )
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        step = event.step_key or "?"
        error = event.event_specific_data.error if event.event_specific_data else None
        root = _root_error(error) if error else None
        if blocked and root is not None and root.cls_name == "DagsterAssetCheckFailedError":
            if verbose:
                print(_text_for_terminal(error.to_string()), file=err)
            continue  # the failed checks were summarised above
        message = " ".join((root.message if root else event.message or "").split())
        if root is not None and root.cls_name:  # "ingest.warehouse.WarehouseBusyError: The ..."
            message = re.sub(rf"^(?:\w+\.)*{re.escape(root.cls_name)}: ", "", message)
        if step == "warehouse_dbt_models" and dbt_output.problems:
            message = "; ".join(dict.fromkeys(dbt_output.problems[-6:]))
        if len(message) > 400:
            message = message[:400] + " ..."
        what = STEP_NAMES.get(step, step)
        action = _what_to_do(settings, message + " " + (root.message if root else ""), step, days)
        print(
            f"FAILED {what} for landing day(s) {days}: {message_for_terminal(message)} -> {action}",
            file=err,
        )
        if verbose and error is not None:
            print(_text_for_terminal(error.to_string()), file=err)
    if not blocked and not any(e.event_type_value == "STEP_FAILURE" for e in result.all_events):
        reasons = [e.message for e in result.all_events if e.event_type_value == "RUN_FAILURE"]
        reason = " ".join((reasons or ["no step failed"])[-1].split())
        print(f"FAILED the run for landing day(s) {days}: {message_for_terminal(reason)}", file=err)
    hint = "" if verbose else " (--verbose prints the traces)"
    print(
        f"Run {result.run_id} failed after {seconds:.1f} s; its full log and traces are in the "
        f"Dagster UI (`llm-usage ui`, Runs){hint}.",
        file=err,
    )
    return False


def cmd_materialize(args: argparse.Namespace, settings: Settings) -> None:
    present = landing_days_present(settings)
    start, end = args.start, args.end
    if start is None or end is None:
        if not present:
            raise UsageError(
                f"No landing days (dt=YYYY-MM-DD folders) in {settings.landing_dir}; run "
                "`llm-usage generate` or set LLM_USAGE_LANDING_DIR, or pass --start and --end."
            )
        start = start or present[0]
        end = end or present[-1]
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}.")
    if not materialize(settings, start, end, verbose=args.verbose):
        sys.exit(1)


# --------------------------------------------------------------------------------- sql


def cmd_sql(args: argparse.Namespace, settings: Settings) -> None:
    import pandas as pd

    note_models_behind(settings)
    frame = read_query(settings, args.query)
    if frame.empty:
        columns = ", ".join(map(str, frame.columns)) or "(the statement returns no columns)"
        print(f"columns: {for_terminal(columns)}")
        print("0 rows")
        return
    rows = len(frame)
    if rows > args.max_rows:
        # Only the first and last rows are printed: only those need their names escaped
        # (a query may return millions); to_string cuts these the same way.
        edge = args.max_rows // 2 + 1
        frame = pd.concat([frame.iloc[:edge], frame.iloc[-edge:]])
    with pd.option_context("display.max_rows", args.max_rows, "display.width", 200):
        print(_frame_for_terminal(frame).to_string(index=False, max_rows=args.max_rows))
    print(f"({rows:,} row{'s' * (rows != 1)})")


# ------------------------------------------------------------------------------ report


def _resolve_period(
    settings: Settings, grain: str, day: date | None, chosen: dict[str, str]
) -> date:
    from readers.report import latest_period, period_containing

    if day is not None:
        return period_containing(grain, day)
    period_start = latest_period(settings, grain, chosen)
    if period_start is None:
        described = ", ".join(f"{k}={v}" for k, v in chosen.items())
        raise UsageError(
            f"No pay-as-you-go requests match {described} in any {grain}; run "
            "`llm-usage materialize` first (or `llm-usage list` what it holds)."
        )
    return period_start


def cmd_report(args: argparse.Namespace, settings: Settings) -> None:
    from readers.coverage import reaches_today
    from readers.filters import FilterError
    from readers.hours import as_of, hours_of_day
    from readers.report import (
        dashboard,
        data_days,
        end_user_figures,
        is_partial,
        nearest_periods,
        period_end,
        render,
    )

    note_models_behind(settings)
    chosen = chosen_filters(args)
    if args.by_hour and args.period != "day":
        raise UsageError("--by-hour goes with --period day (use --period hour for one hour).")
    if isinstance(args.date, datetime) and args.period != "hour":
        raise UsageError(
            f"--date {args.date:%Y-%m-%dT%H} names an hour: use --period hour, or a day "
            f"like {args.date:%Y-%m-%d} with --period {args.period}."
        )
    _check_filter_values(settings, chosen)
    if args.period == "hour":
        _report_hour(args, settings, chosen)
        return
    period_start = _resolve_period(settings, args.period, args.date, chosen)
    last_day = period_end(args.period, period_start)
    panels = dashboard(settings, args.period, period_start, chosen)
    if all(frame.empty for frame in panels.values()):
        described = ", ".join(f"{k}={v}" for k, v in chosen.items())
        before, after = nearest_periods(settings, args.period, chosen, period_start)
        nearest = [f"{p} (before)" for p in [before] if p] + [f"{p} (after)" for p in [after] if p]
        raise UsageError(
            f"No pay-as-you-go requests match {described} in the {args.period} "
            f"{_span(period_start, last_day)}. "
            + (
                f"Nearest {args.period}s with data start {' and '.join(nearest)}."
                if nearest
                else "No period has any; run `llm-usage materialize` first."
            )
        )
    days = data_days(settings)
    partial = is_partial(args.period, period_start, days)
    heading = {
        "grain": args.period,
        "period_start": period_start.isoformat(),
        "period_end": last_day.isoformat(),
        "partial": partial,
        "data_covers": _span(max(days[0], period_start), min(days[1], last_day)) if days else None,
        "filters": chosen,
    }
    if args.end_user is not None:
        try:
            heading["end_user"] = end_user_figures(
                settings, args.period, period_start, chosen, args.end_user
            )
        except FilterError as error:
            raise UsageError(str(error)) from None
    if reaches_today(period_start, last_day, settings.reporting_timezone):
        at = as_of(settings, period_start, last_day)
        heading["as_of"] = f"{at:%Y-%m-%d %H:%M}" if at else None
    hours = hours_of_day(settings, period_start, chosen) if args.by_hour else None
    if args.format == "table":  # JSON and CSV carry the names exactly
        panels = {panel: _frame_for_terminal(frame) for panel, frame in panels.items()}
        heading["filters"] = {k: for_terminal(v) for k, v in chosen.items()}
    sys.stdout.write(render(panels, heading, args.format, hours=hours))


def _report_hour(args: argparse.Namespace, settings: Settings, chosen: dict[str, str]) -> None:
    """`report --period hour`: one local hour (two on the day clocks go back)."""
    from readers.hours import as_of, hour_is_partial, hour_rows, latest_hour, nearest_hours
    from readers.report import render_hour

    if isinstance(args.date, date) and not isinstance(args.date, datetime):
        raise UsageError(
            f"--period hour takes a local hour: --date {args.date}T14 (hours 00 to 23)."
        )
    label = args.date or latest_hour(settings, chosen)
    described = ", ".join(f"{k}={v}" for k, v in chosen.items())
    if label is None:
        raise UsageError(
            f"No pay-as-you-go requests match {described} in any hour the warehouse keeps; "
            "run `llm-usage materialize` first (hours older than "
            "LLM_USAGE_HOURLY_RETENTION_DAYS are not kept)."
        )
    hours = hour_rows(settings, label, chosen)
    if hours.empty:
        before, after = nearest_hours(settings, label, chosen)
        nearest = [f"{h:%Y-%m-%dT%H} (before)" for h in [before] if h] + [
            f"{h:%Y-%m-%dT%H} (after)" for h in [after] if h
        ]
        raise UsageError(
            f"No pay-as-you-go requests match {described} in the hour {label:%Y-%m-%d %H}:00 "
            f"({settings.reporting_timezone}). "
            + (
                f"Nearest hours with data: {' and '.join(nearest)}."
                if nearest
                else "No hour has any (hours older than LLM_USAGE_HOURLY_RETENTION_DAYS "
                "are not kept)."
            )
        )
    partial = any(hour_is_partial(start) for start in hours["hour_start"])
    at = as_of(settings, label.date(), label.date()) if partial else None
    heading = {
        "grain": "hour",
        "hour_label": f"{label:%Y-%m-%dT%H:%M}",
        "reporting_timezone": settings.reporting_timezone,
        "partial": partial,
        "as_of": f"{at:%Y-%m-%d %H:%M}" if at else None,
        "filters": chosen,
    }
    if args.format == "table":
        heading["filters"] = {k: for_terminal(v) for k, v in chosen.items()}
    sys.stdout.write(render_hour(hours, heading, args.format))


# -------------------------------------------------------------------------------- list


def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    from readers.filters import everything
    from readers.report import dimension_values, listable, other_listable, period_end

    note_models_behind(settings)
    dimension = {**listable(), **other_listable()}[args.what]
    if args.date and not args.period:
        raise UsageError(
            "--date picks a day inside --period; pass --period day, week or month too."
        )
    if args.period:
        period_start = _resolve_period(settings, args.period, args.date, everything())
        scope = f"in the {args.period} {_span(period_start, period_end(args.period, period_start))}"
        frame = dimension_values(settings, dimension, args.period, period_start)
    else:
        scope = "over all loaded days"
        frame = dimension_values(settings, dimension)
    if frame.empty:
        print(f"No {args.what} with pay-as-you-go requests {scope}.")
        return
    print(f"{len(frame):,} {args.what} with pay-as-you-go requests {scope}:")
    names = [for_terminal(v) for v in frame[dimension]]  # so none can pass for '*' ("all")
    width = max(len(dimension), *(len(v) for v in names))
    counts = [f"{int(n):,}" for n in frame["requests"]]
    count_width = max(len("requests"), *(len(c) for c in counts))
    print(f"  {dimension:<{width}}  {'requests':>{count_width}}")
    for value, count in zip(names, counts):
        print(f"  {value:<{width}}  {count:>{count_width}}")


# -------------------------------------------------------------------------------- demo


def last_full_month(today: date) -> tuple[date, date]:
    """The first and last day of the calendar month before `today`'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def print_usage_figures(settings: Settings, grain: str, period_start: date) -> None:
    headline = read_query(
        settings,
        "SELECT total_tokens, input_tokens, output_tokens, requests FROM "
        "main_marts.mart_usage_summary WHERE grain = ? AND period_start = ? AND " + all_rows_sql(),
        [grain, period_start],
    )
    if headline.empty:
        print(f"\nNo pay-as-you-go usage in the {grain} starting {period_start}.")
        return
    row = headline.iloc[0]
    print(f"\nUsage, {grain} starting {period_start} (all keys, all models, pay-as-you-go):")
    print(f"  Total Token Usage   {int(row.total_tokens):>16,}")
    print(f"  Input Token Usage   {int(row.input_tokens):>16,}")
    print(f"  Output Token Usage  {int(row.output_tokens):>16,}")
    print(f"  Total API Requests  {int(row.requests):>16,}")
    top = read_query(
        settings,
        # The share is the mart's (Usage by Model); only its display as a percentage is here.
        "SELECT model, total_tokens, requests, round(100 * token_share, 1) AS token_share_pct "
        "FROM main_marts.mart_usage_by_model WHERE grain = ? AND period_start = ? AND "
        + all_rows_sql("model")
        + " ORDER BY total_tokens DESC, model LIMIT 5",
        [grain, period_start],
    )
    print("  Top models by tokens (share: % of all models' tokens):")
    top["model"] = [for_terminal(m) for m in top["model"]]
    width = max(len("model"), *(len(m) for m in top["model"]))
    print(f"    {'model':<{width}}  {'total_tokens':>14}  {'requests':>10}  {'share':>6}")
    for row in top.itertuples():
        print(
            f"    {row.model:<{width}}  {int(row.total_tokens):>14,}  {int(row.requests):>10,}  "
            f"{row.token_share_pct:>5.1f}%"
        )


def copy_sample_budgets(settings: Settings) -> None:
    """The demo's budgets (sample_data/budgets.toml) where the data directory has none,
    so that the page shows budget status; a budgets file of the user's is kept."""
    from sample_data.generate import SAMPLE_BUDGETS_FILE

    if settings.budgets_file.exists():
        print(f"Budgets: {settings.budgets_file} (yours, kept)")
        return
    settings.budgets_file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLE_BUDGETS_FILE, settings.budgets_file)
    print(f"Budgets: the sample budgets copied to {settings.budgets_file} (docs/alerts.md)")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    from sample_data.generate import generate_logs

    today = datetime.now(UTC).date()
    month_start, month_end = last_full_month(today)
    days = (month_end - month_start).days + 1
    started = time.monotonic()
    print(f"Generating {days} days of sample gateway logs ({month_start} .. {month_end}) ...")
    summary = generate_logs(
        settings.landing_dir, month_start, days, requests_per_day=args.requests_per_day, seed=42
    )
    print(f"  {summary.records:,} requests in {summary.seconds:.1f} s -> {settings.landing_dir}")
    copy_sample_budgets(settings)
    if not materialize(settings, month_start, month_end):
        sys.exit(1)
    # The last Monday-to-Sunday week that lies wholly inside the month.
    last_sunday = month_end - timedelta(days=(month_end.weekday() + 1) % 7)
    print_usage_figures(settings, "month", month_start)
    print_usage_figures(settings, "week", last_sunday - timedelta(days=6))
    print(
        f"\nDemo done in {time.monotonic() - started:.0f} s: {summary.records:,} requests. "
        f'Warehouse: {settings.warehouse_path}\nTry: llm-usage sql "SELECT * FROM '
        "main_marts.mart_usage_summary WHERE grain = 'month' AND "
        + all_rows_sql("api_key_id")
        + ' ORDER BY total_tokens DESC LIMIT 10"'
    )


# ---------------------------------------------------------------------------------- ui


def cmd_ui(args: argparse.Namespace, settings: Settings) -> None:
    """Start `dagster dev` (webserver + daemon, so the nightly schedule fires)."""
    from orchestration.instance import prepare_dagster_home

    prepare_dagster_home(settings)
    dagster = Path(sys.executable).with_name("dagster")
    repo = Path(__file__).resolve().parent.parent
    command = [
        str(dagster),
        "dev",
        "-w",
        str(repo / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    os.chdir(repo)
    # `dagster dev` and its code server read the settings again: they get the ones
    # resolved here (DAGSTER_HOME and the data paths among them).
    os.execve(command[0], command, {**os.environ, **settings.environment()})


# --------------------------------------------------------------------------- dashboard


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> None:
    """Serve the Usage Analytics page (readers/dashboard.py) with Streamlit."""
    page = Path(__file__).resolve().parent.parent / "readers" / "dashboard.py"
    streamlit = Path(sys.executable).with_name("streamlit")
    command = [
        str(streamlit),
        "run",
        str(page),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        # A server, not a notebook: no browser to open, no usage statistics sent, no
        # reload on source edits.
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
        # Streamlit's own "Download as CSV" (and copy) of a table writes names from the
        # logs as they are, so a key named `=HYPERLINK(...)` would open as a live formula;
        # it cannot be routed through readers/csv_text.py, so it is off.
        "--client.disableDataExport",
        "true",
    ]
    print(f"Usage Analytics page: http://{args.host}:{args.port} (Ctrl+C stops it)", flush=True)
    # The page reads the settings again: it gets the ones resolved here.
    os.execve(command[0], command, {**os.environ, **settings.environment()})


# -------------------------------------------------------------------------------- main


def list_choices() -> list[str]:
    from readers.report import listable, other_listable

    return [*listable(), *other_listable()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-usage",
        description="Usage analytics warehouse for LLM API gateway request logs.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write realistic sample gateway logs")
    generate.add_argument("--start", type=_parse_day, required=True, help="first day, YYYY-MM-DD")
    generate.add_argument("--days", type=_positive_int, required=True)
    generate.add_argument("--requests-per-day", type=_positive_int, default=20_000)
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--out", help="landing folder (default: $LLM_USAGE_LANDING_DIR)")
    generate.add_argument("--format", choices=["jsonl.gz", "jsonl", "parquet"], default="jsonl.gz")
    generate.add_argument("--duplicate-rate", type=_rate, default=0.0)
    generate.add_argument("--late-rate", type=_rate, default=0.0)
    generate.add_argument("--malformed-rate", type=_rate, default=0.0)
    generate.add_argument(
        "--semantic-faults",
        action="store_true",
        help="inject records that pass the contract but break data-quality rules",
    )
    generate.set_defaults(handler=cmd_generate)

    materialize_cmd = commands.add_parser(
        "materialize", help="load landing days and rebuild everything downstream"
    )
    materialize_cmd.add_argument("--start", type=_parse_day, help="first landing day (inclusive)")
    materialize_cmd.add_argument("--end", type=_parse_day, help="last landing day (inclusive)")
    materialize_cmd.add_argument(
        "--verbose",
        action="store_true",
        help="also print dbt's per-model output and the full traces of failures",
    )
    materialize_cmd.set_defaults(handler=cmd_materialize)

    sql = commands.add_parser("sql", help="run a read-only SQL query on the warehouse")
    sql.add_argument("query")
    sql.add_argument("--max-rows", type=_positive_int, default=200)
    sql.set_defaults(handler=cmd_sql, reads_only=True)

    report = commands.add_parser("report", help="print the dashboard's three tabs from the marts")
    report.add_argument("--period", choices=["hour", "day", "week", "month"], required=True)
    report.add_argument(
        "--date",
        type=parse_day_or_hour,
        help="any day in the period, YYYY-MM-DD; with --period hour a local hour of the "
        "reporting time zone, YYYY-MM-DDTHH (default: the latest complete period, the "
        "latest hour)",
    )
    report.add_argument(
        "--by-hour",
        action="store_true",
        help="with --period day: the day's local hours after the tabs",
    )
    add_filter_options(report)
    report.add_argument(
        "--end-user",
        help="one end user id, exactly: its own figures from the end-user fact, beside the tabs",
    )
    report.add_argument("--format", choices=["table", "json", "csv"], default="table")
    report.set_defaults(handler=cmd_report, reads_only=True)

    listing = commands.add_parser(
        "list",
        help="the keys, models, providers, organizations, teams, projects, end users or tags "
        "the warehouse holds, with their requests",
    )
    listing.add_argument("what", choices=list_choices())
    listing.add_argument(
        "--period",
        choices=["day", "week", "month"],
        help="count within one period (default: over all loaded days)",
    )
    listing.add_argument(
        "--date", type=_parse_day, help="any day in that period (default: the latest complete one)"
    )
    listing.set_defaults(handler=cmd_list, reads_only=True)

    demo = commands.add_parser("demo", help="generate a month of sample logs, build, and report")
    demo.add_argument("--requests-per-day", type=_positive_int, default=20_000)
    demo.set_defaults(handler=cmd_demo)

    dashboard = commands.add_parser(
        "dashboard", help="serve the Usage Analytics web page (Streamlit)"
    )
    dashboard.add_argument("--port", type=_positive_int, default=8501)
    dashboard.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: this machine only)"
    )
    dashboard.set_defaults(handler=cmd_dashboard)

    ui = commands.add_parser("ui", help="start the Dagster UI and daemon (dagster dev)")
    ui.add_argument(
        "--port", type=_positive_int, default=3000, help="web server port (default 3000)"
    )
    ui.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 opens it to the network)",
    )
    ui.set_defaults(handler=cmd_ui)

    from cli.alerts import add_parser as add_alerts_parser
    from cli.export import add_parser as add_export_parser

    add_export_parser(commands)
    add_alerts_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        # A command that only reads (reads_only) makes all its queries on one connection.
        reads = (
            shared_reads(settings)
            if getattr(args, "reads_only", False)
            else contextlib.nullcontext()
        )
        with reads:
            args.handler(args, settings)
    except (
        UsageError,
        QueryError,
        SettingsError,
        WarehouseBusyError,
        WarehouseMissingError,
    ) as error:
        # Messages quote what the user typed and what DuckDB said about the data.
        print(f"llm-usage: {message_for_terminal(error)}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:
        # The reader of our output went away (`llm-usage list keys | head`): not an error.
        sys.stderr.close()
        os._exit(0)


if __name__ == "__main__":
    main()
