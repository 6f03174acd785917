"""Tables of result rows: ``OUT/STEM.csv`` and ``OUT/STEM.json`` written atomically, read back
for resuming (used by the sweep engine, :mod:`pinndd.sweep`, and the command line)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from .errors import PinnddError

Row = dict[str, Any]


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_table(rows: list[Row], out: str | Path, stem: str = "rows") -> None:
    """Write ``rows`` as ``OUT/STEM.csv`` (columns in first-seen order) and ``OUT/STEM.json``,
    each atomically (a temporary file in the same folder, flushed and synced, then renamed)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(out / f"{stem}.csv", buf.getvalue())
    atomic_write_text(out / f"{stem}.json", json.dumps(rows, indent=1))


def read_table(out: str | Path, stem: str = "rows") -> list[Row]:
    """The rows of ``OUT/STEM.json`` (``[]`` when there is none)."""
    path = Path(out) / f"{stem}.json"
    if not path.exists():
        return []
    rows = json.loads(path.read_text())
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise PinnddError(f"{path} is not a table of rows (a JSON list of objects); move it away or pass resume=False")
    return rows
