"""The request-log contract, compiled from its JSON Schema into DuckDB SQL.

`schema/request_log.schema.json` is the one definition of a valid record. Checking a
million records one by one with a JSON Schema validator in Python would be the slow part
of every night, so the loader instead turns each property's rules (type, required,
minimum, enum, date-time, the ids' and names' maxLength and pattern, and a list's
items and maxItems) into SQL
expressions that DuckDB evaluates over all lines at once, and each broken rule into a
sentence naming the field and the value found. The source adapters (ingest/sources/)
reuse the time pattern and the id and name rules compiled here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

SCHEMA_RESOURCE = "request_log.schema.json"

# One definition of a valid time for every format (docs/request-log-format.md).
# RFC 3339 date-time with a mandatory offset. A space instead of 'T' is accepted because
# Parquet writers render timestamps that way. Hours run 00-23 and minutes 00-59, in the
# time and in the offset: DuckDB would otherwise read "+24:00", "+99:99" or "T24:00:00"
# as a time shifted by hours or days. Seconds run 00-59: a leap second (":60", which RFC
# 3339 allows) is rejected, as no gateway clock emits one (they smear leap seconds) and
# DuckDB cannot represent it. Month and day are left to the cast, which gives NULL for a
# day the calendar does not have (2026-02-30, month 13) rather than shifting it.
_HOUR, _MINUTE = "([01]\\d|2[0-3])", "[0-5]\\d"
_DATE_AND_TIME = rf"\d{{4}}-\d{{2}}-\d{{2}}[Tt ]{_HOUR}:{_MINUTE}:{_MINUTE}(\.\d+)?"
_RFC3339 = rf"^{_DATE_AND_TIME}([Zz]|[+-]{_HOUR}:{_MINUTE})$"
# The source adapters read ISO 8601 as exports and APIs write it: the same date and time,
# the offset also as +hhmm or +hh, or none at all (then UTC).
ISO_DATE_TIME = rf"^{_DATE_AND_TIME}([Zz]|[+-]{_HOUR}(:?{_MINUTE})?)?$"
TIME_RANGES = "hours 00-23, minutes and seconds 00-59, no leap second"
# Values the marts give a meaning of their own: '*' is the "all" row of every dashboard
# filter (dbt_project/macros/dashboard_filters.sql), '(none)' the row of the requests
# that did not say (no team, no tag), '(other)' the rest beyond a top N. The schema lists
# them per field as "not": {"enum": [...]}.
RESERVED_MEANINGS = {"*": "all", "(none)": "not given", "(other)": "the rest beyond a top N"}

# DuckDB's json_type() names for each JSON Schema type.
_JSON_TYPES = {
    "string": ("VARCHAR",),
    "integer": ("BIGINT", "UBIGINT"),
    "number": ("BIGINT", "UBIGINT", "DOUBLE"),
    "boolean": ("BOOLEAN",),
    "array": ("ARRAY",),
}
_SQL_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}
# "format" values that narrow a JSON type's SQL type (OpenAPI's names).
_FORMAT_SQL_TYPES = {"int32": "INTEGER", "date-time": "TIMESTAMPTZ"}


@cache
def load_schema() -> dict:
    text = resources.files("ingest.schema").joinpath(SCHEMA_RESOURCE).read_text()
    return json.loads(text)


@dataclass(frozen=True)
class Field:
    name: str
    json_type: str  # string | integer | number | boolean | array
    required: bool
    nullable: bool
    minimum: float | None
    maximum: float | None
    enum: tuple[str, ...] | None
    date_time: bool
    min_length: int | None
    reserved: tuple[str, ...] = ()  # values the marts use as markers, so a record may not
    max_length: int | None = None  # in characters (code points), as JSON Schema counts
    pattern: str | None = None  # as the schema writes it (ECMA 262), see _re2
    pattern_reason: str | None = None  # what breaking the pattern means, for the reason
    format: str | None = None  # JSON Schema's "format" (date-time, int32)
    items: Field | None = None  # an array's items (strings: the only arrays the contract has)
    max_items: int | None = None

    @property
    def sql_type(self) -> str:
        """The field's column type in raw.request_logs (ingest/warehouse.py derives the
        table from these)."""
        if self.items is not None:
            return f"{self.items.sql_type}[]"
        return _FORMAT_SQL_TYPES.get(self.format or "", _SQL_TYPES[self.json_type])


@cache
def fields() -> tuple[Field, ...]:
    schema = load_schema()
    required = set(schema["required"])
    result = []
    for name, spec in schema["properties"].items():
        result.append(_field(schema, name, spec, required=name in required))
    return tuple(result)


def _field(schema: dict, name: str, spec: dict, *, required: bool) -> Field:
    spec = _resolved(schema, spec)
    types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    json_type = next(t for t in types if t != "null")
    items = None
    if json_type == "array":
        items = _field(schema, f"{name} item", spec["items"], required=True)
        if items.json_type != "string" or items.date_time:
            raise ValueError(f"the contract's arrays hold strings only: {name}")
    return Field(
        name=name,
        json_type=json_type,
        required=required,
        nullable="null" in types,
        minimum=spec.get("minimum"),
        maximum=spec.get("maximum"),
        enum=tuple(spec["enum"]) if "enum" in spec else None,
        date_time=spec.get("format") == "date-time",
        min_length=spec.get("minLength"),
        reserved=tuple(spec.get("not", {}).get("enum", ())),
        max_length=spec.get("maxLength"),
        pattern=spec.get("pattern"),
        pattern_reason=spec.get("x-pattern-reason"),
        format=spec.get("format"),
        items=items,
        max_items=spec.get("maxItems"),
    )


def _resolved(schema: dict, spec: dict) -> dict:
    """A property's rules with those of the definition its "$ref" names merged in (the
    ids and names share one definition of their length and characters; a definition may
    name another, as a tag's does)."""
    if "$ref" not in spec:
        return spec
    prefix = "#/$defs/"
    if not spec["$ref"].startswith(prefix):
        raise ValueError(f"the contract resolves only local $defs references: {spec['$ref']}")
    rest = {k: v for k, v in spec.items() if k != "$ref"}
    return {**_resolved(schema, schema["$defs"][spec["$ref"].removeprefix(prefix)]), **rest}


