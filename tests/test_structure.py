"""The library's import graph has layers: an import only goes down, and studies never meet.

Layers, top to bottom (docs/extending.md): stages -> one study (experiments/<study>) ->
experiments/protocol -> report, data, engine, cli -> params -> net, stats, io, errors,
process_setup. Run as a script to print the layer of every module and the graph's depth.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from noisereg.dvc_deps import imported_modules, module_path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "noisereg"

# Module-name prefix -> layer; the longest matching prefix wins. Higher imports lower only.
LAYERS = {
    "noisereg": 0,  # the package itself: errors, io, net, stats, process_setup
    "noisereg.params": 1,
    "noisereg.data": 2,
    "noisereg.engine": 2,
    "noisereg.report": 2,
    "noisereg.cli": 2,
    "noisereg.dvc_deps": 2,
    "noisereg.experiments": 3,  # the package and protocol.py
    "noisereg.experiments.reference": 4,
    "noisereg.experiments.benefit_map": 4,
    "noisereg.experiments.regularizers": 4,
    "noisereg.reproduction": 5,  # reads every study's committed results (`make check`)
}


def modules() -> dict[str, Path]:
    """Return every library module's dotted name -> file."""
    found = {}
    for path in sorted(LIBRARY.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def owner(module: str) -> str:
    """Return the LAYERS key a module belongs to (its longest prefix there)."""
    matches = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return max(matches, key=len)


def graph() -> dict[str, set[str]]:
    """Return module -> the library modules it imports (run-time imports, any depth)."""
    known = modules()
    edges = {}
    for name, path in known.items():
        targets = set()
        for imported in imported_modules(path):
            # `from package import name`: the module when it is one, else the package.
            while imported not in known and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            if imported in known and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def is_package_init(name: str) -> bool:
    return module_path(ROOT, name) == ROOT / name.replace(".", "/") / "__init__.py"


def test_every_import_goes_down_a_layer_or_stays_in_its_package() -> None:
    upward = []
    for source, targets in graph().items():
        for target in targets:
            same_home = owner(source) == owner(target)
            # A package's __init__ may re-export its own modules (params does).
            if same_home or (is_package_init(source) and target.startswith(source + ".")):
                continue
            if LAYERS[owner(target)] >= LAYERS[owner(source)]:
                upward.append(f"{source} -> {target}")
    assert upward == []


def test_studies_never_import_each_other() -> None:
    studies = [p for p in LAYERS if LAYERS[p] == 4]
    crossing = [
        f"{source} -> {target}"
        for source, targets in graph().items()
        for target in targets
        if owner(source) in studies and owner(target) in studies and owner(source) != owner(target)
    ]
    assert crossing == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return one cycle per strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in edges.get(node, ()):
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    # Package __init__ -> own submodule edges are re-exports, not cycles of meaning, but a
    # submodule importing its package's __init__ back would make one: keep both.
    assert cycles(graph()) == []


def test_the_engine_plan_loads_without_tensorflow() -> None:
    # Planning is testable and importable alone: only the trainer and loop load TensorFlow.
    probe = "import sys, noisereg.engine.plan; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr[-1000:]


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def depth(edges: dict[str, set[str]]) -> int:
    """Return the number of floors: the longest import chain, counted in modules."""
    memo: dict[str, int] = {}

    def floors(node: str) -> int:
        if node not in memo:
            memo[node] = 1 + max((floors(t) for t in edges[node]), default=0)
        return memo[node]

    return max(floors(n) for n in edges)


if __name__ == "__main__":
    edges = graph()
    for name in sorted(edges, key=lambda n: (LAYERS[owner(n)], n)):
        print(f"layer {LAYERS[owner(name)]}  {name}")
    print(f"modules: {len(edges)}; floors (longest import chain): {depth(edges)}")
    print(f"cycles: {cycles(edges) or 'none'}")
    sys.exit(0)
