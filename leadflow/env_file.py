"""``KEY=value`` files under the data dir (``secrets.env``, ``stack.env``): one reader and one writer for both.

`leadflow up` leaves what other commands need in such files; every command reads them
below its env vars and flags (see `load_config`). Writes are atomic (a temp file renamed
over the old one), so a reader never sees half a file, and the files are mode 0600: they
hold secrets and DSNs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Mapping


def read_env_file(path: Path) -> dict[str, str]:
    """Every ``LEADFLOW_*=value`` line; comments and other lines are skipped; a missing file is empty."""
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip().startswith("LEADFLOW_"):
            values[name.strip()] = value.strip()
    return values


def write_env_file(path: Path, values: Mapping[str, str], header: str) -> None:
    """Replace ``path`` atomically with ``# header`` and one line per value, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"# {line}\n" for line in header.splitlines()))
            out.write("".join(f"{name}={value}\n" for name, value in values.items()))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
