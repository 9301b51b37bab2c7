"""params.schema.json is generated from the models, validates params.yaml, says what they say."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest

from noisereg.params import Params, ParamsError, VariantParams, parse_params
from noisereg.params.schema import schema_text
from tests.conftest import ROOT

COMMITTED = ROOT / "params.schema.json"
PARAMS_LINES = (ROOT / "params.yaml").read_text().splitlines()


def test_committed_schema_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == schema_text(), "run `make schema` and commit the result"


def test_params_yaml_points_editors_at_the_schema() -> None:
    assert PARAMS_LINES[0] == "# yaml-language-server: $schema=params.schema.json"


def test_params_yaml_is_valid_against_the_schema(default_raw: dict[str, Any]) -> None:
    schema = json.loads(COMMITTED.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(default_raw, schema, cls=jsonschema.Draft202012Validator)


# Edits that both the models and the editor's schema reject (what a user types by mistake).
BAD_EDITS = [
    ("train", "epochs", 0),
    ("train", "learning_rate", "fast"),
    ("sweep", "placements", ["input", "output"]),
    ("grid", "hidden_units", [50, 50]),
    ("compute", "scheduler", "my-cluster"),
    ("train", "epoch", 10),
]


@pytest.mark.parametrize(("section", "key", "value"), BAD_EDITS)
def test_schema_and_models_reject_the_same_bad_edit(
    default_raw: dict[str, Any], section: str, key: str, value: Any
) -> None:
    raw = copy.deepcopy(default_raw)
    raw[section][key] = value
    schema = json.loads(COMMITTED.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(ParamsError):
        parse_params(raw)


def test_schema_rejects_a_bad_variant_name(default_raw: dict[str, Any]) -> None:
    raw = copy.deepcopy(default_raw)
    raw["variants"]["bad name!"] = raw["variants"]["input_noise"]
    schema = json.loads(COMMITTED.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, schema, cls=jsonschema.Draft202012Validator)


def inline_comments() -> dict[str, str]:
    """Return `section.key` -> the comment on its line, for every section except variants."""
    comments, section = {}, None
    for line in PARAMS_LINES:
        if match := re.match(r"^(\w+):", line):
            section = match.group(1)
        elif section != "variants" and (match := re.match(r"^  (\w+): .*?  # (.*)$", line)):
            comments[f"{section}.{match.group(1)}"] = match.group(2)
    return comments


def test_params_yaml_comments_are_the_field_descriptions() -> None:
    comments = inline_comments()
    described = {
        f"{section}.{key}": field.description
        for section, model in Params.model_fields.items()
        if section != "variants"
        for key, field in model.annotation.model_fields.items()  # type: ignore[union-attr]
    }
    assert comments == described


def test_params_yaml_variant_key_list_is_the_field_descriptions() -> None:
    rows = dict(
        re.match(r"^#   (\w+)\s+(.*)$", line).groups()  # type: ignore[union-attr]
        for line in PARAMS_LINES
        if re.match(r"^#   \w+\s{2,}", line)
    )
    assert rows == {k: f.description for k, f in VariantParams.model_fields.items()}
