"""What a user does in the Dagster UI, done through the same GraphQL endpoint the UI uses.

Starts `dagster dev -w workspace.yaml` on a free port with a temporary Dagster home and
data directory, reads the asset graph, launches the nightly job for one landing day and,
at the same moment, a two-day backfill, waits for both, checks the marts they built,
and stops the server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from datetime import date, timedelta

import pytest
import requests
from reference import read_landing
from reference import requests as request_rows
from runs import BIN, REPO, cli_env, settings_for, wait_for, warehouse_state

from orchestration.instance import prepare_dagster_home
from sample_data.generate import generate_logs

pytestmark = pytest.mark.ui

START = date(2026, 2, 9)
SERVER_TIMEOUT = 300
RUN_TIMEOUT = 600


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Dagster:
    def __init__(self, url: str):
        self.url = url

    def query(self, text: str, **variables):
        response = requests.post(
            f"{self.url}/graphql", json={"query": text, "variables": variables}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = settings_for(tmp_path_factory.mktemp("ui") / "data")
    # A few hundred records a day: the test is about the server, its daemons and two runs
    # launched together, none of which grows with the data; the runs' cost does.
    generate_logs(settings.landing_dir, START, 3, requests_per_day=200, seed=31, late_rate=0.03)
    prepare_dagster_home(settings)
    port = _free_port()
    log = open(settings.data_dir / "dagster_dev.log", "w")
    env = cli_env(settings)
    env["FRESHNESS_DAEMON_INTERVAL_SECONDS"] = "5"  # see freshness sooner than every 30 s
    process = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    dagster = Dagster(f"http://127.0.0.1:{port}")

    def up():
        if process.poll() is not None:
            raise AssertionError(f"dagster dev exited:\n{_tail(settings)}")
        try:
            return requests.get(f"{dagster.url}/server_info", timeout=5).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, SERVER_TIMEOUT, "dagster dev to answer /server_info", interval=1)
        yield dagster, settings
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            # dagster dev's graceful shutdown takes 15 s or more (its daemons finish their
            # sleep first; a full minute in one fresh-clone CI run), and nothing here
            # depends on a graceful one: the test's data is thrown away.
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _tail(settings, lines: int = 60) -> str:
    path = settings.data_dir / "dagster_dev.log"
    return (
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
    )


REPOSITORY = """
{ repositoriesOrError { __typename
    ... on RepositoryConnection { nodes { name location { name }
        schedules { name cronSchedule scheduleState { status } }
        sensors { name sensorState { status } } } }
    ... on PythonError { message } } }
"""

ASSET_GRAPH = """
{ assetNodes { assetKey { path } dependencyKeys { path } partitionDefinition { type }
    internalFreshnessPolicy { __typename ... on CronFreshnessPolicy { deadlineCron } } } }
"""

LAUNCH_RUN = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
    ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
    ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }
"""

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }
"""

RUNS = """
query($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
    runId status startTime endTime tags { key value } } } } }
"""

STEPS = """
query($runId: ID!) { runOrError(runId: $runId) { ... on Run { stepStats {
    stepKey status startTime endTime } } } }
"""

DAEMONS = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"

FRESHNESS = """
query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
    freshnessStatusInfo { freshnessStatus } } } }
