"""Real LiteLLM and OpenRouter records through the source adapters (ingest/sources/):
every fact field equals what the record says (docs/sources.md), the spend figures of the
marts equal an independent computation, and a record that cannot be mapped reaches the
quarantine with a reason naming its source field while everything else loads."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import use_data_dir
from mart_reference import MARTS, same, select, with_performance_fields
from nightly import run_window
from pipeline_in_process import query
from source_records import (
    OPENROUTER_KEY,
    PLAN_TAG,
    dimensions_from_generation,
    dimensions_from_payload,
    dimensions_from_spend_log,
    expected_from_generation,
    expected_from_payload,
    expected_from_spend_log,
    litellm_failure_and_cache_payloads,
    litellm_payloads,
    openrouter_generations,
    spend_log_columns,
    spend_log_row,
    spend_logs_csv,
    spend_logs_jsonl,
)

from config.settings import SettingsError, Thresholds
from ingest.load import load_partition
from ingest.sources.config import source_folders
from readers.filters import everything

FACT_FIELDS = [
    "request_id",
    "created_at",
    "api_key_id",
    "api_key_name",
    "model",
    "provider",
    "billing_mode",
    "status",
    "http_status",
    "error_type",
    "finish_reason",
    "stream",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "web_search_calls",
    "latency_ms",
    "first_token_ms",
    "cost_usd",
    "error_class",
    "served_from_cache",
    "saved_cache_cost_usd",
]
SOURCES_TOML = f"""
[sources.litellm]
format = "litellm"
subscription_tags = ["{PLAN_TAG}"]

[sources.spend-csv]
format = "litellm_spend_logs"
subscription_tags = ["{PLAN_TAG}"]

[sources.spend-jsonl]
format = "litellm_spend_logs"
subscription_tags = ["{PLAN_TAG}"]