def _re2(pattern: str) -> str:
    """A JSON Schema pattern (ECMA 262) as DuckDB's RE2 reads it: RE2 spells the escape
    of code point XXXX `\\x{XXXX}`, ECMA 262 `\\uXXXX`; the schema uses no other construct
    the two read differently."""
    return re.sub(r"\\u([0-9A-Fa-f]{4})", r"\\x{\1}", pattern)


def shown_text(text: str, chars: int = 60) -> str:
    """The first `chars` characters of a found value, as a reason quotes it: each control
    character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) as U+FFFD, so that a
    reason never carries a NUL or a terminal escape sequence to whoever prints it."""
    return f"regexp_replace(left({text}, {chars}), '\\p{{Cc}}', chr(65533), 'g')"


def text_ok(field: Field, text: str) -> str:
    """True where the string `text` keeps the field's length and pattern rules."""
    checks = []
    if field.max_length is not None:
        checks.append(f"length({text}) <= {field.max_length}")
    if field.pattern is not None:
        checks.append(f"regexp_matches({text}, {_quote(_re2(field.pattern))})")
    return " AND ".join(checks) or "true"


def text_failures(
    field: Field, text: str, name: str, *, label: str | None = None
) -> list[tuple[str, str]]:
    """(condition, sentence) for each length or pattern rule the string `text` breaks,
    the sentence naming the field `name` (the contract's, or a source's own name for the
    field that feeds it), or saying `label` instead (an item of a list); the value is
    shown cut short, never whole."""
    label = label or f'"{name}"'
    cases = []
    if field.max_length is not None:
        cases.append(
            (
                f"length({text}) > {field.max_length}",
                _quote(f"{label} must be at most {field.max_length} characters long, got ")
                + f" || length({text}) || ' characters: \"' || {shown_text(text)} || '...\"'",
            )
        )
    if field.pattern is not None:
        says = field.pattern_reason or f"match {field.pattern}"
        cases.append(
            (
                f"NOT regexp_matches({text}, {_quote(_re2(field.pattern))})",
                _quote(f'{label} must {says}, got "') + f" || {shown_text(text)} || '\"'",
            )
        )
    return cases


