"""Data-quality gates: the rules of `quality.rules` as Dagster asset checks.

Checks on `raw/request_logs` run inside the raw asset's step, right after a landing day
is loaded (orchestration/ingest_assets.py), because their verdict decides whether the
day counts as materialized: a day they hold is not. The error-severity ones are
blocking: if one fails, Dagster fails the step and skips every dbt model of the run, so
a bad day never reaches the facts or marts (and the days already built stay as they
were). Warning checks are shown, never block: the distribution guards, and the
plausibility of the performance fields (latency, first token, throughput), whose failing
records keep their sums and leave only the figures they would distort (docs/metrics.md).

Checks on `facts/fct_requests` re-validate the built fact after dbt. dbt builds the
fact and the marts in one step, so nothing outside that step is left to block; what
stops a bad fact row from reaching the marts inside it are the dbt tests on the fact
(dbt build skips a model's children when its tests fail).

Every failed check carries, as metadata, which expectation failed, how many rows, and
example request_ids with their values.
"""

from datetime import date

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)

from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from quality.holds import check_and_hold
from quality.rules import (
    ERROR,
    FACT_CHECKS,
    RAW_CHECKS,
    CheckOutcome,
    CheckSpec,
    check_fact,
)

RAW_KEY = AssetKey(["raw", "request_logs"])
FACT_KEY = AssetKey(["facts", "fct_requests"])


def _spec(asset_key: AssetKey, check: CheckSpec, blocking: bool) -> AssetCheckSpec:
    return AssetCheckSpec(
        name=check.name,
        asset=asset_key,
        description=f"{check.description} ({check.severity}"
        + (", blocks downstream models)" if blocking else ")"),
        blocking=blocking,
    )


def _landing_window(
    context: AssetCheckExecutionContext | AssetExecutionContext,
) -> tuple[date, date]:
    keys = context.partition_keys
    return date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])


def _examples_table(outcome: CheckOutcome) -> str:
    lines = []
    for e in outcome.expectations:
        if e.success:
            continue
        lines.append(
            f"**{e.name}**: {e.unexpected_count:,} of {e.rows_checked:,} {e.unit} fail "
            f"({e.description})\n"
        )
        if e.examples:
            columns = list(e.examples[0])
            lines.append("| " + " | ".join(columns) + " |")
            lines.append("|" + "---|" * len(columns))
            for row in e.examples:
                lines.append("| " + " | ".join(str(row.get(c)) for c in columns) + " |")
            lines.append("")
    return "\n".join(lines) or "All expectations met."


def to_check_result(
    asset_key: AssetKey, outcome: CheckOutcome, first: date, last: date
) -> AssetCheckResult:
    failed = [e for e in outcome.expectations if not e.success]
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=outcome.name,
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR if outcome.severity == ERROR else AssetCheckSeverity.WARN,
        description=outcome.explanation(),
        metadata={
            "landing_days": f"{first} .. {last}" if first != last else str(first),
            "rows_checked": outcome.rows_checked,
            "unexpected_count": outcome.unexpected_count,
            "failed_expectations": MetadataValue.json([e.name for e in failed]),
            "expectations": MetadataValue.json(
                [
                    {
                        "expectation": e.name,
                        "description": e.description,
                        "success": e.success,
                        "unexpected_count": e.unexpected_count,
                        "checked": e.rows_checked,
                        "unit": e.unit,
                        "examples": e.examples,
                    }
                    for e in outcome.expectations
                ]
            ),
            "explanation": MetadataValue.md(_examples_table(outcome)),
        },
    )


def _check_results(context: AssetCheckExecutionContext, key, outcomes, first, last):
    """One check result per rule; failures are also logged so the run log explains them."""
    for outcome in outcomes:
        if not outcome.passed:
            context.log.warning(f"{outcome.name} ({outcome.severity}):\n{outcome.explanation()}")
        yield to_check_result(key, outcome, first, last)


# On the raw asset itself (orchestration/ingest_assets.py), which yields their results.
RAW_CHECK_SPECS = [_spec(RAW_KEY, c, blocking=c.severity == ERROR) for c in RAW_CHECKS]


def raw_check_results(
    context: AssetExecutionContext, warehouse: WarehouseResource, first: date, last: date
) -> tuple[list[AssetCheckResult], dict[date, str]]:
    """Run the raw checks on landing days [first, last]; return their results and the
    days they put on hold (quality.holds), with the reason."""
    # Read-write: the outcome quarantines failing records and holds days with a systemic
    # fault out of staging. A crash holds the window too, then fails the step.
    settings = warehouse.settings
    outcomes, held = check_and_hold(settings, first, last, settings.thresholds)
    for day, why in held.items():
        context.log.warning(
            f"Landing day {day} is held out of the facts and marts until its files are "
            f"fixed and a run over it passes these checks: {why}."
        )
    if not held:
        # Failing records were quarantined and the rest of each day loads: the blocking
        # checks pass, saying how many records they set aside.
        outcomes = [_quarantined(o) for o in outcomes]
    return list(_check_results(context, RAW_KEY, outcomes, first, last)), held


def _quarantined(outcome: CheckOutcome) -> CheckOutcome:
    if outcome.severity != ERROR or outcome.passed:
        return outcome
    for expectation in outcome.expectations:
        if not expectation.success:
            expectation.success = True
            expectation.description += (
                f"; {expectation.unexpected_count:,} records quarantined "
                "(raw.quarantined_records), below max_failing_record_share"
            )
    return outcome


@multi_asset_check(
    name="fct_requests_quality",
    specs=[_spec(FACT_KEY, c, blocking=False) for c in FACT_CHECKS],
    description="Great Expectations rules on the requests whose latest delivery the run loaded.",
    compute_kind="great_expectations",
    pool=WAREHOUSE_POOL,
)
def fct_requests_quality(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
    first, last = _landing_window(context)
    with warehouse.connect(
        read_only=True, wait_seconds=warehouse.settings.write_wait_seconds
    ) as connection:
        outcomes = check_fact(connection, first, last, warehouse.settings.thresholds)
    yield from _check_results(context, FACT_KEY, outcomes, first, last)
