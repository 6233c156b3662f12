"""raw.request_logs follows the contract's JSON Schema (ingest/raw_tables.py): in DuckDB,
in an older warehouse that is opened again, in the lake's Parquet files, and in the
column files Spark reads its raw tables' columns from (macros/spark_raw_tables.sql;
tests/test_spark.py reads them with Spark itself)."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from config.settings import Settings
from ingest import lake
from ingest.load import load_partition
from ingest.raw_tables import raw_schema_ddl
from ingest.warehouse import connect, ensure_raw_schema
from orchestration.dbt_assets import DBT_PROJECT_DIR

SCHEMA = json.loads(
    (DBT_PROJECT_DIR.parent / "ingest" / "schema" / "request_log.schema.json").read_text()
)
DAY = date(2026, 3, 2)
RECORD = {
    "request_id": "r1",
    "created_at": "2026-03-02T10:00:00Z",
    "api_key_id": "key_a",
    "model": "m",
    "provider": "p",
    "billing_mode": "pay_as_you_go",
    "status": "success",
    "stream": False,
    "input_tokens": 10,
    "output_tokens": 5,
    "latency_ms": 100.0,
}
DIMENSIONS = {
    "organization_id": "org_1",
    "organization_name": "Acme",
    "team_id": "team_1",
    "team_name": "Search",
    "project_id": "proj_1",
    "project_name": "Answers",
    "end_user_id": "customer-1",
    "tags": ["env:prod", "feature:search"],
}


def _expected_type(spec: dict) -> str:
    """A property's column type, read from the schema here on its own (JSON Schema
    types, and "format" as OpenAPI names it), not through ingest/contract.py."""
    if "$ref" in spec:
        spec = {**SCHEMA["$defs"][spec["$ref"].split("/")[-1]], **spec}
    kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    kind = next(k for k in kinds if k != "null")
    if kind == "array":
        return _expected_type(spec["items"]) + "[]"
    if spec.get("format") == "date-time":
        return "TIMESTAMP WITH TIME ZONE"
    if spec.get("format") == "int32":
        return "INTEGER"
    return {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}[
        kind
    ]


def _columns(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple]:
    return connection.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, table],
    ).fetchall()


def test_raw_request_logs_has_a_column_per_schema_field_of_its_type():
    connection = duckdb.connect()
    connection.execute(raw_schema_ddl())
    expected = [
        ("landing_date", "DATE", False),
        ("source_file", "VARCHAR", False),
        ("line_number", "BIGINT", False),
        *[
            (name, _expected_type(spec), name not in SCHEMA["required"])
            for name, spec in SCHEMA["properties"].items()
        ],
        ("ingested_at", "TIMESTAMP WITH TIME ZONE", False),
    ]
    assert _columns(connection, "raw", "request_logs") == expected
    # The new dimensions are there, tags as a list: the derivation is not vacuous.
    assert ("tags", "VARCHAR[]", True) in expected
    assert ("http_status", "INTEGER", True) in expected


def _write_day(settings: Settings, records: list[dict]) -> None:
    folder = settings.landing_dir / f"dt={DAY}"
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "part-00000.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)


def test_a_warehouse_built_before_the_dimensions_gains_their_columns(data_dir):
    """A warehouse file whose raw.request_logs predates the new fields keeps its rows
    (NULL in the new columns) and loads records that carry them."""
    connection = connect(data_dir)
    ensure_raw_schema(connection)
    for name in DIMENSIONS:
        connection.execute(f"ALTER TABLE raw.request_logs DROP COLUMN {name}")
    connection.execute(
        "INSERT INTO raw.request_logs (landing_date, source_file, line_number, request_id, "
        "created_at, api_key_id, model, provider, billing_mode, status, stream, input_tokens, "
        "output_tokens, latency_ms, ingested_at) VALUES ('2026-03-01', 'old.jsonl', 1, 'old', "
        "'2026-03-01T10:00:00Z', 'k', 'm', 'p', 'pay_as_you_go', 'success', false, 1, 1, 1, now())"
    )
    connection.close()
    _write_day(data_dir, [{**RECORD, **DIMENSIONS}, {**RECORD, "request_id": "r2"}])
    report = load_partition(data_dir, DAY)
    assert (report.rows_loaded, report.rows_rejected) == (2, 0)
    with connect(data_dir, read_only=True) as connection:
        rows = connection.execute(
            "SELECT request_id, organization_id, organization_name, team_id, team_name, "
            "project_id, project_name, end_user_id, tags FROM raw.request_logs ORDER BY request_id"
        ).fetchall()
    assert rows == [
        ("old", *[None] * 8),
        ("r1", *DIMENSIONS.values()),
        ("r2", *[None] * 8),
    ]


def _spark_settings(tmp_path) -> Settings:
    return Settings.from_env(
        {
            "LLM_USAGE_DATA_DIR": str(tmp_path / "data"),
            "LLM_USAGE_LANDING_DIR": str(tmp_path / "landing"),
            "LLM_USAGE_ENGINE": "spark",
        }
    )


def test_the_lake_declares_each_raw_table_s_columns_for_spark(tmp_path):
    """Spark's raw tables take their columns from raw/_columns/<table>.parquet: each
    holds the DDL's columns (but the partition column), in order and type; the macro
    registers exactly the lake's tables; a stale file is rewritten."""
    settings = _spark_settings(tmp_path)
    lake.ensure_lake(settings)
    declared = duckdb.connect()
    declared.execute(raw_schema_ddl())
    folder = lake.raw_dir(settings) / lake.COLUMNS_FOLDER
    for table, name in lake.LAKE_FOLDERS.items():
        written = declared.execute(
            f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{folder / name}.parquet')"
        ).fetchall()
        expected = [(c, t) for c, t, _ in _columns(declared, "raw", table) if c != "landing_date"]
        assert written == expected, table
    written = duckdb.sql(f"SELECT * FROM '{folder}/request_logs.parquet'")
    assert "tags" in written.columns and len(written.fetchall()) == 0

    macro = (DBT_PROJECT_DIR / "macros" / "spark_raw_tables.sql").read_text()
    listed = re.search(r"macro spark_raw_tables\(\).*?return\(\[(.*?)\]\)", macro, re.S).group(1)
    assert sorted(re.findall(r"'([a-z_]+)'", listed)) == sorted(lake.LAKE_FOLDERS.values())

    # A column file of an earlier version (without the dimensions) is brought up to date
    # by the next process that writes the lake.
    stale = folder / "request_logs.parquet"
    pq.write_table(pa.table({"request_id": pa.array([], pa.string())}), stale)
    lake._write_columns.cache_clear()
    lake.ensure_lake(settings)
    assert "tags" in duckdb.sql(f"SELECT * FROM '{stale}'").columns


def test_lake_days_written_before_the_dimensions_read_as_null(tmp_path):
    """A lake day written without the new columns (an earlier version) reads beside a
    day that has them: NULL where its files lack them."""
    settings = _spark_settings(tmp_path)
    _write_day(settings, [{**RECORD, **DIMENSIONS}])
    assert load_partition(settings, DAY).rows_loaded == 1
    old_day = lake.raw_dir(settings) / "request_logs" / "landing_date=2026-03-01"
    old_day.mkdir()
    new_file = next((lake.raw_dir(settings) / "request_logs").glob(f"landing_date={DAY}/*"))
    old = pq.read_table(new_file).drop_columns(list(DIMENSIONS))
    old = old.set_column(old.schema.get_field_index("request_id"), "request_id", pa.array(["old"]))
    pq.write_table(old, old_day / "part-0.parquet")
    with connect(settings, read_only=True) as connection:
        rows = connection.execute(
            "SELECT request_id, team_id, tags FROM raw.request_logs ORDER BY request_id"
        ).fetchall()
    assert rows == [("old", None, None), ("r1", "team_1", ["env:prod", "feature:search"])]