def reserved_failures(field: Field, text: str, label: str) -> list[tuple[str, str]]:
    """(condition, sentence) where the string `text` is a value the marts reserve."""
    if not field.reserved:
        return []
    reserved = ", ".join(_quote(v) for v in field.reserved)
    meanings = "; ".join(
        f'"{v}" means {RESERVED_MEANINGS.get(v, "something else")}' for v in field.reserved
    )
    return [
        (
            f"{text} IN ({reserved})",
            _quote(f'{label} must not be "')
            + f" || {shown_text(text)} || "
            + _quote(f'": the marts give that value a meaning of their own ({meanings})'),
        )
    ]


def _array_failures(field: Field, text: str, is_array: str) -> list[str]:
    """SQL expressions that yield a sentence when the list `text` (its JSON text; a list
    where `is_array`) breaks a rule of its own or of its items, else NULL. The offending
    item is named: the first one found of each kind."""
    items, label = field.items, f'a "{field.name}" item'
    assert items is not None
    is_array = f"({is_array})"
    failures = []
    if field.max_items is not None:
        failures.append(
            f"CASE WHEN {is_array} AND json_array_length({text}) > {field.max_items} "
            f"THEN '\"{field.name}\" must hold at most {field.max_items} items, got ' "
            f"|| json_array_length({text}) END"
        )
    not_string = (
        f"list_position(list_transform(json_type({text}, '$[*]'), lambda t: t = 'VARCHAR'), false)"
    )
    failures.append(
        f"CASE WHEN {is_array} AND {not_string} > 0 "
        f"THEN '\"{field.name}\" must be an array of strings, item ' || {not_string} || ' is ' "
        f"|| {shown_text(f'json_extract({text}, {not_string} - 1)::VARCHAR')} END"
    )
    strings = _items(text)
    return failures + [
        f"CASE WHEN {is_array} AND {found} IS NOT NULL THEN {sentence} END"
        for found, sentence in _item_failures(items, strings, field.name, label)
    ]


def _item_failures(items: Field, strings: str, name: str, label: str) -> list[tuple[str, str]]:
    """(the first item of the list `strings` that breaks the rule, the sentence about
    it) for each rule of a list's items."""

    def rules(text: str) -> list[tuple[str, str]]:
        return text_failures(items, text, name, label=label) + reserved_failures(items, text, label)

    result = []
    for index, (condition, _) in enumerate(rules("x")):
        found = f"list_filter({strings}, lambda x: {condition})[1]"
        result.append((found, rules(found)[index][1]))
    return result


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _kind(index: int) -> str:
    """Column holding the JSON type of field `index` (NULL when the key is absent)."""
    return f"t{index}"


def _text(index: int) -> str:
    """Column holding field `index` as text (a string's content, a number's digits)."""
    return f"s{index}"


def _json_kind(value: str) -> str:
    """json_type() of a JSON value that DuckDB wrote itself, read from its first character
    (several times cheaper than parsing it again); NULL when the key was absent."""
    return (
        f"CASE WHEN {value} IS NULL THEN NULL ELSE CASE left({value}::VARCHAR, 1) "
        f"WHEN '\"' THEN 'VARCHAR' WHEN 't' THEN 'BOOLEAN' WHEN 'f' THEN 'BOOLEAN' "
        f"WHEN 'n' THEN 'NULL' WHEN '{{' THEN 'OBJECT' WHEN '[' THEN 'ARRAY' "
        f"ELSE CASE WHEN regexp_matches({value}::VARCHAR, '[.eE]') THEN 'DOUBLE' "
        f"ELSE 'BIGINT' END END END"
    )


def _plain_text(value: str) -> str:
    """json_extract_string() of a JSON value that DuckDB wrote itself: a string without
    escapes is its text between the quotes; only strings with escapes are parsed again."""
    text = f"CAST({value} AS VARCHAR)"
    return (
        f"CASE WHEN {value} IS NULL OR {text} = 'null' THEN NULL "
        f"WHEN NOT starts_with({text}, '\"') THEN {text} "
        f"WHEN contains({text}, '\\') THEN json_extract_string({value}, '$') "
        f"ELSE ({text})[2:-2] END"
    )


def _integral(number: str) -> str:
    return f"({number} = floor({number}) AND abs({number}) < 9.2e18)"


