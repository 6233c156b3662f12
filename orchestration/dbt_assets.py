"""The dbt project as Dagster assets, partitioned by landing day like the raw layer."""

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    FreshnessPolicy,
    PartitionsDefinition,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging.version import Version

from config.settings import Settings
from ingest import lake
from ingest.warehouse import ensure_raw_schema, request_model_build
from orchestration.partitions import landing_days_in_window
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

# The dbt installed beside this Python, so that an un-activated virtualenv still works.
_venv_dbt = Path(sys.executable).with_name("dbt")
DBT_EXECUTABLE = str(_venv_dbt) if _venv_dbt.exists() else (shutil.which("dbt") or "dbt")

# Only paths: constructing it reads nothing and runs nothing.
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class WarehouseDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two start-up costs it pays per dbt call.

    It runs `dbt --version` in a subprocess (seconds: it imports dbt) although the dbt it
    runs is the dbt-core installed beside this Python, and it builds a dbt adapter in
    this process, which serves only the row-count and column metadata fetches that this
    project does not use. Together about 5-10 s per dbt step on the 2-core machine.

    Both are private methods of dagster-dbt 0.29; the stock resource is kept otherwise.
    tests/test_definitions.py checks that DbtCliResource still has them (an upgrade that
    renames them would make these overrides dead code, not an error), and every test that
    runs the dbt assets (test_end_to_end, test_quality_gates) runs dbt through this class.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource(settings: Settings) -> WarehouseDbtCli:
    # The dbt target is the engine (profiles.yml has one output per engine), so one
    # setting, LLM_USAGE_ENGINE, moves every dbt step of every job.
    return WarehouseDbtCli(
        project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE, target=settings.engine
    )


def _manifest_is_stale(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [
        p
        for folder in ("models", "macros", "tests")
        for p in (project.project_dir / folder).rglob("*")
        if p.is_file()
    ]
    sources.append(project.project_dir / "dbt_project.yml")
    return any(p.stat().st_mtime > built for p in sources)


def prepare_manifest(project: DbtProject = dbt_project) -> None:
    """Build dbt's manifest when it is missing or older than the project's files.

    `make setup` builds it, and `build_definitions` calls this before it reads the
    manifest (never on import), so that an edited model is picked up:
    `DbtProject.prepare_if_dev()` only does this under `dagster dev`, and the CLI, tests
    and CI build the definitions directly.
    """
    if _manifest_is_stale(project):
        # With the executable named, as the preparer looks for `dbt` on PATH, which an
        # un-activated virtualenv (`.venv/bin/pytest`, `.venv/bin/llm-usage`) lacks.
        DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()


DBT_LOCK_WAIT_SECONDS = 120


@contextlib.contextmanager
def dbt_environment(settings: Settings) -> Iterator[None]:
    """The settings in os.environ while a dbt subprocess is started, then as before.

    dbt's profiles.yml and macros read the warehouse path, DuckDB limits and reporting
    zone from the environment, and DbtCliResource.cli() hands dbt a copy of os.environ
    taken as it starts the process (it has no env argument). Setting them only around
    that call keeps the process's environment unchanged outside a dbt step.
    """
    saved = {key: os.environ.get(key) for key in settings.environment()}
    os.environ.update(settings.environment())
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# dbt skips most of its parse (seconds a night) when the partial_parse.msgpack in its
# target folder matches the project and the profile. dagster-dbt seeds each step's fresh
# target folder from dbt_project/target, written by `make setup` with profiles.yml's
# defaults; the profile a run renders (its warehouse path, DuckDB limits) differs from
# those, so dbt parsed everything on every night. A copy kept per set of settings serves
# the next run with the same ones. dbt checks the copy itself and parses in full when
# the project or the profile changed, so a stale one costs nothing but that parse.
PARSE_STATE_FILE = "partial_parse.msgpack"
DBT_TARGET_DIR = Path(dbt_project.project_dir, dbt_project.target_path)
# One per set of settings: a deployment has one, a test suite one per test warehouse.
PARSE_STATES_KEPT = 16


def _parse_state_cache(settings: Settings) -> Path:
    key = hashlib.sha256(json.dumps(settings.environment(), sort_keys=True).encode()).hexdigest()
    return DBT_TARGET_DIR / "parse_state" / f"{key[:16]}.msgpack"


def _seed_parse_state(settings: Settings, target_path: Path) -> None:
    """Start the step's target folder from the last parse state of these settings. The
    copies (here and in `_keep_parse_state`) only save time: one that cannot be read or
    written (a full disk, another run pruning it) leaves dbt to parse in full, and never
    fails the step."""
    cached = _parse_state_cache(settings)
    with contextlib.suppress(OSError):
        target_path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target_path / PARSE_STATE_FILE)


