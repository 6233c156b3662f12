"""Data-quality rules for the token and latency fields, and their thresholds.

A rule is a Great Expectations 1.x expectation plus the DuckDB predicate that selects the
rows the expectation can reject. A partition can hold millions of rows, and Great
Expectations on pandas needs about a second per expectation per million rows, so DuckDB
does the scanning: for each rule it returns only the rows in the rule's scope that break
it, and GX validates the expectation on that compact frame. A row DuckDB leaves out
passes by construction, so GX's unexpected count on the frame is the partition's count;
`tests/test_quality.py` checks that against GX on the full frame. The distribution
guards work the same way on small per-provider / per-model aggregates.

Thresholds live in `Thresholds` (config/settings.py, part of the one `Settings` object):
every field can be overridden with an environment variable `LLM_USAGE_DQ_<FIELD>` (upper
case), and the table in README.md ("Data-quality checks") says what each one means.

No Dagster here: `orchestration/checks.py` turns the outcomes into asset checks.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from config.settings import SettingsError, Thresholds

if TYPE_CHECKING:
    # Only in annotations: the code location should not pay pandas' import (seconds on a
    # busy machine) before a run starts; GX imports it in the background during ingest.
    import pandas as pd

ERROR = "error"  # a failure keeps the partition out of the facts and marts
WARNING = "warning"  # a failure is shown, never blocks


# The thresholds are settings: `config.settings` reads them (LLM_USAGE_DQ_<FIELD>) with
# every other setting and checks them once; a bad one is a SettingsError naming its
# variable. The names stay here, where the checks that use them live.
ThresholdError = SettingsError


# ------------------------------------------------------------------------------ rules

# Expectation factories take the `great_expectations.expectations` module, so that GX is
# imported only when a check runs (importing it takes seconds).
ExpectationFactory = Callable[[Any, Thresholds], Any]


@dataclass(frozen=True)
class RowRule:
    """One expectation over individual records.

    `scope` limits the rows the expectation applies to, `violation` is true exactly for
    the rows in scope the expectation rejects (SQL, NULL-safe), and `columns` are what
    GX sees and the examples show besides `request_id`.
    """

    check: str
    name: str
    description: str
    columns: tuple[str, ...]
    violation: str
    expectation: ExpectationFactory
    scope: str = "true"

    def violation_sql(self, thresholds: Thresholds) -> str:
        """`violation` with the thresholds' values in place of their {names}."""
        return self.violation.format(**thresholds.model_dump())


def _between(column: str, **bounds) -> ExpectationFactory:
    def build(gxe, t: Thresholds):
        resolved = {k: (v(t) if callable(v) else v) for k, v in bounds.items()}
        return gxe.ExpectColumnValuesToBeBetween(column=column, **resolved)

    return build


def _not_null(column: str) -> ExpectationFactory:
    return lambda gxe, t: gxe.ExpectColumnValuesToNotBeNull(column=column)


def _a_at_least_b(a: str, b: str) -> ExpectationFactory:
    return lambda gxe, t: gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=a, column_B=b, or_equal=True, ignore_row_if="either_value_is_missing"
    )


def _equal(a: str, b: str) -> ExpectationFactory:
    return lambda gxe, t: gxe.ExpectColumnPairValuesToBeEqual(
        column_A=a, column_B=b, ignore_row_if="either_value_is_missing"
    )


TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)

# Throughput is a metric, so dbt defines it (dbt_project/macros/derived_fields.sql, used
# by fct_requests). The raw checks run before dbt, on records no model has read yet, so
# they render the same macros with plain Jinja rather than restate the formula.
DERIVED_FIELDS_MACROS = (
    Path(__file__).resolve().parent.parent / "dbt_project" / "macros" / "derived_fields.sql"
)


def _dbt_derived_field(macro: str, *arguments: str, **columns: str) -> str:
    import jinja2

    module = jinja2.Environment().from_string(DERIVED_FIELDS_MACROS.read_text()).module
    return " ".join(str(getattr(module, macro)(*arguments, **columns)).split())


def _plausibility_violation(macro: str, *ceilings: str) -> str:
    """The rows a plausibility macro of derived_fields.sql rejects, with each ceiling as
    the `{name}` placeholder `RowRule.violation_sql` fills from the thresholds, so the
    checks and dbt's figures judge a record by one definition and one setting."""
    return "not " + _dbt_derived_field(macro, *(f"{{{name}}}" for name in ceilings))


