"""Provenance: only what the report stage's tracked inputs determine, and the params it declares."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from noisereg.params import REPORT_SECTIONS, read_raw_params
from noisereg.report.provenance import collect, data_hashes, params_text
from tests.conftest import ROOT


def test_data_hashes_are_the_files_md5(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("x1,x2,label\n0,0,1\n")
    expected = hashlib.md5(b"x1,x2,label\n0,0,1\n").hexdigest()
    assert data_hashes([tmp_path]) == {str(tmp_path / "train.csv"): expected}


def test_report_prints_only_the_params_it_depends_on() -> None:
    shown = yaml.safe_load(params_text(read_raw_params(ROOT / "params.yaml"), REPORT_SECTIONS))
    assert shown["compute"] == {"chunk_models": 256}  # not backend, scheduler, n_workers
    dvc_yaml = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    declared = set(dvc_yaml["stages"]["report"]["params"])
    expected = {k if keys is None else f"{k}.{keys[0]}" for k, keys in REPORT_SECTIONS.items()}
    assert declared == expected


def test_provenance_carries_no_machine_commit_or_time(tmp_path: Path) -> None:
    table = collect("seeds 1", [tmp_path])
    text = " ".join(f"{k} {v}" for k, v in table.items())
    for word in ("CPUs", "wall time", "dirty", " s,"):
        assert word not in text
