"""The weekly audit runs every dbt data test over all of history and fails by name."""

from __future__ import annotations

from datetime import date

import duckdb
from dagster import DagsterInstance
from nightly import run_window

from sample_data.generate import generate_logs

FIRST = date(2026, 3, 1)


def test_the_weekly_audit_checks_days_no_build_touched(data_dir, tmp_path):
    from orchestration.definitions import build_definitions

    defs = build_definitions(data_dir)
    generate_logs(data_dir.landing_dir, FIRST, 2, requests_per_day=300, seed=7)
    # `dbt run`: the audit below runs every data test, the build's own among them.
    run_window(data_dir, FIRST, date(2026, 3, 3), tmp_path, command="run")
    audit = defs.resolve_job_def("weekly_audit_job")
    with DagsterInstance.ephemeral() as instance:
        assert audit.execute_in_process(instance=instance).success

        # One request counted twice on the first day, which the next nightly build does
        # not rebuild, so only a test over all of history can see it.
        with duckdb.connect(str(data_dir.warehouse_path)) as connection:
            connection.execute(
                "INSERT INTO main_facts.fct_requests SELECT * FROM main_facts.fct_requests "
                "WHERE event_date = ? LIMIT 1",
                [FIRST],
            )
        result = audit.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert "unique_fct_requests_request_id_in_all_history (fail)" in failure.description
    assert "accepted_values_ingest_reconciliation_reconciles" in failure.description
