"""Steps per second of one live session: in-process Trainer vs RayTrainer (training in a local Ray actor).

python -m bench.bench_ray [--quick]
Each session plays in a Worker as in the app (one step per call, the web server's view: the actor's steps plus
shipping rows, probes and weights back), and also advances in 0.25 s chunks (one round trip per chunk).
Rounds interleave a bare PyTorch loop (the baseline) with the four; prints medians of ratios.
"""

from __future__ import annotations

import time

import ray
import torch

from bench import medians, quick_mode
from rnnviz import RunConfig, load_dataset
from rnnviz.runs.capacity import Slots
from rnnviz.runs.remote import RayTrainer
from rnnviz.runs.trainer import LocalTrainer
from rnnviz.runs.worker import Worker

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


def played(kind, steps: int) -> float:
    """Steps/s of a session playing in a Worker (the app's way) until `steps` steps are done."""
    worker = Worker([kind(CONFIG)], slots=Slots(1))
    run = worker.trainers[0].run
    start = time.perf_counter()
    worker.play()
    while run.step < steps:
        time.sleep(0.01)
    worker.pause()
    rate = run.step / (time.perf_counter() - start)
    worker.close()
    return rate


def chunked(kind, steps: int, chunk_s: float = 0.25) -> float:
    """Steps/s when advance() trains chunks of chunk_s until `steps` steps are done."""
    trainer = kind(CONFIG)
    start, done = time.perf_counter(), 0
    while done < steps:
        done += trainer.advance(budget_s=chunk_s)
    rate = done / (time.perf_counter() - start)
    trainer.close()
    return rate


def main() -> None:
    rounds, steps = (1, 30) if quick_mode() else (7, 400)
    ray.init(num_cpus=2, include_dashboard=False)
    rows = []
    for r in range(rounds):
        base = bare(steps)
        local, actor = played(LocalTrainer.fresh, steps), played(RayTrainer, steps)
        local_c, actor_c = chunked(LocalTrainer.fresh, steps), chunked(RayTrainer, steps)
        rows.append((local / base, actor / base, actor / local, actor_c / local_c))
        print(f"round {r}: bare {base:.0f}/s; played in a Worker: Trainer {local:.0f}/s, RayTrainer {actor:.0f}/s; "
              f"0.25 s chunks: Trainer {local_c:.0f}/s, RayTrainer {actor_c:.0f}/s", flush=True)
    med = medians(rows)
    print(f"median, played in a Worker: Trainer/bare {med[0]:.2f}, RayTrainer/bare {med[1]:.2f}, "
          f"RayTrainer/Trainer {med[2]:.2f}; in 0.25 s chunks: RayTrainer/Trainer {med[3]:.2f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