[sources.openrouter]
format = "openrouter"
api_key_id = "{OPENROUTER_KEY["api_key_id"]}"
api_key_name = "{OPENROUTER_KEY["api_key_name"]}"
byok_billing_mode = "subscription"
"""


def _day_folder(settings, source: str, day: date):
    folder = settings.landing_dir / source / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _assert_rows_equal(actual: pd.DataFrame, expected: list[dict], what: str) -> None:
    actual = actual.set_index("request_id")
    assert sorted(actual.index) == sorted(e["request_id"] for e in expected), what
    for want in expected:
        got = actual.loc[want["request_id"]]
        for field, value in want.items():
            if field in ("request_id", "dimensions"):
                continue
            have = got[field]
            if field == "created_at":
                have = pd.Timestamp(have).to_pydatetime()
                assert abs((have - value).total_seconds()) <= 1e-6, (
                    what,
                    want["request_id"],
                    field,
                    have,
                    value,
                )
            elif isinstance(value, float):
                assert (
                    have is not None
                    and not pd.isna(have)
                    and np.isclose(have, value, rtol=1e-9, atol=1e-6)
                ), (what, want["request_id"], field, have, value)
            elif value is None:
                assert have is None or pd.isna(have), (what, want["request_id"], field, have)
            else:
                assert have == value, (what, want["request_id"], field, have, value)


# ----------------------------------------------------------- one warehouse, every source


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """LiteLLM payloads (one .json file per call, as the bucket loggers write, plus a JSON
    Lines re-delivery), spend-log exports as CSV and JSON Lines, and OpenRouter
    generations in JSON Lines and an API-response file, loaded and built by dbt."""
    root = tmp_path_factory.mktemp("sources")
    # Each with failures of every kind and a response-cache hit (issue 27).
    payloads, spend_csv_calls, spend_jsonl_calls = (
        litellm_payloads() + litellm_failure_and_cache_payloads(),
        litellm_payloads() + litellm_failure_and_cache_payloads(),
        litellm_payloads() + litellm_failure_and_cache_payloads(),
    )
    generations = openrouter_generations()
    day = datetime.fromtimestamp(payloads[0]["startTime"], UTC).date()
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, root / "data")
        settings.landing_dir.mkdir(parents=True)
        (settings.landing_dir / "sources.toml").write_text(SOURCES_TOML)

        folder = _day_folder(settings, "litellm", day)
        for number, payload in enumerate(payloads):
            (folder / f"{number:04d}-{payload['litellm_call_id']}.json").write_text(
                json.dumps(payload, indent=2)
            )
        with gzip.open(folder / "redelivery.jsonl.gz", "wt") as handle:
            handle.write(json.dumps(payloads[0]) + "\n")

        csv_rows = [spend_log_row(p) for p in spend_csv_calls]
        jsonl_rows = [spend_log_row(p) for p in spend_jsonl_calls]
        (_day_folder(settings, "spend-csv", day) / "spend_logs.csv").write_text(
            spend_logs_csv(csv_rows)
        )
        (_day_folder(settings, "spend-jsonl", day) / "spend_logs.jsonl").write_text(
            spend_logs_jsonl(jsonl_rows[:5])
            + spend_logs_jsonl(jsonl_rows[5:], metadata_as_text=False)
        )

        folder = _day_folder(settings, "openrouter", day)
        (folder / "generations.jsonl").write_text(
            "".join(json.dumps(g) + "\n" for g in generations[:-1])
        )
        (folder / "gen-byok.json").write_text(json.dumps({"data": generations[-1]}, indent=2))

        report = load_partition(settings, day)
        run_window(settings, day, day, root)
        # Each record's fact fields, and (under "dimensions") its raw dimension columns.
        expected = (
            [
                ("litellm", {**expected_from_payload(p), "dimensions": dimensions_from_payload(p)})
                for p in payloads
            ]
            + [
                (
                    "spend-csv",
                    {
                        **expected_from_spend_log(r, csv_times=True),
                        "dimensions": dimensions_from_spend_log(r),
                    },
                )
                for r in csv_rows
            ]
            + [
                (
                    "spend-jsonl",
                    {
                        **expected_from_spend_log(r, csv_times=False),
                        "dimensions": dimensions_from_spend_log(r),
                    },
                )
                for r in jsonl_rows
            ]
            + [
                (
                    "openrouter",
                    {
                        **expected_from_generation(g, byok_billing_mode="subscription"),
                        "dimensions": dimensions_from_generation(g),
                    },
                )
                for g in generations
            ]
        )
        yield settings, report, expected, csv_rows


def test_every_source_record_loads(built):
    settings, report, expected, _ = built
    assert report.rows_rejected == 0, query(
        settings, "SELECT * FROM raw.request_logs_rejected"
    ).to_dict("records")
    assert report.rows_loaded == len(expected) + 1  # the re-delivered payload
    assert report.duplicates_in_day == 1
    assert not report.skipped_files and not report.unreadable_files


@pytest.mark.parametrize("source", ["litellm", "spend-csv", "spend-jsonl", "openrouter"])
def test_every_fact_field_equals_the_record(built, source):
    settings, _, expected, _ = built
    facts = query(
        settings,
        f"SELECT {', '.join(FACT_FIELDS)}, deliveries FROM main_facts.fct_requests "
        "WHERE request_id IN (SELECT unnest(?))",
        [[e["request_id"] for s, e in expected if s == source]],
    )
    _assert_rows_equal(facts, [e for s, e in expected if s == source], source)


DIMENSION_COLUMNS = [
    "organization_id",
    "organization_name",
    "team_id",
    "team_name",
    "project_id",
    "project_name",
    "end_user_id",
    "tags",
]


@pytest.mark.parametrize("source", ["litellm", "spend-csv", "spend-jsonl", "openrouter"])
def test_every_dimension_reaches_raw_as_the_record_says(built, source):
    """Organization, team, project (ids and names), end user and tags, set through the
    real LiteLLM client's metadata (and OpenRouter's external_user), land in
    raw.request_logs where the declaration (dbt_project.yml `dimensions:`) says."""
    settings, _, expected, _ = built
    want = {e["request_id"]: e["dimensions"] for s, e in expected if s == source}
    raw = query(
        settings,
        f"SELECT DISTINCT request_id, {', '.join(DIMENSION_COLUMNS)} FROM raw.request_logs "
        "WHERE request_id IN (SELECT unnest(?))",
        [list(want)],
    )
    assert sorted(raw["request_id"]) == sorted(want), source
    for row in raw.to_dict("records"):
        got = {
            c: (list(row[c]) if c == "tags" and row[c] is not None else row[c])
            for c in DIMENSION_COLUMNS
        }
        got = {
            c: None if v is not None and not isinstance(v, list) and pd.isna(v) else v
            for c, v in got.items()
        }
        assert got == want[row["request_id"]], (source, row["request_id"])


def test_the_records_cover_the_dimensions(built):
    """The records carry every dimension somewhere and lack each somewhere else."""
    _, _, expected, _ = built
    rows = pd.DataFrame([e["dimensions"] for s, e in expected if s == "litellm"])
    for column in DIMENSION_COLUMNS:
        assert rows[column].notna().any() and rows[column].isna().any() or column == "tags", column
    assert {"env:prod", "feature:search", "env:staging"} <= {t for ts in rows["tags"] for t in ts}
    assert [] in list(rows["tags"])  # LiteLLM writes [] for a call without tags
    assert {"customer-17", "customer-9"} <= set(rows["end_user_id"].dropna())
    assert set(rows["team_name"].dropna()) == {"Search"}  # team-batch has no alias


def test_the_records_cover_what_the_mapping_distinguishes(built):
    """The LiteLLM and OpenRouter records exercise each rule of docs/sources.md."""
    _, _, expected, _ = built
    rows = pd.DataFrame([e for _, e in expected])
    assert {"openai", "anthropic", "gemini"} <= set(rows["provider"])
    assert rows["stream"].any() and (~rows["stream"]).any()
    assert (rows["status"] == "error").sum() >= 4 and rows["http_status"].notna().any()
    assert (rows["cached_input_tokens"] > 0).any() and (rows["cache_write_tokens"] > 0).any()
    assert (rows["reasoning_tokens"] > 0).any() and (rows["web_search_calls"] > 0).any()
    assert rows["cost_usd"].isna().any() and rows["cost_usd"].notna().any()  # an unpriced model
    assert set(rows["billing_mode"]) == {"pay_as_you_go", "subscription"}


def test_spend_log_exports_use_litellms_own_names(built):
    _, _, _, csv_rows = built
    columns, metadata_keys = spend_log_columns()
    for row in csv_rows:
        assert set(row) <= columns, set(row) - columns
        assert set(row["metadata"]) <= metadata_keys, set(row["metadata"]) - metadata_keys


def test_spend_in_the_marts_equals_an_independent_computation(built):
    """Each Usage mart's day rows for all keys and for each key (all models and providers
    where the mart does not break them down) equal tests/mart_reference.py's figures."""
    settings, _, expected, _ = built
    rows = pd.DataFrame([e for _, e in expected])
    rows["total_tokens"] = rows["input_tokens"] + rows["output_tokens"]
    rows["cost_usd"] = rows["cost_usd"].astype("float64")
    rows["created_at"] = pd.to_datetime(rows["created_at"], utc=True)
    rows["event_date"] = rows["created_at"].dt.tz_localize(None).dt.normalize()
    rows = with_performance_fields(rows)
    for name in (
        "mart_usage_summary",
        "mart_usage_by_model",
        "mart_usage_by_api_key",
        "mart_provider_distribution",
        "mart_provider_summary",
        "mart_errors",
        "mart_cache_usage",
    ):
        figures, breakdown = MARTS[name]
        mart = query(settings, f"SELECT * FROM main_marts.{name} WHERE grain = 'day'")
        mart["period_start"] = pd.to_datetime(mart["period_start"])
        compared = 0
        for period, in_period in rows.groupby("event_date"):
            keys = (
                ["*"]
                if breakdown == "api_key_id"
                else ["*", *sorted(in_period["api_key_id"].unique())]
            )
            for key in keys:
                chosen = {"api_key_id": key, "model": "*", "provider": "*"}
                got = mart[mart["period_start"] == period]
                # Every other filter column (organization, team, project) at '*'.
                for dimension, value in {**everything(), **chosen}.items():
                    if dimension != breakdown:
                        got = got[got[dimension] == value]
                want = figures(select(in_period, **chosen))
                if not breakdown:
                    want = {None: want}
                    got = got.assign(item=None)
                got = got.set_index(breakdown or "item")
                assert set(got.index) == set(want), (name, period, key)
                for item, values in want.items():
                    for column, value in values.items():
                        assert same(got.loc[item, column], value), (name, period, key, item, column)
                        compared += 1
        assert compared > 20, name


