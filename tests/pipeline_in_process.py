"""The nightly pipeline in this process, for tests that run it many times: load landing
days (ingest.load), run the raw quality checks (quality.rules, as the Dagster check
step does), queue the days and `dbt build` (as the dbt asset does, but through dbt's
Python entry point in this process). Faster than a Dagster run and free to return the
build's outcome instead of raising."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from config.settings import Settings
from ingest.load import load_partition
from ingest.warehouse import connect, ensure_raw_schema, request_model_build
from orchestration.dbt_assets import DBT_EXECUTABLE, DBT_PROJECT_DIR, dbt_environment


def dbt_args(command: str, scratch: Path, *extra: str) -> list[str]:
    """The arguments of `dbt COMMAND --quiet` on the project, for a test: its own target
    and log folders under `scratch`, so test builds leave the project's manifest and
    logs alone."""
    return [
        command,
        "--quiet",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(scratch / "target"),
        "--log-path",
        str(scratch / "logs"),
        *extra,
    ]


# The builds that stand for a night leave out dbt's unit tests, as the nightly step does
# (orchestration/dbt_assets.py, NIGHTLY_EXCLUDE): they check the models' SQL on
# hand-made rows, the same in every build, and test_dbt_unit_tests runs them. The tests
# that read all of history stay in, so that a test can see them fail.
WITHOUT_UNIT_TESTS = ("--exclude", "test_type:unit")
NO_LOGS = ("--log-level", "none", "--log-level-file", "none")


def close_dbt_connection() -> None:
    """dbt-duckdb keeps its DuckDB connection open in the process after an in-process
    dbt command; close it, or the next writer (the loader, another build) cannot open
    the file."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager._ENV = None


# dbt's parse of the project, kept per process for each parse key (below): dbt parses the
# whole project (about 1.2 s of CPU) for each new target folder and warehouse, and a test
# build always has both. A copy of the kept manifest serves every later build instead,
# as dbt's Python API offers (dbtRunner(manifest=...)).
_PARSED_MANIFESTS: dict[str, bytes] = {}
# Settings that only say where files are: they reach dbt's profile (the warehouse path)
# but not what the parse finds, except the warehouse file's name, which names the
# catalog the models are built in and so is in the key.
_WHERE_FILES_ARE = {
    "LLM_USAGE_DATA_DIR",
    "LLM_USAGE_LANDING_DIR",
    "LLM_USAGE_WAREHOUSE",
    "DAGSTER_HOME",
    "LLM_USAGE_LAKE_DIR",
    "LLM_USAGE_EXPORTS_DIR",
    "LLM_USAGE_BUDGETS_FILE",
}


def _vars_arguments(extra: tuple[str, ...]) -> list[str]:
    """The command line's last `--vars VALUE` (what dbt uses), or nothing."""
    values = [arg for i, arg in enumerate(extra) if i and extra[i - 1] == "--vars"]
    return ["--vars", values[-1]] if values else []


def _parse_key(settings: Settings, extra: tuple[str, ...]) -> str:
    """What dbt's own partial parsing compares (the profile, the environment and the
    command line's --vars), with the warehouse's folder left out."""
    environment = {k: v for k, v in settings.environment().items() if k not in _WHERE_FILES_ARE}
    return json.dumps(
        [environment, settings.warehouse_path.name, _vars_arguments(extra)], sort_keys=True
    )


def _parsed_manifest(settings: Settings, scratch: Path, extra: tuple[str, ...]):
    """A copy of dbt's parse of the project for these settings (parsed on first use)."""
    from dbt.cli.main import dbtRunner
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumaro_encoder, extended_mashumuro_decoder

    key = _parse_key(settings, extra)
    if key not in _PARSED_MANIFESTS:
        arguments = dbt_args("parse", scratch / "parse", *_vars_arguments(extra), *NO_LOGS)
        parsed = dbtRunner().invoke(arguments)
        assert parsed.success, parsed.exception
        _PARSED_MANIFESTS[key] = parsed.result.to_msgpack(extended_mashumaro_encoder)
    # A build writes compiled SQL into the manifest's nodes: each build gets its own copy,
    # read back as dbt reads its partial_parse.msgpack (copy.deepcopy and pickle go
    # through Manifest.__reduce_ex__, whose argument order no longer matches the class).
    return Manifest.from_msgpack(_PARSED_MANIFESTS[key], decoder=extended_mashumuro_decoder)


def invoke_dbt(settings: Settings, command: str, scratch: Path, *extra: str, callbacks=()):
    """`dbt COMMAND` through dbt's Python entry point (dbtRunner), in this process, with
    the settings in its environment as a Dagster dbt step has them (profiles.yml and the
    macros read the warehouse, DuckDB limits and reporting zone from it); dbt's result.
    No fresh interpreter importing dbt, no parse of the project and no log output for
    every build: `callbacks` receive dbt's events."""
    from dbt.cli.main import dbtRunner

    with dbt_environment(settings):
        try:
            manifest = _parsed_manifest(settings, scratch, extra)
            runner = dbtRunner(manifest=manifest, callbacks=list(callbacks))
            # No console or file log: the callers read dbt's result and events, and dbt
            # formats every event for every log (the level filters only after that),
            # scanning the environment for secrets each time: a tenth of a small build.
            return runner.invoke(dbt_args(command, scratch, *extra, *NO_LOGS))
        finally:
            close_dbt_connection()


def dbt_build(settings: Settings, scratch: Path, *extra: str) -> subprocess.CompletedProcess:
    """`dbt build --quiet` through dbt's Python entry point (dbtRunner), in this process:
    no fresh interpreter importing dbt for every build. Returns what the command would:
    its exit code and, as stdout, the lines `dbt build --quiet` would print (dbt's
    error-level events, e.g. "Failure in test ...")."""
    printed: list[str] = []

    def keep_printed(event) -> None:
        if event.info.level == "error":
            printed.append(event.info.msg)

    result = invoke_dbt(settings, "build", scratch, *extra, callbacks=[keep_printed])
    # dbt's exit codes: 0 success, 1 a node failed, 2 dbt itself failed.
    code = 0 if result.success else 2 if result.exception is not None else 1
    if result.exception is not None:
        printed.append(f"{type(result.exception).__name__}: {result.exception}")
    args = [DBT_EXECUTABLE, *dbt_args("build", scratch, *extra)]
    return subprocess.CompletedProcess(args, code, "\n".join(printed), "")


def run(
    settings: Settings,
    days: list[date],
    scratch: Path,
    *,
    checks: bool = False,
    expect_ok: bool = True,
) -> subprocess.CompletedProcess:
    """Load `days`, optionally run the raw checks on them, and build."""
    for day in days:
        load_partition(settings, day)
    connection = connect(settings)
    try:
        ensure_raw_schema(connection)
        if checks:
            from quality.holds import check_raw_and_hold
            from quality.rules import Thresholds

            for day in days:
                check_raw_and_hold(connection, day, day, Thresholds.from_env())
        request_model_build(connection, days, "dbt step")
    finally:
        connection.close()
    result = dbt_build(settings, scratch, *WITHOUT_UNIT_TESTS)
    if expect_ok:
        assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    return result


def query(settings: Settings, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchdf()
