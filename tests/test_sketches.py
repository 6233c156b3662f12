"""The sketch-based percentiles (macros/sketch.sql) against exact percentiles computed
independently in pandas, on crafted latencies and throughputs with uniform, log-normal
and heavy-tailed (Pareto) distributions and some zeros: every p50/p90/p99 of every grain,
period and filter combination of the per-model marts, and every median of the summary,
is within the stated relative error of the exact nearest-rank percentile (and so of the
order statistics around pandas' interpolated one; mart_reference.Percentile). And the
histograms merge exactly: building the days night by night gives the same bucket counts
and the same percentiles as one build of all of them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import use_data_dir
from mart_reference import (
    DIMENSIONS,
    SKETCH_RELATIVE_ERROR,
    exact_percentile,
    held_filter_sets,
    select,
    with_performance_fields,
)
from nightly import run_window
from reference import read_landing, requests

from cli.main import landing_days_present
from readers.warehouse import read_query

# Saturday 2026-01-31 .. Monday 2026-02-02: two ISO weeks, two months, and a week and
# a month that two nights each add to (the fixture asserts all of it).
START = date(2026, 1, 31)
DAYS = 3
PER_DAY = 700
KEYS = ("key_a", "key_b", "key_c")
PROVIDERS = ("prov-x", "prov-y")
PERIOD_COLUMN = {"day": "event_date", "week": "week_start", "month": "month_start"}


def _draw(rng: np.random.Generator, shape: str, n: int, scale: float) -> np.ndarray:
    if shape == "uniform":
        return rng.uniform(0.02 * scale, 2 * scale, n)
    if shape == "lognormal":
        return scale * np.exp(1.2 * rng.standard_normal(n))
    # Pareto with tail index 1.1: a mean barely finite, values over many decades.
    return scale * (1 + rng.pareto(1.1, n))


def _records(day: date, rng: np.random.Generator) -> list[dict]:
    """Each model has one distribution shape for latency, first token and throughput."""
    records = []
    for shape in ("uniform", "lognormal", "pareto"):
        n = PER_DAY // 3
        first_token = _draw(rng, shape, n, 300.0)
        first_token[rng.random(n) < 0.03] = 0.0  # zero has its own bucket
        tps = _draw(rng, shape, n, 60.0)
        output_tokens = np.maximum(1, np.round(_draw(rng, "lognormal", n, 400.0))).astype(int)
        generation_ms = output_tokens / tps * 1000.0
        latency = np.round(first_token + generation_ms, 3)
        streamed = rng.random(n) < 0.7
        failed = rng.random(n) < 0.05
        seconds = rng.integers(0, 86400, n)
        for i in range(n):
            ok = not failed[i]
            records.append(
                {
                    "request_id": f"{day}-{shape}-{i}",
                    "created_at": (
                        datetime(day.year, day.month, day.day, tzinfo=UTC)
                        + timedelta(seconds=int(seconds[i]))
                    ).isoformat(),
                    "api_key_id": KEYS[int(rng.integers(len(KEYS)))],
                    "model": f"dist/{shape}",
                    "provider": PROVIDERS[int(rng.integers(len(PROVIDERS)))],
                    "billing_mode": "pay_as_you_go",
                    "status": "success" if ok else "error",
                    "http_status": 200 if ok else 502,
                    "stream": bool(streamed[i]),
                    "input_tokens": 100,
                    "output_tokens": int(output_tokens[i]) if ok else 0,
                    "latency_ms": float(latency[i]),
                    "first_token_ms": float(first_token[i]) if ok and streamed[i] else None,
                }
            )
    return records


def _write_landing(landing, days=DAYS) -> None:
    rng = np.random.default_rng(15)
    for offset in range(days):
        day = START + timedelta(days=offset)
        folder = landing / f"dt={day}"
        folder.mkdir(parents=True)
        (folder / "crafted.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in _records(day, rng))
        )


@pytest.fixture(scope="module")
def sketched(tmp_path_factory):
    """One backfill of the crafted days, and the same requests in pandas."""
    root = tmp_path_factory.mktemp("sketches")
    landing = root / "landing"
    _write_landing(landing)
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, root / "backfill", LLM_USAGE_LANDING_DIR=str(landing))
        days = landing_days_present(settings)
        run_window(settings, days[0], days[-1], root, command="run")
        deliveries, invalid = read_landing(landing)
        assert invalid == 0
        rows = with_performance_fields(requests(deliveries))
        for grain in ("week", "month"):
            days_per_period = rows.groupby(PERIOD_COLUMN[grain])["event_date"].nunique()
            assert len(days_per_period) == 2, grain  # the days cross a period boundary
            assert days_per_period.max() >= 2, grain  # a later night adds to a period
        yield settings, rows, root


def _exact_groups(rows, population, measure) -> dict[frozenset, dict[tuple, pd.Series]]:
    """The measure's values in every grain x period x held filter combination with any,
    grouped once in pandas: {filter columns held: {(grain, period_start, *DIMENSIONS with
    '*' for all): values}}. The same rows `select` finds, without a scan per mart row."""
    chosen = population(rows)
    groups: dict[frozenset, dict[tuple, pd.Series]] = {}
    for kept in held_filter_sets():
        columns = sorted(kept)
        found = groups.setdefault(kept, {})
        for grain, period in PERIOD_COLUMN.items():
            for key, frame in chosen.groupby([period, *columns]):
                values = dict(zip([period, *columns], key))
                found[(grain, key[0], *(values.get(d, "*") for d in DIMENSIONS))] = frame[measure]
    return groups


@pytest.fixture(scope="module")
def exact(sketched):
    """_exact_groups of each mart's population, computed on first use."""
    _, rows, _ = sketched
    computed = {}

    def of(name):
        if name not in computed:
            population, measure, _ = PERCENTILE_MARTS[name]
            computed[name] = _exact_groups(rows, population, measure)
        return computed[name]

    return of


