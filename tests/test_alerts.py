"""Budgets, forecasts and alerts (docs/alerts.md) on a small handcrafted warehouse.

One build for the module: about 400 crafted requests from 2026-01-12 to 2026-02-03 in a
single landing folder (late records load like any other). A team spends against a
monthly budget across the month end; providers and models err and slow down on the last
day, beside quiet and steady ones that must stay silent; two keys spend, one of them
ten times its usual. Beside them, a few calls through the real LiteLLM client whose
payloads carry the gateway's own limits of their key and team. Each test evaluates a
copy of that warehouse as of chosen days.
Messages go through apprise to a real HTTP server on 127.0.0.1 (json:// URLs).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from conftest import use_data_dir
from nightly import run_window

from alerts.budget_status import budget_status, period_bounds
from alerts.budgets_file import (
    BudgetsFileError,
    parse_alert_config,
    read_alert_config,
    scope_kinds,
)
from alerts.evaluate import evaluate_alerts
from alerts.rules import key_parts
from readers.alert_tables import (
    active_alerts,
    current_budget_status,
    highest_thresholds,
    recent_alerts,
)

FIRST, LAST = date(2026, 1, 12), date(2026, 2, 3)
LANDING_DAY = LAST
# After every crafted day: each evaluation's `now`, so every as_of day is complete.
NOW = datetime(2026, 2, 10, 6, 0, tzinfo=UTC)
TEAM = "team-<b>research</b>"  # a name that is markup must arrive as text


def team_spend(day: date) -> float:
    """The team's spend per day (USD), made to cross its $100 January budget in steps."""
    if day <= date(2026, 1, 20):
        return 1.0
    if day <= date(2026, 1, 24):
        return 12.0  # Jan 24: 57 spent (50%), forecast 108 (above the limit)
    if day <= date(2026, 1, 27):
        return 0.0  # paused: on Jan 27 the forecast (84) is back under the limit
    return {date(2026, 1, 28): 25.0, date(2026, 1, 29): 20.0}.get(day, 1.0)  # 82, then 102


def _record(request_id, day, **fields):
    record = {
        "request_id": request_id,
        "created_at": f"{day}T12:00:00Z",
        "api_key_id": "key-ops",
        "model": "steady/model",
        "provider": "prov-steady",
        "billing_mode": "pay_as_you_go",
        "status": "success",
        "http_status": 200,
        "stream": True,
        "input_tokens": 50,
        "output_tokens": 100,
        "latency_ms": 1000,
        "first_token_ms": 200,
    }
    record.update(fields)
    if record["status"] == "error":
        record.update(http_status=502, output_tokens=0, first_token_ms=None)
    return record


def crafted_records() -> list[dict]:
    records = []
    day = FIRST
    while day <= LAST:
        if team_spend(day):
            records.append(
                _record(
                    f"team-{day}",
                    day,
                    api_key_id="key-team",
                    team_id=TEAM,
                    team_name="Research",
                    cost_usd=team_spend(day),
                    tags=["env:prod", "urgent"],
                )
            )
        day += timedelta(days=1)
    for offset in range(8):  # Jan 27 .. Feb 3; Feb 3 is the day judged
        day = date(2026, 1, 27) + timedelta(days=offset)
        judged = day == LAST
        # Flaky: 1 error in 20 a day, then 10 in 20 (above 3x its 5% and the 5% floor).
        # Its 10 successes are too few to judge its latency, however slow.
        for n in range(20):
            error = n < (10 if judged else 1)
            records.append(
                _record(
                    f"flaky-{day}-{n}",
                    day,
                    provider="prov-flaky",
                    model="flaky/model",
                    status="error" if error else "success",
                    latency_ms=9000 if judged else 1000,
                    first_token_ms=5000 if judged else 200,
                )
            )
        # Steady: 2 errors in 20 every day (10%, above the floor but never 3x itself);
        # its p99 latency goes from 1 s to 5 s on the day judged.
        for n in range(20):
            records.append(
                _record(
                    f"steady-{day}-{n}",
                    day,
                    status="error" if n < 2 else "success",
                    latency_ms=5000 if judged else 1000,
                    first_token_ms=1000 if judged else 200,
                )
            )
        # Quiet: 5 requests a day; 4 fail on the day judged, too few to page anyone.
        for n in range(5):
            records.append(
                _record(
                    f"quiet-{day}-{n}",
                    day,
                    provider="prov-quiet",
                    model="quiet/model",
                    status="error" if judged and n < 4 else "success",
                )
            )
        # The gateway's limit of key-flat was lifted: its latest record carries none.
        limit = {} if judged else {"api_key_max_budget_usd": 5.0}
        records.append(_record(f"flat-{day}", day, api_key_id="key-flat", cost_usd=1.0, **limit))
        records.append(
            _record(f"spiky-{day}", day, api_key_id="key-spiky", cost_usd=10.0 if judged else 1.0)
        )
    return records


GATEWAY_KEY, GATEWAY_TEAM = "key-gateway", "team-gateway"
GATEWAY_CALLS = 4


