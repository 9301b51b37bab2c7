"""dvc.yaml lists, for every stage, exactly the library code its script imports.

The lists are written by noisereg.dvc_deps (`make dvc-deps`); these tests fail when dvc.yaml
differs from what it writes, and check the generator itself on a made-up package.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from noisereg.dvc_deps import library_closure, rewrite, stage_deps
from tests.conftest import ROOT

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_dvc_yaml_lists_what_the_generator_writes() -> None:
    text = (ROOT / "dvc.yaml").read_text()
    assert text == rewrite(text, stage_deps(ROOT, STAGES)), "run `make dvc-deps`"


def test_training_stages_do_not_depend_on_report_code() -> None:
    deps = stage_deps(ROOT, STAGES)
    for stage in ("train", "grid_search", "sweep", "benefit_map", "regularizers"):
        assert not [d for d in deps[stage] if d.startswith(("noisereg/report", "stages/report"))]
        # No study's training depends on another study's code.
        own = {"train": "reference", "grid_search": "reference", "sweep": "reference"}
        studies = {d.split("/")[2] for d in deps[stage] if d.startswith("noisereg/experiments/")}
        assert studies <= {own.get(stage, stage), "__init__.py", "protocol.py", "fresh_draws.py"}
        # The fixed-split stages never draw fresh data: editing a generator leaves them be.
        if stage in own:
            assert not [d for d in deps[stage] if d.endswith(("synthetic.py", "fresh_draws.py"))]


def test_a_stage_without_its_script_line_is_an_error() -> None:
    text = "stages:\n  s:\n    cmd: python -m stages.s\n    deps:\n      - data/x\n"
    with pytest.raises(ValueError, match="stage"):
        rewrite(text, {"s": ["noisereg/__init__.py"]})


def test_commented_entries_and_blank_lines_stay_inside_deps() -> None:
    text = (
        "stages:\n  s:\n    cmd: python -m stages.s\n    deps:\n"
        "      - stages/s.py  # the script\n\n      - noisereg/stale.py\n    outs:\n      - o\n"
    )
    assert rewrite(text, {"s": ["noisereg/new.py"]}) == (
        "stages:\n  s:\n    cmd: python -m stages.s\n    deps:\n"
        "      - stages/s.py  # the script\n      - noisereg/new.py\n\n    outs:\n      - o\n"
    )


def test_closure_follows_lazy_imports_and_skips_type_only_ones(tmp_path: Path) -> None:
    package = tmp_path / "noisereg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("def f():\n    from noisereg.sub import b\n")
    (package / "sub" / "b.py").write_text("")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from noisereg import d\n"
    )
    (package / "d.py").write_text("")
    script = tmp_path / "script.py"
    script.write_text("from noisereg.sub.a import f\nfrom noisereg import c\n")
    needed = library_closure(tmp_path, script)
    assert needed == {
        "noisereg/__init__.py",
        "noisereg/c.py",
        "noisereg/sub/__init__.py",
        "noisereg/sub/a.py",
        "noisereg/sub/b.py",
    }


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