def _typed_value(field: Field, index: int, *, try_: bool = False) -> str:
    """The field's value as its SQL type; whole-numbered doubles go through DOUBLE."""
    cast = "TRY_CAST" if try_ else "CAST"
    text = _text(index)
    if field.items is not None:
        return _items(_value(index))
    if field.json_type == "integer":
        return (
            f"CASE WHEN {_kind(index)} = 'DOUBLE' THEN {cast}({cast}({text} AS DOUBLE) AS BIGINT) "
            f"ELSE {cast}({text} AS BIGINT) END"
        )
    if field.date_time:
        text = f"upper({text})"  # RFC 3339 allows a lower-case t and z; DuckDB does not
    return f"{cast}({text} AS {field.sql_type})"


def _items(json_text: str) -> str:
    """The strings of a JSON array of strings, as a VARCHAR[] (NULL for NULL)."""
    return f"json_extract_string({json_text}, '$[*]')"


def _rule_failures(field: Field, index: int) -> list[str]:
    """SQL expressions that yield a sentence when `field` breaks one of its rules, else NULL."""
    kind, text = _kind(index), _text(index)
    shown = shown_text(f"CASE WHEN {kind} = 'VARCHAR' THEN '\"' || {text} || '\"' ELSE {text} END")
    present = f"({kind} IS NOT NULL AND {kind} <> 'NULL')"
    accepted = ", ".join(_quote(t) for t in _JSON_TYPES[field.json_type])
    number = f"TRY_CAST({text} AS DOUBLE)"
    type_ok = f"{kind} IN ({accepted})"
    if field.json_type == "integer":
        # JSON Schema counts 3.0 as an integer, and Parquet files written from pandas
        # carry nullable integer columns as doubles: accept whole-numbered doubles.
        type_ok = f"({type_ok} OR ({kind} = 'DOUBLE' AND {_integral(number)}))"
    well_typed = f"({present} AND {type_ok})"
    failures = []
    if field.required:
        failures.append(
            f"CASE WHEN NOT {present} THEN 'missing required field \"{field.name}\"' END"
        )
    elif not field.nullable:
        failures.append(f"CASE WHEN {kind} = 'NULL' THEN '\"{field.name}\" must not be null' END")
    article = "an" if field.json_type[0] in "aeiou" else "a"
    failures.append(
        f"CASE WHEN {present} AND NOT {type_ok} "
        f"THEN '\"{field.name}\" must be {article} {field.json_type}, got ' || {shown} END"
    )
    if field.items is not None:
        return failures + _array_failures(field, _value(index), f"{kind} = 'ARRAY'")
    if field.json_type == "number":
        # JSON has no NaN or Infinity, but DuckDB (like Python) reads them, and a number
        # too large for a double (1e400) becomes infinity: any of them would turn sums,
        # means and rankings into NaN.
        failures.append(
            f"CASE WHEN {well_typed} AND NOT isfinite({number}) "
            f"THEN '\"{field.name}\" must be a finite number, got ' || {shown} END"
        )
    if field.json_type == "integer":
        # An integer beyond 64 bits is rejected here rather than failing the day's insert.
        failures.append(
            f"CASE WHEN {well_typed} AND {_typed_value(field, index, try_=True)} IS NULL "
            f"THEN '\"{field.name}\" is out of range, got ' || {shown} END"
        )
    if field.minimum is not None:
        failures.append(
            f"CASE WHEN {well_typed} AND {number} < {field.minimum} "
            f"THEN '\"{field.name}\" must be >= {field.minimum:g}, got ' || {shown} END"
        )
    if field.maximum is not None:
        failures.append(
            f"CASE WHEN {well_typed} AND isfinite({number}) AND {number} > {field.maximum} "
            f"THEN '\"{field.name}\" must be <= {field.maximum:g}, got ' || {shown} END"
        )
    if field.min_length:
        failures.append(
            f"CASE WHEN {well_typed} AND length({text}) < {field.min_length} "
            f"THEN '\"{field.name}\" must not be empty' END"
        )
    for condition, sentence in text_failures(field, text, field.name) + reserved_failures(
        field, text, f'"{field.name}"'
    ):
        failures.append(f"CASE WHEN {well_typed} AND {condition} THEN {sentence} END")
    if field.enum:
        allowed = ", ".join(_quote(v) for v in field.enum)
        failures.append(
            f"CASE WHEN {well_typed} AND {text} NOT IN ({allowed}) "
            f"THEN '\"{field.name}\" must be one of {' | '.join(field.enum)}, got ' || {shown} END"
        )
    if field.date_time:
        failures.append(
            f"CASE WHEN {well_typed} AND (NOT regexp_matches({text}, {_quote(_RFC3339)}) "
            f"OR TRY_CAST(upper({text}) AS TIMESTAMPTZ) IS NULL) "
            f'THEN \'"{field.name}" must be an RFC 3339 time with an offset ({TIME_RANGES}), '
            f"got ' || {shown} END"
        )
    return failures


