"""Time to read or refuse the worst upload shapes at the 5 MB limit (target: about a second each).

Run: python -m bench.bench_uploads [--rounds 3]
Shapes are in tests/upload_shapes.py (wide rows, one giant line, many tiny rows, separators, quotes,
NUL bytes, UTF-16...). Prints the median time of each and the slowest.
"""

from __future__ import annotations

import argparse
import statistics
import time

from rnnviz import DatasetError
from rnnviz.datasets.uploads import parse_csv, parse_text
from tests.upload_shapes import CSV, TEXT


def timed(parse, content: bytes) -> tuple[float, str]:
    t0 = time.perf_counter()
    try:
        parse(content)
        outcome = "accepted"
    except DatasetError as e:
        outcome = "refused: " + str(e)[:70]
    return time.perf_counter() - t0, outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one round: proves the script runs (CI)")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
    results = []
    for kind, parse, shapes in (("csv", parse_csv, CSV), ("txt", parse_text, TEXT)):
        for name, content in shapes.items():
            times, outcome = [], ""
            for _ in range(args.rounds):
                seconds, outcome = timed(parse, content)
                times.append(seconds)
            results.append((statistics.median(times), kind, name, len(content), outcome))
            print(f"{kind} {name:48s} {len(content) / 2**20:4.1f} MB  {statistics.median(times):6.3f} s  {outcome}")
    worst = max(results)
    print(f"slowest: {worst[1]} {worst[2]!r} {worst[0]:.3f} s (median of {args.rounds})")


if __name__ == "__main__":
    main()
