"""Trainer: one session's run, advanced in time-boxed chunks (Play), one step (Step) or reset.

Pure Python: the Streamlit layer (rnnviz/ui) calls it from a timed fragment.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from rnnviz.config import RunConfig
from rnnviz.datasets import SequenceData, load_dataset
from rnnviz.train import Run, build_model, train_model


class Trainer:
    def __init__(self, config: RunConfig, data: SequenceData | None = None, run: Run | None = None):
        """Build data and model for `config` (DatasetError/ConfigError propagate), or wrap a finished run."""
        self.config = config
        self.from_cache = run is not None
        self._recent: deque[tuple[float, int]] = deque(maxlen=20)  # (seconds, steps) of recent chunks
        self._busy = threading.Lock()  # a page switch can start a new tick while the old one still trains
        if run is not None:
            self.run, self._events = run, iter(())
            return
        data = data if data is not None else load_dataset(config)
        self.run = Run(config, build_model(config, data), data)
        self._events = train_model(config, data, self.run.model)
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
            event = next(self._events, None)
            if event is None:
                break
            self.run.record(event)
            n += 1
            if max_steps is None and time.perf_counter() - start >= budget_s:
                break
        if n:
            self._recent.append((time.perf_counter() - start, n))
        return n

    def step(self) -> int:
        return self.advance(max_steps=1)

    def close(self) -> None:
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