def _value(index: int) -> str:
    """Column holding field `index` as the JSON text DuckDB wrote (NULL when absent)."""
    return f"v{index}"


def _quick(index: int) -> str:
    """Column holding field `index` as its SQL type, read the quick way (see _quick_ok)."""
    return f"q{index}"


def _quick_read_type(field: Field) -> str:
    """How from_json reads the field for the quick check: a string as its text, any other
    field as its JSON text. Reading 3 or "3" as BIGINT would give 3 either way."""
    return "VARCHAR" if field.json_type == "string" else "JSON"


def _quick_value(field: Field) -> str:
    """The field's value as its SQL type when it has the plain shape a record of the
    contract has (a string, a decimal integer, a number, true/false); else NULL.

    These shapes are read as _typed_value reads them, so where _quick_ok holds, the two
    are equal and no rule is broken."""
    value = f"record.{field.name}"
    if field.json_type == "string":
        # RFC 3339 allows a lower-case t and z; DuckDB does not
        return f"TRY_CAST(upper({value}) AS TIMESTAMPTZ)" if field.date_time else value
    if field.items is not None:
        return f"CASE WHEN json_type({value}) = 'ARRAY' THEN {_items(value)} END"
    value = f"CAST({value} AS VARCHAR)"  # compared as text, not as JSON
    if field.json_type == "boolean":
        return f"CASE {value} WHEN 'true' THEN true WHEN 'false' THEN false END"
    # DuckDB writes a JSON number as digits, a real with '.' or 'e', or NaN/Infinity;
    # the first character tells a number from a string, boolean, object or array.
    is_number = f"({value} >= '-' AND {value} < ':')"
    if field.json_type == "integer":
        # Only plain digits: casting '1.5' or '1e2' to BIGINT would round where the full
        # rules check that the double is whole.
        return (
            f"CASE WHEN {is_number} AND NOT (contains({value}, '.') OR contains({value}, 'e') "
            f"OR contains({value}, 'E')) THEN TRY_CAST({value} AS BIGINT) END"
        )
    return f"CASE WHEN {is_number} THEN TRY_CAST({value} AS DOUBLE) END"


def _renders_a_non_string(text: str) -> str:
    """Whether `text`, read by from_json as VARCHAR, could be the JSON text of a number,
    true/false, an object or an array rather than the content of a JSON string.

    Numbers start with '-' or a digit, or are NaN or Infinity (any case); a text that
    only starts like those is cast, to keep "inference/..." out of the full rules."""
    starts = ", ".join(str(ord(c)) for c in "-0123456789{[")
    nan_or_infinity = ", ".join(str(ord(c)) for c in "NnIi")
    return (
        f"(CASE WHEN ascii({text}) IN ({nan_or_infinity}) "
        f"THEN TRY_CAST({text} AS DOUBLE) IS NOT NULL "
        f"ELSE ascii({text}) IN ({starts}) OR {text} IN ('true', 'false') END)"
    )


