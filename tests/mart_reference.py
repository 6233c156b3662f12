"""Every mart figure recomputed in pandas from request records (tests/reference.py).

Written from docs/metrics.md, sharing no code with the dbt models: a test
picks the requests of one period and filter, calls the function for a mart, and
compares the mart's row(s) with the result.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from config.dimensions import load_dimensions
from config.settings import Thresholds

MIN_SAMPLE = 20  # dbt var min_sample's default
# The percentiles are sketch-based: within this relative error of the exact nearest-rank
# percentile (docs/metrics.md). The stated bound, not read from the dbt project.
SKETCH_RELATIVE_ERROR = 0.01


def filter_dimensions() -> tuple[str, ...]:
    """The marts' filter columns: the declared dimensions that are filters, in order."""
    return tuple(d.column for d in load_dimensions() if d.filter)


def __getattr__(name: str):
    # DIMENSIONS reads the declaration on first use, not when this module is imported.
    if name == "DIMENSIONS":
        return filter_dimensions()
    raise AttributeError(name)


def held_filter_sets() -> set[frozenset[str]]:
    """The filter combinations docs/metrics.md says every mart holds, each as the set of
    filter columns with a real value: at most one filter with a display name (API key,
    organization, team, project), with any subset of those without one (model,
    provider)."""
    filters = [d for d in load_dimensions() if d.filter]
    parties = [frozenset({d.column}) for d in filters if d.name_column]
    others = [d.column for d in filters if not d.name_column]
    subsets = [frozenset()]
    for column in others:
        subsets += [subset | {column} for subset in subsets]
    return {party | subset for party in [frozenset(), *parties] for subset in subsets}


NONE = "(none)"  # where a request names no id of a dimension, and the tag of no tags
OTHER = "(other)"  # the end users below the top N, as one row
TOP_END_USERS = 20  # dbt var top_end_users's default


def with_dimensions(frame: pd.DataFrame) -> pd.DataFrame:
    """Every declared dimension as docs/metrics.md defines it per request: a missing id
    is '(none)', a missing display name the id, and the tags a list without repeats (in
    order; empty when missing)."""
    out = frame.copy()
    for d in load_dimensions():
        if d.cardinality == "multi":
            values = out[d.column] if d.column in out else pd.Series(None, index=out.index)
            out[d.column] = [
                list(dict.fromkeys(v)) if isinstance(v, (list, tuple, np.ndarray)) else []
                for v in values
            ]
            continue
        ids = out[d.column] if d.column in out else pd.Series(None, index=out.index)
        out[d.column] = ids.where(ids.notna(), NONE).astype(object)
        if d.name_column:
            names = out[d.name_column] if d.name_column in out else pd.Series(None, index=out.index)
            out[d.name_column] = names.where(names.notna(), out[d.column]).astype(object)
    return out


def with_performance_fields(frame: pd.DataFrame) -> pd.DataFrame:
    """Pay-as-you-go requests with success flag, generation_ms, and which performance
    figures each feeds (docs/metrics.md, "Which requests each performance figure leaves
    out"): `in_latency_figures`, `in_first_token_figures`, and `throughput_tps` where the
    request is in the throughput figures (NaN otherwise). The ceilings are the settings'
    defaults, which the tests do not override."""
    thresholds = Thresholds()
    out = with_dimensions(frame[frame["billing_mode"] == "pay_as_you_go"])
    out["is_success"] = out["status"] == "success"
    # A gateway cache hit: a success served from the gateway's response cache (absent =
    # not), in no provider or performance figure (docs/metrics.md, "Gateway cache hits").
    served = (
        out["served_from_cache"] if "served_from_cache" in out else pd.Series(None, index=out.index)
    )
    out["is_gateway_cache_hit"] = out["is_success"] & (served == True)  # noqa: E712 (None is false)
    if "saved_cache_cost_usd" not in out:
        out["saved_cache_cost_usd"] = np.nan
    out["saved_cache_cost_usd"] = out["saved_cache_cost_usd"].astype("float64")
    for column in ("http_status", "error_type"):
        if column not in out:
            out[column] = None
    out["error_class"] = [
        error_class(*values) for values in zip(out["status"], out["http_status"], out["error_type"])
    ]
    reached = ~out["is_gateway_cache_hit"]
    first = out["first_token_ms"] if "first_token_ms" in out else pd.Series(np.nan, index=out.index)
    out["first_token_ms"] = first.astype("float64")
    out["latency_ms"] = out["latency_ms"].astype("float64")
    out["generation_ms"] = np.where(
        out["first_token_ms"].notna(), out["latency_ms"] - out["first_token_ms"], out["latency_ms"]
    )
    latency_in_range = (out["latency_ms"] > 0) & (out["latency_ms"] < thresholds.max_latency_ms)
    out["in_latency_figures"] = out["is_success"] & latency_in_range & reached
    out["in_first_token_figures"] = (
        out["is_success"]
        & out["stream"].astype(bool)
        & out["first_token_ms"].notna()
        & (out["first_token_ms"] <= out["latency_ms"])
        & reached
    )
    defined = out["is_success"] & (out["output_tokens"] > 0) & (out["generation_ms"] > 0)
    throughput = out["output_tokens"] / (out["generation_ms"] / 1000.0)
    kept = defined & latency_in_range & (throughput < thresholds.max_throughput_tps) & reached
    out["throughput_tps"] = np.where(kept, throughput, np.nan)
    return out


