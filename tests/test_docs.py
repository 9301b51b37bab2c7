"""The README's tables say what dvc.yaml and the params schema do."""

from __future__ import annotations

import re

import yaml
from pydantic_core import PydanticUndefined

from noisereg.params import VariantParams
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def table_rows(header: str) -> dict[str, list[str]]:
    """Return the README table under `header` as first cell (unquoted) -> its cells."""
    lines = README.split(header, 1)[1].splitlines()[2:]
    rows = {}
    for line in lines:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[re.sub(r"[`]|\s*\(.*", "", cells[0])] = cells
    return rows


def declared(definition: dict, key: str) -> list[str]:
    """Return the paths or params a stage declares under `key`, with ${key} as <variant>."""
    names = []
    for entry in definition.get(key, []):
        name = next(iter(entry)) if isinstance(entry, dict) else entry
        names.append(name.replace("${key}", "<variant>").replace("${item}", "<dataset>"))
    return names


# How the README names each foreach stage.
ROW_NAMES = {"train": "train@<variant>", "benefit_map": "benefit_map@<dataset>"}


def test_stage_table_lists_every_stage_its_params_and_outputs() -> None:
    rows = table_rows("| stage | reads | writes |")
    assert set(rows) == {ROW_NAMES.get(n, n) for n in STAGES}
    for name, stage in STAGES.items():
        definition = stage.get("do", stage)
        _, reads, writes = rows[ROW_NAMES.get(name, name)]
        for param in declared(definition, "params"):
            assert f"`{param}`" in reads, f"{name}: param {param} missing from the README"
        for key in ("outs", "metrics", "plots"):
            for path in declared(definition, key):
                stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
                assert stem in writes, f"{name}: output {path} missing from the README"


def test_variant_table_is_the_schema_keys_descriptions_and_defaults() -> None:
    rows = table_rows("| key | meaning | default |")
    fields = VariantParams.model_fields
    assert list(rows) == list(fields)
    for name, field in fields.items():
        _, meaning, default = rows[name]
        assert meaning == field.description, name
        if field.default is PydanticUndefined:
            assert default == "required", name
        else:
            assert default == f"`{'null' if field.default is None else field.default}`", name
