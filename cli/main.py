"""`llm-usage`: generate sample logs, materialize landing days, and query the warehouse."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

# Great Expectations phones home on import unless told not to; set before anything loads it.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from config.settings import Settings, SettingsError  # noqa: E402
from ingest.warehouse import WarehouseBusyError, WarehouseMissingError, connect  # noqa: E402
from readers.warehouse import (  # noqa: E402
    READER_WAIT_SECONDS,
    QueryError,
    note_models_behind,
    read_query,
)


class UsageError(Exception):
    """A mistake the user can fix; printed as one sentence, no traceback."""


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-01") from None


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
    if not settings.landing_dir.is_dir():
        return []
    days = []
    for folder in settings.landing_dir.glob("dt=*"):
        try:
            days.append(date.fromisoformat(folder.name[3:]))
        except ValueError:
            continue
    return sorted(days)


def materialize(settings: Settings, start: date, end: date) -> bool:
    """Run the nightly job over landing days [start, end] in one run; True if it succeeded."""
    from dagster import DagsterInstance

    from quality.rules import start_importing_great_expectations
    from orchestration.instance import cli_run_tags, fail_abandoned_cli_runs, prepare_dagster_home
    from orchestration.partitions import landing_days

    settings.export()
    prepare_dagster_home(settings)
    first, last = start.isoformat(), end.isoformat()
    available = landing_days.get_partition_keys()
    for key in (first, last):
        if key not in available:
            raise UsageError(
                f"Landing day {key} is outside the partitions Dagster knows "
                f"({available[0]} .. {available[-1]}); set LLM_USAGE_FIRST_LANDING_DAY "
                "earlier, or pick days up to today (UTC)."
            )
    from orchestration.definitions import defs

    job = defs.resolve_job_def("nightly_job")
    print(f"Materializing landing days {first} .. {last} and everything downstream ...")
    # The run executes in this process, so its data-quality checks can find GX imported.
    start_importing_great_expectations()
    started = time.monotonic()
    with DagsterInstance.get() as instance:
        for run_id in fail_abandoned_cli_runs(instance):
            print(f"Run {run_id} lost its process; marked it failed and freed its warehouse slot.")
        # Waits while another run holds the "warehouse" pool (dagster.yaml), then runs.
        result = job.execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
                **cli_run_tags(),
            },
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=False,
        )
    seconds = time.monotonic() - started
    _print_ingest_progress(settings, start, end)
    if not result.success:
        blocked = False
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed:
                blocked = blocked or evaluation.blocking
                print(
                    f"CHECK FAILED {evaluation.asset_key.to_user_string()} "
                    f"{evaluation.check_name} ({evaluation.severity.value}): "
                    f"{evaluation.description}",
                    file=sys.stderr,
                )
        if blocked:
            print(
                f"A blocking data-quality check failed, so the facts and marts were not "
                f"changed. Fix or replace the files under {settings.landing_dir}/dt=... for "
                f"{first} .. {last} and materialize those days again.",
                file=sys.stderr,
            )
        failed = [e for e in result.all_events if e.is_failure]
        for event in failed:
            print(f"FAILED {event.step_key}: {event.message}", file=sys.stderr)
        print(f"Run {result.run_id} failed after {seconds:.1f} s.", file=sys.stderr)
        return False
    print(f"Run {result.run_id} succeeded in {seconds:.1f} s.")
    return True


def _print_ingest_progress(settings: Settings, start: date, end: date) -> None:
    try:
        connection = connect(settings, read_only=True, wait_seconds=READER_WAIT_SECONDS)
    except WarehouseMissingError:
        return
    with connection:
        rows = dict(
            (row[0], row[1:])
            for row in connection.execute(
                "SELECT landing_date, count(*), sum(rows_loaded), sum(rows_rejected), "
                "count(error) FROM raw.ingested_files "
                "WHERE landing_date BETWEEN ? AND ? GROUP BY landing_date",
                [start, end],
            ).fetchall()
        )
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        if day in rows:
            files, loaded, rejected, unreadable = rows[day]
            note = f", {unreadable} unreadable files" if unreadable else ""
            print(f"  {day}: {files} files, {loaded:,} rows loaded, {rejected:,} rejected{note}")
        else:
            print(f"  {day}: no landing files")


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
    if not materialize(settings, start, end):
        sys.exit(1)


# --------------------------------------------------------------------------------- sql


def cmd_sql(args: argparse.Namespace, settings: Settings) -> None:
    import pandas as pd

    note_models_behind(settings)
    frame = read_query(settings, args.query)
    with pd.option_context("display.max_rows", args.max_rows, "display.width", 200):
        print(frame.to_string(index=False, max_rows=args.max_rows))
    print(f"({len(frame)} rows)")


# ------------------------------------------------------------------------------ report


def cmd_report(args: argparse.Namespace, settings: Settings) -> None:
    from readers.report import dashboard, latest_period, period_containing, render

    note_models_behind(settings)
    chosen = {"api_key_id": args.api_key, "model": args.model, "provider": args.provider}
    described = ", ".join(f"{k}={v}" for k, v in chosen.items())
    if args.date is None:
        period_start = latest_period(settings, args.period, chosen)
        if period_start is None:
            raise UsageError(
                f"No pay-as-you-go requests match {described} in any {args.period}; check the "
                "names (llm-usage sql \"SELECT DISTINCT api_key_id, model, provider FROM "
                "main_marts.mart_usage_summary\") "
                "or run `llm-usage materialize` first."
            )
    else:
        period_start = period_containing(args.period, args.date)
    panels = dashboard(settings, args.period, period_start, chosen)
    if all(frame.empty for frame in panels.values()):
        raise UsageError(
            f"No pay-as-you-go requests match {described} in the {args.period} starting {period_start}."
        )
    heading = {"grain": args.period, "period_start": period_start.isoformat(), "filter": chosen}
    sys.stdout.write(render(panels, heading, args.format))


# -------------------------------------------------------------------------------- demo


def last_full_month(today: date) -> tuple[date, date]:
    """The first and last day of the calendar month before `today`'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def print_usage_figures(settings: Settings, grain: str, period_start: date) -> None:
    headline = read_query(
        settings,
        "SELECT total_tokens, input_tokens, output_tokens, requests FROM "
        "main_marts.mart_usage_summary WHERE grain = ? AND period_start = ? "
        "AND api_key_id = '*' AND model = '*' AND provider = '*'",
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
        "SELECT model, total_tokens, requests, "
        "round(100.0 * total_tokens / sum(total_tokens) OVER (), 1) AS token_share_pct "
        "FROM main_marts.mart_usage_summary WHERE grain = ? AND period_start = ? "
        "AND api_key_id = '*' AND model <> '*' AND provider = '*' "
        "ORDER BY total_tokens DESC LIMIT 5",
        [grain, period_start],
    )
    print("  Top models by tokens:")
    for line in top.to_string(index=False).splitlines():
        print("    " + line)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    from sample_data.generate import generate_logs

    today = datetime.now(timezone.utc).date()
    month_start, month_end = last_full_month(today)
    days = (month_end - month_start).days + 1
    started = time.monotonic()
    print(f"Generating {days} days of sample gateway logs ({month_start} .. {month_end}) ...")
    summary = generate_logs(
        settings.landing_dir, month_start, days, requests_per_day=args.requests_per_day, seed=42
    )
    print(f"  {summary.records:,} requests in {summary.seconds:.1f} s -> {settings.landing_dir}")
    if not materialize(settings, month_start, month_end):
        sys.exit(1)
    # The last Monday-to-Sunday week that lies wholly inside the month.
    last_sunday = month_end - timedelta(days=(month_end.weekday() + 1) % 7)
    print_usage_figures(settings, "month", month_start)
    print_usage_figures(settings, "week", last_sunday - timedelta(days=6))
    print(
        f"\nDemo done in {time.monotonic() - started:.0f} s: {summary.records:,} requests. "
        f"Warehouse: {settings.warehouse_path}\nTry: llm-usage sql \"SELECT * FROM "
        "main_marts.mart_usage_summary WHERE grain = 'month' AND model = '*' "
        "AND provider = '*' ORDER BY total_tokens DESC LIMIT 10\""
    )


