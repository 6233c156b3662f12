"""The sample-log generator: determinism, the record contract, exact fault counts, realism.

Records are checked here by an independent reading of the contract (plain json + rules
written out below), not by the generator's own code.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sample_data.generate import generate_logs

START = date(2026, 3, 5)  # a Thursday: runs cross a weekend
FAULTS = dict(duplicate_rate=0.03, late_rate=0.04, malformed_rate=0.02)

REQUIRED = {
    "request_id": str,
    "created_at": str,
    "api_key_id": str,
    "model": str,
    "provider": str,
    "billing_mode": str,
    "status": str,
    "stream": bool,
    "input_tokens": int,
    "output_tokens": int,
    "latency_ms": int,
    "http_status": int,
    "web_search_calls": int,
    "schema_version": int,
}
NULLABLE = {"error_type": str, "finish_reason": str, "first_token_ms": int}
OPTIONAL = {
    "api_key_name": str,
    "cached_input_tokens": int,
    "cache_write_tokens": int,
    "reasoning_tokens": int,
    "cost_usd": float,
    "organization_id": str,
    "organization_name": str,
    "team_id": str,
    "team_name": str,
    "project_id": str,
    "project_name": str,
    "end_user_id": str,
    "tags": list,
    "served_from_cache": bool,
    "saved_cache_cost_usd": float,
}
COUNTS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "web_search_calls",
)
CREATED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$")


# --------------------------------------------------------------------------- helpers


def _is(value, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def type_errors(rec) -> list[str]:
    """What makes a parsed line fail the ingest contract (types, presence, enums, signs)."""
    if not isinstance(rec, dict):
        return ["not an object"]
    errors = []
    for name, kind in REQUIRED.items():
        if rec.get(name) is None:
            errors.append(f"missing {name}")
        elif not _is(rec[name], kind):
            errors.append(f"{name} has type {type(rec[name]).__name__}")
    for name, kind in {**NULLABLE, **OPTIONAL}.items():
        if rec.get(name) is not None and not _is(rec[name], kind):
            errors.append(f"{name} has type {type(rec[name]).__name__}")
    for name in COUNTS + ("latency_ms", "first_token_ms", "cost_usd"):
        if _is(rec.get(name), float) and rec[name] < 0:
            errors.append(f"{name} negative")
    if rec.get("billing_mode") not in ("pay_as_you_go", "subscription"):
        errors.append("billing_mode")
    if rec.get("status") not in ("success", "error"):
        errors.append("status")
    if isinstance(rec.get("created_at"), str) and not CREATED_AT.match(rec["created_at"]):
        errors.append("created_at format")
    return errors


def rule_errors(rec: dict) -> list[str]:
    """Business rules every record keeps unless semantic faults were asked for."""
    errors = []
    cached, write = rec.get("cached_input_tokens") or 0, rec.get("cache_write_tokens") or 0
    if cached + write > rec["input_tokens"]:
        errors.append("cache above input")
    if (rec.get("reasoning_tokens") or 0) > rec["output_tokens"]:
        errors.append("reasoning above output")
    if rec["latency_ms"] <= 0:
        errors.append("latency not positive")
    if rec["status"] == "success":
        if (
            rec["http_status"] != 200
            or rec["error_type"] is not None
            or rec["finish_reason"] is None
        ):
            errors.append("success fields")
        if rec["stream"]:
            if rec["first_token_ms"] is None or not 0 < rec["first_token_ms"] <= rec["latency_ms"]:
                errors.append("first token outside the request")
        elif rec["first_token_ms"] is not None:
            errors.append("first token on a non-streamed request")
    else:
        if (
            rec["http_status"] not in (400, 401, 429, 499, 500, 502, 503, 504)
            or rec["error_type"] is None
        ):
            errors.append("error fields")
        if (
            rec["output_tokens"] != 0
            or rec["finish_reason"] is not None
            or rec["first_token_ms"] is not None
        ):
            errors.append("error produced output")
    if rec["schema_version"] != 1:
        errors.append("schema_version")
    if rec.get("cost_usd") is not None and round(rec["cost_usd"], 6) != rec["cost_usd"]:
        errors.append("cost not rounded to 6 decimals")
    if not re.fullmatch(r"req_[0-9a-f]{24}", rec["request_id"]):
        errors.append("request_id format")
    if not re.fullmatch(r"key_[a-z0-9]{8}", rec["api_key_id"]):
        errors.append("api_key_id format")
    return errors


def created_utc(rec: dict) -> datetime:
    return datetime.fromisoformat(rec["created_at"]).astimezone(UTC)


def read_rows(path: Path) -> list:
    """Each line of a landing file: a dict, or the raw text when it is not JSON."""
    if path.name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    data = path.read_bytes()
    text = (gzip.decompress(data) if path.name.endswith(".gz") else data).decode()
    assert text.endswith("\n")
    rows = []
    for line in text[:-1].split("\n"):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            rows.append(line)
    return rows


def all_bytes(out_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out_dir)): p.read_bytes()
        for p in sorted(out_dir.rglob("*"))
        if p.is_file()
    }


class Run:
    """One generate_logs call and what landed on disk, parsed once."""

    def __init__(self, out: Path, **kwargs):
        self.out = out
        self.summary = generate_logs(out, **kwargs)
        self.landed = {
            date.fromisoformat(folder.name[3:]): [
                row for f in sorted(folder.iterdir()) for row in read_rows(f)
            ]
            for folder in sorted(out.glob("dt=*"))
        }
        self.rows = [row for rows in self.landed.values() for row in rows]
        # (landing day, record) for every line that passes the ingest contract
        self.valid = [
            (day, row) for day, rows in self.landed.items() for row in rows if not type_errors(row)
        ]
        self.records = [rec for _, rec in self.valid]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    return Run(
        tmp_path_factory.mktemp("faulty"),
        start=START,
        days=3,
        requests_per_day=1500,
        seed=3,
        files_per_day=2,
        **FAULTS,
    )


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    return Run(
        tmp_path_factory.mktemp("week"),
        start=START,
        days=7,
        requests_per_day=2500,
        seed=5,
        fmt="jsonl",
    )


@pytest.fixture(scope="module")
def semantic(tmp_path_factory):
    return Run(
        tmp_path_factory.mktemp("semantic"),
        start=START,
        days=2,
        requests_per_day=3000,
        seed=9,
        semantic_faults=True,
    )


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("fmt", ["jsonl.gz", "parquet"])
def test_same_seed_gives_same_bytes(tmp_path, fmt):
    args = dict(
        start=START,
        days=2,
        requests_per_day=400,
        seed=1,
        fmt=fmt,
        semantic_faults=True,
        files_per_day=2,
        **FAULTS,
    )
    generate_logs(tmp_path / "a", **args)
    generate_logs(tmp_path / "b", **args)
    assert all_bytes(tmp_path / "a") == all_bytes(tmp_path / "b")


def test_other_seed_gives_other_records(tmp_path):
    ids_a = {
        r["request_id"]
        for r in Run(tmp_path / "a", start=START, days=1, requests_per_day=300, seed=1).records
    }
    ids_b = {
        r["request_id"]
        for r in Run(tmp_path / "b", start=START, days=1, requests_per_day=300, seed=2).records
    }
    assert ids_a and ids_b and not ids_a & ids_b


def test_a_day_does_not_depend_on_the_other_days_generated(tmp_path):
    generate_logs(tmp_path / "a", START, 3, 300, seed=4)
    generate_logs(tmp_path / "b", START + timedelta(1), 1, 300, seed=4)
    day = f"dt={START + timedelta(1)}/part-00000.jsonl.gz"
    assert all_bytes(tmp_path / "a")[day] == all_bytes(tmp_path / "b")[day]


# --------------------------------------------------------------------------- contract & counts


def test_every_valid_record_keeps_the_contract(week):
    assert len(week.records) == week.summary.records == week.summary.lines_written
    for rec in week.records:
        assert rule_errors(rec) == [], rec
        assert set(rec) <= set(REQUIRED) | set(NULLABLE) | set(OPTIONAL)
    assert len({r["request_id"] for r in week.records}) == week.summary.records


def test_created_at_offsets_name_the_same_instant_and_day(week):
    offsets = [r for r in week.records if not r["created_at"].endswith("Z")]
    assert 0.03 < len(offsets) / len(week.records) < 0.07
    # Without late delivery every record lands on its own UTC day, whatever its offset.
    assert all(created_utc(rec).date() == day for day, rec in week.valid)


def test_summary_counts_match_the_files(faulty):
    summary = faulty.summary
    assert sorted(summary.files) == sorted(p for p in faulty.out.rglob("*") if p.is_file())
    assert (
        len(faulty.rows)
        == summary.lines_written
        == summary.records + summary.duplicates + summary.malformed
    )
    assert len(faulty.rows) - len(faulty.valid) == summary.malformed
    assert len({rec["request_id"] for rec in faulty.records}) == summary.records


def test_fault_counts_are_exact_shares_of_each_day(faulty):
    distinct = {rec["request_id"]: rec for rec in faulty.records}
    per_day = Counter(created_utc(rec).date() for rec in distinct.values())
    assert sorted(per_day) == faulty.summary.days
    for name, count in (
        ("duplicate_rate", faulty.summary.duplicates),
        ("late_rate", faulty.summary.late),
        ("malformed_rate", faulty.summary.malformed),
    ):
        assert count == sum(round(FAULTS[name] * n) for n in per_day.values()) > 0, name


def test_duplicates_are_identical_deliveries(faulty):
    by_id = defaultdict(list)
    for day, rec in faulty.valid:
        by_id[rec["request_id"]].append((day, rec))
    assert sum(len(v) - 1 for v in by_id.values()) == faulty.summary.duplicates
    for copies in by_id.values():
        assert all(rec == copies[0][1] for _, rec in copies)
        assert all(0 <= (day - created_utc(rec).date()).days <= 1 for day, rec in copies)
    assert any(len({d for d, _ in v}) == 2 for v in by_id.values()), (
        "some duplicate lands a day later"
    )
    assert any(len(v) == 2 and v[0][0] == v[1][0] for v in by_id.values()), (
        "some duplicate lands the same day"
    )


def test_late_records_land_the_day_after_they_were_created(faulty):
    first_landing = {}
    for day, rec in faulty.valid:
        first_landing.setdefault(rec["request_id"], (day, rec))
    late = [(day, rec) for day, rec in first_landing.values() if day != created_utc(rec).date()]
    assert len(late) == faulty.summary.late > 0
    assert all(day == created_utc(rec).date() + timedelta(1) for day, rec in late)
    # The last generated day's late records get a folder of their own.
    assert faulty.summary.days[-1] + timedelta(1) in faulty.landed


def malformed_kind(row) -> str | None:
    if isinstance(row, str):
        return "truncated" if row.startswith("{") else "not json"
    errors = type_errors(row)
    if any(e.startswith("missing") for e in errors):
        return "missing field"
    if any(e.endswith("has type str") for e in errors):
        return "string for int"
    if any(e.endswith("negative") for e in errors):
        return "negative count"
    if "billing_mode" in errors:
        return "bad billing_mode"
    return None


def test_malformed_lines_are_a_mix(faulty):
    kinds = Counter(malformed_kind(row) for row in faulty.rows)
    assert kinds.pop(None) == faulty.summary.records + faulty.summary.duplicates
    assert set(kinds) == {
        "truncated",
        "not json",
        "missing field",
        "string for int",
        "negative count",
        "bad billing_mode",
    }


def test_parquet_and_jsonl_hold_the_same_records(tmp_path):
    args = dict(start=START, days=2, requests_per_day=500, seed=8, files_per_day=2, **FAULTS)
    as_json = Run(tmp_path / "j", fmt="jsonl", **args)
    as_parquet = Run(tmp_path / "p", fmt="parquet", **args)
    for name in ("records", "lines_written", "duplicates", "late", "malformed"):
        assert getattr(as_json.summary, name) == getattr(as_parquet.summary, name), name
    assert all(p.name.endswith(".parquet") for p in as_parquet.summary.files)

    def normalised(run):  # an absent JSON key and a Parquet null mean the same
        return sorted(
            (day, sorted((k, v) for k, v in rec.items() if v is not None)) for day, rec in run.valid
        )

    assert normalised(as_json) == normalised(as_parquet)
    assert len(as_parquet.rows) - len(as_parquet.valid) == as_parquet.summary.malformed


def test_a_rerun_replaces_a_day_folder(tmp_path):
    generate_logs(tmp_path, START, 1, 300, files_per_day=3)
    summary = generate_logs(tmp_path, START, 1, 300, files_per_day=1)
    assert sorted(tmp_path.rglob("part-*")) == summary.files


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="fmt"):
        generate_logs(tmp_path, START, 1, fmt="csv")
    with pytest.raises(ValueError, match="late_rate"):
        generate_logs(tmp_path, START, 1, late_rate=1.5)
    with pytest.raises(ValueError, match="seed"):
        generate_logs(tmp_path, START, 1, seed=-1)


# --------------------------------------------------------------------------- semantic faults


def test_semantic_faults_are_counted_exactly(semantic):
    summary, records = semantic.summary, semantic.records
    assert len(records) == summary.records  # still well-typed: they pass ingest
    found = Counter()
    for r in records:
        first_token = r["first_token_ms"]
        found["first_token_after_last_byte"] += (
            first_token is not None and first_token > r["latency_ms"]
        )
        found["cached_above_input"] += (r.get("cached_input_tokens") or 0) > r["input_tokens"]
    assert (
        summary.semantic["first_token_after_last_byte"] == found["first_token_after_last_byte"] >= 2
    )
    assert summary.semantic["cached_above_input"] == found["cached_above_input"] >= 2

    provider = summary.semantic["provider_error_burst_provider"]
    hours = defaultdict(list)
    for r in records:
        if r["provider"] == provider:
            t = created_utc(r)
            hours[(t.date(), t.hour)].append(r)
    burst = [
        rs
        for rs in hours.values()
        if all(
            r["status"] == "error"
            and r["http_status"] == 503
            and r["error_type"] == "overloaded"
            and r["output_tokens"] == 0
            and r["first_token_ms"] is None
            for r in rs
        )
    ]
    assert len(burst) == len(summary.days)  # one outage hour per day
    assert sum(len(rs) for rs in burst) == summary.semantic["provider_error_burst"] > 0


def test_semantic_faults_are_off_by_default(faulty):
    assert faulty.summary.semantic == {}


# --------------------------------------------------------------------------- realism


def test_catalogue_is_wide_and_shared(week):
    providers_of = defaultdict(set)
    for r in week.records:
        providers_of[r["model"]].add(r["provider"])
    assert len(providers_of) >= 20
    assert len({p for ps in providers_of.values() for p in ps}) >= 8
    assert {"anthropic", "amazon-bedrock", "google-vertex"} <= providers_of[
        "anthropic/claude-sonnet-4.5"
    ]
    assert {"openai", "azure"} <= providers_of["openai/gpt-5"]
    assert {"groq", "together", "fireworks"} <= providers_of["openai/gpt-oss-120b"]


def test_shares_are_in_realistic_bands(week):
    def share(pred):
        return sum(1 for r in week.records if pred(r)) / len(week.records)

    assert 0.06 <= share(lambda r: r["billing_mode"] == "subscription") <= 0.14
    assert 0.02 <= share(lambda r: r["web_search_calls"] > 0) <= 0.07
    assert all(r["web_search_calls"] <= 5 for r in week.records)
    assert 0.50 <= share(lambda r: r["stream"]) <= 0.70
    assert 0.005 <= share(lambda r: r["status"] == "error") <= 0.06
    assert 0.0 < share(lambda r: "cached_input_tokens" not in r) < 0.5  # some providers omit it
    assert 0.0 < share(lambda r: "api_key_name" not in r) < 0.3
    assert 0.0 < share(lambda r: (r.get("cached_input_tokens") or 0) > 0)
    assert 0.0 < share(lambda r: (r.get("reasoning_tokens") or 0) > 0)


def test_traffic_has_cycles_and_heavy_users(week):
    per_day = Counter(created_utc(r).date() for r in week.records)
    weekend = [per_day[d] for d in week.summary.days if d.weekday() >= 5]
    weekday = [per_day[d] for d in week.summary.days if d.weekday() < 5]
    assert max(weekend) < min(weekday)
    hours = Counter(created_utc(r).hour for r in week.records)
    assert hours[15] > 2 * hours[3]
    keys = Counter(r["api_key_id"] for r in week.records)
    assert len(keys) > 150 and keys.most_common(1)[0][1] > 0.05 * len(week.records)
    models_of = defaultdict(set)
    for r in week.records:
        models_of[r["api_key_id"]].add(r["model"])
    assert any(len(m) <= 2 and keys[k] >= 20 for k, m in models_of.items()), "single-purpose keys"
    inputs = sorted(r["input_tokens"] for r in week.records if r["status"] == "success")
    assert inputs[-1] > 20 * inputs[len(inputs) // 2]  # heavy tail
    assert inputs[-1] <= 200_000


def test_latency_follows_each_routes_speed(week):
    def median_tps(provider, model):
        speeds = sorted(
            r["output_tokens"] / ((r["latency_ms"] - r["first_token_ms"]) / 1000)
            for r in week.records
            if r["provider"] == provider
            and r["model"] == model
            and r["status"] == "success"
            and r["stream"]
            and r["output_tokens"] > 50
        )
        return speeds[len(speeds) // 2]

    model = "openai/gpt-oss-120b"
    assert median_tps("groq", model) > 1.5 * median_tps("together", model)
    assert 300 < median_tps("groq", model) < 700


def test_who_spent_it_looks_like_a_real_gateway(week):
    """Issue 25: a few organizations, teams and projects, each key in at most one team
    (its organization's) and project; thousands of end users with a long tail; tags with
    env: and feature: keys; records without a team, end user or tags too."""
    records = week.records
    n = len(records)
    organizations = Counter(r.get("organization_id") for r in records)
    teams = Counter(r.get("team_id") for r in records)
    projects = Counter(r.get("project_id") for r in records)
    assert len(organizations.keys() - {None}) == 3
    assert 8 <= len(teams.keys() - {None}) <= 12 and 10 <= len(projects.keys() - {None}) <= 20
    for counter in (organizations, teams, projects):
        assert 0.02 * n < counter[None] < 0.5 * n, "some records name none"
    team_of, organization_of = defaultdict(set), defaultdict(set)
    for r in records:
        team_of[r["api_key_id"]].add(r.get("team_id"))
        organization_of[r.get("team_id")].add(r.get("organization_id"))
        assert (r.get("team_id") is None) == (r.get("team_name") is None)
        assert (r.get("project_id") is None) or r.get("team_id") is not None
    assert all(len(t) == 1 for t in team_of.values()), "a key belongs to one team"
    assert all(len(o) == 1 for o in organization_of.values()), "a team to one organization"

    end_users = Counter(r.get("end_user_id") for r in records)
    named = n - end_users.pop(None, 0)
    assert 0.3 * n < named < 0.8 * n
    assert len(end_users) > 1500  # thousands over a month at this scale's share
    ranked = [c for _, c in end_users.most_common()]
    assert ranked[0] > 20 * ranked[len(ranked) // 2]  # a long tail
    assert sum(1 for c in ranked if c == 1) > 0.3 * len(ranked)

    tags = Counter(t for r in records for t in r.get("tags") or [])
    keys_of = {t.split(":", 1)[0] for t in tags}
    assert {"env", "feature", "cost_center"} <= keys_of
    assert {"env:prod", "env:staging", "env:dev"} <= set(tags)
    untagged = sum(1 for r in records if not r.get("tags"))
    assert 0.02 * n < untagged < 0.4 * n
    assert all(len(set(r["tags"])) == len(r["tags"]) <= 64 for r in records if r.get("tags"))


def test_errors_and_gateway_cache_hits_look_like_a_real_gateway(week):
    """Issue 27: each day has a burst of 429s from one provider (many within an hour),
    timeouts and rarer 5xx among the failures, a few 401s and 499s over the week, and a
    share of successes answered from the gateway's response cache in milliseconds, at no
    cost, with the cost they saved."""
    records = week.records
    failed = [r for r in records if r["status"] == "error"]
    statuses = Counter(r["http_status"] for r in failed)
    assert statuses[429] > statuses[504] > 0 and statuses[401] > 0 and statuses[499] > 0
    # A burst: each day, one provider answers at least 4 requests with 429 within an hour
    # (the background rate limits are a trickle over the day, well under one an hour).
    limited: dict[tuple[str, str], list[datetime]] = {}
    for r in failed:
        if r["http_status"] == 429:
            at = datetime.fromisoformat(r["created_at"]).astimezone(UTC)
            limited.setdefault((at.date().isoformat(), r["provider"]), []).append(at)
    densest: dict[str, int] = {}
    for (day, _), times in limited.items():
        times.sort()
        most = max(
            sum(1 for later in times[i:] if later - at < timedelta(hours=1))
            for i, at in enumerate(times)
        )
        densest[day] = max(densest.get(day, 0), most)
    assert len(densest) == 7 and min(densest.values()) >= 4, densest
    hits = [r for r in records if r.get("served_from_cache")]
    assert 0.02 <= len(hits) / len(records) <= 0.06
    assert all(r["status"] == "success" and r["latency_ms"] < 50 for r in hits)
    assert all(r.get("cost_usd") in (0, None) for r in hits)
    assert sum(r.get("saved_cache_cost_usd") or 0 for r in hits) > 0
    assert not any("served_from_cache" in r for r in records if not r.get("served_from_cache"))