"""


def _repository(dagster: Dagster) -> dict:
    def loaded():
        data = dagster.query(REPOSITORY)["repositoriesOrError"]
        return data.get("nodes")

    (repo,) = wait_for(loaded, SERVER_TIMEOUT, "the code location to load", interval=2)
    return repo


def test_the_ui_path(server):
    dagster, settings = server
    repo = _repository(dagster)
    assert {
        s["name"]: (s["cronSchedule"], s["scheduleState"]["status"]) for s in repo["schedules"]
    } == {
        "nightly_schedule": ("0 2 * * *", "RUNNING"),
        "weekly_audit_schedule": ("0 4 * * 0", "RUNNING"),
    }
    assert {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]} == {
        "late_landing_files_sensor": "RUNNING",
        "unfinished_model_builds_sensor": "RUNNING",
        "abandoned_cli_runs_sensor": "RUNNING",
        "intraday_refresh_sensor": "RUNNING",  # LLM_USAGE_INTRADAY_MINUTES, default 15
    }

    # The asset graph: files -> raw -> staging -> facts -> marts, daily partitions,
    # every asset with the nightly freshness policy.
    nodes = {"/".join(n["assetKey"]["path"]): n for n in dagster.query(ASSET_GRAPH)["assetNodes"]}
    # The monthly FOCUS files are outside the nightly job (docs/exports.md).
    exports = {key: nodes.pop(key) for key in list(nodes) if key.startswith("exports/")}
    assert set(exports) == {"exports/focus"}
    assert exports["exports/focus"]["partitionDefinition"]["type"] == "TIME_WINDOW"
    assert {
        "raw/request_logs",
        "staging/stg_gateway__request_logs",
        "facts/fct_requests",
        "facts/fct_usage_daily",
        "marts/mart_usage_summary",
    } <= set(nodes)
    staging_deps = [
        "/".join(d["path"]) for d in nodes["staging/stg_gateway__request_logs"]["dependencyKeys"]
    ]
    assert "raw/request_logs" in staging_deps
    for key, node in nodes.items():
        assert node["partitionDefinition"]["type"] == "TIME_WINDOW", key
        assert node["internalFreshnessPolicy"] == {
            "__typename": "CronFreshnessPolicy",
            "deadlineCron": "0 5 * * *",
        }, key

    # The daemon that fires the schedule and the sensor is running.
    def daemons_healthy():
        statuses = {
            d["daemonType"]: d["healthy"]
            for d in dagster.query(DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
            if d["required"]
        }
        return statuses.get("SCHEDULER") and statuses.get("SENSOR") and statuses

    wait_for(daemons_healthy, 180, "the scheduler and sensor daemons to be healthy", interval=2)

    # Launch the nightly job for the last day and, together with it, a two-day backfill.
    days = [(START + timedelta(days=i)).isoformat() for i in range(3)]
    selector = {
        "repositoryLocationName": repo["location"]["name"],
        "repositoryName": repo["name"],
        "jobName": "nightly_job",
    }
    launched = dagster.query(
        LAUNCH_RUN,
        params={
            "selector": selector,
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": days[2]}]},
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    backfill = dagster.query(
        LAUNCH_BACKFILL,
        params={
            "partitionNames": days[:2],
            "assetSelection": [{"path": key.split("/")} for key in nodes],
        },
    )["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill

    def runs_done():
        runs = dagster.query(RUNS, filter={})["runsOrError"]["results"]
        backfill_runs = [
            r
            for r in runs
            if {"key": "dagster/backfill", "value": backfill["backfillId"]} in r["tags"]
        ]
        ours = [r for r in runs if r["runId"] == run_id] + backfill_runs
        if any(r["status"] in ("FAILURE", "CANCELED") for r in ours):
            raise AssertionError(f"a run failed: {ours}\n{_tail(settings)}")
        if backfill_runs and all(r["status"] == "SUCCESS" for r in ours):
            return ours
        return None

    finished = wait_for(runs_done, RUN_TIMEOUT, "the run and the backfill to succeed", interval=3)

    # The two-day backfill ran as one run over both days.
    assert len(finished) == 2
    tags = {t["key"]: t["value"] for t in finished[1]["tags"]}
    assert (
        tags["dagster/asset_partition_range_start"],
        tags["dagster/asset_partition_range_end"],
    ) == (days[0], days[1])
    # Launched together, written one after the other.
    steps = [
        (s["startTime"], s["endTime"])
        for r in finished
        for s in dagster.query(STEPS, runId=r["runId"])["runOrError"]["stepStats"]
    ]
    # Load with its raw checks (one step), dbt, fact checks and the alerts, in each of the
    # two runs.
    assert len(steps) == 2 * 4
    for i, a in enumerate(steps):
        for b in steps[i + 1 :]:
            assert a[1] <= b[0] or b[1] <= a[0], (a, b)

    # The marts hold every landing day's requests, counted independently.
    reqs = request_rows(
        read_landing(settings.landing_dir, [date.fromisoformat(d) for d in days])[0]
    )
    paid = reqs[reqs["billing_mode"] == "pay_as_you_go"].groupby("event_date").size()
    daily = warehouse_state(settings)["main_marts.mart_usage_summary"].query(
        "grain == 'day' and api_key_id == '*' and model == '*' and provider == '*' "
        "and organization_id == '*' and team_id == '*' and project_id == '*'"
    )
    assert [str(d.date()) for d in paid.index] == [str(d.date()) for d in daily["period_start"]]
    assert daily["requests"].tolist() == paid.tolist()

    # And the freshness daemon now counts the marts as fresh.
    def fresh():
        info = dagster.query(FRESHNESS, path=["marts", "mart_usage_summary"])
        status = info["assetNodeOrError"]["freshnessStatusInfo"]["freshnessStatus"]
        return status == "HEALTHY"

    wait_for(fresh, 120, "the marts to count as fresh", interval=2)