def test_a_gateway_cache_hit_counts_in_the_sums_and_in_no_provider_or_timing_figure(built):
    """Issue 27: the call LiteLLM's in-process response cache answered (in the payloads
    and in both spend-log exports) is a gateway cache hit: in requests, tokens and
    spend, in none of the performance figures, and the raw throughput check, which on
    main counted its millisecond answer as implausible, has no throughput to judge."""
    from quality.rules import raw_relation

    settings, _, expected, _ = built
    hits = {e["request_id"] for _, e in expected if e.get("served_from_cache")}
    assert len(hits) == 3  # one per LiteLLM source
    facts = query(
        settings,
        "SELECT request_id, is_gateway_cache_hit, in_latency_figures, in_first_token_figures, "
        "in_throughput_figures, throughput_tps, error_class FROM main_facts.fct_requests "
        "WHERE served_from_cache",
    )
    assert set(facts["request_id"]) == hits
    assert facts["is_gateway_cache_hit"].all() and facts["error_class"].isna().all()
    assert (
        not facts[["in_latency_figures", "in_first_token_figures", "in_throughput_figures"]]
        .any()
        .any()
    )
    assert (facts["throughput_tps"] > Thresholds().max_throughput_tps).any()  # as fast as that
    sql, params = raw_relation(date.min, date.max)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        judged = connection.execute(
            f"SELECT DISTINCT request_id, throughput_tps FROM {sql} AS raw "
            "WHERE request_id IN (SELECT unnest($hits))",
            {**params, "hits": sorted(hits)},
        ).fetchdf()
    assert set(judged["request_id"]) == hits and judged["throughput_tps"].isna().all()


