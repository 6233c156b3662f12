"""Every dashboard mart equals an independent pandas computation, for every grain and
the filters the brief names; the docs/metrics.md invariants hold; and building the days one
at a time (the nightly way) gives the same marts as one backfill, rebuilding only the
periods a day touches."""

from __future__ import annotations

import gzip
import json
import random
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import use_data_dir
from mart_reference import (
    BREAKDOWN_MARTS,
    DIMENSIONS,
    HOURLY_MARTS,
    MARTS,
    compare_hours,
    filter_dimensions,
    held_filter_sets,
    same,
    select,
    with_local_hours,
    with_performance_fields,
)
from nightly import run_window
from reference import read_landing, requests

from cli.main import landing_days_present
from readers.warehouse import read_query
from sample_data.generate import generate_logs

# Thursday 2026-01-29 .. Monday 2026-02-02: two partial ISO weeks and two months; late
# records spill into a sixth landing day.
START = date(2026, 1, 29)
DAYS = 5
PER_DAY = 800  # enough for thin and picked models per filter (test_picks_are_not_trivial)
PERIOD_COLUMN = {"day": "event_date", "week": "week_start", "month": "month_start"}
KEY_COLUMNS = ["grain", "period_start", *DIMENSIONS]


def _give_dimensions(landing_dir) -> None:
    """Who spent it, re-drawn per request over the generator's values (from the request
    id, so every delivery of a request agrees), for the cases the generator's realistic
    data seldom has: organizations, teams and projects independent of the key, names
    missing or changing within a period, and tags with repeats, a plain tag and two
    values of one key on one request."""
    for path in sorted(landing_dir.rglob("*.jsonl.gz")):
        records = []
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            record = json.loads(line)
            draw = random.Random(record["request_id"])
            if draw.random() < 0.9:
                record["organization_id"] = draw.choice(["org-a", "org-b"])
                if draw.random() < 0.8:
                    record["organization_name"] = record["organization_id"].upper()
            if draw.random() < 0.85:
                record["team_id"] = draw.choice(["t-search", "t-chat", "t-ops"])
                record["team_name"] = f"Team {record['team_id'][2:]}" + " v2" * (
                    draw.random() < 0.1
                )
            if draw.random() < 0.7:
                record["project_id"] = draw.choice(["p1", "p2", "p3", "p4"])
            if draw.random() < 0.8:
                record["end_user_id"] = f"user-{int(draw.paretovariate(1.2) * 3)}"
            if draw.random() < 0.7:
                tags = [draw.choice(["env:prod", "env:staging"])]
                tags += [draw.choice(["feature:search", "feature:chat"])] * (draw.random() < 0.5)
                tags += ["env:prod"] * (draw.random() < 0.1) + ["env:staging"] * (
                    draw.random() < 0.1
                )
                tags += ["beta"] * (draw.random() < 0.2)
                record["tags"] = tags
            elif draw.random() < 0.3:
                record["tags"] = []
            records.append(json.dumps(record))
        path.write_bytes(gzip.compress(("\n".join(records) + "\n").encode()))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One backfill of every landing day, plus the pandas view of the same files.
    (test_end_to_end runs the same models through the Dagster job.)"""
    root = tmp_path_factory.mktemp("marts")
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, root / "backfill")
        generate_logs(
            settings.landing_dir,
            START,
            DAYS,
            requests_per_day=PER_DAY,
            seed=23,
            duplicate_rate=0.01,
            late_rate=0.02,
        )
        _give_dimensions(settings.landing_dir)
        days = landing_days_present(settings)
        run_window(settings, days[0], days[-1], root)
        deliveries, invalid = read_landing(settings.landing_dir)
        assert invalid == 0
        # The cases the data is drawn for, present at this size: requests delivered twice,
        # and a team whose name changes within the data.
        assert len(deliveries) > deliveries["request_id"].nunique()
        assert (deliveries.groupby("team_id")["team_name"].nunique() > 1).any()
        yield settings, with_performance_fields(requests(deliveries)), requests(deliveries)


def _mart(settings, name: str) -> pd.DataFrame:
    frame = read_query(settings, f"SELECT * EXCLUDE (built_at) FROM main_marts.{name}")
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    return frame.set_index(KEY_COLUMNS).sort_index()


def _filters(rows: pd.DataFrame) -> list[tuple[str, ...]]:
    """All; the busiest key; the busiest model; that key x its busiest model; that
    model x its busiest provider; and for each of organization, team and project its
    busiest value alone, with its busiest model, and with that model's busiest provider.
    One value per filter column (DIMENSIONS), '*' = all."""
    key = rows["api_key_id"].value_counts().index[0]
    model = rows["model"].value_counts().index[0]
    key_model = rows[rows["api_key_id"] == key]["model"].value_counts().index[0]
    provider = rows[rows["model"] == model]["provider"].value_counts().index[0]
    chosen = [
        {},
        {"api_key_id": key},
        {"model": model},
        {"api_key_id": key, "model": key_model},
        {"model": model, "provider": provider},
    ]
    for column in ("organization_id", "team_id", "project_id"):
        group = rows[column].value_counts().index[0]
        in_group = rows[rows[column] == group]
        group_model = in_group["model"].value_counts().index[0]
        group_provider = in_group[in_group["model"] == group_model]["provider"].value_counts()
        chosen += [
            {column: group},
            {column: group, "model": group_model},
            {column: group, "model": group_model, "provider": group_provider.index[0]},
        ]
    return [tuple(c.get(d, "*") for d in DIMENSIONS) for c in chosen]


def _held(combination, breakdown) -> bool:
    """The marts hold this combination (with the breakdown's values listed)."""
    kept = {d for d, v in zip(DIMENSIONS, combination) if v != "*"} | ({breakdown} - {None})
    return frozenset(kept) in held_filter_sets()


def _expected_rows(name, rows, filters):
    """{mart key: figures} that the reference computes for these filters."""
    figures, breakdown = MARTS[name]
    expected = {}
    for combination in filters:
        if not _held(combination, breakdown):
            continue  # e.g. usage by key within a team: not held (docs/metrics.md)
        chosen = dict(zip(DIMENSIONS, combination))
        if breakdown:
            chosen[breakdown] = "*"  # the panel lists every value of its dimension
            for value, values in figures(select(rows, **chosen)).items():
                expected[tuple({**chosen, breakdown: value}[d] for d in DIMENSIONS)] = values
        else:
            matching = select(rows, **chosen)
            if len(matching):
                expected[combination] = figures(matching)
    return expected


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize("name", sorted(MARTS))
def test_mart_equals_independent_computation(built, name, grain):
    settings, rows, _ = built
    mart = _mart(settings, name)
    _, breakdown = MARTS[name]
    filters = _filters(rows)
    compared = 0
    for period, in_period in rows.groupby(PERIOD_COLUMN[grain]):
        expected = _expected_rows(name, in_period, filters)
        if breakdown:
            # No row the reference does not know either, for the filters compared.
            for combination in {
                tuple("*" if d == breakdown else v for d, v in zip(DIMENSIONS, f))
                for f in filters
                if _held(f, breakdown)
            }:
                chosen = mart.loc[(grain, period)]
                for d, v in zip(DIMENSIONS, combination):
                    if d != breakdown:
                        chosen = chosen[chosen.index.get_level_values(d) == v]
                listed = set(chosen.index.get_level_values(breakdown))
                wanted = {
                    k[DIMENSIONS.index(breakdown)]
                    for k in expected
                    if all(
                        k[i] == combination[i] for i, d in enumerate(DIMENSIONS) if d != breakdown
                    )
                }
                assert listed == wanted, (name, grain, period, combination)
        for combination, figures in expected.items():
            actual = mart.loc[(grain, period, *combination)]
            for column, value in figures.items():
                assert same(actual[column], value), (
                    name,
                    grain,
                    period.date(),
                    combination,
                    column,
                    actual[column],
                    value,
                )
                compared += 1
    assert compared >= 20  # the loops above really compared figures


def _key(values) -> tuple:
    return tuple(None if not isinstance(v, str) and pd.isna(v) else v for v in values)


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize("name", sorted(BREAKDOWN_MARTS))
def test_breakdown_mart_equals_independent_computation(built, name, grain):
    """Usage by group (organization, team, project), top end users and usage by tag
    equal the reference for every period, all models and providers and the busiest
    model, provider and model x provider: every row, no row missing or left over."""
    settings, rows, _ = built
    figures, key = BREAKDOWN_MARTS[name]
    mart = read_query(settings, f"SELECT * EXCLUDE (built_at) FROM main_marts.{name}")
    mart["period_start"] = pd.to_datetime(mart["period_start"])
    assert (mart[[d for d in DIMENSIONS if d not in ("model", "provider")]] == "*").all().all()
    model = rows["model"].value_counts().index[0]
    provider = rows[rows["model"] == model]["provider"].value_counts().index[0]
    compared = 0
    for period, in_period in rows.groupby(PERIOD_COLUMN[grain]):
        for chosen in (
            {},
            {"model": model},
            {"provider": provider},
            {"model": model, "provider": provider},
        ):
            expected = figures(select(in_period, **chosen))
            got = mart[(mart["grain"] == grain) & (mart["period_start"] == period)]
            for column in ("model", "provider"):
                got = got[got[column] == chosen.get(column, "*")]
            actual = {_key(row[list(key)]): row for _, row in got.iterrows()}
            assert set(actual) == {_key(k if isinstance(k, tuple) else (k,)) for k in expected}, (
                name,
                grain,
                period,
                chosen,
            )
            for k, values in expected.items():
                row = actual[_key(k if isinstance(k, tuple) else (k,))]
                for column, value in values.items():
                    (got,) = _key([row[column]])  # a NULL rank reads as pandas' NA
                    assert same(got, value), (name, grain, period, chosen, k, column, got, value)
                    compared += 1
    assert compared >= 50


def test_tag_rows_do_not_add_up_to_the_total(built):
    """docs/metrics.md, Usage by tag key: a request counts under each of its tags, so the
    tag rows count more requests than there are, while each key's values and its
    untagged row cover every request at least once."""
    settings, rows, _ = built
    tags = read_query(
        settings,
        "SELECT tag_key, untagged, sum(requests) AS requests FROM main_marts.mart_usage_by_tag "
        "WHERE grain = 'month' AND model = '*' AND provider = '*' GROUP BY ALL",
    )
    total = len(rows)  # every month's requests
    assert tags.loc[~tags["untagged"], "requests"].sum() > total
    per_key = tags[tags["tag_key"] != "(none)"].groupby("tag_key")["requests"].sum()
    assert len(per_key) >= 2 and (per_key >= total).all()


def test_marts_hold_exactly_the_documented_filter_combinations(built):
    """docs/metrics.md, "Filter combinations": each mart holds the combinations derived
    from the declared dimensions (a breakdown mart those that contain its dimension),
    and no other: a CUBE of six filters would hold 64 where 20 are held."""
    from tools.metrics_doc import held_filter_sets as documented

    settings, _, _ = built
    filters = list(filter_dimensions())
    held = held_filter_sets()
    assert {frozenset(kept) for kept in documented()} == held
    assert len(documented()) == len(held)  # no combination twice
    for name, (_, breakdown) in MARTS.items():
        mart = read_query(settings, f"SELECT DISTINCT {', '.join(filters)} FROM main_marts.{name}")
        found = {
            frozenset(c for c, v in zip(filters, values) if v != "*")
            for values in zip(*(mart[c] for c in filters))
        }
        wanted = {kept for kept in held if breakdown is None or breakdown in kept}
        assert found == wanted, name


def test_picks_are_not_trivial(built):
    """The data set exercises the sample rule: some filter has a model with the lowest
    mean latency that is too thin to be picked, and some filters have no pick at all."""
    settings, rows, _ = built
    summary = _mart(settings, "mart_performance_summary")
    latency = _mart(settings, "mart_latency_by_model")
    assert summary["fastest_model"].isna().any() and summary["fastest_model"].notna().any()
    thin_winner = 0
    # The rows of all models (only those can have a thin winner among the models).
    picked = summary["fastest_model"].notna()
    all_models = summary.index.get_level_values("model") == "*"
    for key, fastest_model in summary["fastest_model"][picked & all_models].items():
        chosen = dict(zip(KEY_COLUMNS, key))
        models = latency.loc[(chosen["grain"], chosen["period_start"])]
        for column in DIMENSIONS:
            if column != "model":
                models = models[models.index.get_level_values(column) == chosen[column]]
        fastest = models["avg_latency_ms"].idxmin()[DIMENSIONS.index("model")]
        if fastest != fastest_model:
            thin_winner += 1
    assert thin_winner > 0


# ---------------------------------------------------------------------------- invariants


def test_token_types_add_up_on_every_row(built):
    settings, _, _ = built
    parts = read_query(
        settings,
        "SELECT count(*) AS rows, count(*) FILTER (WHERE uncached_input_tokens + cache_read_tokens "
        "+ cache_write_tokens + output_excl_reasoning_tokens + reasoning_tokens <> total_tokens) AS bad "
        "FROM main_marts.mart_usage_by_token_type",
    ).iloc[0]
    assert parts["rows"] > 0 and parts["bad"] == 0


def test_days_weeks_and_months_agree_with_the_request_fact(built):
    settings, _, _ = built
    mart = _mart(settings, "mart_usage_summary").xs(
        ("*",) * len(DIMENSIONS), level=list(DIMENSIONS)
    )
    fact = read_query(
        settings,
        "SELECT event_date, week_start, month_start, sum(total_tokens) AS total_tokens, "
        "count(*) AS requests FROM main_facts.fct_requests WHERE billing_mode = 'pay_as_you_go' "
        "GROUP BY ALL",
    )
    for grain, column in (("week", "week_start"), ("month", "month_start")):
        days = mart.loc["day"].reset_index()
        days[column] = days["period_start"].map(
            lambda d: d - timedelta(days=d.weekday()) if grain == "week" else d.replace(day=1)
        )
        from_days = days.groupby(column)[["total_tokens", "requests"]].sum()
        from_fact = (
            fact.assign(**{column: pd.to_datetime(fact[column])})
            .groupby(column)[["total_tokens", "requests"]]
            .sum()
        )
        rolled = mart.loc[grain][["total_tokens", "requests"]]
        assert from_days.to_dict() == rolled.to_dict() == from_fact.to_dict(), grain


@pytest.mark.parametrize(
    "name", ["mart_usage_summary", "mart_usage_by_token_type", "mart_web_search_usage"]
)
def test_all_keys_row_is_the_sum_of_per_key_rows(built, name):
    settings, _, _ = built
    mart = _mart(settings, name).reset_index()
    additive = [
        c
        for c in mart.columns
        if c not in KEY_COLUMNS
        and not c.endswith("_share")
        and c not in ("cost_coverage", "cost_per_million_tokens")
    ]
    others = ["grain", "period_start", *(d for d in DIMENSIONS if d != "api_key_id")]
    per_key = mart[mart["api_key_id"] != "*"].groupby(others)[additive].sum()
    # The all-keys rows of the combinations that hold per-key rows: no other party
    # (organization, team, project) fixed, since a key is not held within one.
    all_keys = mart[mart["api_key_id"] == "*"].set_index(others)[additive]
    all_keys = all_keys[all_keys.index.isin(per_key.index)]
    assert len(all_keys) == len(per_key) > 0
    pd.testing.assert_frame_equal(per_key.sort_index(), all_keys.sort_index(), check_dtype=False)


def test_no_subscription_request_in_any_mart(built):
    settings, rows, all_requests = built
    subscription_only = set(
        all_requests.groupby("api_key_id")["billing_mode"]
        .agg(set)
        .loc[lambda s: s == {"subscription"}]
        .index
    )
    assert subscription_only, "the data set should have subscription-only keys"
    for name in MARTS:
        keys = set(
            read_query(settings, f"SELECT DISTINCT api_key_id FROM main_marts.{name}")["api_key_id"]
        )
        assert not keys & subscription_only, name
    totals = read_query(
        settings,
        "SELECT sum(requests) AS requests FROM main_marts.mart_usage_summary "
        "WHERE grain = 'month' AND " + " AND ".join(f"{d} = '*'" for d in DIMENSIONS),
    ).iloc[0]
    assert totals["requests"] == len(rows) < len(all_requests)


def test_no_nan_or_infinity_in_any_mart(built):
    settings, _, _ = built
    for name in MARTS:
        frame = _mart(settings, name)
        reals = frame.select_dtypes("float")
        assert np.isfinite(reals.fillna(0).to_numpy()).all(), name
        checks = " OR ".join(f"isnan({c}) OR isinf({c})" for c in reals.columns)
        if checks:
            bad = read_query(
                settings, f"SELECT count(*) AS n FROM main_marts.{name} WHERE {checks}"
            )
            assert bad["n"].iloc[0] == 0, name


# --------------------------------------------------------------------------- incremental


def test_nightly_runs_equal_one_backfill_and_rebuild_only_touched_periods(built, tmp_path):
    settings, _, _ = built
    days = landing_days_present(settings)
    with pytest.MonkeyPatch.context() as monkeypatch:
        nightly = use_data_dir(
            monkeypatch, tmp_path / "nightly", LLM_USAGE_LANDING_DIR=str(settings.landing_dir)
        )
        # As a deployment goes: a first backfill, then one landing day per nightly run
        # (two: the last one rebuilds on top of a nightly run, not only of a backfill).
        run_window(nightly, days[0], days[-3], tmp_path, command="run")
        run_window(nightly, days[-2], days[-2], tmp_path, command="run")
        stamps_sql = (
            "SELECT grain, period_start, min(built_at) AS built_at FROM main_marts.{} GROUP BY ALL"
        )
        before = {name: read_query(nightly, stamps_sql.format(name)) for name in MARTS}
        run_window(nightly, days[-1], days[-1], tmp_path, command="run")

        last_day, _ = read_landing(settings.landing_dir, [days[-1]])
        touched_days = set(requests(last_day)["event_date"].dt.date)
        touched = {("day", d) for d in touched_days}
        touched |= {("week", d - timedelta(days=d.weekday())) for d in touched_days}
        touched |= {("month", d.replace(day=1)) for d in touched_days}
        assert ("day", days[-2]) in touched  # late records reach back a day

        for name in MARTS:
            after = read_query(nightly, stamps_sql.format(name))
            merged = before[name].merge(
                after, on=["grain", "period_start"], suffixes=("_before", "_after")
            )
            rebuilt = merged["built_at_before"] != merged["built_at_after"]
            periods = set(
                zip(merged["grain"], merged["period_start"].map(lambda d: pd.Timestamp(d).date()))
            )
            assert (
                set(
                    zip(
                        merged["grain"][rebuilt],
                        merged["period_start"][rebuilt].map(lambda d: pd.Timestamp(d).date()),
                    )
                )
                == touched & periods
            ), name
            assert (~rebuilt).sum() > 0, name

            one_at_a_time = _mart(nightly, name)
            backfill = _mart(settings, name)
            pd.testing.assert_frame_equal(one_at_a_time, backfill, check_exact=False, rtol=1e-9)

        # The hour grain: the nightly runs rebuild the touched local days' hours to the
        # same rows as the backfill.
        for table in (
            "main_facts.fct_usage_hourly",
            "main_facts.fct_latency_sketch_hourly",
            *(f"main_marts.{name}" for name in HOURLY_MARTS),
        ):
            one_at_a_time, backfill = (
                read_query(warehouse, f"SELECT * EXCLUDE (built_at) FROM {table}")
                for warehouse in (nightly, settings)
            )
            key = [c for c in backfill.columns if not pd.api.types.is_float_dtype(backfill[c])]
            one_at_a_time, backfill = (
                frame.sort_values(key).reset_index(drop=True) for frame in (one_at_a_time, backfill)
            )
            assert len(backfill) > 0, table
            pd.testing.assert_frame_equal(one_at_a_time, backfill, check_exact=False, rtol=1e-9)


@pytest.mark.parametrize("name", sorted(HOURLY_MARTS))
def test_hourly_mart_equals_independent_computation_in_utc(built, name):
    """mart_usage_by_hour in UTC (the backfill's zone) against the reference for the
    filters the other marts are compared on; the hours-sum-to-day dbt test ran in its
    build (dbt build)."""
    settings, rows, _ = built
    mart = read_query(settings, f"SELECT * EXCLUDE (built_at) FROM main_marts.{name}")
    filters = [
        {d: v for d, v in zip(DIMENSIONS, combination) if v != "*"}
        for combination in _filters(rows)
    ]
    assert compare_hours(mart, with_local_hours(rows, "UTC"), filters, name) > 5000
    assert set(mart["utc_offset_minutes"]) == {0}


# ------------------------------------------------------------------- report and docs


def test_report_prints_the_marts_figures_for_a_filter(built, capsys):
    import io
    import json

    from cli.main import main

    settings, rows, _ = built
    key = rows["api_key_id"].value_counts().index[0]
    model = rows[rows["api_key_id"] == key]["model"].value_counts().index[0]
    day = START + timedelta(days=1)
    week = day - timedelta(days=day.weekday())
    chosen = rows[
        (rows["week_start"] == pd.Timestamp(week))
        & (rows["api_key_id"] == key)
        & (rows["model"] == model)
    ]
    main(
        [
            "report",
            "--period",
            "week",
            "--date",
            day.isoformat(),
            "--api-key",
            key,
            "--model",
            model,
            "--format",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert report["period_start"] == week.isoformat()
    panels = report["panels"]
    expected_usage = MARTS["mart_usage_summary"][0](chosen)
    assert set(panels["usage_summary"]) == set(expected_usage)
    assert all(same(panels["usage_summary"][k], v) for k, v in expected_usage.items())
    assert panels["usage_summary"]["spend_usd"] > 0
    expected_providers = MARTS["mart_provider_summary"][0](chosen)
    assert all(same(panels["provider_summary"][k], v) for k, v in expected_providers.items())
    latency = MARTS["mart_latency_by_model"][0](chosen)
    assert [row["model"] for row in panels["latency_by_model"]] == [model]
    assert all(same(panels["latency_by_model"][0][k], v) for k, v in latency[model].items())
    assert {row["api_key_id"] for row in panels["usage_by_api_key"]} == {key}

    main(["report", "--period", "month", "--format", "csv"])
    long = pd.read_csv(io.StringIO(capsys.readouterr().out))
    requests_total = long[(long["panel"] == "usage_summary") & (long["metric"] == "requests")][
        "value"
    ]
    latest_month = rows[rows["month_start"] == rows["month_start"].max()]
    assert float(requests_total.iloc[0]) == len(latest_month)

    main(["report", "--period", "day"])
    table = capsys.readouterr().out
    assert (
        "== Performance ==" in table
        and "Fastest Response Provider".lower().replace(" ", "_") in table
    )


def test_report_says_when_a_filter_matches_nothing(built, capsys):
    from cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--period", "week", "--model", "no/such-model"])
    assert exit_info.value.code == 2
    assert "No pay-as-you-go requests match" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--period", "day", "--date", "2025-06-01"])
    assert "in the day 2025-06-01" in capsys.readouterr().err


BRIEF_NUMBERS = (
    "Total Token Usage",
    "Input Token Usage",
    "Output Token Usage",
    "Total API Requests",
    "Usage by Model",
    "Usage by Token Type",
    "Usage by API Key",
    "Web Search Usage",
    "Primary Provider",
    "Provider Count",
    "Average Success Rate",
    "Fastest Response Provider",
    "Token Distribution",
    "Request Distribution",
    "Average Latency",
    "Average Throughput",
    "Fastest",
    "Slowest",
    "Highest Throughput",
    "Lowest Throughput",
    "First Token Latency by Model",
    "Throughput by Model",
    "Latency by Model",
)


def test_metrics_doc_is_generated_covers_the_brief_and_its_examples_run(built):
    from tools.metrics_doc import METRICS_DOC, example_sql, load_marts, metric_columns, render

    settings, _, _ = built
    models = load_marts()
    assert METRICS_DOC.read_text() == render(models), "run python -m tools.metrics_doc"
    assert {m["name"] for m in models} == set(MARTS) | set(BREAKDOWN_MARTS) | set(HOURLY_MARTS)
    named = {
        c["config"]["meta"]["metric"].split(" (")[0] for m in models for c in metric_columns(m)
    }
    assert set(BRIEF_NUMBERS) <= named
    for model in models:
        answer = read_query(settings, example_sql(model))
        assert len(answer) >= 1 and answer.notna().any().all(), model["name"]
        # The YAML documents every column the mart really has, and no other.
        columns = set(
            read_query(settings, f"SELECT * FROM main_marts.{model['name']} LIMIT 0").columns
        )
        assert columns == {c["name"] for c in model["columns"]}, model["name"]
