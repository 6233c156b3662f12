"""Adding a dimension is declaring it (issue 25): one throwaway dimension, declared for a
build next to the project's own (dbt_project.yml's `vars: dimensions:` plus one entry,
passed as dbt's --vars), reaches the usage fact, every mart as a filter column, and the
filter combinations the marts hold, with no model, macro or test changed."""

from __future__ import annotations

import json
from datetime import date

import yaml
from conftest import use_data_dir
from mart_reference import NONE
from pipeline_in_process import WITHOUT_UNIT_TESTS, invoke_dbt

from cli.main import landing_days_present
from config.dimensions import DBT_PROJECT_FILE, parse_dimensions
from ingest.load import load_partition
from ingest.warehouse import connect, ensure_raw_schema, request_model_build
from readers.warehouse import read_query
from sample_data.generate import generate_logs

THROWAWAY = {
    "name": "region",
    "label": "Region",
    "column": "region_id",
    "name_column": None,
    "cardinality": "low",
    "filter": True,
    "sources": None,
}


def test_a_declared_throwaway_dimension_reaches_a_fact_a_mart_and_a_filter(tmp_path, monkeypatch):
    settings = use_data_dir(monkeypatch, tmp_path / "data")
    generate_logs(settings.landing_dir, date(2026, 3, 2), 2, requests_per_day=300, seed=3)
    days = landing_days_present(settings)
    for day in days:
        load_partition(settings, day)
    with connect(settings) as connection:
        ensure_raw_schema(connection)
        # The raw column a source would fill: a third of the requests name no region.
        connection.execute("ALTER TABLE raw.request_logs ADD COLUMN region_id VARCHAR")
        connection.execute(
            "UPDATE raw.request_logs SET region_id = CASE hash(request_id) % 3 "
            "WHEN 0 THEN NULL WHEN 1 THEN 'eu' ELSE 'us' END"
        )
        request_model_build(connection, days, "test")
    declared = yaml.safe_load(DBT_PROJECT_FILE.read_text())["vars"]["dimensions"] + [THROWAWAY]
    dimensions = parse_dimensions(declared)  # the Python side reads it as any other
    assert [d.column for d in dimensions if d.filter][-1] == "region_id"

    result = invoke_dbt(
        settings,
        "build",
        tmp_path,
        "--vars",
        json.dumps({"dimensions": declared}),
        *WITHOUT_UNIT_TESTS,
    )
    failed = [
        f"{node.node.unique_id}: {node.status} {node.message}"
        for node in getattr(result.result, "results", [])
        if str(node.status) not in ("success", "pass")
    ]
    assert result.success, result.exception or failed

    # A fact: the usage fact's grain carries it, '(none)' where the request names none.
    fact = read_query(
        settings,
        "SELECT region_id, sum(requests) AS requests FROM main_facts.fct_usage_daily "
        "WHERE billing_mode = 'pay_as_you_go' GROUP BY ALL",
    ).set_index("region_id")["requests"]
    assert set(fact.index) == {"eu", "us", NONE}
    # A mart: a filter column of every mart, '*' = all, with the region's own rows.
    filters = [d.column for d in dimensions if d.filter]
    all_others = " AND ".join(f"{c} = '*'" for c in filters if c != "region_id")
    summary = read_query(
        settings,
        f"SELECT region_id, requests FROM main_marts.mart_usage_summary "
        f"WHERE grain = 'month' AND {all_others}",
    ).set_index("region_id")["requests"]
    assert summary.drop("*").to_dict() == fact.to_dict()
    assert summary["*"] == fact.sum()
    for mart in read_query(
        settings,
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main_marts'",
    )["table_name"]:
        columns = read_query(settings, f"SELECT * FROM main_marts.{mart} LIMIT 0").columns
        assert "region_id" in columns, mart
    # A filter: without a display name it combines with every held combination (as
    # model and provider do), so the marts hold twice as many combinations.
    held = read_query(
        settings, f"SELECT DISTINCT {', '.join(filters)} FROM main_marts.mart_usage_summary"
    )
    patterns = {tuple(v != "*" for v in row) for row in held.itertuples(index=False)}
    assert len(patterns) == 2 * 20
    assert (False,) * (len(filters) - 1) + (True,) in patterns