def gateway_payloads() -> list[dict]:
    """Calls through the real LiteLLM client by a key whose gateway limits (metadata, as
    the proxy sets them) put its spend at 90% of the key's limit and 60% of its team's, as
    their latest record says (the earlier ones carry a stale key limit); moved to the
    day judged, 12:00 UTC."""
    from source_records import litellm_calls

    call = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hello"}],
        "mock_response": "Hi there.",
    }
    (probe,) = litellm_calls([call])
    spent = probe["response_cost"] * GATEWAY_CALLS
    who = {"user_api_key_hash": GATEWAY_KEY, "user_api_key_team_id": GATEWAY_TEAM}
    stale = {**who, "user_api_key_max_budget": 1000.0}
    latest = {
        **who,
        "user_api_key_max_budget": spent / 0.9,
        "user_api_key_team_max_budget": spent / 0.6,
    }
    payloads = litellm_calls(
        [{**call, "metadata": stale}] * (GATEWAY_CALLS - 1) + [{**call, "metadata": latest}]
    )
    payloads.sort(key=lambda p: p["startTime"])
    shift = (
        datetime(LAST.year, LAST.month, LAST.day, 12, tzinfo=UTC).timestamp()
        - (payloads[0]["startTime"])
    )
    for p in payloads:
        for field in ("startTime", "endTime", "completionStartTime"):
            p[field] += shift
    assert payloads[-1]["metadata"]["user_api_key_team_max_budget"] == spent / 0.6
    return payloads


BUDGET_FILE = """
[[budget]]
name = "Research monthly"
scope = "team"
id = "{team}"
period = "month"
limit_usd = 100
thresholds = [50, 80, 100]

[rules.error_rate]
enabled = {rules}
min_requests = 20
by = ["provider", "model"]

[rules.error_rate_hourly]
enabled = {rules}
min_requests = 20
by = ["provider", "model"]

[rules.latency]
enabled = {rules}
min_requests = 15

[rules.spend_anomaly]
enabled = {rules}
min_usd = 2
by = ["api_key"]
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("alerts")
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, root / "data")
        folder = settings.landing_dir / f"dt={LANDING_DAY}"
        folder.mkdir(parents=True)
        records = crafted_records()
        (folder / "crafted.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        (settings.landing_dir / "sources.toml").write_text(
            '[sources.litellm]\nformat = "litellm"\n'
        )
        folder = settings.landing_dir / "litellm" / f"dt={LANDING_DAY}"
        folder.mkdir(parents=True)
        (folder / "calls.jsonl").write_text(
            "".join(json.dumps(p) + "\n" for p in gateway_payloads())
        )
        run_window(settings, LANDING_DAY, LANDING_DAY, root, command="run")
    return settings


@pytest.fixture
def warehouse(built, tmp_path, monkeypatch):
    """A copy of the built warehouse (its alert tables are the test's own)."""
    settings = use_data_dir(monkeypatch, tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    shutil.copyfile(built.warehouse_path, settings.warehouse_path)
    return settings


class Webhook:
    """A JSON webhook receiver on 127.0.0.1 that can be taken down and brought back."""

    def __init__(self):
        self.received: list[dict] = []
        self.server = None
        self.port = None
        self.start()

    def start(self):
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                received.append({"path": self.path, **json.loads(self.rfile.read(length))})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        return f"json://127.0.0.1:{self.port}/hook"

    def titles(self):
        return [m["title"] for m in self.received]


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.stop()


def _configure(settings, monkeypatch, webhook, *, rules: bool):
    settings.budgets_file.write_text(
        BUDGET_FILE.format(team=TEAM, rules="true" if rules else "false")
    )
    monkeypatch.setenv("LLM_USAGE_ALERT_URLS", webhook.url)
    monkeypatch.setenv("LLM_USAGE_PAGE_URL", "http://usage.example/page")
    from config.settings import Settings

    return Settings.from_env()


def _evaluate(settings, as_of):
    connection = duckdb.connect(str(settings.warehouse_path))
    try:
        return evaluate_alerts(settings, connection, now=NOW, as_of=as_of)
    finally:
        connection.close()


# ------------------------------------------------------------------ the budgets file


def test_budget_scopes_come_from_the_dimensions_declaration():
    kinds = scope_kinds()
    assert {"all", "api_key", "organization", "team", "project", "tag"} <= set(kinds)
    # Models, providers and end users are no party with a budget.
    assert not {"model", "provider", "end_user"} & set(kinds)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[[budget]]\nscope = "team"\nlimit_usd = 5', ["[[budget]] #1", "'id'"]),
        ('[[budget]]\nname = "x"\nperiod = "quarter"\nlimit_usd = 5', ["'x'", "'period'"]),
        ('[[budget]]\nscope = "model"\nid = "m"\nlimit_usd = 5', ["'scope'", "team"]),
        ("[[budget]]\nlimit_usd = -3", ["'limit_usd'", "positive"]),
        ("[[budget]]\nlimit_usd = 5\nlimit_tokens = 9", ["limit_usd and limit_tokens"]),
        ("[[budget]]\nlimt_usd = 5", ["'limt_usd'", "unknown"]),
        ("[[budget]]\nlimit_usd = 5\nthresholds = [80, 'x']", ["'thresholds'"]),
        ("[rules.error_rate]\nmultiple = 'high'", ["[rules.error_rate]", "'multiple'"]),
        ("[rules.latency]\nmin_requests = 0", ["[rules.latency]", "'min_requests'"]),
        ("[rules.error_rate_hourly]\nby = ['team']", ["[rules.error_rate_hourly]", "'by'"]),
        ("[gateway_limits]\nenabled = 'yes'", ["[gateway_limits]", "'enabled'"]),
        ('[gateway_limits]\nperiod = "quarter"', ["[gateway_limits]", "'period'"]),
        ("[gateway_limits]\nthresholds = [-5]", ["[gateway_limits]", "'thresholds'"]),
        ('urls = "json://x"', ["'urls'"]),
        ("[[budget]\nlimit_usd = 5", ["not valid TOML", "line 1"]),
    ],
)
def test_a_mistake_in_the_budgets_file_is_one_line_naming_file_entry_and_key(text, names):
    path = Path("/data/budgets.toml")
    with pytest.raises(BudgetsFileError) as raised:
        parse_alert_config(path, text)
    message = str(raised.value)
    assert "\n" not in message
    assert str(path) in message and "LLM_USAGE_BUDGETS_FILE" in message
    for name in names:
        assert name in message, message


