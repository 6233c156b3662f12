"""The shape every adapter's SQL shares: source records in, canonical lines out.

An adapter names the source fields it reads (dotted paths) and gives, for each contract
field, an SQL expression over them, plus the sentences of what makes a record
unmappable. `mapped_lines_sql` wraps these into one query over a relation of records
(`Records`: a record's JSON text, or a CSV row's cells) that returns
`(source_file, line_number, raw_line, read_error)`, the relation the contract's query reads
(ingest/contract.py `validated_lines_sql`):

- a record that maps becomes one canonical JSON line, which then passes through the same
  checks, quarantine and de-duplication as a line of our own format;
- a record that does not keeps its own text as `raw_line`, and `read_error` says which
  source fields broke which expectation, so the contract quarantines it verbatim;
- text that is not a JSON object is passed on as it is, for the contract to reject
  ("line is not valid JSON", "empty line", ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest import contract
from ingest.sources.config import SourceFolder
from ingest.sources.sql import Read, as_struct, extract, failures, path_columns, quote


@dataclass(frozen=True)
class Records:
    """A relation of source records: `(source_file, line_number, record, read_error)`,
    `record` a record's text; or, for a CSV table (`csv_header` naming its cells),
    `(source_file, line_number, read_error, cell_1, ...)`."""

    relation: str
    csv_header: tuple[str, ...] | None = None

    @property
    def values_are_text(self) -> bool:
        """Every value arrives as text (a CSV cell): numbers and flags are read from it."""
        return self.csv_header is not None

    def source_values(self, paths: list[str]) -> str:
        """The JSON text of each path's value, as `extract` gives it (NULL where the
        record is not a JSON object). A CSV row's cells are read as they are, each a
        JSON string: writing the row out as JSON to parse it again took as long as the
        rest of the mapping."""
        if self.csv_header is None:
            return (
                "CASE WHEN read_error IS NULL AND starts_with(ltrim(record), '{') "
                f"THEN try({extract('record', paths)}) END"
            )
        cells = self.strings()
        values = [f"to_json({cells[p]})" if p in cells else "NULL::JSON" for p in paths]
        return f"[{', '.join(values)}]::JSON[]"

    def strings(self) -> dict[str, str]:
        """Source field -> the column holding its string content, where there is one: a
        CSV row's cells by header name (where a name repeats, the first cell counts)."""
        cells: dict[str, str] = {}
        for index, name in enumerate(self.csv_header or (), start=1):
            cells.setdefault(name, f"cell_{index}")
        return cells

    def record_text(self) -> str:
        """A record's text, as the quarantine keeps it: a CSV row as a JSON object of its
        cells (worked out only for the rows that need it)."""
        if self.csv_header is None:
            return "record"
        if not self.csv_header:
            return "'{}'"
        pairs = ", ".join(
            f"{quote(name)}, cell_{index}" for index, name in enumerate(self.csv_header, start=1)
        )
        return f"CAST(json_object({pairs}) AS VARCHAR)"


def billing_mode_sql(
    folder: SourceFolder, api_key_id: str, *, tags: str | None = None, byok: str | None = None
) -> str:
    """The record's billing mode under the folder's settings (docs/sources.md)."""
    cases = []
    if folder.subscription_api_keys:
        keys = ", ".join(quote(k) for k in folder.subscription_api_keys)
        cases.append(f"WHEN {api_key_id} IN ({keys}) THEN 'subscription'")
    if folder.subscription_tags and tags is not None:
        wanted = "[" + ", ".join(quote(t) for t in folder.subscription_tags) + "]"
        listed = f"try(from_json({tags}, '[\"VARCHAR\"]'))"
        cases.append(f"WHEN coalesce(list_has_any({listed}, {wanted}), false) THEN 'subscription'")
    if byok is not None:
        cases.append(f"WHEN {byok} THEN {quote(folder.byok_billing_mode)}")
    return (
        f"(CASE {' '.join(cases)} ELSE {quote(folder.billing_mode)} END)"
        if cases
        else quote(folder.billing_mode)
    )


# What `read_error` says, when the query was built with judge_reads=False, of a record
# whose source fields could not all be read: the sentences naming them are worked out by
# a second query over those records alone (ingest/sources/__init__.py `check_batch`).
READS_PENDING = "(source fields not read; reasons pending)"


def mapped_lines_sql(
    records: Records,
    paths: list[str],
    reads: dict[str, Read],
    values: list[dict[str, str]],
    columns: dict[str, str],
    reasons: list[str],
    *,
    judge_reads: bool = True,
) -> str:
    """Source records -> canonical lines (see the module docstring).

    `paths`: the source fields read; inside the expressions, the JSON text of path `a.b`
    is `r.a.b`. `reads`: source fields read as contract types, by the name their value
    gets in `values`. `values`: stages of named expressions (the reads' values among
    them); an expression may use those of the stages before its own. (Few stages: a
    chain of one projection per value takes DuckDB's optimizer seconds to plan.) `columns`: every contract field -> its expression over those. `reasons`:
    expressions giving a sentence (or NULL) each, besides the reads' own.

    `judge_reads=False` leaves out the reads' sentences: a record with a field that
    cannot be read gets READS_PENDING instead. Those sentences are two thirds of the
    query, and planning them costs DuckDB about as much as mapping 20,000 spend-log rows,
    for records that are rare: they are planned only when some record needs them.
    """
    missing = set(contract.field_names()) - set(columns)
    if missing:
        raise ValueError(f"adapter leaves contract fields unmapped: {sorted(missing)}")
    stages = []
    for stage in values:
        expressions = ", ".join(f"{expression} AS {name}" for name, expression in stage.items())
        stages.append(f"SELECT *, {expressions} FROM stage{len(stages)}")
    stage_ctes = ",\n".join(f"stage{index + 1} AS ({sql})" for index, sql in enumerate(stages))
    last = f"stage{len(stages)}"
    # The reads' sentences are worked out only for records where some read failed.
    reads_ok = " AND ".join(read.ok(name) for name, read in reads.items()) or "true"
    if judge_reads:
        read_failures = (
            f"CASE WHEN NOT ({reads_ok}) THEN {failures(*(r.failure for r in reads.values()))} END"
        )
        reason = failures(read_failures, *reasons)
    else:
        reason = (
            f"CASE WHEN NOT ({reads_ok}) THEN {quote(READS_PENDING)} ELSE {failures(*reasons)} END"
        )
    canonical = ", ".join(f"{field} := {columns[field]}" for field in contract.field_names())
    return f"""
WITH extracted AS (
    -- One extraction per record; NULL for text that is not a JSON object.
    SELECT *, {records.source_values(paths)} AS source_values
    FROM {records.relation}
),
stage0 AS (
    SELECT
        * EXCLUDE (source_values),
        {as_struct("source_values", paths)} AS r,
        {", ".join(f"{sql} AS {name}" for name, sql in path_columns("r", "source_values", paths, records.strings()).items())}
    FROM extracted
),
{stage_ctes},
judged AS (
    SELECT
        *,
        {reason} AS reason
    FROM {last}
)
SELECT
    source_file,
    line_number,
    CASE WHEN r IS NOT NULL AND reason IS NULL
         THEN CAST(to_json(struct_pack({canonical})) AS VARCHAR)
         ELSE {records.record_text()} END AS raw_line,
    CASE WHEN read_error IS NOT NULL THEN read_error WHEN r IS NOT NULL THEN reason END AS read_error
FROM judged
"""
