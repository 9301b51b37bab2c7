"""Write each dvc.yaml stage's library code deps: exactly what its script imports, transitively.

That list is what makes "editing a module reruns only the stages that import it" true; a
missing entry would let a stage go stale, an extra one would rerun it for nothing. Files are
listed one by one, never as a package directory: a directory's hash takes in whatever else
lies there (bytecode caches, an editor's swap file) and would rerun stages for nothing.

Run `make dvc-deps` (python -m noisereg.dvc_deps) after changing imports; tests/test_dvc_deps.py
fails while dvc.yaml differs from what this writes.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import yaml

LIBRARY = "noisereg"
# Modules that read files of their package at run time, and those files' directory.
PACKAGE_DATA = {"noisereg/report/document.py": "noisereg/report/templates"}
_TYPE_CHECKING = ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def imported_modules(path: Path) -> set[str]:
    """Return the library modules a file imports at run time, at any depth of the code.

    Imports under `if TYPE_CHECKING:` are for annotations only and never run.
    """
    tree = ast.parse(path.read_text())
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            # The closure follows absolute names only; a relative import would drop deps.
            raise ValueError(f"{path}: relative import; import noisereg modules by full name")
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(LIBRARY):
            found.add(node.module)
            # `from package import module` imports the module too.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(LIBRARY))
    return found


def module_path(root: Path, module: str) -> Path | None:
    """Return the file of a dotted module name (a package's __init__.py), or None."""
    base = root / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def library_closure(root: Path, script: Path) -> set[str]:
    """Return the repo paths of every library file a script needs, transitively.

    Importing a module runs the __init__.py of every package above it, so those count too.
    """
    pending, seen = imported_modules(script), set()
    files: set[str] = set()
    while pending:
        parts = pending.pop().split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name in seen:
                continue
            seen.add(name)
            path = module_path(root, name)
            if path is None:  # a name imported from a module, not a module itself
                continue
            files.add(path.relative_to(root).as_posix())
            pending |= imported_modules(path)
    files |= {data for module, data in PACKAGE_DATA.items() if module in files}
    return files


def stage_deps(root: Path, stages: dict[str, dict]) -> dict[str, list[str]]:
    """Return stage name -> its library deps, from the script its cmd runs."""
    deps = {}
    for name, stage in stages.items():
        definition = stage.get("do", stage)
        command = definition["cmd"].split()
        if command[:2] != ["python", "-m"]:
            raise ValueError(f"dvc.yaml: stage {name} must run `python -m stages.<name>`")
        script = root / (command[2].replace(".", "/") + ".py")
        deps[name] = sorted(library_closure(root, script))
    return deps


def rewrite(text: str, deps: dict[str, list[str]]) -> str:
    """Return dvc.yaml's text with each stage's library deps replaced, all else unchanged.

    The library deps go right after the stage's script (`- stages/<name>.py`); a stage
    without that line is an error, never a silently shorter list.
    """
    out, stage, in_deps, written = [], None, False, set()
    for line in text.splitlines(keepends=True):
        stage_match = re.match(r"^  ([A-Za-z_][\w-]*):\s*$", line)
        if stage_match:
            stage, in_deps = stage_match.group(1), False
        item = re.match(r"^(\s+)- (\S+)\s*(#.*)?$", line)
        if re.match(r"^\s+deps:\s*(#.*)?$", line):
            in_deps = True
        elif in_deps and not item and line.strip() and not line.lstrip().startswith("#"):
            in_deps = False
        if in_deps and item and item.group(2).startswith(LIBRARY + "/"):
            continue  # replaced below, after the stage script
        out.append(line)
        if in_deps and item and item.group(2).startswith("stages/") and stage in deps:
            out.extend(f"{item.group(1)}- {path}\n" for path in deps[stage])
            written.add(stage)
    missing = sorted(set(deps) - written)
    if missing:
        raise ValueError(f"dvc.yaml: no `- stages/<name>.py` dep in stage(s) {', '.join(missing)}")
    return "".join(out)


def main() -> None:
    """Rewrite dvc.yaml in the working directory, or with --check only compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml would change")
    args = parser.parse_args()
    root, path = Path.cwd(), Path("dvc.yaml")
    text = path.read_text()
    wanted = rewrite(text, stage_deps(root, yaml.safe_load(text)["stages"]))
    if args.check:
        if wanted != text:
            sys.exit("dvc.yaml: library deps differ from the imports; run `make dvc-deps`")
        return
    path.write_text(wanted)


if __name__ == "__main__":
    main()
