"""What keeping runs on disk costs training: the same run trained by the registry's worker with the store
checkpointing it every RNNVIZ_CHECKPOINT_S seconds, and by the same worker with no registry or store, in one
process.

    python bench/bench_checkpoint.py [--seconds 70] [--quick]

Per shape (the defaults, and hidden 512) it prints: wall seconds of training without a store and with it, their
ratio, the checkpoints written, the seconds spent writing them (beside training), the seconds the training thread
waited for checkpoints (their snapshots) and that wait's share of the training time (the issue's bar: at most 2 %).
The steps are chosen so training lasts about --seconds, i.e. past two checkpoint intervals. --quick: a
second per shape with a 0.4 s interval (only proves the script runs).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from rnnviz import RunConfig, server
from rnnviz.runs.registry import Registry
from rnnviz.runs.store import Store
from rnnviz.runs.trainer import LocalTrainer
from rnnviz.runs.worker import Worker

SHAPES = {"defaults": RunConfig(), "hidden 512": RunConfig(hidden_size=512)}


def steps_for(config: RunConfig, seconds: float, timed: float = 3.0) -> int:
    """How many steps of `config` take about `seconds` here (from a run timed for `timed` seconds)."""
    t = LocalTrainer.fresh(config.replace(steps=100_000))
    t.advance(max_steps=3)  # warm up
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < timed:
        n += t.advance(budget_s=min(0.5, timed))
    return max(10, int(n / (time.perf_counter() - start) * seconds))


def played(worker: Worker) -> float:
    """Wall seconds from Play to the end of the run."""
    start = time.perf_counter()
    worker.play()
    while not worker.finished:
        worker.touch()  # a page watching it (an unwatched worker pauses after 30 s)
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    worker.close()
    return seconds


def bare(config: RunConfig) -> float:
    """The same worker with nothing listening: no registry, no store."""
    return played(Worker([LocalTrainer.fresh(config)]))


def kept(config: RunConfig, interval: float) -> tuple[float, int, float, float]:
    """Wall seconds with the store, checkpoints written, seconds the training thread spent in Registry.checkpoint
    while the run trained (what checkpointing costs training: a snapshot, the file is written beside it), and
    seconds of writing in all (the beside-training writes and the one when the run finished)."""
    blocked, count = [0.0], [0]
    real, put, write = Registry.checkpoint, Store.put, Registry._write
    written = [0.0]

    def timed(self, held, wait=True):
        start = time.perf_counter()
        try:
            return real(self, held, wait)
        finally:
            if not held.run.finished:
                blocked[0] += time.perf_counter() - start

    def writing(self, *args):
        start = time.perf_counter()
        try:
            return write(self, *args)
        finally:
            written[0] += time.perf_counter() - start

    def counted(self, entry, blob=None):
        count[0] += blob is not None
        return put(self, entry, blob)

    Registry.checkpoint, Store.put, Registry._write = timed, counted, writing
    try:
        with tempfile.TemporaryDirectory() as root:
            reg = Registry(Store(root), checkpoint_seconds=interval)
            access = reg.create(config, use_cache=False)
            seconds = played(access.worker)
            assert len(reg.store.entries()) == 1  # one run: its latest checkpoint
    finally:
        Registry.checkpoint, Store.put, Registry._write = real, put, write
    return seconds, count[0], blocked[0], written[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=70.0, help="training time per run (default 70)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    interval = 0.4 if args.quick else server.CHECKPOINT_SECONDS
    seconds = 1.0 if args.quick else args.seconds
    print(f"checkpoint every {interval:g} s of training; torch threads {server.TORCH_THREADS}")
    print(f"{'shape':<12} {'steps':>7} {'bare s':>8} {'kept s':>8} {'ratio':>7} {'writes':>6} {'write s':>8} "
          f"{'blocked s':>9} {'share':>7}")
    for name, shape in SHAPES.items():
        config = shape.replace(steps=steps_for(shape, seconds, 0.5 if args.quick else 3.0))
        t_bare = bare(config)
        t_kept, writes, blocked, written = kept(config, interval)
        print(f"{name:<12} {config.steps:>7,} {t_bare:>8.2f} {t_kept:>8.2f} {t_kept / t_bare:>7.3f} {writes:>6} "
              f"{written:>8.2f} {blocked:>9.3f} {blocked / t_kept:>7.2%}")


if __name__ == "__main__":
    main()