def _quick_ok(field: Field, index: int) -> str:
    """True when the field keeps every rule, read the quick way, or is absent or null
    where the contract allows both; NULL or false sends the line to the full rules."""
    value, quick = f"record.{field.name}", _quick(index)
    checks = [f"{quick} IS NOT NULL"]
    if field.json_type == "string" and not field.date_time:
        # (A date-time's pattern below, with its colons, matches no other JSON text.)
        checks.append(f"NOT {_renders_a_non_string(value)}")
    if field.json_type == "number":
        checks.append(f"isfinite({quick})")  # DuckDB writes and reads infinities its own ways
    if field.items is not None:
        checks.append(f"list_has_all(['VARCHAR'], json_type({value}, '$[*]'))")
        if field.max_items is not None:
            checks.append(f"len({quick}) <= {field.max_items}")
        items = field.items
        item_checks = [f"length(x) <= {items.max_length}"] if items.max_length else []
        if items.reserved:
            item_checks.append(f"x NOT IN ({', '.join(_quote(v) for v in items.reserved)})")
        item_ok = " AND ".join(item_checks) or "true"
        if items.pattern is not None:
            pattern = f"regexp_matches(x, {_quote(_re2(items.pattern))})"
            if _printable_ascii_keeps(items.pattern):
                # As for the ids and names below: a plain line's strings keep it.
                pattern = f"({_PLAIN_LINE} OR {pattern})"
            item_ok += f" AND {pattern}"
        checks.append(
            f"coalesce(list_bool_and(list_transform({quick}, lambda x: {item_ok})), true)"
        )
    if field.minimum is not None:
        checks.append(f"{quick} >= {field.minimum}")
    if field.maximum is not None:
        checks.append(f"{quick} <= {field.maximum}")
    if field.min_length:
        checks.append(f"length({value}) >= {field.min_length}")
    if field.max_length is not None:
        # Bytes are never fewer than characters; a longer value goes to the full rules.
        checks.append(f"strlen({value}) <= {field.max_length}")
    if field.pattern is not None:
        pattern = f"regexp_matches({value}, {_quote(_re2(field.pattern))})"
        if _printable_ascii_keeps(field.pattern):
            pattern = f"CASE WHEN {_PLAIN_LINE} THEN true ELSE {pattern} END"
        checks.append(pattern)
    if field.reserved:
        checks.append(f"{value} NOT IN ({', '.join(_quote(v) for v in field.reserved)})")
    if field.enum:
        checks.append(f"{value} IN ({', '.join(_quote(v) for v in field.enum)})")
    if field.date_time:
        checks.append(f"regexp_matches({value}, {_quote(_RFC3339)})")
    ok = " AND ".join(checks)
    if not field.required and field.nullable:
        # from_json gives NULL for an absent key and for a JSON null alike.
        ok = f"{value} IS NULL OR ({ok})"
    return f"({ok})"


# Column of the quick check: the line is printable ASCII (no byte above 0x7E), holds no
# DEL and no backslash. Then no string in it holds a control character: C0 can stand in
# JSON text only escaped (DuckDB rejects it raw), DEL and C1 only escaped or raw. One look
# at the line instead of a pattern match per id and name.
_PLAIN_LINE = "plain_line"
_PLAIN_LINE_SQL = (
    "NOT contains(raw_line, '\\') AND NOT contains(raw_line, chr(127)) "
    "AND strlen(raw_line) = length(raw_line)"
)
_PRINTABLE_ASCII = "".join(map(chr, range(0x20, 0x7F)))


def _printable_ascii_keeps(pattern: str) -> bool:
    """Whether every string of printable ASCII keeps `pattern`, so that _PLAIN_LINE may
    stand for it: true of a pattern that only forbids characters (^[^...]*$) when it
    forbids none of those."""
    forbids_only = re.fullmatch(r"\^\[\^[^\]]*\]\*\$", pattern) is not None
    return forbids_only and re.fullmatch(pattern, _PRINTABLE_ASCII) is not None


