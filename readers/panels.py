"""The dashboard's panels, read from the marts' dbt YAML, the one place they are declared.

`dbt_project/models/marts/_marts__models.yml` gives each mart a `config.meta` with its
`tab`, `panel` title, and for a breakdown panel the dimension it lists (`breakdown`) and
the order of its rows (`order_by`); each metric column has `config.meta.metric`, the
dashboard number it holds. `llm-usage report`, the docs generator (tools/metrics_doc.py)
and the dashboard read the panels from here:

    from readers.panels import load_panels
    for panel in load_panels():
        panel.tab, panel.title, panel.mart, panel.breakdown, panel.order_by
        [(m.column, m.label) for m in panel.metrics]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

# The dbt project sits beside the packages in the checkout (installed editable by
# `make setup`), so the path is found from the code itself, whatever the working directory.
MARTS_YAML = (
    Path(__file__).resolve().parent.parent
    / "dbt_project"
    / "models"
    / "marts"
    / "_marts__models.yml"
)
TABS = ("Usage", "Provider", "Performance")


@dataclass(frozen=True)
class Metric:
    column: str  # the mart column holding the number
    label: str  # the dashboard's name for it
    description: str  # its definition, as docs/metrics.md shows it


@dataclass(frozen=True)
class Panel:
    tab: str
    title: str
    mart: str
    breakdown: str | None = None  # the dimension a breakdown panel lists, one row each
    order_by: str | None = None  # SQL order of a breakdown panel's rows (ties by breakdown)
    metrics: tuple[Metric, ...] = ()
    description: str = ""
    # The columns a breakdown is listed within, with the value shown first (`example`:
    # {dimension: team} lists the groups of one dimension, {tag_key: env} one key's values).
    example: tuple[tuple[str, str], ...] = ()

    @property
    def within(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.example)


def _meta(node: dict) -> dict:
    return (node.get("config") or {}).get("meta") or {}


def load_mart_models(path: Path = MARTS_YAML) -> list[dict]:
    """The marts' model entries of the YAML, as written."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: the panels are read from the dbt project of the checkout."
        )
    # libyaml's loader where PyYAML has it: the pure-Python one takes a tenth of a second.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(), Loader=loader)["models"]


def panels_from_models(models: list[dict]) -> tuple[Panel, ...]:
    panels = []
    for model in models:
        meta = _meta(model)
        if "tab" not in meta:
            continue
        if meta["tab"] not in TABS:
            raise ValueError(f"{model['name']}: tab {meta['tab']!r} is not one of {TABS}")
        panels.append(
            Panel(
                tab=meta["tab"],
                title=meta["panel"],
                mart=model["name"],
                breakdown=meta.get("breakdown"),
                order_by=meta.get("order_by"),
                metrics=tuple(
                    Metric(
                        c["name"], _meta(c)["metric"], " ".join(c.get("description", "").split())
                    )
                    for c in model["columns"]
                    if "metric" in _meta(c)
                ),
                description=" ".join(model.get("description", "").split()),
                example=tuple((str(k), str(v)) for k, v in (meta.get("example") or {}).items()),
            )
        )
    # Tab by tab, each tab's panels in the YAML's order.
    return tuple(sorted(panels, key=lambda p: TABS.index(p.tab)))


@cache
def load_panels(path: Path = MARTS_YAML) -> tuple[Panel, ...]:
    """Every dashboard panel, tab by tab (Usage, Provider, Performance)."""
    return panels_from_models(load_mart_models(path))
