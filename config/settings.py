"""Every setting of the warehouse, read once from the environment into one typed object.

`Settings.from_env()` reads the environment with pydantic-settings and validates every
value here, once: paths, the DuckDB limits, the reporting and nightly time zones (IANA
names), the nightly hour and minute, the first partition, and the data-quality
thresholds. A value the warehouse cannot use raises `SettingsError` with one line that
names the variable, which the CLI prints as it is.

Every path has a working default relative to the current directory, so the project runs
from the repo root with no configuration at all. One data directory holds everything;
each part can be moved on its own:

| variable                       | default                              |
|--------------------------------|--------------------------------------|
| LLM_USAGE_DATA_DIR             | ./data                               |
| LLM_USAGE_LANDING_DIR          | $LLM_USAGE_DATA_DIR/landing          |
| LLM_USAGE_WAREHOUSE            | $LLM_USAGE_DATA_DIR/warehouse.duckdb |
| DAGSTER_HOME                   | $LLM_USAGE_DATA_DIR/dagster_home     |
| LLM_USAGE_REPORTING_TIMEZONE   | UTC                                  |
| LLM_USAGE_DUCKDB_MEMORY_LIMIT  | 4GB                                  |
| LLM_USAGE_DUCKDB_THREADS       | number of cores                      |
| LLM_USAGE_WRITE_WAIT_SECONDS   | 60                                   |
| LLM_USAGE_READ_WAIT_SECONDS    | 10                                   |
| LLM_USAGE_FIRST_LANDING_DAY    | 2024-01-01                           |
| LLM_USAGE_NIGHTLY_HOUR         | 2                                    |
| LLM_USAGE_NIGHTLY_MINUTE       | 0                                    |
| LLM_USAGE_NIGHTLY_TIMEZONE     | UTC                                  |
| LLM_USAGE_DQ_<THRESHOLD>       | see `Thresholds`                     |
| LLM_USAGE_ENGINE               | duckdb (or spark)                    |
| LLM_USAGE_LAKE_DIR             | $LLM_USAGE_DATA_DIR/lake (spark)     |
| LLM_USAGE_SPARK_MASTER         | local[number of cores] (spark)       |
| LLM_USAGE_SPARK_DRIVER_MEMORY  | 4g (spark)                           |
| LLM_USAGE_SPARK_SHUFFLE_PARTITIONS | 8 (spark)                        |
| LLM_USAGE_BUDGETS_FILE         | $LLM_USAGE_DATA_DIR/budgets.toml     |
| LLM_USAGE_ALERT_URLS           | none (apprise URLs, space/comma separated) |
| LLM_USAGE_PAGE_URL             | none (the page's address, for alert messages) |

An empty variable counts as unset, as it always has. With LLM_USAGE_ENGINE=spark the raw
tables are Parquet under the lake directory and dbt builds on Spark (docs/scaling.md);
DuckDB stays the default.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars


class SettingsError(ValueError):
    """A setting in the environment has a value the warehouse cannot use."""


# ------------------------------------------------------------------- value checks
# Each raises _Invalid with the part of the one-line error after "VARIABLE='value' ";
# `_one_line` puts the variable and the value in front.


class _Invalid(ValueError):
    """A value a setting cannot take; the message says what it must be."""


def _iana_zone(value: Any) -> str:
    text = str(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid(
            "is not an IANA time zone name; use one such as 'UTC', 'Asia/Shanghai' or "
            "'America/New_York'.",
        ) from None
    return text


def _whole_number(ok: Callable[[int], bool], expected: str):
    """A parser of digits whose number `ok` accepts; otherwise it "must be <expected>"."""

    def check(value: Any) -> int:
        text = str(value).strip()
        if not text.isdigit() or not ok(int(text)):
            raise _Invalid(f"must be {expected}.")
        return int(text)

    return check


def _iso_day(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise _Invalid("must be a day as YYYY-MM-DD.") from None


ENGINES = ("duckdb", "spark")


def _engine(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ENGINES:
        raise _Invalid(
            "is not an engine the warehouse runs on; use 'duckdb' (the default) or 'spark'."
        )
    return text


IanaZone = Annotated[str, BeforeValidator(_iana_zone)]
Engine = Annotated[str, BeforeValidator(_engine)]
Hour = Annotated[
    int, BeforeValidator(_whole_number(lambda n: n < 24, "a whole number from 0 to 23"))
]
Minute = Annotated[
    int, BeforeValidator(_whole_number(lambda n: n < 60, "a whole number from 0 to 59"))
]
Threads = Annotated[
    int, BeforeValidator(_whole_number(lambda n: n >= 1, "a positive whole number"))
]
Seconds = Annotated[
    int, BeforeValidator(_whole_number(lambda n: True, "a whole number of seconds (0 or more)"))
]
Day = Annotated[date, BeforeValidator(_iso_day)]


def _non_negative(kind: type):
    def check(value: Any):
        try:
            number = kind(str(value).strip()) if isinstance(value, str) else kind(value)
        except (TypeError, ValueError):
            number = -1
        if number < 0:
            raise _Invalid(f"must be a non-negative {'whole number' if kind is int else 'number'}.")
        return number

    return check


Count = Annotated[int, BeforeValidator(_non_negative(int))]
Amount = Annotated[float, BeforeValidator(_non_negative(float))]


# ---------------------------------------------------------------------- thresholds

THRESHOLD_PREFIX = "LLM_USAGE_DQ_"


class Thresholds(BaseModel):
    """Limits of the data-quality checks (quality/rules.py); see the table in README.md.

    Each is overridden by `LLM_USAGE_DQ_<FIELD>` (upper case) through `Settings`;
    `Thresholds()` alone is the defaults.
    """

    model_config = ConfigDict(frozen=True)

    # Largest output_tokens believable for one request (the biggest model cap is 128k).
    max_output_tokens: Count = 200_000
    # latency_ms must be below this; gateways time requests out well before an hour.
    max_latency_ms: Amount = 3_600_000.0
    # output tokens per second of generation; the fastest routes stay near 1,000.
    max_throughput_tps: Amount = 5_000.0
    # A record may arrive this many days after its created_at (late delivery).
    allowed_lateness_days: Count = 2
    # Error rate of one provider within one hour; an outage drives it towards 1.
    max_provider_error_rate: Amount = 0.5
    # Provider-hours and models with fewer requests than this are not judged.
    min_requests: Count = 20
    # Share of streamed successful requests that lack first_token_ms.
    max_first_token_null_share: Amount = 0.05
    # Share of a landing day's records that may break blocking record-level rules before
    # the whole day is held (a systemic fault: a gateway writing every latency in
    # seconds). Below it, the failing records are quarantined and the rest loads.
    max_failing_record_share: Amount = 0.01
    # A model's mean latency may be at most this multiple of its trailing mean.
    max_latency_ratio_to_trailing: Amount = 2.0
    # How many earlier landing days make up "the trailing days".
    trailing_days: Count = 7
    # How many example rows a failed check shows.
    examples: Count = 5

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Thresholds:
        """The thresholds with the environment's overrides (all settings are checked)."""
        return Settings.from_env(environ).thresholds


