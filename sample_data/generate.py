"""Synthetic LLM-gateway request logs, realistic enough to exercise the whole warehouse.

`generate_logs` writes one folder per landing day, ``out_dir/dt=YYYY-MM-DD/part-NNNNN.<ext>``,
holding one JSON object per line (``jsonl`` / ``jsonl.gz``) or the same columns as Parquet.
What a record means is defined in ``docs/metrics.md``; the columns are
``RECORD_SCHEMA`` and the rules between fields are listed in `_simulate_day`. Every valid
record passes the loader's contract (``ingest/schema/request_log.schema.json``); every
malformed line fails it.

How the data is made, and why:

* A fixed catalogue (tables below) of models, the providers that serve them ("routes"),
  per-route latency and speed distributions, per-provider error rates and prices.
* ~300 API keys with Zipf-like traffic; each key has its own model taste (some use only
  one to three models), streaming habit, web-search habit and billing mode.
* Traffic follows a daily (UTC afternoon peak) and a weekly (weekend dip) cycle.
* Who spent it: most keys belong to a team of one of three organizations, many to one of
  the team's projects; customer-facing keys carry an end user (thousands of them, a long
  Zipf tail); most requests carry tags `env:<environment of the key>` and
  `feature:<feature>`, some `cost_center:<n>` of their team. These are drawn from seed
  streams of their own, so the other fields are the same with or without them.
* Everything for one day is drawn at once with numpy from a generator seeded by
  ``(seed, day)``: a day's records do not depend on which other days are generated, and
  the same arguments always give the same bytes.
* Delivery faults that the ingest layer must survive are injected with exact counts:
  duplicates (identical lines, same or next landing day), late records (landing a day
  after their ``created_at``) and malformed extra lines. ``semantic_faults`` adds records
  that are well-typed but break business rules, for the data-quality checks to find.

Serialisation is vectorised: JSON lines are assembled column by column with Arrow string
kernels (optional keys are simply skipped where null), fixed-width strings such as
timestamps are written straight into byte buffers, and gzip runs in a background thread
while the next batch is encoded.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["FORMATS", "RECORD_SCHEMA", "GenerateSummary", "generate_logs"]

# --------------------------------------------------------------------------- catalogue

# The tables are data, in catalogue.json beside this file (package data); the names
# below keep the shapes the code uses. The fields, and why they look as they do:
#
# providers: error rate, and whether it omits unknown token fields. A provider that
#   "omits" leaves cached_input_tokens / cache_write_tokens / reasoning_tokens out of the
#   record when the model cannot produce them (absent = unknown); the others report 0.
# models (MODEL_FIELDS): weight: popularity; reasoning: share of requests that reason
#   (0 = model cannot); in/out: median prompt and visible completion tokens; max_out /
#   context: hard caps; prices in USD per million tokens (input, output, cache read,
#   cache write).
# routes (ROUTE_FIELDS): who serves a model. share: the model's traffic going to this
#   provider; cache: "rw" reports cache reads and writes, "r" reads only (writes are free,
#   reported 0), "" no prompt caching; time to first token and decode speed are
#   log-normal per route, given as (median, sigma) -- e.g. Groq is an order of magnitude
#   faster to decode.
# error_types: share of errors, HTTP statuses, prompt billed, latency median ms, sigma.
#   Rejections (429, 400) never reach the model, so they carry no input tokens.
# finish_reasons: of successful requests that did not hit max_out (those end in "length").
# hourly_traffic / weekday_traffic: relative traffic per UTC hour (Americas + Europe
#   working hours overlap in the afternoon) and per weekday (Monday first); both average
#   to 1.
# timestamp_offsets_min: non-zero UTC offsets some gateway nodes write timestamps in
#   (minutes east of UTC).
CATALOGUE_PATH = Path(__file__).with_name("catalogue.json")
# The demo's budgets file (llm-usage demo copies it where the data directory has none).
SAMPLE_BUDGETS_FILE = Path(__file__).with_name("budgets.toml")
_CATALOGUE = json.loads(CATALOGUE_PATH.read_text())

PROVIDERS: dict[str, tuple[float, bool]] = {
    name: (p["error_rate"], p["omits_unknown_token_fields"])
    for name, p in _CATALOGUE["providers"].items()
}
MODEL_FIELDS = tuple(_CATALOGUE["model_fields"])
MODELS: list[tuple] = [tuple(row) for row in _CATALOGUE["models"]]
ROUTE_FIELDS = tuple(_CATALOGUE["route_fields"])
ROUTES: list[tuple] = [tuple(row) for row in _CATALOGUE["routes"]]
ERROR_TYPES: dict[str, tuple[float, tuple[int, ...], bool, float, float]] = {
    name: (
        e["share"],
        tuple(e["http_statuses"]),
        e["prompt_billed"],
        e["latency_median_ms"],
        e["latency_sigma"],
    )
    for name, e in _CATALOGUE["error_types"].items()
}
FINISH_REASONS: dict[str, float] = dict(_CATALOGUE["finish_reasons"])
HOURLY_TRAFFIC = tuple(_CATALOGUE["hourly_traffic"])
WEEKDAY_TRAFFIC = tuple(_CATALOGUE["weekday_traffic"])
TIMESTAMP_OFFSETS_MIN = tuple(_CATALOGUE["timestamp_offsets_min"])
KEY_NAME_STEMS = tuple(_CATALOGUE["key_name_stems"])
# Who spent it. organizations: (id, name); teams: (id, name, organization index, weight);
# projects: (id, name, team index); environments and features: (name, weight).
ORGANIZATIONS = [tuple(o) for o in _CATALOGUE["organizations"]]
TEAMS = [tuple(t) for t in _CATALOGUE["teams"]]
PROJECTS = [tuple(p) for p in _CATALOGUE["projects"]]
ENVIRONMENTS = dict(_CATALOGUE["environments"])
FEATURES = dict(_CATALOGUE["features"])

OFFSET_SHARE = 0.05

N_KEYS = 300
KEY_ZIPF_EXPONENT = 1.1
SUBSCRIPTION_SHARE = 0.10  # of requests, reached by putting whole keys on a plan
STREAM_SHARE = 0.60
WEB_SEARCH_SHARE = 0.04
WEB_SEARCH_PRICE_USD = 0.01  # per call
PREFILL_TPS = 8000.0  # uncached prompt tokens per second added to time to first token
CACHED_PREFILL_TPS = 80000.0
MAX_PROMPT_TOKENS = 200_000
MIN_CACHEABLE_PROMPT = 1024  # providers only cache prompts at least this long
TEAM_KEY_SHARE = 0.9  # keys that belong to a team (the rest: "(none)")
PROJECT_KEY_SHARE = 0.7  # of the team keys, those used for one of the team's projects
N_END_USERS = 5000
END_USER_ZIPF_EXPONENT = 1.05
CUSTOMER_FACING_KEY_SHARE = 0.55  # keys whose requests name an end user (90% of them do)
UNTAGGED_KEY_SHARE = 0.12  # keys that send no tags at all
COST_CENTER_KEY_SHARE = 0.3  # keys that add their team's cost_center tag

# Semantic faults: share of a day's records broken per rule (at least one per day).
SEMANTIC_SHARE = 0.002
SEMANTIC_FAULTS = ("first_token_after_last_byte", "cached_above_input", "provider_error_burst")

MALFORMED_KINDS_JSON = (
    "truncated_json",
    "not_json",
    "negative_tokens",
    "string_for_int",
    "missing_required",
    "bad_billing_mode",
)
# Parquet columns are typed, so only the kinds a typed file can carry apply there.
MALFORMED_KINDS_PARQUET = ("negative_tokens", "missing_required", "bad_billing_mode")
NOT_JSON_LINES = (
    "<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>",
    "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
    "WARN log-shipper: buffer full, dropped 17 events",
    "request_id,created_at,model",
    "Traceback (most recent call last):",
)
REQUIRED_FIELDS = (
    "request_id",
    "created_at",
    "api_key_id",
    "model",
    "provider",
    "billing_mode",
    "status",
    "stream",
    "input_tokens",
    "output_tokens",
    "latency_ms",
)
BAD_BILLING_MODES = ("prepaid", "PAYG", "free_tier", "enterprise")

FORMATS = {
    "jsonl.gz": "jsonl.gz",
    "jsonl": "jsonl",
    "parquet": "parquet",
}  # format -> file extension
GZIP_LEVEL = 1  # speed over size: the files are rewritten often and read once
ENCODE_BATCH_ROWS = 250_000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

# Seed-stream ids, so that e.g. adding malformed lines never changes the valid records.
(
    _STREAM_CATALOGUE,
    _STREAM_COUNT,
    _STREAM_RECORDS,
    _STREAM_DELIVERY,
    _STREAM_MALFORMED,
    _STREAM_SEMANTIC,
    _STREAM_WHO,  # organizations, teams, projects, end users, tags
    _STREAM_MALFORMED_WHO,
    _STREAM_GATEWAY,  # rate-limit bursts, rare auth and client failures, gateway cache hits
) = range(9)

RECORD_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("created_at", pa.string()),
        ("api_key_id", pa.string()),
        ("api_key_name", pa.string()),
        ("model", pa.string()),
        ("provider", pa.string()),
        ("billing_mode", pa.string()),
        ("status", pa.string()),
        ("http_status", pa.int64()),
        ("error_type", pa.string()),
        ("finish_reason", pa.string()),
        ("stream", pa.bool_()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cached_input_tokens", pa.int64()),
        ("cache_write_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("web_search_calls", pa.int64()),
        ("latency_ms", pa.int64()),
        ("first_token_ms", pa.int64()),
        ("cost_usd", pa.float64()),
        ("schema_version", pa.int64()),
        ("organization_id", pa.string()),
        ("organization_name", pa.string()),
        ("team_id", pa.string()),
        ("team_name", pa.string()),
        ("project_id", pa.string()),
        ("project_name", pa.string()),
        ("end_user_id", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("served_from_cache", pa.bool_()),
        ("saved_cache_cost_usd", pa.float64()),
    ]
)
# How a null is written in JSON: optional keys are left out, nullable ones written as null.
_OPTIONAL_KEYS = frozenset(
    {
        "api_key_name",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "cost_usd",
        "organization_id",
        "organization_name",
        "team_id",
        "team_name",
        "project_id",
        "project_name",
        "end_user_id",
        "tags",
        "served_from_cache",
        "saved_cache_cost_usd",
    }
)
_NULLABLE_KEYS = frozenset({"error_type", "finish_reason", "first_token_ms"})
_LINE_OVERRIDE = "_line"  # extra column carrying a pre-broken JSON line for malformed rows


@dataclass
class GenerateSummary:
    """What one `generate_logs` call wrote. lines_written = records + duplicates + malformed."""

    days: list[date]  # event days generated (files may also land on the day after)
    files: list[Path]
    records: int  # distinct valid requests
    lines_written: int  # every line / row written
    duplicates: int  # extra deliveries of a valid record
    late: int  # records whose first delivery is in the next day's folder
    malformed: int  # broken extra lines
    semantic: dict[str, int | str] = field(default_factory=dict)
    seconds: float = 0.0


# --------------------------------------------------------------------------- public API


def generate_logs(
    out_dir: Path,
    start: date,
    days: int,
    requests_per_day: int = 20_000,
    seed: int = 7,
    *,
    fmt: str = "jsonl.gz",
    duplicate_rate: float = 0.0,
    late_rate: float = 0.0,
    malformed_rate: float = 0.0,
    semantic_faults: bool = False,
    files_per_day: int = 1,
) -> GenerateSummary:
    """Write `days` days of gateway logs starting at `start` under `out_dir`; return a summary.

    requests_per_day is the mean over a week; each day's count follows the weekly cycle.
    duplicate_rate / late_rate / malformed_rate are shares of the day's valid records:
    that many records get a second identical delivery (same or next landing day), land in
    the next day's folder, and that many broken extra lines are mixed in. A day folder
    that is written is rewritten whole: part files left in it by an earlier run are
    removed, so re-running never doubles a day.
    """
    began = time.perf_counter()
    out_dir = Path(out_dir)
    start = start.date() if isinstance(start, datetime) else start
    _check_arguments(
        days, requests_per_day, seed, fmt, duplicate_rate, late_rate, malformed_rate, files_per_day
    )

    catalogue = _Catalogue.build()
    cat_rng = _rng(seed, 0, _STREAM_CATALOGUE)
    keys = _Keys.build(catalogue, cat_rng)
    burst_provider = _pick_burst_provider(catalogue, cat_rng)
    who = _Who.build(_rng(seed, 0, _STREAM_WHO))

    summary = GenerateSummary(
        days=[start + timedelta(d) for d in range(days)],
        files=[],
        records=0,
        lines_written=0,
        duplicates=0,
        late=0,
        malformed=0,
    )
    if semantic_faults:
        summary.semantic = {name: 0 for name in SEMANTIC_FAULTS}
        summary.semantic["provider_error_burst_provider"] = burst_provider

    with _Writer(fmt) as writer:
        carry: _Delivery | None = None  # yesterday's records landing today
        for day in summary.days:
            n = _records_for_day(requests_per_day, seed, day)
            cols = _simulate_day(
                catalogue, keys, day, n, _rng(seed, day.toordinal(), _STREAM_RECORDS)
            )
            _draw_gateway(cols, catalogue, _rng(seed, day.toordinal(), _STREAM_GATEWAY))
            if semantic_faults:
                found = _inject_semantic_faults(
                    cols, catalogue, burst_provider, _rng(seed, day.toordinal(), _STREAM_SEMANTIC)
                )
                for name, count in found.items():
                    summary.semantic[name] += count
            _draw_who(cols, who, _rng(seed, day.toordinal(), _STREAM_WHO))
            table = _to_table(cols, catalogue, keys, who)
            plan = _plan_delivery(
                cols, day, duplicate_rate, late_rate, _rng(seed, day.toordinal(), _STREAM_DELIVERY)
            )

            n_malformed = round(malformed_rate * n)
            malformed = _malformed_rows(
                catalogue,
                keys,
                who,
                day,
                n_malformed,
                fmt,
                _rng(seed, day.toordinal(), _STREAM_MALFORMED),
                _rng(seed, day.toordinal(), _STREAM_MALFORMED_WHO),
            )
            today = [_Delivery(table, plan.today_arrival, rows=plan.today_rows), malformed]
            if carry is not None:
                today.append(carry)
            summary.files += writer.write_day(_day_folder(out_dir, day), today, files_per_day)
            carry = _Delivery(
                table.take(plan.next_rows), plan.next_arrival
            )  # small: keep only these

            summary.records += n
            summary.duplicates += plan.duplicates
            summary.late += plan.late
            summary.malformed += n_malformed

        # The last day's late records and next-day duplicates still have to land somewhere.
        if carry is not None and carry.table.num_rows:
            summary.files += writer.write_day(
                _day_folder(out_dir, summary.days[-1] + timedelta(1)), [carry], files_per_day
            )
        summary.lines_written = writer.lines_written

    summary.seconds = time.perf_counter() - began
    return summary


def _check_arguments(
    days: int,
    requests_per_day: int,
    seed: int,
    fmt: str,
    duplicate_rate: float,
    late_rate: float,
    malformed_rate: float,
    files_per_day: int,
) -> None:
    if seed < 0:
        raise ValueError(f"seed={seed}: must be a non-negative integer")
    if fmt not in FORMATS:
        raise ValueError(f"fmt={fmt!r} is not supported; use one of {', '.join(FORMATS)}")
    if days < 1:
        raise ValueError(f"days={days}: generate at least one day")
    if requests_per_day < 1:
        raise ValueError(f"requests_per_day={requests_per_day}: must be at least 1")
    if files_per_day < 1:
        raise ValueError(f"files_per_day={files_per_day}: must be at least 1")
    for name, rate in (
        ("duplicate_rate", duplicate_rate),
        ("late_rate", late_rate),
        ("malformed_rate", malformed_rate),
    ):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name}={rate}: must be a share between 0 and 1")


def _rng(seed: int, day_ordinal: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, day_ordinal, stream]))


def _day_folder(out_dir: Path, day: date) -> Path:
    return out_dir / f"dt={day.isoformat()}"


def _records_for_day(requests_per_day: int, seed: int, day: date) -> int:
    """Weekly cycle times a little day-to-day noise; mean over a week is requests_per_day."""
    noise = _rng(seed, day.toordinal(), _STREAM_COUNT).normal(0.0, 0.03)
    return max(1, round(requests_per_day * WEEKDAY_TRAFFIC[day.weekday()] * (1.0 + noise)))


# --------------------------------------------------------------------------- catalogue & keys


@dataclass
class _Catalogue:
    """The tables above as numpy arrays indexed by model / route / provider number."""

    models: list[str]
    providers: list[str]
    model_weight: np.ndarray
    model_reasoning: np.ndarray
    model_in_median: np.ndarray
    model_out_median: np.ndarray
    model_max_out: np.ndarray
    model_prompt_cap: np.ndarray
    model_prices: np.ndarray  # (models, 4): input, output, cache read, cache write
    route_model: np.ndarray
    route_provider: np.ndarray
    route_cache: np.ndarray  # 0 none, 1 reads, 2 reads and writes
    route_ttft: np.ndarray  # (routes, 2) median, sigma
    route_tps: np.ndarray  # (routes, 2) median, sigma
    model_route_cdf: np.ndarray  # (models, max routes per model)
    model_route_ids: np.ndarray  # (models, max routes per model) -> route number
    provider_error_rate: np.ndarray
    provider_omits: np.ndarray

    @classmethod
    def build(cls) -> _Catalogue:
        models = [m[0] for m in MODELS]
        providers = list(PROVIDERS)
        m = {name: np.array([row[i] for row in MODELS]) for i, name in enumerate(MODEL_FIELDS)}
        r = {name: [row[i] for row in ROUTES] for i, name in enumerate(ROUTE_FIELDS)}
        route_model = np.array([models.index(x) for x in r["model"]])
        width = int(np.bincount(route_model).max())
        shares = np.zeros((len(models), width))
        ids = np.zeros((len(models), width), dtype=np.int64)
        for model in range(len(models)):
            mine = np.flatnonzero(route_model == model)
            if mine.size == 0:
                raise ValueError(f"catalogue: model {models[model]} has no route")
            shares[model, : mine.size] = np.array(r["share"])[mine]
            ids[model, : mine.size] = mine
            ids[model, mine.size :] = mine[-1]
        return cls(
            models=models,
            providers=providers,
            model_weight=m["weight"].astype(float),
            model_reasoning=m["reasoning"].astype(float),
            model_in_median=m["in_median"].astype(float),
            model_out_median=m["out_median"].astype(float),
            model_max_out=m["max_out"].astype(np.int64),
            model_prompt_cap=np.minimum(m["context"], MAX_PROMPT_TOKENS).astype(np.int64),
            model_prices=np.stack(
                [m["p_in"], m["p_out"], m["p_cache_read"], m["p_cache_write"]], 1
            ).astype(float),
            route_model=route_model,
            route_provider=np.array([providers.index(x) for x in r["provider"]]),
            route_cache=np.array([{"": 0, "r": 1, "rw": 2}[x] for x in r["cache"]]),
            route_ttft=np.array([r["ttft_ms"], r["ttft_sigma"]], dtype=float).T,
            route_tps=np.array([r["tps"], r["tps_sigma"]], dtype=float).T,
            model_route_cdf=_row_cdf(shares),
            model_route_ids=ids,
            provider_error_rate=np.array([PROVIDERS[p][0] for p in providers]),
            provider_omits=np.array([PROVIDERS[p][1] for p in providers]),
        )

    def provider_traffic_share(self) -> np.ndarray:
        """Expected share of requests per provider, from model weights and route shares."""
        model_share = self.model_weight / self.model_weight.sum()
        route_share = np.array([row[2] for row in ROUTES]) * model_share[self.route_model]
        return np.bincount(self.route_provider, weights=route_share, minlength=len(self.providers))


@dataclass
class _Keys:
    """The gateway's API keys and each key's habits."""

    ids: list[str]
    names: list[str | None]
    cdf: np.ndarray  # traffic CDF over keys (Zipf-like)
    model_cdf: np.ndarray  # (keys, models) each key's model taste
    subscription: np.ndarray  # bool: key is on a subscription plan
    stream_p: np.ndarray
    web_search_p: np.ndarray
    prompt_scale: np.ndarray  # agents with long contexts vs. short chat prompts

    @classmethod
    def build(cls, cat: _Catalogue, rng: np.random.Generator) -> _Keys:
        weight = 1.0 / np.arange(1, N_KEYS + 1) ** KEY_ZIPF_EXPONENT
        weight /= weight.sum()
        alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
        chars = alphabet[rng.integers(0, alphabet.size, (N_KEYS, 8))]
        ids = ["key_" + row.tobytes().decode() for row in chars]
        stems = rng.integers(0, len(KEY_NAME_STEMS), N_KEYS)
        named = rng.random(N_KEYS) >= 0.08
        names = [
            f"{KEY_NAME_STEMS[s]}-{i + 1}" if keep else None
            for i, (s, keep) in enumerate(zip(stems, named))
        ]

        # A third of the keys are single-purpose and stick to one to three models;
        # the rest follow overall popularity with a taste of their own.
        popularity = cat.model_weight / cat.model_weight.sum()
        taste = popularity * rng.gamma(1.5, 1.0, (N_KEYS, len(cat.models)))
        narrow = rng.random(N_KEYS) < 0.35
        for key in np.flatnonzero(narrow):
            picked = rng.choice(
                len(cat.models), size=rng.integers(1, 4), replace=False, p=popularity
            )
            taste[key] = 0.0
            taste[key, picked] = popularity[picked]

        return cls(
            ids=ids,
            names=names,
            cdf=_cdf(weight),
            model_cdf=_row_cdf(taste),
            subscription=_subscription_keys(weight, rng),
            stream_p=_calibrate(rng.beta(1.2, 0.8, N_KEYS), weight, STREAM_SHARE),
            web_search_p=_calibrate(
                np.where(rng.random(N_KEYS) < 0.3, 0.12, 0.01), weight, WEB_SEARCH_SHARE
            ),
            prompt_scale=rng.lognormal(0.0, 0.5, N_KEYS),
        )


def _subscription_keys(weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Put whole keys on a plan until they carry about SUBSCRIPTION_SHARE of the traffic.

    The five busiest keys stay pay-as-you-go: one of them alone would overshoot the share.
    """
    chosen = np.zeros(weight.size, dtype=bool)
    total = 0.0
    for key in 5 + rng.permutation(weight.size - 5):
        if total + weight[key] <= SUBSCRIPTION_SHARE:
            chosen[key] = True
            total += weight[key]
    return chosen


