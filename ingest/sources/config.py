"""Which gateway's records each source folder holds: `sources.toml` in the landing root.

Our own format stays where it always was, in `$LLM_USAGE_LANDING_DIR/dt=YYYY-MM-DD/`.
Records a gateway writes in its own format go to a folder of their own beside it, with
the same day folders, declared in `$LLM_USAGE_LANDING_DIR/sources.toml`:

    [sources.litellm-proxy]        # reads landing/litellm-proxy/dt=YYYY-MM-DD/
    format = "litellm"

    [sources.openrouter-team-a]    # reads landing/openrouter-team-a/dt=YYYY-MM-DD/
    format = "openrouter"
    api_key_id = "or-team-a"       # OpenRouter's records name no key: say whose they are

The loader never guesses a format from a file's content: a folder holds what this file
says, or is not read. docs/sources.md lists every setting.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from config.settings import Settings, SettingsError

SOURCES_FILE = "sources.toml"
FORMATS = ("litellm", "litellm_spend_logs", "openrouter")
BILLING_MODES = ("pay_as_you_go", "subscription")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SETTINGS = {
    "format",
    "api_key_id",
    "api_key_name",
    "billing_mode",
    "subscription_api_keys",
    "subscription_tags",
    "byok_billing_mode",
}


@dataclass(frozen=True)
class SourceFolder:
    """One declared source folder and how its records map (docs/sources.md)."""

    name: str
    format: str
    root: Path  # the folder holding dt=YYYY-MM-DD/ sub-folders
    api_key_id: str | None = None  # for records that name no key
    api_key_name: str | None = None  # the name of that key
    billing_mode: str = "pay_as_you_go"  # of records no marker below applies to
    subscription_api_keys: tuple[str, ...] = ()  # keys whose requests a plan covers
    subscription_tags: tuple[str, ...] = ()  # LiteLLM request tags that mark plan usage
    byok_billing_mode: str = "pay_as_you_go"  # OpenRouter records with is_byok = true

    def day_folder(self, landing_date: date) -> Path:
        return self.root / f"dt={landing_date.isoformat()}"


def sources_file(settings: Settings) -> Path:
    return settings.landing_dir / SOURCES_FILE


def _problem(path: Path, where: str, text: str) -> SettingsError:
    return SettingsError(f"{path}: {where}: {text}")


def _string(path: Path, where: str, value, *, allowed: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise _problem(path, where, f"must be a non-empty string, got {value!r}")
    if allowed and value not in allowed:
        raise _problem(path, where, f"must be one of {' | '.join(allowed)}, got {value!r}")
    return value


def _strings(path: Path, where: str, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _problem(path, where, f"must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def source_folders(settings: Settings) -> list[SourceFolder]:
    """The source folders `sources.toml` declares, in its order; none without the file."""
    path = sources_file(settings)
    if not path.is_file():
        return []
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path} is not valid TOML: {error}") from None
    unknown = set(document) - {"sources"}
    if unknown:
        raise _problem(
            path, ", ".join(sorted(unknown)), "unknown table; declare folders as [sources.NAME]"
        )
    tables = document.get("sources", {})
    if not isinstance(tables, dict):
        raise _problem(path, "sources", "must be tables [sources.NAME]")
    folders = []
    for name, table in tables.items():
        where = f"[sources.{name}]"
        if not _NAME.match(name) or name.startswith("dt="):
            raise _problem(
                path,
                where,
                "a source name is a folder name: letters, digits, '.', '_' or '-', "
                "not starting with 'dt='",
            )
        if not isinstance(table, dict):
            raise _problem(path, where, "must be a table of settings")
        unknown = set(table) - _SETTINGS
        if unknown:
            raise _problem(
                path,
                where,
                f"unknown setting {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_SETTINGS))}",
            )
        if "format" not in table:
            raise _problem(
                path, where, f"says no format; add format = one of {' | '.join(FORMATS)}"
            )
        folder = SourceFolder(
            name=name,
            format=_string(path, f"{where} format", table["format"], allowed=FORMATS),
            root=settings.landing_dir / name,
            api_key_id=_string(path, f"{where} api_key_id", table["api_key_id"])
            if "api_key_id" in table
            else None,
            api_key_name=_string(path, f"{where} api_key_name", table["api_key_name"])
            if "api_key_name" in table
            else None,
            billing_mode=_string(
                path,
                f"{where} billing_mode",
                table.get("billing_mode", "pay_as_you_go"),
                allowed=BILLING_MODES,
            ),
            subscription_api_keys=_strings(
                path, f"{where} subscription_api_keys", table.get("subscription_api_keys", [])
            ),
            subscription_tags=_strings(
                path, f"{where} subscription_tags", table.get("subscription_tags", [])
            ),
            byok_billing_mode=_string(
                path,
                f"{where} byok_billing_mode",
                table.get("byok_billing_mode", "pay_as_you_go"),
                allowed=BILLING_MODES,
            ),
        )
        if folder.format == "openrouter" and folder.api_key_id is None:
            raise _problem(
                path,
                where,
                "OpenRouter records name no API key: set api_key_id to the key "
                "whose records this folder holds",
            )
        if folder.subscription_tags and folder.format == "openrouter":
            raise _problem(path, f"{where} subscription_tags", "OpenRouter records carry no tags")
        if "byok_billing_mode" in table and folder.format != "openrouter":
            raise _problem(
                path,
                f"{where} byok_billing_mode",
                "only OpenRouter records say whether a request used your own provider key",
            )
        folders.append(folder)
    return folders
