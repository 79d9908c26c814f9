"""RayTrainer: a live session trained in a Ray actor mirrors exactly the run trained in-process."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from rnnviz import RunConfig, train_run

ray = pytest.importorskip("ray")  # skipped only when ray is not installed (requirements-ray.txt)

from rnnviz.remote import RayTrainer  # noqa: E402

CONFIG = RunConfig(cell="gru", hidden_size=8, seq_len=12, steps=30, probe_every=10, eval_every=5,
                   dataset_params={"n_train": 64, "n_val": 16})


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


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


def test_a_cached_run_is_wrapped_without_an_actor():
    run = train_run(CONFIG.replace(steps=3))
    trainer = RayTrainer(run.config, run=run)
    assert trainer.from_cache and trainer.finished and trainer.run is run and trainer.advance() == 0
