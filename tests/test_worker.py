"""The worker that trains beside the page: Play/Pause/Step/close semantics, slots, idleness, races."""

import os
import threading
import time

import pytest
import torch

from rnnviz import RunConfig, server, train_run
from rnnviz.runs import capacity
from rnnviz.runs.capacity import Slots
from rnnviz.runs.trainer import LocalTrainer
from rnnviz.runs.worker import Worker
from tests.pagetools import wait_until


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """As in the app: one torch thread per training session."""


CFG = RunConfig(cell="gru", hidden_size=8, seq_len=10, steps=60, probe_every=10, eval_every=10)


class SlowTrainer:
    """The Trainer interface with a step that takes `seconds`, so timing-free tests can reason in steps."""

    def __init__(self, steps: int = 10_000, seconds: float = 0.02, fail_at: int | None = None):
        self.config, self.from_cache, self.steps_per_second = CFG.replace(steps=steps), False, None
        self.shareable, self.remote, self.notice = True, False, None
        self.run = type("R", (), {"step": 0, "probes": [], "diverged_at": None, "finished": False,
                                  "config": self.config})()
        self.seconds, self.fail_at, self.closed, self.active = seconds, fail_at, False, 0

    @property
    def finished(self) -> bool:
        return self.run.step >= self.config.steps

    def step(self) -> int:
        if self.closed:
            return 0
        self.active += 1
        assert self.active == 1, "two threads advanced one trainer at once"
        time.sleep(self.seconds)
        if self.run.step == self.fail_at:
            self.active -= 1
            raise RuntimeError("boom")
        self.run.step += 1
        self.active -= 1
        return 1

    def close(self) -> None:
        self.closed = True


def worker(*trainers, **kw) -> Worker:
    return Worker(list(trainers), on_event=None, slots=kw.pop("slots", Slots(2)), **kw)


def test_play_trains_in_the_background_exactly_as_train_run():
    w = Worker([LocalTrainer.fresh(CFG)], on_event=None, slots=Slots(1))
    w.play()
    wait_until(lambda: w.finished, what="the run finishing")
    run, ref = w.trainers[0].run, train_run(CFG)
    assert run.history.step.tolist() == list(range(61))  # every step exactly once
    assert run.history.loss.tolist() == ref.history.loss.tolist()
    assert [s for s, _ in run.probes] == [s for s, _ in ref.probes]
    assert not w.playing


def test_every_training_step_runs_on_the_configured_torch_thread_count(monkeypatch):
    """Under OpenMP a new thread starts with its own torch thread count, not the one configured for the server;
    a step trained on another count rounds differently. Configured here to a count no fresh thread has."""
    fresh: list[int] = []
    probe = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
    probe.start()
    probe.join()
    wanted = max(fresh[0], torch.get_num_threads(), os.cpu_count() or 1) + 1  # the default of no thread
    monkeypatch.setattr(server, "TORCH_THREADS", wanted)
    seen: list[int] = []
    trainer = LocalTrainer.fresh(CFG.replace(steps=5))
    trainer.run.model.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    w = Worker([trainer], on_event=None, slots=Slots(1))
    w.play()
    wait_until(lambda: w.finished, what="the run finishing")
    assert len(seen) > 5 and set(seen) == {wanted}
    assert torch.get_num_threads() == 1  # the caller's own count is given back after each step


def playing(t: SlowTrainer, **kw) -> Worker:
    """A worker playing `t`, once it has trained a few steps."""
    w = worker(t, **kw)
    w.play()
    wait_until(lambda: t.run.step >= 3)
    return w


def test_pause_stops_within_one_step_and_play_goes_on_from_there():
    t = SlowTrainer()
    w = playing(t)
    before = t.run.step
    w.pause()
    stopped = t.run.step
    assert stopped - before <= 1 and not w.playing
    time.sleep(0.1)
    assert t.run.step == stopped  # nothing trains while paused
    w.play()
    wait_until(lambda: t.run.step > stopped + 2)
    w.close()


def test_step_while_playing_pauses_then_applies_exactly_one_update():
    t = SlowTrainer()
    w = playing(t)
    w.pause()
    paused_at = t.run.step
    assert w.step() == 1 and t.run.step == paused_at + 1 and not w.playing


def test_a_group_steps_every_unfinished_run_in_turn():
    short, long = SlowTrainer(steps=3, seconds=0.001), SlowTrainer(steps=8, seconds=0.001)
    finished = []
    w = Worker([short, long], on_event=lambda t, what: finished.append(t) if what == "finished" else None,
               slots=Slots(1))
    assert w.step() == 2
    w.play()
    wait_until(lambda: w.finished)
    assert (short.run.step, long.run.step) == (3, 8)
    assert finished == [short, long]  # each told once, as it finishes


def test_close_stops_the_thread_before_closing_the_trainer():
    t = SlowTrainer()
    w = playing(t)
    w.close()
    at = t.run.step
    assert t.closed and not w.playing and t.active == 0
    w.play()  # a closed worker never trains again
    time.sleep(0.1)
    assert t.run.step == at


def test_a_session_nobody_watches_pauses_and_frees_its_slot():
    slots = Slots(1)
    t = SlowTrainer()
    w = worker(t, slots=slots, idle_seconds=0.3)
    w.play()
    wait_until(lambda: slots.busy == 1)
    wait_until(lambda: not w.playing, timeout=5, what="the idle session pausing")
    assert w.paused_idle and slots.busy == 0
    with slots.hold(timeout=0.1) as got:
        assert got


