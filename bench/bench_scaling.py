"""Time and peak memory of one training step, and of one probe, against seq_len and hidden size, per cell.

Run: python bench/bench_scaling.py [--out artifacts/scaling] [--reps 3] [--quick] [--fit]
Grid: cells lstm, gru, rnn_tanh x seq_len 50, 200, 1000 x hidden 32, 128, 512 (batch 64, one layer, one torch
thread, sine data). Per point: the median of --reps training steps (forward, backward, clipping, Adam) and of
one probe (replay of probe_samples(config) <= 8 sequences), the memory autograd keeps for one step's backward
(saved tensors, next to rnnviz.engine.config.training_bytes' estimate) and the peak RSS growth during a step (VmHWM
reset through /proc/self/clear_refs; 0 when the allocator reuses memory it already holds).
Writes <out>.csv and <out>.png (matplotlib) and says, per cell and hidden size, whether time per step grows
linearly in T (time per time step within 25 % from the shortest T to the longest).
--fit also prints least-squares constants for rnnviz.engine.train.step_seconds / probe_seconds.
--quick: seq_len 50 and 200, hidden 32, one rep: only proves the script runs.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

# the grid's largest point (LSTM 512 units, T 1000, batch 64) needs more than a server's default 2 GB per run
os.environ.setdefault("RNNVIZ_MAX_TRAIN_MB", "8192")

import numpy as np
import torch

from rnnviz import RunConfig, load_dataset, replay
from rnnviz.engine.cellspec import spec
from rnnviz.engine.config import training_bytes
from rnnviz.engine.train import _Updater, build_model, probe_samples, probe_seconds, step_seconds

CELLS = ("lstm", "gru", "rnn_tanh")
SEQ_LENS = (50, 200, 1000)
HIDDEN = (32, 128, 512)


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")


def saved_mb(update, x, y) -> float:
    """MB that autograd keeps for the backward pass of one step (distinct storages): the step's activations."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        update(1, x, y)
    return sum(seen.values()) / 2**20


def measure(cell: str, seq_len: int, hidden: int, reps: int) -> dict:
    config = RunConfig(cell=cell, seq_len=seq_len, hidden_size=hidden, batch_size=64, dataset="sine",
                       dataset_params={"n_train": 256, "n_val": 16}, probe_size=8)
    data = load_dataset(config)
    model = build_model(config, data)
    update = _Updater(config, model)
    x, y = data.x_train[:64], data.y_train[:64]
    update(1, x, y)  # warm-up
    step_s, peak = [], []
    for _ in range(reps):
        reset_peak()
        before = rss_mb("VmRSS:")
        t0 = time.perf_counter()
        update(1, x, y)
        step_s.append(time.perf_counter() - t0)
        peak.append(rss_mb("VmHWM:") - before)
    saved = saved_mb(update, x, y)
    n = probe_samples(config)
    px, py = data.x_val[:n], data.y_val[:n]
    replay(model, px, py)  # warm-up
    probe_s = []
    for _ in range(reps):
        t0 = time.perf_counter()
        replay(model, px, py)
        probe_s.append(time.perf_counter() - t0)
    return {"cell": cell, "seq_len": seq_len, "hidden": hidden, "batch": 64, "probe_samples": n,
            "step_ms": 1000 * statistics.median(step_s), "peak_mb": max(peak), "saved_mb": saved,
            "estimate_mb": training_bytes(config) / 2**20,
            "probe_ms": 1000 * statistics.median(probe_s),
            "model_step_ms": 1000 * step_seconds(config), "model_probe_ms": 1000 * probe_seconds(config)}


def linear_verdicts(rows: list[dict]) -> list[str]:
    out = []
    for cell in CELLS:
        for hidden in sorted({r["hidden"] for r in rows}):
            pts = {r["seq_len"]: r["step_ms"] for r in rows if r["cell"] == cell and r["hidden"] == hidden}
            if len(pts) < 2:
                continue
            lo, hi = min(pts), max(pts)
            per_t = pts[hi] / hi / (pts[lo] / lo)
            verdict = "linear" if abs(per_t - 1) <= 0.25 else ("super-linear" if per_t > 1 else "sub-linear")
            out.append(f"{cell:<9} hidden {hidden:>3}: ms per time step x{per_t:.2f} from T={lo} to T={hi} "
                       f"-> {verdict}")
    return out


def fit(rows: list[dict], key: str, batch: str) -> np.ndarray:
    """Least squares for key_ms = a + T * (b + c * batch * G * H^2), a, b, c >= 0 (clipped), in seconds."""
    A = np.array([[1, r["seq_len"], r["seq_len"] * r[batch] * spec(r["cell"]).gate_count * r["hidden"] ** 2]
                  for r in rows], float)
    t = np.array([r[key] for r in rows]) / 1000
    w = 1 / t  # relative errors: small configs matter as much as big ones
    coef = np.linalg.lstsq(A * w[:, None], t * w, rcond=None)[0]
    return np.clip(coef, 0, None)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for cell in CELLS:
        for hidden in sorted({r["hidden"] for r in rows}):
            pts = sorted((r["seq_len"], r["step_ms"], r["saved_mb"], r["probe_ms"]) for r in rows
                         if r["cell"] == cell and r["hidden"] == hidden)
            T, step, peak, probe = zip(*pts, strict=True)
            label = f"{cell} H={hidden}"
            axes[0].plot(T, step, marker="o", label=label)
            axes[1].plot(T, peak, marker="o", label=label)
            axes[2].plot(T, probe, marker="o", label=label)
    titles = ("training step (batch 64), ms", "kept for backward per step, MB", "one probe (<= 8 samples), ms")
    for ax, title in zip(axes, titles, strict=True):
        ax.set(xscale="log", yscale="log", xlabel="seq_len T", title=title)
    axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="path without suffix (default artifacts/scaling[_quick])")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--fit", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)  # what a server's training slot uses (RNNVIZ_TORCH_THREADS default)
    seq_lens, hidden, reps = ((50, 200), (32,), 1) if args.quick else (SEQ_LENS, HIDDEN, args.reps)
    rows = []
    for cell in CELLS:
        for h in hidden:
            for T in seq_lens:
                rows.append(measure(cell, T, h, reps))
                r = rows[-1]
                print(f"{cell:<9} H {h:>3} T {T:>4}: step {r['step_ms']:8.1f} ms (model {r['model_step_ms']:7.1f}), "
                      f"kept {r['saved_mb']:7.1f} MB (estimate {r['estimate_mb']:7.1f}), peak +{r['peak_mb']:6.1f} MB, "
                      f"probe {r['probe_ms']:7.1f} ms "
                      f"(model {r['model_probe_ms']:7.1f}, {r['probe_samples']} samples)", flush=True)
    out = Path(args.out or ("artifacts/scaling_quick" if args.quick else "artifacts/scaling"))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out.with_suffix(".png"))
    print("\n".join(linear_verdicts(rows)))
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")
    if args.fit:
        print("STEP_FIXED_S, STEP_PER_T_S, STEP_PER_MAC_S = {:.3g}, {:.3g}, {:.3g}".format(
            *fit(rows, "step_ms", "batch")))
        print("PROBE_FIXED_S, PROBE_PER_T_S, PROBE_PER_MAC_S = {:.3g}, {:.3g}, {:.3g}".format(
            *fit(rows, "probe_ms", "probe_samples")))


if __name__ == "__main__":
    main()