# docs/metrics.md, "Error classes": the classes in order, and the rules restated from the
# docs (not read from the dbt macro): words are case-insensitive substrings of error_type.
ERROR_CLASSES = (
    "rate_limited",
    "auth",
    "bad_request",
    "content_filtered",
    "timeout",
    "provider_error",
    "cancelled",
    "other",
)
_WORDS = {
    "content_filtered": (
        "content_filter",
        "contentpolicy",
        "content_policy",
        "safety",
        "moderation",
    ),
    "timeout": ("timeout", "timed_out", "timed out", "deadline"),
    "cancelled": ("cancel", "client_closed", "aborted"),
    "rate_limited": ("ratelimit", "rate_limit", "rate limit", "too_many_requests", "quota"),
    "auth": ("auth", "permission", "forbidden", "unauthorized", "api_key"),
    "bad_request": (
        "badrequest",
        "bad_request",
        "invalid",
        "notfound",
        "not_found",
        "context_length",
        "contextwindow",
        "context_window",
        "unprocessable",
        "too_large",
        "unsupported",
    ),
    "provider_error": (
        "internal",
        "server_error",
        "serviceunavailable",
        "service_unavailable",
        "overloaded",
        "upstream",
        "apiconnection",
        "api_connection",
        "badgateway",
        "bad_gateway",
    ),
}


def error_class(status, http_status, error_type):
    """The class of one request (None for a success), by the documented rules."""
    if status == "success":
        return None
    code = None if http_status is None or pd.isna(http_status) else int(http_status)
    text = "" if error_type is None or (not isinstance(error_type, str)) else error_type.lower()

    def says(name):
        return any(word in text for word in _WORDS[name])

    if says("content_filtered"):
        return "content_filtered"
    if code == 429:
        return "rate_limited"
    if code in (401, 403):
        return "auth"
    if code in (408, 504) or says("timeout"):
        return "timeout"
    if code == 499 or says("cancelled"):
        return "cancelled"
    if code in (400, 404, 413, 422):
        return "bad_request"
    if code is not None and 500 <= code <= 599:
        return "provider_error"
    for name in ("rate_limited", "auth", "bad_request", "provider_error"):
        if says(name):
            return name
    return "other"


def _ratio(part, whole):
    return None if whole == 0 else part / whole


@dataclass(frozen=True)
class Percentile:
    """The exact q-quantile of a sample, for checking a sketch-based figure against.

    nearest_rank is the k-th smallest value, k = ceil(q * n) (1-based): the definition
    the marts' bound is stated for. pandas' default (linear interpolation at position
    (n - 1) * q, 0-based) lies between the (k-1)-th and (k+1)-th smallest values, since
    |(n - 1) q - (k - 1)| < 1; `low` and `high` are those neighbours."""

    nearest_rank: float
    interpolated: float
    low: float
    high: float

    def admits(self, actual: float, error: float = SKETCH_RELATIVE_ERROR) -> bool:
        """Within `error` of the nearest-rank value, and so within `error` of the range
        of the order statistics around pandas' interpolated value."""
        slack = 1e-9  # floating point in the bucket arithmetic
        near = abs(actual - self.nearest_rank) <= (error + slack) * abs(self.nearest_rank)
        around = (1 - error - slack) * self.low <= actual <= (1 + error + slack) * self.high
        return near and around and self.low <= self.interpolated <= self.high