def test_key_names_stand_beside_key_ids(built):
    settings, _, expected, _ = built
    names = query(
        settings, "SELECT DISTINCT api_key_id, api_key_name FROM main_marts.mart_usage_by_api_key"
    )
    want = {
        (e["api_key_id"], e["api_key_name"])
        for _, e in expected
        if e["billing_mode"] == "pay_as_you_go"
    }
    assert set(map(tuple, names.to_numpy())) == want


# ------------------------------------------------------------------------ the quarantine


def _rejected(settings) -> pd.DataFrame:
    return query(
        settings, "SELECT line_number, raw_line, reason FROM raw.request_logs_rejected ORDER BY ALL"
    )


@pytest.fixture(scope="module")
def some_payloads():
    return litellm_payloads()[:4]


def _break(record: dict, path: str, value=...) -> dict:
    """A deep copy of `record` with dotted `path` removed (no value) or set."""
    broken = json.loads(json.dumps(record))
    *parents, leaf = path.split(".")
    node = broken
    for part in parents:
        node = node[part]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return broken


BROKEN_PAYLOADS = [
    ("startTime", ..., 'missing required field "startTime"'),
    ("prompt_tokens", "12", '"prompt_tokens" must be an integer, got "12"'),
    ("endTime", 1.7e12, '"endTime" must be epoch seconds between 2000 and 2100, got 17'),
    ("metadata.user_api_key_hash", 42, '"metadata.user_api_key_hash" must be a string, got 42'),
    # Issue 25: the declared dimensions' paths are read and checked like the others.
    (
        "request_tags",
        "env:prod",
        '"request_tags" must be a list of strings (or JSON text of one), got "env:prod"',
    ),
    ("request_tags", {"env": "prod"}, '"request_tags" must be a list of strings'),
    (
        "metadata.user_api_key_team_id",
        42,
        '"metadata.user_api_key_team_id" must be a string, got 42',
    ),
    (
        "metadata.user_api_key_org_alias",
        "Acme\x1b[31m",
        '"metadata.user_api_key_org_alias" must hold no control character',
    ),
    # Issue 28: the gateway's own limits are read and checked like the others.
    (
        "metadata.user_api_key_max_budget",
        -5,
        '"metadata.user_api_key_max_budget" must be >= 0, got -5',
    ),
    (
        "metadata.user_api_key_team_max_budget",
        "lots",
        '"metadata.user_api_key_team_max_budget" must be a number, got "lots"',
    ),
    (
        "metadata.user_api_key_end_user_id",
        "u" * 257,
        '"metadata.user_api_key_end_user_id" must be at most 256 characters long',
    ),
]


def test_litellm_payloads_that_cannot_be_mapped_are_quarantined(data_dir, some_payloads):
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text('[sources.litellm]\nformat = "litellm"\n')
    day = date(2026, 3, 2)
    broken = [_break(some_payloads[0], path, value) for path, value, _ in BROKEN_PAYLOADS]
    lines = [json.dumps(p) for p in some_payloads] + [json.dumps(b) for b in broken]
    (_day_folder(data_dir, "litellm", day) / "calls.jsonl").write_text("\n".join(lines) + "\n")
    report = load_partition(data_dir, day)
    assert (report.rows_loaded, report.rows_rejected) == (len(some_payloads), len(broken))
    rejected = _rejected(data_dir)
    assert list(rejected["line_number"]) == list(range(len(some_payloads) + 1, len(lines) + 1))
    for (_, _, reason), row, record in zip(BROKEN_PAYLOADS, rejected.to_dict("records"), broken):
        assert reason in row["reason"], row["reason"]
        assert json.loads(row["raw_line"]) == record  # kept verbatim


