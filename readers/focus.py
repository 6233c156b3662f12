"""The spend as a FOCUS cost and usage dataset (FinOps Open Cost and Usage Specification,
version FOCUS_VERSION; docs/exports.md has the column mapping).

One row per charge period (a day of the reporting time zone the warehouse was built
with, as UTC instants) x API key x model x provider (x organization, team, project and
any other low-cardinality dimension declared, as `x_` columns: DIMENSION_COLUMNS), from
the pay-as-you-go rows of main_facts.fct_usage_daily. FOCUS
needs a cost on every row (BilledCost and the other cost columns are never null), and a
request without a cost is unknown, not free: so a row holds only the requests whose cost
is known (its cost, tokens and x_Requests), and the requests of the same day, key, model
and provider without a cost are counted beside them in x_RequestsWithoutCost and
x_TokensWithoutCost, never priced at 0. Where none of a group's requests has a cost
there is no row; `FocusWritten.notes` says how many requests and tokens were left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

from config.dimensions import load_dimensions
from config.settings import Settings
from readers.export import ExportError, write_export
from readers.filters import NONE
from readers.report import period_end
from readers.warehouse import QueryError, read_query

FOCUS_VERSION = "1.0"
FORMATS = ("parquet", "csv")
SERVICE_CATEGORY = "AI and Machine Learning"
UNIT = "Tokens"

# Every column of the dataset with its SQL over the `usage` rows, in the spec's order;
# the one declaration of the mapping (docs/exports.md lists it). `?` are the parameters
# of PARAMETERS, in the order they appear.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("BilledCost", "spend_usd"),
    ("BillingAccountId", "?"),
    ("BillingAccountName", "NULL::VARCHAR"),
    ("BillingCurrency", "'USD'"),
    ("BillingPeriodEnd", "timezone(?, (month_start + INTERVAL 1 MONTH)::TIMESTAMP)"),
    ("BillingPeriodStart", "timezone(?, month_start::TIMESTAMP)"),
    ("ChargeCategory", "'Usage'"),
    ("ChargeClass", "NULL::VARCHAR"),
    ("ChargeDescription", "model || ' tokens, served by ' || provider"),
    ("ChargeFrequency", "'Usage-Based'"),
    ("ChargePeriodEnd", "timezone(?, (event_date + 1)::TIMESTAMP)"),
    ("ChargePeriodStart", "timezone(?, event_date::TIMESTAMP)"),
    ("CommitmentDiscountCategory", "NULL::VARCHAR"),
    ("CommitmentDiscountId", "NULL::VARCHAR"),
    ("CommitmentDiscountName", "NULL::VARCHAR"),
    ("CommitmentDiscountStatus", "NULL::VARCHAR"),
    ("CommitmentDiscountType", "NULL::VARCHAR"),
    ("ConsumedQuantity", "CAST(tokens_with_cost AS DOUBLE)"),
    ("ConsumedUnit", f"'{UNIT}'"),
    ("ContractedCost", "spend_usd"),
    ("ContractedUnitPrice", "NULL::DOUBLE"),
    ("EffectiveCost", "spend_usd"),
    ("InvoiceIssuerName", "provider"),
    ("ListCost", "spend_usd"),
    ("ListUnitPrice", "NULL::DOUBLE"),
    ("PricingCategory", "'Standard'"),
    ("PricingQuantity", "CAST(tokens_with_cost AS DOUBLE)"),
    ("PricingUnit", f"'{UNIT}'"),
    ("ProviderName", "provider"),
    # A model slug names its maker first (openai/gpt-5); a bare one, its provider's.
    (
        "PublisherName",
        "CASE WHEN model LIKE '%/%' THEN split_part(model, '/', 1) ELSE provider END",
    ),
    ("RegionId", "NULL::VARCHAR"),
    ("RegionName", "NULL::VARCHAR"),
    ("ResourceId", "api_key_id"),
    ("ResourceName", "api_key_name"),
    ("ResourceType", "'API key'"),
    ("ServiceCategory", f"'{SERVICE_CATEGORY}'"),
    ("ServiceName", "model"),
    ("SkuId", "model"),
    # The price of a model's tokens at one provider (the gateway reports no finer price).
    ("SkuPriceId", "provider || ':' || model"),
    ("SubAccountId", "NULL::VARCHAR"),
    ("SubAccountName", "NULL::VARCHAR"),
    ("Tags", "NULL::VARCHAR"),
    ("x_ReportingDate", "event_date"),
    ("x_Requests", "requests_with_cost"),
    ("x_RequestsWithoutCost", "requests - requests_with_cost"),
    ("x_TokensWithoutCost", "total_tokens - tokens_with_cost"),
)
# The dimensions with FOCUS columns of their own (ResourceId, ServiceName, ProviderName).
FOCUS_OWN = ("api_key_id", "model", "provider")


def _extra_dimensions():
    """The low-cardinality dimensions of the usage fact (organization, team, project, ...
    as dbt_project.yml declares them) that FOCUS has no column of its own for."""
    return [d for d in load_dimensions() if d.cardinality == "low" and d.column not in FOCUS_OWN]


def dimension_columns() -> list[tuple[str, str]]:
    """Those dimensions as extension columns, which the spec names with an `x_` prefix:
    x_TeamId, x_TeamName. NULL where a request names none."""
    columns = []
    for dimension in _extra_dimensions():
        stem = "x_" + "".join(part.capitalize() for part in dimension.name.split("_"))
        present = f"{dimension.column} <> '{NONE}'"
        columns.append((f"{stem}Id", f"CASE WHEN {present} THEN {dimension.column} END"))
        if dimension.name_column:
            columns.append((f"{stem}Name", f"CASE WHEN {present} THEN {dimension.name_column} END"))
    return columns


def _usage_sql() -> str:
    """The pay-as-you-go usage of the days asked for, one row per day x key x model x
    provider x those dimensions (the usage fact's grain)."""
    extra = "".join(
        f"{d.column}, " + (f"{d.name_column}, " if d.name_column else "")
        for d in _extra_dimensions()
    )
    return USAGE.format(dimensions=extra)


USAGE = """
SELECT event_date, month_start, api_key_id, api_key_name, model, provider, {dimensions}
    CAST(spend_usd AS DOUBLE) AS spend_usd,
    CAST(tokens_with_cost AS BIGINT) AS tokens_with_cost,
    CAST(requests_with_cost AS BIGINT) AS requests_with_cost,
    CAST(requests AS BIGINT) AS requests,
    CAST(total_tokens AS BIGINT) AS total_tokens
FROM main_facts.fct_usage_daily
WHERE billing_mode = 'pay_as_you_go' AND event_date BETWEEN ? AND ?
"""


def focus_month(month: date) -> tuple[date, date]:
    """The first and last day of the month holding `month`."""
    first = month.replace(day=1)
    return first, period_end("month", first)


def focus_query(settings: Settings, first: date, last: date) -> tuple[str, list]:
    """The SQL and parameters of the FOCUS rows of the days [first, last]."""
    zone = built_zone(settings)
    select, params = [], []
    for name, expression in (*COLUMNS, *dimension_columns()):
        select.append(f"{expression} AS {name}")
        if expression == "?":
            params.append(settings.focus_billing_account)
        elif "timezone(?" in expression:
            params.append(zone)
    query = (
        f"WITH usage AS ({_usage_sql()}) SELECT {', '.join(select)} FROM usage "
        "WHERE requests_with_cost > 0 "
        "ORDER BY event_date, api_key_id, model, provider"
        + "".join(f", {d.column}" for d in _extra_dimensions())
    )
    return query, [first, last, *params]


def built_zone(settings: Settings) -> str:
    """The reporting time zone the facts' days are in: the one the warehouse records it
    was built with (raw.model_build_settings), else the setting."""
    try:
        frame = read_query(
            settings, "SELECT reporting_timezone FROM raw.model_build_settings LIMIT 1"
        )
    except QueryError:  # a warehouse built before the table existed
        return settings.reporting_timezone
    return str(frame.iloc[0, 0]) if len(frame) else settings.reporting_timezone


@dataclass(frozen=True)
class FocusWritten:
    """What a FOCUS export wrote, and what it could not price."""

    first: date
    last: date
    rows: int
    requests_without_cost: int
    tokens_without_cost: int
    groups_without_any_cost: int

    def notes(self) -> list[str]:
        if not self.requests_without_cost:
            return []
        return [
            f"Note: {self.requests_without_cost:,} requests ({self.tokens_without_cost:,} "
            f"tokens) of {self.first} .. {self.last} have no known cost; they are not "
            "priced (not as 0): each row counts its own in x_RequestsWithoutCost and "
            f"x_TokensWithoutCost, and {self.groups_without_any_cost:,} day x key x model "
            "x provider groups with no cost at all have no row (llm-usage export usage "
            "--grain day lists their tokens)."
        ]


def _unpriced(settings: Settings, first: date, last: date) -> tuple[int, int, int]:
    frame = read_query(
        settings,
        f"WITH usage AS ({_usage_sql()}) SELECT "
        "coalesce(sum(requests - requests_with_cost), 0)::BIGINT AS requests, "
        "coalesce(sum(total_tokens - tokens_with_cost), 0)::BIGINT AS tokens, "
        "count(*) FILTER (WHERE requests_with_cost = 0)::BIGINT AS groups FROM usage",
        [first, last],
    )
    row = frame.iloc[0]
    return int(row["requests"]), int(row["tokens"]), int(row["groups"])


def _utc_instants(batch):
    """Instants as UTC timestamps, as FOCUS requires (DuckDB's carry the session's zone)."""
    import pyarrow as pa

    fields, arrays = [], []
    for field, array in zip(batch.schema, batch.columns):
        if pa.types.is_timestamp(field.type):
            field = field.with_type(pa.timestamp("us", tz="UTC"))
            array = array.cast(field.type)
        fields.append(field)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def write_focus(
    settings: Settings,
    first: date,
    last: date,
    fmt: str,
    out: Path | None,
    stdout: IO[bytes] | None = None,
    *,
    allow_empty: bool = True,
) -> FocusWritten:
    """Write the FOCUS rows of the days [first, last] to `out` (or `stdout`) as `fmt`.
    A range without any priced request writes a file of the columns and no row, or,
    unless `allow_empty`, raises ExportError("empty") and writes nothing."""
    if fmt not in FORMATS:
        raise ExportError(f"FOCUS data is written as {' or '.join(FORMATS)}, not {fmt}.")
    query, params = focus_query(settings, first, last)
    # One query: a month's rows are sorted at once (the memory of one month of rows).
    rows = write_export(
        settings,
        [(query, params)],
        fmt,
        out,
        stdout,
        schema_of=_utc_instants,
        allow_empty=allow_empty,
    )
    return FocusWritten(first, last, rows, *_unpriced(settings, first, last))
