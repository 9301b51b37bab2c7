"""dvc.yaml lists, for every stage, exactly the library modules its script imports.

That list is what makes "editing a module reruns only the stages that import it" true; a
missing entry would let a stage go stale, an extra one would rerun it for nothing.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def imported_modules(path: Path) -> set[str]:
    """Return the noisereg modules a file imports at run time, at any depth of the code.

    Imports under `if TYPE_CHECKING:` are for annotations only and never run.
    """
    tree = ast.parse(path.read_text())
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
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
    command = definition["cmd"].split()
    assert command[:2] == ["python", "-m"], "stages run as modules of the tree they run in"
    script = command[2].replace(".", "/") + ".py"
    listed = {d for d in definition["deps"] if d.startswith("noisereg/") and d.endswith(".py")}
    assert script in definition["deps"]
    assert listed == library_closure(ROOT / script)


@pytest.mark.parametrize("script", ["stages/summarize.py", "stages/report.py"])
def test_result_reading_stages_do_not_load_tensorflow(script: str) -> None:
    # Loading TensorFlow costs ~4 s per stage; these stages only read results.
    probe = (
        "import runpy, sys; "
        f"runpy.run_path({script!r}, run_name='probe'); "
        "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
