"""Process-wide sharing for a workshop server: training slots and a cache of finished runs.

A model being trained belongs to one session; only *finished* runs (deterministic
per config) are shared, read-only, through RunCache.
"""

from __future__ import annotations

import os
import sys
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
    """Approximate memory held by a run: probes, parameters (and their last gradients), data tensors."""
    probes = sum(trace.nbytes for _, trace in run.probes)
    params = 0
    if run.model is not None:
        for p in run.model.parameters():
            params += p.numel() * p.element_size() * (1 if p.grad is None else 2)
    data = 0
    if run.data is not None:
        tensors = (run.data.x_train, run.data.y_train, run.data.x_val, run.data.y_val)
        data = sum(t.numel() * t.element_size() for t in tensors)
    return probes + params + data + 200 * len(run.rows)


class RunCache:
    """Finished runs by config key, least recently used evicted past `max_entries` or `max_bytes`.

    Shared read-only between sessions: a run is put only once finished (a finished Run is never
    recorded into again, and a deterministic config gives the same run anyway), and a session that
    wants to train the config again gets a fresh model (Reset). `max_entries=0` turns the cache off.
    """

    def __init__(self, max_entries: int = 32, max_bytes: int = 512 * 2**20):
        self.max_entries, self.max_bytes = max(0, int(max_entries)), max(0, int(max_bytes))
        self._runs: OrderedDict[str, tuple[Run, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._nbytes = 0
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

    def put(self, key: str, run: Run) -> bool:
        """Keep a finished run under `key`; False if it alone exceeds the byte bound (it is not kept)."""
        if not run.finished:
            raise ValueError("only finished runs can be shared")
        if key != run.config.key():
            raise ValueError("a run is cached under its own config's key")
        size = run_nbytes(run)
        with self._lock:
            old = self._runs.pop(key, None)
            if old is not None:
                self._nbytes -= old[1]
            if size > self.max_bytes or self.max_entries == 0:
                return False
            self._runs[key] = (run, size)
            self._nbytes += size
            while len(self._runs) > self.max_entries or self._nbytes > self.max_bytes:
                _, (_, evicted) = self._runs.popitem(last=False)
                self._nbytes -= evicted
            return True

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._nbytes = 0
            self.hits = self.misses = 0

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def keys(self) -> list[str]:
        """Keys from least to most recently used."""
        with self._lock:
            return list(self._runs)

    def __len__(self) -> int:
        return len(self._runs)


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    try:
        return max(minimum, int(os.environ.get(name, default)))
    except ValueError:
        return default


def _cores() -> int:
    """Cores this process may run on (a container's CPU affinity, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


SLOTS = Slots(_env_int("RNNVIZ_TRAINING_SLOTS", _cores()))
RUN_CACHE = RunCache(_env_int("RNNVIZ_CACHE_RUNS", 32, minimum=0), _env_int("RNNVIZ_CACHE_MB", 512, minimum=0) * 2**20)
SWITCH_INTERVAL = 0.0002  # seconds
TORCH_THREADS = _env_int("RNNVIZ_TORCH_THREADS", 1)


def configure_torch() -> None:
    """One intra-op thread per training session: sessions share the cores instead of fighting.

    Sessions are threads of one process. A training step is hundreds of small torch calls, each
    dropping and retaking the GIL; with Python's default 5 ms switch interval, a thread drawing a
    page makes the trainer wait up to 5 ms per call (the convoy effect). A short interval fixes it.
    """
    if torch.get_num_threads() != TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)
