"""Steps per second of one live session: in-process Trainer vs RayTrainer (training in a local Ray actor).

PYTHONPATH=. python bench/bench_ray.py [--quick]
Rounds interleave a bare PyTorch loop (the baseline), the Trainer and the RayTrainer; prints medians of ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time

import ray
import torch

from rnnviz import RunConfig, load_dataset
from rnnviz.remote import RayTrainer
from rnnviz.session import Trainer

CONFIG = RunConfig(cell="lstm", hidden_size=32, seq_len=50, dataset="sine", steps=100_000)


def bare(steps: int) -> float:
    """Steps/s of a bare fused nn.LSTM training loop of the same size."""
    data = load_dataset(CONFIG)
    rnn, head = torch.nn.LSTM(data.input_size, 32, batch_first=True), torch.nn.Linear(32, data.output_size)
    opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(len(data.x_train), (64,), generator=gen)
        out, _ = rnn(data.x_train[idx])  # (B, T, H)
        loss = torch.nn.functional.mse_loss(head(out[:, -1]), data.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - start)


def session(kind, steps: int, chunk_s: float = 0.25) -> float:
    """Steps/s as the page sees it: advance() in chunks of chunk_s until `steps` steps are done."""
    trainer = kind(CONFIG)
    start, done = time.perf_counter(), 0
    while done < steps:
        done += trainer.advance(budget_s=chunk_s)
    rate = done / (time.perf_counter() - start)
    trainer.close()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rounds, steps = (3, 100) if args.quick else (7, 400)
    ray.init(num_cpus=2, include_dashboard=False)
    rows = []
    for r in range(rounds):
        base, local, actor = bare(steps), session(Trainer, steps), session(RayTrainer, steps)
        rows.append((local / base, actor / base, actor / local))
        print(f"round {r}: bare {base:.0f}/s, Trainer {local:.0f}/s, RayTrainer {actor:.0f}/s", flush=True)
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(f"median Trainer/bare {med[0]:.2f}, RayTrainer/bare {med[1]:.2f}, RayTrainer/Trainer {med[2]:.2f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
