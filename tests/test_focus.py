"""The FOCUS cost and usage dataset (readers/focus.py, orchestration/focus_assets.py):
the FinOps Foundation's own validator passes it, its costs and tokens add up to the
marts', a request without a known cost is never exported as free, charge periods are
UTC instants of the reporting time zone's days, and the monthly asset writes the same
file as `llm-usage export focus`.

The validator (focus-validator on PyPI) pins numpy < 2 and an old pandera, which clash
with the project's own pins: it runs in a virtualenv of its own, made from
tests/focus_validator.lock (its dependencies as of its release) under .venv/ once and
reused while the lock is unchanged (uv's cache makes a rebuild quick).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import SAMPLE_START, copy_data_dir
from test_export import run

from readers.filters import filter_columns
from readers.focus import FOCUS_VERSION

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "tests" / "focus_validator.lock"
MONTH = SAMPLE_START.strftime("%Y-%m")  # the sample's six days of January

# FOCUS 1.0's mandatory columns (the specification's column list, "Feature level:
# Mandatory" of version 1.0).
MANDATORY = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
}  # fmt: skip
# The other FOCUS 1.0 columns the dataset has (conditional or recommended in the spec).
OTHER_FOCUS_COLUMNS = {
    "ChargeFrequency", "CommitmentDiscountCategory", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "ConsumedQuantity", "ConsumedUnit", "ContractedUnitPrice", "ListUnitPrice",
    "PricingCategory", "RegionId", "RegionName", "ResourceId", "ResourceName",
    "ResourceType", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
}  # fmt: skip

# focus-validator 1.0.0 checks its "1.0" rule set against four columns under the names
# the 1.0 preview gave them, and one rule (SkuPriceId set for usage) reads the preview's
# ChargeType (1.0: ChargeCategory). The copy it validates carries those names; every
# other column is the file's own.
PREVIEW_NAMES = {
    "ProviderName": "Provider",
    "PublisherName": "Publisher",
    "ResourceId": "ResourceID",
    "InvoiceIssuerName": "InvoiceIssuer",
}

DRIVER = """
import json, sys
import pandas as pd
from focus_validator.rules.spec_rules import SpecRules
from focus_validator.validator import DEFAULT_VERSION_SETS_PATH

results = {}
for path in sys.argv[2:]:
    rules = SpecRules(None, DEFAULT_VERSION_SETS_PATH, sys.argv[1], None)
    rules.load()
    checks = rules.validate(pd.read_parquet(path)).checklist
    results[path] = {name: check.status.value for name, check in checks.items()}
print(json.dumps(results))
"""


@pytest.fixture(scope="session")
def focus_validator(tmp_path_factory, worker_id) -> Path:
    """The validator's Python, in its own virtualenv (made once per lock file)."""
    from filelock import FileLock

    home = REPO / ".venv" / "focus-validator"
    marker = home / ".lock-sha256"
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    uv = Path(sys.executable).with_name("uv")
    with FileLock(str(REPO / ".venv" / "focus-validator.filelock")):
        if not marker.exists() or marker.read_text() != digest:
            subprocess.run(
                [str(uv), "venv", "-q", "--clear", "-p", sys.executable, str(home)], check=True
            )
            subprocess.run(
                [
                    str(uv),
                    "pip",
                    "install",
                    "-q",
                    "-p",
                    str(home / "bin" / "python"),
                    "-r",
                    str(LOCK),
                ],
                check=True,
            )
            marker.write_text(digest)
    return home / "bin" / "python"


