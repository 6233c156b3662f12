"""Issue 25 on the read side: the filters come from the dimensions declaration, only the
filter combinations the marts hold are offered, and the new panels (Usage by Team,
Top end users, Usage by tag key) show the marts' rows in `llm-usage report`, `list`
and on the page. Every figure is compared with the mart row read here with SQL (the
marts themselves are checked against an independent computation by tests/test_marts.py).
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from readers.filters import ALL, filter_columns, held_filter_sets
from readers.warehouse import read_query

MONTH = date(2026, 2, 1)  # the sample's latest month (2026-02-01 .. 02-04 loaded)
DAY_IN_MONTH = "2026-02-02"


@pytest.fixture
def sample(sample_warehouse, monkeypatch):
    """The session's sample warehouse, which the commands run here read."""
    monkeypatch.setenv("LLM_USAGE_WAREHOUSE", str(sample_warehouse.warehouse_path))
    return sample_warehouse


def run(settings, *argv: str) -> tuple[int, str, str]:
    """`llm-usage ARGV` through its entry point, its output captured."""
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(argv))
        except SystemExit as stop:
            code = stop.code or 0
    return code, out.getvalue(), err.getvalue()


def _everything_but(**chosen: str | None) -> str:
    """The filter columns at '*' but those chosen (None: that column left free)."""
    return " AND ".join(
        f"{c} = '{chosen.get(c, ALL)}'" if chosen.get(c, ALL) is not None else "true"
        for c in filter_columns()
    )


def _top_group(settings, dimension: str) -> str:
    return read_query(
        settings,
        "SELECT group_id FROM main_marts.mart_usage_by_group WHERE grain = 'month' AND "
        f"period_start = ? AND dimension = ? AND group_id <> '(none)' AND {_everything_but()} "
        "ORDER BY requests DESC, group_id LIMIT 1",
        [MONTH, dimension],
    )["group_id"].iloc[0]


def test_the_held_combinations_are_the_marts_rows(sample):
    """readers/filters.held_filter_sets() (which the page and the CLI follow) states the
    same rule as filter_sets() of the dbt macro: exactly the combinations every mart has."""
    flags = ", ".join(f"{c} <> '*' AS {c}" for c in filter_columns())
    # A breakdown mart holds the combinations that keep its own dimension.
    for mart, breakdown in (
        ("mart_usage_summary", None),
        ("mart_usage_by_model", "model"),
        ("mart_provider_distribution", "provider"),
        ("mart_usage_by_api_key", "api_key_id"),
    ):
        frame = read_query(sample, f"SELECT DISTINCT {flags} FROM main_marts.{mart}")
        found = {frozenset(c for c in filter_columns() if row[c]) for _, row in frame.iterrows()}
        held = {s for s in held_filter_sets() if breakdown is None or breakdown in s}
        assert found == held, mart
    # The rule: one party (key, organization, team, project) or none, with any model and
    # provider: (1 + 4) x 4 combinations.
    assert len(held_filter_sets()) == 20
    assert frozenset({"api_key_id", "team_id"}) not in held_filter_sets()
    assert frozenset({"team_id", "model", "provider"}) in held_filter_sets()


def test_a_combination_the_marts_do_not_hold_gets_one_line_naming_those_they_do(sample):
    key = read_query(
        sample,
        "SELECT api_key_id FROM main_marts.mart_usage_summary WHERE grain = 'month' "
        f"AND api_key_id <> '*' AND {_everything_but(api_key_id=None)} LIMIT 1",
    )["api_key_id"].iloc[0]
    team = _top_group(sample, "team")
    for argv in (
        ["report", "--period", "month", "--api-key", key, "--team", team],
        ["export", "usage", "--api-key", key, "--team", team],
    ):
        code, out, err = run(sample, *argv)
        assert code == 2 and out == ""
        lines = [line for line in err.splitlines() if not line.startswith("Note:")]
        assert lines == [
            "llm-usage: The marts do not hold API key and Team together; they hold one of "
            "API key, Organization, Team or Project at a time, with any model and provider. "
            "Keep one of them and drop the others."
        ]


