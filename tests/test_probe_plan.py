"""Probes never dominate training: past PROBE_SHARE of the time they are spaced out, and the page says so."""

from __future__ import annotations

import pytest

from rnnviz import RunConfig, train_run
from rnnviz.engine.config import training_bytes
from rnnviz.engine.train import PROBE_SHARE, PROBE_SLACK_S, probe_plan, probe_seconds, step_seconds
from rnnviz.runs import capacity
from tests.pagetools import open_page, press, state

# T = 7 and 8 samples: a probe costs about two training steps, so probing every step takes ~2/3 of the time
DENSE = RunConfig(hidden_size=6, seq_len=7, embedding_size=4, batch_size=8, steps=300, probe_every=1,
                  eval_every=100, cell="gru")


def test_dense_probes_are_spaced_out_keeping_the_first_and_last(tiny_data):
    every, note = probe_plan(DENSE)
    assert every > DENSE.probe_every and f"every {every} steps" in note
    run = train_run(DENSE, tiny_data("regression"))
    steps = [s for s, _ in run.probes]
    assert steps[0] == 0 and steps[-1] == DENSE.steps  # never fewer than the first and the last
    assert steps == sorted({*range(0, DENSE.steps + 1, every), DENSE.steps})
    assert run.probe_every == every and run.probe_note == note
    share = probe_seconds(DENSE) / (every * step_seconds(DENSE) + probe_seconds(DENSE))
    assert share <= PROBE_SHARE  # by the cost model, the spacing keeps probes within the budget


@pytest.mark.parametrize("config", [RunConfig(hidden_size=64), RunConfig(cell="gru", steps=100),
                                    DENSE.replace(steps=10)])
def test_cheap_probes_are_kept_as_asked(config):
    """A run whose probes stay within the share, or add little time in all, probes exactly as configured."""
    assert probe_plan(config) == (config.probe_every, None)


def test_the_slack_for_tiny_runs_does_not_excuse_a_short_run_whose_probes_exceed_the_share():
    """bench/bench_train.py's tanh run (300 steps) probed every 5 steps: its probes would take ~12 % of the time."""
    config = RunConfig(cell="rnn_tanh", hidden_size=64, seq_len=50, steps=300, probe_every=5)
    every, note = probe_plan(config)
    assert every > config.probe_every and note
    assert probe_seconds(config) / (every * step_seconds(config) + probe_seconds(config)) <= PROBE_SHARE


def test_spacing_grows_with_the_probe_cost():
    """Small models make a replay (a few small ops per step over t) dear next to a fused step; big ones far less so."""
    base = RunConfig(cell="lstm", seq_len=200, steps=5000, probe_every=5)
    small, big = probe_plan(base.replace(hidden_size=16))[0], probe_plan(base.replace(hidden_size=256))[0]
    assert small > big >= base.probe_every  # a big model's probe is cheap next to its step: not spaced at all
    assert probe_plan(base.replace(hidden_size=16, batch_size=512))[0] < small  # a dearer step: probes weigh less
    seconds = probe_seconds(base) * (base.steps // base.probe_every + 2)
    assert seconds > PROBE_SLACK_S  # the slack does not apply to these runs


def test_train_page_shows_time_per_step_memory_and_the_probe_note():
    capacity.RUN_CACHE.clear()
    at = open_page("pages/1_Train.py", steps="40", hidden_size="16", seq_len="20", probe_every="10")
    press(at, "ctl_step", times=2)
    metrics = {m.label: m.value for m in at.metric}
    run = state(at).run
    assert metrics["Time per step"] == f"{1000 * run.seconds / run.step:,.1f} ms"
    assert metrics["Training memory (estimate)"] == f"{training_bytes(run.config) / 2**20:,.1f} MB"
    assert run.probe_note is None and not any("probing every" in c.value for c in at.caption)
    spaced = open_page("pages/1_Train.py", steps="300", hidden_size="6", seq_len="7", batch_size="8",
                       probe_every="1", cell="gru", eval_every="100")
    note = state(spaced).run.probe_note
    assert note and any(note == c.value for c in spaced.caption)
