"""The ``--smoke`` flag every benchmark takes: tiny sizes, seconds, nothing written to bench/results/.

The test suite runs each script with it (tests/bench/test_smoke.py), so benchmarks never rot.
Its own module, so a benchmark of the pure core does not import the embedded broker and the
supervisor to get a flag.
"""

from __future__ import annotations

import argparse


def add_smoke_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run of a few seconds that checks the benchmark works (the tests run it); "
                             "writes nothing under bench/results/")