# Derived columns both relations expose (see `raw_relation` / `fact_relation`).
DERIVED_SQL = {
    "cache_read_plus_write": "coalesce(cached_input_tokens, 0) + coalesce(cache_write_tokens, 0)",
    "input_plus_output": "input_tokens + output_tokens",
    "throughput_tps": _dbt_derived_field(
        "throughput_tps", generation_ms=f"({_dbt_derived_field('generation_ms')})"
    ),
    # Hours from the start of the landing day (UTC) to created_at.
    "hours_from_landing_day": ("epoch(created_at - cast(landing_date as timestamptz)) / 3600.0"),
}

_TOKEN_RULES = [
    *(
        RowRule(
            "token_counts_valid",
            f"{column}_present",
            f"{column} is present on every record",
            (column,),
            f"{column} is null",
            _not_null(column),
        )
        for column in ("input_tokens", "output_tokens")
    ),
    *(
        RowRule(
            "token_counts_valid",
            f"{column}_non_negative",
            f"{column} >= 0",
            (column,),
            f"{column} < 0",
            _between(column, min_value=0),
        )
        for column in TOKEN_COLUMNS
    ),
    RowRule(
        "token_parts_within_totals",
        "cache_read_plus_write_le_input",
        "cached_input_tokens + cache_write_tokens <= input_tokens (both are parts of the input)",
        ("input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_read_plus_write"),
        "cache_read_plus_write > input_tokens",
        _a_at_least_b("input_tokens", "cache_read_plus_write"),
    ),
    RowRule(
        "token_parts_within_totals",
        "reasoning_le_output",
        "reasoning_tokens <= output_tokens (reasoning is part of the output)",
        ("output_tokens", "reasoning_tokens"),
        "reasoning_tokens > output_tokens",
        _a_at_least_b("output_tokens", "reasoning_tokens"),
    ),
    RowRule(
        "output_tokens_plausible",
        "output_tokens_below_ceiling",
        "output_tokens <= max_output_tokens for one request",
        ("output_tokens", "model"),
        "output_tokens > {max_output_tokens}",
        _between("output_tokens", max_value=lambda t: t.max_output_tokens),
    ),
]

# Plausibility of the performance fields. A record that fails one is still a request: its
# tokens, requests and spend count in every sum, and dbt leaves it out of the figures the
# field feeds only (fct_requests.in_*_figures, the same macros). So these are warnings:
# counted, with examples, never quarantined, never holding a day. A gateway cache hit or
# a mocked call answers in milliseconds, which puts a whole day's fast records over the
# throughput ceiling: as a blocking check that held the day and lost its tokens and spend.
_LATENCY_RULES = [
    RowRule(
        "latency_valid",
        "latency_ms_in_range",
        "0 < latency_ms < max_latency_ms",
        ("latency_ms", "model", "provider"),
        _plausibility_violation("latency_plausible", "max_latency_ms"),
        _between(
            "latency_ms",
            min_value=0,
            strict_min=True,
            max_value=lambda t: t.max_latency_ms,
            strict_max=True,
        ),
    ),
    # No rule on a missing first_token_ms: such a record is otherwise sound (its tokens,
    # cost and latency count), so quarantining it, or holding its day, would hide real
    # usage; the warning check first_token_null_share watches how many lack it.
    RowRule(
        "first_token_valid",
        "first_token_le_latency",
        "first_token_ms <= latency_ms (the first token comes before the last byte)",
        ("first_token_ms", "latency_ms", "provider"),
        _plausibility_violation("first_token_plausible"),
        _a_at_least_b("latency_ms", "first_token_ms"),
    ),
    RowRule(
        "throughput_plausible",
        "throughput_below_ceiling",
        "output_tokens / generation seconds < max_throughput_tps",
        ("throughput_tps", "output_tokens", "latency_ms", "first_token_ms", "model"),
        _plausibility_violation("throughput_plausible", "max_throughput_tps"),
        _between("throughput_tps", max_value=lambda t: t.max_throughput_tps, strict_max=True),
    ),
]