def exact_percentile(values, q: float) -> Percentile | None:
    if isinstance(values, pd.Series) and values.dtype == "float64":
        values = values.to_numpy()  # the reference's own columns: no conversion needed
    else:
        values = pd.Series(values, dtype="float64").to_numpy()
    values = np.sort(values[~np.isnan(values)])
    n = len(values)
    if n == 0:
        return None
    k = max(1, math.ceil(_exact(q) * n))  # exact: no rounding of q * n
    return Percentile(
        nearest_rank=float(values[k - 1]),
        # pandas' default (Series.quantile, linear), which is numpy's on the values
        # without NaN: called directly, not through a Series built per call.
        interpolated=float(np.quantile(values, q)),
        low=float(values[max(k - 2, 0)]),
        high=float(values[min(k, n - 1)]),
    )


@functools.cache
def _exact(q: float) -> Fraction:
    return Fraction(str(q))


def _quantile(series: pd.Series, q: float):
    return exact_percentile(series, q)


def _mean(series: pd.Series):
    series = series.dropna()
    return None if series.empty else float(series.mean())


def _throughput(rows: pd.DataFrame):
    defined = rows["throughput_tps"].notna()  # the columns' rows, not the frame's copy
    return _ratio(
        rows["output_tokens"][defined].sum(), (rows["generation_ms"][defined] / 1000.0).sum()
    )


def _pick(stats: pd.DataFrame, value: str, highest: bool):
    """Name and value of the best candidate by `value` among those with enough
    successful requests; ties by name. (None, None) when none qualifies."""
    eligible = stats[(stats["successful"] >= MIN_SAMPLE) & stats[value].notna()]
    if eligible.empty:
        return None, None
    ordered = eligible.assign(name=eligible.index).sort_values(
        [value, "name"], ascending=[not highest, True]
    )
    return ordered.index[0], float(ordered[value].iloc[0])


# ------------------------------------------------------------------ one filter, one row


def spend(rows):
    """Spend over the requests that have a cost (a missing cost is unknown, not free)."""
    # Column by column: selecting the costed rows of the whole frame copied every column.
    if "cost_usd" in rows:
        costed = rows["cost_usd"].notna()
        cost, tokens = rows["cost_usd"][costed], rows["total_tokens"][costed]
    else:
        cost, tokens = pd.Series([], dtype="float64"), rows["total_tokens"].iloc[0:0]
    total = float(cost.sum())
    return {
        "spend_usd": total,
        "requests_with_cost": len(cost),
        "cost_coverage": _ratio(len(cost), len(rows)),
        "cost_per_million_tokens": _ratio(total * 1_000_000, int(tokens.sum())),
    }


def usage_summary(rows):
    return {
        "total_tokens": int(rows["total_tokens"].sum()),
        "input_tokens": int(rows["input_tokens"].sum()),
        "output_tokens": int(rows["output_tokens"].sum()),
        "requests": len(rows),
        **spend(rows),
    }


def usage_by_token_type(rows):
    return {
        "uncached_input_tokens": int(
            (rows["input_tokens"] - rows["cached_input_tokens"] - rows["cache_write_tokens"]).sum()
        ),
        "cache_read_tokens": int(rows["cached_input_tokens"].sum()),
        "cache_write_tokens": int(rows["cache_write_tokens"].sum()),
        "output_excl_reasoning_tokens": int(
            (rows["output_tokens"] - rows["reasoning_tokens"]).sum()
        ),
        "reasoning_tokens": int(rows["reasoning_tokens"].sum()),
        "total_tokens": int(rows["total_tokens"].sum()),
    }


def web_search_usage(rows):
    searching = rows[rows["web_search_calls"] > 0]
    return {
        "web_search_requests": len(searching),
        "web_search_calls": int(searching["web_search_calls"].sum()),
        "web_search_total_tokens": int(searching["total_tokens"].sum()),
        "requests": len(rows),
        "web_search_request_share": _ratio(len(searching), len(rows)),
    }


