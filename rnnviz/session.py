"""Trainer: one session's run, advanced in time-boxed chunks (Play), one step (Step) or reset.

Pure Python: the Streamlit layer (rnnviz/ui) calls it from a timed fragment.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from rnnviz.config import RunConfig
from rnnviz.datasets import SequenceData, load_dataset
from rnnviz.train import Run, TrainEvent, build_model, make_optimizer, train_model


class Trainer:
    def __init__(self, config: RunConfig, data: SequenceData | None = None, run: Run | None = None,
                 events: Iterator[TrainEvent] | None = None, opened: bool = False):
        """Build data and model for `config` (DatasetError/ConfigError propagate), or wrap a finished run
        (from the run cache), or a run opened from a file (`opened`) with the `events` that continue it."""
        self.config = config
        self.from_cache = run is not None and not opened
        self.trained_here = run is None  # built from its config on this server: deterministic, fit to share
        self._recent: deque[tuple[float, int]] = deque(maxlen=20)  # (seconds, steps) of recent chunks
        self._busy = threading.Lock()  # one step at a time, and nothing reads the model mid-step
        if run is not None:
            self.run, self._events = run, events if events is not None else iter(())
            return
        data = data if data is not None else load_dataset(config)
        model = build_model(config, data)
        self.run = Run(config, model, data, optimizer=make_optimizer(config, model))  # kept: a run file continues
        self._events = train_model(config, data, model, optimizer=self.run.optimizer)
        self.advance(max_steps=1)  # step 0: the untrained model, so every view has something to show
        self._recent.clear()

    @property
    def finished(self) -> bool:
        return self.run.finished

    def advance(self, budget_s: float = 0.25, max_steps: int | None = None) -> int:
        """Consume events for about `budget_s` seconds (or `max_steps`); returns how many.

        If another thread is already advancing this trainer, returns 0 at once.
        """
        if not self._busy.acquire(blocking=False):
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

    def close(self) -> None:
        """Finish the training generator; waits for a step under way in another thread."""
        with self._busy:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()

    @property
    def steps_per_second(self) -> float | None:
        """Training speed over the recent chunks (time spent training, not waiting between ticks)."""
        seconds = sum(s for s, _ in self._recent)
        return sum(n for _, n in self._recent) / seconds if seconds > 0 else None

    def seconds_left(self, duty: float = 1.0) -> float | None:
        """Estimated wall time to the last step when training runs `duty` of the time."""
        rate = self.steps_per_second
        return None if rate is None else max(self.config.steps - self.run.step, 0) / (rate * duty)