_KEY_RULES = [
    RowRule(
        "request_keys_valid",
        "request_id_present",
        "request_id is present",
        ("request_id",),
        "request_id is null",
        _not_null("request_id"),
    ),
    RowRule(
        "created_at_in_window",
        "created_at_in_landing_window",
        "created_at lies in the landing day, or up to allowed_lateness_days before it",
        ("created_at", "landing_date", "hours_from_landing_day"),
        "not (hours_from_landing_day >= -24 * {allowed_lateness_days} "
        "and hours_from_landing_day < 24)",
        _between(
            "hours_from_landing_day",
            min_value=lambda t: -24.0 * t.allowed_lateness_days,
            max_value=24,
            strict_max=True,
        ),
    ),
]

RAW_ROW_RULES = _TOKEN_RULES + _LATENCY_RULES + _KEY_RULES

# The fact's checks are the blocking ones (FACT_CHECKS): the warnings on the performance
# fields were reported on the raw records, and the fact carries their verdict as
# in_*_figures.
FACT_ROW_RULES = _TOKEN_RULES + [
    _KEY_RULES[0],
    RowRule(
        "total_tokens_consistent",
        "total_equals_input_plus_output",
        "total_tokens = input_tokens + output_tokens",
        ("total_tokens", "input_tokens", "output_tokens", "input_plus_output"),
        "total_tokens is distinct from input_plus_output",
        _equal("total_tokens", "input_plus_output"),
    ),
]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    severity: str
    description: str


# Every check a relation gets, in the order the UI lists them.
RAW_CHECKS = [
    CheckSpec("token_counts_valid", ERROR, "Token counts are present where required and >= 0."),
    CheckSpec(
        "token_parts_within_totals",
        ERROR,
        "Cache read + cache write <= input tokens; reasoning <= output tokens.",
    ),
    CheckSpec(
        "output_tokens_plausible",
        ERROR,
        "No request reports more output tokens than one request can produce.",
    ),
    CheckSpec(
        "latency_valid",
        WARNING,
        "latency_ms is positive and below the ceiling; a record outside keeps its tokens, "
        "requests and spend and is left out of the latency and throughput figures.",
    ),
    CheckSpec(
        "first_token_valid",
        WARNING,
        "first_token_ms is <= latency_ms; a record after it keeps its tokens, requests and "
        "spend and is left out of the first-token figures.",
    ),
    CheckSpec(
        "throughput_plausible",
        WARNING,
        "Derived output throughput is below the ceiling; a record above it (a cache hit, a "
        "mocked call) keeps its tokens, requests and spend and is left out of the "
        "throughput figures.",
    ),
    CheckSpec("request_keys_valid", ERROR, "request_id is present (and, on the fact, unique)."),
    CheckSpec(
        "created_at_in_window",
        ERROR,
        "created_at falls in the landing day or within the allowed lateness before it.",
    ),
    CheckSpec(
        "provider_error_rate",
        WARNING,
        "No provider fails more than the allowed share of its requests in any hour.",
    ),
    CheckSpec("first_token_null_share", WARNING, "Few streamed successes lack first_token_ms."),
    CheckSpec(
        "model_latency_vs_trailing",
        WARNING,
        "No model's mean latency jumps against its trailing days.",
    ),
]

FACT_CHECKS = [c for c in RAW_CHECKS if c.severity == ERROR and c.name != "created_at_in_window"]
FACT_CHECKS.append(
    CheckSpec(
        "total_tokens_consistent",
        ERROR,
        "total_tokens = input_tokens + output_tokens on every request.",
    )
)

# ------------------------------------------------------------------------- relations


def _raw_derived_sql() -> dict[str, str]:
    """DERIVED_SQL as the raw checks judge records: a gateway cache hit
    (derived_fields.sql, gateway_cache_hit) timed the cache, not a model, so it has no
    throughput to judge, as it is in no throughput figure: a proxy with response caching
    on raises no throughput warning for its hits."""
    hit = _dbt_derived_field("gateway_cache_hit")
    return {
        **DERIVED_SQL,
        "throughput_tps": f"case when {hit} then null else {DERIVED_SQL['throughput_tps']} end",
    }


def raw_relation(first: date, last: date) -> tuple[str, dict]:
    """The raw records of landing days [first, last], with the derived columns."""
    derived = ", ".join(f"{sql} as {name}" for name, sql in _raw_derived_sql().items())
    return (
        f"(select *, {derived} from raw.request_logs where landing_date between $first and $last)",
        {"first": first, "last": last},
    )