def test_a_quiet_page_whose_browser_is_still_connected_keeps_training():
    """A background tab's timers are throttled: while its session is connected, the run goes on."""
    t = SlowTrainer()
    w = worker(t, idle_seconds=0.2)
    connected = [True]
    w.connected = lambda: connected[0]
    w.play()
    time.sleep(0.6)
    assert w.playing and not w.paused_idle
    connected[0] = False  # the tab was closed
    wait_until(lambda: not w.playing, timeout=5, what="the disconnected session pausing")
    assert w.paused_idle


def test_touching_keeps_a_watched_session_playing():
    t = SlowTrainer()
    w = worker(t, idle_seconds=0.3)
    w.play()
    for _ in range(8):
        time.sleep(0.1)
        w.touch()
    assert w.playing
    w.close()


def test_a_waiting_session_gets_its_turn_on_a_busy_slot():
    slots = Slots(1)
    hog, newcomer = SlowTrainer(seconds=0.005), SlowTrainer(seconds=0.005)
    a, b = worker(hog, slots=slots), worker(newcomer, slots=slots)
    a.play()
    wait_until(lambda: hog.run.step > 5)
    b.play()
    wait_until(lambda: newcomer.run.step > 5, timeout=5, what="the second session training")
    assert hog.run.step > 5
    a.close()
    b.close()


def test_a_failure_in_the_thread_stops_play_and_is_reported():
    t = SlowTrainer(fail_at=2, seconds=0.001)
    w = worker(t)
    w.play()
    wait_until(lambda: not w.playing)
    assert w.error == "Training stopped: RuntimeError: boom" and t.run.step == 2


def test_reading_a_run_while_the_worker_records_it():
    w = Worker([LocalTrainer.fresh(CFG.replace(steps=100))], on_event=None, slots=Slots(1))
    run, errors, seen = w.trainers[0].run, [], []

    def read():
        try:
            while not w.finished:
                h = run.history
                assert h.step.tolist() == list(range(len(h)))  # a consistent snapshot, in order
                seen.append(len(run.probes) + run.step)
                time.sleep(0.001)  # pages read about once a second; tight loops would only starve the GIL
        except Exception as err:
            errors.append(err)

    readers = [threading.Thread(target=read) for _ in range(3)]
    w.play()
    for r in readers:
        r.start()
    for r in readers:
        r.join()
    assert not errors and seen
    assert run.history.step.tolist() == list(range(101))


@pytest.fixture
def empty_cache():
    capacity.RUN_CACHE.clear()
    yield
    capacity.RUN_CACHE.clear()


def test_changing_settings_while_playing_never_collides_with_the_training_thread(empty_cache):
    """Issue 14.3: a settings change closed the trainer while a tick was inside it; now it pauses it (issue 21)."""
    from rnnviz.ui.state import AppState, apply_config

    state = AppState(CFG)
    apply_config(state, CFG, force=True)
    olds = []
    for i in range(12):
        state.worker.play()
        time.sleep(0.01 * (i % 4))
        olds.append(state.worker)
        assert apply_config(state, CFG.replace(seed=i + 1, steps=500))
        assert state.worker.trainers[0].run.step == 0
    assert all(not w.playing and w.error is None for w in olds)  # each old run paused, kept, unharmed
    for w in olds:
        h = w.trainers[0].run.history
        assert h.step.tolist() == list(range(len(h)))


def test_redraws_are_spaced_so_drawing_every_playing_page_stays_within_its_share(monkeypatch):
    from rnnviz.runs import worker

    monkeypatch.setattr(capacity.SLOTS, "n", 2)
    share = worker.DRAW_SHARE
    # (sessions playing, a redraw's CPU seconds in units of the share, the gap wanted)
    for playing, draw, want in [(1, 0.0, 1.0), (1, 0.5, 1.0), (1, 2.0, 2.0), (4, 0.0, 2.0), (4, 1.25, 5.0)]:
        monkeypatch.setattr(worker, "_playing", set(range(playing)))
        draw *= share
        gap = worker.redraw_gap(1.0, draw)
        assert gap == pytest.approx(want)
        assert playing * draw / gap <= worker.DRAW_SHARE + 1e-12  # drawing every page fits in its share


def test_the_progress_line_says_when_views_redraw_less_often_to_keep_training_fast():
    from rnnviz.ui.control import progress_text

    w = Worker([SlowTrainer()], slots=Slots(1))
    w.play()
    try:
        assert "views redraw every 5 s to keep training fast" in progress_text(w, 3, 100, gap=5.0)
        assert "views redraw" not in progress_text(w, 3, 100, gap=1.0)
    finally:
        w.close()


def test_a_full_page_run_measures_what_the_page_cost_to_draw():
    from tests.pagetools import open_page, state

    at = open_page("pages/4_Gradients.py", steps="50", probe_every="10")
    s = state(at)
    assert s.draw_seconds > 0  # the first run drew the page (and the advice to press Play)
    s.worker.step()
    before = s.draw_seconds
    at.run()
    assert s.draw_seconds != before  # every full run updates the running mean the redraw pacing reads
