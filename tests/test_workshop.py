"""A shared server: finished runs shared through the cache, models in training never; bounded training slots."""

from contextlib import ExitStack

import pytest

from rnnviz import RunConfig
from rnnviz.runs import capacity
from rnnviz.runs.capacity import RunCache
from tests.pagetools import open_page, play_to_the_end, press, state, texts, wait_until

SHORT = {"steps": "20", "hidden_size": "8", "seq_len": "10", "probe_every": "10", "eval_every": "10"}


@pytest.fixture(autouse=True)
def empty_run_cache():
    capacity.RUN_CACHE.clear()


def test_a_finished_run_is_shown_at_once_to_the_next_session_with_the_same_settings():
    first = play_to_the_end(open_page("pages/1_Train.py", **SHORT))
    second = open_page("pages/1_Train.py", **SHORT)
    assert state(second).trainer.from_cache and state(second).run is state(first).run
    assert state(second).run.step == 20
    assert "shown from the cache" in texts(second, "info")
    other_seed = open_page("pages/1_Train.py", **SHORT, seed="1")
    assert not state(other_seed).trainer.from_cache and state(other_seed).run.step == 0


def test_a_model_in_training_is_never_shared():
    first = press(open_page("pages/1_Train.py", **SHORT), "ctl_step", times=3)
    second = open_page("pages/1_Train.py", **SHORT)
    assert state(second).run is not state(first).run
    assert state(second).run.model is not state(first).run.model
    assert state(second).run.step == 0 and state(first).run.step == 3


def test_reset_after_a_cache_hit_trains_afresh():
    play_to_the_end(open_page("pages/1_Train.py", **SHORT))
    at = open_page("pages/1_Train.py", **SHORT)
    at.button(key="ctl_reset").click().run()
    assert not state(at).trainer.from_cache and state(at).run.step == 0


def test_when_every_slot_is_busy_the_session_waits_and_says_so():
    at = open_page("pages/1_Train.py", **SHORT)
    with ExitStack() as busy:
        for _ in range(capacity.SLOTS.n):  # other sessions hold every training slot
            assert busy.enter_context(capacity.SLOTS.hold(timeout=1))
        at.button(key="ctl_play").click().run()
        wait_until(lambda: state(at).worker.waiting, what="the worker queueing for a slot")
        at.run()
        assert state(at).run.step == 0
        assert "Waiting for a free training slot" in texts(at, "info")
    wait_until(lambda: state(at).run.step > 0, what="training once a slot is free")  # a slot is free again
    wait_until(lambda: not state(at).worker.waiting)
    assert "Waiting" not in texts(at.run(), "info")


def test_only_finished_runs_can_be_shared():
    from rnnviz.runs.trainer import LocalTrainer

    trainer = LocalTrainer.fresh(RunConfig(cell="gru", hidden_size=4, seq_len=5, steps=10))
    with pytest.raises(ValueError, match="only finished runs"):
        RunCache().put(trainer.config.key(), trainer.run)