def fact_relation(first: date, last: date) -> tuple[str, dict]:
    """The requests of fct_requests whose kept delivery landed in [first, last]."""
    derived = ", ".join(
        f"{sql} as {name}" for name, sql in DERIVED_SQL.items() if name != "throughput_tps"
    )
    return (
        f"(select *, {derived} from main_facts.fct_requests "
        f"where landing_date between $first and $last)",
        {"first": first, "last": last},
    )


# ------------------------------------------------------------------------- outcomes


@dataclass
class ExpectationOutcome:
    name: str
    description: str
    success: bool
    unexpected_count: int
    rows_checked: int
    examples: list[dict] = field(default_factory=list)
    unit: str = "rows"  # what unexpected_count and rows_checked count


@dataclass
class CheckOutcome:
    name: str
    severity: str
    description: str
    rows_checked: int
    expectations: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(e.success for e in self.expectations)

    @property
    def unexpected_count(self) -> int:
        return sum(e.unexpected_count for e in self.expectations)

    def explanation(self) -> str:
        """One line per failed expectation, for a person to act on."""
        lines = []
        for e in self.expectations:
            if not e.success:
                lines.append(
                    f"{e.name}: {e.unexpected_count:,} of {e.rows_checked:,} {e.unit} fail "
                    f"({e.description})"
                )
        return "\n".join(lines) or "all expectations met"


# ----------------------------------------------------------------------------- GX


