"""What the commands share in reading their arguments: the one-line user error, dates,
and the check of a filter value against the values the marts hold."""

from __future__ import annotations

import argparse
from datetime import date, datetime

from config.settings import Settings


class UsageError(Exception):
    """A mistake the user can fix; printed as one sentence, no traceback."""


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-01") from None


def parse_day_or_hour(text: str) -> date | datetime:
    """A day (2026-03-02) or a local hour of the reporting zone (2026-03-02T14, or
    2026-03-02T14:00)."""
    day, sep, hour = text.partition("T")
    try:
        if not sep:
            return date.fromisoformat(text)
        if hour.isdigit() and len(hour) == 2:
            hour += ":00"
        moment = datetime.fromisoformat(f"{day}T{hour}")
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is not None or (moment.minute, moment.second) != (0, 0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date like 2026-03-01 or a local hour like 2026-03-01T14"
        )
    return moment


def span(first: date, last: date) -> str:
    return str(first) if first == last else f"{first} .. {last}"


def add_filter_options(
    parser: argparse.ArgumentParser, default: str | None = "*", help_all: str = "(default: all)"
) -> None:
    """One option per declared filter (--api-key, --model, --provider, --organization,
    --team, --project): dbt_project.yml's dimensions declaration, read here at parse time."""
    from readers.filters import filter_dimensions, in_sentence

    for d in filter_dimensions():
        parser.add_argument(
            f"--{d.name.replace('_', '-')}",
            dest=d.name,
            default=default,
            help=f"one {in_sentence(d)} id {help_all}",
        )


def chosen_filters(args: argparse.Namespace) -> dict[str, str]:
    """The filter columns and the values the options chose ('*': all)."""
    from readers.filters import filter_dimensions

    chosen = {d.column: getattr(args, d.name) for d in filter_dimensions()}
    return {column: value for column, value in chosen.items() if value is not None}


def check_filter_values(settings: Settings, chosen: dict[str, str]) -> None:
    """Refuse a filter combination the marts do not hold, saying which they hold, and a
    filter value no request has, naming the one it probably meant."""
    from readers.filters import FilterError, by_column, check_held, in_sentence
    from readers.report import did_you_mean, dimension_values, plural

    try:
        check_held(chosen)
    except FilterError as error:
        raise UsageError(str(error)) from None
    for dimension, value in chosen.items():
        if value == "*" or value in set(dimension_values(settings, dimension)[dimension]):
            continue
        suggestion = did_you_mean(settings, dimension, value)
        hint = f"did you mean {suggestion!r}? " if suggestion else ""
        label = "key" if dimension == "api_key_id" else in_sentence(by_column(dimension))
        raise UsageError(
            f"No pay-as-you-go requests match {dimension}={value!r} in any period; {hint}"
            f"`llm-usage list {plural(dimension)}` lists every {label} with its requests."
        )
