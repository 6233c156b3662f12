"""The dbt project as Dagster assets, partitioned by landing day like the raw layer."""


import json
import shutil
import sys
from pathlib import Path

from dagster import AssetExecutionContext, BackfillPolicy
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from orchestration.ingest_assets import WAREHOUSE_POOL
from orchestration.partitions import dbt_window_vars, landing_days

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

# The dbt installed beside this Python, so that an un-activated virtualenv still works.
_venv_dbt = Path(sys.executable).with_name("dbt")
DBT_EXECUTABLE = str(_venv_dbt) if _venv_dbt.exists() else (shutil.which("dbt") or "dbt")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


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

    `DbtProject.prepare_if_dev()` only does this under `dagster dev`; the CLI, tests and
    CI load the definitions directly, so they need it too.
    """
    if _manifest_is_stale(project):
        # With the executable named, as the preparer looks for `dbt` on PATH, which an
        # un-activated virtualenv (`.venv/bin/pytest`, `.venv/bin/llm-usage`) lacks.
        DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()


prepare_manifest()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    partitions_def=landing_days,
    backfill_policy=BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def warehouse_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    window = context.partition_time_window
    dbt_vars = dbt_window_vars(window.start, window.end)
    yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()