BAD_TAGS = [
    ([42], '"tags" must be an array of strings, item 1 is 42'),
    ([None, "env:prod"], '"tags" must be an array of strings, item 1 is null'),
    (["x" * 201], 'a "tags" item must be at most 200 characters long, got 201 characters'),
    ([f"t:{n}" for n in range(65)], '"tags" must hold at most 64 items, got 65'),
    (["env:\u0000prod"], 'a "tags" item must hold no control character'),
    (["(none)"], 'a "tags" item must not be "(none)"'),
]


@pytest.mark.parametrize("export", ["payload", "spend-csv"])
def test_source_tags_that_break_the_contract_are_quarantined(data_dir, some_payloads, export):
    """A tag list the adapter reads but the contract's rules refuse (an item that is not
    a string, too long, a control character, more than 64): the record is quarantined
    with the reason, the day's other records load."""
    data_dir.landing_dir.mkdir(parents=True)
    source_format = "litellm" if export == "payload" else "litellm_spend_logs"
    (data_dir.landing_dir / "sources.toml").write_text(
        f'[sources.{export}]\nformat = "{source_format}"\n'
    )
    day = date(2026, 3, 2)
    broken = [_break(some_payloads[0], "request_tags", tags) for tags, _ in BAD_TAGS]
    records = some_payloads + broken
    folder = _day_folder(data_dir, export, day)
    if export == "payload":
        (folder / "calls.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        (folder / "spend.csv").write_text(spend_logs_csv([spend_log_row(r) for r in records]))
    report = load_partition(data_dir, day)
    assert (report.rows_loaded, report.rows_rejected) == (len(some_payloads), len(broken))
    reasons = list(_rejected(data_dir)["reason"])
    for (_, reason), found in zip(BAD_TAGS, reasons):
        assert reason in found, found


def test_spend_log_rows_that_cannot_be_mapped_are_quarantined(data_dir, some_payloads):
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.spend]\nformat = "litellm_spend_logs"\n'
    )
    day = date(2026, 3, 2)
    rows = [spend_log_row(p) for p in some_payloads]
    broken = [
        dict(rows[0], request_id=None),
        dict(rows[0], request_id="r2", completion_tokens="many"),
        dict(rows[0], request_id="r3", startTime="2026-02-30 10:00:00"),
        dict(rows[0], request_id="r4", metadata="{not json"),
    ]
    folder = _day_folder(data_dir, "spend", day)
    (folder / "export.csv").write_text(spend_logs_csv(rows + broken))
    report = load_partition(data_dir, day)
    assert (report.rows_loaded, report.rows_rejected) == (len(rows), len(broken))
    reasons = list(_rejected(data_dir)["reason"])
    assert reasons[0] == 'missing required field "request_id"'
    assert reasons[1] == '"completion_tokens" must be an integer, got "many"'
    assert reasons[2] == (
        '"startTime" must be an ISO 8601 date-time (hours 00-23, minutes and seconds 00-59, '
        'no leap second), got "2026-02-30 10:00:00"'
    )
    assert reasons[3] == '"metadata" must be a JSON object or JSON text of one'
    # A quarantined row is kept as a JSON object of its cells, every cell as the text it
    # was (an empty one as null).
    cells = list(csv.DictReader(io.StringIO((folder / "export.csv").read_text())))
    kept = [json.loads(line) for line in _rejected(data_dir)["raw_line"]]
    assert kept == [{k: v or None for k, v in row.items()} for row in cells[len(rows) :]]


def test_spend_log_csv_cells_are_read_by_their_exact_header_name(data_dir, some_payloads):
    """A header may repeat a name or hold one differing only in case: the cell named
    exactly as the field, the first where the name repeats, is the one read."""
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.spend]\nformat = "litellm_spend_logs"\n'
    )
    day = date(2026, 3, 2)
    rows = [spend_log_row(p) for p in some_payloads]
    header, *lines = spend_logs_csv(rows).splitlines()
    text = "\n".join(
        [f"MODEL,{header},model"] + [f"not-this-one,{line},nor-this-one" for line in lines]
    )
    (_day_folder(data_dir, "spend", day) / "export.csv").write_text(text + "\n")
    report = load_partition(data_dir, day)
    assert (report.rows_loaded, report.rows_rejected) == (len(rows), 0)
    loaded = query(data_dir, "SELECT request_id, model FROM raw.request_logs")
    assert dict(zip(loaded["request_id"], loaded["model"])) == {
        r["request_id"]: r["model"] for r in rows
    }


