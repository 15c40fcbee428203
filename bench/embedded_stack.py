"""What every benchmark starts: an embedded broker with the topics created, and leadflow processes on it.

Also what every benchmark on a broker shares: the secrets a production collector refuses to
run without (BENCH_SECRETS, in every config embedded_kafka makes). The ``--smoke`` flag is in
bench/smoke.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leadflow.config import Config  # noqa: E402
from leadflow.embedded.broker import EmbeddedBroker  # noqa: E402
from leadflow.process import free_ports  # noqa: E402
from leadflow.supervisor import EMBEDDED_KAFKA  # noqa: E402
from leadflow.topics import create_topics  # noqa: E402


BENCH_SECRETS = dict(write_key="wk_bench_0123456789abcdef", link_secret="bench-link-secret-0123456789",
                     crm_feedback_token="crm_bench_0123456789abcdef")


@contextmanager
def embedded_kafka(**changes: Any) -> Iterator[Config]:
    """A config on a fresh embedded broker (6 partitions, topics created, BENCH_SECRETS) in a scratch data dir,
    removed after."""
    workdir = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    (port,) = free_ports(1)
    broker = EmbeddedBroker("127.0.0.1", port, workdir / "broker.log")
    try:
        config = Config().with_changes(bootstrap=broker.start(), data_dir=workdir, partitions=6,
                                       **{**EMBEDDED_KAFKA, **BENCH_SECRETS, **changes})
        create_topics(config)
        yield config
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def leadflow_process(command: str, config: Config) -> Iterator[subprocess.Popen]:
    """`leadflow <command>` on this config, logging warnings only; terminated on the way out."""
    process = subprocess.Popen([sys.executable, "-m", "leadflow", command], cwd=config.data_dir,
                               env={**os.environ, **config.as_env(), "LEADFLOW_LOG_LEVEL": "warning"})
    try:
        yield process
    finally:
        process.terminate()
        process.wait(20)
