"""What leadflow writes is readable by its owner only: spools, logs, secrets and the data dir hold emails,
IP addresses, tokens and the CRM.

Processes that write files (`leadflow up`, the collector) set the umask to 077 once at
start, so everything they and their children create is 0600 (files) or 0700 (directories);
``private_dir`` also takes group and other read/write away from a directory that already
existed. Execute (traverse) stays where it was: as root, the embedded PostgreSQL runs as
another user that must reach its data under the data dir, which is then 0711.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

UMASK = 0o077


def restrict_umask() -> None:
    os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """Create ``path`` (0700) or strip group/other read and write from it; return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o066:
        path.chmod(mode & ~0o066)
    return path
