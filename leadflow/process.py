"""Child-process plumbing shared by the embedded services and the supervisor."""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import time
from pathlib import Path

from leadflow.errors import LeadflowError

_PR_SET_PDEATHSIG = 1


class StartupError(LeadflowError, RuntimeError):
    """A piece of the stack could not start; the message is one line for the user (exit code 1)."""


def die_with_parent(sig: int = signal.SIGTERM):
    """A preexec_fn: the kernel signals the child if the supervisor dies, so nothing is orphaned."""

    def preexec() -> None:
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
        except OSError:
            pass

    return preexec


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1", preferred: int = 0) -> int:
    """The preferred port when it is free, else any free one."""
    if preferred and port_is_free(host, preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports: all are held open while choosing, so none comes back twice."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_for_port(host: str, port: int, proc: subprocess.Popen, timeout_s: float) -> bool:
    """True once something accepts on host:port; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def last_lines(path: Path, count: int = 1, containing: tuple[str, ...] = ()) -> str:
    """The last meaningful log lines, to turn a failed start into a one-line reason."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    if containing:
        matching = [line for line in lines if any(word in line for word in containing)]
        lines = matching or lines
    return " | ".join(lines[-count:])
