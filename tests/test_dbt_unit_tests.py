"""The dbt project's unit tests (`unit_tests:` in dbt_project/models/**/*.yml) pass.

They check the marts' logic on hand-made rows (ties, '*' rows, NULL not NaN) without
building any history. dbt needs the input models to exist to know their column types,
so every model is built empty first (`--empty`), in the same `dbt build` that then runs
the unit tests before each model they test. The data tests are left out: they need data.
"""

from __future__ import annotations

import json

from conftest import use_data_dir
from pipeline_in_process import dbt_build

from ingest.warehouse import connect, ensure_raw_schema


def test_every_dbt_unit_test_passes(tmp_path, monkeypatch):
    settings = use_data_dir(monkeypatch, tmp_path / "data")
    with connect(settings) as connection:
        ensure_raw_schema(connection)  # the sources the empty models read
    result = dbt_build(settings, tmp_path, "--empty", "--exclude-resource-type", "test")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    unit = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    assert len(unit) >= 4, unit  # dbt found the marts' unit tests
    assert set(unit.values()) == {"pass"}, unit
