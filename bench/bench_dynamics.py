"""Cost of the dynamics views against a probe, and what they show on the lessons.

Run: python bench/bench_dynamics.py --rounds 7      (cost: step Jacobians / one probe replay, interleaved, medians)
     python bench/bench_dynamics.py --lessons       (trains the radius 0.5, LSTM and radius 1.5 lessons and prints
                                                      sigma_max(J_t), the product norms and the fixed points)
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from rnnviz import RunConfig, load_dataset, replay, train_run
from rnnviz.engine.train import build_model
from rnnviz.views import dynamics as D
from rnnviz.views.lessons import BY_KEY


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(model, x, y, rounds: int) -> tuple[list, list, list]:
    """Seconds per round of (a probe replay, Jacobians of 1 sample, of all): interleaved, so noise hits all."""
    out = ([], [], [])
    for _ in range(rounds):
        out[0].append(timed(lambda: replay(model, x, y)))
        out[1].append(timed(lambda: D.step_jacobians(model, x[:1])))
        out[2].append(timed(lambda: D.step_jacobians(model, x)))
    return out


def cost(rounds: int, quick: bool = False) -> None:
    """--quick: T = 10 and a 0.2 s fixed-point search, one round (proves the script runs)."""
    torch.set_num_threads(1)  # as the server runs each session (RNNVIZ_TORCH_THREADS = 1)
    T, search = (10, D.FixedPointSearch(budget_s=0.2)) if quick else (50, None)
    print("cell      H   probe ms  jac(1 sample) ms  ratio  jac(8 samples) ms  ratio  fixed points s")
    for cell in ("rnn_tanh", "lstm", "gru"):
        config = RunConfig(cell=cell, dataset="adding", seq_len=T, hidden_size=64)
        data = load_dataset(config)
        model = build_model(config, data)
        x, y = data.x_val[:8], data.y_val[:8]
        probe, one, all8 = interleaved(model, x, y, rounds)
        starts = D.joint_states(replay(model, x, y))
        fp = D.find_fixed_points(model, D.constant_input(model, 0.0), starts, search)
        r1 = statistics.median(a / b for a, b in zip(one, probe, strict=True))
        r8 = statistics.median(a / b for a, b in zip(all8, probe, strict=True))
        print(f"{cell:8s} {64:3d} {statistics.median(probe) * 1e3:9.1f} {statistics.median(one) * 1e3:17.1f} "
              f"{r1:6.1f} {statistics.median(all8) * 1e3:18.1f} {r8:6.1f} {fp.seconds:14.2f}")


def describe(run, step: int) -> str:
    trace = dict(run.probes)[step]
    n = trace.hidden.shape[1]
    jac = D.run_jacobians(run, step, tuple(range(n)))
    g = trace.grad_norms[-1].astype(np.float64)
    ratio = np.median(g[:, 0] / g[:, -1])
    fp = D.run_fixed_points(run, step, 0.0)
    kinds = {k: fp.kind.count(k) for k in ("stable", "saddle", "unstable") if k in fp.kind}
    return (f"step {step:5d}: median sigma_max(J_t) {np.nanmedian(jac.sigma_max):.3f}, "
            f"radius {np.nanmedian(jac.radius):.3f}; "
            f"||J_T..J_1|| median {np.nanmedian(jac.product_norm[:, 0]):.2e}, ||dL/dh_0||/||dL/dh_T|| {ratio:.2e}; "
            f"fixed points (input 0): {kinds or 'none'} max|eig| {np.round(fp.max_abs_eig, 3).tolist()[:4]}")


def lessons() -> None:
    torch.set_num_threads(1)
    for key in ("radius_small", "lstm_remembers", "explode"):
        t0 = time.perf_counter()
        run = train_run(BY_KEY[key].config)
        print(f"{key} ({run.step} steps, {time.perf_counter() - t0:.0f} s, diverged at {run.diverged_at})")
        for step in (run.probes[0][0], run.probes[-1][0]):
            print("   ", describe(run, step))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--lessons", action="store_true")
    parser.add_argument("--quick", action="store_true", help="one round of short runs: proves the script runs (CI)")
    args = parser.parse_args()
    lessons() if args.lessons else cost(1 if args.quick else args.rounds, args.quick)
