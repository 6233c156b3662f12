"""What the commands share in reading their arguments: the one-line user error, dates,
and the check of a filter value against the values the marts hold."""

from __future__ import annotations

import argparse
from datetime import date

from config.settings import Settings


class UsageError(Exception):
    """A mistake the user can fix; printed as one sentence, no traceback."""


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-01") from None


def span(first: date, last: date) -> str:
    return str(first) if first == last else f"{first} .. {last}"


FILTER_NAMES = {
    "api_key_id": ("key", "keys"),
    "model": ("model", "models"),
    "provider": ("provider", "providers"),
}


def check_filter_values(settings: Settings, chosen: dict[str, str]) -> None:
    """Refuse a filter value no request has, naming the one it probably meant."""
    from readers.report import did_you_mean, dimension_values

    for dimension, value in chosen.items():
        if value == "*" or value in set(dimension_values(settings, dimension)[dimension]):
            continue
        one, many = FILTER_NAMES[dimension]
        suggestion = did_you_mean(settings, dimension, value)
        hint = f"did you mean {suggestion!r}? " if suggestion else ""
        raise UsageError(
            f"No pay-as-you-go requests match {dimension}={value!r} in any period; {hint}"
            f"`llm-usage list {many}` lists every {one} with its requests."
        )