@pytest.mark.parametrize("dimension", ["organization", "team", "project"])
def test_report_by_a_group_filter_is_the_marts_rows(sample, dimension):
    column = f"{dimension}_id"
    group = _top_group(sample, dimension)
    code, out, err = run(
        sample, "report", "--period", "month", "--date", DAY_IN_MONTH, f"--{dimension}", group,
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["filters"][column] == group
    summary = read_query(
        sample,
        "SELECT * FROM main_marts.mart_usage_summary WHERE grain = 'month' AND period_start = ? "
        f"AND {_everything_but(**{column: group})}",
        [MONTH],
    ).iloc[0]
    shown = report["panels"]["usage_summary"]
    for figure in ("total_tokens", "input_tokens", "output_tokens", "requests"):
        assert shown[figure] == summary[figure], figure
    assert shown["spend_usd"] == pytest.approx(summary["spend_usd"])
    by_model = read_query(
        sample,
        "SELECT model, total_tokens FROM main_marts.mart_usage_by_model WHERE grain = 'month' "
        "AND period_start = ? AND model <> '*' AND "
        + " AND ".join(
            f"{c} = '{group if c == column else ALL}'" for c in filter_columns() if c != "model"
        )
        + " ORDER BY model",
        [MONTH],
    )
    assert sorted((r["model"], r["total_tokens"]) for r in report["panels"]["usage_by_model"]) == [
        (m, t) for m, t in zip(by_model["model"], by_model["total_tokens"])
    ]
    # A key within a group is not held: the panel is empty, never another filter's rows.
    assert report["panels"]["usage_by_api_key"] == []
    assert report["panels"]["usage_by_team"] == []

    code, table, _ = run(
        sample, "report", "--period", "month", "--date", DAY_IN_MONTH, f"--{dimension}", group
    )
    assert "(Not held for API key within" in table
    assert "(Held for model and provider filters only" in table


def test_report_lists_the_new_panels_as_the_marts_hold_them(sample):
    code, out, err = run(
        sample, "report", "--period", "month", "--date", DAY_IN_MONTH, "--format", "json"
    )
    assert code == 0, err
    panels = json.loads(out)["panels"]
    where = f"grain = 'month' AND period_start = '{MONTH}' AND {_everything_but()}"
    groups = read_query(
        sample,
        f"SELECT dimension, group_id, total_tokens, requests, spend_usd, token_share "
        f"FROM main_marts.mart_usage_by_group WHERE {where}",
    )
    assert {"organization", "team", "project"} == set(groups["dimension"])
    assert sorted(
        (r["dimension"], r["group_id"], r["total_tokens"], r["requests"])
        for r in panels["usage_by_team"]
    ) == sorted(zip(groups.dimension, groups.group_id, groups.total_tokens, groups.requests))
    users = read_query(
        sample,
        f"SELECT end_user_id, spend_rank, total_tokens, spend_usd FROM "
        f"main_marts.mart_top_end_users WHERE {where}",
    )
    shown = {r["end_user_id"]: r for r in panels["top_end_users"]}
    assert set(shown) == set(users["end_user_id"]) and "(other)" in shown
    for _, row in users.iterrows():
        assert shown[row["end_user_id"]]["total_tokens"] == row["total_tokens"]
        assert shown[row["end_user_id"]]["spend_usd"] == pytest.approx(row["spend_usd"])
    tags = read_query(
        sample,
        f"SELECT tag_key, tag_value, untagged, requests FROM main_marts.mart_usage_by_tag "
        f"WHERE {where}",
    )
    assert sorted(
        (r["tag_key"], r["tag_value"] or "", r["untagged"], r["requests"])
        for r in panels["usage_by_tag_key"]
    ) == sorted(
        (k, "" if pd.isna(v) else v, bool(u), n)
        for k, v, u, n in zip(tags.tag_key, tags.tag_value, tags.untagged, tags.requests)
    )

    # CSV long form: each figure of a new panel keeps what identifies its row.
    code, out, _ = run(
        sample, "report", "--period", "month", "--date", DAY_IN_MONTH, "--format", "csv"
    )
    long = pd.read_csv(io.StringIO(out), keep_default_na=False, dtype=str)
    untagged = long[
        (long["panel"] == "usage_by_tag_key")
        & (long["untagged"] == "True")
        & (long["metric"] == "requests")
    ]
    expected = tags[tags["untagged"]]
    assert sorted(zip(untagged["tag_key"], untagged["value"].astype(int))) == sorted(
        zip(expected["tag_key"], expected["requests"])
    )
    team_rows = long[(long["panel"] == "usage_by_team") & (long["metric"] == "total_tokens")]
    assert len(team_rows) == len(groups) and set(team_rows["dimension"]) == set(groups.dimension)


def test_report_end_user_by_exact_id_is_the_end_user_fact(sample):
    user = read_query(
        sample,
        "SELECT end_user_id, total_tokens, requests, spend_usd FROM main_marts.mart_top_end_users "
        f"WHERE grain = 'month' AND period_start = ? AND {_everything_but()} "
        "AND end_user_id NOT IN ('(other)', '(none)') ORDER BY spend_rank LIMIT 1",
        [MONTH],
    ).iloc[0]
    code, out, err = run(
        sample, "report", "--period", "month", "--date", DAY_IN_MONTH,
        "--end-user", user["end_user_id"], "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    figures = json.loads(out)["end_user"]
    assert figures["end_user_id"] == user["end_user_id"]
    assert (figures["total_tokens"], figures["requests"]) == (
        user["total_tokens"],
        user["requests"],
    )
    assert figures["spend_usd"] == pytest.approx(user["spend_usd"])
    # The end-user fact carries model and provider only.
    code, _, err = run(
        sample, "report", "--period", "month", "--end-user", user["end_user_id"],
        "--team", _top_group(sample, "team"),
    )  # fmt: skip
    assert code == 2 and "--end-user is held with --model and --provider only" in err


def test_list_teams_tags_and_end_users_count_the_marts_requests(sample):
    code, out, err = run(sample, "list", "teams")
    assert code == 0, err
    teams = read_query(
        sample,
        "SELECT team_id, sum(requests)::BIGINT AS requests FROM main_marts.mart_usage_summary "
        f"WHERE grain = 'month' AND team_id <> '*' AND {_everything_but(team_id=None)} "
        "GROUP BY 1",
    )
    listed = dict(line.split() for line in out.splitlines()[2:])
    assert listed == {t: f"{n:,}" for t, n in zip(teams.team_id, teams.requests)}

    code, out, _ = run(sample, "list", "tags")
    listed = dict(line.split() for line in out.splitlines()[2:])
    prod = read_query(
        sample,
        "SELECT sum(requests)::BIGINT AS n FROM main_marts.mart_usage_by_tag WHERE grain = "
        f"'month' AND tag_key = 'env' AND tag_value = 'prod' AND {_everything_but()}",
    )["n"].iloc[0]
    assert listed["env:prod"] == f"{prod:,}"

    code, out, _ = run(sample, "list", "end-users")
    total = read_query(
        sample,
        "SELECT sum(requests)::BIGINT AS n FROM main_marts.mart_usage_summary WHERE "
        f"grain = 'month' AND {_everything_but()}",
    )["n"].iloc[0]
    counts = [int(line.split()[1].replace(",", "")) for line in out.splitlines()[2:]]
    assert sum(counts) == total  # every request under exactly one end user, '(none)' too


# ------------------------------------------------------------------------------ page

PAGE = str(Path(__file__).resolve().parent.parent / "readers" / "dashboard.py")


# The Usage tab's tables whose rows a chart already shows are folded, sent only when
# opened (readers/dashboard.py `_table`); these tests open the ones they read.
FOLDED = ("groups_team", "groups_project", "end_users")


@pytest.fixture
def page(sample):
    from streamlit.testing.v1 import AppTest

    from readers.dashboard import TABLE_OPEN

    at = AppTest.from_file(PAGE, default_timeout=120)
    for key in FOLDED:
        at.session_state[f"{TABLE_OPEN}{key}"] = True
    at.run()
    assert not at.exception, at.exception
    return at


def _table_with(page, column: str) -> pd.DataFrame:
    tables = [t.value for t in page.dataframe if column in t.value.columns]
    assert len(tables) == 1, column
    return tables[0]


def _mart(sample, mart: str, columns: str, extra: str = "") -> pd.DataFrame:
    return read_query(
        sample,
        f"SELECT {columns} FROM main_marts.{mart} WHERE grain = 'month' AND period_start = ? "
        f"AND {_everything_but()} {extra}",
        [MONTH],
    )


def test_the_page_shows_groups_end_users_and_tags_as_the_marts_hold_them(sample, page):
    # Usage by Team (the default group), then by project.
    for dimension in ("team", "project"):
        if dimension != "team":
            page.segmented_control(key="group_dimension").set_value(dimension).run()
            assert not page.exception, page.exception
        assert f"Usage by {dimension.capitalize()}" in [s.value for s in page.subheader]
        shown = _table_with(page, "group_id")
        mart = _mart(
            sample,
            "mart_usage_by_group",
            "group_id, group_name, total_tokens, requests",
            f"AND dimension = '{dimension}' ORDER BY total_tokens DESC, group_id",
        )
        assert list(shown["group_id"]) == list(mart["group_id"])
        assert list(shown["group_name"]) == list(mart["group_name"])
        assert list(shown["total_tokens"]) == list(mart["total_tokens"])
        assert list(shown["requests"]) == list(mart["requests"])

    users = _table_with(page, "end_user_id")
    mart = _mart(
        sample,
        "mart_top_end_users",
        "end_user_id, total_tokens, spend_usd",
        "ORDER BY spend_usd DESC, end_user_id",
    )
    assert list(users["end_user_id"]) == list(mart["end_user_id"])
    assert list(users["total_tokens"]) == list(mart["total_tokens"])
    assert "(other)" in set(users["end_user_id"])

    for key in ("env", "feature"):
        if key != "env":
            page.selectbox(key="tag_key").set_value(key).run()
        values = _table_with(page, "tag_value")
        mart = _mart(
            sample,
            "mart_usage_by_tag",
            "tag_value, untagged, requests",
            f"AND tag_key = '{key}' ORDER BY total_tokens DESC, tag_value",
        )
        # Where the mart's value is NULL the page names the row (readers/dashboard.py).
        shown = mart["tag_value"].where(
            mart["tag_value"].notna(),
            mart["untagged"].map({True: "(untagged)", False: "(no value)"}),
        )
        assert sorted(zip(values["tag_value"], values["untagged"], values["requests"])) == sorted(
            zip(shown, mart["untagged"], mart["requests"])
        )
        assert mart["untagged"].any()  # the key's untagged requests have their row
    assert any("tag rows do not add up to the total" in c.value for c in page.caption)


def test_the_page_offers_one_party_filter_at_a_time(sample, page):
    team = _top_group(sample, "team")
    assert [s.key for s in page.selectbox if s.key.endswith("_id")] == ["api_key_id"]
    page.selectbox(key="party").set_value("team").run()
    page.selectbox(key="team_id").set_value(team).run()
    assert not page.exception, page.exception
    # Only the chosen party's value box: a key within a team cannot be picked.
    assert [s.key for s in page.selectbox if s.key.endswith("_id")] == ["team_id"]
    summary = read_query(
        sample,
        "SELECT total_tokens FROM main_marts.mart_usage_summary WHERE grain = 'month' "
        f"AND period_start = ? AND {_everything_but(team_id=team)}",
        [MONTH],
    )["total_tokens"].iloc[0]
    cards = {m.label: m.value.replace("\\", "") for m in page.metric}
    assert cards["Total Token Usage"] == f"{int(summary):,}"
    notes = " ".join(i.value.replace("\\", "").replace("\u2060", "") for i in page.info)
    assert "Not held for API key within Team: the marts hold one of API key" in notes
    assert "clear the Team filter to see it" in notes


def test_every_page_table_downloads_as_spreadsheet_safe_csv(sample, page, monkeypatch):
    """Streamlit's own table export is off (it writes cells as they are); each table has a
    download written by readers/csv_text.py, so a name from the logs is never a formula."""
    import csv

    from readers import dashboard
    from readers.csv_text import to_csv

    # Every table has its download, a folded one too (models and token types are closed
    # here; the team and end-user tables are open).
    downloads = {button.key for button in page.get("download_button")}
    assert len(page.dataframe) > 0 and len(downloads) == len(page.get("download_button"))
    assert {"download_models", "download_token_types", "download_end_users"} <= downloads
    assert len(downloads) == len(page.dataframe) + 2
    got = {}
    monkeypatch.setattr(
        dashboard.st, "download_button", lambda label, data, **kw: got.update(data=data, **kw)
    )
    monkeypatch.setattr(dashboard.st, "dataframe", lambda *args, **kwargs: None)
    frame = pd.DataFrame(
        {
            "group_id": ['=HYPERLINK("http://x.example","x")', "@SUM(A1)", "team_a"],
            "requests": [3, 2, 1],
        }
    )
    dashboard._table(frame, {"group_id": "Team id", "requests": "Requests"}, "groups_team")
    # Written when clicked (a callable), not on every redraw.
    written = got["data"]()
    assert written == to_csv(frame) and got["file_name"] == "groups_team.csv"
    rows = list(csv.reader(io.StringIO(written)))
    assert rows[1] == ['\'=HYPERLINK("http://x.example","x")', "3"]
    assert rows[2] == ["'@SUM(A1)", "2"]