def validated_lines_sql(lines_relation: str) -> str:
    """A query over `lines_relation(source_file, line_number, raw_line, read_error)` that
    adds `reason` (NULL for a valid record) and one typed column per contract field.

    `raw_line` may still end with its line end ("\n", "\r\n"): JSON allows that space
    after a value, and the reasons and the returned `raw_line` go without it. The returned
    `raw_line` is set only for rejected lines, the only ones kept verbatim.
    `read_error`, when set, is a reason found while reading the line (bad UTF-8)."""
    contract_fields = fields()
    paths = ", ".join(_quote(f"$.{f.name}") for f in contract_fields)
    record_type = _quote(
        "{" + ", ".join(f'"{f.name}": "{_quick_read_type(f)}"' for f in contract_fields) + "}"
    )
    quick = ",\n        ".join(
        f"{_quick_value(f)} AS {_quick(i)}" for i, f in enumerate(contract_fields)
    )
    quick_ok = "\n        AND ".join(_quick_ok(f, i) for i, f in enumerate(contract_fields))
    # The full rules run only for the lines the quick check did not pass: a CASE
    # evaluates its other branches for those rows alone.
    values = ",\n        ".join(
        f"CAST(vals[{i + 1}] AS VARCHAR) AS {_value(i)}" for i in range(len(contract_fields))
    )
    split = ",\n        ".join(
        f"{_json_kind(_value(i))} AS {_kind(i)}, {_plain_text(_value(i))} AS {_text(i)}"
        for i in range(len(contract_fields))
    )
    failures = [
        expr for index, field in enumerate(contract_fields) for expr in _rule_failures(field, index)
    ]
    typed = ",\n    ".join(
        f"CASE WHEN quick THEN {_quick(i)} WHEN reason IS NULL THEN {_typed_value(f, i)} END "
        f"AS {f.name}"
        for i, f in enumerate(contract_fields)
    )
    return f"""
WITH parsed AS (
    SELECT
        source_file,
        line_number,
        raw_line,
        read_error,
        json_valid(raw_line) AS is_json
    FROM {lines_relation}
),
objects AS (
    SELECT
        *,
        -- Valid JSON that starts with '{{' is an object.
        is_json AND (starts_with(raw_line, '{{') OR starts_with(ltrim(raw_line), '{{'))
            AS is_object
    FROM parsed
),
records AS (
    SELECT
        *,
        CASE WHEN is_object THEN from_json(raw_line, {record_type}) END AS record
    FROM objects
),
quick_values AS (
    SELECT
        source_file,
        line_number,
        raw_line,
        read_error,
        is_json,
        is_object,
        record,
        {_PLAIN_LINE_SQL} AS {_PLAIN_LINE},
        {quick}
    FROM records
),
quick_checked AS (
    SELECT
        *,
        read_error IS NULL AND is_object
        AND {quick_ok} AS quick
    FROM quick_values
),
extracted AS (
    SELECT
        *,
        CASE WHEN quick THEN NULL ELSE rtrim(raw_line, chr(13) || chr(10)) END AS line,
        CASE WHEN quick THEN NULL WHEN is_object
             THEN json_extract(raw_line, [{paths}]) END AS vals
    FROM quick_checked
),
field_values AS (
    SELECT
        *,
        {values}
    FROM extracted
),
split AS (
    SELECT
        *,
        {split}
    FROM field_values
),
checked AS (
    SELECT
        *,
        CASE
            WHEN quick THEN NULL
            WHEN read_error IS NOT NULL THEN read_error
            WHEN trim(line) = '' THEN 'empty line'
            WHEN NOT is_json AND starts_with(line, chr(65279))
                THEN 'line starts with a byte-order mark (U+FEFF), as where files were '
                     || 'joined: remove it: ' || {shown_text("line")}
            WHEN NOT is_json AND contains(line, chr(13))
                THEN 'line is not valid JSON and holds a carriage return (CR): end each '
                     || 'record with LF or CRLF, not CR alone: ' || {shown_text("line")}
            WHEN NOT is_json THEN 'line is not valid JSON: ' || {shown_text("line")}
            WHEN NOT is_object THEN 'line is JSON but not an object'
            ELSE nullif(concat_ws('; ', {", ".join(failures)}), '')
        END AS reason
    FROM split
)
SELECT
    source_file,
    line_number,
    CASE WHEN reason IS NOT NULL THEN line END AS raw_line,
    reason,
    {typed}
FROM checked
"""


def field_names() -> list[str]:
    return [f.name for f in fields()]


@cache
def repeated_field_pattern() -> str:
    """An RE2 pattern that matches a line naming one contract field twice. RE2 has no
    back-references, so it lists one alternative per field; it runs as one automaton
    over the line."""
    return "|".join(f'"{name}"\\s*:.*"{name}"\\s*:' for name in field_names())


def last_value_wins(line: str) -> str:
    """The line with each repeated key reduced to its last value, as Python's json,
    JavaScript's JSON.parse and Go's encoding/json read it (DuckDB's JSON functions keep
    the first). A line Python cannot read is returned unchanged for the rules to judge."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    return json.dumps(record, ensure_ascii=False)
