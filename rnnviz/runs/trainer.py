"""Trainers: what advances one run, a step or a time-boxed chunk at a time — here, or in a Ray actor.

`Trainer` is the protocol every trainer implements (LocalTrainer below, RayTrainer in rnnviz.runs.remote);
workers, the registry and the pages rely on it alone.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, runtime_checkable

from rnnviz.datasets import SequenceData
from rnnviz.engine.changes import Change, Changes
from rnnviz.engine.config import RunConfig
from rnnviz.engine.train import Run, TrainEvent, new_run


@runtime_checkable
class Trainer(Protocol):
    config: RunConfig
    run: Run  # what the pages read (for a Ray actor, the local mirror)
    from_cache: bool  # a finished run shared by the server's run cache: nothing to train
    shareable: bool  # trained from its settings here: deterministic, so fit for the run cache once finished
    remote: bool  # trains on a cluster's CPUs, not in one of this server's training slots
    notice: str | None  # one line for the page about where it trains (e.g. Ray configured but unusable)

    @property
    def finished(self) -> bool: ...

    @property
    def steps_per_second(self) -> float | None: ...

    def advance(self, budget_s: float = 0.25, max_steps: int | None = None) -> int: ...

    def step(self) -> int: ...

    def between_steps(self) -> AbstractContextManager: ...

    def change(self, values: dict) -> Change | None: ...

    def close(self) -> None: ...

    def seconds_left(self, duty: float = 1.0) -> float | None: ...


class LocalTrainer:
    """Trains a Run in this process, in whichever thread calls advance() (one at a time)."""

    remote = False

    def __init__(self, run: Run, events: Iterator[TrainEvent] | None = None, *, from_cache: bool = False,
                 shareable: bool = False, notice: str | None = None):
        """Wrap `run`; training continues it from its next step (`events` to replace that loop, e.g. a Ray
        actor keeping what it sends). A run with no step yet takes step 0 at once, so every view has something."""
        self.run, self.config = run, run.config
        self.from_cache, self.shareable, self.notice = from_cache, shareable, notice
        self._recent: deque[tuple[float, int]] = deque(maxlen=20)  # (seconds, steps) of recent chunks
        self._busy = threading.Lock()  # one step at a time, and nothing reads the model mid-step
        self._closing = False  # set first by close(), so a training loop stops asking for the lock
        self._events = iter(()) if from_cache else events if events is not None else run.events()
        if run.step < 0:
            self.advance(max_steps=1)  # step 0: the untrained model
            self._recent.clear()

    @classmethod
    def fresh(cls, config: RunConfig, data: SequenceData | None = None, notice: str | None = None,
              changes: Changes = ()) -> LocalTrainer:
        """A new run of `config` and its live `changes` (DatasetError / ConfigError propagate), at step 0."""
        run = new_run(config, data, changes)
        return cls(run, shareable=not changes, notice=notice)

    @property
    def finished(self) -> bool:
        return self.run.finished

    def advance(self, budget_s: float = 0.25, max_steps: int | None = None) -> int:
        """Consume events for about `budget_s` seconds (or `max_steps`); returns how many.

        If another thread is already advancing this trainer, returns 0 at once.
        """
        if self._closing or not self._busy.acquire(blocking=False):
            return 0
        try:
            return self._advance(budget_s, max_steps)
        finally:
            self._busy.release()

    def _advance(self, budget_s: float, max_steps: int | None) -> int:
        start, n = time.perf_counter(), 0
        while not self.finished and (max_steps is None or n < max_steps):
            with self.run.one_step():  # readers of the model (Run.current_model) wait for this step, not the chunk
                event = next(self._events, None)
                if event is not None:
                    self.run.record(event)
            if event is None:
                break
            n += 1
            if max_steps is None and time.perf_counter() - start >= budget_s:
                break
        if n:
            self._recent.append((time.perf_counter() - start, n))
        return n

    def step(self) -> int:
        return self.advance(max_steps=1)

    @contextmanager
    def between_steps(self):
        """Hold training still while the caller reads the model (e.g. saves the run)."""
        with self._busy:
            yield

    def change(self, values: dict) -> Change | None:
        """Live settings from the next step on (Run.change: ConfigError when refused, the run unchanged). A run
        changed live is no longer the one its first settings make, so the run cache never serves it."""
        change = self.run.change(values)
        if change is not None:
            self.shareable = False
        return change

    def close(self) -> None:
        """Finish the training generator; waits for a step under way in another thread (and keeps that thread from
        taking the lock again first: a lock is not fair)."""
        self._closing = True
        with self._busy:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()

    @property
    def steps_per_second(self) -> float | None:
        """Training speed over the recent chunks (time spent training, not waiting between ticks)."""
        return rate(self._recent)

    def seconds_left(self, duty: float = 1.0) -> float | None:
        """Estimated wall time to the last step when training runs `duty` of the time."""
        return seconds_left(self, duty)


def rate(recent: deque[tuple[float, int]]) -> float | None:
    """Steps per second over (seconds, steps) chunks. The training thread appends to `recent` while a page asks:
    tuple() copies it in one step under the GIL, where a generator over it would see it change."""
    chunks = tuple(recent)
    seconds = sum(s for s, _ in chunks)
    return sum(n for _, n in chunks) / seconds if seconds > 0 else None


def seconds_left(trainer: Trainer, duty: float = 1.0) -> float | None:
    pace = trainer.steps_per_second
    return None if pace is None else max(trainer.config.steps - trainer.run.step, 0) / (pace * duty)