def test_openrouter_records_that_cannot_be_mapped_are_quarantined(data_dir):
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.or]\nformat = "openrouter"\napi_key_id = "or-key"\n'
    )
    day = date(2026, 3, 2)
    good = openrouter_generations()
    broken = [
        {k: v for k, v in good[0].items() if k != "model"},
        dict(good[0], id="x2", native_tokens_prompt=1.5),
        dict(good[0], id="x3", created_at="02/03/2026 09:15"),
        dict(good[1], id="x4", generation_time=9000.0),
    ]
    lines = [json.dumps(g) for g in good + broken]
    (_day_folder(data_dir, "or", day) / "generations.jsonl").write_text("\n".join(lines) + "\n")
    report = load_partition(data_dir, day)
    assert (report.rows_loaded, report.rows_rejected) == (len(good), len(broken))
    reasons = list(_rejected(data_dir)["reason"])
    assert reasons == [
        'missing required field "model"',
        '"native_tokens_prompt" must be an integer, got 1.5',
        '"created_at" must be an ISO 8601 date-time (hours 00-23, minutes and seconds 00-59, '
        'no leap second), got "02/03/2026 09:15"',
        '"generation_time" is longer than "latency"',
    ]
    loaded = query(data_dir, "SELECT DISTINCT api_key_id FROM raw.request_logs")
    assert list(loaded["api_key_id"]) == ["or-key"]


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "text, message",
    [
        ('[sources.or]\nformat = "openrouter"\n', "set api_key_id"),
        (
            '[sources.x]\nformat = "helicone"\n',
            "must be one of litellm | litellm_spend_logs | openrouter",
        ),
        ('[sources.x]\nformat = "litellm"\nbilling = "free"\n', "unknown setting billing"),
        ('[sources."dt=2026-01-01"]\nformat = "litellm"\n', "a source name is a folder name"),
    ],
)
def test_a_wrong_sources_file_says_what_to_fix(data_dir, text, message):
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(text)
    with pytest.raises(SettingsError, match=message) as error:
        source_folders(data_dir)
    assert "sources.toml" in str(error.value)


def test_without_a_sources_file_only_our_format_is_read(data_dir):
    (data_dir.landing_dir / "litellm" / "dt=2026-03-02").mkdir(parents=True)
    assert source_folders(data_dir) == []
    report = load_partition(data_dir, date(2026, 3, 2))
    assert report.missing and report.rows_loaded == 0


def test_landing_days_and_late_files_include_source_folders(data_dir):
    from cli.main import check_landing_days, landing_days_present
    from ingest.landing_state import changed_landing_days, recorded_files

    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.or]\nformat = "openrouter"\napi_key_id = "k"\n'
    )
    day = date(2026, 3, 2)
    folder = _day_folder(data_dir, "or", day)
    (folder / "a.jsonl").write_text(json.dumps(openrouter_generations()[0]) + "\n")
    (folder / "notes.txt").write_text("not a record")
    assert landing_days_present(data_dir) == [day]
    # `llm-usage materialize` runs a day whose only files are in a source folder.
    assert check_landing_days(data_dir, day, day) == [day]
    report = load_partition(data_dir, day)
    assert report.rows_loaded == 1 and report.skipped_files == [str(folder / "notes.txt")]
    # Recorded like a skipped file of our own format, with the types this format reads.
    skipped = query(data_dir, "SELECT path, kind, reason FROM raw.landing_anomalies")
    assert skipped.values.tolist() == [
        [str(folder / "notes.txt"), "unsupported file", report.anomalies[0].reason]
    ]
    assert ".jsonl" in report.anomalies[0].reason and ".parquet" not in report.anomalies[0].reason
    with duckdb.connect(str(data_dir.warehouse_path), read_only=True) as connection:
        recorded = recorded_files(connection)
    # An upload in progress under a hidden name is not a file the load reads, so not new.
    (data_dir.landing_dir / f"dt={day}").mkdir()
    (data_dir.landing_dir / f"dt={day}" / ".upload.jsonl").write_text("{}\n")
    assert changed_landing_days(data_dir, recorded) == []
    (folder / "b.jsonl").write_text(json.dumps(openrouter_generations()[1]) + "\n")
    (change,) = changed_landing_days(data_dir, recorded)
    assert change.added == ("or/b.jsonl",) and not change.changed and not change.removed