def validate(python: Path, *frames: pd.DataFrame, tmp_path: Path) -> list[dict[str, str]]:
    """The validator's verdict per check for each frame, as FOCUS_VERSION."""
    paths = []
    for number, frame in enumerate(frames):
        copy = frame.rename(columns=PREVIEW_NAMES)
        copy["ChargeType"] = copy["ChargeCategory"]
        paths.append(tmp_path / f"validate{number}.parquet")
        copy.to_parquet(paths[-1])
    # It reads its currency codes from a path relative to its package's folder.
    site = next((python.parent.parent / "lib").glob("python*/site-packages"))
    done = subprocess.run(
        [str(python), "-c", DRIVER, FOCUS_VERSION, *map(str, paths)],
        cwd=site,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    return [results[str(path)] for path in paths]


def export_focus(settings, tmp_path: Path, fmt: str = "parquet") -> tuple[pd.DataFrame, str]:
    out = tmp_path / f"focus.{fmt}"
    code, _, err = run(settings, "export", "focus", "--month", MONTH, "--out", str(out))
    assert code == 0, err
    frame = pd.read_parquet(out) if fmt == "parquet" else pd.read_csv(out)
    return frame, err


def test_the_month_passes_the_finops_foundation_validator(
    sample_warehouse, focus_validator, tmp_path
):
    focus, _ = export_focus(sample_warehouse, tmp_path)
    assert MANDATORY <= set(focus.columns)
    # Anything not of the spec is an extension column, named x_ as the spec requires.
    assert [
        c
        for c in focus.columns
        if c not in MANDATORY | OTHER_FOCUS_COLUMNS and not c.startswith("x_")
    ] == []
    broken = focus.copy()
    broken.loc[0, "ChargeFrequency"] = "Sometimes"
    broken.loc[1, "BilledCost"] = None
    good, bad = validate(focus_validator, focus, broken, tmp_path=tmp_path)
    assert len(good) > 100  # the whole 1.0 rule set ran
    assert {name: status for name, status in good.items() if status != "passed"} == {}
    # The same validator fails a file that breaks the rules: it is not passing anything.
    failed = {name for name, status in bad.items() if status == "failed"}
    assert {"ChargeFrequency_Enum", "BilledCost_NotNull"} <= failed


def test_costs_and_tokens_add_up_to_the_marts(sample_warehouse, tmp_path):
    from readers.warehouse import read_query

    focus, _ = export_focus(sample_warehouse, tmp_path)
    marts = read_query(
        sample_warehouse,
        "SELECT sum(spend_usd) AS spend, sum(total_tokens) AS tokens, sum(requests) AS requests "
        "FROM main_marts.mart_usage_summary WHERE grain = 'day' AND "
        + " AND ".join(f"{column} = '*'" for column in filter_columns())
        + " AND period_start BETWEEN ? AND ?",
        [SAMPLE_START.replace(day=1), pd.Timestamp(SAMPLE_START).to_period("M").end_time.date()],
    ).iloc[0]
    assert focus["BilledCost"].sum() == pytest.approx(marts["spend"], rel=1e-12)
    assert (focus["EffectiveCost"] == focus["BilledCost"]).all()
    tokens = focus["ConsumedQuantity"].sum() + focus["x_TokensWithoutCost"].sum()
    assert tokens == marts["tokens"]
    assert focus["x_Requests"].sum() + focus["x_RequestsWithoutCost"].sum() <= marts["requests"]
    assert set(focus["ChargeCategory"]) == {"Usage"}
    assert set(focus["ServiceCategory"]) == {"AI and Machine Learning"}
    assert set(focus["BillingCurrency"]) == {"USD"}
    # One row per day x key x model x provider x organization, team and project.
    assert not focus.duplicated(
        ["ChargePeriodStart", "ResourceId", "ServiceName", "ProviderName"]
        + ["x_OrganizationId", "x_TeamId", "x_ProjectId"]
    ).any()


def test_organization_team_and_project_go_out_as_extension_columns(sample_warehouse, tmp_path):
    """Who spent it reaches the FinOps tool: x_ columns (the spec's extension rule) from
    the declared dimensions, NULL where a request names none, each team's cost that of
    its requests with a known cost."""
    from readers.warehouse import read_query

    focus, _ = export_focus(sample_warehouse, tmp_path)
    for stem in ("Organization", "Team", "Project"):
        assert {f"x_{stem}Id", f"x_{stem}Name"} <= set(focus.columns)
        assert "(none)" not in set(focus[f"x_{stem}Id"].dropna())
    month = [SAMPLE_START.replace(day=1), pd.Timestamp(SAMPLE_START).to_period("M").end_time.date()]
    requests = read_query(
        sample_warehouse,
        "SELECT team_id, team_name, cost_usd, event_date FROM main_facts.fct_requests "
        "WHERE billing_mode = 'pay_as_you_go' AND cost_usd IS NOT NULL "
        "AND event_date BETWEEN ? AND ?",
        month,
    )
    assert requests["team_id"].nunique() > 2 and (requests["team_id"] == "(none)").any()
    expected = requests.groupby(requests["team_id"].replace("(none)", "none"))["cost_usd"].sum()
    shown = focus.groupby(focus["x_TeamId"].fillna("none"))["BilledCost"].sum()
    pd.testing.assert_series_equal(
        shown.sort_index(), expected.sort_index(), check_names=False, rtol=1e-9
    )
    named = focus.dropna(subset=["x_TeamId"])
    assert named["x_TeamName"].notna().all()


def test_requests_without_a_known_cost_are_not_exported_as_free(
    sample_warehouse, tmp_path, monkeypatch
):
    settings = copy_data_dir(sample_warehouse, tmp_path / "data", monkeypatch)
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        groups = connection.execute(
            "SELECT event_date, api_key_id, model, provider, requests, total_tokens "
            "FROM main_facts.fct_usage_daily WHERE billing_mode = 'pay_as_you_go' "
            "AND requests >= 2 ORDER BY ALL LIMIT 2"
        ).fetchall()
        unknown, partly = groups
        match = "event_date = ? AND api_key_id = ? AND model = ? AND provider = ?"
        # No request of the first group has a cost; one of the second's has none.
        connection.execute(
            f"UPDATE main_facts.fct_usage_daily SET spend_usd = 0, requests_with_cost = 0, "
            f"tokens_with_cost = 0 WHERE {match}",
            list(unknown[:4]),
        )
        connection.execute(
            f"UPDATE main_facts.fct_usage_daily SET requests_with_cost = requests - 1, "
            f"tokens_with_cost = total_tokens - 100 WHERE {match}",
            list(partly[:4]),
        )
    focus, err = export_focus(settings, tmp_path)
    key = ["x_ReportingDate", "ResourceId", "ServiceName", "ProviderName"]
    rows = {tuple(str(v) for v in row[key]): row for _, row in focus.iterrows()}
    assert tuple(map(str, unknown[:4])) not in rows  # not a row priced at 0
    row = rows[tuple(map(str, partly[:4]))]
    assert row["x_RequestsWithoutCost"] == 1 and row["x_TokensWithoutCost"] == 100
    assert row["ConsumedQuantity"] == partly[5] - 100
    assert (focus["x_Requests"] > 0).all()
    assert f"{unknown[4] + 1:,} requests ({unknown[5] + 100:,} tokens)" in err
    assert "1 day x key x model x provider groups with no cost at all have no row" in err


def test_charge_periods_are_the_reporting_days_as_utc_instants(
    sample_warehouse, tmp_path, monkeypatch
):
    settings = copy_data_dir(sample_warehouse, tmp_path / "data", monkeypatch)
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        # As if the facts had been built in New York days (the zone the warehouse records).
        connection.execute(
            "UPDATE raw.model_build_settings SET reporting_timezone = 'America/New_York'"
        )
    focus, _ = export_focus(settings, tmp_path, "csv")
    first = focus[focus["x_ReportingDate"] == SAMPLE_START.isoformat()].iloc[0]
    assert first["ChargePeriodStart"] == f"{SAMPLE_START}T05:00:00Z"
    assert first["ChargePeriodEnd"] == f"{SAMPLE_START.replace(day=SAMPLE_START.day + 1)}T05:00:00Z"
    assert first["BillingPeriodStart"] == f"{SAMPLE_START.replace(day=1)}T05:00:00Z"
    assert first["BillingPeriodEnd"] == "2026-02-01T05:00:00Z"


def test_the_monthly_asset_writes_what_the_command_writes(sample_warehouse, tmp_path, monkeypatch):
    from dagster import materialize

    from orchestration.focus_assets import build_focus_dataset, focus_path
    from orchestration.resources import WarehouseResource

    expected, _ = export_focus(sample_warehouse, tmp_path)
    settings = copy_data_dir(sample_warehouse, tmp_path / "data", monkeypatch)
    result = materialize(
        [build_focus_dataset(settings)],
        partition_key=f"{MONTH}-01",
        resources={"warehouse": WarehouseResource.from_settings(settings)},
        run_config={"ops": {"exports__focus": {"config": {"csv": True}}}},
    )
    assert result.success
    parquet = focus_path(settings, MONTH, "parquet")
    assert parquet == settings.data_dir / "exports" / "focus" / f"focus-{MONTH}.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), expected)
    from_csv = pd.read_csv(focus_path(settings, MONTH, "csv"))
    assert list(from_csv.columns) == list(expected.columns)
    assert from_csv["BilledCost"].tolist() == expected["BilledCost"].tolist()
    assert from_csv["ChargePeriodStart"].tolist() == [
        t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in expected["ChargePeriodStart"]
    ]
    metadata = result.asset_materializations_for_node("exports__focus")[0].metadata
    assert metadata["rows"].value == len(expected)
