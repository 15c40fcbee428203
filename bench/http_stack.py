"""Which HTTP server stack serves the tracking pixel fastest on this machine?

Starts each candidate with the same bare handler (1x1 GIF + no-cache headers) in its own
process, drives it with wrk (`apt-get install wrk`), and prints requests per second.
Candidates whose packages are missing are skipped (`pip install uvicorn starlette` adds
the ASGI ones). Run: .venv/bin/python bench/http_stack.py [--seconds 10] [--smoke]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.smoke import add_smoke_flag  # noqa: E402
from leadflow.process import free_port, wait_for_port  # noqa: E402

SERVERS = {
    "aiohttp (asyncio loop)": """
import asyncio
from aiohttp import web
from connectors.collector.pixel import GIF, NO_CACHE
async def pixel(request):
    return web.Response(body=GIF, content_type="image/gif", headers=NO_CACHE)
app = web.Application(); app.router.add_get("/t/px.gif", pixel)
web.run_app(app, host="127.0.0.1", port=PORT, print=None, access_log=None)
""",
    "aiohttp + uvloop": """
import uvloop
from aiohttp import web
from connectors.collector.pixel import GIF, NO_CACHE
uvloop.install()
async def pixel(request):
    return web.Response(body=GIF, content_type="image/gif", headers=NO_CACHE)
app = web.Application(); app.router.add_get("/t/px.gif", pixel)
web.run_app(app, host="127.0.0.1", port=PORT, print=None, access_log=None)
""",
    "starlette + uvicorn (uvloop, httptools)": """
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from connectors.collector.pixel import GIF, NO_CACHE
async def pixel(request):
    return Response(GIF, media_type="image/gif", headers=NO_CACHE)
app = Starlette(routes=[Route("/t/px.gif", pixel)])
uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="error", access_log=False, loop="uvloop", http="httptools")
""",
}


def measure(name: str, code: str, seconds: int) -> float | None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", code.replace("PORT", str(port))], stderr=subprocess.PIPE)
    try:
        if not wait_for_port("127.0.0.1", port, server, 15):  # False: it exited (a missing package)
            why = "not listening after 15 s" if server.poll() is None else \
                (server.stderr.read().decode().strip().splitlines() or [f"exit code {server.returncode}"])[-1]
            print(f"{name:<42} skipped ({why})")
            return None
        out = subprocess.run(["wrk", "-t1", "-c64", f"-d{seconds}s", f"http://127.0.0.1:{port}/t/px.gif"],
                             capture_output=True, text=True).stdout
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        latency = re.search(r"Latency\s+(\S+)", out).group(1)
        print(f"{name:<42} {rate:>10,.0f} req/s   mean latency {latency}", flush=True)
        return rate
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.seconds = 1
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    print(f"1 wrk thread, 64 connections, {args.seconds}s per stack, server on one core\n")
    for name, code in SERVERS.items():
        measure(name, code, args.seconds)


if __name__ == "__main__":
    main()