# mart -> (population of the pandas rows, measure column, {mart column: fraction})
PERCENTILE_MARTS = {
    "mart_latency_by_model": (
        lambda rows: rows[rows["is_success"]],
        "latency_ms",
        {"p50_latency_ms": 0.5, "p90_latency_ms": 0.9, "p99_latency_ms": 0.99},
    ),
    "mart_first_token_latency_by_model": (
        lambda rows: rows[rows["is_success"] & rows["stream"] & rows["first_token_ms"].notna()],
        "first_token_ms",
        {"p50_first_token_ms": 0.5, "p90_first_token_ms": 0.9, "p99_first_token_ms": 0.99},
    ),
    "mart_throughput_by_model": (
        lambda rows: rows[rows["throughput_tps"].notna()],
        "throughput_tps",
        {"p50_throughput_tps": 0.5, "p90_throughput_tps": 0.9},
    ),
    "mart_performance_summary": (
        lambda rows: rows[rows["throughput_tps"].notna()],
        "throughput_tps",
        {"median_throughput_tps": 0.5},
    ),
}


def _mart(settings, name):
    frame = read_query(settings, f"SELECT * EXCLUDE (built_at) FROM main_marts.{name}")
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    return frame


@pytest.mark.parametrize("name", sorted(PERCENTILE_MARTS))
def test_every_percentile_is_within_the_bound_of_the_exact_one(sketched, exact, name):
    settings, rows, _ = sketched
    population, measure, columns = PERCENTILE_MARTS[name]
    mart = _mart(settings, name)
    grouped = {}
    for found in exact(name).values():
        grouped.update(found)
    compared, worst, by_shape = 0, 0.0, {}
    for _, row in mart.iterrows():
        key = (row["grain"], row["period_start"], *(row[d] for d in DIMENSIONS))
        if key in grouped:
            chosen = grouped[key]
        else:  # a combination no held set has values for: the rows `select` finds
            in_period = rows[rows[PERIOD_COLUMN[row["grain"]]] == row["period_start"]]
            chosen = population(select(in_period, **{d: row[d] for d in DIMENSIONS}))[measure]
        for column, fraction in columns.items():
            expected = exact_percentile(chosen, fraction)
            if expected is None:
                assert pd.isna(row[column]), (name, column, row.to_dict())
                continue
            actual = float(row[column])
            assert expected.admits(actual), (
                name,
                column,
                fraction,
                expected,
                actual,
                row.to_dict(),
            )
            if expected.nearest_rank:
                error = abs(actual / expected.nearest_rank - 1)
                worst = max(worst, error)
                by_shape[row["model"]] = max(by_shape.get(row["model"], 0.0), error)
            compared += 1
    # Every grain, and all three shapes (per-model marts), were compared.
    assert set(mart["grain"]) == {"day", "week", "month"}
    assert compared >= 50, compared
    if name != "mart_performance_summary":
        assert {"dist/uniform", "dist/lognormal", "dist/pareto"} <= set(by_shape)
    assert 0 < worst <= SKETCH_RELATIVE_ERROR * (1 + 1e-9)


