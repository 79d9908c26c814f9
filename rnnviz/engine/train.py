"""Training as a generator of events: the UI steps through it, tests and benches consume it.

Train with the fused torch.nn module; every `probe_every` steps look with an
instrumented replay of a fixed probe batch (see record.py).
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from rnnviz import server
from rnnviz.datasets import SequenceData, load_dataset
from rnnviz.engine import changes as live
from rnnviz.engine.cellspec import spec
from rnnviz.engine.changes import Change, Changes
from rnnviz.engine.config import ConfigError, RunConfig
from rnnviz.engine.memory import PROBE_BYTES_PER_RUN, RESUME_BYTES_PER_RUN, WEIGHT_BYTES_PER_RUN, probe_samples
from rnnviz.engine.model import SequenceModel
from rnnviz.engine.record import Trace, replay

# validation samples scored per evaluation: a fixed slice, so the curve is smooth, and cheap (a pass of 64 samples
# costs half a training step of batch 64: every 25 steps, about 2 % of the time); the Train page scores them all
MAX_VAL = 64


class GradNorms(Mapping):
    """Per-parameter gradient norms by name, kept as the list they were computed in (no dict per step)."""

    __slots__ = ("names", "values_")

    def __init__(self, names: tuple[str, ...], values: list[float]):
        self.names, self.values_ = names, values

    def __getitem__(self, name: str) -> float:
        return self.values_[self.names.index(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class TrainEvent:
    step: int  # updates applied so far (0 = the untrained model)
    loss: float  # training loss of this step's batch
    val_loss: float | None  # None when not evaluated at this step
    grad_norm: float  # global gradient norm before clipping
    param_grad_norms: Mapping[str, float]  # by parameter name, in model.named_parameters() order
    clipped: bool
    diverged: bool = False
    probe: Trace | None = None
    seconds: float = 0.0  # compute time so far (not counting time paused between events)
    sampler: torch.Tensor | None = None  # the batch sampler's state after this step's batch (what a fork goes on from)


def build_model(config: RunConfig, data: SequenceData) -> SequenceModel:
    # the model draws its init from its own generator seeded by config.seed: no global seeding
    return SequenceModel(config, data.input_size, data.output_size, data.task)


OPTIMIZER_KINDS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}


def make_optimizer(config: RunConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    return OPTIMIZER_KINDS[config.optimizer](model.parameters(), lr=config.lr)


class Batches:
    """The run's batches as index tensors, drawn from a generator seeded by the config; a live change may resize
    them (the draws go on from the same generator), and a fork goes on from a saved state."""

    def __init__(self, seed: int, n: int):
        self.n, self.gen = n, torch.Generator().manual_seed(seed)

    def draw(self, size: int) -> torch.Tensor:
        return torch.randint(self.n, (min(size, self.n),), generator=self.gen)

    def state(self) -> torch.Tensor:
        return self.gen.get_state()

    def restore(self, state: torch.Tensor) -> None:
        self.gen.set_state(state)


def batch_indices(config: RunConfig, n: int) -> Iterator[torch.Tensor]:
    """The batches of a run without changes, one after the other."""
    batches = Batches(config.seed, n)
    while True:
        yield batches.draw(config.batch_size)


def train(
    config: RunConfig, data: SequenceData | None = None, stop: Callable[[], bool] | None = None
) -> Iterator[TrainEvent]:
    """Yield one TrainEvent per step (step 0 = before any update). Deterministic per config."""
    yield from new_run(config, data).events(stop)


def new_run(config: RunConfig, data: SequenceData | None = None, changes: Changes = ()) -> Run:
    """The one factory of a run: its data (built from the config unless given), model and optimizer, its live
    `changes` (rnnviz.engine.changes), no step yet.

    Everything that trains or shows a run builds it here (train_run, the trainers, a Ray actor, sweeps, run
    files), so a run is the same whoever makes it. DatasetError / ConfigError propagate."""
    data = data if data is not None else load_dataset(config)
    model = build_model(config, data)
    return Run(config, model, data, optimizer=make_optimizer(config, model), changes=tuple(changes))


def train_model(
    config: RunConfig, data: SequenceData, model: SequenceModel, stop: Callable[[], bool] | None = None,
    *, start_step: int = 0, optimizer: torch.optim.Optimizer | None = None, threads: int | None = None,
    changes: Sequence[Change] | Callable[[], Sequence[Change]] = (), sampler: torch.Tensor | None = None,
    on_optimizer: Callable[[torch.optim.Optimizer], None] | None = None,
) -> Iterator[TrainEvent]:
    """The loop behind train(), on a model the caller keeps (the UI looks at it between steps).

    Event `step` describes: the loss and gradient of that step's batch (taken before its update),
    then, after the update, the validation loss and the probe. Step 0 applies no update.
    `start_step` and `optimizer` (with its state) continue a saved run exactly where it stopped; `sampler` is the
    batch sampler's state after the step before (else the batches already drawn are drawn again and dropped).
    `changes` (or a function giving them, read before every step) are the run's live changes: each step trains
    with the settings config_at gives; a new optimizer kind starts with a fresh state (`on_optimizer` hears it).
    Every step runs on `threads` torch threads (default RNNVIZ_TORCH_THREADS), whichever thread consumes the
    generator (see torch_threads).
    """
    threads = server.TORCH_THREADS if threads is None else threads
    plan = _Plan(config, changes)
    settings = plan.at(start_step - 1)  # what the step before trained with (the optimizer's state is for it)
    update = _Updater(settings, model, optimizer)
    observe = _Observer(settings, data, model)
    batches = Batches(config.seed, len(data.x_train))
    if sampler is not None:
        batches.restore(sampler)
    else:
        for done in range(start_step):  # the batches of the steps already done
            batches.draw(plan.at(done).batch_size)
    busy = 0.0  # seconds spent in this loop; time the consumer holds the generator paused is not counted
    for step in range(start_step, config.steps + 1):
        if stop is not None and stop():
            return
        t_step = time.perf_counter()
        if (now := plan.at(step)) is not settings:
            settings = now
            if update.retune(now) and on_optimizer is not None:
                on_optimizer(update.opt)
            observe.retune(now)
        with torch_threads(threads):
            idx = batches.draw(settings.batch_size)
            event = update(step, data.x_train[idx], data.y_train[idx])
            if not event.diverged:
                observe(event)
        event.sampler = batches.state()
        busy += time.perf_counter() - t_step
        event.seconds = busy
        yield event
        if event.diverged:
            return


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block on `n` intra-op torch threads, then give the calling thread its own count back.

    Under OpenMP the count is per calling thread: a new thread (a worker, an actor, a pool process) does not
    inherit torch.set_num_threads from the thread that started it, and a matmul's sums split over 1 or 2 threads
    round differently in the last bits. Setting it for every step is what makes a run the same numbers whichever
    thread or process trains it."""
    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if before != n:
            torch.set_num_threads(before)


