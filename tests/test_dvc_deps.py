"""dvc.yaml lists, for every stage, exactly the library modules its script imports.

That list is what makes "editing a module reruns only the stages that import it" true; a
missing entry would let a stage go stale, an extra one would rerun it for nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def imported_modules(path: Path) -> set[str]:
    """Return the noisereg modules a file imports, at any depth of the code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("noisereg"):
            if node.module == "noisereg":
                found.update(f"noisereg.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("noisereg"))
    return found


def library_closure(script: Path) -> set[str]:
    """Return the repo paths of every noisereg module a script needs, transitively."""
    pending, seen = imported_modules(script) | {"noisereg"}, set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = ROOT / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = ROOT / module.replace(".", "/") / "__init__.py"
        pending |= imported_modules(path)
    return {
        "noisereg/__init__.py" if m == "noisereg" else m.replace(".", "/") + ".py" for m in seen
    }


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_deps_list_exactly_the_imported_modules(stage: str) -> None:
    definition = STAGES[stage].get("do", STAGES[stage])
    script = definition["cmd"].split()[1]
    listed = {d for d in definition["deps"] if d.startswith("noisereg/") and d.endswith(".py")}
    assert script in definition["deps"]
    assert listed == library_closure(ROOT / script)