def test_source_folders_and_their_settings_file_are_not_landing_anomalies(data_dir):
    """sources.toml and the folders it declares are expected in the landing root; a
    folder it does not declare is still reported."""
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.or]\nformat = "openrouter"\napi_key_id = "k"\n'
    )
    day = date(2026, 3, 2)
    (_day_folder(data_dir, "or", day) / "a.jsonl").write_text(
        json.dumps(openrouter_generations()[0]) + "\n"
    )
    (data_dir.landing_dir / "undeclared").mkdir()
    load_partition(data_dir, day)
    anomalies = query(data_dir, "SELECT path, kind FROM raw.landing_anomalies")
    assert list(anomalies["path"]) == [str(data_dir.landing_dir / "undeclared")]


def test_links_leaving_the_landing_directory_are_not_followed(data_dir, tmp_path):
    """A link in a source folder, or a source day folder that is a link, leading out of
    the landing directory is not read (as for our own day folders); one inside is."""
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.or]\nformat = "openrouter"\napi_key_id = "k"\n'
        '[sources.elsewhere]\nformat = "openrouter"\napi_key_id = "k2"\n'
    )
    day = date(2026, 3, 2)
    first, second, third, fourth = openrouter_generations()[:4]
    folder = _day_folder(data_dir, "or", day)
    (folder / "a.jsonl").write_text(json.dumps(first) + "\n")
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps(dict(second, id="leak")) + "\n")
    (folder / "passwd.jsonl").symlink_to(secret)
    inside = data_dir.landing_dir / "kept" / "inside.jsonl"
    inside.parent.mkdir()
    inside.write_text(json.dumps(third) + "\n")
    (folder / "inside.jsonl").symlink_to(inside)
    outside_day = tmp_path / "outside-day"
    outside_day.mkdir()
    (outside_day / "x.jsonl").write_text(json.dumps(dict(fourth, id="leak2")) + "\n")
    (data_dir.landing_dir / "elsewhere").mkdir()
    (data_dir.landing_dir / "elsewhere" / f"dt={day}").symlink_to(outside_day)

    report = load_partition(data_dir, day)
    assert (report.rows_loaded, report.rows_rejected) == (2, 0)
    loaded = query(data_dir, "SELECT request_id FROM raw.request_logs ORDER BY ALL")
    assert list(loaded["request_id"]) == sorted([first["id"], third["id"]])
    refused = query(
        data_dir,
        "SELECT path FROM raw.landing_anomalies "
        "WHERE kind = 'link outside the landing directory' ORDER BY path",
    )
    assert list(refused["path"]) == [
        str(data_dir.landing_dir / "elsewhere" / f"dt={day}"),
        str(folder / "passwd.jsonl"),
    ]


def test_what_is_not_a_file_in_a_source_day_folder_is_named_not_dropped(data_dir):
    """A sub-folder (records a user put one level too deep) and a link to nothing are
    not read, and each is recorded with its reason, as in our own day folders."""
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.or]\nformat = "openrouter"\napi_key_id = "k"\n'
    )
    day = date(2026, 3, 2)
    first, second = openrouter_generations()[:2]
    folder = _day_folder(data_dir, "or", day)
    (folder / "a.jsonl").write_text(json.dumps(first) + "\n")
    (folder / "hour=01").mkdir()
    (folder / "hour=01" / "b.jsonl").write_text(json.dumps(second) + "\n")
    (folder / "gone.jsonl").symlink_to(folder / "missing.jsonl")

    report = load_partition(data_dir, day)
    assert (report.rows_loaded, report.rows_rejected) == (1, 0)
    recorded = query(
        data_dir, "SELECT path, kind FROM raw.landing_anomalies ORDER BY path"
    ).values.tolist()
    assert recorded == [
        [str(folder / "gone.jsonl"), "broken link"],
        [str(folder / "hour=01"), "folder"],
    ]
    assert {a.path for a in report.anomalies} == {
        str(folder / "gone.jsonl"),
        str(folder / "hour=01"),
    }


