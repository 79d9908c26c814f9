"""Training as a generator of events: the UI steps through it, tests and benches consume it.

Train with the fused torch.nn module; every `probe_every` steps look with an
instrumented replay of a fixed probe batch (see record.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from rnnviz.config import RunConfig
from rnnviz.datasets import SequenceData, load_dataset
from rnnviz.model import SequenceModel
from rnnviz.record import Trace, replay

PROBE_BYTES_PER_RUN = 64 * 2**20  # stored probes past this are thinned (step 0 and the latest always kept)
PROBE_BYTES_EACH = 16 * 2**20  # a probe replays at most as many samples as fit in this (at least one)
MAX_VAL = 128  # validation samples scored per evaluation: a fixed slice, so the curve is smooth and cheap


@dataclass
class TrainEvent:
    step: int  # updates applied so far (0 = the untrained model)
    loss: float  # training loss of this step's batch
    val_loss: float | None  # None when not evaluated at this step
    grad_norm: float  # global gradient norm before clipping
    param_grad_norms: dict[str, float]  # by parameter name
    clipped: bool
    diverged: bool = False
    probe: Trace | None = None
    seconds: float = 0.0  # compute time so far (not counting time paused between events)


def build_model(config: RunConfig, data: SequenceData) -> SequenceModel:
    # the model draws its init from its own generator seeded by config.seed: no global seeding
    return SequenceModel(config, data.input_size, data.output_size, data.task)


def make_optimizer(config: RunConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    kind = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}[config.optimizer]
    return kind(model.parameters(), lr=config.lr)


def batch_indices(config: RunConfig, n: int) -> Iterator[torch.Tensor]:
    """The run's batches as index tensors, drawn from a generator seeded by the config."""
    gen = torch.Generator().manual_seed(config.seed)
    while True:
        yield torch.randint(n, (min(config.batch_size, n),), generator=gen)


def train(
    config: RunConfig, data: SequenceData | None = None, stop: Callable[[], bool] | None = None
) -> Iterator[TrainEvent]:
    """Yield one TrainEvent per step (step 0 = before any update). Deterministic per config."""
    data = data if data is not None else load_dataset(config)
    model = build_model(config, data)
    yield from train_model(config, data, model, stop)


