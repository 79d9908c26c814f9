"""Process-wide sharing for a workshop server: training slots and a cache of finished runs.

A model being trained belongs to one session; only *finished* runs (deterministic
per config) are shared, read-only, through RunCache.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from contextlib import contextmanager

import torch

from rnnviz.train import Run


class Slots:
    """At most `n` sessions train at the same moment; others wait for a free slot."""

    def __init__(self, n: int):
        self.n = max(1, int(n))
        self._sem = threading.BoundedSemaphore(self.n)
        self._lock = threading.Lock()
        self.busy = 0

    @contextmanager
    def hold(self, timeout: float):
        """Yield True while holding a slot, or False if none came free within `timeout` seconds."""
        got = self._sem.acquire(timeout=timeout)
        if got:
            with self._lock:
                self.busy += 1
        try:
            yield got
        finally:
            if got:
                with self._lock:
                    self.busy -= 1
                self._sem.release()


def run_nbytes(run: Run) -> int:
    """Approximate memory held by a run: probes, parameters, data tensors."""
    probes = sum(trace.nbytes for _, trace in run.probes)
    params = sum(p.numel() * p.element_size() for p in run.model.parameters()) if run.model else 0
    data = 0
    if run.data is not None:
        tensors = (run.data.x_train, run.data.y_train, run.data.x_val, run.data.y_val)
        data = sum(t.numel() * t.element_size() for t in tensors)
    return probes + params + data + 200 * len(run.rows)


class RunCache:
    """Finished runs by config key, least recently used evicted past `max_entries` or `max_bytes`."""

    def __init__(self, max_entries: int = 32, max_bytes: int = 512 * 2**20):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._runs: OrderedDict[str, tuple[Run, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> Run | None:
        with self._lock:
            item = self._runs.get(key)
            if item is None:
                self.misses += 1
                return None
            self._runs.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: str, run: Run) -> None:
        if not run.finished:
            raise ValueError("only finished runs can be shared")
        size = run_nbytes(run)
        if size > self.max_bytes:
            return
        with self._lock:
            self._runs[key] = (run, size)
            self._runs.move_to_end(key)
            while len(self._runs) > self.max_entries or self.nbytes > self.max_bytes:
                self._runs.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()

    @property
    def nbytes(self) -> int:
        return sum(size for _, size in self._runs.values())

    def __len__(self) -> int:
        return len(self._runs)


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


SLOTS = Slots(_env_int("RNNVIZ_TRAINING_SLOTS", os.cpu_count() or 1))
RUN_CACHE = RunCache(_env_int("RNNVIZ_CACHE_RUNS", 32), _env_int("RNNVIZ_CACHE_MB", 512) * 2**20)
TORCH_THREADS = _env_int("RNNVIZ_TORCH_THREADS", 1)


def configure_torch() -> None:
    """One intra-op thread per training session: sessions share the cores instead of fighting."""
    if torch.get_num_threads() != TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)
