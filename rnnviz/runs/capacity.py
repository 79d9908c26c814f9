"""Process-wide sharing for a workshop server: training slots and a cache of finished runs.

A model being trained belongs to one session; only *finished* runs (deterministic
per config) are shared, read-only, through RunCache.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
from collections import OrderedDict, deque
from contextlib import contextmanager

import torch

from rnnviz import server
from rnnviz.engine.train import Run


class Slots:
    """At most `n` runs train at the same moment; the others wait their turn, first come first served.

    A worker releases its slot every slice of training and asks again, so a plain semaphore would let
    it take the slot straight back; tickets in arrival order make waiting sessions get their turn.
    """

    def __init__(self, n: int):
        self.n = max(1, int(n))
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self.busy = 0

    @contextmanager
    def hold(self, timeout: float):
        """Yield True while holding a slot, or False if none came free within `timeout` seconds."""
        got = self._acquire(timeout)
        try:
            yield got
        finally:
            if got:
                with self._cond:
                    self.busy -= 1
                    self._cond.notify_all()

    def _acquire(self, timeout: float) -> bool:
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            got = self._cond.wait_for(lambda: self._queue[0] is ticket and self.busy < self.n, timeout)
            self._queue.remove(ticket)
            if got:
                self.busy += 1
            self._cond.notify_all()  # whoever is first in line now may go
            return got

    @property
    def waiting(self) -> int:
        """Sessions waiting for a slot right now."""
        return len(self._queue)


def run_nbytes(run: Run) -> int:
    """Approximate memory held by a run: probes, parameters (and their last gradients), data tensors and the
    weights kept at each probe step."""
    probes = sum(trace.nbytes for _, trace in run.probes)
    params = 0
    if run.model is not None:
        for p in run.model.parameters():
            params += p.numel() * p.element_size() * (1 if p.grad is None else 2)
    data = 0
    if run.data is not None:
        tensors = (run.data.x_train, run.data.y_train, run.data.x_val, run.data.y_val)
        data = sum(t.numel() * t.element_size() for t in tensors)
    weights = sum(v.nbytes for w in getattr(run, "weights", {}).values() for v in w.values())  # kept per probe
    return probes + params + data + weights + 200 * len(run.rows)


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


SLOTS = Slots(server.TRAINING_SLOTS)  # RNNVIZ_* variables are validated in rnnviz.server
SWEEP_SLOTS = Slots(max(1, SLOTS.n - 1))  # sweeps, all together, leave at least one training slot to live sessions
UNLIMITED = Slots(2**31 - 1)  # for runs that train elsewhere (Ray actors): the cluster schedules them, not this server
RUN_CACHE = RunCache(server.CACHE_RUNS, server.CACHE_MB * 2**20)
SWITCH_INTERVAL = 0.0002  # seconds
TORCH_THREADS = server.TORCH_THREADS


def configure_torch() -> None:
    """One intra-op thread per training session: sessions share the cores instead of fighting.

    Sessions are threads of one process. A training step is hundreds of small torch calls, each
    dropping and retaking the GIL; with Python's default 5 ms switch interval, a thread drawing a
    page makes the trainer wait up to 5 ms per call (the convoy effect). A short interval fixes it.
    Once per server, torch._dynamo is imported beside the page (warm_up_optimizers).
    """
    if torch.get_num_threads() != TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)
    warm_up_optimizers()


@functools.cache
def warm_up_optimizers() -> None:
    """Import, once per server and beside the page, what torch imports the first time any optimizer is built
    (torch._dynamo: 3 s here, 6-13 s when the cores are busy), so the first run file opened (its Adam state is
    checked by loading it) or the first Play does not wait for it."""
    warm = threading.Thread(target=importlib.import_module, args=("torch._dynamo",), name="rnnviz-warm-up", daemon=True)
    warm.start()
