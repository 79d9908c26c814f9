"""RayTrainer: a live session trained in a Ray actor mirrors exactly the run trained in-process; with Ray
configured, the app's sessions get one, and fall back to in-process (saying why) when Ray is unusable."""

from __future__ import annotations

import sys
import threading
import time

import pandas as pd
import pytest
import torch

from rnnviz import RunConfig, train_run
from rnnviz.engine.config import ConfigError
from rnnviz.engine.train import fork_run
from rnnviz.runs import capacity, cluster, remote
from rnnviz.runs.cluster import RAY_ADDRESS_ENV
from rnnviz.runs.trainer import LocalTrainer, Trainer
from rnnviz.runs.worker import Worker
from rnnviz.ui.state import AppState, apply_config
from tests.pagetools import wait_until

ray = pytest.importorskip("ray")  # skipped only when ray is not installed (requirements-ray.txt)

from rnnviz.runs.remote import RayTrainer  # noqa: E402

CONFIG = RunConfig(cell="gru", hidden_size=8, seq_len=12, steps=30, probe_every=10, eval_every=5,
                   dataset_params={"n_train": 64, "n_val": 16})


def test_the_mirror_equals_the_run_trained_in_process(local_ray):
    trainer = RayTrainer(CONFIG)
    assert trainer.run.step == 0 and not trainer.finished and not trainer.from_cache
    assert trainer.step() == 1 and trainer.run.step == 1
    while not trainer.finished:
        assert trainer.advance(budget_s=0.05, max_steps=7) <= 7
    assert trainer.advance() == 0 and trainer.steps_per_second > 0
    plain = train_run(CONFIG)
    pd.testing.assert_frame_equal(trainer.run.history.drop(columns="seconds"), plain.history.drop(columns="seconds"))
    assert [s for s, _ in trainer.run.probes] == [s for s, _ in plain.probes] == [0, 10, 20, 30]
    assert (trainer.run.probes[-1][1].hidden == plain.probes[-1][1].hidden).all()
    for (name, mine), (_, theirs) in zip(trainer.run.model.state_dict().items(), plain.model.state_dict().items(),
                                         strict=True):
        assert torch.equal(mine, theirs), name
    trainer.close()
    assert trainer.advance() == 0