def test_defaults_apply_and_no_file_means_alerts_off(data_dir):
    assert read_alert_config(data_dir) is None
    config = parse_alert_config(Path("b.toml"), "[[budget]]\nlimit_tokens = 1000")
    (budget,) = config.budgets
    assert (budget.scope, budget.period, budget.unit, budget.thresholds) == (
        "all",
        "month",
        "tokens",
        (50.0, 80.0, 100.0),
    )
    assert config.error_rate.enabled and config.error_rate.multiple == 3.0


def _materialize_alerts_asset(settings) -> str:
    """The alerts asset alone, in this process, on `settings`; its `alerts` metadata."""
    from dagster import DailyPartitionsDefinition, materialize

    from orchestration.alert_assets import build_alert_evaluation
    from orchestration.resources import WarehouseResource

    class NoMarts:
        keys: list = []

    partitions = DailyPartitionsDefinition(start_date="2026-01-01")
    result = materialize(
        [build_alert_evaluation(partitions, NoMarts())],
        partition_key=str(LAST),
        resources={"warehouse": WarehouseResource.from_settings(settings)},
    )
    assert result.success  # the build is never failed by the alerts
    (event,) = result.get_asset_materialization_events()
    return event.materialization.metadata["alerts"].value


def test_a_broken_budgets_file_stops_only_the_alerts(warehouse):
    """The asset logs the one line and materializes: the build is not failed."""
    warehouse.budgets_file.write_text("[[budget]]\nscope = 'galaxy'\nlimit_usd = 1")
    text = _materialize_alerts_asset(warehouse)
    assert "galaxy" in text and str(warehouse.budgets_file) in text and "\n" not in text


def test_the_asset_delivers_and_keeps_the_urls_out_of_its_shown_config(
    warehouse, webhook, monkeypatch
):
    """Alert URLs carry secrets: the resource holds a reference to LLM_USAGE_ALERT_URLS,
    never its value, and the run resolves it."""
    from orchestration.resources import WarehouseResource

    settings = _configure(warehouse, monkeypatch, webhook, rules=False)
    resource = WarehouseResource.from_settings(settings)
    assert webhook.url not in json.dumps(resource.environment)
    assert resource.alert_urls == "LLM_USAGE_ALERT_URLS"  # the variable's name
    assert resource.settings.alert_urls == webhook.url
    assert _materialize_alerts_asset(settings).startswith("Alerts as of 2026-02-03: 1 fired")
    assert webhook.titles() == ["Budget 'Research monthly' is forecast to pass its limit"]


def test_a_warehouse_held_by_another_process_skips_the_alerts_not_the_build(warehouse, monkeypatch):
    from config.settings import Settings

    warehouse.budgets_file.write_text("[[budget]]\nlimit_usd = 1")
    monkeypatch.setenv("LLM_USAGE_WRITE_WAIT_SECONDS", "0")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_FILE, str(warehouse.warehouse_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        text = _materialize_alerts_asset(Settings.from_env())
    finally:
        holder.kill()
        holder.wait()
    assert text.startswith("Alerts not evaluated this time:")


HOLD_THE_FILE = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
    "time.sleep(120)"
)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return json.dumps(list(value))
    return json.dumps(value)


def test_docs_state_every_rules_defaults_as_declared():
    """docs/alerts.md's rules table gives each rule's keys with the defaults the
    dataclasses of alerts/budgets_file.py declare (the one place they are set)."""
    from dataclasses import fields

    from alerts import budgets_file

    docs = (Path(__file__).resolve().parent.parent / "docs" / "alerts.md").read_text()
    rows = {
        line.split("|")[1].strip(): line for line in docs.splitlines() if line.startswith("| `[")
    }
    tables = {
        "[rules.error_rate]": budgets_file.ErrorRateRule(),
        "[rules.error_rate_hourly]": budgets_file.HourlyErrorRateRule(),
        "[rules.latency]": budgets_file.LatencyRule(),
        "[rules.spend_anomaly]": budgets_file.SpendAnomalyRule(),
    }
    for table, rule in tables.items():
        row = rows[f"`{table}`"]
        for f in fields(rule):
            assert f"`{f.name} = {_toml(getattr(rule, f.name))}`" in row, (table, f.name)
    gateway = docs[docs.index("[gateway_limits]\nenabled = true") :]
    defaults = budgets_file.GatewayLimits()
    assert f"# default {_toml(defaults.enabled)}" in gateway
    assert f"default {defaults.period}" in gateway


