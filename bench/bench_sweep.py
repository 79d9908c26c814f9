"""Why a sweep runs on processes, not threads: wall time of the same grid sequentially, on 2 threads (one torch
thread each) and on a pool of 2 processes (one torch thread each).

PYTHONPATH=. python bench/bench_sweep.py [--quick]
Rounds interleave the three; prints the median speed-up over sequential (the bare in-process baseline).
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import torch

from rnnviz import RunConfig
from rnnviz.sweep import Grid, LocalPool, run_one, sweep

BASE = RunConfig(dataset="adding", hidden_size=64, batch_size=64, dataset_params={"n_train": 2000, "n_val": 200})


class Threads:
    def __init__(self, workers: int):
        self.workers, self._pool = workers, ThreadPoolExecutor(workers)

    def submit(self, config):
        return self._pool.submit(run_one, config)

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)


def timed(grid: Grid, backend) -> float:
    start = time.perf_counter()
    assert len(list(sweep(grid, backend))) == len(grid.configs())
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    steps, rounds = (100, 2) if args.quick else (300, 3)
    # the check threshold is never met in this few steps: every run trains its whole budget
    grid = Grid(BASE, cells=("lstm", "gru"), seq_lens=(50,), seeds=(0, 1), budget=steps, check_every=steps)
    ratios = []
    for r in range(rounds):
        seq, thr = timed(grid, Threads(1)), timed(grid, Threads(2))
        proc = timed(grid, LocalPool(2))  # includes starting the 2 processes (spawn + import torch)
        ratios.append((seq / thr, seq / proc))
        print(f"round {r}: sequential {seq:.1f}s, 2 threads {thr:.1f}s, 2 processes {proc:.1f}s", flush=True)
    thr, proc = (statistics.median(c) for c in zip(*ratios, strict=True))
    print(f"median speed-up over sequential: 2 threads x{thr:.2f}, 2 processes x{proc:.2f}")


if __name__ == "__main__":
    main()