def start_importing_great_expectations() -> threading.Thread:
    """Import GX in a background thread and return it.

    The import costs seconds of CPU once per process. A caller that has other work first
    (the nightly run: the ingest, which spends its time inside DuckDB) can overlap the
    two; GxValidator() then finds the modules loaded, or waits on Python's import lock
    for the rest.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    thread = threading.Thread(
        target=importlib.import_module, args=("great_expectations",), name="import-gx", daemon=True
    )
    thread.start()
    return thread


class GxValidator:
    """An ephemeral GX context with one pandas dataframe asset, created once per run."""

    def __init__(self) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gxe = gxe
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = self.context.data_sources.add_pandas("quality_checks")
        frame_asset = source.add_dataframe_asset("frame")
        self.batch_definition = frame_asset.add_batch_definition_whole_dataframe("whole")

    def validate(self, frame: pd.DataFrame, expectation, index_columns: list[str], examples: int):
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            expectation,
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": examples,
                "unexpected_index_column_names": index_columns,
            },
        )
        # GX reports an expectation it could not evaluate as a plain failure; that is a
        # defect in the rule, not bad data, so say so instead of blaming the partition.
        errors = _evaluation_errors(result.exception_info)
        if errors:
            raise RuleError(f"{type(expectation).__name__} could not be evaluated: {errors[0]}")
        return result


class RuleError(RuntimeError):
    """A rule could not be evaluated (a defect in the rule, not in the data)."""


def _evaluation_errors(info: dict) -> list[str]:
    if "raised_exception" in info:
        return [info["exception_message"]] if info["raised_exception"] else []
    return [e for part in info.values() if isinstance(part, dict) for e in _evaluation_errors(part)]


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if value != value else value
    return str(value)


def _examples(result, limit: int) -> list[dict]:
    rows = result.result.get("partial_unexpected_index_list") or []
    return [{k: _jsonable(v) for k, v in row.items()} for row in rows[:limit]]


def run_row_rules(
    connection: duckdb.DuckDBPyConnection,
    relation: tuple[str, dict],
    rules: list[RowRule],
    checks: list[CheckSpec],
    thresholds: Thresholds,
    validator: GxValidator | None = None,
) -> list[CheckOutcome]:
    """Validate `rules` on `relation`, grouped into one outcome per check in `checks`."""
    validator = validator or GxValidator()
    source, params = relation
    outcomes = {
        c.name: CheckOutcome(c.name, c.severity, c.description, 0)
        for c in checks
        if any(r.check == c.name for r in rules)
    }
    counts_sql = ", ".join(f"count(*) filter (where {rule.scope})" for rule in rules)
    total, *in_scope = connection.execute(
        f"select count(*), {counts_sql} from {source}", params
    ).fetchone()
    for rule, scoped_rows in zip(rules, in_scope):
        columns = list(dict.fromkeys(("request_id", *rule.columns)))
        frame = connection.execute(
            f"select cast(landing_date as varchar) as landing_date, {', '.join(columns)} "
            f"from {source} "
            f"where ({rule.scope}) and ({rule.violation_sql(thresholds)}) "
            "order by request_id",
            params,
        ).fetchdf()
        expectation = rule.expectation(validator.gxe, thresholds)
        index = ["request_id", "landing_date"]
        result = validator.validate(frame, expectation, index, thresholds.examples)
        unexpected = int(result.result.get("unexpected_count") or 0)
        outcome = outcomes[rule.check]
        outcome.rows_checked = total
        outcome.expectations.append(
            ExpectationOutcome(
                rule.name,
                rule.description,
                bool(result.success),
                unexpected,
                scoped_rows,
                _examples(result, thresholds.examples),
            )
        )
    return list(outcomes.values())


def _aggregate_outcome(
    validator: GxValidator,
    spec: CheckSpec,
    name: str,
    description: str,
    frame: pd.DataFrame,
    expectation,
    index_columns: list[str],
    thresholds: Thresholds,
    rows_checked: int,
    unit: str,
) -> CheckOutcome:
    result = validator.validate(frame, expectation, index_columns, thresholds.examples)
    outcome = CheckOutcome(spec.name, spec.severity, spec.description, rows_checked)
    outcome.expectations.append(
        ExpectationOutcome(
            name,
            description,
            bool(result.success),
            int(result.result.get("unexpected_count") or 0),
            len(frame),
            _examples(result, thresholds.examples),
            unit,
        )
    )
    return outcome


def run_distribution_guards(
    connection: duckdb.DuckDBPyConnection,
    first: date,
    last: date,
    thresholds: Thresholds,
    validator: GxValidator | None = None,
) -> list[CheckOutcome]:
    """The warning checks on landing days [first, last] of raw.request_logs."""
    validator = validator or GxValidator()
    gxe = validator.gxe
    t = thresholds
    specs = {c.name: c for c in RAW_CHECKS}
    params = {"first": first, "last": last, "min_requests": t.min_requests}
    rows_checked = connection.execute(
        "select count(*) from raw.request_logs where landing_date between $first and $last",
        {"first": first, "last": last},
    ).fetchone()[0]

    # An outage shows as one provider failing for an hour; a daily rate would dilute it.
    provider_hours = connection.execute(
        """
        select provider, date_trunc('hour', created_at) as hour_start,
               count(*) as requests, count(*) filter (where status = 'error') as errors,
               errors / requests as error_rate
        from raw.request_logs
        where landing_date between $first and $last
        group by all having count(*) >= $min_requests
        order by provider, hour_start
        """,
        params,
    ).fetchdf()
    provider_hours["hour_start"] = provider_hours["hour_start"].astype(str)
    provider = _aggregate_outcome(
        validator,
        specs["provider_error_rate"],
        "provider_hour_error_rate_below_ceiling",
        f"each provider's error rate within an hour <= {t.max_provider_error_rate} "
        f"(hours with >= {t.min_requests} requests)",
        provider_hours,
        gxe.ExpectColumnValuesToBeBetween(column="error_rate", max_value=t.max_provider_error_rate),
        ["provider", "hour_start", "requests", "errors"],
        t,
        rows_checked,
        "provider-hours",
    )

    null_share = connection.execute(
        """
        select landing_date, count(*) as streamed_successes,
               count(*) filter (where first_token_ms is null) as missing_first_token,
               missing_first_token / streamed_successes as null_share
        from raw.request_logs
        where landing_date between $first and $last and stream and status = 'success'
        group by all order by landing_date
        """,
        {"first": first, "last": last},
    ).fetchdf()
    null_share["landing_date"] = null_share["landing_date"].astype(str)
    first_token = _aggregate_outcome(
        validator,
        specs["first_token_null_share"],
        "first_token_null_share_below_ceiling",
        f"share of streamed successes without first_token_ms <= {t.max_first_token_null_share}",
        null_share,
        gxe.ExpectColumnValuesToBeBetween(
            column="null_share", max_value=t.max_first_token_null_share
        ),
        ["landing_date", "streamed_successes", "missing_first_token"],
        t,
        rows_checked,
        "landing days",
    )

    # Each landing day's successful requests per model against the same model on the
    # `trailing_days` landing days before it; models new or rare on either side are skipped.
    latency = connection.execute(
        """
        with per_day as (
            select landing_date, model, count(*) as requests, avg(latency_ms) as mean_latency_ms
            from raw.request_logs
            where status = 'success'
              and landing_date between $first - to_days($trailing) and $last
            group by all
        ),
        today as (select * from per_day where landing_date between $first and $last),
        compared as (
            select today.landing_date, today.model, today.requests, today.mean_latency_ms,
                   sum(past.mean_latency_ms * past.requests) / sum(past.requests)
                       as trailing_mean_latency_ms,
                   sum(past.requests) as trailing_requests
            from today join per_day as past
              on past.model = today.model
             and past.landing_date >= today.landing_date - to_days($trailing)
             and past.landing_date < today.landing_date
            where today.requests >= $min_requests
            group by today.landing_date, today.model, today.requests, today.mean_latency_ms
            having sum(past.requests) >= $min_requests
        )
        select *, mean_latency_ms / trailing_mean_latency_ms as ratio_to_trailing
        from compared order by landing_date, model
        """,
        {**params, "trailing": t.trailing_days},
    ).fetchdf()
    latency["landing_date"] = latency["landing_date"].astype(str)
    model_latency = _aggregate_outcome(
        validator,
        specs["model_latency_vs_trailing"],
        "model_mean_latency_within_trailing_ratio",
        f"each model's mean latency <= {t.max_latency_ratio_to_trailing} x its mean over the "
        f"{t.trailing_days} landing days before",
        latency,
        gxe.ExpectColumnValuesToBeBetween(
            column="ratio_to_trailing", max_value=t.max_latency_ratio_to_trailing
        ),
        ["landing_date", "model", "mean_latency_ms", "trailing_mean_latency_ms"],
        t,
        rows_checked,
        "model-days",
    )
    return [provider, first_token, model_latency]


def run_request_id_uniqueness(
    connection: duckdb.DuckDBPyConnection,
    relation: tuple[str, dict],
    outcome: CheckOutcome,
    thresholds: Thresholds,
    validator: GxValidator,
) -> None:
    """Add the uniqueness expectation to `outcome` (the fact's request_keys_valid check)."""
    source, params = relation
    frame = connection.execute(
        f"""
        with repeated as (
            select request_id from {source} where request_id is not null
            group by request_id having count(*) > 1
        )
        select request_id, cast(created_at as varchar) as created_at
        from {source} semi join repeated using (request_id)
        order by request_id
        """,
        params,
    ).fetchdf()
    result = validator.validate(
        frame,
        validator.gxe.ExpectColumnValuesToBeUnique(column="request_id"),
        ["request_id", "created_at"],
        thresholds.examples,
    )
    outcome.expectations.append(
        ExpectationOutcome(
            "request_id_unique",
            "one row per request_id",
            bool(result.success),
            int(result.result.get("unexpected_count") or 0),
            outcome.rows_checked,
            _examples(result, thresholds.examples),
        )
    )


def check_raw(
    connection: duckdb.DuckDBPyConnection, first: date, last: date, thresholds: Thresholds
) -> list[CheckOutcome]:
    """Every check on raw.request_logs for landing days [first, last], in RAW_CHECKS order."""
    validator = GxValidator()
    relation = raw_relation(first, last)
    outcomes = run_row_rules(connection, relation, RAW_ROW_RULES, RAW_CHECKS, thresholds, validator)
    # No uniqueness rule here: the raw layer keeps every delivery, and a redelivery may
    # correct the record (the contract: a second delivery replaces the first). The fact,
    # one row per request, is where request_id must be unique.
    outcomes += run_distribution_guards(connection, first, last, thresholds, validator)
    order = [c.name for c in RAW_CHECKS]
    return sorted(outcomes, key=lambda o: order.index(o.name))


def check_fact(
    connection: duckdb.DuckDBPyConnection, first: date, last: date, thresholds: Thresholds
) -> list[CheckOutcome]:
    """Every check on main_facts.fct_requests for requests landed in [first, last]."""
    validator = GxValidator()
    relation = fact_relation(first, last)
    outcomes = run_row_rules(
        connection, relation, FACT_ROW_RULES, FACT_CHECKS, thresholds, validator
    )
    keys = next(o for o in outcomes if o.name == "request_keys_valid")
    run_request_id_uniqueness(connection, relation, keys, thresholds, validator)
    order = [c.name for c in FACT_CHECKS]
    return sorted(outcomes, key=lambda o: order.index(o.name))