def provider_summary(rows):
    reached = rows.assign(
        reached=~rows["is_gateway_cache_hit"],
        served_ok=rows["is_success"] & ~rows["is_gateway_cache_hit"],
    )
    stats = reached.groupby("provider").agg(
        requests=("reached", "sum"),
        tokens=("total_tokens", "sum"),
        successful=("served_ok", "sum"),
    )
    stats["latency"] = rows[rows["in_latency_figures"]].groupby("provider")["latency_ms"].mean()
    ordered = stats.assign(name=stats.index).sort_values(
        ["requests", "tokens", "name"], ascending=[False, False, True]
    )
    primary = ordered.index[0] if ordered["requests"].iloc[0] > 0 else None
    fastest, fastest_latency = _pick(stats, "latency", highest=False)
    served, ok = int(stats["requests"].sum()), int(stats["successful"].sum())
    return {
        "primary_provider": primary,
        "provider_count": int((stats["requests"] > 0).sum()),
        "requests": served,
        "successful_requests": ok,
        "success_rate": _ratio(ok, served),
        "fastest_response_provider": fastest,
        "fastest_response_avg_latency_ms": fastest_latency,
    }


def performance_summary(rows):
    ok = rows[rows["is_success"]]
    timed = rows[rows["in_latency_figures"]]
    served_ok = rows["is_success"] & ~rows["is_gateway_cache_hit"]
    stats = pd.DataFrame({"successful": served_ok.groupby(rows["model"]).sum()})
    stats["latency"] = timed.groupby("model")["latency_ms"].mean()
    stats["throughput"] = pd.Series(
        {model: _throughput(group) for model, group in rows.groupby("model")}, dtype="float64"
    )
    figures = {
        "requests": len(rows),
        "successful_requests": len(ok),
        "avg_latency_ms": _mean(timed["latency_ms"]),
        "avg_throughput_tps": _throughput(rows),
        "median_throughput_tps": _quantile(rows["throughput_tps"], 0.5),
    }
    for prefix, value, highest, value_column in (
        ("fastest_model", "latency", False, "fastest_model_avg_latency_ms"),
        ("slowest_model", "latency", True, "slowest_model_avg_latency_ms"),
        ("highest_throughput_model", "throughput", True, "highest_throughput_tps"),
        ("lowest_throughput_model", "throughput", False, "lowest_throughput_tps"),
    ):
        figures[prefix], figures[value_column] = _pick(stats, value, highest)
    return figures


# ------------------------------------------------- breakdowns: one row per dimension value


SHARE_NAMES = {
    "total_tokens": "token_share",
    "requests": "request_share",
    "spend_usd": "spend_share",
}


def _breakdown(rows, dimension, figures, shares=()):
    out = {value: figures(group) for value, group in rows.groupby(dimension) if len(group)}
    for column in shares:
        whole = sum(row[column] for row in out.values())
        for row in out.values():
            row[SHARE_NAMES[column]] = _ratio(row[column], whole)
    return out


def usage_by_model(rows):
    return _breakdown(rows, "model", usage_summary, shares=("total_tokens", "spend_usd"))


def _key_name(rows):
    """The name the key carried on its latest request (the id where the log gave none)."""
    latest = _latest_position(rows, kind="quicksort")
    name = rows["api_key_name"].iloc[latest] if "api_key_name" in rows else None
    return rows["api_key_id"].iloc[latest] if name is None or pd.isna(name) else name


def _latest(rows, column, fallback):
    """`column` of the latest request (ties: the last in the frame), else `fallback`'s."""
    latest = _latest_position(rows, kind="stable")
    value = rows[column].iloc[latest] if column in rows else None
    return rows[fallback].iloc[latest] if value is None or pd.isna(value) else value


# created_at as written -> its instant (ns since the epoch, UTC): each distinct text is
# parsed once however many groups it is looked up in.
_INSTANTS: dict[str, int] = {}