def _calibrate(p: np.ndarray, weight: np.ndarray, target: float) -> np.ndarray:
    """Shift probabilities on the logit scale so that their traffic-weighted mean is target.

    Keeps each key's habit relative to others while the overall share lands where the
    contract says, whichever keys happen to be the busy ones.
    """
    logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.dot(weight, 1 / (1 + np.exp(-(logit + mid)))) < target:
            lo = mid
        else:
            hi = mid
    return 1 / (1 + np.exp(-(logit + (lo + hi) / 2)))


def _pick_burst_provider(cat: _Catalogue, rng: np.random.Generator) -> str:
    """A provider busy enough that an hour of its traffic is a visible burst."""
    share = cat.provider_traffic_share()
    busy = [p for p, s in zip(cat.providers, share) if s >= 0.05]
    return busy[int(rng.integers(len(busy)))]


# --------------------------------------------------------------------------- sampling helpers


def _cdf(weight: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weight) / np.sum(weight)
    cdf[np.flatnonzero(weight)[-1] :] = 1.0
    return cdf


def _row_cdf(weights: np.ndarray) -> np.ndarray:
    """Per-row CDFs; the tail after each row's last positive weight is exactly 1."""
    cdf = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
    last = _last_positive(weights)
    cdf[np.arange(weights.shape[1])[None, :] >= last[:, None]] = 1.0
    return cdf


