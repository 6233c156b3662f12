"""Independent re-computation of the warehouse's numbers from the landing files.

Tests compare mart and fact values with what this module computes straight from the
log lines with pandas and the JSON Schema validator, sharing no code with the loader's
SQL or the dbt models.
"""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import jsonschema
import pandas as pd

SCHEMA_PATH = (
    Path(__file__).resolve().parent.parent / "ingest" / "schema" / "request_log.schema.json"
)


def _inline_refs(node, defs: dict):
    """The schema with each local `{"$ref": "#/$defs/NAME", ...}` written out as
    `{"allOf": [NAME's schema], ...}`: the same constraints (in draft 2020-12 a $ref
    applies beside its sibling keywords, as allOf does), without jsonschema resolving the
    reference for every field of every record, which was a third of its time. The
    schema's $defs refer to no one recursively."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _inline_refs(value, defs) for key, value in node.items() if key != "$defs"}
    ref = node.pop("$ref", None)
    if ref is None:
        return node
    prefix = "#/$defs/"
    assert ref.startswith(prefix), ref
    return {"allOf": [_inline_refs(defs[ref.removeprefix(prefix)], defs)], **node}


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(
        _inline_refs(schema, schema.get("$defs", {})),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def _lines(path: Path) -> list[str]:
    if path.name.endswith(".parquet"):
        frame = pd.read_parquet(path)
        return [
            json.dumps({k: _json_value(v) for k, v in row.items()}, default=int)
            for row in frame.to_dict("records")
        ]
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode("utf-8", errors="replace")
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n") if text else []


def _json_value(value):
    """A Parquet cell as JSON would carry it: a list column's array as a list."""
    if (
        hasattr(value, "tolist")
        and not isinstance(value, (str, bytes))
        and getattr(value, "ndim", 0)
    ):
        return value.tolist()
    return None if pd.isna(value) else value


def count_lines(landing_dir: Path, days: list[date] | None = None) -> int:
    """Lines (JSON Lines) and rows (Parquet) in the landing files, valid or not."""
    total = 0
    for folder in sorted(landing_dir.glob("dt=*")):
        if days is None or date.fromisoformat(folder.name[3:]) in days:
            total += sum(len(_lines(path)) for path in folder.iterdir())
    return total


def read_landing(landing_dir: Path, days: list[date] | None = None) -> tuple[pd.DataFrame, int]:
    """Valid records of every landing file (one row per delivery), and the invalid count."""
    validator = _validator()
    rows, invalid = [], 0
    for folder in sorted(landing_dir.glob("dt=*")):
        landing_date = date.fromisoformat(folder.name[3:])
        if days is not None and landing_date not in days:
            continue
        for path in sorted(folder.iterdir()):
            for number, line in enumerate(_lines(path), start=1):
                try:
                    record = json.loads(line)
                except ValueError:
                    invalid += 1
                    continue
                if not isinstance(record, dict) or not validator.is_valid(record):
                    invalid += 1
                    continue
                record.update(landing_date=landing_date, source_file=str(path), line_number=number)
                rows.append(record)
    return pd.DataFrame(rows), invalid


def requests(deliveries: pd.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """One row per request (latest delivery wins) with the derived fields of docs/metrics.md."""
    frame = deliveries.sort_values(["landing_date", "source_file", "line_number"])
    frame = frame.drop_duplicates("request_id", keep="last").copy()
    created = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    local = created.dt.tz_convert(timezone).dt.tz_localize(None)
    frame["event_date"] = local.dt.normalize()
    frame["week_start"] = frame["event_date"] - pd.to_timedelta(
        frame["event_date"].dt.weekday, unit="D"
    )
    frame["month_start"] = frame["event_date"].dt.to_period("M").dt.to_timestamp()
    for column in (
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "web_search_calls",
    ):
        if column not in frame:
            frame[column] = 0
        frame[column] = frame[column].fillna(0).astype("int64")
    frame["total_tokens"] = frame["input_tokens"] + frame["output_tokens"]
    return frame


def usage_totals(frame: pd.DataFrame) -> dict[str, int]:
    """The Usage tab's headline figures over pay-as-you-go requests in `frame`."""
    paid = frame[frame["billing_mode"] == "pay_as_you_go"]
    return {
        "total_tokens": int(paid["total_tokens"].sum()),
        "input_tokens": int(paid["input_tokens"].sum()),
        "output_tokens": int(paid["output_tokens"].sum()),
        "requests": int(len(paid)),
    }
