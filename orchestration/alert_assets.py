"""The alerts as a Dagster asset: evaluated after every build that changes the marts.

Downstream of every mart and on the landing-day partitions, so that the nightly job, a
backfill (one run, BackfillPolicy.single_run) and a re-run for late files all end with
it; it evaluates the marts as they are now, whatever the partition. It writes the
alert tables, so it takes the one-writer pool.

A build is never failed by the alerts: a mistake in the budgets file is logged as its
one line and the asset still materializes (with the line as metadata); deliveries that
fail are recorded and retried at the next evaluation (alerts/state.py).
"""

import warnings

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    BetaWarning,
    FreshnessPolicy,
    MaterializeResult,
    PartitionsDefinition,
    asset,
)

from alerts.budgets_file import BudgetsFileError
from alerts.evaluate import evaluate_alerts
from alerts.figures import GATEWAY_LIMITS_MODEL
from ingest.warehouse import WarehouseBusyError
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

ALERTS_KEY = AssetKey(["alerts", "evaluation"])
ALERTS_GROUP = "alerts"


def build_alert_evaluation(
    partitions: PartitionsDefinition,
    dbt_models: AssetsDefinition,
    freshness: FreshnessPolicy | None = None,
) -> AssetsDefinition:
    """The alerts asset over `partitions`, after every mart of `dbt_models`; stale, like
    the nightly job's other assets, when the nightly run did not evaluate them."""
    # Every mart, and the gateway's limits that budgets can come from.
    marts = sorted(
        key
        for key in dbt_models.keys
        if key.path[0] == "marts" or key.path[-1] == GATEWAY_LIMITS_MODEL
    )

    # `backfill_policy` is a beta parameter of @asset: Dagster would warn each time the
    # definitions load, in every `llm-usage` command's output (the dbt and ingest assets'
    # decorators take it without a warning).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        decorator = asset(
            key=ALERTS_KEY,
            deps=marts,
            partitions_def=partitions,
            backfill_policy=BackfillPolicy.single_run(),
            group_name=ALERTS_GROUP,
            freshness_policy=freshness,
            pool=WAREHOUSE_POOL,
            description="Budgets, forecasts and alert rules evaluated on the marts; alert state "
            "and history in the warehouse's alerts schema; messages through apprise "
            "(docs/alerts.md).",
        )

    @decorator
    def alert_evaluation(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        settings = warehouse.settings
        if settings.on_spark:
            note = "Alerts run on the DuckDB warehouse only; LLM_USAGE_ENGINE=spark skips them."
            context.log.warning(note)
            return MaterializeResult(metadata={"alerts": note})
        try:
            connection = warehouse.connect(wait_seconds=settings.write_wait_seconds)
        except WarehouseBusyError as error:
            # The marts are built; the next build evaluates them (and retries deliveries).
            note = f"Alerts not evaluated this time: {error}"
            context.log.warning(note)
            return MaterializeResult(metadata={"alerts": note})
        try:
            evaluation = evaluate_alerts(settings, connection)
        except BudgetsFileError as error:
            context.log.error(str(error))
            return MaterializeResult(metadata={"alerts": str(error)})
        finally:
            connection.close()
        context.log.info(evaluation.summary())
        for note in evaluation.unmatched:
            context.log.warning(note)
        for failure in evaluation.failed:
            context.log.warning(f"Alert delivery failed, retried next time: {failure}")
        return MaterializeResult(
            metadata={
                "alerts": evaluation.summary(),
                "fired": len(evaluation.fired),
                "resolved": len(evaluation.resolved),
                "delivered": evaluation.delivered,
                "failed_deliveries": len(evaluation.failed),
            }
        )

    return alert_evaluation
