"""The budgets file (LLM_USAGE_BUDGETS_FILE, default data_dir/budgets.toml): budgets, the
alert rules' settings and where alerts go, read and checked in one place (docs/alerts.md).

`read_alert_config(settings)` returns None when there is no file (alerts are off), the
checked `AlertConfig` otherwise, and raises `BudgetsFileError` with one line naming the
file, the entry and the key to fix. A mistake stops the alerts only: the caller (the
Dagster asset) logs that line and lets the build succeed.

The scopes a budget may take are derived from the dimensions declaration
(dbt_project.yml `vars: dimensions:`): every party that spends (a filter dimension with a
display name: API key, organization, team, project) and every multi-valued one (tags),
plus `all` for all traffic.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.dimensions import Dimension, load_dimensions
from config.settings import Settings

ALL_TRAFFIC = "all"
PERIODS = ("month", "week", "day")
DEFAULT_THRESHOLDS = (50.0, 80.0, 100.0)
SETTING = "LLM_USAGE_BUDGETS_FILE"


class BudgetsFileError(ValueError):
    """The budgets file cannot be used; the message is one line naming what to fix."""


def scope_dimensions() -> tuple[Dimension, ...]:
    """The dimensions a budget can be scoped to: the parties that spend (filters with a
    display name) and the multi-valued ones (tags), in the declaration's order."""
    return tuple(
        d for d in load_dimensions() if (d.filter and d.name_column) or d.cardinality == "multi"
    )


def scope_kinds() -> tuple[str, ...]:
    return (ALL_TRAFFIC, *(d.name for d in scope_dimensions()))


@dataclass(frozen=True)
class Budget:
    name: str
    scope: str  # "all" or a dimension's name (scope_kinds())
    scope_id: str | None  # the dimension's id ("key:value" or "key" for a tag); None: all
    period: str  # month | week | day
    limit: float
    unit: str  # "usd" or "tokens"
    thresholds: tuple[float, ...]  # percent of the limit, ascending


@dataclass(frozen=True)
class ErrorRateRule:
    enabled: bool = True
    # The latest day's error rate must exceed this multiple of the trailing rate...
    multiple: float = 3.0
    # ... and this floor (a trailing rate of 0 makes any multiple of it 0).
    min_error_rate: float = 0.05
    # A day with fewer requests is not judged (a quiet provider pages nobody), nor one
    # whose trailing days together have fewer (no baseline yet).
    min_requests: int = 50
    trailing_days: int = 7
    by: tuple[str, ...] = ("provider",)


@dataclass(frozen=True)
class HourlyErrorRateRule(ErrorRateRule):
    """The error-rate rule on the latest complete hour, against the trailing days' hours
    pooled: the day rule's keys and defaults but one. An hour holds a 24th of a day's
    traffic, so its minimum sample is lower than the day's."""

    min_requests: int = 20


@dataclass(frozen=True)
class GatewayLimits:
    """The gateway's own spend limits as budgets (LiteLLM's max_budget of a key and of a
    team, carried by its records); off unless turned on."""

    enabled: bool = False
    # LiteLLM's records carry the limit, not the budget_duration it applies over: the
    # period is assumed (docs/alerts.md, "The gateway's own limits").
    period: str = "month"
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS


@dataclass(frozen=True)
class LatencyRule:
    enabled: bool = True
    multiple: float = 2.0
    # Successful (streamed, for first-token) requests a day needs to be judged or to be
    # a trailing day.
    min_requests: int = 50
    trailing_days: int = 7
    figures: tuple[str, ...] = ("p99_latency_ms", "p99_first_token_ms")


@dataclass(frozen=True)
class SpendAnomalyRule:
    enabled: bool = True
    multiple: float = 3.0
    # A day spending less than this (USD) is never an anomaly.
    min_usd: float = 1.0
    trailing_days: int = 7
    by: tuple[str, ...] = ("api_key", "team")


@dataclass(frozen=True)
class AlertConfig:
    path: Path
    budgets: tuple[Budget, ...] = ()
    error_rate: ErrorRateRule = field(default_factory=ErrorRateRule)
    error_rate_hourly: HourlyErrorRateRule = field(default_factory=HourlyErrorRateRule)
    latency: LatencyRule = field(default_factory=LatencyRule)
    spend_anomaly: SpendAnomalyRule = field(default_factory=SpendAnomalyRule)
    gateway_limits: GatewayLimits = field(default_factory=GatewayLimits)
    urls: tuple[str, ...] = ()  # the file's own; see alert_urls()


