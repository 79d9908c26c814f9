"""Peak resident memory (VmHWM) of one maximal run and of eight default sessions, each in a fresh process.

Run: /work/venv/bin/python bench/bench_memory.py [--max-batch 4] [--max-steps 1] [--steps 500]

max:   the largest model and probe settings allowed (lstm, hidden 512, 4 layers, T 2000, probe_size 64,
       a probe at every step), a small batch and a few steps: shows the probe caps hold (train.py:
       PROBE_BYTES_EACH per probe, PROBE_BYTES_PER_RUN per run).
eight: eight default sessions (RunConfig(): lstm, H 32, T 50, sine, 500 steps) trained to the end by 8
       threads sharing jobs.SLOTS, as the server does.
Each case also prints the process's VmHWM right after importing rnnviz (torch alone is a few hundred MB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def case_max(batch: int, steps: int) -> dict:
    from rnnviz import RunConfig, jobs, train_run
    from rnnviz.train import probe_samples

    jobs.configure_torch()
    base = vm_hwm_mb()
    cfg = RunConfig(cell="lstm", hidden_size=512, num_layers=4, seq_len=2000, probe_size=64, probe_every=1,
                    batch_size=batch, steps=steps)
    run = train_run(cfg)
    probes = sum(t.nbytes for _, t in run.probes)
    return {"after_import_mb": base, "peak_mb": vm_hwm_mb(), "probes": len(run.probes),
            "probe_samples": probe_samples(cfg), "stored_probe_mb": probes / 2**20,
            "run_mb": jobs.run_nbytes(run) / 2**20}


def case_eight(steps: int, sessions: int = 8) -> dict:
    from rnnviz import RunConfig, jobs
    from rnnviz.session import Trainer

    jobs.configure_torch()
    base = vm_hwm_mb()
    trainers = [Trainer(RunConfig(steps=steps, seed=i)) for i in range(sessions)]

    def drive(t: Trainer) -> None:
        while not t.finished:
            with jobs.SLOTS.hold(timeout=0.25) as got:
                if got:
                    t.advance(0.25)

    threads = [threading.Thread(target=drive, args=(t,)) for t in trainers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"after_import_mb": base, "peak_mb": vm_hwm_mb(),
            "stored_probe_mb": sum(sum(tr.nbytes for _, tr in t.run.probes) for t in trainers) / 2**20,
            "runs_mb": sum(jobs.run_nbytes(t.run) for t in trainers) / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=("max", "eight"), help=argparse.SUPPRESS)  # a child process
    ap.add_argument("--max-batch", type=int, default=4)
    ap.add_argument("--max-steps", type=int, default=1)
    ap.add_argument("--steps", type=int, default=500)
    args = ap.parse_args()
    if args.case == "max":
        print(json.dumps(case_max(args.max_batch, args.max_steps)))
        return
    if args.case == "eight":
        print(json.dumps(case_eight(args.steps)))
        return
    for case, label in (("max", f"one maximal run (lstm H512 L4 T2000 probe 64, batch {args.max_batch}, "
                                f"{args.max_steps} step(s) + step 0, a probe each step)"),
                        ("eight", f"eight default sessions ({args.steps} steps each, 8 threads, jobs.SLOTS)")):
        out = subprocess.run([sys.executable, __file__, "--case", case, "--max-batch", str(args.max_batch),
                              "--max-steps", str(args.max_steps), "--steps", str(args.steps)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        extra = ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()
                          if k not in ("after_import_mb", "peak_mb"))
        print(f"{label}: peak RSS {r['peak_mb']:.0f} MB (after import {r['after_import_mb']:.0f} MB); {extra}",
              flush=True)


if __name__ == "__main__":
    main()