class _Plan:
    """The settings of each step, from the first config and the run's changes (read anew before every step, so a
    change made between two steps is seen by the next). One RunConfig per distinct list of changes in force."""

    def __init__(self, config: RunConfig, changes: Sequence[Change] | Callable[[], Sequence[Change]]):
        self.config = config
        self.source = changes if callable(changes) else (lambda: changes)
        self._made: dict[tuple, RunConfig] = {(): config}

    def at(self, step: int) -> RunConfig:
        due = tuple((c.step, tuple(c.values.items())) for c in self.source() if c.step <= step)
        if due not in self._made:
            self._made[due] = live.config_at(self.config, self.source(), step)
        return self._made[due]


class _Updater:
    """The update part of a step: loss, gradient norms (one host transfer), clipping, optimizer step."""

    def __init__(self, config: RunConfig, model: SequenceModel, opt: torch.optim.Optimizer | None = None):
        self.config, self.model = config, model
        self.opt = opt if opt is not None else make_optimizer(config, model)
        self.names = tuple(n for n, _ in model.named_parameters())
        self.params = list(model.parameters())

    def retune(self, config: RunConfig) -> bool:
        """Train on with `config`'s learning rate, clipping and optimizer; True when the optimizer is a new one
        (another kind: its state starts afresh, the weights stay)."""
        before, self.config = self.config, config
        if config.optimizer != before.optimizer:
            self.opt = make_optimizer(config, self.model)
            return True
        if config.lr != before.lr:
            for group in self.opt.param_groups:
                group["lr"] = config.lr
        return False

    def __call__(self, step: int, x: torch.Tensor, y: torch.Tensor) -> TrainEvent:
        _, loss = self.model(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        loss_v, total, total_v, norms = self._measure(loss)
        event = TrainEvent(step, loss_v, None, total_v, GradNorms(self.names, norms), clipped=False)
        if not (math.isfinite(loss_v) and math.isfinite(total_v)):
            return _diverged(event)
        if step > 0:  # step 0 only measures the untrained model
            clip = self.config.clip
            event.clipped = clip is not None and total_v > clip
            if event.clipped:  # scale by clip / (norm + 1e-6), reusing the norm measured above; in float64
                # so the factor is computed as the float arithmetic before this computed it (bit for bit)
                torch.nn.utils.clip_grads_with_norm_(self.params, clip, total.double(), foreach=True)
            self.opt.step()
        return event

    def _measure(self, loss: torch.Tensor) -> tuple[float, torch.Tensor, float, list[float]]:
        """One pass over the gradients for the per-parameter norms; the global norm is the norm of those.

        That is how torch.nn.utils.get_total_norm(grads, foreach=True) computes it (vector_norm of the stacked
        per-tensor norms), bit for bit; calling it here would compute every gradient's norm a second time.
        """
        with torch.no_grad():
            norms = [torch.linalg.vector_norm(p.grad) if p.grad is not None else _ZERO for p in self.params]
            total = torch.linalg.vector_norm(torch.stack(norms))  # (): ||all gradients||
            values = torch.stack([loss.detach(), total, *norms]).tolist()  # the step's one host transfer
        return values[0], total, values[1], values[2:]


_ZERO = torch.zeros(())


class _Observer:
    """The observe part of a step, after its update: validation loss and the probe, when they are due."""

    def __init__(self, config: RunConfig, data: SequenceData, model: SequenceModel):
        self.data, self.model = data, model
        self.retune(config)

    def retune(self, config: RunConfig) -> None:
        self.config, self.every = config, probe_plan(config)[0]
        n_probe = probe_samples(config)
        self.probe_x, self.probe_y = self.data.x_val[:n_probe], self.data.y_val[:n_probe]

    def __call__(self, event: TrainEvent) -> None:
        step, last = event.step, event.step == self.config.steps
        if step % self.config.eval_every == 0 or last:
            event.val_loss = evaluate(self.model, self.data)
            if not math.isfinite(event.val_loss):  # the update itself blew the weights up
                _diverged(event)
                return
        if step % self.every == 0 or last:
            event.probe = replay(self.model, self.probe_x, self.probe_y)


PROBE_SHARE = 0.05  # probes may take at most this share of training time: past it they are spaced further apart
PROBE_SLACK_S = 0.05  # ...unless all the asked-for probes together add less than this to the run (tiny runs)


def probe_plan(config: RunConfig) -> tuple[int, str | None]:
    """(steps between probes, a note for the page or None): config.probe_every, or more when a probe would
    take more than PROBE_SHARE of the time; the first and last steps are always probed."""
    probe = probe_seconds(config)
    if probe * (config.steps // config.probe_every + 2) <= PROBE_SLACK_S:
        return config.probe_every, None
    ratio = probe / step_seconds(config)  # one probe, in training steps
    every = max(config.probe_every, math.ceil(ratio * (1 - PROBE_SHARE) / PROBE_SHARE))
    if every == config.probe_every:
        return every, None
    return every, f"probing every {every} steps (not {config.probe_every}) to keep training fast"


def step_seconds(config: RunConfig) -> float:
    """Estimated time of one fused training step (one torch thread), from bench/bench_scaling.py's fit."""
    G = spec(config.cell).gate_count
    work = config.batch_size * G * config.hidden_size * config.hidden_size  # multiply-adds per layer and step
    return STEP_FIXED_S + config.seq_len * config.num_layers * (STEP_PER_T_S + work * STEP_PER_MAC_S)


def probe_seconds(config: RunConfig) -> float:
    """Estimated time of one probe: replay() of probe_samples(config) sequences (one torch thread)."""
    G = spec(config.cell).gate_count
    work = probe_samples(config) * G * config.hidden_size * config.hidden_size
    return PROBE_FIXED_S + config.seq_len * config.num_layers * (PROBE_PER_T_S + work * PROBE_PER_MAC_S)


# least squares over bench/bench_scaling.py's grid (`--fit`) on this project's 2-core CPU, one torch thread: fixed
# cost, per time step and layer, per multiply-add of the recurrent matmul. The spacing depends on their ratios only
# (a probe's few small ops per step against the fused kernel's work), which a faster or slower CPU keeps.
STEP_FIXED_S, STEP_PER_T_S, STEP_PER_MAC_S = 1.9e-3, 140e-6, 2.45e-10
PROBE_FIXED_S, PROBE_PER_T_S, PROBE_PER_MAC_S = 2.3e-3, 84e-6, 3.7e-10


def _diverged(event: TrainEvent) -> TrainEvent:
    event.diverged, event.clipped, event.probe = True, False, None
    return event


@torch.no_grad()
def evaluate(model: SequenceModel, data: SequenceData) -> float:
    """Mean loss on a fixed, bounded slice of the validation set (the same samples every time)."""
    _, loss = model(data.x_val[:MAX_VAL], data.y_val[:MAX_VAL])
    return float(loss)


BASE_COLUMNS = ("step", "loss", "val_loss", "grad_norm", "clipped", "diverged", "seconds")


@dataclass
class Run:
    """What a session keeps of a run: config and live changes, model, per-step history and probe traces.

    One thread may record while others read: a row is appended whole, `probes` is replaced (never
    changed in place) and `history` is built from the rows recorded so far, so readers never see half a step.
    The run's settings are `config` (its first) and `changes` (live ones, from a step on): see config_at.
    """

    config: RunConfig
    model: SequenceModel | None = None
    data: SequenceData | None = None
    probes: list[tuple[int, Trace]] = field(default_factory=list)
    diverged_at: int | None = None
    seconds: float = 0.0
    weights: dict[int, dict] = field(default_factory=dict)  # probe step -> model state_dict then (for dynamics)
    changes: Changes = ()  # live changes in step order (rnnviz.engine.changes)
    fork_step: int | None = None  # forked from another run at this step: its rows up to it are the parent's
    sampler: torch.Tensor | None = None  # the batch sampler's state after the last step (None: drawn again)
    resume: dict[int, tuple[dict, torch.Tensor]] = field(default_factory=dict)  # probe step -> optimizer, sampler
    keeps_resume: bool = True  # False for a mirror whose optimizer does not train (rnnviz.runs.remote)
    version: int = 0  # goes up whenever there is something new to draw (validation, probe, divergence, the end)
    _rows: list[tuple] = field(default_factory=list, repr=False)  # one tuple per step, in `columns` order
    _grad_names: tuple[str, ...] | None = field(default=None, repr=False)
    _frame: pd.DataFrame | None = field(default=None, repr=False)  # history of the first len(_frame) rows
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    optimizer: torch.optim.Optimizer | None = None  # kept so a saved run can continue (rnnviz.runs.runfile)
    stepping: threading.Lock = field(default_factory=threading.Lock, repr=False)  # held by a trainer for each step
    _copy: tuple[int, SequenceModel] | None = field(default=None, repr=False)  # (step, model copy) for readers
    _waiting: list = field(default_factory=list, repr=False)  # one item per reader waiting for `stepping`

    def record(self, event: TrainEvent) -> None:
        norms = event.param_grad_norms
        if self._grad_names is None:
            self._grad_names = tuple(norms)
        values = norms.values_ if isinstance(norms, GradNorms) else list(norms.values())
        val = math.nan if event.val_loss is None else event.val_loss
        self._rows.append((event.step, event.loss, val, event.grad_norm, event.clipped, event.diverged,
                           event.seconds, *values))  # one append: readers see the whole row or none of it
        self.seconds, self.sampler = event.seconds, event.sampler
        if event.probe is not None:
            self.probes = _thinned([*self.probes, (event.step, event.probe)])  # a new list: readers keep theirs
            self._keep_weights(event.step)
            self._keep_resume(event.step)
        if event.diverged:
            self.diverged_at = event.step
        if event.val_loss is not None or event.probe is not None or event.diverged or self.finished:
            self.version += 1

    def _keep_weights(self, step: int) -> None:
        """The weights a probe saw (the generator is paused right after it), so its Jacobians can be found later.

        Only for probes still kept, and within WEIGHT_BYTES_PER_RUN (thinned like probes); a new dict each time,
        so readers keep theirs."""
        if self.model is None:
            return
        kept = {s for s, _ in self.probes}
        weights = {s: w for s, w in self.weights.items() if s in kept}
        weights[step] = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        size = sum(v.nbytes for v in weights[step].values())
        while len(weights) > 2 and size * len(weights) > WEIGHT_BYTES_PER_RUN:
            first, *middle, last = sorted(weights)  # as for probes: every other one between first and latest
            weights = {s: weights[s] for s in [first, *middle[1::2], last]}
        self.weights = weights

    def _keep_resume(self, step: int) -> None:
        """With the weights a probe saw, the optimizer's state and the batch sampler's then: a fork from this step
        starts at once (else it replays from an earlier one). Within RESUME_BYTES_PER_RUN, thinned alike."""
        if not self.keeps_resume or self.optimizer is None or self.sampler is None or step not in self.weights:
            return
        kept = {s: r for s, r in self.resume.items() if s in self.weights}
        kept[step] = (_cloned_state(self.optimizer.state_dict()), self.sampler)
        size = _state_bytes(kept[step][0])
        while len(kept) > 2 and size * len(kept) > RESUME_BYTES_PER_RUN:
            first, *middle, last = sorted(kept)
            kept = {s: kept[s] for s in [first, *middle[1::2], last]}
        self.resume = kept

    # ---- settings and live changes

    def config_at(self, step: int) -> RunConfig:
        """The settings step `step` trained (or will train) with."""
        return live.config_at(self.config, self.changes, step)

    @property
    def current_config(self) -> RunConfig:
        """The settings the next step trains with (what the sidebar shows)."""
        return self.config_at(max(self.step + 1, 0))

    def change(self, values: Mapping[str, object]) -> Change | None:
        """Apply live settings from the next step on (between two steps: a step under way in another thread ends
        first). Returns the change, or None when the values are the ones in force. ConfigError when a value is
        refused or the run has nothing left to train; the run then goes on unchanged."""
        self._waiting.append(None)
        try:
            with self.stepping:
                if self.finished:
                    raise ConfigError("this run has finished: fork it from one of its steps, or start a new run")
                step = max(self.step + 1, 1)
                changes = live.add(self.config, self.changes, step, values)
                if changes == self.changes:
                    return None
                self.changes = changes
                self.version += 1
                return changes[-1] if changes and changes[-1].step == step else None
        finally:
            self._waiting.pop()

    def change_labels(self) -> list[tuple[int, str]]:
        """(step, "lr 0.01 → 0.001") for each change in step order; a fork's step as (step, "fork: <its change>")."""
        marks = []
        for change in self.changes:
            text = live.label(self.config, self.changes, change)
            if self.fork_step is not None and change.step == self.fork_step + 1:
                marks.append((self.fork_step, f"fork: {text}"))
            else:
                marks.append((change.step, text))
        if self.fork_step is not None and all(not t.startswith("fork") for _, t in marks):
            marks.append((self.fork_step, "fork"))
        return sorted(marks)

    def restore_columns(self, table: dict[str, np.ndarray]) -> None:
        """Put back a history saved as one array per column (a run file: 100,001 rows take a tenth of a second
        this way, against seconds as dicts); `grad/<name>` per parameter, NaN where a step was not validated."""
        with self._lock:
            names = [k.removeprefix("grad/") for k in table if k.startswith("grad/")]
            self._grad_names = tuple(names) or self._grad_names
            self._rows = list(zip(*(table[c].tolist() for c in self.columns), strict=True))  # python numbers
            self._frame = pd.DataFrame({c: table[c] for c in self.columns}) if self._rows else None
            self.version += 1

    def events(self, stop: Callable[[], bool] | None = None) -> Iterator[TrainEvent]:
        """The training events that continue this run from its next step (step 0 for a new run), exactly as an
        uninterrupted run would go on: the batches already drawn are skipped, the optimizer keeps its state."""
        if self.finished or self.model is None or self.data is None:
            return iter(())
        if self.optimizer is None:
            self.optimizer = make_optimizer(self.config_at(self.step), self.model)
        events = train_model(self.config, self.data, self.model, stop, start_step=self.step + 1,
                             optimizer=self.optimizer, changes=lambda: self.changes, sampler=self.sampler,
                             on_optimizer=self._use_optimizer)
        return _offset_seconds(events, self.seconds) if self.seconds else events

    def _use_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer  # a change of kind: the loop's new one is what saving and forking read

    @contextmanager
    def one_step(self):
        """Held by a trainer while it takes (and records) one step. A lock is not fair: a trainer taking it
        again at once could keep a reader out for a whole chunk, so it lets a waiting reader in first."""
        with self.stepping:
            yield
        if self._waiting:
            time.sleep(0.001)  # gives the GIL away: the reader woken by the release takes the lock

    def current_model(self) -> SequenceModel | None:
        """The model as it is between two steps: a copy that views may read (autograd included) while another
        thread goes on training the original. One copy per step, shared by every view that asks."""
        self._waiting.append(None)  # list append/pop are atomic: a counter += is not
        try:
            with self.stepping:
                if self.model is not None and (self._copy is None or self._copy[0] != self.step):
                    self._copy = (self.step, copy.deepcopy(self.model))
                return None if self.model is None else self._copy[1]
        finally:
            self._waiting.pop()

    def snapshot(self) -> Run:
        """The run as it is now, for saving while it trains on: copies of the weights and the optimizer's state
        (milliseconds, even at 512 units), and of the lists of rows and probes (whose items never change). Only
        what a run file holds: no data, no dynamics weights. Take it between two steps."""
        frozen = Run(self.config, _Frozen(_cloned(self.model.state_dict())) if self.model is not None else None,
                     probes=list(self.probes), diverged_at=self.diverged_at, seconds=self.seconds,
                     _rows=self._rows[:], _grad_names=self._grad_names, _frame=self._frame,
                     changes=self.changes, fork_step=self.fork_step, sampler=self.sampler,
                     optimizer=_Frozen(copy.deepcopy(self.optimizer.state_dict())) if self.optimizer else None)
        return frozen

    def __getstate__(self) -> dict:
        """Picklable and copyable: the locks, the cached frame and the model copy are rebuilt, not copied."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_frame", "stepping", "_copy", "_waiting")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock(), _frame=None, stepping=threading.Lock(), _copy=None,
                             _waiting=[])

    @property
    def columns(self) -> list[str]:
        return [*BASE_COLUMNS, *(f"grad/{n}" for n in self._grad_names or ())]

    @property
    def rows(self) -> Sequence[dict]:
        """The recorded steps as dicts by column (built when read; the run keeps compact tuples)."""
        return _Rows(self._rows[:], self.columns)

    @property
    def history(self) -> pd.DataFrame:
        """One row per recorded step (a consistent snapshot, also while another thread records)."""
        with self._lock:  # one reader extends the cached frame at a time
            n, frame = len(self._rows), self._frame
            if frame is None or len(frame) != n:
                done = 0 if frame is None else len(frame)
                new = pd.DataFrame(self._rows[done:n], columns=self.columns)
                frame = new if frame is None or not done else pd.concat([frame, new], ignore_index=True)
                self._frame = frame
        return frame

    def latest_losses(self) -> dict[str, float]:
        """The last step's training loss and the last validation loss (empty before any step)."""
        every = max([self.config.eval_every, *(c.values.get("eval_every", 0) for c in self.changes)])
        rows = self._rows[-(every + 1):]
        out = {"loss": rows[-1][1]} if rows else {}
        val = next((r[2] for r in reversed(rows) if not math.isnan(r[2])), None)
        return out if val is None else {**out, "val_loss": val}

    @property
    def step(self) -> int:
        rows = self._rows
        return rows[-1][0] if rows else -1

    @property
    def finished(self) -> bool:
        return self.diverged_at is not None or self.step >= self.config.steps

    @property
    def seconds_per_step(self) -> float | None:
        """Compute time per update so far (None before the first update)."""
        return self.seconds / self.step if self.step > 0 else None

    @property
    def probe_every(self) -> int:
        """Steps between probes as trained now: probe_every, or more when probes would slow training."""
        return probe_plan(self.current_config)[0]

    @property
    def probe_note(self) -> str | None:
        """Why probes are further apart than asked (None when they are not)."""
        return probe_plan(self.current_config)[1]


class _Frozen:
    """A model's or optimizer's state, kept aside: what saving a snapshot asks of them."""

    def __init__(self, state: dict):
        self._state = state

    def state_dict(self) -> dict:
        return self._state


def _cloned(state: dict) -> dict:
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v) for k, v in state.items()}