def train_model(
    config: RunConfig, data: SequenceData, model: SequenceModel, stop: Callable[[], bool] | None = None,
    *, start_step: int = 0, optimizer: torch.optim.Optimizer | None = None,
) -> Iterator[TrainEvent]:
    """The loop behind train(), on a model the caller keeps (the UI looks at it between steps).

    Event `step` describes: the loss and gradient of that step's batch (taken before its update),
    then, after the update, the validation loss and the probe. Step 0 applies no update.
    `start_step` and `optimizer` (with its state) continue a saved run exactly where it stopped.
    """
    opt = optimizer if optimizer is not None else make_optimizer(config, model)
    names = [n for n, _ in model.named_parameters()]
    params = list(model.parameters())
    n_probe = probe_samples(config)
    probe_x, probe_y = data.x_val[:n_probe], data.y_val[:n_probe]
    batches = batch_indices(config, len(data.x_train))
    for _ in range(start_step):  # the batches of the steps already done
        next(batches)
    busy = 0.0  # seconds spent in this loop; time the consumer holds the generator paused is not counted
    for step in range(start_step, config.steps + 1):
        if stop is not None and stop():
            return
        t_step = time.perf_counter()
        idx = next(batches)
        _, loss = model(data.x_train[idx], data.y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        loss_v, total_v, norms = _grad_norms(loss, params)
        event = TrainEvent(step, loss_v, None, total_v, dict(zip(names, norms, strict=True)), clipped=False)
        if not (math.isfinite(loss_v) and math.isfinite(total_v)):
            yield _diverged(event, busy + time.perf_counter() - t_step)
            return
        if step > 0:  # step 0 only measures the untrained model
            event.clipped = config.clip is not None and total_v > config.clip
            if event.clipped:  # scale by clip / norm, as torch.nn.utils.clip_grad_norm_ does
                torch._foreach_mul_([p.grad for p in params if p.grad is not None], config.clip / (total_v + 1e-6))
            opt.step()
        last = step == config.steps
        if step % config.eval_every == 0 or last:
            event.val_loss = evaluate(model, data)
            if not math.isfinite(event.val_loss):  # the update itself blew the weights up
                yield _diverged(event, busy + time.perf_counter() - t_step)
                return
        if step % config.probe_every == 0 or last:
            event.probe = replay(model, probe_x, probe_y)
        busy += time.perf_counter() - t_step
        event.seconds = busy
        yield event


def probe_samples(config: RunConfig) -> int:
    """probe_size, capped so one probe's states and gates (float32) stay within PROBE_BYTES_EACH."""
    arrays = {"lstm": 6, "gru": 4}.get(config.cell, 2)  # hidden (+ cell) + gates, each (L, B, T, H)
    per_sample = arrays * config.num_layers * config.seq_len * config.hidden_size * 4
    return max(1, min(config.probe_size, PROBE_BYTES_EACH // per_sample))


def _grad_norms(loss: torch.Tensor, params: list[torch.Tensor]) -> tuple[float, float, list[float]]:
    """(loss, global gradient norm, per-parameter norms) as Python floats, with one sync."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    norms = torch._foreach_norm(grads)
    total = torch.linalg.vector_norm(torch.stack(norms))
    values = torch.stack([loss.detach(), total, *norms]).tolist()
    return values[0], values[1], values[2:]


def _diverged(event: TrainEvent, seconds: float) -> TrainEvent:
    event.diverged, event.clipped, event.probe, event.seconds = True, False, None, seconds
    return event


@torch.no_grad()
def evaluate(model: SequenceModel, data: SequenceData) -> float:
    """Mean loss on a fixed, bounded slice of the validation set (the same samples every time)."""
    _, loss = model(data.x_val[:MAX_VAL], data.y_val[:MAX_VAL])
    return float(loss)


@dataclass
class Run:
    """What a session keeps of a run: config, model, per-step history and probe traces."""

    config: RunConfig
    model: SequenceModel | None = None
    data: SequenceData | None = None
    rows: list[dict] = field(default_factory=list)
    probes: list[tuple[int, Trace]] = field(default_factory=list)
    diverged_at: int | None = None
    seconds: float = 0.0
    optimizer: torch.optim.Optimizer | None = None  # kept so a saved run can continue (rnnviz.runfile)

    def record(self, event: TrainEvent) -> None:
        row = {"step": event.step, "loss": event.loss, "val_loss": event.val_loss,
               "grad_norm": event.grad_norm, "clipped": event.clipped, "diverged": event.diverged,
               "seconds": event.seconds}
        row.update({f"grad/{k}": v for k, v in event.param_grad_norms.items()})
        self.rows.append(row)
        self.seconds = event.seconds
        if event.probe is not None:
            self.probes.append((event.step, event.probe))
            self._thin_probes()
        if event.diverged:
            self.diverged_at = event.step
        self._history = None

    def _thin_probes(self) -> None:
        """Past PROBE_BYTES_PER_RUN drop every other probe between the first and the latest."""
        while len(self.probes) > 2 and sum(t.nbytes for _, t in self.probes) > PROBE_BYTES_PER_RUN:
            first, *middle, last = self.probes
            self.probes = [first, *middle[1::2], last]

    @property
    def history(self) -> pd.DataFrame:
        if getattr(self, "_history", None) is None:
            self._history = pd.DataFrame(self.rows, columns=_columns(self.rows))
        return self._history

    @property
    def step(self) -> int:
        return self.rows[-1]["step"] if self.rows else -1

    @property
    def finished(self) -> bool:
        return self.diverged_at is not None or self.step >= self.config.steps


def _columns(rows: list[dict]) -> list[str]:
    base = ["step", "loss", "val_loss", "grad_norm", "clipped", "diverged", "seconds"]
    return base + [k for k in (rows[0] if rows else {}) if k not in base]


def train_run(config: RunConfig, data: SequenceData | None = None) -> Run:
    """Train to the end (or divergence) and return the whole Run."""
    data = data if data is not None else load_dataset(config)
    model = build_model(config, data)
    run = Run(config, model, data, optimizer=make_optimizer(config, model))
    for event in train_model(config, data, model, optimizer=run.optimizer):
        run.record(event)
    return run


def finite_or_none(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else x