def _instants(at: pd.Series) -> np.ndarray:
    """created_at as int64 nanoseconds since the epoch (the order of the instants)."""
    if pd.api.types.is_datetime64_any_dtype(at):
        return _nanoseconds(at)
    texts = at.tolist()
    missing = list(dict.fromkeys(t for t in texts if t not in _INSTANTS))
    if missing:
        parsed = pd.to_datetime(pd.Series(missing), utc=True, format="ISO8601")
        _INSTANTS.update(zip(missing, _nanoseconds(parsed).tolist()))
    return np.array([_INSTANTS[t] for t in texts], dtype="int64")


def _nanoseconds(at: pd.Series) -> np.ndarray:
    assert at.notna().all(), "every request has a created_at"
    return np.asarray(at.dt.as_unit("ns").array.asi8)


def _latest_position(rows, kind: str) -> int:
    """The position of the latest request in `rows`: the last in the order
    `rows.sort_values(created_at instant, kind=kind)` gives (the same argsort of the
    same instants), without copying the frame to sort it."""
    return int(np.argsort(_instants(rows["created_at"]), kind=kind)[-1])


def group_dimensions():
    """The group dimensions of mart_usage_by_group: filters with a display name but the
    API key (docs/metrics.md)."""
    return [d for d in load_dimensions() if d.filter and d.name_column and d.name != "api_key"]


def usage_by_group(rows):
    """{(dimension, group_id): figures} over every group dimension."""
    out = {}
    for d in group_dimensions():

        def figures(group, d=d):
            return {"group_name": _latest(group, d.name_column, d.column), **usage_summary(group)}

        by_group = _breakdown(
            rows, d.column, figures, shares=("total_tokens", "requests", "spend_usd")
        )
        out.update({(d.name, group_id): values for group_id, values in by_group.items()})
    return out


def top_end_users(rows, n=TOP_END_USERS):
    """{end_user_id: figures}: the n end users with the most spend (ties: more tokens,
    then id), ranked, and the rest as one row '(other)' with a NULL rank."""
    per_user = {
        user: {**usage_summary(group), "end_users": 1}
        for user, group in rows.groupby("end_user_id")
    }
    order = sorted(
        per_user, key=lambda u: (-per_user[u]["spend_usd"], -per_user[u]["total_tokens"], u)
    )
    out = {}
    for rank, user in enumerate(order[:n], start=1):
        out[user] = {**per_user[user], "spend_rank": rank}
    rest = rows[rows["end_user_id"].isin(order[n:])]
    if len(rest):
        out[OTHER] = {**usage_summary(rest), "end_users": len(order) - n, "spend_rank": None}
    whole = usage_summary(rows)
    for row in out.values():
        for column, share in SHARE_NAMES.items():
            row[share] = _ratio(row[column], whole[column])
    return out


def _split_tag(tag):
    key, colon, value = tag.partition(":")
    return key, (value if colon else None)


def usage_by_tag(rows):
    """{(tag_key, tag_value, untagged): figures}. A request counts under each of its
    tags; one without tags under '(none)'; per key (but '(none)') the requests carrying
    no tag of it, when there are any."""
    whole = usage_summary(rows)
    exploded = rows.assign(tag=[tags if len(tags) else [NONE] for tags in rows["tags"]]).explode(
        "tag"
    )
    split = [_split_tag(tag) for tag in exploded["tag"]]
    exploded["tag_key"] = [key for key, _ in split]
    exploded["tag_value"] = [value for _, value in split]

    def figures(group):
        summary = usage_summary(group)
        return {
            "total_tokens": summary["total_tokens"],
            "input_tokens": summary["input_tokens"],
            "output_tokens": summary["output_tokens"],
            "requests": summary["requests"],
            "spend_usd": summary["spend_usd"],
            "requests_with_cost": summary["requests_with_cost"],
            "request_share": _ratio(summary["requests"], whole["requests"]),
            "token_share": _ratio(summary["total_tokens"], whole["total_tokens"]),
        }

    out = {}
    pairs = list(zip(exploded["tag_key"], exploded["tag_value"]))
    for pair in dict.fromkeys(pairs):
        out[(*pair, False)] = figures(exploded[np.array([p == pair for p in pairs])])
    for key in set(exploded["tag_key"]) - {NONE}:
        carrying = {
            i for i, tags in rows["tags"].items() if any(_split_tag(t)[0] == key for t in tags)
        }
        without = rows[~rows.index.isin(carrying)]
        if len(without):
            out[(key, None, True)] = figures(without)
    return out