def test_the_demo_copies_sample_budgets_of_the_sample_teams_and_keeps_yours(data_dir, capsys):
    """make demo's budgets (sample_data/budgets.toml) are valid, name teams the generator
    draws, and are copied only where the data directory has no budgets file."""
    from cli.main import copy_sample_budgets
    from sample_data.generate import CATALOGUE_PATH, SAMPLE_BUDGETS_FILE

    config = parse_alert_config(SAMPLE_BUDGETS_FILE, SAMPLE_BUDGETS_FILE.read_text())
    teams = {team[0] for team in json.loads(CATALOGUE_PATH.read_text())["teams"]}
    assert {b.scope_id for b in config.budgets if b.scope == "team"} <= teams
    assert len(config.budgets) == 3 and not config.urls
    copy_sample_budgets(data_dir)
    assert data_dir.budgets_file.read_text() == SAMPLE_BUDGETS_FILE.read_text()
    data_dir.budgets_file.write_text("[[budget]]\nlimit_usd = 1\n")
    copy_sample_budgets(data_dir)
    assert data_dir.budgets_file.read_text() == "[[budget]]\nlimit_usd = 1\n"
    assert "yours, kept" in capsys.readouterr().out


# ------------------------------------------------------------------ budget status


def _expected_status(as_of: date, limit: float = 100.0) -> dict:
    """The forecast as docs/metrics.md states it, computed from the crafted spend alone:
    the trailing 7 complete days' mean daily spend x the days left + what is spent."""
    month_start = as_of.replace(day=1)
    month_end = (month_start + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    spent = sum(
        team_spend(month_start + timedelta(days=i))
        for i in range((as_of - month_start).days + 1)
        if month_start + timedelta(days=i) >= FIRST
    )
    window = [as_of - timedelta(days=i) for i in range(7)]
    rate = sum(team_spend(d) for d in window if d >= FIRST) / 7
    forecast = spent + rate * (month_end - as_of).days
    return {"spent": spent, "share_used": spent / limit, "forecast": forecast}


@pytest.mark.parametrize(
    "as_of", [date(2026, 1, 24), date(2026, 1, 27), date(2026, 1, 29), date(2026, 1, 31), LAST]
)
def test_budget_status_and_forecast_match_an_independent_computation(
    warehouse, webhook, monkeypatch, as_of
):
    settings = _configure(warehouse, monkeypatch, webhook, rules=False)
    _evaluate(settings, as_of)
    status = current_budget_status(settings).iloc[0]
    expected = _expected_status(as_of)
    assert str(status["period_start"])[:10] == str(as_of.replace(day=1))
    assert status["spent"] == pytest.approx(expected["spent"])
    assert status["share_used"] == pytest.approx(expected["share_used"])
    assert status["forecast"] == pytest.approx(expected["forecast"])


def test_limit_reached_on_is_the_crossing_day_or_the_day_the_rate_reaches_it():
    from alerts.budgets_file import Budget

    budget = Budget("b", "all", None, "month", 100.0, "usd", (100.0,))
    daily = {date(2026, 3, d): 10.0 for d in range(1, 6)}  # 50 by Mar 5, 10 a day
    (status,) = budget_status(budget, daily, date(2026, 3, 5), date(2026, 3, 5))
    # Mean of Mar 1..5 and two days without data: 50 / 7 a day; 50 more take 7 days.
    assert status.daily_rate == pytest.approx(50 / 7)
    assert status.limit_reached_on == date(2026, 3, 12)
    daily.update({date(2026, 3, 6): 60.0})
    (status,) = budget_status(budget, daily, date(2026, 3, 6), date(2026, 3, 6))
    assert status.limit_reached_on == date(2026, 3, 6)


def test_tag_and_all_traffic_budgets_in_tokens_and_weeks(warehouse, webhook, monkeypatch):
    """A tag (key:value, and a tag without ':'), and all traffic in tokens by ISO week,
    against sums of the crafted records."""
    settings = _configure(warehouse, monkeypatch, webhook, rules=False)
    settings.budgets_file.write_text(
        '[[budget]]\nname = "prod"\nscope = "tag"\nid = "env:prod"\nlimit_usd = 100\n'
        '[[budget]]\nname = "urgent"\nscope = "tag"\nid = "urgent"\nlimit_usd = 100\n'
        '[[budget]]\nname = "tokens"\nperiod = "week"\nlimit_tokens = 1000000\n'
    )
    as_of = date(2026, 1, 29)  # a Thursday
    assert not _evaluate(settings, as_of).unmatched
    status = current_budget_status(settings).set_index("budget")
    month = sum(team_spend(date(2026, 1, d)) for d in range(FIRST.day, as_of.day + 1))
    assert status.loc["prod", "spent"] == pytest.approx(month)
    assert status.loc["urgent", "spent"] == pytest.approx(month)
    monday = as_of - timedelta(days=as_of.weekday())
    tokens = sum(
        r["input_tokens"] + r["output_tokens"]
        for r in crafted_records()
        if monday <= date.fromisoformat(r["created_at"][:10]) <= as_of
    )
    assert str(status.loc["tokens", "period_start"])[:10] == str(monday)
    assert status.loc["tokens", "spent"] == tokens
    assert str(status.loc["tokens", "period_end"])[:10] == str(monday + timedelta(days=6))


def test_a_budget_whose_id_no_request_carries_is_named(warehouse, webhook, monkeypatch):
    settings = _configure(warehouse, monkeypatch, webhook, rules=False)
    settings.budgets_file.write_text(
        '[[budget]]\nscope = "team"\nid = "team-reserch"\nlimit_usd = 5'
    )
    (note,) = _evaluate(settings, LAST).unmatched
    assert "'team-reserch'" in note and str(settings.budgets_file) in note


def test_an_intraday_build_forecasts_from_the_days_before_today():
    from alerts.budgets_file import Budget
    from alerts.evaluate import last_complete_day

    day = date(2026, 3, 10)
    assert last_complete_day(day, datetime(2026, 3, 11, 1, tzinfo=UTC), "UTC") == day
    assert last_complete_day(day, datetime(2026, 3, 10, 23, tzinfo=UTC), "UTC") == day - timedelta(
        days=1
    )
    # 23:00 UTC on Mar 10 is already Mar 11 in Shanghai: Mar 10 is over there.
    assert last_complete_day(day, datetime(2026, 3, 10, 23, tzinfo=UTC), "Asia/Shanghai") == day
    budget = Budget("b", "all", None, "month", 1000.0, "usd", (100.0,))
    daily = {date(2026, 3, d): 7.0 for d in range(1, 10)} | {day: 3.0}  # today: 3 so far
    (status,) = budget_status(budget, daily, day, day - timedelta(days=1))
    assert status.daily_rate == pytest.approx(7.0)  # today's partial day is not in the rate
    assert status.forecast == pytest.approx(9 * 7 + 3 + 7.0 * 22)


def test_periods_are_days_iso_weeks_and_months():
    assert period_bounds("day", date(2026, 3, 9)) == (date(2026, 3, 9), date(2026, 3, 9))
    assert period_bounds("week", date(2026, 1, 1)) == (date(2025, 12, 29), date(2026, 1, 4))
    assert period_bounds("month", date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert period_bounds("month", date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))


# ------------------------------------------------------------------ the gateway's limits

KEY_BUDGET = f"gateway limit of api key {GATEWAY_KEY}"
RULES_OFF = "".join(
    f"[rules.{rule}]\nenabled = false\n"
    for rule in ("error_rate", "error_rate_hourly", "latency", "spend_anomaly")
)
TEAM_BUDGET = f"gateway limit of team {GATEWAY_TEAM}"


def test_the_gateways_own_limits_are_budgets_only_when_turned_on(warehouse, webhook, monkeypatch):
    """LiteLLM records made by the real client carry the key's and the team's limits; with
    [gateway_limits] on, each is a budget at the limit of its latest record (90% and 60%
    spent): 50% and 80% fire for the key, 50% for the team, both forecast to pass it."""
    settings = _configure(warehouse, monkeypatch, webhook, rules=False)
    for off in ("", "[gateway_limits]\nenabled = false\n"):
        settings.budgets_file.write_text(off + RULES_OFF)
        evaluation = _evaluate(settings, LAST)
        assert not evaluation.fired and current_budget_status(settings).empty
    assert webhook.received == []

    settings.budgets_file.write_text("[gateway_limits]\nenabled = true\n" + RULES_OFF)
    evaluation = _evaluate(settings, LAST)
    status = current_budget_status(settings).set_index("budget")
    # Not key-flat, whose latest record carries no limit any more.
    assert sorted(status.index) == sorted([KEY_BUDGET, TEAM_BUDGET])
    key, team = status.loc[KEY_BUDGET], status.loc[TEAM_BUDGET]
    assert (key["scope"], key["scope_id"], key["period"]) == ("api_key", GATEWAY_KEY, "month")
    assert (team["scope"], team["scope_id"]) == ("team", GATEWAY_TEAM)
    assert key["share_used"] == pytest.approx(0.9)  # the latest limit, not the stale 1000
    assert team["share_used"] == pytest.approx(0.6)
    fired = {(key_parts(k)["scope"], key_parts(k)["level"]) for k in evaluation.fired}
    assert fired == {
        (KEY_BUDGET, "50%"),
        (KEY_BUDGET, "80%"),
        (KEY_BUDGET, "forecast"),
        (TEAM_BUDGET, "50%"),
        (TEAM_BUDGET, "forecast"),
    }
    assert f"Budget '{KEY_BUDGET}' passed 80% of its limit" in webhook.titles()
    _evaluate(settings, LAST)
    assert len(webhook.received) == 5  # each once

    # The period and thresholds are the switch's own.
    settings.budgets_file.write_text(
        '[gateway_limits]\nenabled = true\nperiod = "week"\nthresholds = [85]\n' + RULES_OFF
    )
    evaluation = _evaluate(settings, LAST)
    status = current_budget_status(settings).set_index("budget")
    assert set(status["period"]) == {"week"}
    assert str(status.loc[KEY_BUDGET, "period_start"])[:10] == "2026-02-02"
    levels = {(key_parts(k)["scope"], key_parts(k)["level"]) for k in evaluation.fired}
    assert (KEY_BUDGET, "85%") in levels and (TEAM_BUDGET, "85%") not in levels

    # A budget of the file named like a gateway budget is the one kept.
    settings.budgets_file.write_text(
        f'[[budget]]\nname = "{KEY_BUDGET}"\nlimit_usd = 1000\n'
        "[gateway_limits]\nenabled = true\n" + RULES_OFF
    )
    _evaluate(settings, LAST)
    status = current_budget_status(settings).set_index("budget")
    assert sorted(status.index) == sorted([KEY_BUDGET, TEAM_BUDGET])
    assert (status.loc[KEY_BUDGET, "scope"], status.loc[KEY_BUDGET, "budget_limit"]) == (
        "all",
        1000,
    )


def test_the_gateway_limits_view_keeps_each_scopes_latest_record(built):
    """main_facts.dim_gateway_limits against the loaded LiteLLM payloads and crafted
    records: the latest record of each key and team, none where it carries no limit."""
    payloads = sorted(
        (json.loads(line) for line in _litellm_file(built).read_text().splitlines()),
        key=lambda p: p["startTime"],
    )
    latest = payloads[-1]["metadata"]
    connection = duckdb.connect(str(built.warehouse_path), read_only=True)
    try:
        rows = connection.execute(
            "SELECT scope, scope_id, max_budget_usd FROM main_facts.dim_gateway_limits "
            "ORDER BY scope"
        ).fetchall()
    finally:
        connection.close()
    assert rows == [
        ("api_key", GATEWAY_KEY, pytest.approx(latest["user_api_key_max_budget"])),
        ("team", GATEWAY_TEAM, pytest.approx(latest["user_api_key_team_max_budget"])),
    ]


def _litellm_file(settings) -> Path:
    return settings.landing_dir / "litellm" / f"dt={LANDING_DAY}" / "calls.jsonl"


# ------------------------------------------------------------------ delivery


def test_budget_alerts_are_sent_once_resolved_once_and_end_with_the_month(
    warehouse, webhook, monkeypatch, capsys
):
    settings = _configure(warehouse, monkeypatch, webhook, rules=False)
    _evaluate(settings, date(2026, 1, 23))  # 45 spent, forecast 73: nothing
    assert webhook.received == []

    _evaluate(settings, date(2026, 1, 24))  # 57 spent (50%), forecast 108
    assert sorted(webhook.titles()) == [
        "Budget 'Research monthly' is forecast to pass its limit",
        "Budget 'Research monthly' passed 50% of its limit",
    ]
    fifty = next(m for m in webhook.received if "50%" in m["title"])
    # Scope, figure, threshold and period, the page's link; the markup name is text.
    for part in (
        TEAM,
        "$57.00",
        "$100.00",
        "57.0%",
        "threshold 50%",
        "2026-01-01 .. 2026-01-31",
        "http://usage.example/page",
    ):
        assert part in fifty["message"], fifty["message"]
    assert fifty["path"] == "/hook"

    _evaluate(settings, date(2026, 1, 24))  # the same evaluation again: nothing new
    assert len(webhook.received) == 2

    _evaluate(settings, date(2026, 1, 27))  # paused: the forecast is back under
    assert webhook.titles()[2:] == [
        "Resolved: Budget 'Research monthly' is forecast to pass its limit"
    ]
    _evaluate(settings, date(2026, 1, 28))  # 82 spent: 80%; the forecast fires again
    _evaluate(settings, date(2026, 1, 29))  # 102 spent: 100%
    assert webhook.titles()[3:] == [
        "Budget 'Research monthly' passed 80% of its limit",
        "Budget 'Research monthly' passed 100% of its limit",
    ]  # the forecast's second firing in the same month is not sent again
    assert set(active_alerts(settings)["level"]) == {"50%", "80%", "100%", "forecast"}
    # A person is shown the highest threshold passed, which implies the others.
    shown = highest_thresholds(active_alerts(settings))
    assert sorted(shown["level"]) == ["100%", "forecast"]
    from cli.main import main

    capsys.readouterr()
    main(["alerts"])
    listed = capsys.readouterr().out.split("Budgets (current period)")[0]
    assert "Active alerts: 2" in listed and "passed 100%" in listed
    assert "passed 80%" not in listed and "passed 50%" not in listed

    _evaluate(settings, LAST)  # February: January's alerts end without a message
    assert webhook.titles()[5:] == ["Budget 'Research monthly' is forecast to pass its limit"]
    assert "2026-02-01 .. 2026-02-28" in webhook.received[5]["message"]
    active = active_alerts(settings)
    assert list(active["level"]) == ["forecast"]
    assert str(active["period_start"].iloc[0])[:10] == "2026-02-01"
    assert set(recent_alerts(settings)["status"]) == {"active", "ended"}

    settings.budgets_file.unlink()  # alerts off: nothing stays active, nothing is sent
    evaluation = _evaluate(settings, LAST)
    assert evaluation.off and len(evaluation.ended) == 1
    assert active_alerts(settings).empty and current_budget_status(settings).empty
    assert len(webhook.received) == 6


def test_a_failed_delivery_never_fails_the_evaluation_and_is_sent_once_when_back(
    warehouse, webhook, monkeypatch
):
    settings = _configure(warehouse, monkeypatch, webhook, rules=False)
    webhook.stop()
    evaluation = _evaluate(settings, date(2026, 1, 24))  # the endpoint is down
    assert len(evaluation.fired) == 2 and evaluation.delivered == 0
    assert len(evaluation.failed) == 2
    webhook.start()  # back, on the same port
    evaluation = _evaluate(settings, date(2026, 1, 24))
    assert evaluation.delivered == 2 and not evaluation.failed
    assert len(webhook.received) == 2
    _evaluate(settings, date(2026, 1, 24))
    assert len(webhook.received) == 2  # exactly once


# ------------------------------------------------------------------ the rules


def test_each_rule_fires_on_data_that_crosses_it_and_not_otherwise(warehouse, webhook, monkeypatch):
    settings = _configure(warehouse, monkeypatch, webhook, rules=True)
    evaluation = _evaluate(settings, LAST)
    parts = [key_parts(key) for key in evaluation.fired]
    fired = {(p["rule"], p["scope"], p["level"]) for p in parts}
    rules_fired = {f for f in fired if not f[0].startswith("budget")}
    assert rules_fired == {
        ("error_rate", "provider prov-flaky", "high"),  # 50% against 5% the days before
        ("error_rate", "model flaky/model", "high"),  # the same requests, by model
        # Its latest hour (every crafted day's requests are at 12:00 UTC) against the
        # trailing 7 days' hours: the same 50% against 5%.
        ("error_rate_hourly", "provider prov-flaky", "high"),
        ("error_rate_hourly", "model flaky/model", "high"),
        ("latency", "model steady/model", "p99_latency_ms"),  # 5 s against 1 s
        ("latency", "model steady/model", "p99_first_token_ms"),  # 1 s against 0.2 s
        ("spend_anomaly", "api_key key-spiky", "high"),  # $10 against $1
    }
    # Silent: prov-steady (10% as always), prov-quiet (4 of 5 failed: too few requests),
    # flaky/model's 9 s and 5 s first token (10 successes: too few), key-flat ($1 as
    # always), key-team ($1).
    error = next(m for m in webhook.received if m["title"].startswith("Error rate of provider"))
    assert "prov-flaky" in error["message"] and "50.0%" in error["message"]
    assert "threshold 15.0%" in error["message"] and "2026-02-03" in error["message"]
    hourly = next(
        m
        for m in webhook.received
        if "provider prov-flaky" in m["title"] and " hour " in m["title"]
    )
    assert hourly["title"] == (
        "Error rate of provider prov-flaky is 50.0% in the hour 2026-02-03 12:00 (UTC+00:00)"
    )
    hour_key = next(k for k in evaluation.fired if key_parts(k)["rule"] == "error_rate_hourly")
    assert key_parts(hour_key)["period"] == "hour"
    assert key_parts(hour_key)["period_start"] == "2026-02-03 12:00:00"


def test_rules_fire_on_the_latest_day_only_and_resolve_the_next(warehouse, webhook, monkeypatch):
    settings = _configure(warehouse, monkeypatch, webhook, rules=True)
    evaluation = _evaluate(settings, date(2026, 2, 2))  # before the spike
    assert not [k for k in evaluation.fired if not key_parts(k)["rule"].startswith("budget")]
    _evaluate(settings, LAST)
    sent = len(webhook.received)
    # A later evaluation with the day judged back to normal: each rule's alert resolves
    # once (simulated by judging Feb 2 again: the spike is not in it).
    evaluation = _evaluate(settings, date(2026, 2, 2))
    resolved = sorted(key_parts(k)["rule"] for k in evaluation.resolved)
    assert resolved == [
        "error_rate",
        "error_rate",
        "error_rate_hourly",
        "error_rate_hourly",
        "latency",
        "latency",
        "spend_anomaly",
    ]
    assert all(t.startswith("Resolved: ") for t in webhook.titles()[sent:])
    assert len(webhook.received) == sent + 7


def _hours(rows: list[tuple[datetime, str, int, int]]):
    import pandas as pd

    return pd.DataFrame(rows, columns=["hour", "id", "requests", "successful_requests"])


def test_the_hourly_error_rule_judges_one_hour_against_the_trailing_hours():
    """An hour's spike fires although its day as a whole would not; an hour under the
    minimum sample, or without enough trailing requests, stays silent."""
    from alerts.budgets_file import HourlyErrorRateRule
    from alerts.rules import hourly_error_rate_firings

    judged = datetime(2026, 3, 2, 9)
    rule = HourlyErrorRateRule(min_requests=20)
    # 7 days x 24 hours of 10 requests, 1 in 10 failing (10%): the trailing rate.
    rows = [
        (judged - timedelta(hours=h), p, 10, 9)
        for h in range(1, 7 * 24 + 1)
        for p in ("busy", "thin")
    ]
    rows += [
        (judged, "busy", 30, 18),  # 40% > 3 x 10%: fires
        (judged, "thin", 19, 1),  # 95%, but 19 requests: under the minimum
        (judged, "new", 40, 0),  # 100%, but no trailing hours: no baseline
        (judged - timedelta(days=8), "busy", 1000, 0),  # outside the 7 days: ignored
    ]
    (firing,) = hourly_error_rate_firings(_hours(rows), "provider", judged, "09:00", rule)
    assert (firing.rule, firing.scope, firing.period, firing.level) == (
        "error_rate_hourly",
        "provider busy",
        "hour",
        "high",
    )
    assert firing.figure == pytest.approx(0.4)
    assert firing.threshold == pytest.approx(0.3)
    assert firing.period_start == judged
    assert "in the hour 09:00" in firing.body and "30 requests" in firing.body
    # At a 19-request minimum the thin provider is judged and fires too.
    thin = HourlyErrorRateRule(min_requests=19)
    fired = hourly_error_rate_firings(_hours(rows), "provider", judged, "09:00", thin)
    assert sorted(f.scope for f in fired) == ["provider busy", "provider thin"]


def test_the_hour_judged_is_the_latest_complete_one(warehouse, webhook, monkeypatch):
    """At 12:30 on the day judged, its 12:00 hour (the spike) is still filling: the hour
    judged is the day before's, and nothing fires for the hour yet."""
    settings = _configure(warehouse, monkeypatch, webhook, rules=True)
    connection = duckdb.connect(str(settings.warehouse_path))
    try:
        evaluation = evaluate_alerts(
            settings, connection, now=datetime(2026, 2, 3, 12, 30, tzinfo=UTC), as_of=LAST
        )
    finally:
        connection.close()
    rules_fired = {key_parts(k)["rule"] for k in evaluation.fired}
    assert "error_rate" in rules_fired and "error_rate_hourly" not in rules_fired
    from alerts.figures import latest_complete_hour

    connection = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        for now, judged in (
            (datetime(2026, 2, 3, 12, 59, tzinfo=UTC), "2026-02-02 12:00 (UTC+00:00)"),
            (datetime(2026, 2, 3, 13, 0, tzinfo=UTC), "2026-02-03 12:00 (UTC+00:00)"),
        ):
            assert latest_complete_hour(connection, LAST, now)[1] == judged
        # A day judged later than its data: its latest hour, however late `now` is.
        assert latest_complete_hour(connection, date(2026, 1, 30), NOW)[0] == datetime(
            2026, 1, 30, 12
        )
    finally:
        connection.close()


# ------------------------------------------------------------------ the command line


def test_cli_lists_active_and_recent_alerts_and_budgets(warehouse, webhook, monkeypatch, capsys):
    from cli.main import main

    settings = _configure(warehouse, monkeypatch, webhook, rules=False)
    _evaluate(settings, date(2026, 1, 24))
    main(["alerts"])
    out = capsys.readouterr().out
    assert "Active alerts: 2" in out
    assert "Budget 'Research monthly' passed 50% of its limit" in out
    assert "Research monthly: $57.00 of $100.00 (57.0%) in the month from 2026-01-01" in out
    assert "forecast $108.00 (108.0%)" in out
    assert out.count("active    Budget 'Research monthly'") == 2


def test_cli_says_a_mistake_in_the_budgets_file_in_one_line(
    warehouse, webhook, monkeypatch, capsys
):
    """`llm-usage alerts` lists the last evaluation and, first, the mistake that turns
    the alerts off (exit 1), in the evaluation's own line naming the file, entry and key."""
    from cli.main import main

    settings = _configure(warehouse, monkeypatch, webhook, rules=False)
    settings.budgets_file.write_text('[[budget]]\nname = "x"\nperiod = "month"\nlimit_usd = -5\n')
    with pytest.raises(SystemExit) as exited:
        main(["alerts"])
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    for part in (str(settings.budgets_file), "[[budget]] #1 ('x')", "'limit_usd'"):
        assert part in captured.err
    assert "Active alerts:" in captured.out


def test_cli_test_message_reaches_every_url_and_says_which_failed(
    warehouse, webhook, monkeypatch, capsys
):
    from cli.main import main

    _configure(warehouse, monkeypatch, webhook, rules=False)
    main(["alerts", "--test"])
    assert webhook.titles() == ["llm-usage test message"]
    assert "http://usage.example/page" in webhook.received[0]["message"]
    assert capsys.readouterr().out.startswith("delivered  json://127.0.0.1")
    webhook.stop()
    with pytest.raises(SystemExit) as exited:
        main(["alerts", "--test"])
    assert exited.value.code == 1
    assert capsys.readouterr().out.startswith("FAILED     json://127.0.0.1")
    webhook.start()
    monkeypatch.setenv("LLM_USAGE_ALERT_URLS", f"nonsense://x {webhook.url}")
    with pytest.raises(SystemExit):
        main(["alerts", "--test"])
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0] == "FAILED     nonsense://(not a URL apprise knows): apprise knows no service of "
        "this URL (docs/alerts.md lists examples)"
    )
    assert out[1].startswith("delivered  json://127.0.0.1")  # the others still get it
    monkeypatch.delenv("LLM_USAGE_ALERT_URLS")
    with pytest.raises(SystemExit) as exited:
        main(["alerts", "--test"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("llm-usage: No alert URLs are configured") and error.count("\n") == 1


def test_requests_that_name_no_team_or_key_are_nobodys_to_judge(warehouse):
    """The spend-anomaly and error rules judge each key, team, provider and model; the
    requests that name no team ('(none)') are not a team that could spike."""
    from alerts.figures import breakdown_days
    from readers.filters import NONE

    connection = duckdb.connect(str(warehouse.warehouse_path), read_only=True)
    try:
        nameless = connection.execute(
            "SELECT count(*) FROM main_marts.mart_usage_summary WHERE grain = 'day' "
            "AND team_id = ?",
            [NONE],
        ).fetchone()[0]
        frame = breakdown_days(
            connection, "mart_usage_summary", "team_id", ("spend_usd",), date(2000, 1, 1)
        )
    finally:
        connection.close()
    assert nameless > 0  # the data holds requests without a team
    assert not frame.empty and NONE not in set(frame["id"])
