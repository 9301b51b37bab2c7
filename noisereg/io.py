"""File input and output: atomic writes, and reads that name the file and its producer."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

T = TypeVar("T")

# Significant digits of every float written to a metrics JSON or a results CSV. Losses are
# float64 evaluations whose last bits can differ between math libraries; beyond 6 digits
# they carry no information (20 seeds give a standard error in the 2nd or 3rd digit), and
# rounding in this one place keeps tracked files byte-identical across machines.
SIGNIFICANT_DIGITS = 6


def _current_umask() -> int:
    """Return the process umask (reading it means setting it; restore it at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _give_umask_permissions(path: Path, directory: bool) -> None:
    """Give a temporary the mode a plain open() would: mkstemp/mkdtemp make them owner-only."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_current_umask())


class InputError(RuntimeError):
    """An input file is missing, truncated or corrupt."""


def _remove_stale_partials(path: Path) -> None:
    """Delete temporaries a killed run left beside `path` (SIGKILL skips every cleanup)."""
    for stale in path.parent.glob(f".{path.name}.*.partial"):
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    DVC treats any file at an output path as a candidate output, so a stage killed mid-write
    must leave either the old file or nothing, never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        yield Path(temp)
        _give_umask_permissions(Path(temp), directory=False)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


# Zip archives (.keras, .npz) stamp each entry with the wall-clock time, Keras writes the
# save date into metadata.json, and config.json numbers shared objects by their Python id()
# (a memory address): equal weights would give unequal bytes, and DVC would see a changed
# output on every rerun. Fixed stamps and renumbered ids make the bytes a function of the
# content alone.
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_KERAS_METADATA = "metadata.json"
_KERAS_CONFIG = "config.json"


def _renumber_shared_objects(node: Any, numbers: dict[Any, int]) -> Any:
    """Return a JSON tree with each distinct shared_object_id replaced by its first-seen rank."""
    if isinstance(node, dict):
        return {
            key: (
                numbers.setdefault(value, len(numbers))
                if key == "shared_object_id"
                else _renumber_shared_objects(value, numbers)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared_objects(item, numbers) for item in node]
    return node


def make_zip_reproducible(path: str | Path) -> None:
    """Rewrite a zip archive in place with fixed timestamps, Keras' save date and object ids."""
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    with atomic_path(path) as temp, zipfile.ZipFile(temp, "w") as target:
        for info, data in entries:
            if info.filename == _KERAS_METADATA:
                metadata = json.loads(data)
                metadata["date_saved"] = "1980-01-01@00:00:00"
                data = json.dumps(metadata, sort_keys=True).encode()
            elif info.filename == _KERAS_CONFIG:
                config = _renumber_shared_objects(json.loads(data), {})
                data = json.dumps(config).encode()
            fixed = zipfile.ZipInfo(info.filename, _FIXED_ZIP_TIME)
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            target.writestr(fixed, data)


def write_text(path: str | Path, text: str) -> None:
    """Write text atomically."""
    with atomic_path(path) as temp:
        temp.write_text(text)


def rounded(value: Any) -> Any:
    """Return a JSON tree with every float rounded to SIGNIFICANT_DIGITS."""
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item) for item in value]
    return value


def write_json(path: str | Path, payload: Any) -> None:
    """Write JSON atomically: floats rounded, sorted keys, a trailing newline (stable diffs)."""
    write_text(path, json.dumps(rounded(payload), indent=2, sort_keys=True) + "\n")


def write_csv(path: str | Path, frame: pd.DataFrame, exact: bool = False) -> None:
    """Write a frame as CSV atomically, without the index.

    Floats are rounded to SIGNIFICANT_DIGITS unless `exact` (input data, which must reload
    bit for bit).
    """
    float_format = None if exact else f"%.{SIGNIFICANT_DIGITS}g"
    with atomic_path(path) as temp:
        frame.to_csv(temp, index=False, float_format=float_format)


def _read(path: str | Path, producer: str, reader: Callable[[Path], T]) -> T:
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"{path}: missing; it is written by the '{producer}' stage (run `dvc repro {producer}`)"
        )
    try:
        return reader(path)
    except Exception as error:  # any parse failure means the same thing to the user
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        raise InputError(
            f"{path}: unreadable or corrupt ({first_line}); rerun the '{producer}' stage "
            f"(`dvc repro --force {producer}`)"
        ) from error


def read_json(path: str | Path, producer: str) -> Any:
    """Return a JSON file's content (written by `producer`); InputError names both on failure."""
    return _read(path, producer, lambda p: json.loads(p.read_text()))


def read_object(path: Path, producer: str) -> dict[str, Any]:
    """Return a JSON file that must hold an object, written by stage `producer`."""
    payload = read_json(path, producer)
    if not isinstance(payload, dict):
        raise InputError(f"{path}: must hold a JSON object; rerun '{producer}'")
    return payload


def read_csv(
    path: str | Path,
    producer: str,
    columns: list[str],
    text: Sequence[str] = (),
    check: Callable[[pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Return a CSV written by `producer`, checked to have `columns` and at least one row.

    `text` columns are read as strings as written (e.g. '0110', which would parse as 110).
    `check` raises ValueError on content that parses but cannot be right (e.g. a file cut
    inside its last row's text).
    """

    def reader(p: Path) -> pd.DataFrame:
        frame = pd.read_csv(p, dtype=dict.fromkeys(text, str))
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"missing columns {', '.join(missing)}")
        if frame.empty or frame[columns].isna().any().any():
            raise ValueError("empty or with missing values")
        if check is not None:
            check(frame)
        return frame

    return _read(path, producer, reader)


def read_with(path: str | Path, producer: str, reader: Callable[[Path], T]) -> T:
    """Return what `reader` makes of a file, with the same error contract as read_json."""
    return _read(path, producer, reader)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces `path` as a whole on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(path)
    temp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        yield temp
        _give_umask_permissions(temp, directory=True)
        if path.exists():
            shutil.rmtree(path)
        os.replace(temp, path)
    finally:
        if temp.exists():
            shutil.rmtree(temp)
