"""RayTrainer: a live session's training in a Ray actor, behind the public API of rnnviz.runs.trainer.Trainer.

The web server keeps a local mirror `Run` that records the actor's training events as they come (and a model whose
weights follow the actor's), so pages draw as usual while the cluster trains. Needs ray (requirements-ray.txt) and
an initialised Ray or an address; `live_trainer` falls back to an in-process Trainer when Ray is unusable.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from rnnviz.datasets import SequenceData, load_dataset
from rnnviz.engine.changes import Change, Changes
from rnnviz.engine.config import RunConfig
from rnnviz.engine.train import OPTIMIZER_KINDS, TrainEvent, make_optimizer, new_run
from rnnviz.runs.cluster import ensure_ray, ray_address
from rnnviz.runs.trainer import LocalTrainer, Trainer, rate, seconds_left


class TrainerActor:
    """Runs in the actor: an ordinary Trainer whose events are also kept until the mirror has them."""

    def __init__(self, config: RunConfig, changes: Changes = ()):
        run = new_run(config, changes=changes)  # every step on RNNVIZ_TORCH_THREADS threads, as in the web server
        self.unsent: list[TrainEvent] = []
        self.trainer = LocalTrainer(run, events=self._kept(run.events()))  # takes step 0, as a fresh one does

    def _kept(self, events: Iterator[TrainEvent]) -> Iterator[TrainEvent]:
        for event in events:
            self.unsent.append(event)
            yield event

    def advance(self, budget_s: float, max_steps: int | None) -> dict:
        self.trainer.advance(budget_s, max_steps)
        return self.news()

    def news(self) -> dict:
        """The events the mirror has not seen, the weights each new probe saw, and the weights now.
        (No copies: Ray serialises the answer before the next call can train.)"""
        run, events, self.unsent = self.trainer.run, self.unsent, []
        return {
            "events": events,
            "probe_weights": {e.step: _arrays(run.weights[e.step]) for e in events if e.step in run.weights},
            "state": _arrays(run.model.state_dict()),
            "steps_per_second": self.trainer.steps_per_second,
        }

    def optimizer_state(self) -> dict:
        return self.trainer.run.optimizer.state_dict()

    def change(self, values: dict):
        return self.trainer.change(values)


def _arrays(state: dict) -> dict:
    """Weights as numpy arrays: Ray ships those several times faster than torch tensors."""
    return {k: v.detach().numpy() for k, v in state.items()}


def _load(model: torch.nn.Module, arrays: dict) -> None:
    model.load_state_dict({k: torch.tensor(v) for k, v in arrays.items()})  # a copy: Ray's arrays are read-only


_ACTOR = None


def _actor_class():
    """The Ray actor class, made once (ray is imported only when a RayTrainer is built)."""
    global _ACTOR
    if _ACTOR is None:
        import ray

        _ACTOR = ray.remote(num_cpus=1)(TrainerActor)
    return _ACTOR


ACTOR_SECONDS = 30.0  # an actor no CPU of the cluster takes within this long is given up: the run trains here
FALLBACK = "Ray is configured ({address}) but {why}: this run trains in the web server instead."


def live_trainer(config: RunConfig, address: str | None = None, changes: Changes = ()) -> Trainer | RayTrainer:
    """A live session's trainer: in a Ray actor when `address` (default RNNVIZ_RAY_ADDRESS; "" = none) is set
    and the cluster answers, else in-process.

    When Ray is configured but unusable, the in-process Trainer carries `notice` (one line) for the page.
    """
    address = ray_address() if address is None else address
    data = load_dataset(config)  # DatasetError/ConfigError propagate: they are the settings' fault, not Ray's
    if not address:
        return LocalTrainer.fresh(config, data, changes=changes)
    why = ensure_ray(address)
    if why is None:
        try:
            return RayTrainer(config, data=data, changes=changes)
        except Exception as err:  # e.g. the nodes cannot import rnnviz, or the actor died
            why = f"its actor failed ({type(err).__name__}: {err})".splitlines()[0]
    return LocalTrainer.fresh(config, data, notice=FALLBACK.format(address=address, why=why), changes=changes)


def fallback_notice(trainers: list[Trainer]) -> str | None:
    """What the page should say about where its runs train: the first trainer's notice, if any."""
    return next((t.notice for t in trainers if t.notice), None)


