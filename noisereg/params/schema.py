"""Write params.schema.json, the JSON Schema of params.yaml: `python -m noisereg.params.schema`.

Editors read it through the `# yaml-language-server: $schema=...` line atop params.yaml and
validate and complete keys as they are typed. It is generated from `noisereg.params` and
committed; tests/test_schema.py fails when the two differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from noisereg.io import atomic_path
from noisereg.params import SCHEMA

DEFAULT_PATH = Path("params.schema.json")


def schema_text() -> str:
    """Return the schema as committed: draft 2020-12, two-space indents, a final newline."""
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **SCHEMA}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> None:
    """Write the schema to the path given (default params.schema.json)."""
    path = Path(argv[0]) if argv else DEFAULT_PATH
    with atomic_path(path) as temp:
        temp.write_text(schema_text())
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
