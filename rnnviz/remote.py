"""RayTrainer: a live session's training in a Ray actor, behind the public API of rnnviz.session.Trainer.

The web server keeps a local mirror `Run` (rows, probes, and a model whose weights follow the actor's), so pages
draw as usual while the cluster trains. Needs ray (requirements-ray.txt) and an initialised Ray or an address.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import torch

from rnnviz.config import RunConfig
from rnnviz.datasets import SequenceData, load_dataset
from rnnviz.session import Trainer
from rnnviz.train import Run, _thinned, build_model


class TrainerActor:
    """Runs in the actor: an ordinary Trainer; each call returns what the mirror has not seen yet."""

    def __init__(self, config: RunConfig):
        torch.set_num_threads(1)  # the actor holds one CPU of the cluster
        self.trainer = Trainer(config)

    def advance(self, budget_s: float, max_steps: int | None, rows_seen: int, last_probe: int) -> dict:
        n = self.trainer.advance(budget_s, max_steps)
        return self.since(rows_seen, last_probe) | {"n": n}

    def since(self, rows_seen: int, last_probe: int) -> dict:
        run = self.trainer.run
        return {
            "rows": [run.rows[i] for i in range(rows_seen, len(run.rows))],
            "probes": [(s, t) for s, t in run.probes if s > last_probe],
            "state": {k: v.clone() for k, v in run.model.state_dict().items()},
            "diverged_at": run.diverged_at, "seconds": run.seconds,
            "steps_per_second": self.trainer.steps_per_second,
        }


_ACTOR = None


def _actor_class():
    """The Ray actor class, made once (ray is imported only when a RayTrainer is built)."""
    global _ACTOR
    if _ACTOR is None:
        import ray

        _ACTOR = ray.remote(num_cpus=1)(TrainerActor)
    return _ACTOR


def ensure_ray(address: str | None = None) -> None:
    """Connect to the cluster at `address` (or RNNVIZ_RAY_ADDRESS) unless Ray is already initialised."""
    import ray

    from rnnviz.sweep import ray_address

    if not ray.is_initialized():
        ray.init(address=address or ray_address())


class RayTrainer:
    """Trainer's API (advance, step, close, run, config, finished, from_cache, steps_per_second, seconds_left)
    with the training in a Ray actor; `run` is the local mirror the pages read."""

    def __init__(self, config: RunConfig, data: SequenceData | None = None, run: Run | None = None):
        self.config = config
        self.from_cache = run is not None
        self._busy = threading.Lock()
        self._rate: float | None = None
        self._recent: deque[tuple[float, int]] = deque(maxlen=20)  # the caller's view: wall time incl. transfer
        self._actor = None
        if run is not None:
            self.run = run
            return
        data = data if data is not None else load_dataset(config)  # here too: the pages look at the data
        self.run = Run(config, build_model(config, data), data)
        ensure_ray()
        self._actor = _actor_class().remote(config)
        self._pull(self._call("since", 0, -1))  # step 0, which the actor's Trainer has already taken
        self._recent.clear()

    @property
    def finished(self) -> bool:
        return self.run.finished

    def advance(self, budget_s: float = 0.25, max_steps: int | None = None) -> int:
        """Train for about `budget_s` seconds (or `max_steps`) in the actor; returns how many steps.
        If another thread is already advancing this trainer, returns 0 at once."""
        if self._actor is None or self.finished or not self._busy.acquire(blocking=False):
            return 0
        try:
            start = time.perf_counter()
            last_probe = self.run.probes[-1][0] if self.run.probes else -1
            n = self._pull(self._call("advance", budget_s, max_steps, len(self.run.rows), last_probe))
            if n:
                self._recent.append((time.perf_counter() - start, n))
            return n
        finally:
            self._busy.release()

    def _call(self, method: str, *args):
        import ray

        return ray.get(getattr(self._actor, method).remote(*args))

    def _pull(self, new: dict) -> int:
        """Bring the mirror up to date: rows, probes, divergence, and the model's weights."""
        run = self.run
        run.restore_rows([*run.rows, *new["rows"]])
        run.model.load_state_dict(new["state"])
        for step, trace in new["probes"]:  # thinned like a local run's; weights as of the chunk's end
            run.probes = _thinned([*run.probes, (step, trace)])
            run._keep_weights(step)
        run.diverged_at, run.seconds = new["diverged_at"], new["seconds"]
        self._rate = new["steps_per_second"]
        return new.get("n", 0)

    def step(self) -> int:
        return self.advance(max_steps=1)

    def close(self) -> None:
        if self._actor is not None:
            import ray

            ray.kill(self._actor)
            self._actor = None

    @property
    def steps_per_second(self) -> float | None:
        """Training speed seen from the web server (actor time plus the transfer of new rows and weights)."""
        seconds = sum(s for s, _ in self._recent)
        return sum(n for _, n in self._recent) / seconds if seconds > 0 else None

    @property
    def actor_steps_per_second(self) -> float | None:
        """Training speed inside the actor (its own Trainer's measure)."""
        return self._rate

    def seconds_left(self, duty: float = 1.0) -> float | None:
        rate = self.steps_per_second
        return None if rate is None else max(self.config.steps - self.run.step, 0) / (rate * duty)