class _Entry:
    """One table of the file, read key by key; every complaint names it and the file."""

    def __init__(self, path: Path, where: str, table: Any):
        self.path, self.where = path, where
        if not isinstance(table, dict):
            self.fail(f"must be a table, got {table!r}")
        self.table = table

    def fail(self, problem: str, key: str | None = None):
        at = f"{self.where}, key {key!r}" if key else self.where
        raise BudgetsFileError(
            f"budgets file {self.path} ({SETTING}), {at}: {problem}. "
            "Alerts are off until it is fixed (docs/alerts.md)."
        )

    def check_keys(self, allowed: tuple[str, ...]) -> None:
        for key in self.table:
            if key not in allowed:
                self.fail(f"unknown key; the keys are {', '.join(allowed)}", key)

    def get(self, key: str, default: Any = None) -> Any:
        return self.table.get(key, default)

    def number(self, key: str, default: float | None, *, positive: bool = False) -> float:
        value = self.table.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        if not ok or (positive and value <= 0):
            self.fail(f"must be a {'positive' if positive else 'non-negative'} number", key)
        return float(value)

    def whole(self, key: str, default: int) -> int:
        value = self.table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self.fail("must be a whole number of at least 1", key)
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.fail("must be true or false", key)
        return value

    def choices(self, key: str, default: tuple[str, ...], allowed: tuple[str, ...]):
        value = self.table.get(key, list(default))
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(v in allowed for v in value):
            self.fail(f"must be a list of {', '.join(allowed)}", key)
        return tuple(dict.fromkeys(value))

    def thresholds(self) -> tuple[float, ...]:
        raw = self.table.get("thresholds", list(DEFAULT_THRESHOLDS))
        if (
            not isinstance(raw, list)
            or not raw
            or not all(
                isinstance(t, int | float) and not isinstance(t, bool) and t > 0 for t in raw
            )
        ):
            self.fail("must be a list of percentages above 0, such as [50, 80, 100]", "thresholds")
        return tuple(sorted({float(t) for t in raw}))

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.table.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            self.fail("must be a non-empty string", key)
        return value


def _budget(path: Path, number: int, table: Any) -> Budget:
    label = f"[[budget]] #{number}"
    if isinstance(table, dict) and isinstance(table.get("name"), str):
        label += f" ({table['name']!r})"
    entry = _Entry(path, label, table)
    entry.check_keys(("name", "scope", "id", "period", "limit_usd", "limit_tokens", "thresholds"))
    scope = entry.get("scope", ALL_TRAFFIC)
    if scope not in scope_kinds():
        entry.fail(f"must be one of {', '.join(scope_kinds())}; got {scope!r}", "scope")
    scope_id = entry.text("id")
    if scope == ALL_TRAFFIC and scope_id is not None:
        entry.fail("must be left out for scope 'all'", "id")
    if scope != ALL_TRAFFIC and scope_id is None:
        entry.fail(f"is needed: the {scope} the budget is for", "id")
    period = entry.get("period", "month")
    if period not in PERIODS:
        entry.fail(f"must be one of {', '.join(PERIODS)}; got {period!r}", "period")
    limits = [k for k in ("limit_usd", "limit_tokens") if k in entry.table]
    if len(limits) != 1:
        entry.fail("needs exactly one of limit_usd and limit_tokens", limits[1] if limits else None)
    limit = entry.number(limits[0], None, positive=True)
    thresholds = entry.thresholds()
    name = entry.text("name") or (
        "All traffic" if scope_id is None else f"{scope.replace('_', ' ')} {scope_id}"
    )
    return Budget(
        name=name,
        scope=scope,
        scope_id=scope_id,
        period=period,
        limit=limit,
        unit="usd" if limits[0] == "limit_usd" else "tokens",
        thresholds=thresholds,
    )


