"""The log contract: the loader's SQL checks decide like a JSON Schema validator, the
reasons name the field, generated records keep the contract, and the format document
describes every field of the machine-readable schema."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import jsonschema
import pytest
from reference import SCHEMA_PATH, read_landing

from ingest.load import load_partition
from sample_data.generate import generate_logs

DOC = Path(__file__).resolve().parent.parent / "docs" / "request-log-format.md"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
DAY = date(2026, 3, 2)

BASE = {
    "request_id": "req_0001",
    "created_at": "2026-03-02T10:00:00.123Z",
    "api_key_id": "key_a",
    "api_key_name": "prod",
    "model": "anthropic/claude-sonnet-4.5",
    "provider": "amazon-bedrock",
    "billing_mode": "pay_as_you_go",
    "status": "success",
    "http_status": 200,
    "error_type": None,
    "finish_reason": "stop",
    "stream": True,
    "input_tokens": 1200,
    "output_tokens": 300,
    "cached_input_tokens": 1000,
    "cache_write_tokens": 0,
    "reasoning_tokens": 50,
    "web_search_calls": 1,
    "latency_ms": 4100.5,
    "first_token_ms": 900,
    "cost_usd": 0.0123,
    "schema_version": 1,
}
COUNTS = [
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "web_search_calls",
]
MISSING = object()


def _variant(**changes) -> dict:
    record = dict(BASE)
    for name, value in changes.items():
        if value is MISSING:
            record.pop(name)
        else:
            record[name] = value
    return record


# (label, the field whose rule is broken or None, the line)
CASES: list[tuple[str, str | None, str]] = [
    ("complete", None, json.dumps(BASE)),
    ("required only", None, json.dumps({k: BASE[k] for k in SCHEMA["required"]})),
    (
        "optional nulls",
        None,
        json.dumps(
            _variant(
                api_key_name=None,
                http_status=None,
                error_type=None,
                finish_reason=None,
                cached_input_tokens=None,
                cache_write_tokens=None,
                reasoning_tokens=None,
                web_search_calls=None,
                first_token_ms=None,
                cost_usd=None,
                schema_version=None,
            )
        ),
    ),
    ("whole-numbered doubles", None, json.dumps(_variant(input_tokens=1200.0, http_status=200.0))),
    ("offset +05:30", None, json.dumps(_variant(created_at="2026-03-02T15:30:00+05:30"))),
    ("no fraction, lower-case z", None, json.dumps(_variant(created_at="2026-03-02t10:00:00z"))),
    (
        "unknown and nested fields",
        None,
        json.dumps(_variant(usage={"input_tokens": 1200}, route={"region": "eu"}, tags=["a"])),
    ),
    (
        "zero everything",
        None,
        json.dumps(
            _variant(input_tokens=0, output_tokens=0, latency_ms=0, cost_usd=0, web_search_calls=0)
        ),
    ),
    ("spaces around", None, "  " + json.dumps(BASE) + "  "),
    ("unicode", None, json.dumps(_variant(api_key_name="équipe ☃"), ensure_ascii=False)),
    (
        "exponent integer",
        None,
        json.dumps(BASE).replace('"input_tokens": 1200', '"input_tokens": 1.2e3'),
    ),
]
# Issue 11 item 4: JSON has no NaN or Infinity, and 1e400 overflows a double to infinity;
# DuckDB, like Python, reads all three. Each must be rejected, in every number field.
for name in ("latency_ms", "first_token_ms", "cost_usd"):
    CASES += [
        (f"NaN {name}", name, json.dumps(_variant(**{name: float("nan")}))),
        (f"Infinity {name}", name, json.dumps(_variant(**{name: float("inf")}))),
        (f"-Infinity {name}", name, json.dumps(_variant(**{name: float("-inf")}))),
        (
            f"overflowing {name}",
            name,
            json.dumps(_variant(**{name: 1.5})).replace(f'"{name}": 1.5', f'"{name}": 1e400'),
        ),
    ]
# Item 5: token counts are bounded (1e9 each; docs/request-log-format.md) so no sum can
# overflow 64 bits; 2^62 passed before and broke every later build.
for name in COUNTS:
    CASES.append((f"huge {name}", name, json.dumps(_variant(**{name: 2**62}))))
CASES.append(
    (
        "largest allowed tokens",
        None,
        json.dumps(
            _variant(
                input_tokens=10**9, output_tokens=10**9, cached_input_tokens=0, reasoning_tokens=0
            )
        ),
    )
)
# Item 3: '*' means "all" in every mart, so no key, model or provider may be literally '*'.
for name in ("api_key_id", "model", "provider"):
    CASES.append((f"{name} is the all marker", name, json.dumps(_variant(**{name: "*"}))))
CASES.append(
    ("star inside a name is fine", None, json.dumps(_variant(model="a*b", api_key_id="**")))
)
# Item 11: offsets and times outside RFC 3339's ranges shifted the time by hours or days.
for label, value in [
    ("offset +24:00", "2026-03-02T10:00:00+24:00"),
    ("offset +99:99", "2026-03-02T10:00:00+99:99"),
    ("offset +05:60", "2026-03-02T10:00:00+05:60"),
    ("hour 24", "2026-03-02T24:00:00Z"),
    ("minute 60", "2026-03-02T10:60:00Z"),
    ("leap second", "2016-12-31T23:59:60Z"),
]:
    CASES.append((label, "created_at", json.dumps(_variant(created_at=value))))
CASES.append(("offset -23:59", None, json.dumps(_variant(created_at="2026-03-02T10:00:00-23:59"))))
CASES.append(("month 13", "created_at", json.dumps(_variant(created_at="2026-13-02T10:00:00Z"))))
# Issue 31 items 5 and 6: ids and names (the schema's "text" definition) hold no control
# character (C0, DEL, C1) and at most 256 characters, as the JSON Schema validator says.
TEXT_FIELDS = [n for n, spec in SCHEMA["properties"].items() if spec.get("$ref") == "#/$defs/text"]
for name in TEXT_FIELDS:
    for label, char in [
        ("NUL", "\0"),
        ("tab", "\t"),
        ("ESC", "\x1b"),
        ("DEL", "\x7f"),
        ("CSI", "\x9b"),
    ]:
        CASES.append((f"{label} in {name}", name, json.dumps(_variant(**{name: f"a{char}b"}))))
    CASES.append(
        (f"raw C1 in {name}", name, json.dumps(_variant(**{name: "a\x85b"}), ensure_ascii=False))
    )
    CASES.append((f"{name} of 257", name, json.dumps(_variant(**{name: "x" * 257}))))
    CASES.append((f"{name} of 256", None, json.dumps(_variant(**{name: "x" * 256}))))
    CASES.append((f"{name} of 256 emoji", None, json.dumps(_variant(**{name: "🙂" * 256}))))
CASES.append(("NBSP and letters", None, json.dumps(_variant(model="a\u00a0é ~"))))
# Lengths count code points, as JSON Schema does: 129 combined letters are 258 of them.
CASES.append(("combining marks", "model", json.dumps(_variant(model="e\u0301" * 129))))

for name in SCHEMA["required"]:
    CASES.append((f"missing {name}", name, json.dumps(_variant(**{name: MISSING}))))
    CASES.append((f"null {name}", name, json.dumps(_variant(**{name: None}))))
for name in COUNTS:
    CASES.append((f"negative {name}", name, json.dumps(_variant(**{name: -1}))))
    CASES.append((f"string {name}", name, json.dumps(_variant(**{name: "12"}))))
    CASES.append((f"fraction {name}", name, json.dumps(_variant(**{name: 1.5}))))
CASES += [
    ("latency as text", "latency_ms", json.dumps(_variant(latency_ms="900"))),
    ("negative latency", "latency_ms", json.dumps(_variant(latency_ms=-0.5))),
    ("negative first token", "first_token_ms", json.dumps(_variant(first_token_ms=-1))),
    ("stream as text", "stream", json.dumps(_variant(stream="true"))),
    ("stream as number", "stream", json.dumps(_variant(stream=1))),
    ("http status too small", "http_status", json.dumps(_variant(http_status=99))),
    ("http status too large", "http_status", json.dumps(_variant(http_status=600))),
    ("bad billing mode", "billing_mode", json.dumps(_variant(billing_mode="PAYG"))),
    ("bad status", "status", json.dumps(_variant(status="failed"))),
    ("empty request_id", "request_id", json.dumps(_variant(request_id=""))),
    ("numeric request_id", "request_id", json.dumps(_variant(request_id=17))),
    ("model as object", "model", json.dumps(_variant(model={"slug": "x"}))),
    (
        "created_at without offset",
        "created_at",
        json.dumps(_variant(created_at="2026-03-02T10:00:00")),
    ),
    (
        "offset without colon",
        "created_at",
        json.dumps(_variant(created_at="2026-03-02T15:30:00+0530")),
    ),
    ("created_at date only", "created_at", json.dumps(_variant(created_at="2026-03-02"))),
    (
        "created_at impossible day",
        "created_at",
        json.dumps(_variant(created_at="2026-02-30T10:00:00Z")),
    ),
    ("created_at as epoch", "created_at", json.dumps(_variant(created_at=1772445600))),
    ("created_at words", "created_at", json.dumps(_variant(created_at="yesterday"))),
    ("schema_version 0", "schema_version", json.dumps(_variant(schema_version=0))),
    ("cost as text", "cost_usd", json.dumps(_variant(cost_usd="0.01"))),
    ("error_type as number", "error_type", json.dumps(_variant(error_type=500))),
    ("api_key_name as list", "api_key_name", json.dumps(_variant(api_key_name=["a"]))),
    ("array", None, json.dumps([BASE])),
    ("string", None, json.dumps("request")),
    ("truncated", None, json.dumps(BASE)[:40]),
    ("html", None, "<html><body>502 Bad Gateway</body></html>"),
    ("empty", None, ""),
]

# Issue 25: who spent it. The organization, team, project and end-user ids and names are
# optional text (the id or name rules above apply to each, through TEXT_FIELDS); an id is
# never empty nor a value the marts reserve; tags are a list of at most 64 strings of at
# most 200 characters each, none a control character nor "(none)".
DIMENSIONS = {
    "organization_id": "org_1",
    "organization_name": "Acme",
    "team_id": "team_search",
    "team_name": "Search",
    "project_id": "proj_9",
    "project_name": "Answers",
    "end_user_id": "customer-4417",
    "tags": ["env:prod", "feature:search", "cost_center:42"],
}
CASES += [
    ("every dimension", None, json.dumps(_variant(**DIMENSIONS))),
    ("dimensions null", None, json.dumps(_variant(**dict.fromkeys(DIMENSIONS)))),
    ("tags empty", None, json.dumps(_variant(tags=[]))),
    ("tags of 64", None, json.dumps(_variant(tags=[f"t:{n}" for n in range(64)]))),
    ("tags of 65", "tags", json.dumps(_variant(tags=[f"t:{n}" for n in range(65)]))),
    ("tag of 200", None, json.dumps(_variant(tags=["x" * 200]))),
    ("tag of 200 emoji", None, json.dumps(_variant(tags=["🙂" * 200]))),
    ("tag of 201", "tags", json.dumps(_variant(tags=["ok", "x" * 201]))),
    ("tags as a string", "tags", json.dumps(_variant(tags="env:prod"))),
    ("tags as an object", "tags", json.dumps(_variant(tags={"env": "prod"}))),
    ("tag a number", "tags", json.dumps(_variant(tags=["env:prod", 42]))),
    ("tag null", "tags", json.dumps(_variant(tags=[None]))),
    ("tag a list", "tags", json.dumps(_variant(tags=[["env:prod"]]))),
    ("tag NUL", "tags", json.dumps(_variant(tags=["env:\0prod"]))),
    ("tag tab", "tags", json.dumps(_variant(tags=["env:\tprod"]))),
    ("tag CSI", "tags", json.dumps(_variant(tags=["a\x9bb"]))),
    ("tag raw C1", "tags", json.dumps(_variant(tags=["a\x85b"]), ensure_ascii=False)),
    ("tag (none)", "tags", json.dumps(_variant(tags=["(none)"]))),
    ("tag star", None, json.dumps(_variant(tags=["*", "a*b", "(none) x"]))),
    ("tag looks like JSON", None, json.dumps(_variant(tags=["[1]", "{}", "null", "12"]))),
    ("team_id as number", "team_id", json.dumps(_variant(team_id=7))),
    ("end_user_id as list", "end_user_id", json.dumps(_variant(end_user_id=["u"]))),
    ("team_name (none)", None, json.dumps(_variant(team_name="(none)"))),
]
for name in ("organization_id", "team_id", "project_id", "end_user_id"):
    CASES.append((f"empty {name}", name, json.dumps(_variant(**{name: ""}))))
    CASES.append((f"{name} star", name, json.dumps(_variant(**{name: "*"}))))
    CASES.append((f"{name} (none)", name, json.dumps(_variant(**{name: "(none)"}))))
CASES.append(("end_user_id (other)", "end_user_id", json.dumps(_variant(end_user_id="(other)"))))
# Issue 28: the gateway's own limits of the key and its team (docs/alerts.md).
for name in ("api_key_max_budget_usd", "team_max_budget_usd"):
    CASES += [
        (f"{name} 250.5", None, json.dumps(_variant(**{name: 250.5}))),
        (f"{name} 0", None, json.dumps(_variant(**{name: 0}))),
        (f"{name} null", None, json.dumps(_variant(**{name: None}))),
        (f"negative {name}", name, json.dumps(_variant(**{name: -5}))),
        (f"string {name}", name, json.dumps(_variant(**{name: "500"}))),
        (f"NaN {name}", name, json.dumps(_variant(**{name: float("nan")}))),
        (f"huge {name}", name, json.dumps(_variant(**{name: 1e12}))),
    ]


def _is_rfc3339(value) -> bool:
    # Written from RFC 3339 section 5.6 (date-time = full-date "T" full-time), with the
    # space separator its note allows; then the calendar must know the day.
    if not isinstance(value, str):
        return True  # format applies to strings only; the type rule catches the rest
    # time-hour 00-23, time-minute 00-59, time-second 00-59: the leap second (60) RFC 3339
    # allows is rejected by decision (docs/request-log-format.md).
    hour, minute = "([01]\\d|2[0-3])", "[0-5]\\d"
    if not re.fullmatch(
        rf"\d{{4}}-\d\d-\d\d[Tt ]{hour}:{minute}:{minute}(\.\d+)?([Zz]|[+-]{hour}:{minute})",
        value,
    ):
        return False
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def _schema_accepts(line: str) -> bool:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_is_rfc3339)
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=checker)
    try:
        # JSON itself (RFC 8259) has no NaN or Infinity, and a number must fit a double.
        record = json.loads(line, parse_constant=_not_json, parse_float=_finite)
    except ValueError:
        return False
    return validator.is_valid(record)


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} does not fit a double")
    return value


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """Every case as one line of one file, loaded; returns line number -> reason."""
    from conftest import use_data_dir

    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, tmp_path_factory.mktemp("contract") / "data")
        folder = settings.landing_dir / f"dt={DAY}"
        folder.mkdir(parents=True)
        (folder / "cases.jsonl").write_text(
            "\n".join(line for _, _, line in CASES) + "\n", encoding="utf-8"
        )
        load_partition(settings, DAY)
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
            rejected = dict(
                connection.execute(
                    "SELECT line_number, reason FROM raw.request_logs_rejected"
                ).fetchall()
            )
            loaded = {
                row[0]
                for row in connection.execute("SELECT line_number FROM raw.request_logs").fetchall()
            }
        yield rejected, loaded


@pytest.mark.parametrize("number, case", list(enumerate(CASES, start=1)), ids=[c[0] for c in CASES])
def test_loader_decides_like_the_json_schema(checked, number, case):
    rejected, loaded = checked
    label, field, line = case
    assert (number in loaded) == _schema_accepts(line), rejected.get(number)
    assert (number in loaded) != (number in rejected)
    if field is not None:
        assert f'"{field}"' in rejected[number]  # the reason names the field to fix


def test_reasons_say_what_was_found(checked):
    rejected, _ = checked
    by_label = {label: rejected.get(n) for n, (label, _, _) in enumerate(CASES, start=1)}
    assert by_label["missing provider"] == 'missing required field "provider"'
    assert by_label["bad billing mode"] == (
        '"billing_mode" must be one of pay_as_you_go | subscription, got "PAYG"'
    )
    assert by_label["negative input_tokens"] == '"input_tokens" must be >= 0, got -1'
    assert by_label["negative team_max_budget_usd"] == '"team_max_budget_usd" must be >= 0, got -5'
    assert by_label["string output_tokens"] == '"output_tokens" must be an integer, got "12"'
    assert by_label["html"].startswith("line is not valid JSON: <html>")
    assert by_label["array"] == "line is JSON but not an object"
    assert by_label["empty"] == "empty line"
    assert by_label["NUL in model"] == (
        '"model" must hold no control character (U+0000-U+001F, U+007F-U+009F), got "a\ufffdb"'
    )
    assert by_label["tags of 65"] == '"tags" must hold at most 64 items, got 65'
    assert by_label["tag a number"] == '"tags" must be an array of strings, item 2 is 42'
    assert by_label["tags as a string"] == '"tags" must be an array, got "env:prod"'
    assert by_label["tag of 201"] == (
        f'a "tags" item must be at most 200 characters long, got 201 characters: "{"x" * 60}..."'
    )
    assert by_label["tag NUL"] == (
        'a "tags" item must hold no control character (U+0000-U+001F, U+007F-U+009F), '
        'got "env:\ufffdprod"'
    )
    assert by_label["team_id (none)"] == (
        '"team_id" must not be "(none)": the marts give that value a meaning of their own '
        '("*" means all; "(none)" means not given)'
    )
    assert by_label["model of 257"] == (
        f'"model" must be at most 256 characters long, got 257 characters: "{"x" * 60}..."'
    )


def test_integers_beyond_64_bits_are_rejected_not_crashing_the_load(data_dir):
    folder = data_dir.landing_dir / f"dt={DAY}"
    folder.mkdir(parents=True)
    huge = json.dumps(_variant(input_tokens=2**64)).replace(
        '"request_id": "req_0001"', '"request_id": "big"'
    )
    (folder / "a.jsonl").write_text(json.dumps(BASE) + "\n" + huge + "\n")
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (1, 1)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_generated_records_keep_the_contract(tmp_path, fmt):
    generate_logs(tmp_path, DAY, 1, requests_per_day=400, seed=2, fmt=fmt)
    deliveries, invalid = read_landing(tmp_path)
    assert invalid == 0 and len(deliveries) > 300


def test_the_format_document_describes_every_schema_field():
    doc = DOC.read_text()
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `([a-z_]+)` \|([^\n]*)$", doc, flags=re.MULTILINE)
    }
    assert set(SCHEMA["properties"]) <= set(rows), set(SCHEMA["properties"]) - set(rows)
    for name in SCHEMA["properties"]:
        says_required = rows[name].split("|")[0].strip() == "required"
        assert says_required == (name in SCHEMA["required"]), name


def test_strings_are_loaded_as_written_escapes_included(data_dir):
    # (A tab, a control character, is rejected since issue 31 item 5: see CASES.)
    names = ['slash / "quoted" \\ back', "équipe ☃", "plain", ""]
    folder = data_dir.landing_dir / f"dt={DAY}"
    folder.mkdir(parents=True)
    lines = [
        json.dumps(_variant(request_id=f"r{n}", api_key_name=name)) for n, name in enumerate(names)
    ]
    lines.append(
        json.dumps(_variant(request_id="r_raw", api_key_name="équipe"), ensure_ascii=False)
    )
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_partition(data_dir, DAY)
    with duckdb.connect(str(data_dir.warehouse_path), read_only=True) as connection:
        loaded = dict(
            connection.execute("SELECT request_id, api_key_name FROM raw.request_logs").fetchall()
        )
    assert loaded == {**{f"r{n}": name for n, name in enumerate(names)}, "r_raw": "équipe"}


def test_strings_that_read_like_other_json_values_are_loaded_as_written(data_dir):
    """A string such as "12", "true" or "NaN" is still a string, however it reads."""
    names = ["12", "-3", "true", "false", "NaN", "Infinity", "{x}", "[1]", "inference", "null"]
    folder = data_dir.landing_dir / f"dt={DAY}"
    folder.mkdir(parents=True)
    lines = [json.dumps(_variant(request_id=name, model=name, api_key_name=name)) for name in names]
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (len(names), 0)
    with duckdb.connect(str(data_dir.warehouse_path), read_only=True) as connection:
        loaded = connection.execute(
            "SELECT request_id, model, api_key_name FROM raw.request_logs ORDER BY line_number"
        ).fetchall()
    assert loaded == [(name, name, name) for name in names]


def test_parquet_nan_and_infinity_are_rejected_like_in_json_lines(data_dir):
    """Issue 11 item 4, Parquet side: a double column holds NaN and infinities natively."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [
        _variant(request_id="ok"),
        _variant(request_id="nan_latency", latency_ms=float("nan")),
        _variant(request_id="inf_first_token", first_token_ms=float("inf")),
        _variant(request_id="minus_inf_cost", cost_usd=float("-inf")),
    ]
    folder = data_dir.landing_dir / f"dt={DAY}"
    folder.mkdir(parents=True)
    # pyarrow keeps NaN as NaN (pandas would write it as null).
    pq.write_table(pa.Table.from_pylist(records), folder / "a.parquet")
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (1, 3)
    with duckdb.connect(str(data_dir.warehouse_path), read_only=True) as connection:
        reasons = [
            r[0]
            for r in connection.execute(
                "SELECT reason FROM raw.request_logs_rejected ORDER BY line_number"
            ).fetchall()
        ]
    assert [r.split(" must")[0] for r in reasons] == [
        '"latency_ms"',
        '"first_token_ms"',
        '"cost_usd"',
    ]
    assert all("must be a finite number" in r for r in reasons)


def test_the_format_document_s_example_is_a_valid_record(data_dir):
    """The example of docs/request-log-format.md (who spent it included) loads."""
    example = DOC.read_text().split("```json\n")[1].split("```")[0]
    record = json.loads(example.replace("\n", ""))
    assert _schema_accepts(json.dumps(record))
    folder = data_dir.landing_dir / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "example.jsonl").write_text(json.dumps(record) + "\n")
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (1, 0)
    with duckdb.connect(str(data_dir.warehouse_path), read_only=True) as connection:
        team, tags = connection.execute("SELECT team_id, tags FROM raw.request_logs").fetchone()
    assert (team, tags) == (record["team_id"], record["tags"])
