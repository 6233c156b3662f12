"""SQL building blocks the source adapters share: reading a source field's JSON value as
a typed value, and the sentence that names the source field when it cannot be.

Every adapter reads each record with one `json_extract` of all its paths, so a field's
value arrives as its JSON text (NULL when the key is absent or null).
The helpers below turn that text into the contract's types over all records at once, and
each broken expectation into a sentence such as

    "startTime" must be epoch seconds, got "yesterday"

that names the field as the source spells it. Values of CSV files arrive as JSON strings;
with `text=True` a number, boolean or date-time written as text is read as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest import contract

# Epoch seconds the adapters accept: 2000-01-01 .. 2100-01-01 UTC. A value outside is not
# a time a gateway wrote today (milliseconds given as seconds land in the year 58000).
EPOCH_MIN, EPOCH_MAX = 946_684_800, 4_102_444_800
SHOWN_CHARS = 60  # of a wrong value, in its reason


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def extract(json_sql: str, paths: list[str]) -> str:
    """The JSON values at the dotted paths, as one list (one parse of the document)."""
    return f"json_extract({json_sql}, [{', '.join(quote('$.' + p) for p in paths)}])"


def as_struct(values: str, paths: list[str]) -> str:
    """The list `extract` gave as a struct, so that path `a.b` reads as `.a.b`; a JSON
    null is NULL, like an absent key."""
    tree: dict = {}
    for index, path in enumerate(paths, start=1):
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = f"nullif({values}[{index}], 'null')"

    def render(node: dict) -> str:
        return (
            "struct_pack("
            + ", ".join(
                f'"{key}" := ' + (render(value) if isinstance(value, dict) else value)
                for key, value in node.items()
            )
            + ")"
        )

    return f"CASE WHEN {values} IS NOT NULL THEN {render(tree)} END"


# A source field as the adapters write it: `r.a.b` (or `m.a.b` for a field inside a
# field holding JSON). mapped_lines_sql gives each read one its own columns, its JSON
# text and its JSON type, so that the expressions below refer to columns instead of
# repeating the extraction: DuckDB plans a query of many large expressions slowly.
_PATH = re.compile(r"^[rm](\.[A-Za-z0-9_]+)+$")


def path_column(value: str) -> str:
    return f'"{value}"' if _PATH.match(value) else value


def path_columns(
    prefix: str, values: str, paths: list[str], strings: dict[str, str] | None = None
) -> dict[str, str]:
    """The JSON text, the JSON type and the string content (NULL unless a JSON string)
    of each path, from the list `extract` gave. `strings`: paths whose string content is
    at hand already (a CSV cell), so that it is not taken back out of its JSON text."""
    columns = {}
    for index, path in enumerate(paths, start=1):
        text = f"nullif({values}[{index}], 'null')"
        columns[f'"{prefix}.{path}"'] = text
        columns[f'"{prefix}.{path}:kind"'] = _kind(text)
        columns[f'"{prefix}.{path}:string"'] = (strings or {}).get(path) or (
            f"CASE WHEN {_kind(text)} = 'string' THEN {_unquoted(text)} END"
        )
    return columns


def _path_part(value: str, part: str) -> str | None:
    """The column path_columns gave a source field's `part` ("kind" or "string"), where
    `value` is such a field (`r.a.b`, quoted or not); None for any other expression."""
    field = value.strip('"')
    return f'"{field}:{part}"' if _PATH.match(field) else None


def kind(value: str) -> str:
    """The JSON type of a JSON text ('string', 'number', ...; NULL for a JSON null)."""
    return _path_part(value, "kind") or _kind(value)


def _kind(value: str) -> str:
    return (
        f"(CASE left({value}::VARCHAR, 1) WHEN '\"' THEN 'string' WHEN 't' THEN 'boolean' "
        f"WHEN 'f' THEN 'boolean' WHEN '{{' THEN 'object' WHEN '[' THEN 'array' "
        f"WHEN 'n' THEN NULL ELSE 'number' END)"
    )


def unquoted(value: str) -> str:
    """The content of a JSON string (a source field's, worked out once in path_columns)."""
    return _path_part(value, "string") or _unquoted(value)


def _unquoted(value: str) -> str:
    """The text between a JSON string's quotes, unless it has escapes (only those are
    parsed again)."""
    text = f"CAST({value} AS VARCHAR)"
    return f"(CASE WHEN contains({text}, '\\') THEN {value}->>'$' ELSE {text}[2:-2] END)"


def text_of(value: str) -> str:
    """A JSON string's content; any other JSON value as its JSON text."""
    value = path_column(value)
    return f"(CASE WHEN {kind(value)} = 'string' THEN {unquoted(value)} ELSE {value}::VARCHAR END)"


def shown(value: str) -> str:
    return contract.shown_text(f"{value}::VARCHAR", SHOWN_CHARS)


@dataclass(frozen=True)
class Read:
    """One source field read as one contract type: `value` (NULL where the field is absent,
    null or cannot be read) and `failure` (a sentence naming the source field, NULL where
    it is fine). `raw` is the field's JSON text; `required` whether it must be there."""

    value: str
    failure: str
    raw: str
    required: bool

    def ok(self, value_column: str) -> str:
        """True where the field is fine, from the value once computed (cheaper than
        `failure`, which is only worked out for the records that are not)."""
        if self.required:
            return f"({value_column} IS NOT NULL)"
        return f"({self.raw} IS NULL OR {value_column} IS NOT NULL)"


def _failure(cases: list[tuple[str, str]]) -> str:
    whens = " ".join(f"WHEN {condition} THEN {sentence}" for condition, sentence in cases)
    return f"(CASE {whens} END)"


def _missing(name: str, value: str, required: bool) -> list[tuple[str, str]]:
    if not required:
        return []
    return [(f"{value} IS NULL", quote(f'missing required field "{name}"'))]


def _wrong(name: str, value: str, ok: str, expected: str) -> tuple[str, str]:
    """The case of a field that is there but not `ok`: '"name" must be <expected>, got ...'."""
    return (
        f"{value} IS NOT NULL AND NOT ({ok})",
        quote(f'"{name}" must be {expected}, got ') + f" || {shown(value)}",
    )


def _below(name: str, value: str, number: str, minimum: float) -> tuple[str, str]:
    return (
        f"{number} < {minimum}",
        quote(f'"{name}" must be >= {minimum:g}, got ') + f" || {shown(value)}",
    )


def read_string(
    name: str,
    value: str,
    *,
    required: bool = False,
    non_empty: bool = False,
    feeds: str | None = None,
) -> Read:
    """A string. `feeds`: the contract field it becomes (an id or a name), whose length
    and character rules (the schema's, compiled once by ingest/contract.py) it must keep:
    a record breaking them is quarantined as it came, the reason naming the source field."""
    value = path_column(value)
    ok_kind = f"{kind(value)} = 'string'"
    text = unquoted(value)
    cases = [*_missing(name, value, required), _wrong(name, value, ok_kind, "a string")]
    if non_empty:
        cases.append((f"{ok_kind} AND {text} = ''", quote(f'"{name}" must not be empty')))
    valid = ok_kind
    if feeds is not None:
        field = next(f for f in contract.fields() if f.name == feeds)
        cases += [
            (f"{ok_kind} AND {condition}", sentence)
            for condition, sentence in contract.text_failures(field, text, name)
        ]
        valid = f"{ok_kind} AND {contract.text_ok(field, text)}"
    parsed = f"nullif({text}, '')" if non_empty else text
    return Read(f"CASE WHEN {valid} THEN {parsed} END", _failure(cases), value, required)


def _number_text(value: str, text: bool) -> str:
    """The digits of a JSON number, or (text=True) of a string holding one."""
    if text:
        return f"(CASE {kind(value)} WHEN 'number' THEN {value}::VARCHAR WHEN 'string' THEN trim({unquoted(value)}) END)"
    return f"(CASE WHEN {kind(value)} = 'number' THEN {value}::VARCHAR END)"


def read_number(
    name: str, value: str, *, required: bool = False, text: bool = False, minimum: float | None = 0
) -> Read:
    value = path_column(value)
    number = f"TRY_CAST({_number_text(value, text)} AS DOUBLE)"
    ok = f"({number} IS NOT NULL AND isfinite({number}))"
    cases = [*_missing(name, value, required), _wrong(name, value, ok, "a number")]
    if minimum is not None:
        cases.append(_below(name, value, number, minimum))
    valid = f"{ok}" + (f" AND {number} >= {minimum}" if minimum is not None else "")
    return Read(f"CASE WHEN {valid} THEN {number} END", _failure(cases), value, required)


def read_integer(name: str, value: str, *, required: bool = False, text: bool = False) -> Read:
    """A count: a whole number >= 0 (3.0 counts as 3, as in JSON Schema)."""
    value = path_column(value)
    number = f"TRY_CAST({_number_text(value, text)} AS DOUBLE)"
    whole = f"({number} IS NOT NULL AND {number} = floor({number}) AND abs({number}) < 9.2e18)"
    cases = [
        *_missing(name, value, required),
        _wrong(name, value, whole, "an integer"),
        _below(name, value, number, 0),
    ]
    return Read(
        f"CASE WHEN {whole} AND {number} >= 0 THEN CAST({number} AS BIGINT) END",
        _failure(cases),
        value,
        required,
    )


def read_boolean(name: str, value: str, *, required: bool = False, text: bool = False) -> Read:
    value = path_column(value)
    source = f"lower({text_of(value)})" if text else f"{value}::VARCHAR"
    parsed = f"(CASE {source} WHEN 'true' THEN true WHEN 'false' THEN false END)"
    if not text:
        parsed = f"(CASE WHEN {kind(value)} = 'boolean' THEN {parsed} END)"
    cases = [
        *_missing(name, value, required),
        _wrong(name, value, f"{parsed} IS NOT NULL", "true or false"),
    ]
    return Read(parsed, _failure(cases), value, required)


def read_epoch(name: str, value: str, *, required: bool = False) -> Read:
    """Epoch seconds (a JSON number), as a DOUBLE: differences of two keep every digit."""
    value = path_column(value)
    number = f"TRY_CAST({_number_text(value, False)} AS DOUBLE)"
    ok = f"({number} >= {EPOCH_MIN} AND {number} < {EPOCH_MAX})"
    cases = [
        *_missing(name, value, required),
        _wrong(name, value, f"coalesce({ok}, false)", "epoch seconds between 2000 and 2100"),
    ]
    return Read(f"CASE WHEN {ok} THEN {number} END", _failure(cases), value, required)


def read_date_time(name: str, value: str, *, required: bool = False) -> Read:
    """An ISO 8601 date-time string as a TIMESTAMPTZ; one without an offset is UTC (what
    a database export of a UTC `timestamp` column and these APIs write). The time and the
    offset keep the ranges of the contract's own (contract.ISO_DATE_TIME: hour 24, minute
    or second 60, an offset of 24 hours or more are rejected, not shifted), and a day the
    calendar does not have (2026-02-30) fails the cast."""
    value = path_column(value)
    text = f"trim({unquoted(value)})"
    with_offset = f"TRY_CAST(upper({text}) AS TIMESTAMPTZ)"
    as_utc = f"timezone('UTC', TRY_CAST({text} AS TIMESTAMP))"
    parsed = (
        f"CASE WHEN {kind(value)} = 'string' AND regexp_matches({text}, {quote(contract.ISO_DATE_TIME)}) THEN "
        # Matched, it has an offset where it ends in Z or holds a sign after the date's
        # own dashes (a second regular expression cost as much as the first).
        f"CASE WHEN upper(right({text}, 1)) = 'Z' OR contains(substr({text}, 11), '+') "
        f"OR contains(substr({text}, 11), '-') "
        f"THEN {with_offset} ELSE {as_utc} END END"
    )
    cases = [
        *_missing(name, value, required),
        _wrong(
            name,
            value,
            f"({parsed}) IS NOT NULL",
            f"an ISO 8601 date-time ({contract.TIME_RANGES})",
        ),
    ]
    return Read(f"({parsed})", _failure(cases), value, required)


def failures(*expressions: str) -> str:
    """Every sentence that applies, joined with '; ' (NULL when none does)."""
    return f"nullif(concat_ws('; ', {', '.join(expressions)}), '')"


def rfc3339(timestamp: str) -> str:
    """A TIMESTAMPTZ as the contract's created_at text, in UTC with microseconds."""
    return f"strftime(timezone('UTC', {timestamp}), '%Y-%m-%dT%H:%M:%S.%fZ')"