# ---------------------------------------------------------------------------------- ui


def cmd_ui(args: argparse.Namespace, settings: Settings) -> None:
    """Start `dagster dev` (webserver + daemon, so the nightly schedule fires)."""
    from orchestration.instance import prepare_dagster_home

    settings.export()
    prepare_dagster_home(settings)
    dagster = Path(sys.executable).with_name("dagster")
    repo = Path(__file__).resolve().parent.parent
    command = [str(dagster), "dev", "-w", str(repo / "workspace.yaml"), "-p", str(args.port)]
    os.chdir(repo)
    os.execv(command[0], command)


# --------------------------------------------------------------------------- dashboard


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> None:
    """Serve the Usage Analytics page (readers/dashboard.py) with Streamlit."""
    settings.export()
    page = Path(__file__).resolve().parent.parent / "readers" / "dashboard.py"
    streamlit = Path(sys.executable).with_name("streamlit")
    command = [
        str(streamlit), "run", str(page),
        "--server.address", args.host, "--server.port", str(args.port),
        # A server, not a notebook: no browser to open, no usage statistics sent, no
        # reload on source edits.
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
    ]
    print(f"Usage Analytics page: http://{args.host}:{args.port} (Ctrl+C stops it)", flush=True)
    os.execv(command[0], command)


# -------------------------------------------------------------------------------- main


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
    materialize_cmd.set_defaults(handler=cmd_materialize)

    sql = commands.add_parser("sql", help="run a read-only SQL query on the warehouse")
    sql.add_argument("query")
    sql.add_argument("--max-rows", type=_positive_int, default=200)
    sql.set_defaults(handler=cmd_sql)

    report = commands.add_parser("report", help="print the dashboard's three tabs from the marts")
    report.add_argument("--period", choices=["day", "week", "month"], required=True)
    report.add_argument(
        "--date", type=_parse_day,
        help="any day in the period, YYYY-MM-DD (default: the latest period with data)",
    )
    report.add_argument("--api-key", default="*", help="one API key id (default: all)")
    report.add_argument("--model", default="*", help="one model slug (default: all)")
    report.add_argument("--provider", default="*", help="one provider (default: all)")
    report.add_argument("--format", choices=["table", "json", "csv"], default="table")
    report.set_defaults(handler=cmd_report)

    demo = commands.add_parser("demo", help="generate a month of sample logs, build, and report")
    demo.add_argument("--requests-per-day", type=_positive_int, default=20_000)
    demo.set_defaults(handler=cmd_demo)

    dashboard = commands.add_parser("dashboard", help="serve the Usage Analytics web page (Streamlit)")
    dashboard.add_argument("--port", type=_positive_int, default=8501)
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    dashboard.set_defaults(handler=cmd_dashboard)

    ui = commands.add_parser("ui", help="start the Dagster UI and daemon (dagster dev)")
    ui.add_argument("--port", type=_positive_int, default=3000)
    ui.set_defaults(handler=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        args.handler(args, settings)
    except (UsageError, QueryError, SettingsError, WarehouseBusyError, WarehouseMissingError) as error:
        print(f"llm-usage: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
