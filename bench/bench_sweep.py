"""Why a sweep runs on processes, not threads: wall time of the same runs sequentially, on 2 threads and on a
warm pool of 2 processes (one torch thread each everywhere), plus what starting the pool costs.

python -m bench.bench_sweep [--quick]
Rounds interleave the three; prints the median speed-up over sequential (the bare in-process baseline).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from bench import medians, quick_mode
from rnnviz import RunConfig
from rnnviz.runs.sweep import Grid, _init_worker, _pool_task, run_one

BASE = RunConfig(dataset="adding", hidden_size=64, batch_size=64, dataset_params={"n_train": 2000, "n_val": 200})


def timed(pool, configs, task) -> float:
    start = time.perf_counter()
    assert all(out is not None for out in pool.map(task, configs))
    return time.perf_counter() - start


def main() -> None:
    steps, rounds = (10, 1) if quick_mode() else (300, 5)
    # the check threshold is never met in this few steps: every run trains its whole budget
    configs = Grid(BASE, cells=("lstm", "gru"), seq_lens=(50,), seeds=(0, 1), budget=steps,
                   check_every=steps).configs()
    ctx = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    procs = ProcessPoolExecutor(2, mp_context=ctx, initializer=_init_worker, initargs=(ctx.Event(),))
    timed(procs, configs[:2], _pool_task)  # spawn both processes, import torch, train once
    print(f"starting the pool and a first pair of runs: {time.perf_counter() - start:.1f}s")
    seq_pool, thr_pool = ThreadPoolExecutor(1), ThreadPoolExecutor(2)
    ratios = []
    for r in range(rounds):
        seq, thr, proc = (timed(seq_pool, configs, run_one), timed(thr_pool, configs, run_one),
                          timed(procs, configs, _pool_task))
        ratios.append((seq / thr, seq / proc))
        print(f"round {r}: sequential {seq:.1f}s, 2 threads {thr:.1f}s, 2 processes {proc:.1f}s", flush=True)
    thr, proc = medians(ratios)
    print(f"median speed-up over sequential: 2 threads x{thr:.2f}, 2 processes x{proc:.2f}")
    procs.shutdown()


if __name__ == "__main__":
    main()