class RayTrainer:
    """The Trainer protocol with the training in a Ray actor; `run` is the local mirror the pages read."""

    remote = True  # trains on the cluster's CPUs, not in one of this server's training slots (rnnviz.runs.worker)
    from_cache, shareable, notice = False, True, None

    def __init__(self, config: RunConfig, data: SequenceData | None = None, changes: Changes = ()):
        self.config, self.shareable = config, not changes
        self._busy = threading.Lock()
        self._recent: deque[tuple[float, int]] = deque(maxlen=20)  # the caller's view: wall time incl. transfer
        self._actor = None
        self.run = new_run(config, data, changes)  # the mirror: the pages look at its data and model
        self.run.keeps_resume = False  # its optimizer does not train: a fork of it starts from its weights again
        why = ensure_ray()
        if why is not None:
            raise ConnectionError(why)
        import ray

        self._actor = _actor_class().remote(config, changes)
        try:
            self._pull(self._call("news", timeout=ACTOR_SECONDS))  # step 0, which the actor's Trainer has taken
        except ray.exceptions.GetTimeoutError:
            self._drop_actor()
            raise TimeoutError(f"no CPU of the cluster took it within {ACTOR_SECONDS:g} s") from None
        except Exception:
            self._drop_actor()
            raise
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
            n = self._pull(self._call("advance", budget_s, max_steps))
            if n:
                self._recent.append((time.perf_counter() - start, n))
            return n
        finally:
            self._busy.release()

    def _call(self, method: str, *args, timeout: float | None = None):
        import ray

        return ray.get(getattr(self._actor, method).remote(*args), timeout=timeout)

    def _drop_actor(self) -> None:
        import ray

        actor, self._actor = self._actor, None
        if actor is not None:
            ray.kill(actor)

    def _pull(self, news: dict) -> int:
        """Bring the mirror up to date: each event recorded as the actor's run recorded it (rows, probes and the
        weights they saw, divergence, version), then the model's current weights. Returns how many steps."""
        run = self.run
        with run.one_step():  # readers of the mirror's model (Run.current_model) see it before or after, never mid-way
            for event in news["events"]:
                if event.step in news["probe_weights"]:
                    _load(run.model, news["probe_weights"][event.step])  # record() keeps them with the probe
                run.record(event)
            _load(run.model, news["state"])
        return len(news["events"])

    def step(self) -> int:
        return self.advance(max_steps=1)

    @contextmanager
    def between_steps(self):
        """Hold training still while the caller reads the mirror (e.g. saves the run, which then continues
        exactly): the actor's optimizer state is copied to the mirror first."""
        with self._busy:
            if self._actor is not None:
                run = self.run
                settings = run.config_at(run.step)
                if type(run.optimizer) is not OPTIMIZER_KINDS[settings.optimizer]:  # changed live
                    run.optimizer = make_optimizer(settings, run.model)
                run.optimizer.load_state_dict(self._call("optimizer_state"))
            yield

    def change(self, values: dict) -> Change | None:
        """Live settings from the next step on, in the actor and in the mirror (both at the same step here);
        checked on the mirror first, so a refused value never reaches the actor."""
        with self._busy:
            change = self.run.change(values)
            if change is not None:
                self._call("change", dict(values))
                self.shareable = False
            return change

    def close(self) -> None:
        self._drop_actor()

    @property
    def steps_per_second(self) -> float | None:
        """Training speed seen from the web server (actor time plus the transfer of new rows and weights)."""
        return rate(self._recent)

    def seconds_left(self, duty: float = 1.0) -> float | None:
        return seconds_left(self, duty)