def same_run(mine, theirs, changes: int = 0) -> None:
    """Same rows (bar wall time), probes and weights: training is deterministic per config."""
    pd.testing.assert_frame_equal(mine.history.drop(columns="seconds"), theirs.history.drop(columns="seconds"))
    assert [s for s, _ in mine.probes] == [s for s, _ in theirs.probes]
    for (name, a), (_, b) in zip(mine.model.state_dict().items(), theirs.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert mine.weights.keys() == theirs.weights.keys()  # the weights each probe saw, for the dynamics views
    assert all(torch.equal(mine.weights[s][k], w) for s in theirs.weights for k, w in theirs.weights[s].items())
    assert mine.version == theirs.version + changes  # as many redraws as an in-process run asks for (and one per
    # live change made on it)


def test_live_changes_reach_the_actor_and_a_fork_of_the_mirror_goes_on_exactly(local_ray):
    trainer = RayTrainer(CONFIG)
    trainer.advance(max_steps=8)
    assert trainer.change({"lr": 0.02}).step == 9
    trainer.advance(max_steps=9)
    with pytest.raises(ConfigError, match="lr=0.0 is out of range"):
        trainer.change({"lr": 0.0})  # refused on the mirror: the actor never hears it
    trainer.change({"optimizer": "sgd", "batch_size": 8})
    trainer.advance(max_steps=2)  # trained with the new optimizer from the next step on
    with trainer.between_steps():  # the actor's optimizer, of its new kind, copied to the mirror
        assert isinstance(trainer.run.optimizer, torch.optim.SGD)
        fork = fork_run(trainer.run, trainer.run.step)
    while not trainer.finished:
        trainer.advance(budget_s=0.1)
    plain = train_run(CONFIG, changes=trainer.run.changes)
    same_run(trainer.run, plain, changes=2)
    assert not trainer.shareable  # a changed run is not what its settings train: never the run cache's
    for event in fork.events():
        fork.record(event)
    pd.testing.assert_frame_equal(fork.history.drop(columns="seconds"), plain.history.drop(columns="seconds"))
    trainer.close()


def test_with_ray_configured_a_worker_plays_pauses_and_steps_a_ray_trainer(local_ray, monkeypatch):
    monkeypatch.setenv(RAY_ADDRESS_ENV, "local")  # the Ray this test started serves it
    trainer = remote.live_trainer(CONFIG)
    assert isinstance(trainer, RayTrainer) and remote.fallback_notice([trainer]) is None
    w = Worker([trainer])
    assert w.slots is capacity.UNLIMITED  # the cluster's CPU trains it, not one of the web server's training slots
    assert Worker([LocalTrainer.fresh(CONFIG)]).slots is capacity.SLOTS
    assert isinstance(trainer, Trainer)  # the protocol both trainers implement
    w.play()
    wait_until(lambda: trainer.run.step >= 3, what="the actor training")
    w.pause()
    stopped = trainer.run.step
    time.sleep(0.1)
    assert trainer.run.step == stopped and not w.playing  # nothing trains while paused
    assert w.step() == 1 and trainer.run.step == stopped + 1
    w.play()
    wait_until(lambda: w.finished, what="the run finishing")
    plain = train_run(CONFIG)
    same_run(trainer.run, plain)
    with trainer.between_steps():  # e.g. saving the run: the mirror gets the actor's optimizer state
        mine, theirs = trainer.run.optimizer.state_dict()["state"], plain.optimizer.state_dict()["state"]
        assert all(torch.equal(mine[k]["exp_avg_sq"], theirs[k]["exp_avg_sq"]) for k in theirs)
    w.close()
    assert trainer._actor is None


def test_an_actor_no_cpu_takes_is_given_up_and_the_run_trains_here(local_ray, monkeypatch):
    monkeypatch.setattr(remote, "_ACTOR", ray.remote(num_cpus=64)(remote.TrainerActor))  # more than the cluster has
    monkeypatch.setattr(remote, "ACTOR_SECONDS", 0.5)
    start = time.monotonic()
    trainer = remote.live_trainer(CONFIG, "local")
    assert time.monotonic() - start < 10 and type(trainer) is LocalTrainer and trainer.run.step == 0
    assert trainer.notice == ("Ray is configured (local) but its actor failed (TimeoutError: no CPU of the cluster "
                              "took it within 0.5 s): this run trains in the web server instead.")


def test_without_ray_installed_the_session_trains_in_process_and_the_page_says_why(monkeypatch):
    monkeypatch.setenv(RAY_ADDRESS_ENV, "auto")
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    state = AppState(RunConfig())
    assert apply_config(state, CONFIG, use_cache=False)
    assert type(state.trainer) is LocalTrainer and state.run.step == 0
    assert state.notice == ("Ray is configured (auto) but ray is not installed (pip install -r "
                            "requirements-ray.txt): this run trains in the web server instead.")
    state.worker.close()


def test_an_unreachable_cluster_is_waited_for_once_then_not_retried_for_a_while(monkeypatch):
    calls, answer = [], threading.Event()

    def hanging_init(address=None, **kw):  # like ray.init on an address nobody answers at
        calls.append(address)
        answer.wait(5)
        raise ConnectionError("no GCS at 10.0.0.9:6379\n(more lines)")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", hanging_init)
    monkeypatch.setattr(cluster, "_attempt", None)
    start = time.monotonic()
    assert cluster.ensure_ray("10.0.0.9:6379", timeout=0.2) == "the cluster did not answer within 0.2 s"
    assert cluster.ensure_ray("10.0.0.9:6379", timeout=0.2).startswith("the cluster did not answer")
    assert time.monotonic() - start < 2 and calls == ["10.0.0.9:6379"]  # one attempt, still under way
    answer.set()
    cluster._attempt.over.wait(5)
    why = "the cluster could not be reached (ConnectionError: no GCS at 10.0.0.9:6379)"
    assert cluster.ensure_ray("10.0.0.9:6379") == why and len(calls) == 1  # not retried within RETRY_SECONDS
    trainer = remote.live_trainer(CONFIG, "10.0.0.9:6379")
    assert type(trainer) is LocalTrainer and why in trainer.notice
    assert remote.fallback_notice([trainer]) == trainer.notice
    monkeypatch.setattr(cluster, "RETRY_SECONDS", 0.0)
    cluster.ensure_ray("10.0.0.9:6379", timeout=0.2)
    assert len(calls) == 2  # retried once the wait is over
