"""A local period the landing days cover only in part is labelled partial, in the
reporting zone, by `llm-usage report` and by the page, and neither opens on it.

Landing days are UTC days. Three of them (2026-03-02 .. 04) cover, in Asia/Kathmandu
(UTC+5:45), local 03-02 05:45 .. 03-05 05:45: local 03-02 and 03-05 have requests but
are partial, 03-03 and 03-04 are complete. In Etc/GMT+12 (UTC-12) they cover local
03-01 12:00 .. 03-04 12:00: 03-01 and 03-04 are partial, 03-02 and 03-03 complete.
"""

from __future__ import annotations

import contextlib
import io
import os
from datetime import date
from pathlib import Path

import pytest
from conftest import use_data_dir
from nightly import run_window

from readers.warehouse import read_query
from sample_data.generate import generate_logs

PAGE = str(Path(__file__).resolve().parent.parent / "readers" / "dashboard.py")
FIRST, DAYS = date(2026, 3, 2), 3  # a Monday; the landing days 03-02 .. 03-04
# zone -> (local days with requests, the complete ones)
ZONES = {
    "Asia/Kathmandu": (
        [date(2026, 3, d) for d in (2, 3, 4, 5)],
        [date(2026, 3, 3), date(2026, 3, 4)],
    ),
    "Etc/GMT+12": (
        [date(2026, 3, d) for d in (1, 2, 3, 4)],
        [date(2026, 3, 2), date(2026, 3, 3)],
    ),
}


@pytest.fixture(scope="module")
def zones(tmp_path_factory):
    root = tmp_path_factory.mktemp("partial")
    landing = root / "landing"
    generate_logs(landing, FIRST, DAYS, requests_per_day=200, seed=5)
    built = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for zone in ZONES:
            folder = root / zone.replace("/", "_")
            settings = use_data_dir(
                monkeypatch,
                folder,
                LLM_USAGE_LANDING_DIR=str(landing),
                LLM_USAGE_REPORTING_TIMEZONE=zone,
            )
            run_window(settings, FIRST, date(2026, 3, FIRST.day + DAYS - 1), folder, command="run")
            built[zone] = settings
    return built


def _report(settings, *args: str) -> str:
    """`llm-usage report ARGS` in this process with only this warehouse's settings."""
    from cli.main import main

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key in [key for key in os.environ if key.startswith("LLM_USAGE_")]:
            monkeypatch.delenv(key)
        for key, value in settings.environment().items():
            monkeypatch.setenv(key, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            main(["report", *args])
    return out.getvalue()


@pytest.mark.parametrize("zone", ZONES)
def test_report_labels_partial_local_days_and_defaults_to_a_complete_one(zones, zone):
    settings = zones[zone]
    with_requests, complete = ZONES[zone]
    days = read_query(
        settings,
        "SELECT DISTINCT period_start FROM main_marts.mart_usage_summary WHERE grain = 'day' "
        "ORDER BY 1",
    )["period_start"]
    assert [d.date() for d in days] == with_requests  # the marts' local days, as built

    heading = _report(settings, "--period", "day").splitlines()[0]
    assert heading.startswith(f"Day {complete[-1]} .. {complete[-1]}"), heading
    assert "PARTIAL" not in heading
    for day in with_requests:
        heading = _report(settings, "--period", "day", "--date", str(day)).splitlines()[0]
        assert ("PARTIAL" in heading) == (day not in complete), (day, heading)
    # The ISO week of 03-02 starts inside the landing days in both zones.
    heading = _report(settings, "--period", "week", "--date", "2026-03-04").splitlines()[0]
    assert "PARTIAL" in heading, heading


@pytest.mark.parametrize("zone", ZONES)
def test_the_page_labels_partial_local_days_and_opens_on_a_complete_one(zones, zone, monkeypatch):
    from streamlit.testing.v1 import AppTest

    with_requests, complete = ZONES[zone]
    for key, value in zones[zone].environment().items():
        monkeypatch.setenv(key, value)
    page = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not page.exception, page.exception
    page.segmented_control(key="grain").set_value("day").run()
    assert not page.exception, page.exception
    period = page.selectbox(key="period_day")
    assert period.value == complete[-1]
    labels = dict(zip(reversed(with_requests), period.options))
    for day, label in labels.items():
        assert label.startswith(f"{day:%Y-%m-%d}"), (day, label)
        assert label.endswith("· partial") == (day not in complete), (day, label)
