"""The measured claim behind the Sweep page's first preset: success rate against T on the adding problem.

nice -n 10 python bench/sweep_claim.py --budget 3000 --seeds 3 --out sweep_claim.csv
Runs the shortest T first (all cells), appending each finished run to the CSV, then prints the curve. With
--append, runs already in the CSV are kept and not run again.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import pandas as pd

from rnnviz.runs.sweep import PRESETS, LocalPool, frame, summary, sweep


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=3000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--lengths", default="10,20,50,100,200")
    ap.add_argument("--cells", default="rnn_tanh,lstm,gru")
    ap.add_argument("--append", action="store_true", help="add to the rows already in --out")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="sweep_claim.csv")
    args = ap.parse_args()
    grid = dataclasses.replace(PRESETS["adding"].grid, budget=args.budget, seeds=tuple(range(args.seeds)),
                               cells=tuple(args.cells.split(",")))
    rows = pd.read_csv(args.out).to_dict("records") if args.append and Path(args.out).exists() else []
    start = time.perf_counter()
    done = {(r["cell"], int(r["seq_len"]), int(r["seed"])) for r in rows}  # --append: rows already there stay
    for T in map(int, args.lengths.split(",")):  # one length at a time, so a cut-short run still has a curve
        seeds = tuple(s for s in grid.seeds if any((c, T, s) not in done for c in grid.cells))
        if not seeds:
            continue
        for row in sweep(dataclasses.replace(grid, seq_lens=(T,), seeds=seeds), LocalPool(args.workers)):
            if (row["cell"], T, row["seed"]) in done:
                continue
            rows.append(row)
            frame(rows).drop(columns="config").to_csv(args.out, index=False)
            print(f"{time.perf_counter() - start:7.0f}s", {k: row[k] for k in list(row)[:9]}, flush=True)
    print(summary(frame(rows)).to_string())


if __name__ == "__main__":
    main()
