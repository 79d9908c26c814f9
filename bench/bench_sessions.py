"""Time per training step with 1 and with 8 simultaneous sessions in one server process.

Run: python bench/bench_sessions.py [--steps 500]
Each session is a thread that does what the server does for a playing session on every tick: wait for a
training slot (rnnviz.jobs.SLOTS, at most `cores` at once), train for BUDGET seconds, then sleep to the
next tick. Page drawing is left out (tests/test_e2e_load.py runs eight real browser sessions end to end).
Sessions use different seeds. Prints wall ms per step per session, aggregate steps/s, the ratio 8 vs 1,
and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rnnviz import RunConfig, jobs  # noqa: E402
from rnnviz.session import Trainer  # noqa: E402
from rnnviz.ui.control import BUDGET, INTERVAL  # noqa: E402  (pure constants; no page is drawn)


def session(seed: int, steps: int, out: dict) -> None:
    trainer = Trainer(RunConfig(seed=seed, steps=steps))
    while not trainer.finished:
        tick = time.perf_counter()
        with jobs.SLOTS.hold(timeout=BUDGET) as got:
            if got:
                trainer.advance(BUDGET)
        time.sleep(max(0.0, INTERVAL - (time.perf_counter() - tick)))
    out[seed] = trainer.run.step


def measure(n: int, steps: int) -> float:
    jobs.RUN_CACHE.clear()
    done: dict[int, int] = {}
    threads = [threading.Thread(target=session, args=(1000 * n + i, steps, done)) for i in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    assert len(done) == n and all(s == steps for s in done.values()), done
    return wall


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    jobs.configure_torch()
    print(f"default config (lstm, hidden 32, T 50, batch 64), {args.steps} steps per session; "
          f"{jobs.SLOTS.n} training slots, {jobs.TORCH_THREADS} torch thread(s) per session")
    one = measure(1, args.steps)
    eight = measure(8, args.steps)
    print(f"{'sessions':>8s} {'wall s':>8s} {'ms/step (each)':>15s} {'steps/s (all)':>14s}")
    for n, wall in ((1, one), (8, eight)):
        print(f"{n:8d} {wall:8.1f} {1000 * wall / args.steps:15.1f} {n * args.steps / wall:14.0f}")
    print(f"8 sessions take {eight / one:.1f}x the wall time of one (8x would be no sharing gain at all); "
          f"aggregate throughput {8 * one / eight:.2f}x one session's")
    print(f"peak RSS of this process (8 sessions + 1, runs kept): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
