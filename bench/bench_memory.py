"""Peak memory of one maximal run: the largest settings the server accepts, a few steps, probes on.

Run: python bench/bench_memory.py [--steps 2] [--quick]
"Maximal": LSTM, hidden 512, 4 layers, T = 2000, probe_size 64, and the largest batch within the
per-run training-memory limit (rnnviz.engine.config.MAX_TRAIN_BYTES, env RNNVIZ_MAX_TRAIN_MB). Prints the peak
RSS (VmHWM) and what the stored probes hold (they are capped per probe and thinned per run).
--quick: a small run (hidden 32, one layer, T 100) through the same code: only proves the script runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rnnviz import RunConfig, train_run
from rnnviz.engine.config import MAX_TRAIN_BYTES, training_bytes
from rnnviz.engine.train import probe_samples
from rnnviz.runs import capacity


def vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def maximal(steps: int, quick: bool = False) -> RunConfig:
    big = dict(hidden_size=512, num_layers=4, seq_len=2000) if not quick else dict(hidden_size=32, seq_len=100)
    base = dict(cell="lstm", probe_size=64, steps=steps, probe_every=steps, dataset="sine", **big)
    batch = 64 if quick else 1024
    while training_bytes(RunConfig(**base, batch_size=1)) * batch > MAX_TRAIN_BYTES:
        batch -= 1
    return RunConfig(**base, batch_size=batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a small run: only proves the script runs")
    args = parser.parse_args()
    capacity.configure_torch()
    config = maximal(args.steps, args.quick)
    before = vm("VmRSS:")
    t0 = time.perf_counter()
    run = train_run(config)
    stored = sum(t.nbytes for _, t in run.probes)
    print(f"{'quick' if args.quick else 'maximal'} run: lstm hidden {config.hidden_size} x {config.num_layers} "
          f"layers, T {config.seq_len}, batch {config.batch_size} "
          f"(limit {MAX_TRAIN_BYTES / 2**30:.1f} GB, estimate {training_bytes(config) / 2**30:.2f} GB), "
          f"{args.steps} steps in {time.perf_counter() - t0:.1f} s")
    print(f"probes: {len(run.probes)} stored, {probe_samples(config)} sample(s) each (probe_size 64 asked), "
          f"{stored / 2**20:.0f} MB in all")
    print(f"RSS before {before:.0f} MB, peak RSS {vm('VmHWM:'):.0f} MB")


if __name__ == "__main__":
    main()
