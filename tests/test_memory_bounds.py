"""Stored probes stay bounded whatever the settings: a per-probe sample cap and thinning per run."""

import numpy as np

from rnnviz import RunConfig, train_run
from rnnviz.engine.memory import PROBE_BYTES_EACH, PROBE_BYTES_PER_RUN, probe_samples
from rnnviz.engine.record import Trace
from rnnviz.engine.train import Run, TrainEvent


def fake_trace(nbytes: int) -> Trace:
    hidden = np.zeros(nbytes // 4, np.float32)
    return Trace(hidden, None, {}, np.zeros(0), np.zeros(0), np.zeros(0), 0.0)


def test_probe_samples_fit_the_per_probe_budget():
    small = RunConfig()
    assert probe_samples(small) == small.probe_size  # the default is far below the cap
    huge = RunConfig(cell="lstm", hidden_size=512, num_layers=4, seq_len=2000, probe_size=64, batch_size=1)
    assert probe_samples(huge) == 1  # never zero: one sample is always replayed
    mid = RunConfig(cell="gru", hidden_size=256, num_layers=2, seq_len=500, probe_size=64)
    n = probe_samples(mid)
    assert 1 <= n < 64 and n * 4 * 2 * 500 * 256 * 4 <= PROBE_BYTES_EACH


def test_thinning_keeps_first_and_latest_and_bounds_bytes():
    run = Run(RunConfig())
    each = PROBE_BYTES_PER_RUN // 10
    for step in range(100):
        run.record(TrainEvent(step, 0.1, None, 0.1, {}, False, probe=fake_trace(each)))
        assert sum(t.nbytes for _, t in run.probes) <= PROBE_BYTES_PER_RUN or len(run.probes) == 2
    steps = [s for s, _ in run.probes]
    assert steps[0] == 0 and steps[-1] == 99 and steps == sorted(steps)
    assert 2 < len(steps) <= 10
    assert len(run.rows) == 100  # the per-step history is never thinned


def test_a_large_run_probes_fewer_samples():
    cfg = RunConfig(cell="lstm", hidden_size=256, seq_len=400, steps=1, probe_size=64, batch_size=8)  # 2.4 MB a sample
    run = train_run(cfg)
    trace = run.probes[-1][1]
    assert trace.hidden.shape[1] == probe_samples(cfg) < 64
    assert trace.nbytes <= PROBE_BYTES_EACH * 1.1
