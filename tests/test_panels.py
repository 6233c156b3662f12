"""The panel list comes from the marts' YAML alone, with what a dashboard needs to draw it."""

from __future__ import annotations

import yaml

from readers.filters import filter_columns
from readers.panels import MARTS_YAML, TABS, load_panels


def test_every_mart_is_one_panel_in_tab_order():
    models = yaml.safe_load(MARTS_YAML.read_text())["models"]
    panels = load_panels()
    # The hour grain's marts are the Day view's hourly charts, not panels of their own
    # (docs/metrics.md, "Hours"); every other mart is one panel.
    hourly = {m["name"] for m in models if m["config"]["meta"].get("hourly")}
    assert hourly == {"mart_usage_by_hour", "mart_latency_by_hour"}
    assert sorted(p.mart for p in panels) == sorted(
        m["name"] for m in models if m["name"] not in hourly
    )
    assert [p.tab for p in panels] == sorted((p.tab for p in panels), key=TABS.index)
    assert {p.tab for p in panels} == set(TABS)
    marts_folder = MARTS_YAML.parent
    for panel in panels:
        assert (marts_folder / f"{panel.mart}.sql").exists(), panel.mart


def test_breakdown_panels_say_how_their_rows_are_ordered():
    for panel in load_panels():
        metric_columns = {m.column for m in panel.metrics}
        assert panel.metrics and all(m.label and m.description for m in panel.metrics), panel.mart
        if panel.breakdown:
            # A filter dimension, or a breakdown of its own (group, end user, tag value,
            # error type).
            assert panel.breakdown in {
                *filter_columns(),
                "group_id",
                "end_user_id",
                "tag_value",
                "error_type",
            }
            column, *direction = panel.order_by.split()
            assert column in metric_columns and direction in ([], ["DESC"]), panel.order_by
        else:
            assert panel.order_by is None


def test_the_usage_by_model_panel_carries_the_marts_share():
    by_model = next(p for p in load_panels() if p.mart == "mart_usage_by_model")
    assert (by_model.tab, by_model.title, by_model.breakdown) == (
        "Usage",
        "Usage by Model",
        "model",
    )
    assert "token_share" in {m.column for m in by_model.metrics}