def test_one_call_files_bad_utf8_is_rejected_and_a_bom_is_not(data_dir, some_payloads):
    """One .json file per call: the files are read as one batch; a file that is not
    UTF-8 is rejected with where, one with a byte-order mark loads."""
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text('[sources.litellm]\nformat = "litellm"\n')
    day = date(2026, 3, 2)
    folder = _day_folder(data_dir, "litellm", day)
    (folder / "a.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(some_payloads[0]).encode())
    (folder / "b.json").write_bytes(b'{"id": "\xff"}')
    (folder / "c.json").write_text(json.dumps(some_payloads[1], indent=2))
    report = load_partition(data_dir, day)
    assert (report.rows_loaded, report.rows_rejected) == (2, 1)
    (reason,) = _rejected(data_dir)["reason"]
    assert reason == "file is not valid UTF-8 (bad byte at position 9)"
    with duckdb.connect(str(data_dir.warehouse_path), read_only=True) as connection:
        files = connection.execute(
            "SELECT path, sha256, rows_loaded, rows_rejected FROM raw.ingested_files ORDER BY path"
        ).fetchall()
    import hashlib

    assert [(Path(p).name, sha, loaded, rejected) for p, sha, loaded, rejected in files] == [
        (name, hashlib.sha256((folder / name).read_bytes()).hexdigest(), loaded, rejected)
        for name, loaded, rejected in (("a.json", 1, 0), ("b.json", 0, 1), ("c.json", 1, 0))
    ]


DATE_TIMES = [
    "2026-03-02T09:15:00Z",
    "2026-03-02t09:15:00.25z",
    "2026-03-02 09:15:00.123",  # no offset: UTC
    "2026-03-02T09:15:00+05:30",
    "2026-03-02T09:15:00-0800",
    "2026-03-02T09:15:00-08",
    " 2026-03-02T23:59:59.999999+00:00 ",
]


def test_source_date_times_are_read_with_their_offset_or_as_utc():
    """The adapters' ISO 8601 reading (OpenRouter's created_at, the spend logs' times)
    against Python's own parse of the same strings; what is not one is NULL."""
    from ingest.sources.sql import read_date_time

    read = read_date_time("t", "v")
    not_date_times = ["2026-03-02", "02/03/2026 09:15", "2026-03-02T09:15", "yesterday"]
    values = [json.dumps(v) for v in DATE_TIMES + not_date_times]
    connection = duckdb.connect()
    got = connection.execute(
        f"SELECT {read.value} FROM (SELECT CAST(unnest($values) AS JSON) AS v)",
        {"values": values},
    ).fetchall()
    expected = [
        datetime.fromisoformat(v.strip().upper().replace("Z", "+00:00")) for v in DATE_TIMES
    ]
    expected = [e if e.tzinfo else e.replace(tzinfo=UTC) for e in expected]
    assert [g for (g,) in got] == expected + [None] * len(not_date_times)


def test_source_files_with_cr_only_line_ends_or_joined_gzip_members_load(data_dir):
    """Issue 31 item 12 in the source formats: JSON Lines with CR-only line ends, and
    gzip members each starting with a byte-order mark, are read like our own format's."""
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.or]\nformat = "openrouter"\napi_key_id = "k"\n'
    )
    day = date(2026, 3, 2)
    good = openrouter_generations()
    lines = [json.dumps(g).encode() for g in good]
    folder = _day_folder(data_dir, "or", day)
    (folder / "a.jsonl").write_bytes(b"\r".join(lines) + b"\r")
    bom = b"\xef\xbb\xbf"
    (folder / "b.jsonl.gz").write_bytes(
        b"".join(gzip.compress(bom + line + b"\n") for line in lines)
    )
    report = load_partition(data_dir, day)
    assert (report.rows_loaded, report.rows_rejected) == (2 * len(good), 0)
    assert [f.lines_read for f in report.files] == [len(good), len(good)]


def test_a_spend_log_csv_gz_of_joined_members_with_byte_order_marks_loads(data_dir, some_payloads):
    """Issue 31 item 12 for CSV: the byte-order mark of a second gzip member was kept
    in the first cell of its first row (a request id with an invisible character)."""
    data_dir.landing_dir.mkdir(parents=True)
    (data_dir.landing_dir / "sources.toml").write_text(
        '[sources.spend]\nformat = "litellm_spend_logs"\n'
    )
    day = date(2026, 3, 2)
    rows = [spend_log_row(p) for p in some_payloads]
    header, *lines = spend_logs_csv(rows).splitlines(keepends=True)
    bom = "\ufeff"
    members = [bom + header + lines[0], bom + "".join(lines[1:])]
    (_day_folder(data_dir, "spend", day) / "export.csv.gz").write_bytes(
        b"".join(gzip.compress(m.encode()) for m in members)
    )
    report = load_partition(data_dir, day)
    assert (report.rows_loaded, report.rows_rejected) == (len(rows), 0)
    loaded = query(data_dir, "SELECT request_id FROM raw.request_logs ORDER BY line_number")
    assert list(loaded["request_id"]) == [r["request_id"] for r in rows]