def parse_alert_config(path: Path, text: str) -> AlertConfig:
    """The file's text, checked (BudgetsFileError names the first mistake)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BudgetsFileError(
            f"budgets file {path} ({SETTING}) is not valid TOML: {error}. "
            "Alerts are off until it is fixed (docs/alerts.md)."
        ) from None
    top = _Entry(path, "the top level", document)
    top.check_keys(("urls", "budget", "gateway_limits", "rules"))
    urls = top.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) and u.strip() for u in urls):
        top.fail("must be a list of apprise URLs (strings)", "urls")
    budgets = top.get("budget", [])
    if not isinstance(budgets, list):
        top.fail("must be written as [[budget]] tables", "budget")
    parsed = tuple(_budget(path, i + 1, b) for i, b in enumerate(budgets))
    names = [b.name for b in parsed]
    for name in names:
        if names.count(name) > 1:
            top.fail(f"two budgets are named {name!r}; give each its own name", "budget")
    rules = _Entry(path, "[rules]", top.get("rules", {}))
    rules.check_keys(("error_rate", "error_rate_hourly", "latency", "spend_anomaly"))
    return AlertConfig(
        path=path,
        budgets=parsed,
        error_rate=_error_rate(_Entry(path, "[rules.error_rate]", rules.get("error_rate", {}))),
        error_rate_hourly=_error_rate(
            _Entry(path, "[rules.error_rate_hourly]", rules.get("error_rate_hourly", {})),
            HourlyErrorRateRule(),
        ),
        latency=_latency(_Entry(path, "[rules.latency]", rules.get("latency", {}))),
        spend_anomaly=_spend_anomaly(
            _Entry(path, "[rules.spend_anomaly]", rules.get("spend_anomaly", {}))
        ),
        gateway_limits=_gateway_limits(
            _Entry(path, "[gateway_limits]", top.get("gateway_limits", {}))
        ),
        urls=tuple(u.strip() for u in urls),
    )


def _gateway_limits(entry: _Entry) -> GatewayLimits:
    d = GatewayLimits()
    entry.check_keys(tuple(GatewayLimits.__dataclass_fields__))
    period = entry.get("period", d.period)
    if period not in PERIODS:
        entry.fail(f"must be one of {', '.join(PERIODS)}; got {period!r}", "period")
    return GatewayLimits(
        enabled=entry.flag("enabled", d.enabled), period=period, thresholds=entry.thresholds()
    )


def _error_rate(entry: _Entry, d: ErrorRateRule | HourlyErrorRateRule = ErrorRateRule()):
    """The day rule's keys, or the hour rule's (the same keys, its own defaults)."""
    entry.check_keys(tuple(type(d).__dataclass_fields__))
    return type(d)(
        enabled=entry.flag("enabled", d.enabled),
        multiple=entry.number("multiple", d.multiple, positive=True),
        min_error_rate=entry.number("min_error_rate", d.min_error_rate),
        min_requests=entry.whole("min_requests", d.min_requests),
        trailing_days=entry.whole("trailing_days", d.trailing_days),
        by=entry.choices("by", d.by, ("provider", "model")),
    )


def _latency(entry: _Entry) -> LatencyRule:
    d = LatencyRule()
    entry.check_keys(tuple(LatencyRule.__dataclass_fields__))
    return LatencyRule(
        enabled=entry.flag("enabled", d.enabled),
        multiple=entry.number("multiple", d.multiple, positive=True),
        min_requests=entry.whole("min_requests", d.min_requests),
        trailing_days=entry.whole("trailing_days", d.trailing_days),
        figures=entry.choices("figures", d.figures, LatencyRule().figures),
    )


def _spend_anomaly(entry: _Entry) -> SpendAnomalyRule:
    d = SpendAnomalyRule()
    entry.check_keys(tuple(SpendAnomalyRule.__dataclass_fields__))
    parties = tuple(x.name for x in scope_dimensions() if x.cardinality != "multi")
    return SpendAnomalyRule(
        enabled=entry.flag("enabled", d.enabled),
        multiple=entry.number("multiple", d.multiple, positive=True),
        min_usd=entry.number("min_usd", d.min_usd),
        trailing_days=entry.whole("trailing_days", d.trailing_days),
        by=entry.choices("by", d.by, parties),
    )


def read_alert_config(settings: Settings) -> AlertConfig | None:
    """The budgets file of these settings, checked; None when there is none."""
    path = settings.budgets_file
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise BudgetsFileError(
            f"budgets file {path} ({SETTING}) cannot be read: {error}. "
            "Alerts are off until it is fixed (docs/alerts.md)."
        ) from None
    return parse_alert_config(path, text)


def alert_urls(settings: Settings, config: AlertConfig | None) -> tuple[str, ...]:
    """Every URL alerts go to: LLM_USAGE_ALERT_URLS, then the file's `urls`, once each."""
    from_env = [u for u in settings.alert_urls.replace(",", " ").split() if u]
    return tuple(dict.fromkeys([*from_env, *(config.urls if config else ())]))
