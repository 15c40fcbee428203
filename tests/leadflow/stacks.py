"""What the stack-file tests share: a stack's settings and processes standing in for `leadflow up`."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator

STACK = {"LEADFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:19092", "LEADFLOW_KAFKA_IDEMPOTENCE": "false",
         "LEADFLOW_CRM_DSN": "postgresql://postgres@127.0.0.1:15432/leadflow", "LEADFLOW_PARTITIONS": "6",
         "LEADFLOW_PUBLIC_URL": "http://127.0.0.1:8080", "LEADFLOW_HTTP_PORT": "8080",
         "LEADFLOW_WRITE_KEY": "wk_never_written_to_the_stack_file"}


@contextmanager
def live_supervisor() -> Iterator[int]:
    """The pid of a live process whose command line names leadflow."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "leadflow-up-stand-in"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def dead_pid() -> int:
    """The pid of a leadflow process that has exited (and been reaped), as after a `kill -9`."""
    proc = subprocess.Popen([sys.executable, "-c", "pass", "leadflow"])
    proc.wait()
    return proc.pid