def _keep_parse_state(settings: Settings, target_path: Path) -> None:
    written = target_path / PARSE_STATE_FILE
    cached = _parse_state_cache(settings)
    with contextlib.suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Another run may be reading or writing the same copy: replace it in one step.
        partial = cached.with_name(f"{cached.name}.{uuid.uuid4().hex}")
        shutil.copyfile(written, partial)
        partial.replace(cached)
        kept = sorted(
            cached.parent.glob("*.msgpack"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for stale in kept[PARSE_STATES_KEPT:]:
            stale.unlink()


def wait_for_write_lock(warehouse: WarehouseResource, seconds: float) -> None:
    """Wait until no reader holds the warehouse, as dbt-duckdb fails at once otherwise.

    Spark's tables are files that readers do not lock: nothing to wait for there."""
    if not warehouse.settings.on_spark:
        warehouse.connect(wait_seconds=seconds).close()


def _queue_for_build(warehouse: WarehouseResource, landing_dates: list, deadline: float) -> None:
    """Wait for the write lock, then queue the window's landing days for dbt, which
    rebuilds what raw.pending_model_builds holds (and empties it when it finishes)."""
    if warehouse.settings.on_spark:
        lake.request_model_build(warehouse.settings, landing_dates, "dbt step")
        return
    connection = warehouse.connect(wait_seconds=max(0.0, deadline - time.monotonic()))
    try:
        ensure_raw_schema(connection)
        request_model_build(connection, landing_dates, "dbt step")
    finally:
        connection.close()


def _lost_the_lock(invocation, error: Exception) -> bool:
    ran_nothing = not (invocation.target_path / "run_results.json").exists()
    return ran_nothing and "Could not set lock on file" in str(error)


# The run-control models: which landing days a build catches up with, and which event
# days it rebuilds. They steer the build but are no business data, so the asset graph
# shows them in a group of their own, apart from the lineage raw -> staging -> facts ->
# marts -> audit (docs/decisions/0001-model-build-queue.md).
BOOKKEEPING_GROUP = "bookkeeping"
BOOKKEEPING_MODELS = frozenset({"int_landing_days_in_build", "int_event_dates_touched_by_run"})


def dbt_group(node: dict) -> str:
    """A model's asset group: its folder under models/ (staging, facts, marts, audit)."""
    if node.get("name") in BOOKKEEPING_MODELS:
        return BOOKKEEPING_GROUP
    fqn = node.get("fqn") or []
    # fqn is [project, folder, ..., model]; a model at the top of models/ has no folder.
    return fqn[1] if len(fqn) > 2 else "default"


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """dbt models are grouped by their folder, and go stale when the nightly run is missed."""

    def __init__(self, freshness_policy: FreshnessPolicy | None = None):
        super().__init__()
        self.freshness_policy = freshness_policy

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = (manifest.get("nodes") or {}).get(unique_id)
        if node is None or node.get("resource_type") != "model":
            return spec
        return spec.replace_attributes(
            freshness_policy=self.freshness_policy, group_name=dbt_group(node)
        )


# Data tests that read all of history run in the weekly audit (orchestration/audit.py).
# Unit tests check the models' SQL on hand-made rows (models/marts/_marts__unit_tests.yml):
# they belong to development and `make test`, not to every night's build.
NIGHTLY_EXCLUDE = "tag:full_history test_type:unit"


def build_warehouse_dbt_models(
    partitions: PartitionsDefinition, freshness: FreshnessPolicy
) -> AssetsDefinition:
    """The dbt models as assets over `partitions`; reads dbt's manifest, so
    `build_definitions` calls it after `prepare_manifest()`."""

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        exclude=NIGHTLY_EXCLUDE,
        project=dbt_project,
        dagster_dbt_translator=WarehouseDbtTranslator(freshness),
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def warehouse_dbt_models(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ):
        yield from build_models(context, dbt, warehouse)

    return warehouse_dbt_models


def build_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Queue the run's landing days, then `dbt build` (what the queue holds)."""
    window = context.partition_time_window
    landing_dates = landing_days_in_window(window.start, window.end)
    # The pool keeps other writers out, but a reader (`llm-usage sql`, the late-file
    # sensor) may hold the file for a moment, and dbt-duckdb fails at once when it cannot
    # take the write lock. Wait for the lock, and start dbt again if a reader slipped in
    # between: the lock is taken before any model runs, so nothing was half done.
    deadline = time.monotonic() + DBT_LOCK_WAIT_SECONDS
    settings = warehouse.settings
    while True:
        _queue_for_build(warehouse, landing_dates, deadline)
        # A fresh target folder per dbt call, as dagster-dbt makes, seeded with the parse
        # state of the last run with these settings.
        target_path = DBT_TARGET_DIR / f"{context.run.run_id[:8]}-{uuid.uuid4().hex[:8]}"
        _seed_parse_state(settings, target_path)
        # dbt's profiles.yml reads the warehouse path from the environment: dbt gets the
        # settings this run was built with.
        with dbt_environment(settings):
            invocation = dbt.cli(
                ["build"], context=context, raise_on_error=False, target_path=target_path
            )
        yield from invocation.stream()
        _keep_parse_state(settings, target_path)
        if invocation.is_successful():
            return
        error = invocation.get_error()
        if not _lost_the_lock(invocation, error) or time.monotonic() >= deadline:
            raise error
        context.log.warning("A reader held the warehouse as dbt started; starting dbt again.")


if __name__ == "__main__":  # `make setup`: python -m orchestration.dbt_assets
    prepare_manifest()
