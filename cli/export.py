"""`llm-usage export`: the command line of readers/export.py and readers/focus.py."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from pathlib import Path

from cli.arguments import (
    UsageError,
    add_filter_options,
    check_filter_values,
    chosen_filters,
    parse_day,
    span,
)
from config.settings import Settings
from readers.warehouse import note_models_behind


def _period_days(text: str) -> tuple[date, date]:
    """A day (YYYY-MM-DD) as itself, or a month (YYYY-MM) as its first and last day."""
    from readers.report import period_end

    if re.fullmatch(r"\d{4}-\d{2}", text):
        first = parse_day(text + "-01")
        return first, period_end("month", first)
    day = parse_day(text)
    return day, day


def _month(text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2026-03")
    return parse_day(text + "-01")


def add_parser(commands) -> None:
    """Register `export` on the CLI's subcommands."""
    from readers.export import FORMATS, GRAINS

    export = commands.add_parser(
        "export",
        help="write a mart, the usage or spend view, or the FOCUS dataset to CSV, Parquet or JSONL",
        description="Export a mart (mart_usage_summary or usage_summary, ...), a view "
        "(usage, spend) or FOCUS cost data (focus --month YYYY-MM). docs/exports.md.",
    )
    export.add_argument("what", help="usage, spend, focus, or a mart's name")
    export.add_argument(
        "--grain", choices=GRAINS, help="default: month (hour for the hourly marts)"
    )
    export.add_argument(
        "--period",
        type=_period_days,
        help="the period holding a day, YYYY-MM-DD, or the periods of a month, YYYY-MM",
    )
    export.add_argument("--from", dest="start", type=parse_day, help="first day, YYYY-MM-DD")
    export.add_argument("--to", dest="end", type=parse_day, help="last day, YYYY-MM-DD")
    export.add_argument("--month", type=_month, help="focus: the month to export, YYYY-MM")
    add_filter_options(export, default=None, help_all="('*': the rows for all)")
    export.add_argument("--columns", help="comma-separated figure columns (default: all)")
    export.add_argument(
        "--format", choices=FORMATS, help="default: the --out suffix, else csv (focus: parquet)"
    )
    export.add_argument("--out", help="file to write ('-' or none: standard output)")
    export.set_defaults(handler=cmd_export, reads_only=True)


def cmd_export(args: argparse.Namespace, settings: Settings) -> None:
    from readers.export import ExportError

    try:
        if args.what == "focus":
            _export_focus(args, settings)
        else:
            _export_mart(args, settings)
    except ExportError as error:
        raise UsageError(str(error)) from None


def _format(args: argparse.Namespace, default: str) -> str:
    """--format, else the one --out's suffix names, else `default`."""
    from readers.export import FORMATS

    if args.format:
        return args.format
    suffix = Path(args.out).suffix.lstrip(".").lower() if args.out not in (None, "-") else ""
    return suffix if suffix in FORMATS else default


def _out(args: argparse.Namespace, fmt: str) -> Path | None:
    if args.out in (None, "-"):
        if fmt == "parquet" and sys.stdout.isatty():
            raise UsageError("Parquet is binary: pass --out PATH (or redirect the output).")
        return None
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; name the file to write.")
    return out


def _export_mart(args: argparse.Namespace, settings: Settings) -> None:
    from readers.export import (
        HOUR,
        ExportError,
        Periods,
        check_grain,
        choose_columns,
        export_queries,
        hourly,
        resolve_source,
        write_export,
    )
    from readers.report import data_days

    if args.month:
        raise UsageError("--month is for `export focus`; use --period YYYY-MM here.")
    if args.period and (args.start or args.end):
        raise UsageError("Pass --period or --from/--to, not both.")
    source = resolve_source(args.what)
    args.grain = args.grain or (HOUR if hourly(source) else "month")
    check_grain(source, args.grain)
    wanted = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    if args.columns is not None and not wanted:
        raise UsageError("--columns is empty; name one column or more, comma-separated.")
    columns = choose_columns(source, wanted)
    chosen = chosen_filters(args)
    fmt = _format(args, "csv")
    out = _out(args, fmt)
    note_models_behind(settings)
    check_filter_values(settings, chosen)
    if args.period:
        periods = Periods.between(args.grain, *args.period)
    else:
        periods = Periods.between(args.grain, args.start, args.end)
    days = data_days(settings)
    asked = _asked(periods)
    if days and asked and (asked[0] < days[0] or asked[1] > days[1]):
        print(
            f"Note: the marts hold days {span(days.first, days.last)} only; the {periods.grain}s asked for "
            f"({span(*asked)}) reach beyond them, so those periods are partial or missing "
            "(days not yet loaded or built).",
            file=sys.stderr,
        )
    queries = export_queries(settings, source, columns, periods, chosen)
    try:
        rows = write_export(settings, queries, fmt, out, sys.stdout.buffer)
    except ExportError as error:
        if str(error) != "empty":
            raise
        described = ", ".join(f"{k}={v}" for k, v in chosen.items()) or "no filter"
        where = f"{args.grain}s {span(*asked)}" if asked else f"any {args.grain}"
        held = (
            f"; the marts hold days {span(days.first, days.last)}"
            if days
            else "; the marts are empty"
        )
        raise UsageError(
            f"No rows of {source.name} for {where} ({described}){held}. "
            "Pick periods with data (`llm-usage list keys --period month` shows them)."
        ) from None
    if out is not None:
        print(f"Wrote {rows:,} rows of {source.name} to {out}", file=sys.stderr)


def _asked(periods) -> tuple[date, date] | None:
    """The days the requested periods cover, when both ends are given."""
    from readers.report import period_containing, period_end

    if periods.first and periods.last and periods.grain == "hour":
        return periods.first, periods.last  # the local days of the hours
    if periods.first and periods.last:
        last = period_containing(periods.grain, periods.last)
        return periods.first, period_end(periods.grain, last)
    return None


def _export_focus(args: argparse.Namespace, settings: Settings) -> None:
    from readers.export import ExportError
    from readers.filters import filter_dimensions
    from readers.focus import focus_month, write_focus
    from readers.report import data_days

    if args.month is None:
        raise UsageError("`export focus` needs --month YYYY-MM (the month to export).")
    options = {"period": "--period", "start": "--from", "end": "--to", "columns": "--columns"}
    options.update({d.name: f"--{d.name.replace('_', '-')}" for d in filter_dimensions()})
    ignored = [flag for option, flag in options.items() if getattr(args, option) is not None]
    if ignored:
        raise UsageError(
            f"`export focus` writes a whole month; {', '.join(ignored)} does not apply."
        )
    fmt = _format(args, "parquet")
    if fmt == "jsonl":
        raise UsageError("FOCUS data is written as parquet or csv, not jsonl.")
    out = _out(args, fmt)
    note_models_behind(settings)
    first, last = focus_month(args.month)
    try:
        written = write_focus(settings, first, last, fmt, out, sys.stdout.buffer, allow_empty=False)
    except ExportError as error:
        if str(error) != "empty":
            raise
        days = data_days(settings)
        held = (
            f"the marts hold days {span(days.first, days.last)}" if days else "the marts are empty"
        )
        raise UsageError(
            f"No pay-as-you-go requests with a known cost in {span(first, last)} ({held}); "
            "nothing was written."
        ) from None
    for line in written.notes():
        print(line, file=sys.stderr)
    if out is not None:
        print(
            f"Wrote {written.rows:,} FOCUS rows for {span(first, last)} to {out}", file=sys.stderr
        )
