"""`llm-usage alerts`: the active and recent alerts and each budget's status, read from
the warehouse (readers/alert_tables.py); `--test` sends a test message to every
configured URL (docs/alerts.md)."""

from __future__ import annotations

import argparse
import sys

from cli.arguments import UsageError
from config.settings import Settings
from readers.terminal_text import message_for_terminal


def add_parser(commands) -> None:
    """Register `alerts` on the CLI's subcommands."""
    alerts = commands.add_parser(
        "alerts",
        help="list the active and recent alerts and the budgets' status (docs/alerts.md)",
    )
    alerts.add_argument(
        "--test", action="store_true", help="send a test message to every configured alert URL"
    )
    alerts.add_argument("--recent", type=int, default=20, help="how many recent alerts (20)")
    alerts.set_defaults(handler=cmd_alerts, reads_only=True)


def _print(line: str) -> None:
    print(message_for_terminal(line))


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> None:
    if args.test:
        _send_test(settings)
        return
    from alerts.budgets_file import BudgetsFileError, read_alert_config
    from readers.alert_tables import (
        active_alerts,
        current_budget_status,
        highest_thresholds,
        recent_alerts,
    )

    # What is listed is the last evaluation's; a mistake made in the file since (or the
    # one that turned alerts off) is said first, in the evaluation's own line.
    mistake = None
    try:
        read_alert_config(settings)
    except BudgetsFileError as error:
        mistake = str(error)
        print(f"llm-usage: {message_for_terminal(mistake)}", file=sys.stderr)
    active = highest_thresholds(active_alerts(settings))
    _print(f"Active alerts: {len(active)}")
    for row in active.itertuples():
        _print(f"  {row.title}")
        _print(f"    {row.body}")
    budgets = current_budget_status(settings)
    if len(budgets):
        _print("Budgets (current period):")
        for row in budgets.itertuples():
            unit = "$" if row.unit == "usd" else ""
            suffix = "" if row.unit == "usd" else " tokens"
            _print(
                f"  {row.budget}: {unit}{row.spent:,.2f}{suffix} of {unit}{row.budget_limit:,.2f}"
                f"{suffix} ({row.share_used:.1%}) in the {row.period} from "
                f"{str(row.period_start)[:10]}; forecast {unit}{row.forecast:,.2f}{suffix} "
                f"({row.forecast_share:.1%})"
            )
    recent = recent_alerts(settings, args.recent)
    _print(f"Recent alerts (last {args.recent} changes):")
    for row in recent.itertuples():
        _print(f"  {str(row.changed_at)[:16]}  {row.status:<8}  {row.title}")
    if not len(recent):
        _print(
            "  none yet: alerts are evaluated after each build when a budgets file exists "
            f"({settings.budgets_file})."
        )
    if mistake:
        sys.exit(1)


def _send_test(settings: Settings) -> None:
    from alerts.budgets_file import BudgetsFileError
    from alerts.evaluate import send_test_message

    try:
        results = send_test_message(settings)
    except BudgetsFileError as error:
        raise UsageError(str(error)) from None
    if not results:
        raise UsageError(
            "No alert URLs are configured: set LLM_USAGE_ALERT_URLS or `urls` in the budgets "
            f"file ({settings.budgets_file}); docs/alerts.md has examples."
        )
    failed = 0
    for shown, error in results:
        if error:
            failed += 1
            _print(f"FAILED     {shown}: {error}")
        else:
            _print(f"delivered  {shown}")
    if failed:
        sys.exit(1)