def usage_by_api_key(rows):
    def figures(group):
        return {"api_key_name": _key_name(group), **usage_summary(group)}

    return _breakdown(rows, "api_key_id", figures, shares=("total_tokens", "requests", "spend_usd"))


def provider_distribution(rows):
    def figures(group):
        hits = int(group["is_gateway_cache_hit"].sum())
        served = len(group) - hits
        ok = int(group["is_success"].sum()) - hits
        return {
            "total_tokens": int(group["total_tokens"].sum()),
            "requests": served,
            "successful_requests": ok,
            "success_rate": _ratio(ok, served),
            **spend(group),
            "gateway_cache_hits": hits,
        }

    return _breakdown(rows, "provider", figures, shares=("total_tokens", "requests", "spend_usd"))


def latency_by_model(rows):
    def figures(group):
        return {
            "successful_requests": len(group),
            "avg_latency_ms": _mean(group["latency_ms"]),
            "p50_latency_ms": _quantile(group["latency_ms"], 0.5),
            "p90_latency_ms": _quantile(group["latency_ms"], 0.9),
            "p99_latency_ms": _quantile(group["latency_ms"], 0.99),
        }

    return _breakdown(rows[rows["in_latency_figures"]], "model", figures)


def first_token_latency_by_model(rows):
    streamed = rows[rows["in_first_token_figures"]]

    def figures(group):
        return {
            "streaming_requests": len(group),
            "avg_first_token_ms": _mean(group["first_token_ms"]),
            "p50_first_token_ms": _quantile(group["first_token_ms"], 0.5),
            "p90_first_token_ms": _quantile(group["first_token_ms"], 0.9),
            "p99_first_token_ms": _quantile(group["first_token_ms"], 0.99),
        }

    return _breakdown(streamed, "model", figures)


def throughput_by_model(rows):
    defined = rows[rows["throughput_tps"].notna()]

    def figures(group):
        return {
            "throughput_requests": len(group),
            "avg_throughput_tps": _throughput(group),
            "p50_throughput_tps": _quantile(group["throughput_tps"], 0.5),
            "p90_throughput_tps": _quantile(group["throughput_tps"], 0.9),
        }

    return _breakdown(defined, "model", figures)


def errors(rows):
    """mart_errors: failures by class, over the requests of the filter."""
    failed = rows[~rows["is_success"]]
    hits = int(rows["is_gateway_cache_hit"].sum())
    figures = {
        "requests": len(rows),
        "provider_requests": len(rows) - hits,
        "unsuccessful_requests": len(failed),
        "error_rate": _ratio(len(failed), len(rows) - hits),
    }
    for name in ERROR_CLASSES:
        figures[f"{name}_errors"] = int((failed["error_class"] == name).sum())
    return figures


def cache_usage(rows):
    """mart_cache_usage: gateway cache hits, and prompt caching over the requests that
    reached a provider."""
    hit = rows["is_gateway_cache_hit"]
    reached = rows[~hit]
    cached = reached["cached_input_tokens"]
    saved = rows.loc[hit, "saved_cache_cost_usd"]
    return {
        "requests": len(rows),
        "gateway_cache_hits": int(hit.sum()),
        "saved_cache_cost_usd": float(saved.fillna(0).sum()),
        "gateway_cache_hits_with_saved_cost": int(saved.notna().sum()),
        "provider_requests": len(reached),
        "cache_read_requests": int((cached > 0).sum()),
        "input_tokens": int(reached["input_tokens"].sum()),
        "cache_read_tokens": int(cached.sum()),
        "cache_write_tokens": int(reached["cache_write_tokens"].sum()),
        "gateway_cache_hit_share": _ratio(int(hit.sum()), len(rows)),
        "cache_read_request_rate": _ratio(int((cached > 0).sum()), len(reached)),
        "cache_read_token_rate": _ratio(int(cached.sum()), int(reached["input_tokens"].sum())),
    }


TOP_ERROR_TYPES = 10  # dbt var top_error_types's default