# ------------------------------------------------------------------------ settings

# The environment `Settings.from_env` reads: os.environ, or the mapping a caller (a test,
# a benchmark) hands in. A context variable, as pydantic-settings builds its sources
# from the class, not from arguments.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("llm_usage_environ", default=None)


def _environ() -> Mapping[str, str]:
    environ = _ENVIRON.get()
    return os.environ if environ is None else environ


class _EnvironSource(EnvSettingsSource):
    """pydantic-settings' environment source over `_environ()` instead of os.environ."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            _environ(), self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class _ThresholdsSource(PydanticBaseSettingsSource):
    """LLM_USAGE_DQ_<FIELD> variables as the fields of `Settings.thresholds`."""

    def get_field_value(self, field, field_name):  # pragma: no cover - __call__ does it all
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        environ = {key.upper(): value for key, value in _environ().items()}
        found = {
            name: environ[THRESHOLD_PREFIX + name.upper()]
            for name in Thresholds.model_fields
            if environ.get(THRESHOLD_PREFIX + name.upper())
        }
        return {"thresholds": found} if found else {}


class Settings(BaseSettings):
    """The warehouse's settings. Build with `Settings.from_env()` (one-line errors)."""

    model_config = SettingsConfigDict(
        env_prefix="LLM_USAGE_",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    data_dir: Path = Path("data")
    # None: under data_dir (resolved when the settings are read).
    landing_dir: Path | None = None
    warehouse_path: Path | None = Field(
        None, validation_alias=AliasChoices("LLM_USAGE_WAREHOUSE", "warehouse_path")
    )
    # Dagster's own variable, not an LLM_USAGE_ one: Dagster reads it too.
    dagster_home: Path | None = Field(
        None, validation_alias=AliasChoices("DAGSTER_HOME", "dagster_home")
    )
    reporting_timezone: IanaZone = "UTC"
    duckdb_memory_limit: str = "4GB"
    duckdb_threads: Threads = Field(default_factory=lambda: os.cpu_count() or 1)
    # How long a run's ingest, holds and checks wait for another process (a reader, or a
    # run outside Dagster's pool) to let go of the warehouse before failing with one line.
    write_wait_seconds: Seconds = 60
    # How long a reader (`llm-usage sql`, `report`, `list`) waits for a run writing the
    # warehouse to finish before saying so in one line.
    read_wait_seconds: Seconds = 10
    # The first landing day the Dagster UI offers as a partition; older days can still be
    # loaded by moving this back.
    first_landing_day: Day = date(2024, 1, 1)
    # When the nightly schedule fires, in nightly_timezone.
    nightly_hour: Hour = 2
    nightly_minute: Minute = 0
    nightly_timezone: IanaZone = "UTC"
    thresholds: Thresholds = Thresholds()
    # The engine the pipeline runs on (docs/scaling.md). On Spark the raw tables are
    # Parquet under lake_dir (None: data_dir/lake), beside Spark's own tables; dbt's
    # profiles.yml reads the spark_ settings for its local session.
    engine: Engine = "duckdb"
    lake_dir: Path | None = None
    spark_master: str = Field(default_factory=lambda: f"local[{os.cpu_count() or 1}]")
    spark_driver_memory: str = "4g"
    # A landing day is thousands to millions of rows: Spark's default of 200 shuffle
    # partitions would be mostly empty tasks on one machine.
    spark_shuffle_partitions: Threads = 8
    # Files the warehouse writes for other tools (the FOCUS dataset: docs/exports.md);
    # None: data_dir/exports.
    exports_dir: Path | None = None
    # The FOCUS dataset's BillingAccountId: the account the LLM spend is billed to.
    focus_billing_account: str = "llm-gateway"
    # Budgets and alert rules (docs/alerts.md); None: data_dir/budgets.toml. No file: no
    # alerts are evaluated.
    budgets_file: Path | None = None
    # Where alerts are sent: apprise URLs (json://, slack://, mailto://, ...), separated
    # by spaces or commas, in addition to the budgets file's `urls`.
    alert_urls: str = ""
    # The page's address as people reach it; alert messages link to it when set.
    page_url: str = ""

    @property
    def on_spark(self) -> bool:
        return self.engine == "spark"

    def model_post_init(self, context: Any) -> None:
        # Paths are absolute, and the ones left unset sit under data_dir. The model is
        # frozen for its users; this fills it in once, as it is built.
        data_dir = self.data_dir.absolute()
        resolved = {
            "data_dir": data_dir,
            "landing_dir": (self.landing_dir or data_dir / "landing").absolute(),
            "warehouse_path": (self.warehouse_path or data_dir / "warehouse.duckdb").absolute(),
            "dagster_home": (self.dagster_home or data_dir / "dagster_home").absolute(),
            "lake_dir": (self.lake_dir or data_dir / "lake").absolute(),
            "exports_dir": (self.exports_dir or data_dir / "exports").absolute(),
            "budgets_file": (self.budgets_file or data_dir / "budgets.toml").absolute(),
        }
        for name, value in resolved.items():
            object.__setattr__(self, name, value)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        # The environment only (no .env file, no secrets folder), as the README says.
        return (init_settings, _EnvironSource(settings_cls), _ThresholdsSource(settings_cls))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check every setting from `environ` (default os.environ)."""
        token = _ENVIRON.set(environ)
        try:
            return cls()
        except ValidationError as error:
            raise SettingsError(_one_line(error)) from None
        finally:
            _ENVIRON.reset(token)

    def environment(self) -> dict[str, str]:
        """Every resolved setting as the environment variable that sets it, so that
        `Settings.from_env(settings.environment())` gives these settings back (all but
        the alert URLs, which are secrets; see below).

        dbt reads the warehouse, DuckDB limits and reporting zone from its environment
        (dbt_project/profiles.yml, macros/reporting_time.sql), `dagster dev` and the
        dashboard read the settings again, and the Dagster `warehouse` resource carries
        them (orchestration/resources.py); handing them these values makes every process
        use the files this one resolved. This process's own environment is not changed.
        """
        thresholds = {
            THRESHOLD_PREFIX + name.upper(): str(value)
            for name, value in self.thresholds.model_dump().items()
        }
        return {
            "LLM_USAGE_FIRST_LANDING_DAY": self.first_landing_day.isoformat(),
            "LLM_USAGE_NIGHTLY_HOUR": str(self.nightly_hour),
            "LLM_USAGE_NIGHTLY_MINUTE": str(self.nightly_minute),
            "LLM_USAGE_NIGHTLY_TIMEZONE": self.nightly_timezone,
            **thresholds,
            "LLM_USAGE_DATA_DIR": str(self.data_dir),
            "LLM_USAGE_LANDING_DIR": str(self.landing_dir),
            "LLM_USAGE_WAREHOUSE": str(self.warehouse_path),
            "DAGSTER_HOME": str(self.dagster_home),
            "LLM_USAGE_REPORTING_TIMEZONE": self.reporting_timezone,
            "LLM_USAGE_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "LLM_USAGE_DUCKDB_THREADS": str(self.duckdb_threads),
            "LLM_USAGE_WRITE_WAIT_SECONDS": str(self.write_wait_seconds),
            "LLM_USAGE_READ_WAIT_SECONDS": str(self.read_wait_seconds),
            "LLM_USAGE_ENGINE": self.engine,
            "LLM_USAGE_LAKE_DIR": str(self.lake_dir),
            "LLM_USAGE_SPARK_MASTER": self.spark_master,
            "LLM_USAGE_SPARK_DRIVER_MEMORY": self.spark_driver_memory,
            "LLM_USAGE_SPARK_SHUFFLE_PARTITIONS": str(self.spark_shuffle_partitions),
            "LLM_USAGE_EXPORTS_DIR": str(self.exports_dir),
            "LLM_USAGE_FOCUS_BILLING_ACCOUNT": self.focus_billing_account,
            "LLM_USAGE_BUDGETS_FILE": str(self.budgets_file),
            # Not LLM_USAGE_ALERT_URLS: alert URLs carry webhook tokens and passwords, and
            # this mapping is shown as the Dagster resource's config, handed to every dbt
            # process and printed by `python -m config.settings`. The Dagster resource
            # carries them as a reference to the variable (orchestration/resources.py).
            "LLM_USAGE_PAGE_URL": self.page_url,
        }


def _variable(loc: tuple) -> str:
    """The environment variable behind a validation error's location."""
    if loc and loc[0] == "thresholds" and len(loc) > 1:
        return THRESHOLD_PREFIX + str(loc[1]).upper()
    name = str(loc[0]) if loc else "?"
    if name.isupper():  # an alias: already the variable's name
        return name
    field = Settings.model_fields.get(name)
    alias = getattr(field, "validation_alias", None) if field else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return "LLM_USAGE_" + name.upper()


def _one_line(error: ValidationError) -> str:
    """The first problem of a validation error as one sentence naming the variable."""
    problem = error.errors()[0]
    variable = _variable(tuple(problem.get("loc") or ()))
    cause = (problem.get("ctx") or {}).get("error")
    message = str(cause) if isinstance(cause, _Invalid) else problem["msg"]
    if isinstance(cause, _Invalid):
        if variable.startswith(THRESHOLD_PREFIX):
            default = Thresholds.model_fields[variable[len(THRESHOLD_PREFIX) :].lower()].default
            message = message.rstrip(".") + f" (default {default})."
    else:
        message = f"is not valid: {message}."
    return f"{variable}={problem.get('input')!r} {message}"


def main() -> int:
    """`python -m config.settings`: every setting as a shell `export` line, so that a dbt
    run by hand (README.md) gets what the warehouse hands its own dbt processes: the
    paths, and the data-quality ceilings the facts' performance figures are judged by."""
    import shlex
    import sys

    try:
        environment = Settings.from_env().environment()
    except SettingsError as error:
        print(f"config.settings: {error}", file=sys.stderr)
        return 2
    for key, value in environment.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