def _cloned_state(state: dict) -> dict:
    """A copy of an optimizer's state_dict that training on cannot change."""
    return copy.deepcopy(state)


def _state_bytes(state: dict) -> int:
    return sum(v.nbytes for per in state.get("state", {}).values() for v in per.values() if isinstance(v, torch.Tensor))


class _Rows(Sequence):
    """A read-only view of recorded rows as dicts, made one at a time when indexed."""

    def __init__(self, rows: list[tuple], columns: list[str]):
        self._rows, self._columns = rows, columns

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [dict(zip(self._columns, r, strict=True)) for r in self._rows[i]]
        return dict(zip(self._columns, self._rows[i], strict=True))


def _thinned(probes: list[tuple[int, Trace]]) -> list[tuple[int, Trace]]:
    """Past PROBE_BYTES_PER_RUN drop every other probe between the first and the latest."""
    while len(probes) > 2 and sum(t.nbytes for _, t in probes) > PROBE_BYTES_PER_RUN:
        first, *middle, last = probes
        probes = [first, *middle[1::2], last]
    return probes


def fork_run(run: Run, step: int, values: Mapping[str, object] | None = None) -> Run:
    """A new run that is `run` up to `step` and trains on from there with `values` (live settings) from step + 1.

    It starts from that step's weights, optimizer state and batch sampler: kept with each probe (a probe step whose
    state was thinned away, or any other step, is reached by training again from the nearest earlier one kept, or
    from step 0 — the same numbers, as a run is deterministic). Its rows up to `step` are the parent's. Its
    settings are the parent's first config, the parent's changes up to `step` and the new one: a link to the fork
    trains it from step 0. ConfigError for a step that is not in the run or is at or after its divergence, and
    for a refused value."""
    if run.model is None or run.data is None:
        raise ConfigError("this run has no model here to fork (it was not trained or loaded on this server)")
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= run.step:
        raise ConfigError(f"step {step} is not in this run: fork from a step from 0 to {max(run.step, 0):,}")
    if run.diverged_at is not None and step >= run.diverged_at:
        before = [s for s, _ in run.probes if s < run.diverged_at]
        hint = f"; the last probe before it is step {before[-1]:,}" if before else ""
        raise ConfigError(f"step {step:,} is at or after the divergence (step {run.diverged_at:,}): its weights are "
                          f"not finite. Fork from an earlier step{hint}")
    if step >= run.config.steps:
        raise ConfigError(f"step {step:,} is the run's last: a fork of it would have nothing to train")
    changes = tuple(c for c in run.changes if c.step <= step)
    if values:
        changes = live.add(run.config, changes, step + 1, values)
    model, optimizer, sampler = _state_at(run, step)
    rows = [r for r in run._rows if r[0] <= step]
    return Run(run.config, model, run.data, probes=[p for p in run.probes if p[0] <= step],
               seconds=rows[-1][6] if rows else 0.0, weights={s: w for s, w in run.weights.items() if s <= step},
               resume={s: r for s, r in run.resume.items() if s <= step}, changes=changes, fork_step=step,
               sampler=sampler, _rows=rows, _grad_names=run._grad_names, optimizer=optimizer)