@pytest.mark.parametrize("name", sorted(set(PERCENTILE_MARTS) - {"mart_performance_summary"}))
def test_every_filter_combination_with_values_has_a_row(sketched, exact, name):
    """No combination is lost or invented: a per-model mart's rows are exactly the grain x
    period x held filter combinations (each model listed) with values."""
    settings, _, _ = sketched
    mart = _mart(settings, name)
    wanted = set()
    for kept, found in exact(name).items():
        if "model" in kept:  # a per-model mart lists every model
            wanted |= {key for key, values in found.items() if len(values)}
    assert wanted
    listed = set(mart[["grain", "period_start", *DIMENSIONS]].itertuples(index=False, name=None))
    assert listed == wanted


def test_night_by_night_equals_one_build_of_all_days(sketched, tmp_path):
    """Bucket counts add exactly, so a month built one night at a time has the same
    histograms and the same percentiles as one build of the whole month."""
    settings, _, root = sketched
    days = landing_days_present(settings)
    with pytest.MonkeyPatch.context() as monkeypatch:
        nightly = use_data_dir(
            monkeypatch, tmp_path / "nightly", LLM_USAGE_LANDING_DIR=str(settings.landing_dir)
        )
        for day in days:
            run_window(nightly, day, day, tmp_path, command="run")
        sketch_sql = (
            "SELECT * EXCLUDE (built_at) FROM main_facts.fct_latency_sketch_daily "
            "ORDER BY event_date, api_key_id, model, provider, billing_mode, measure, bucket"
        )
        one, many = read_query(settings, sketch_sql), read_query(nightly, sketch_sql)
        assert len(one) > 0
        pd.testing.assert_frame_equal(one.drop(columns="value_sum"), many.drop(columns="value_sum"))
        np.testing.assert_allclose(one["value_sum"], many["value_sum"], rtol=1e-12)
        # The weekly and monthly sums, rebuilt night by night for the touched periods only,
        # equal the sums of the final day rows.
        for grain in ("week", "month"):
            period = PERIOD_COLUMN[grain]
            columns = "api_key_id, model, provider, billing_mode, measure, bucket"
            summed = read_query(
                nightly,
                f"SELECT {period}, {columns}, sum(requests) AS requests, sum(value_sum) AS value_sum "
                f"FROM main_facts.fct_latency_sketch_daily GROUP BY ALL ORDER BY {period}, {columns}",
            )
            kept = read_query(
                nightly,
                f"SELECT period_start AS {period}, {columns}, requests, value_sum "
                f"FROM main_facts.fct_latency_sketch_periods WHERE grain = '{grain}' "
                f"ORDER BY {period}, {columns}",
            )
            pd.testing.assert_frame_equal(
                summed.drop(columns="value_sum"), kept.drop(columns="value_sum"), check_dtype=False
            )
            np.testing.assert_allclose(summed["value_sum"], kept["value_sum"], rtol=1e-12)
        key = ["grain", "period_start", *DIMENSIONS]
        for name, (_, _, columns) in PERCENTILE_MARTS.items():
            built_once = _mart(settings, name).set_index(key).sort_index()[list(columns)]
            built_nightly = _mart(nightly, name).set_index(key).sort_index()[list(columns)]
            pd.testing.assert_frame_equal(built_once, built_nightly, check_exact=True)
