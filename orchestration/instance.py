"""The Dagster home the project runs with, prepared from the shipped instance config."""

import shutil
from pathlib import Path

from ingest.settings import Settings

SHIPPED_INSTANCE_CONFIG = Path(__file__).with_name("dagster.yaml")


def prepare_dagster_home(settings: Settings) -> Path:
    """Create $DAGSTER_HOME and put the project's dagster.yaml in it unless one exists."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    config = settings.dagster_home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(SHIPPED_INSTANCE_CONFIG, config)
    return settings.dagster_home
