"""The docs' tables say what dvc.yaml and the params schema do; the README stays short and
its links to docs/ resolve."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic_core import PydanticUndefined

from noisereg.params import VariantParams
from tests.conftest import ROOT

README_PATH = ROOT / "README.md"
DOCS = ROOT / "docs"
# The stage table lives in docs/pipeline.md, the variant keys table in docs/params.md.
PIPELINE_DOC = DOCS / "pipeline.md"
PARAMS_DOC = DOCS / "params.md"
README_MAX_BYTES = 12 * 1024
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
# [text](target): a Markdown inline link; the target ends at whitespace or ")".
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def table_rows(path: Path, header: str) -> dict[str, list[str]]:
    """Return the table under `header` in `path` as first cell (unquoted) -> its cells."""
    text = path.read_text()
    assert header in text, f"{path.relative_to(ROOT)} has no table {header!r}"
    lines = text.split(header, 1)[1].splitlines()[2:]
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


def relative_links(path: Path) -> list[tuple[str, str]]:
    """Return (file, anchor) for each link in `path` to a file of this repository.

    URLs are left out; a link to an anchor of `path` itself has its own name as the file.
    """
    links = []
    for target in LINK.findall(path.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue
        file, _, anchor = target.partition("#")
        links.append((file or path.name, anchor))
    return links


def anchors(path: Path) -> set[str]:
    """Return the heading anchors GitHub makes for a Markdown file (code blocks skipped)."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    headings = re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def broken(path: Path, file: str, anchor: str) -> bool:
    """Whether a link from `path` to `file#anchor` misses its file or its heading."""
    target = path.parent / file
    if not target.exists():
        return True
    return bool(anchor) and target.suffix == ".md" and anchor not in anchors(target)


# How the docs name each foreach stage.
ROW_NAMES = {"train": "train@<variant>", "benefit_map": "benefit_map@<dataset>"}


def test_stage_table_lists_every_stage_its_params_and_outputs() -> None:
    rows = table_rows(PIPELINE_DOC, "| stage | reads | writes |")
    assert set(rows) == {ROW_NAMES.get(n, n) for n in STAGES}
    for name, stage in STAGES.items():
        definition = stage.get("do", stage)
        _, reads, writes = rows[ROW_NAMES.get(name, name)]
        for param in declared(definition, "params"):
            assert f"`{param}`" in reads, f"{name}: param {param} missing from docs/pipeline.md"
        for key in ("outs", "metrics", "plots"):
            for path in declared(definition, key):
                stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
                assert stem in writes, f"{name}: output {path} missing from docs/pipeline.md"


def test_variant_table_is_the_schema_keys_descriptions_and_defaults() -> None:
    rows = table_rows(PARAMS_DOC, "| key | meaning | default |")
    fields = VariantParams.model_fields
    assert list(rows) == list(fields)
    for name, field in fields.items():
        _, meaning, default = rows[name]
        assert meaning == field.description, name
        if field.default is PydanticUndefined:
            assert default == "required", name
        else:
            assert default == f"`{'null' if field.default is None else field.default}`", name


def test_readme_is_at_most_12_kib() -> None:
    size = len(README_PATH.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes, over {README_MAX_BYTES}"


def test_readme_links_to_docs_resolve_and_cover_every_docs_file() -> None:
    docs_links = [(f, a) for f, a in relative_links(README_PATH) if f.startswith("docs/")]
    assert docs_links, "README.md links nothing under docs/"
    missing = [f"{f}#{a}" if a else f for f, a in docs_links if broken(README_PATH, f, a)]
    assert not missing, f"README.md links to missing files or headings: {missing}"
    linked = {(ROOT / f).resolve() for f, _ in docs_links}
    unlinked = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not unlinked, f"docs files the README does not link: {unlinked}"


def test_links_from_docs_resolve() -> None:
    for doc in sorted(DOCS.glob("*.md")):
        for file, anchor in relative_links(doc):
            assert not broken(doc, file, anchor), f"{doc.name} links to missing {file}#{anchor}"
