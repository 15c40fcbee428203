"""`leadflow collector`: one process, or several sharing the port (SO_REUSEPORT), one per core.

With several, metrics are aggregated across processes (prometheus_client multiprocess
mode), every process spools to its own directory, and if one dies the others are
stopped so the orchestrator restarts the whole collector.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
import time

from connectors.collector.server import check_protected, serve
from leadflow.config import Config
from leadflow.private_files import private_dir, restrict_umask


def run_collector(config: Config) -> int:
    check_protected(config)
    restrict_umask()  # spools and the token ledger hold emails and IPs: owner only
    private_dir(config.data_dir)
    count = config.collector.processes
    if count == 1:
        serve(config)
        return 0
    metrics_dir = config.data_dir / "collector-metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # inherited by the spawned children
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=serve, args=(config, index), name=f"collector-{index}", daemon=False)
                for index in range(count)]
    for child in children:
        child.start()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while not stopping:
        if any(not child.is_alive() for child in children):
            dead = [c.name for c in children if not c.is_alive()]
            print(f"leadflow: collector process {', '.join(dead)} exited; stopping the others", file=sys.stderr)
            code = 1
            break
        time.sleep(0.2)
    for child in children:
        if child.is_alive():
            os.kill(child.pid, signal.SIGTERM)
    for child in children:
        child.join(10)
        if child.is_alive():
            child.kill()
    return code
