"""Trainer: chunks, single steps, speed estimate, and safety when two ticks overlap."""

import threading
import time

import torch

from rnnviz import RunConfig, train_run
from rnnviz.runs.trainer import LocalTrainer, Trainer

CFG = RunConfig(cell="gru", hidden_size=8, seq_len=10, steps=30, probe_every=10, eval_every=10)


def test_trainer_starts_at_step_zero_and_steps_one_at_a_time():
    t = LocalTrainer.fresh(CFG)
    assert t.run.step == 0 and len(t.run.probes) == 1
    assert t.step() == 1 and t.run.step == 1


def test_chunks_reproduce_train_run_exactly():
    t = LocalTrainer.fresh(CFG)
    while not t.finished:
        t.advance(budget_s=0.01)
    ref = train_run(CFG)
    assert t.run.history.loss.tolist() == ref.history.loss.tolist()
    for (sa, a), (sb, b) in zip(t.run.probes, ref.probes, strict=True):
        assert sa == sb and (a.hidden == b.hidden).all()
    assert t.steps_per_second > 0 and t.seconds_left() == 0


def test_max_steps_and_finish():
    t = LocalTrainer.fresh(CFG)
    assert t.advance(max_steps=5) == 5 and t.run.step == 5
    assert t.advance(max_steps=1000) == 25 and t.finished
    assert t.advance() == 0


def test_overlapping_ticks_do_not_collide():
    t = LocalTrainer.fresh(CFG.replace(steps=60))
    errors, advanced = [], []

    def tick():
        try:
            while not t.finished:
                n = t.advance(budget_s=0.005)
                advanced.append(n)
                if n == 0:  # another tick holds the trainer: come back later, as the UI's timer does
                    time.sleep(0.002)
        except Exception as err:  # "generator already executing" before the lock
            errors.append(err)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert t.run.history.step.tolist() == list(range(61))
    assert sum(advanced) == 60


def test_closing_while_another_thread_trains_waits_for_its_step():
    """Issue 14.3: a settings change closes the old trainer while the worker may be inside advance(); closing a
    generator that is executing raised "generator already executing" before close() took the trainer's lock."""
    def train(t: Trainer, started: threading.Event, errors: list) -> None:
        try:
            started.set()
            while t.advance(budget_s=0.01):
                pass
        except Exception as err:
            errors.append(err)

    for attempt in range(20):
        t = LocalTrainer.fresh(CFG.replace(steps=10_000))
        errors, started = [], threading.Event()
        th = threading.Thread(target=train, args=(t, started, errors))
        th.start()
        started.wait()
        time.sleep(0.001 * attempt)  # close at a different moment of a step each time
        t.close()  # waits for the step under way; afterwards the generator is done
        th.join(10)
        assert not errors and not th.is_alive(), errors
        step = t.run.step
        assert t.advance(max_steps=5) == 0 and t.run.step == step  # nothing trains after close


def test_wrapping_a_finished_run_is_from_cache():
    run = train_run(CFG)
    t = LocalTrainer(run, from_cache=True)
    assert t.finished and t.from_cache and t.run is run and t.advance() == 0
    torch.testing.assert_close(t.run.model.head.weight, run.model.head.weight)


def test_an_opened_finished_run_is_neither_from_the_cache_nor_shared():
    """A run opened from a file says "finished in ..." (not "from the run cache"), and its numbers, which this
    server did not compute, never go into the shared run cache."""
    from rnnviz.runs.worker import Worker
    from rnnviz.ui.control import progress_text

    run = train_run(CFG)
    shared = []
    t = LocalTrainer(run)  # as a run file opens
    assert t.finished and not t.from_cache and not t.shareable
    w = Worker([t], on_event=lambda t, what: shared.append(t) if what == "finished" and t.shareable else None)
    w._after_steps()
    assert shared == []
    assert "finished in" in progress_text(w, run.step, CFG.steps)
    fresh = LocalTrainer.fresh(CFG)
    assert fresh.shareable and not fresh.from_cache and isinstance(fresh, Trainer)
