"""Issue 31 items 2, 5 and 6, in every format the loader reads (our JSON Lines and
Parquet, LiteLLM payloads, LiteLLM spend logs as CSV and JSON Lines, OpenRouter): an
impossible time is rejected rather than shifted to another day, an id or a name holding a
control character or longer than the schema's limit is quarantined with a reason naming
the field, and the reason itself is short and holds no control character."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pipeline_in_process import query
from source_records import (
    litellm_payloads,
    openrouter_generations,
    spend_log_row,
    spend_logs_csv,
    spend_logs_jsonl,
)

from ingest.load import load_partition

DAY = date(2026, 3, 2)
LIMIT = 256  # characters of an id or a name (docs/request-log-format.md)
# C0 (NUL, TAB, ESC starting a terminal escape sequence), DEL and C1 (NEL, CSI).
CONTROLS = {
    "NUL": "\x00",
    "TAB": "\t",
    "ESC": "\x1b[2J",
    "DEL": "\x7f",
    "NEL": "\x85",
    "CSI": "\x9b",
}
# What RFC 3339 rejects and DuckDB would shift (hour 24, offsets of 24 hours or more), or
# what the calendar does not have.
IMPOSSIBLE_TIMES = {
    "offset +24:00": "2026-03-02T12:00:00+24:00",
    "offset +99:99": "2026-03-02T12:00:00+99:99",
    "offset -05:60": "2026-03-02T12:00:00-05:60",
    "offset +2400": "2026-03-02T12:00:00+2400",
    "offset +24": "2026-03-02T12:00:00+24",
    "hour 24": "2026-03-02T24:00:00Z",
    "minute 60": "2026-03-02T12:60:00Z",
    "leap second": "2016-12-31T23:59:60Z",
    "February 30": "2026-02-30T12:00:00Z",
    "month 13": "2026-13-02T12:00:00Z",
}


def _set(record: dict, path: str, value) -> dict:
    out = copy.deepcopy(record)
    *parents, leaf = path.split(".")
    node = out
    for part in parents:
        node = node[part]
    node[leaf] = value
    return out


@dataclass(frozen=True)
class Format:
    """A format the loader reads: a valid record, the source fields that feed the ids and
    names (and its time, where the time is text), and how a file of records is written."""

    name: str
    folder: str | None  # a source folder of sources.toml, or None for our own format
    sources_toml: str
    record: Callable[[], dict]
    request_id: str
    texts: tuple[str, ...]  # source fields feeding an id or a name
    time: str | None  # a date-time written as text (LiteLLM payloads use epoch seconds)
    write: Callable[[Path, list[dict]], None]


OURS = {
    "request_id": "r",
    "created_at": "2026-03-02T10:00:00Z",
    "api_key_id": "key_a",
    "api_key_name": "prod",
    "model": "anthropic/claude-sonnet-4.5",
    "provider": "amazon-bedrock",
    "billing_mode": "pay_as_you_go",
    "status": "success",
    "error_type": None,
    "finish_reason": "stop",
    "stream": False,
    "input_tokens": 10,
    "output_tokens": 5,
    "latency_ms": 100.0,
}


def _jsonl(path: Path, records: list[dict]) -> None:
    (path / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")


def _parquet(path: Path, records: list[dict]) -> None:
    pq.write_table(pa.Table.from_pylist(records), path / "records.parquet")


def _spend_rows() -> dict:
    return spend_log_row(litellm_payloads()[0])


def _spend_csv(path: Path, rows: list[dict]) -> None:
    (path / "export.csv").write_text(spend_logs_csv(rows))


def _spend_jsonl(path: Path, rows: list[dict]) -> None:
    (path / "export.jsonl").write_text(spend_logs_jsonl(rows))


SPEND = '[sources.s]\nformat = "litellm_spend_logs"\n'
SPEND_TEXTS = (
    "request_id",
    "model",
    "custom_llm_provider",
    "api_key",
    "metadata.user_api_key_alias",
)
FORMATS = [
    Format(
        "our JSON Lines",
        None,
        "",
        lambda: OURS,
        "request_id",
        ("request_id", "api_key_id", "api_key_name", "model", "provider", "finish_reason"),
        "created_at",
        _jsonl,
    ),
    Format(
        "our Parquet",
        None,
        "",
        lambda: OURS,
        "request_id",
        ("request_id", "api_key_id", "api_key_name", "model", "provider", "error_type"),
        "created_at",
        _parquet,
    ),
    Format(
        "LiteLLM payloads",
        "l",
        '[sources.l]\nformat = "litellm"\n',
        lambda: litellm_payloads()[0],
        "litellm_call_id",
        (
            "litellm_call_id",
            "model",
            "custom_llm_provider",
            "metadata.user_api_key_hash",
            "metadata.user_api_key_alias",
        ),
        None,
        _jsonl,
    ),
    Format(
        "spend logs CSV",
        "s",
        SPEND,
        _spend_rows,
        "request_id",
        SPEND_TEXTS,
        "startTime",
        _spend_csv,
    ),
    Format(
        "spend logs JSON Lines",
        "s",
        SPEND,
        _spend_rows,
        "request_id",
        SPEND_TEXTS,
        "startTime",
        _spend_jsonl,
    ),
    Format(
        "OpenRouter",
        "o",
        '[sources.o]\nformat = "openrouter"\napi_key_id = "k"\n',
        lambda: openrouter_generations()[0],
        "id",
        ("id", "model", "provider_name", "finish_reason"),
        "created_at",
        _jsonl,
    ),
]


def _load(data_dir, fmt: Format, records: list[dict]):
    data_dir.landing_dir.mkdir(parents=True, exist_ok=True)
    if fmt.folder is None:
        folder = data_dir.landing_dir / f"dt={DAY}"
    else:
        (data_dir.landing_dir / "sources.toml").write_text(fmt.sources_toml)
        folder = data_dir.landing_dir / fmt.folder / f"dt={DAY}"
    folder.mkdir(parents=True)
    fmt.write(folder, records)
    report = load_partition(data_dir, DAY)
    rejected = query(
        data_dir, "SELECT line_number, reason FROM raw.request_logs_rejected ORDER BY line_number"
    )
    return report, dict(zip(rejected["line_number"], rejected["reason"]))


def _check(data_dir, fmt: Format, cases: list[tuple[str, str, object, bool]]) -> dict:
    """Load one good record and then each case ((label, source field, value, loads?)) as
    a record of its own; every case is loaded or rejected as it says, a rejection's reason
    names the source field and is short and printable. Returns line -> reason."""
    base = fmt.record()
    records = [_set(base, fmt.request_id, "good")]
    for number, (_, path, value, _) in enumerate(cases):
        record = _set(base, fmt.request_id, f"case-{number}")
        records.append(_set(record, path, value))
    report, rejected = _load(data_dir, fmt, records)
    expected_rejected = {n for n, case in enumerate(cases, start=2) if not case[3]}
    assert set(rejected) == expected_rejected, rejected
    assert report.rows_loaded == len(records) - len(expected_rejected)
    for number, (label, path, _, loads) in enumerate(cases, start=2):
        if loads:
            continue
        reason = rejected[number]
        assert f'"{path}"' in reason, (label, reason)
        assert len(reason) < 400, (label, len(reason))
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in reason), (label, reason)
    return rejected


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.time], ids=lambda f: f.name)
def test_impossible_times_are_rejected_not_shifted(data_dir, fmt):
    """Item 2: '+24:00' read as the day before, 'T24:00' as the next midnight, before."""
    cases = [(label, fmt.time, value, False) for label, value in IMPOSSIBLE_TIMES.items()]
    cases.append(("offset +23:59", fmt.time, "2026-03-02T12:00:00+23:59", True))
    cases.append(("leap day", fmt.time, "2024-02-29T23:59:59Z", True))
    if fmt.folder is None:
        # Our format's contract asks for RFC 3339's offset spellings only.
        cases = [c for c in cases if c[0] not in ("offset +2400", "offset +24")]
    rejected = _check(data_dir, fmt, cases)
    assert all("hours 00-23" in reason for reason in rejected.values()), rejected


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_ids_and_names_with_control_characters_are_quarantined(data_dir, fmt):
    """Item 5: a NUL or an escape sequence in a name loaded and reached the terminal."""
    cases = [
        (f"{label} in {path}", path, f"a{char}b", False)
        for path in fmt.texts
        for label, char in CONTROLS.items()
    ]
    # Printable characters next to the controls' ranges load: space, '~', NBSP, letters.
    cases.append(("printable", fmt.texts[1], "a b~\u00a0é☃🙂", True))
    rejected = _check(data_dir, fmt, cases)
    assert all("control character" in reason for reason in rejected.values()), rejected


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_ids_and_names_longer_than_the_limit_are_quarantined(data_dir, fmt):
    """Item 6: a 1 MB name loaded whole. The limit counts characters, not bytes."""
    cases = [(f"long {path}", path, "x" * (LIMIT + 1), False) for path in fmt.texts]
    cases += [
        ("1 MB", fmt.texts[1], "y" * (1 << 20), False),
        ("at the limit", fmt.texts[1], "z" * LIMIT, True),
        ("at the limit in emoji", fmt.texts[1], "🙂" * LIMIT, True),
    ]
    rejected = _check(data_dir, fmt, cases)
    assert all(f"at most {LIMIT} characters" in reason for reason in rejected.values())
    one_mb = rejected[len(fmt.texts) + 2]
    assert f"got {1 << 20} characters" in one_mb, one_mb