def _state_at(run: Run, step: int) -> tuple[SequenceModel, torch.optim.Optimizer, torch.Tensor]:
    """Copies of the model, optimizer and sampler as they were after `step`."""
    model = build_model(run.config, run.data)
    if step == run.step and run.sampler is not None and run.optimizer is not None:
        with run.stepping:  # between two steps of a run that may be training
            model.load_state_dict(run.model.state_dict())
            optimizer = make_optimizer(run.config_at(step), model)
            optimizer.load_state_dict(_cloned_state(run.optimizer.state_dict()))
            return model, optimizer, run.sampler
    kept = [s for s in run.resume if s <= step and s in run.weights]
    start = max(kept, default=None)
    if start is None:  # from the untrained model: new_run's weights are the config's
        optimizer, sampler, first = make_optimizer(run.config, model), None, 0
    else:
        model.load_state_dict(run.weights[start])
        optimizer = make_optimizer(run.config_at(start), model)
        optimizer.load_state_dict(_cloned_state(run.resume[start][0]))
        sampler, first = run.resume[start][1], start + 1
    holder = Run(run.config, model, run.data, changes=tuple(c for c in run.changes if c.step <= step),
                 optimizer=optimizer)
    if first <= step:
        for event in train_model(run.config, run.data, model, start_step=first, optimizer=optimizer,
                                 changes=holder.changes, sampler=sampler, on_optimizer=holder._use_optimizer):
            sampler = event.sampler
            if event.step >= step or event.diverged:
                break
    return model, holder.optimizer, sampler


def train_run(config: RunConfig, data: SequenceData | None = None, changes: Changes = ()) -> Run:
    """Train to the end (or divergence) and return the whole Run."""
    run = new_run(config, data, changes)
    for event in run.events():
        run.record(event)
    return run


def _offset_seconds(events: Iterator[TrainEvent], seconds: float) -> Iterator[TrainEvent]:
    """A continued loop counts its time from 0; the run's clock carries on from what it had."""
    for event in events:
        event.seconds += seconds
        yield event
