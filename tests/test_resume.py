"""A restart resumes exactly (issue 21.4): a run stopped at three points and resumed each time from its checkpoint
— by a new registry on the same store (a server restart), or as a run file opened on another server — is the run
trained straight through: the same losses, gradient norms, probes and weights, to float32 rounding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnnviz.engine.config import RunConfig
from rnnviz.engine.train import Run, train_run
from rnnviz.runs import runfile
from rnnviz.runs.registry import Registry
from rnnviz.runs.store import Store

CFG = RunConfig(cell="lstm", dataset="adding", seq_len=15, hidden_size=12, batch_size=16, steps=120, eval_every=10,
                probe_every=20, probe_size=4, lr=1e-2, seed=3)
STOPS = (17, 55, 90)  # mid-way between probes and validation points, and on neither


def same_run(got: Run, want: Run) -> None:
    """Equal to float32 rounding: what holds whichever thread, process or CPU trained each piece."""
    assert got.step == want.step == CFG.steps
    timing = ["seconds"]  # wall time, not a number training computes
    pd.testing.assert_frame_equal(got.history.drop(columns=timing), want.history.drop(columns=timing),
                                  check_exact=False, rtol=1e-5, atol=1e-6)
    assert [s for s, _ in got.probes] == [s for s, _ in want.probes]
    for (_, a), (_, b) in zip(got.probes, want.probes, strict=True):
        np.testing.assert_allclose(a.hidden, b.hidden, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(a.grad_norms, b.grad_norms, rtol=1e-4, atol=1e-8)
    for (name, p), q in zip(got.model.named_parameters(), want.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)


@pytest.fixture(scope="module")
def straight():
    return train_run(CFG)


def test_three_restarts_of_the_server_resume_the_thread_run_exactly(tmp_path, straight):
    reg = Registry(Store(tmp_path), checkpoint_seconds=3600)
    access = reg.create(CFG, use_cache=False)
    secret = access.secret
    for stop in STOPS:
        while access.run.step < stop:
            access.worker.step()  # the worker's thread, one update at a time
        access.worker.play()
        access.worker.pause()  # a pause at whatever step the thread had reached
        reg.checkpoint_all()  # the server stops: every run checkpointed
        reg.store.close()
        reg = Registry(Store(tmp_path), checkpoint_seconds=3600)  # ...and starts again
        access = reg.open(secret)
        assert access is not None and not access.worker.playing and access.run.step >= stop
    access.worker.play()
    while not access.worker.finished:
        access.worker.step()
    same_run(access.run, straight)


def test_a_run_file_opened_on_another_server_three_times_continues_exactly(tmp_path, straight):
    access = Registry(Store(tmp_path / "first")).create(CFG, use_cache=False)
    for i, stop in enumerate(STOPS):
        while access.run.step < stop:
            access.trainer.advance(max_steps=stop - access.run.step)
        blob = runfile.save_run(access.run)  # downloaded here, opened there
        access = Registry(Store(tmp_path / f"server{i}")).adopt(runfile.load_run(blob))
        assert access.run.step == stop
    while not access.trainer.finished:
        access.trainer.advance()
    same_run(access.run, straight)