def top_error_types(rows, n=TOP_ERROR_TYPES):
    """{(error_class, error_type): figures}: the n types with the most failures (ties:
    class, then type), ranked, and the rest as one row (None, '(other)') with a NULL
    rank; a failure without a type is '(none)'."""
    failed = rows[~rows["is_success"]]
    types = failed["error_type"].where(failed["error_type"].notna(), NONE)
    counts = failed.assign(error_type=types).groupby(["error_class", "error_type"]).size()
    order = sorted(counts.index, key=lambda k: (-counts[k], k[0], k[1]))
    out = {}
    for rank, key in enumerate(order[:n], start=1):
        out[key] = {"errors": int(counts[key]), "error_types": 1, "error_rank": rank}
    if len(order) > n:
        out[(None, OTHER)] = {
            "errors": int(sum(counts[k] for k in order[n:])),
            "error_types": len(order) - n,
            "error_rank": None,
        }
    for row in out.values():
        row["error_share"] = _ratio(row["errors"], len(failed))
    return out


# ------------------------------------------------------------------------- the hour grain


def with_local_hours(frame: pd.DataFrame, zone: str) -> pd.DataFrame:
    """Each request's local hour in `zone` (docs/metrics.md, "Hours"): `hour_label`, the
    local wall-clock time its hour begins at; `utc_offset_minutes`, the zone's offset at
    the request (from zoneinfo, per instant); `hour_start`, the UTC instant that hour
    begins, the label less the offset. The repeated hour of a day clocks go back has one
    label and two offsets, so two instants; a zone half or three quarters of an hour off
    UTC begins its hours at :30 or :15 UTC."""
    out = frame.copy()
    created = pd.to_datetime(out["created_at"], utc=True, format="ISO8601")
    local = created.dt.tz_convert(zone)
    out["hour_label"] = local.dt.tz_localize(None).dt.floor("h")
    # The offset at each instant: the local wall clock less UTC's, in whole seconds, then
    # floored to minutes (as utcoffset().total_seconds() // 60 per request would).
    wall = local.dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype("int64")
    utc = created.dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype("int64")
    out["utc_offset_minutes"] = ((wall - utc) // 60).tolist()
    out["hour_start"] = (
        out["hour_label"] - pd.to_timedelta(out["utc_offset_minutes"], unit="min")
    ).dt.tz_localize("UTC")
    out["event_date"] = local.dt.tz_localize(None).dt.normalize()
    return out


def usage_by_hour(rows):
    """mart_usage_by_hour's figures for one hour and filter."""
    ok = int(rows["is_success"].sum())
    return {
        **usage_summary(rows),
        **{k: v for k, v in usage_by_token_type(rows).items() if k != "total_tokens"},
        "successful_requests": ok,
        "success_rate": _ratio(ok, len(rows)),
        "error_rate": _ratio(len(rows) - ok, len(rows)),
        "avg_latency_ms": _mean(rows["latency_ms"][rows["in_latency_figures"]]),
        "avg_throughput_tps": _throughput(rows),
    }


def latency_by_hour(rows):
    """mart_latency_by_hour's figures for one hour and filter: the exact means and the
    exact nearest-rank percentiles the sketch-based ones must lie within 1% of."""
    figures = {}
    for measure, population in (
        ("latency_ms", "in_latency_figures"),
        ("first_token_ms", "in_first_token_figures"),
    ):
        values = rows[measure][rows[population]]
        figures[f"{measure}_requests"] = len(values)
        figures[f"avg_{measure}"] = _mean(values)
        for q in (0.5, 0.9, 0.99):
            figures[f"p{round(q * 100)}_{measure}"] = _quantile(values, q)
    return figures


def _timed(rows):
    """The requests in a latency or first-token figure: an hour without any has no row."""
    return rows[rows["in_latency_figures"] | rows["in_first_token_figures"]]


# The marts of the hour grain: mart -> (reference function of one hour and filter, the
# requests whose hours have rows, None for all). compare_hours compares them.
HOURLY_MARTS = {
    "mart_usage_by_hour": (usage_by_hour, None),
    "mart_latency_by_hour": (latency_by_hour, _timed),
}


def compare_hours(
    mart: pd.DataFrame, rows: pd.DataFrame, filters: list[dict], name: str = "mart_usage_by_hour"
) -> int:
    """An hourly mart (`mart`: its rows) against its reference (HOURLY_MARTS[name]) over
    `rows` (requests with_performance_fields and with_local_hours) for each filter
    ({column: value}, the others '*'): every hour with requests has exactly one row, with
    the reference's local label, offset and day and figures, and no other hour has one.
    Returns how many figures it compared."""
    figures, population = HOURLY_MARTS[name]
    rows = population(rows) if population else rows
    mart = mart.copy()
    mart["period_start"] = pd.to_datetime(mart["period_start"], utc=True)
    compared = 0
    for chosen in filters:
        got = mart
        for column in filter_dimensions():
            got = got[got[column] == chosen.get(column, "*")]
        got = got.set_index("period_start")
        assert got.index.is_unique, chosen
        in_filter = select(rows, **chosen)
        assert set(got.index) == set(in_filter["hour_start"]), chosen
        for hour, in_hour in in_filter.groupby("hour_start"):
            row, first = got.loc[hour], in_hour.iloc[0]
            assert pd.Timestamp(row["hour_label"]) == first["hour_label"], (chosen, hour)
            assert row["utc_offset_minutes"] == first["utc_offset_minutes"], (chosen, hour)
            assert pd.Timestamp(row["event_date"]) == first["event_date"], (chosen, hour)
            for column, value in figures(in_hour).items():
                assert same(row[column], value), (chosen, hour, column, row[column], value)
                compared += 1
    return compared


# mart -> (reference function, breakdown dimension or None)
MARTS = {
    "mart_usage_summary": (usage_summary, None),
    "mart_usage_by_token_type": (usage_by_token_type, None),
    "mart_web_search_usage": (web_search_usage, None),
    "mart_provider_summary": (provider_summary, None),
    "mart_performance_summary": (performance_summary, None),
    "mart_usage_by_model": (usage_by_model, "model"),
    "mart_usage_by_api_key": (usage_by_api_key, "api_key_id"),
    "mart_provider_distribution": (provider_distribution, "provider"),
    "mart_latency_by_model": (latency_by_model, "model"),
    "mart_first_token_latency_by_model": (first_token_latency_by_model, "model"),
    "mart_throughput_by_model": (throughput_by_model, "model"),
    "mart_errors": (errors, None),
    "mart_cache_usage": (cache_usage, None),
}


# The marts of high-cardinality and multi-valued dimensions and of the group dimensions:
# mart -> (reference function, the columns that key a row within a period and filter).
# Their filters are model and provider (docs/metrics.md); the others are '*'.
BREAKDOWN_MARTS = {
    "mart_usage_by_group": (usage_by_group, ("dimension", "group_id")),
    "mart_top_end_users": (top_end_users, ("end_user_id",)),
    "mart_usage_by_tag": (usage_by_tag, ("tag_key", "tag_value", "untagged")),
    "mart_top_error_types": (top_error_types, ("error_class", "error_type")),
}


def select(rows: pd.DataFrame, *values: str, **chosen: str) -> pd.DataFrame:
    """The requests one filter combination covers: values by position in the order of
    filter_dimensions() or by column name; a filter not given, or '*', is all."""
    chosen = {**dict(zip(filter_dimensions(), values)), **chosen}
    keep = pd.Series(True, index=rows.index)
    for column, value in chosen.items():
        if value != "*":
            keep &= rows[column] == value
    return rows[keep]


def same(actual, expected) -> bool:
    """Integers and names exactly, reals to 1e-9 relative, percentiles within the
    sketch's bound (Percentile.admits), NULL only where expected."""
    if isinstance(expected, Percentile):
        return actual is not None and not np.isnan(float(actual)) and expected.admits(float(actual))
    if expected is None or (isinstance(expected, float) and np.isnan(expected)):
        return actual is None or (isinstance(actual, float) and np.isnan(actual))
    if actual is None or (isinstance(actual, float) and np.isnan(actual)):
        return False
    if isinstance(expected, str):
        return actual == expected
    if isinstance(expected, (int, np.integer)) and not isinstance(expected, bool):
        return float(actual).is_integer() and int(actual) == int(expected)
    return bool(np.isclose(float(actual), float(expected), rtol=1e-9, atol=0.0))
