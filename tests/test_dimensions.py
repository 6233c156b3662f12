"""The one declaration of the dimensions (dbt_project.yml `vars: dimensions:`, read by
config/dimensions.py): its entries, their agreement with the contract and with the
gateways' own field names, the docs that map them, and one-line errors for a
declaration that cannot be used."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from config.dimensions import DimensionsError, load_dimensions, parse_dimensions
from ingest import contract
from ingest.sources.config import FORMATS

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download of prices
REPO = Path(__file__).resolve().parent.parent
SOURCES_DOC = (REPO / "docs" / "sources.md").read_text()


def test_the_declared_dimensions_in_order():
    declared = [
        (d.name, d.column, d.name_column, d.cardinality, d.filter) for d in load_dimensions()
    ]
    assert declared == [
        ("api_key", "api_key_id", "api_key_name", "low", True),
        ("model", "model", None, "low", True),
        ("provider", "provider", None, "low", True),
        ("organization", "organization_id", "organization_name", "low", True),
        ("team", "team_id", "team_name", "low", True),
        ("project", "project_id", "project_name", "low", True),
        ("end_user", "end_user_id", None, "high", False),
        ("tag", "tags", None, "multi", False),
    ]


def test_every_dimension_is_a_contract_field_read_from_our_format_by_its_name():
    fields = {f.name: f for f in contract.fields()}
    for dimension in load_dimensions():
        columns = [dimension.column] + [dimension.name_column] * bool(dimension.name_column)
        assert set(columns) <= set(fields), dimension.name
        if dimension.sources is not None:
            assert dimension.paths("request_log") == (dimension.column,)
            assert set(dimension.sources) == {"request_log", *FORMATS}, dimension.name
        if dimension.name_sources is not None:
            assert dimension.name_paths("request_log") == (dimension.name_column,)
    assert fields["tags"].items is not None  # the multi-valued one is a list


def _payload_fields() -> set[str]:
    from litellm.types.utils import StandardLoggingMetadata, StandardLoggingPayload

    return set(StandardLoggingPayload.__annotations__) | {
        f"metadata.{k}" for k in StandardLoggingMetadata.__annotations__
    }


def _spend_log_fields() -> set[str]:
    from source_records import spend_log_columns

    columns, metadata_keys = spend_log_columns()
    return columns | {f"metadata.{k}" for k in metadata_keys}


def _generation_fields() -> set[str]:
    from openrouter.components import GenerationResponseData

    return set(GenerationResponseData.model_fields)


@pytest.mark.parametrize(
    "source_format, known",
    [
        ("litellm", _payload_fields),
        ("litellm_spend_logs", _spend_log_fields),
        ("openrouter", _generation_fields),
    ],
)
def test_declared_paths_are_the_gateways_own_fields_and_documented(source_format, known):
    """Each path the declaration names for a gateway format is a field of that gateway's
    own types (LiteLLM's StandardLoggingPayload and SpendLogs, the openrouter SDK's
    GenerationResponseData, as installed), and docs/sources.md maps it."""
    fields = known()
    section = SOURCES_DOC.split(f"(`{source_format}`)")[1].split("\n## ")[0]
    declared = [
        path
        for dimension in load_dimensions()
        for path in dimension.paths(source_format) + dimension.name_paths(source_format)
    ]
    assert declared, source_format
    for path in declared:
        assert path in fields, (source_format, path)
        assert f"`{path}`" in section, (source_format, path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"cardinality": "huge"}, "dimension 'team': cardinality must be one of low | high"),
        ({"column": ""}, "dimension 'team': column must be a non-empty string"),
        ({"sources": ["team_id"]}, "dimension 'team': sources must map each source format"),
        ({"sources": {"litellm": 5}}, "dimension 'team': sources.litellm must be a path"),
        ({"cardinality": "high", "filter": True}, "only a low-cardinality one is a filter"),
        ({"name": "model"}, "declare the name 'model' twice"),
        ({"name_column": ["x"]}, "name_column must be a string or null"),
    ],
)
def test_a_declaration_that_cannot_be_used_says_what_to_fix(change, message):
    entries = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())["vars"][
        "dimensions"
    ]
    team = next(e for e in entries if e["name"] == "team")
    team.update(change)
    with pytest.raises(DimensionsError, match=re.escape(message)) as raised:
        parse_dimensions(entries)
    assert "\n" not in str(raised.value)


def test_no_declaration_says_so():
    with pytest.raises(DimensionsError, match="must be a non-empty list"):
        parse_dimensions(None)