def _last_positive(weights: np.ndarray) -> np.ndarray:
    return weights.shape[1] - 1 - np.argmax(weights[:, ::-1] > 0, axis=1)


def _choose(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1)


def _choose_per_row(cdf: np.ndarray, row: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw a column for each record from the CDF of its row, in one searchsorted.

    Rows are laid end to end as row + cdf, so record i searches for row[i] + u[i].
    """
    n_rows, width = cdf.shape
    flat = (cdf + np.arange(n_rows)[:, None]).ravel()
    col = np.searchsorted(flat, row + u, side="right") - row * width
    # row + u can round up to row + 1 when u is within 2**-50 of 1: stay in the row.
    return np.clip(col, 0, _last_positive(np.diff(cdf, axis=1, prepend=0.0))[row])


def _lognormal(
    rng: np.random.Generator, median: np.ndarray, sigma: np.ndarray | float
) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(np.shape(median)))


@dataclass
class _Who:
    """Who spends through each key: its team (and so organization) and project, whether
    it names end users and sends tags, its environment; and the end users' ids."""

    team: np.ndarray  # per key: TEAMS index, -1 = none
    project: np.ndarray  # per key: PROJECTS index, -1 = none
    customer_facing: np.ndarray  # per key: bool
    tagged: np.ndarray  # per key: bool
    cost_center: np.ndarray  # per key: bool, adds its team's cost_center tag
    environment: np.ndarray  # per key: ENVIRONMENTS index
    end_users: list[str]
    end_user_cdf: np.ndarray

    @classmethod
    def build(cls, rng: np.random.Generator) -> _Who:
        team_weight = np.array([t[3] for t in TEAMS], dtype=float)
        team = _choose(_cdf(team_weight), rng.random(N_KEYS))
        team = np.where(rng.random(N_KEYS) < TEAM_KEY_SHARE, team, -1)
        project = np.full(N_KEYS, -1)
        for key in np.flatnonzero(team >= 0):
            mine = [i for i, p in enumerate(PROJECTS) if p[2] == team[key]]
            if mine and rng.random() < PROJECT_KEY_SHARE:
                project[key] = mine[int(rng.integers(len(mine)))]
        alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
        chars = alphabet[rng.integers(0, alphabet.size, (N_END_USERS, 10))]
        weight = 1.0 / np.arange(1, N_END_USERS + 1) ** END_USER_ZIPF_EXPONENT
        return cls(
            team=team,
            project=project,
            customer_facing=rng.random(N_KEYS) < CUSTOMER_FACING_KEY_SHARE,
            tagged=rng.random(N_KEYS) >= UNTAGGED_KEY_SHARE,
            cost_center=rng.random(N_KEYS) < COST_CENTER_KEY_SHARE,
            environment=_choose(_cdf(np.array(list(ENVIRONMENTS.values()))), rng.random(N_KEYS)),
            end_users=["cus_" + row.tobytes().decode() for row in chars],
            end_user_cdf=_cdf(weight / weight.sum()),
        )

    def columns(self, cols: dict) -> dict[str, pa.Array]:
        """The record columns of who spent it, from the codes _draw_who drew."""
        key = cols["key"]
        team, project = self.team[key], self.project[key]
        organization = np.where(team >= 0, np.array([t[2] for t in TEAMS])[team], -1)
        return {
            "organization_id": _labels([o[0] for o in ORGANIZATIONS], organization),
            "organization_name": _labels([o[1] for o in ORGANIZATIONS], organization),
            "team_id": _labels([t[0] for t in TEAMS], team),
            "team_name": _labels([t[1] for t in TEAMS], team),
            "project_id": _labels([p[0] for p in PROJECTS], project),
            "project_name": _labels([p[1] for p in PROJECTS], project),
            "end_user_id": _labels(self.end_users, cols["end_user"]),
            "tags": self._tags(cols),
        }

    def _tags(self, cols: dict) -> pa.Array:
        """env:<environment>, feature:<feature> and, for some keys, cost_center:<n> of
        the team; null for a key that sends none."""
        key = cols["key"]
        vocabulary = (
            [f"env:{e}" for e in ENVIRONMENTS]
            + [f"feature:{f}" for f in FEATURES]
            + [f"cost_center:{100 + 10 * i}" for i in range(len(TEAMS))]
        )
        env_code = self.environment[key]
        feature_code = len(ENVIRONMENTS) + cols["feature"]
        has_cc = self.cost_center[key] & (self.team[key] >= 0)
        cc_code = len(ENVIRONMENTS) + len(FEATURES) + np.maximum(self.team[key], 0)
        tagged = self.tagged[key]
        counts = np.where(tagged, 2 + has_cc, 0)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        codes = np.empty(offsets[-1], dtype=np.int64)
        starts = offsets[:-1][tagged]
        codes[starts] = env_code[tagged]
        codes[starts + 1] = feature_code[tagged]
        with_cc = tagged & has_cc
        codes[offsets[:-1][with_cc] + 2] = cc_code[with_cc]
        values = pa.array(vocabulary, pa.string()).take(pa.array(codes))
        return pa.ListArray.from_arrays(
            pa.array(offsets, pa.int32()), values, mask=pa.array(~tagged)
        )


def _draw_who(cols: dict, who: _Who, rng: np.random.Generator) -> None:
    """Per request: the end user (customer-facing keys, 90% of their requests; a long
    tail) and the feature it was made for."""
    n = cols["key"].size
    named = who.customer_facing[cols["key"]] & (rng.random(n) < 0.9)
    end_user = _choose(who.end_user_cdf, rng.random(n))
    cols["end_user"] = np.where(named, end_user, -1)
    cols["feature"] = _choose(_cdf(np.array(list(FEATURES.values()))), rng.random(n))


# --------------------------------------------------------------------------- one day of records


def _simulate_day(
    cat: _Catalogue, keys: _Keys, day: date, n: int, rng: np.random.Generator
) -> dict:
    """Draw the day's n valid records as numpy columns (dict name -> array), by created_at.

    Rules every record keeps (the ingest contract):
    cached_input_tokens + cache_write_tokens <= input_tokens; reasoning_tokens <= output_tokens;
    errors have output_tokens 0, no finish_reason and no first_token_ms;
    streamed successes have 0 < first_token_ms <= latency_ms, and
    latency_ms = time to first token + output_tokens / tokens-per-second + a little overhead.
    """
    cols = _draw_requests(cat, keys, day, n, rng)
    _draw_outcome(cols, cat, rng)
    _draw_tokens(cols, cat, keys, rng)
    _draw_latency(cols, cat, rng)
    _blank_failures(cols, rng)
    cols["cost_micro"] = _cost_micro_usd(cols, cat)
    return cols


def _draw_requests(
    cat: _Catalogue, keys: _Keys, day: date, n: int, rng: np.random.Generator
) -> dict:
    """When, by whom, to which model and provider; ids and timestamp offsets."""
    hour = _choose(_cdf(np.array(HOURLY_TRAFFIC)), rng.random(n))
    created_ms = np.sort(_epoch_ms(day) + hour * HOUR_MS + rng.integers(0, HOUR_MS, n))
    key = _choose(keys.cdf, rng.random(n))
    model = _choose_per_row(keys.model_cdf, key, rng.random(n))
    route = cat.model_route_ids[model, _choose_per_row(cat.model_route_cdf, model, rng.random(n))]
    offsets = np.array(TIMESTAMP_OFFSETS_MIN)[rng.integers(0, len(TIMESTAMP_OFFSETS_MIN), n)]
    return dict(
        created_ms=created_ms,
        offset_min=np.where(rng.random(n) < OFFSET_SHARE, offsets, 0),
        request_bytes=rng.integers(0, 256, (n, 12), dtype=np.uint8),
        key=key,
        model=model,
        route=route,
        provider=cat.route_provider[route],
        subscription=keys.subscription[key],
        stream=rng.random(n) < keys.stream_p[key],
        web_calls=np.where(
            rng.random(n) < keys.web_search_p[key], np.minimum(rng.geometric(0.55, n), 5), 0
        ).astype(np.int64),
    )


def _draw_outcome(cols: dict, cat: _Catalogue, rng: np.random.Generator) -> None:
    """Success or error: each provider fails at its own rate; errors get a type and status."""
    n = cols["key"].size
    error = rng.random(n) < cat.provider_error_rate[cols["provider"]]
    kind = _choose(_cdf(np.array([spec[0] for spec in ERROR_TYPES.values()])), rng.random(n))
    http_status = np.full(n, 200, dtype=np.int64)
    for code, (_, statuses, _, _, _) in enumerate(ERROR_TYPES.values()):
        mine = error & (kind == code)
        http_status[mine] = np.array(statuses)[rng.integers(0, len(statuses), int(mine.sum()))]
    cols.update(error=error, error_type=np.where(error, kind, -1), http_status=http_status)


def _draw_tokens(cols: dict, cat: _Catalogue, keys: _Keys, rng: np.random.Generator) -> None:
    """Prompt, completion, reasoning and prompt-cache token counts, and the finish reason."""
    model, n = cols["model"], cols["model"].size

    # Prompts: log-normal body with a Pareto tail (pasted documents, long agent contexts);
    # web-search results are fed back to the model as input.
    prompt = _lognormal(rng, cat.model_in_median[model] * keys.prompt_scale[cols["key"]], 1.2)
    tail = rng.random(n) < 0.08
    prompt[tail] *= 1.0 + rng.pareto(1.3, int(tail.sum()))
    prompt += cols["web_calls"] * rng.uniform(800, 3000, n)
    input_tokens = np.clip(np.ceil(prompt), 1, cat.model_prompt_cap[model]).astype(np.int64)

    # Completions: visible text plus hidden reasoning on reasoning requests, capped at max_out.
    visible = np.ceil(_lognormal(rng, cat.model_out_median[model], 1.0))
    reasons = rng.random(n) < cat.model_reasoning[model]
    reasoning = np.where(
        reasons, np.ceil(_lognormal(rng, 2.0 * cat.model_out_median[model], 1.1)), 0.0
    )
    max_out = cat.model_max_out[model]
    output_tokens = np.minimum(visible + reasoning, max_out).astype(np.int64)
    finish = _choose(_cdf(np.array(list(FINISH_REASONS.values()))), rng.random(n))
    finish = np.where(visible + reasoning >= max_out, list(FINISH_REASONS).index("length"), finish)

    # Prompt caching: reads on about half of the long prompts, writes on some of the rest.
    cache_mode = cat.route_cache[cols["route"]]
    cacheable = (cache_mode > 0) & (input_tokens >= MIN_CACHEABLE_PROMPT)
    read = cacheable & (rng.random(n) < 0.55)
    cached = np.where(read, np.floor(input_tokens * rng.uniform(0.35, 0.97, n)), 0).astype(np.int64)
    write = cacheable & (cache_mode == 2) & (rng.random(n) < 0.30)
    cache_write = np.where(
        write, np.floor((input_tokens - cached) * rng.uniform(0.3, 1.0, n)), 0
    ).astype(np.int64)

    # Providers that cannot measure a count leave it out, unless they are "report 0" kind.
    omits = cat.provider_omits[cols["provider"]]
    cols.update(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        finish=finish,
        reasoning=np.minimum(reasoning, output_tokens).astype(np.int64),
        reasoning_known=(cat.model_reasoning[model] > 0) | ~omits,
        cached=cached,
        cache_write=cache_write,
        cache_known=(cache_mode > 0) | ~omits,
    )


def _draw_latency(cols: dict, cat: _Catalogue, rng: np.random.Generator) -> None:
    """Time to first token (queueing, prefill, web searches), then decoding at the route's speed.

    Non-streamed requests pay the same before the body is sent; they only do not report
    first_token_ms.
    """
    route, n = cols["route"], cols["route"].size
    uncached = cols["input_tokens"] - cols["cached"]
    ttft = (
        _lognormal(rng, cat.route_ttft[route, 0], cat.route_ttft[route, 1])
        + uncached / PREFILL_TPS * 1000
        + cols["cached"] / CACHED_PREFILL_TPS * 1000
        + cols["web_calls"] * _lognormal(rng, np.full(n, 900.0), 0.5)
    )
    tps = _lognormal(rng, cat.route_tps[route, 0], cat.route_tps[route, 1])
    first_token = np.maximum(np.ceil(ttft), 1).astype(np.int64)
    decode_ms = np.round(cols["output_tokens"] / tps * 1000).astype(np.int64)
    cols.update(first_token=first_token, latency=first_token + decode_ms + rng.integers(0, 25, n))


def _blank_failures(cols: dict, rng: np.random.Generator) -> None:
    """Failed requests generate nothing; rejections (429, 400) never billed the prompt."""
    error = cols["error"]
    for code, (_, _, billed, median, sigma) in enumerate(ERROR_TYPES.values()):
        mine = error & (cols["error_type"] == code)
        cols["latency"][mine] = np.maximum(
            np.ceil(_lognormal(rng, np.full(int(mine.sum()), float(median)), sigma)), 1
        )
        if not billed:
            cols["input_tokens"][mine] = 0
    for name in ("output_tokens", "reasoning", "cached", "cache_write", "web_calls"):
        cols[name][error] = 0
    cols["finish"] = np.where(error, -1, cols["finish"])


# What a gateway adds to the providers' own failures (error type -> HTTP status), beyond
# the catalogue's error_types: a key used after it was revoked, and clients that hang up.
GATEWAY_ERROR_TYPES = {"invalid_api_key": 401, "client_disconnected": 499}
ERROR_LABELS = [*ERROR_TYPES, *GATEWAY_ERROR_TYPES]
# Of the burst provider's requests in the burst hour: throttled, not down, so the hour stays
# below the hourly provider error-rate warning (0.5; the semantic faults' outage passes it).
RATE_LIMIT_BURST_SHARE = 0.25
GATEWAY_CACHE_HIT_SHARE = 0.04  # of successful requests, answered from the response cache


def _fail(cols: dict, rows: np.ndarray, label: str, status: int, latency_ms, input_billed=False):
    """Turn the requests `rows` into failures of one type: nothing generated or billed."""
    cols["error"][rows] = True
    cols["http_status"][rows] = status
    cols["error_type"][rows] = ERROR_LABELS.index(label)
    cols["finish"][rows] = -1
    cols["latency"][rows] = latency_ms
    if not input_billed:
        cols["input_tokens"][rows] = 0
    for name in ("output_tokens", "reasoning", "cached", "cache_write", "web_calls", "cost_micro"):
        cols[name][rows] = 0


def _draw_gateway(cols: dict, cat: _Catalogue, rng: np.random.Generator) -> None:
    """What a gateway sees besides the providers' own failure rates (own seed stream, so
    the other fields keep their values): a burst of 429s from the day's busiest provider for
    one afternoon hour; a revoked key's few 401s; clients hanging up (499) on a
    few long requests; and the gateway's response cache answering a share of successful
    requests in milliseconds, at no cost, having saved what the call would have cost."""
    n = cols["created_ms"].size
    day_ms = cols["created_ms"] % DAY_MS
    # The day's busiest provider throttles for one afternoon hour.
    provider = int(np.argmax(np.bincount(cols["provider"], minlength=len(cat.providers))))
    window = day_ms // HOUR_MS == int(rng.integers(12, 18))
    ok = ~cols["error"]
    limited = np.flatnonzero(
        ok & window & (cols["provider"] == provider) & (rng.random(n) < RATE_LIMIT_BURST_SHARE)
    )
    _fail(cols, limited, "rate_limited", 429, rng.integers(20, 120, limited.size))

    ok = ~cols["error"]
    revoked = np.flatnonzero(ok & (cols["key"] == rng.integers(0, cols["key"].max() + 1)))
    revoked = revoked[: int(rng.integers(0, 6))]
    _fail(cols, revoked, "invalid_api_key", 401, rng.integers(5, 40, revoked.size))

    ok = ~cols["error"]
    long_ones = np.flatnonzero(ok & (cols["latency"] > 20_000))
    hung_up = _pick(rng, long_ones, int(rng.integers(0, 4)))
    _fail(
        cols, hung_up, "client_disconnected", 499, cols["latency"][hung_up] // 2, input_billed=True
    )

    ok = ~cols["error"]
    hit = ok & (rng.random(n) < GATEWAY_CACHE_HIT_SHARE)
    latency = rng.integers(3, 40, n)
    cols["cache_hit"] = hit
    cols["latency"] = np.where(hit, latency, cols["latency"])
    cols["first_token"] = np.where(hit, np.maximum(latency // 2, 1), cols["first_token"])


def _cost_micro_usd(cols: dict, cat: _Catalogue) -> np.ndarray:
    """List-price cost in micro-dollars (so JSON and Parquet round to the same 6 decimals)."""
    prices = cat.model_prices[cols["model"]]
    uncached = cols["input_tokens"] - cols["cached"] - cols["cache_write"]
    usd = (
        uncached * prices[:, 0]
        + cols["output_tokens"] * prices[:, 1]
        + cols["cached"] * prices[:, 2]
        + cols["cache_write"] * prices[:, 3]
    ) / 1e6
    usd = usd + cols["web_calls"] * WEB_SEARCH_PRICE_USD
    return np.where(cols["error"], 0, np.round(usd * 1e6)).astype(np.int64)


def _epoch_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


# --------------------------------------------------------------------------- semantic faults


def _inject_semantic_faults(
    cols: dict, cat: _Catalogue, burst_provider: str, rng: np.random.Generator
) -> dict[str, int]:
    """Break business rules in a known number of well-typed records; return the counts.

    The three faults touch disjoint records so each count is exact.
    """
    n = cols["created_ms"].size
    per_rule = max(1, round(SEMANTIC_SHARE * n))

    # An outage: every request to one provider during one afternoon hour fails.
    hour = int(rng.integers(12, 18))
    hour_of_day = (cols["created_ms"] % DAY_MS) // HOUR_MS
    burst = (cols["provider"] == cat.providers.index(burst_provider)) & (hour_of_day == hour)
    overloaded = list(ERROR_TYPES).index("overloaded")
    cols["error"][burst] = True
    cols["http_status"][burst] = 503
    cols["error_type"][burst] = overloaded
    cols["finish"][burst] = -1
    cols["latency"][burst] = np.maximum(
        np.ceil(_lognormal(rng, np.full(int(burst.sum()), 400.0), 0.7)), 1
    )
    for name in ("output_tokens", "reasoning", "cached", "cache_write", "web_calls", "cost_micro"):
        cols[name][burst] = 0

    ok = ~cols["error"]
    late_first_token = _pick(rng, np.flatnonzero(ok & cols["stream"]), per_rule)
    overshoot = rng.integers(1, 2000, late_first_token.size)
    cols["first_token"][late_first_token] = cols["latency"][late_first_token] + overshoot

    candidates = ok & cols["cache_known"]
    candidates[late_first_token] = False
    over_cached = _pick(rng, np.flatnonzero(candidates), per_rule)
    cols["cached"][over_cached] = cols["input_tokens"][over_cached] + rng.integers(
        1, 5000, over_cached.size
    )

    return {
        "first_token_after_last_byte": int(late_first_token.size),
        "cached_above_input": int(over_cached.size),
        "provider_error_burst": int(burst.sum()),
    }


def _pick(rng: np.random.Generator, candidates: np.ndarray, k: int) -> np.ndarray:
    return np.sort(rng.choice(candidates, size=min(k, candidates.size), replace=False))


# --------------------------------------------------------------------------- columns -> Arrow


def _to_table(cols: dict, cat: _Catalogue, keys: _Keys, who: _Who) -> pa.Table:
    """Turn the numpy columns into a table with RECORD_SCHEMA (nulls where a field is absent)."""
    n = cols["created_ms"].size
    ok = ~cols["error"]
    first_token_known = ok & cols["stream"]
    # Only a success is served from the cache (a semantic fault may fail one afterwards).
    cache_hit = cols.get("cache_hit", np.zeros(n, dtype=bool)) & ok
    arrays = {
        "request_id": _fixed_width_strings(_request_id_bytes(cols["request_bytes"])),
        "created_at": _rfc3339_ms(cols["created_ms"], cols["offset_min"]),
        "api_key_id": _labels(keys.ids, cols["key"]),
        "api_key_name": _labels(keys.names, cols["key"]),
        "model": _labels(cat.models, cols["model"]),
        "provider": _labels(cat.providers, cols["provider"]),
        "billing_mode": _labels(
            ["pay_as_you_go", "subscription"], cols["subscription"].astype(np.int64)
        ),
        "status": _labels(["success", "error"], cols["error"].astype(np.int64)),
        "http_status": pa.array(cols["http_status"]),
        "error_type": _labels(ERROR_LABELS, cols["error_type"]),
        "finish_reason": _labels(list(FINISH_REASONS), cols["finish"]),
        "stream": pa.array(cols["stream"]),
        "input_tokens": pa.array(cols["input_tokens"]),
        "output_tokens": pa.array(cols["output_tokens"]),
        "cached_input_tokens": pa.array(cols["cached"], mask=~cols["cache_known"]),
        "cache_write_tokens": pa.array(cols["cache_write"], mask=~cols["cache_known"]),
        "reasoning_tokens": pa.array(cols["reasoning"], mask=~cols["reasoning_known"]),
        "web_search_calls": pa.array(cols["web_calls"]),
        "latency_ms": pa.array(cols["latency"]),
        "first_token_ms": pa.array(cols["first_token"], mask=~first_token_known),
        # Subscription usage is covered by the plan, so the gateway prices none of it.
        # A gateway cache hit costs nothing; it saved what the provider call would have.
        "cost_usd": pa.array(
            np.where(cache_hit, 0, cols["cost_micro"]) / 1e6, mask=cols["subscription"]
        ),
        "schema_version": pa.array(np.ones(n, dtype=np.int64)),
        **who.columns(cols),
        "served_from_cache": pa.array(cache_hit, mask=~cache_hit),
        "saved_cache_cost_usd": pa.array(cols["cost_micro"] / 1e6, mask=~cache_hit),
    }
    return pa.Table.from_arrays([arrays[f.name] for f in RECORD_SCHEMA], schema=RECORD_SCHEMA)


def _labels(names: list, codes: np.ndarray) -> pa.Array:
    """Strings by code; code -1 (or a None name) is null."""
    codes = np.asarray(codes, dtype=np.int64)
    return pa.array(names, type=pa.string()).take(pa.array(codes, mask=codes < 0))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _request_id_bytes(raw: np.ndarray) -> np.ndarray:
    """`req_` + 24 lowercase hex digits, as an (n, 28) byte matrix."""
    n = raw.shape[0]
    out = np.empty((n, 28), dtype=np.uint8)
    out[:, :4] = np.frombuffer(b"req_", dtype=np.uint8)
    out[:, 4::2] = _HEX[raw >> 4]
    out[:, 5::2] = _HEX[raw & 15]
    return out


def _rfc3339_ms(created_ms: np.ndarray, offset_min: np.ndarray) -> pa.Array:
    """RFC 3339 with milliseconds: `...Z` in UTC, or local time plus `+hh:mm` for offsets.

    Digits are written straight into a byte matrix: an order of magnitude faster than
    strftime for a day's worth of timestamps.
    """
    local = created_ms + offset_min.astype(np.int64) * 60_000
    day_no, ms = np.divmod(local, DAY_MS)
    days, which = np.unique(day_no, return_inverse=True)
    dates = np.array(
        [list((date(1970, 1, 1) + timedelta(int(d))).isoformat().encode()) for d in days],
        dtype=np.uint8,
    ).reshape(len(days), 10)
    out = np.empty((local.size, 23), dtype=np.uint8)
    out[:, :10] = dates[which.ravel()]
    out[:, 10:] = np.frombuffer(b"T00:00:00.000", dtype=np.uint8)
    hh, rest = np.divmod(ms, HOUR_MS)
    mm, rest = np.divmod(rest, 60_000)
    ss, milli = np.divmod(rest, 1000)
    for pos, value, width in ((11, hh, 2), (14, mm, 2), (17, ss, 2), (20, milli, 3)):
        for digit in range(width):
            out[:, pos + width - 1 - digit] += ((value // 10**digit) % 10).astype(np.uint8)
    suffixes = ["Z"] + [
        f"{'+' if m > 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
        for m in TIMESTAMP_OFFSETS_MIN
    ]
    suffix_code = np.zeros(local.size, dtype=np.int64)
    for code, minutes in enumerate(TIMESTAMP_OFFSETS_MIN, start=1):
        suffix_code[offset_min == minutes] = code
    return pc.binary_join_element_wise(
        _fixed_width_strings(out), _labels(suffixes, suffix_code), ""
    )


def _fixed_width_strings(chars: np.ndarray) -> pa.Array:
    """An Arrow string array over an (n, width) ASCII byte matrix, without a Python loop."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars))
    )


# --------------------------------------------------------------------------- delivery faults


@dataclass
class _Plan:
    """Which of a day's rows land today and which tomorrow, with arrival times for order."""

    today_rows: np.ndarray
    today_arrival: np.ndarray
    next_rows: np.ndarray
    next_arrival: np.ndarray
    duplicates: int
    late: int


@dataclass
class _Delivery:
    """Rows bound for one landing folder, with the time each arrives there (for file order)."""

    table: pa.Table
    arrival_ms: np.ndarray
    rows: np.ndarray | None = None  # row numbers in table, one per arrival_ms entry; None = all

    def row_numbers(self) -> np.ndarray:
        return np.arange(self.table.num_rows) if self.rows is None else self.rows


def _plan_delivery(
    cols: dict, day: date, duplicate_rate: float, late_rate: float, rng: np.random.Generator
) -> _Plan:
    """Choose exactly round(rate * n) late records and duplicated records.

    Late records lean towards the end of the day, where a log shipper's lag pushes them
    past midnight. A duplicate lands with its original or, sometimes, a day later; a
    late record's duplicate lands with it (never two days after created_at). Files list
    records by created_at; a duplicate is re-sent a while after its request finished.
    """
    created, latency = cols["created_ms"], cols["latency"]
    n = created.size
    day_start, next_start = _epoch_ms(day), _epoch_ms(day + timedelta(1))

    n_late = round(late_rate * n)
    late = np.zeros(n, dtype=bool)
    if n_late:
        # Weighted sampling without replacement (Efraimidis-Spirakis): top keys of log(u)/w.
        w = np.exp(3.0 * (created - day_start) / DAY_MS)
        sample_key = np.log(rng.random(n)) / w
        late[np.argpartition(-sample_key, n_late - 1)[:n_late]] = True

    dup = np.sort(rng.choice(n, size=round(duplicate_rate * n), replace=False))
    dup_next = (rng.random(dup.size) < 0.3) | late[dup]
    dup_today = dup[~dup_next]

    on_time = np.flatnonzero(~late)
    today_rows = np.concatenate([on_time, dup_today])
    resent = created[dup_today] + latency[dup_today] + rng.integers(1_000, 900_000, dup_today.size)
    today_arrival = np.concatenate([created[on_time], resent])
    next_rows = np.concatenate([np.flatnonzero(late), dup[dup_next]])
    next_arrival = next_start + rng.integers(0, 6 * HOUR_MS, next_rows.size)
    return _Plan(
        today_rows, today_arrival, next_rows, next_arrival, duplicates=int(dup.size), late=n_late
    )


def _malformed_rows(
    cat: _Catalogue,
    keys: _Keys,
    who: _Who,
    day: date,
    m: int,
    fmt: str,
    rng: np.random.Generator,
    who_rng: np.random.Generator,
) -> _Delivery:
    """m broken extra rows, made from fresh records (own seed stream, so new request ids).

    Every kind appears (almost) equally often. For JSON the broken line travels in the
    _LINE_OVERRIDE column; Parquet rows are broken in their typed columns.
    """
    if m == 0:
        return _Delivery(RECORD_SCHEMA.empty_table(), np.zeros(0, dtype=np.int64))
    cols = _simulate_day(cat, keys, day, m, rng)
    _draw_who(cols, who, who_rng)
    template = _to_table(cols, cat, keys, who)
    arrival = _epoch_ms(day) + rng.integers(0, DAY_MS, m)
    kinds_table = MALFORMED_KINDS_PARQUET if fmt == "parquet" else MALFORMED_KINDS_JSON
    kinds = [kinds_table[i] for i in rng.permutation(np.arange(m) % len(kinds_table))]
    if fmt == "parquet":
        return _Delivery(_break_columns(template, kinds, rng), arrival)
    lines = [line[:-1] for line in _json_lines(template).to_pylist()]
    broken = [_break_line(line, kind, rng) + "\n" for line, kind in zip(lines, kinds)]
    return _Delivery(
        template.append_column(_LINE_OVERRIDE, pa.array(broken, type=pa.string())), arrival
    )


def _break_line(line: str, kind: str, rng: np.random.Generator) -> str:
    """Damage one JSON line (without its newline) the way `kind` says."""
    if kind == "truncated_json":
        return line[: int(rng.integers(8, len(line) - 1))]
    if kind == "not_json":
        return NOT_JSON_LINES[int(rng.integers(len(NOT_JSON_LINES)))]
    if kind == "negative_tokens":
        name = ("input_tokens", "output_tokens")[int(rng.integers(2))]
        return re.sub(
            rf'"{name}":(\d+)', lambda mt: f'"{name}":-{int(mt.group(1)) + 1}', line, count=1
        )
    if kind == "string_for_int":
        name = ("input_tokens", "output_tokens", "latency_ms", "http_status")[int(rng.integers(4))]
        return re.sub(rf'"{name}":(\d+)', rf'"{name}":"\1"', line, count=1)
    if kind == "missing_required":
        name = REQUIRED_FIELDS[int(rng.integers(len(REQUIRED_FIELDS)))]
        return re.sub(rf'"{name}":("[^"]*"|[^,]*),', "", line, count=1)
    if kind == "bad_billing_mode":
        bad = BAD_BILLING_MODES[int(rng.integers(len(BAD_BILLING_MODES)))]
        return re.sub(r'"billing_mode":"[^"]*"', f'"billing_mode":"{bad}"', line, count=1)
    raise ValueError(f"unknown malformed kind {kind!r}")


def _break_columns(table: pa.Table, kinds: list[str], rng: np.random.Generator) -> pa.Table:
    """Parquet flavour of _break_line: negative counts, nulls in required columns, bad enums."""
    kinds_arr = np.array(kinds, dtype=object)
    negative = kinds_arr == "negative_tokens"
    on_input = negative & (rng.random(len(kinds)) < 0.5)
    for name, mask in (("input_tokens", on_input), ("output_tokens", negative & ~on_input)):
        col = table[name]
        table = table.set_column(
            table.schema.get_field_index(name),
            name,
            pc.if_else(pa.array(mask), pc.subtract(pc.negate(col), 1), col),
        )
    missing = np.flatnonzero(kinds_arr == "missing_required")
    drop = rng.integers(0, len(REQUIRED_FIELDS), missing.size)
    for i, name in enumerate(REQUIRED_FIELDS):
        mask = np.zeros(len(kinds), dtype=bool)
        mask[missing[drop == i]] = True
        col = table[name]
        table = table.set_column(
            table.schema.get_field_index(name),
            name,
            pc.if_else(pa.array(mask), pa.scalar(None, col.type), col),
        )
    bad = kinds_arr == "bad_billing_mode"
    bad_values = _labels(
        list(BAD_BILLING_MODES), rng.integers(0, len(BAD_BILLING_MODES), len(kinds))
    )
    idx = table.schema.get_field_index("billing_mode")
    return table.set_column(
        idx, "billing_mode", pc.if_else(pa.array(bad), bad_values, table["billing_mode"])
    )


# --------------------------------------------------------------------------- serialisation


def _json_lines(table: pa.Table) -> pa.ChunkedArray:
    """One JSON object per row, each ending in a newline, built column-wise.

    Optional keys are dropped where null (join skips nulls); nullable keys write null.
    Values are safe to embed unescaped: every string comes from the catalogue or is ASCII
    we generated ourselves.
    """
    parts = []
    for f in RECORD_SCHEMA:
        col = table[f.name]
        key = f'"{f.name}":'
        if pa.types.is_list(f.type):
            # A list of strings that need no escaping (the catalogue's and ours).
            text = pc.binary_join_element_wise(key + '["', pc.binary_join(col, '","'), '"]', "")
        elif pa.types.is_string(f.type):
            text = pc.binary_join_element_wise(key + '"', col, '"', "")
        elif f.name == "cost_usd":
            text = pc.binary_join_element_wise(key, _six_decimals(col), "")
        else:
            text = pc.binary_join_element_wise(key, pc.cast(col, pa.string()), "")
        if f.name in _NULLABLE_KEYS:
            text = pc.coalesce(text, key + "null")
        parts.append(text)
    body = pc.binary_join_element_wise(*parts, ",", null_handling="skip")
    lines = pc.binary_join_element_wise("{", body, "}\n", "")
    if _LINE_OVERRIDE in table.column_names and table[_LINE_OVERRIDE].null_count < table.num_rows:
        lines = pc.coalesce(table[_LINE_OVERRIDE], lines)
    return lines


def _six_decimals(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Always `d.dddddd`: a reader inferring types from a sample never sees an integer."""
    micro = pc.cast(pc.round(pc.multiply(col, 1e6)), pa.int64())
    whole = pc.divide(micro, 1_000_000)
    frac = pc.subtract(micro, pc.multiply(whole, 1_000_000))
    return pc.binary_join_element_wise(
        pc.cast(whole, pa.string()),
        pc.utf8_lpad(pc.cast(frac, pa.string()), width=6, padding="0"),
        ".",
    )


def _string_bytes(arr: pa.Array) -> memoryview:
    """The concatenated characters of a null-free string array, without copying."""
    offsets = np.frombuffer(
        arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4
    )
    return memoryview(arr.buffers()[2])[offsets[0] : offsets[-1]]


class _Writer:
    """Writes landing-day folders in one format and counts the lines.

    JSON batches are compressed and written by one worker thread (zlib releases the GIL),
    so the main thread simulates and encodes the next batch, or the next day, meanwhile.
    One worker keeps every file's writes in order; a short queue bounds the memory.
    """

    MAX_QUEUED_BATCHES = 3

    def __init__(self, fmt: str):
        self.fmt = fmt
        self.ext = FORMATS[fmt]
        self.lines_written = 0
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._queued: deque[Future] = deque()

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc) -> None:
        try:
            while self._queued:
                self._queued.popleft().result()  # re-raises a worker's error here
        finally:
            self._pool.shutdown(wait=True)

    def write_day(
        self, folder: Path, deliveries: list[_Delivery], files_per_day: int
    ) -> list[Path]:
        """Write the day's rows in arrival order, split into at most files_per_day files."""
        folder.mkdir(parents=True, exist_ok=True)
        _clear_parts(folder)
        table = _in_arrival_order(deliveries)
        bounds = np.linspace(0, table.num_rows, files_per_day + 1).round().astype(int)
        paths = []
        for number, (begin, end) in enumerate(
            (b, e) for b, e in zip(bounds[:-1], bounds[1:]) if e > b
        ):
            path = folder / f"part-{number:05d}.{self.ext}"
            part = table.slice(begin, end - begin)
            if self.fmt == "parquet":
                pq.write_table(part.select(RECORD_SCHEMA.names), path, compression="zstd")
            else:
                self._write_json(path, part)
            self.lines_written += part.num_rows
            paths.append(path)
        return paths

    def _write_json(self, path: Path, table: pa.Table) -> None:
        sink = _JsonSink(path, gzip=self.fmt == "jsonl.gz")
        for begin in range(0, table.num_rows, ENCODE_BATCH_ROWS):
            self._queue(
                sink.write, _json_lines(table.slice(begin, ENCODE_BATCH_ROWS)).combine_chunks()
            )
        self._queue(sink.close)

    def _queue(self, task, *args) -> None:
        self._queued.append(self._pool.submit(task, *args))
        while len(self._queued) > self.MAX_QUEUED_BATCHES:
            self._queued.popleft().result()


class _JsonSink:
    """One JSON-lines file; gzip without a timestamp in the header, so bytes are reproducible."""

    def __init__(self, path: Path, gzip: bool):
        self._fh = open(path, "wb")
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if gzip else None

    def write(self, lines: pa.Array) -> None:
        data = _string_bytes(lines)
        self._fh.write(self._compressor.compress(data) if self._compressor else data)

    def close(self) -> None:
        if self._compressor:
            self._fh.write(self._compressor.flush())
        self._fh.close()


def _in_arrival_order(deliveries: list[_Delivery]) -> pa.Table:
    """All rows of a landing day in arrival order, copied once (not at all if already in order).

    A _LINE_OVERRIDE column is kept only if some delivery has one.
    """
    deliveries = [d for d in deliveries if d.table.num_rows]
    with_override = any(_LINE_OVERRIDE in d.table.column_names for d in deliveries)
    tables, numbers, offset = [], [], 0
    for d in deliveries:
        t = d.table
        if with_override and _LINE_OVERRIDE not in t.column_names:
            t = t.append_column(_LINE_OVERRIDE, pa.nulls(t.num_rows, pa.string()))
        tables.append(t)
        numbers.append(d.row_numbers() + offset)
        offset += t.num_rows
    if not tables:
        return RECORD_SCHEMA.empty_table()
    arrival = np.concatenate([d.arrival_ms for d in deliveries])
    order = np.concatenate(numbers)[np.argsort(arrival, kind="stable")]
    combined = pa.concat_tables(tables)  # zero-copy: the tables become chunks
    if order.size == combined.num_rows and np.array_equal(order, np.arange(order.size)):
        return combined
    return combined.take(pa.array(order))


def _clear_parts(folder: Path) -> None:
    """Remove part files a previous run left, in any of the formats this module writes."""
    for path in folder.glob("part-*"):
        if any(path.name.endswith("." + ext) for ext in FORMATS.values()):
            path.unlink()
