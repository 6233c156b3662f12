"""`llm-usage report`: the dashboard's three tabs for one period and filter, read
straight from the marts (nothing is recomputed here)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from config.settings import Settings
from readers.warehouse import read_query

FILTERS = ("api_key_id", "model", "provider")
HIDDEN = {"grain", "period_start", "built_at"}
TABLE_ROWS = 15  # rows of a breakdown panel shown in the terminal table


@dataclass(frozen=True)
class Panel:
    tab: str
    title: str
    mart: str
    breakdown: str | None = None  # the dimension a breakdown panel lists, one row each
    order_by: str | None = None


PANELS = (
    Panel("Usage", "Usage summary", "mart_usage_summary"),
    Panel("Usage", "Usage by Model", "mart_usage_by_model", "model", "total_tokens DESC"),
    Panel("Usage", "Usage by Token Type", "mart_usage_by_token_type"),
    Panel("Usage", "Usage by API Key", "mart_usage_by_api_key", "api_key_id", "total_tokens DESC"),
    Panel("Usage", "Web Search Usage", "mart_web_search_usage"),
    Panel("Provider", "Provider summary", "mart_provider_summary"),
    Panel("Provider", "Provider distribution", "mart_provider_distribution", "provider", "requests DESC"),
    Panel("Performance", "Performance summary", "mart_performance_summary"),
    Panel("Performance", "Latency by Model", "mart_latency_by_model", "model", "avg_latency_ms"),
    Panel("Performance", "First Token Latency by Model", "mart_first_token_latency_by_model", "model", "avg_first_token_ms"),
    Panel("Performance", "Throughput by Model", "mart_throughput_by_model", "model", "avg_throughput_tps DESC"),
)


def period_containing(grain: str, day: date) -> date:
    """The first day of the day / ISO week (Monday) / month that holds `day`."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def _filter_sql(chosen: dict[str, str], breakdown: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    for dimension in FILTERS:
        value = chosen[dimension]
        if dimension == breakdown and value == "*":
            continue  # every value of the panel's own dimension
        clauses.append(f"{dimension} = ?")
        params.append(value)
    return " AND ".join(clauses), params


def latest_period(settings: Settings, grain: str, chosen: dict[str, str]) -> date | None:
    where, params = _filter_sql(chosen, None)
    frame = read_query(
        settings,
        f"SELECT max(period_start) AS latest FROM main_marts.mart_usage_summary WHERE grain = ? AND {where}",
        [grain, *params],
    )
    latest = frame["latest"].iloc[0]
    return None if pd.isna(latest) else pd.Timestamp(latest).date()


def panel_query(panel: Panel, grain: str, period_start: date, chosen: dict[str, str]) -> tuple[str, list]:
    """The SQL and parameters that read a panel's rows for one period and filter."""
    where, params = _filter_sql(chosen, panel.breakdown)
    order = f" ORDER BY {panel.order_by}, {panel.breakdown}" if panel.breakdown else ""
    return (
        f"SELECT * FROM main_marts.{panel.mart} WHERE grain = ? AND period_start = ? AND {where}{order}",
        [grain, period_start, *params],
    )


def dashboard(settings: Settings, grain: str, period_start: date, chosen: dict[str, str]) -> dict[Panel, pd.DataFrame]:
    """Each panel's rows for the period and filter (empty frames when nothing matches)."""
    panels = {}
    for panel in PANELS:
        frame = read_query(settings, *panel_query(panel, grain, period_start, chosen))
        keep = [c for c in frame.columns if c not in HIDDEN and (c == panel.breakdown or c not in FILTERS)]
        panels[panel] = frame[keep]
    return panels


def _plain(value):
    """A JSON/CSV-ready value: NULL as None, numpy scalars as Python numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _show(value) -> str:
    value = _plain(value)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def as_records(panels: dict[Panel, pd.DataFrame]) -> list[dict]:
    """Long form: one record per (panel, row, figure)."""
    records = []
    for panel, frame in panels.items():
        for row in frame.to_dict("records"):
            item = row.get(panel.breakdown) if panel.breakdown else None
            for column, value in row.items():
                if column != panel.breakdown:
                    records.append({"tab": panel.tab, "panel": panel.title, "item": item,
                                    "metric": column, "value": _plain(value)})
    return records


def render(panels: dict[Panel, pd.DataFrame], heading: dict, fmt: str) -> str:
    if fmt == "json":
        body = {**heading, "panels": {
            panel.title: [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
            if panel.breakdown else {k: _plain(v) for k, v in (frame.to_dict("records") or [{}])[0].items()}
            for panel, frame in panels.items()
        }}
        return json.dumps(body, indent=2, default=str)
    if fmt == "csv":
        return pd.DataFrame(as_records(panels), columns=["tab", "panel", "item", "metric", "value"]).to_csv(index=False)
    lines = [
        f"{heading['grain'].capitalize()} starting {heading['period_start']}  "
        + "  ".join(f"{k}={heading['filter'][k]}" for k in FILTERS)
        + "   ('*' = all; pay-as-you-go only)"
    ]
    tab = None
    for panel, frame in panels.items():
        if panel.tab != tab:
            tab = panel.tab
            lines += ["", f"== {tab} =="]
        lines.append(f"-- {panel.title}")
        if frame.empty:
            lines.append("   (no rows)")
        elif panel.breakdown:
            text = frame.head(TABLE_ROWS).to_string(index=False, float_format=lambda v: f"{v:,.3f}")
            lines += ["   " + line for line in text.splitlines()]
            if len(frame) > TABLE_ROWS:
                lines.append(f"   ... {len(frame) - TABLE_ROWS} more rows (--format csv or json lists all)")
        else:
            for column, value in frame.iloc[0].items():
                lines.append(f"   {column:<34} {_show(value)}")
    return "\n".join(lines) + "\n"
