"""What a run left out of the facts and marts, per landing day and reason, for
`llm-usage materialize` to print after the run (issue 31 item 10).

Two tables hold what is set aside: `raw.request_logs_rejected`, the lines that broke the
contract (ingest/contract.py), and `raw.quarantined_records`, the records a blocking
data-quality rule rejected (quality/holds.py). A run that passes its checks may still
have set records aside; a person sees how many, why, and the query that lists them.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from config.settings import Settings
from ingest.warehouse import WarehouseBusyError, WarehouseMissingError
from readers.terminal_text import message_for_terminal
from readers.warehouse import QueryError, read_query

# Each table that holds set-aside records: what its rows are, and the columns that
# find one in the landing files.
SET_ASIDE = {
    "raw.quarantined_records": (
        "records quarantined by data-quality rules",
        "landing_date, source_file, line_number, request_id, reason",
    ),
    "raw.request_logs_rejected": (
        "lines rejected by the contract",
        "landing_date, source_file, line_number, reason, raw_line",
    ),
}
REASONS_SHOWN = 3  # per day and table; the query lists every record
REASON_WIDTH = 120


def listing_query(table: str, day: date) -> str:
    """The `llm-usage sql` command that lists one day's set-aside records of `table`."""
    columns = SET_ASIDE[table][1]
    return (
        f"llm-usage sql \"SELECT {columns} FROM {table} WHERE landing_date = '{day}' "
        'ORDER BY source_file, line_number"'
    )


def _counts(settings: Settings, table: str, first: date, last: date) -> list[tuple]:
    frame = read_query(
        settings,
        f"SELECT landing_date, reason, count(*) AS records FROM {table} "
        "WHERE landing_date BETWEEN ? AND ? GROUP BY ALL "
        "ORDER BY landing_date, records DESC, reason",
        [first, last],
    )
    return [
        (pd.Timestamp(day).date(), reason, int(records))
        for day, reason, records in frame.itertuples(index=False, name=None)
    ]


def set_aside_lines(settings: Settings, first: date, last: date) -> list[str]:
    """Lines that say, per landing day of [first, last], how many records were set aside
    and why, with the query that lists them; none when nothing was."""
    by_day: dict[date, dict[str, list[tuple[str, int]]]] = {}
    for table in SET_ASIDE:
        try:
            counts = _counts(settings, table, first, last)
        except QueryError:
            continue  # a warehouse from before the table existed
        for day, reason, records in counts:
            by_day.setdefault(day, {}).setdefault(table, []).append((reason, records))
    lines = []
    for day in sorted(by_day):
        lines.append(f"Set aside on landing day {day} (left out of the facts and marts):")
        for table, reasons in by_day[day].items():
            what = SET_ASIDE[table][0]
            lines.append(f"  {sum(n for _, n in reasons):,} {what}, by reason:")
            for reason, records in reasons[:REASONS_SHOWN]:
                # Reasons quote the records (a line that is not JSON), so shown safely.
                shown = message_for_terminal(" ".join(reason.split()))
                if len(shown) > REASON_WIDTH:
                    shown = shown[: REASON_WIDTH - 3] + "..."
                lines.append(f"    {records:>8,}  {shown}")
            if len(reasons) > REASONS_SHOWN:
                rest = reasons[REASONS_SHOWN:]
                lines.append(f"    {sum(n for _, n in rest):>8,}  for {len(rest):,} other reasons")
            lines.append(f"    list them: {listing_query(table, day)}")
    return lines


def set_aside_note(settings: Settings, first: date, last: date) -> list[str]:
    """`set_aside_lines`, or one line saying why they could not be read now."""
    try:
        return set_aside_lines(settings, first, last)
    except WarehouseMissingError:
        return []  # the run failed before it made the warehouse: nothing was set aside
    except WarehouseBusyError as error:
        return [f"(Could not count the records set aside: {error})"]
