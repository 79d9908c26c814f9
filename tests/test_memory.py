"""Memory stays bounded at the largest allowed settings (complements test_memory_bounds.py).

The caps (rnnviz/train.py): a probe replays at most as many samples as fit in PROBE_BYTES_EACH (never fewer
than one), and a run thins its stored probes past PROBE_BYTES_PER_RUN, always keeping step 0 and the latest.
So a run's probes take at most max(PROBE_BYTES_PER_RUN, 2 x one probe) + one probe (the one just added).
"""

import sys

import numpy as np

from rnnviz import RunConfig, jobs, train, train_run
from rnnviz.config import _INT_BOUNDS
from rnnviz.record import Trace
from rnnviz.train import PROBE_BYTES_EACH, PROBE_BYTES_PER_RUN, Run, TrainEvent, probe_samples

HI = {name: hi for name, _, hi in _INT_BOUNDS}
BIGGEST = RunConfig(cell="lstm", hidden_size=HI["hidden_size"], num_layers=HI["num_layers"],
                    seq_len=HI["seq_len"], probe_size=HI["probe_size"], probe_every=1)


def probe_bytes(config: RunConfig) -> int:
    """float32 bytes of one probe's (L, B, T, H) arrays: hidden, cell (LSTM) and the gates."""
    arrays = {"lstm": 6, "gru": 4}.get(config.cell, 2)
    return arrays * config.num_layers * probe_samples(config) * config.seq_len * config.hidden_size * 4


def worst_case_run_bytes(config: RunConfig) -> int:
    return max(PROBE_BYTES_PER_RUN, 2 * probe_bytes(config)) + probe_bytes(config)


def test_the_biggest_config_replays_one_sample_and_its_probes_stay_bounded():
    assert probe_samples(BIGGEST) == 1  # 64 requested: 64 x 98 MB would be 6 GB per probe
    one = probe_bytes(BIGGEST)
    assert one < 100 * 2**20  # one sample at T 2000, H 512, 4 layers, 6 arrays: ~94 MB
    run = Run(BIGGEST)
    for step in range(200):  # a probe every step, as probe_every=1 asks
        hidden = np.zeros(one // 4, np.float32)
        run.record(TrainEvent(step, 0.1, None, 0.1, {}, False, probe=Trace(hidden, None, {}, np.zeros(0),
                                                                           np.zeros(0), np.zeros(0), 0.0)))
        assert sum(t.nbytes for _, t in run.probes) <= worst_case_run_bytes(BIGGEST)
    assert [s for s, _ in run.probes] == [0, 199]


def test_every_cell_at_its_biggest_has_a_bounded_probe():
    for cell in ("rnn_tanh", "rnn_relu", "lstm", "gru"):
        cfg = BIGGEST.replace(cell=cell)
        assert probe_bytes(cfg) <= max(PROBE_BYTES_EACH, probe_bytes(cfg.replace(probe_size=1)))


def test_a_real_run_thins_its_probes_past_the_cap(monkeypatch):
    monkeypatch.setattr(sys.modules["rnnviz.train"], "PROBE_BYTES_PER_RUN", 20_000)
    cfg = RunConfig(cell="gru", hidden_size=8, seq_len=20, steps=30, probe_every=1, probe_size=4)
    run = train_run(cfg)
    one = run.probes[-1][1].nbytes
    steps = [s for s, _ in run.probes]
    assert steps[0] == 0 and steps[-1] == 30 and steps == sorted(steps)
    assert sum(t.nbytes for _, t in run.probes) <= max(20_000, 2 * one) and len(steps) < 31
    assert len(run.history) == 31  # per-step history (loss, gradient norms) is never thinned
    thinned = {s: t for s, t in run.probes}
    events = {e.step: e.probe for e in train(cfg) if e.probe is not None}
    for s, t in thinned.items():  # what is kept is exactly what was recorded (no lossy storage)
        np.testing.assert_array_equal(t.hidden, events[s].hidden)


def test_cached_runs_count_their_probes_against_the_cache_bound():
    run = train_run(RunConfig(cell="lstm", hidden_size=8, seq_len=10, steps=3, probe_every=1))
    size = jobs.run_nbytes(run)
    assert size >= sum(t.nbytes for _, t in run.probes)
    cache = jobs.RunCache(max_entries=100, max_bytes=3 * size)
    for seed in range(5):
        r = train_run(run.config.replace(seed=seed))
        cache.put(r.config.key(), r)
    assert cache.nbytes <= 3 * size and len(cache) <= 3
