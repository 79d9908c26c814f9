"""Sweeps: the grid, early stop at the dataset's threshold, streaming, the run cache, training slots, stopping,
and the same results from the local process pool and from Ray tasks."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from rnnviz import ConfigError, RunConfig, train_run
from rnnviz.runs.capacity import RunCache, Slots
from rnnviz.runs.sweep import PRESETS, Grid, LocalPool, Sweep, frame, run_one, summary, sweep
from tests.pagetools import wait_until

# memory with 2 symbols: solved (error < 0.05) within tens of steps at T = 5, not within 40 at T = 30 by a tanh RNN
TINY = RunConfig(dataset="memory", hidden_size=16, lr=1e-2, batch_size=32,
                 dataset_params={"n_train": 256, "n_val": 64, "symbols": 2})
GRID = Grid(TINY, cells=("rnn_tanh", "gru"), seq_lens=(5, 30), seeds=(0,), budget=40, check_every=10)
SAME = ["cell", "seq_len", "seed", "solved", "steps_to_solve", "metric", "final", "steps", "diverged"]


class Threads:
    """An in-process back-end for scheduling tests: runs in threads and records how many ran at once."""

    def __init__(self, workers: int):
        self.workers, self.now, self.most = workers, 0, 0
        self._pool, self._lock = ThreadPoolExecutor(workers), threading.Lock()
        self._closed = threading.Event()  # ends the runs under way, as LocalPool's stop event does

    def submit(self, config):
        return self._pool.submit(self._run, config)

    def _run(self, config):
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return run_one(config, stop=self._closed.is_set)
        finally:
            with self._lock:
                self.now -= 1

    def close(self):
        """Without the stop, a run of 100,000 steps went on training in its thread for the rest of the suite."""
        self._closed.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


def test_grid_is_every_combination_on_the_base_config():
    grid = Grid(TINY, cells=("lstm", "gru"), seq_lens=(5, 9), seeds=(3,), budget=70, check_every=7,
                extra=(("clip", (None, 0.5)),))
    configs = grid.configs()
    assert len(configs) == 8 and len(set(configs)) == 8
    assert {(c.cell, c.seq_len, c.clip) for c in configs} == {
        (cell, T, clip) for cell in ("lstm", "gru") for T in (5, 9) for clip in (None, 0.5)}
    assert all(c.seed == 3 and c.steps == 70 and c.eval_every == 7 and c.hidden_size == 16 for c in configs)


@pytest.mark.parametrize("bad, words", [
    (dict(cells=()), "cells"),
    (dict(extra=(("colour", (1,)),)), "colour"),
    (dict(extra=(("seq_len", (5,)),)), "seq_len"),
    (dict(extra=(("lr", ()),)), "lr"),
    (dict(check_every=0), "check_every"),
    (dict(seeds=tuple(range(3000))), "at most"),
    (dict(extra=(("lr", (-1.0,)),)), "lr"),
])
def test_bad_grids_raise_config_error_naming_the_problem(bad, words):
    with pytest.raises(ConfigError, match=words):
        Grid(TINY, **{"cells": ("gru",), "seq_lens": (5,), **bad}).configs()


def test_a_run_stops_once_solved_and_equals_the_run_trained_to_that_step():
    config = Grid(TINY, cells=("gru",), seq_lens=(5,), budget=200, check_every=10).configs()[0]
    row, run = run_one(config)
    s = row["steps_to_solve"]
    assert row["solved"] and 0 < s < 200 and s % 10 == 0 and row["steps"] == s
    assert row["metric"] == "error" and row["final"] < 0.05
    assert run.finished and run.config == config.replace(steps=s)
    plain = train_run(config.replace(steps=s))  # the cached run is what the Train page would train
    pd.testing.assert_frame_equal(run.history.drop(columns="seconds"), plain.history.drop(columns="seconds"))
    assert [step for step, _ in run.probes] == [step for step, _ in plain.probes] == [0, s]


def test_an_unsolved_run_goes_to_its_budget():
    config = RunConfig(dataset="adding", seq_len=10, hidden_size=8, steps=30, eval_every=10, probe_every=30,
                       dataset_params={"n_train": 64, "n_val": 32})
    row, run = run_one(config)
    assert not row["solved"] and row["steps_to_solve"] is None and row["steps"] == 30 and run.finished
    assert row["metric"] == "mae" and row["final"] > 0.04 and not row["diverged"]


def test_a_diverging_run_is_reported_as_diverged():
    # a ReLU RNN with W_hh radius 1.5 and plain SGD at lr 1 blows up within a few steps
    config = RunConfig(cell="rnn_relu", recurrent_radius=1.5, lr=1.0, optimizer="sgd", clip=None, steps=200,
                       eval_every=10, probe_every=200)
    row, run = run_one(config)
    assert row["diverged"] and not row["solved"] and row["steps"] < 200 and run.finished


def test_rows_stream_into_the_cache_within_the_slots_and_come_back_from_it():
    cache, slots, backend = RunCache(), Slots(1), Threads(workers=2)
    rows = list(sweep(GRID, backend, cache, slots))
    assert backend.most == 1 and slots.busy == 0  # one slot: one run at a time, and it was given back
    assert len(rows) == 4 and not any(r["cached"] for r in rows)
    assert set(cache.keys()) == {r["config"].key() for r in rows}  # every finished run, under its own config
    assert any(r["solved"] for r in rows) and not all(r["solved"] for r in rows)
    # a second sweep (the next attendee pressing the same preset): every run comes from the cache, the early-
    # stopped ones too, found under the shorter run they ended as; nothing trains again
    backend = Threads(2)
    again = frame(list(sweep(GRID, backend, cache, Slots(2))))
    first = frame(rows)
    key = ["cell", "seq_len", "seed"]
    merged = first.merge(again, on=key, suffixes=("", "_again"))
    assert merged["cached_again"].all() and backend.most == 0 and (merged["steps"] < 40).any()
    for col in ["solved", "steps_to_solve", "final", "steps"]:
        assert merged[col].equals(merged[f"{col}_again"].rename(col)), col


def test_sweeps_leave_a_training_slot_to_live_sessions():
    """The server's 2 slots, the sweeps' share 1: while a sweep trains, a live session still gets a slot."""
    server, share = Slots(2), Slots(1)
    grid = Grid(RunConfig(dataset="white_noise", hidden_size=8, seq_len=10), cells=("gru",), seq_lens=(10,),
                seeds=(0, 1, 2), budget=100_000, check_every=1000)  # no threshold: trains until stopped
    backend = Threads(3)
    s = Sweep(grid, backend, cache=None, slots=(share, server)).start()
    wait_until(lambda: backend.now >= 1, what="the sweep starting a run")
    time.sleep(0.5)  # time to start more, were it allowed to
    with server.hold(5.0) as got:  # a live session's Play
        assert got and backend.now == 1 and server.busy == 2
    s.stop()
    assert s.join(30) and server.busy == 0 and share.busy == 0


class Failing(Threads):
    """A back-end whose run of seed 1 raises, as when its worker process dies."""

    def _run(self, config):
        if config.seed == 1:
            raise RuntimeError("worker died")
        return super()._run(config)


def test_a_run_that_fails_gives_a_row_saying_why_and_the_sweep_goes_on():
    grid = Grid(TINY, cells=("gru",), seq_lens=(5,), seeds=(0, 1, 2), budget=40, check_every=10)
    df = frame(list(sweep(grid, Failing(1), None, Slots(1))))
    assert len(df) == 3 and df["error"].notna().sum() == 1
    bad = df[df["seed"] == 1].iloc[0]
    assert bad["error"] == "RuntimeError: worker died" and not bad["solved"]
    assert df[df["seed"] != 1]["error"].isna().all() and df[df["seed"] != 1]["solved"].all()


def test_a_sweep_nobody_watches_stops_by_itself_and_keeps_what_finished():
    grid = Grid(RunConfig(dataset="white_noise", hidden_size=8, seq_len=10), cells=("gru",), seq_lens=(10,),
                seeds=(0,), budget=100_000, check_every=1000)
    s = Sweep(grid, Threads(1), cache=None, slots=Slots(1), idle_seconds=0.3)
    s.connected = lambda: True  # a background tab: quiet, but its browser is still there
    s.start()
    time.sleep(1.0)
    assert s.running and not s.abandoned
    s.connected = lambda: False  # the tab was closed
    assert s.join(30) and s.abandoned and s.stopped


def test_stopping_keeps_what_finished():
    grid = Grid(TINY, cells=("gru",), seq_lens=(5,), seeds=tuple(range(6)), budget=40, check_every=10)
    s = Sweep(grid, Threads(1), cache=None, slots=Slots(1))
    s.start()
    while s.done == 0 and s.running:
        s.join(0.05)
    s.stop()
    assert s.join(30)
    assert 1 <= s.done < 6 and len(s.results) == s.done and s.error is None and s.seconds_left == 0.0


def test_summary_is_the_success_rate_per_cell_and_length():
    rows = [{"cell": "gru", "seq_len": 5, "seed": i, "solved": i < 2, "steps_to_solve": 10 * (i + 1) if i < 2 else None}
            for i in range(4)]
    out = summary(frame(rows))
    assert out.loc[0, "runs"] == 4 and out.loc[0, "success"] == 0.5 and out.loc[0, "steps_median"] == 15
    assert out.loc[0, "success_se"] == pytest.approx((0.25 / 4) ** 0.5)


def test_presets_are_valid_grids():
    assert len(PRESETS["adding"].grid.configs()) == 3 * 5 * 3
    assert {c.seq_len for c in PRESETS["memory"].grid.configs()} == {10, 50, 100, 200, 400}


def test_the_process_pool_gives_the_same_results_as_in_process():
    grid = Grid(TINY, cells=("rnn_tanh", "gru"), seq_lens=(5,), seeds=(0,), budget=40, check_every=10)
    pool = frame(list(sweep(grid, LocalPool(2))))
    inline = frame(list(sweep(grid, Threads(1))))
    pd.testing.assert_frame_equal(pool[SAME], inline[SAME])


def test_the_same_grid_gives_the_same_results_on_ray_tasks(local_ray):
    from rnnviz.runs.sweep import RayTasks

    grid = Grid(TINY, cells=("rnn_tanh", "gru"), seq_lens=(5, 30), seeds=(0,), budget=40, check_every=10)
    local = frame(list(sweep(grid, LocalPool(2)))).sort_values(["cell", "seq_len"], ignore_index=True)
    remote = frame(list(sweep(grid, RayTasks()))).sort_values(["cell", "seq_len"], ignore_index=True)
    assert len(local) == 4
    pd.testing.assert_frame_equal(local[SAME], remote[SAME])


def test_stopping_ends_the_runs_under_way_in_the_worker_processes():
    # white noise has no "solved" threshold: without the stop these runs would train 100,000 steps
    grid = Grid(RunConfig(dataset="white_noise", hidden_size=8, seq_len=10), cells=("gru",), seq_lens=(10,),
                seeds=(0, 1), budget=100_000, check_every=1000)
    pool = LocalPool(2)
    s = Sweep(grid, pool, cache=None, slots=None).start()
    deadline = time.monotonic() + 120
    while len(pool._pool._processes or {}) < 2 and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.2)
    processes = list(pool._pool._processes.values())  # noqa: SLF001
    s.stop()
    assert s.join(30) and s.done == 0 and s.error is None
    for p in processes:  # the run under way ended at its next step, and the worker exited
        # (polled, not joined alone: the executor's own thread joins it too, and of two threads reaping a child
        # one can briefly see it alive)
        wait_until(lambda p=p: not p.is_alive(), 240, f"the exit of worker {p.pid}")


def test_a_worker_process_that_does_not_end_after_a_stop_is_terminated():
    import multiprocessing

    from rnnviz.runs.sweep import _reap

    stuck = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(1000,))
    stuck.start()
    start = time.monotonic()
    _reap([stuck], grace=0.5)
    stuck.join(30)
    assert not stuck.is_alive() and time.monotonic() - start < 30
