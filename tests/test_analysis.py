"""analysis.py on data whose answer is known: PCA structure, saturation, spectra, gradient decay."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from rnnviz import RunConfig, SequenceModel, Trace
from rnnviz.engine.record import block_radii, recurrent_blocks
from rnnviz.views import analysis as A


def fake_trace(hidden, grad_norms=None, gates=None, radius=None) -> Trace:
    L, B, T, H = hidden.shape
    return Trace(
        hidden=hidden, cell_state=None, gates=gates or {},
        grad_norms=grad_norms if grad_norms is not None else np.ones((L, B, T)),
        input_saliency=np.ones((B, T)), outputs=np.zeros((B, 1)), loss=0.0, spectral_radius=radius,
    )


def rotation(theta: float) -> np.ndarray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


# ---------------------------------------------------------------- PCA


def test_pca_recovers_rank_one_signal_and_reconstructs_it():
    rng = np.random.default_rng(0)
    u = rng.normal(size=6)
    u /= np.linalg.norm(u)
    a = rng.normal(size=(4, 10))  # (B, T) amplitudes
    hidden = 2.0 + a[..., None] * u  # (B, T, H): a line through the point 2
    pca = A.fit_pca([fake_trace(hidden[None])], k=3)
    assert pca.explained[0] == pytest.approx(1.0, abs=1e-9)
    assert np.allclose(np.abs(pca.components[0]), np.abs(u))
    pts = A.project(pca, hidden)  # (B, T, 3)
    assert pts.shape == (4, 10, 3)
    assert np.allclose(pca.mean + pts[..., :1] * pca.components[0], hidden)
    assert np.allclose(pts[..., 1:], 0, atol=1e-9)


def test_pca_explained_variance_of_known_spread():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20_000, 3)) * np.array([3.0, 2.0, 1.0])  # variances 9, 4, 1
    pca = A.pca_of(X, k=3)
    assert np.allclose(pca.explained, np.array([9, 4, 1]) / 14, atol=0.01)
    assert np.allclose(np.abs(pca.components), np.eye(3), atol=0.02)


def test_pca_fitted_once_over_probes_gives_stable_axes():
    rng = np.random.default_rng(2)
    traces = [fake_trace(rng.normal(size=(1, 3, 7, 5)) * (i + 1)) for i in range(4)]
    pca = A.fit_pca(traces)
    assert np.allclose(A.fit_pca(list(enumerate(traces))).components, pca.components)  # (step, trace) too
    on_all = A.pca_of(np.concatenate([t.hidden[-1].reshape(-1, 5) for t in traces]))
    early = traces[0].hidden[-1]
    assert np.allclose(A.project(pca, early), A.project(on_all, early))
    # the same states in another order give the very same axes, signs included
    shuffled = A.fit_pca(traces[::-1])
    assert np.allclose(shuffled.components, pca.components)
    assert np.allclose(A.project(shuffled, early), A.project(pca, early))


def test_pca_sign_convention_largest_loading_positive():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    for data in (X, -X):
        comps = A.pca_of(data).components
        assert np.all(comps[np.arange(3), np.abs(comps).argmax(1)] > 0)
    assert np.allclose(A.pca_of(X).components, A.pca_of(-X).components)


def test_pca_fewer_units_than_components_and_dead_states_have_no_nan():
    small = A.fit_pca([fake_trace(np.random.default_rng(4).normal(size=(1, 2, 5, 2)))], k=3)
    assert small.components.shape == (3, 2) and np.all(small.components[2] == 0)
    assert small.explained.sum() == pytest.approx(1.0)
    dead = A.fit_pca([fake_trace(np.zeros((1, 2, 5, 4)))], k=3)
    pts = A.project(dead, np.zeros((2, 5, 4)))
    for a in (dead.mean, dead.components, dead.explained, pts):
        assert np.all(np.isfinite(a))
    assert np.all(dead.explained == 0)


def test_pca_ranges_cover_every_probe():
    rng = np.random.default_rng(5)
    traces = [fake_trace(rng.normal(size=(1, 2, 6, 4)) * s) for s in (0.1, 5.0)]
    pca = A.fit_pca(traces)
    r = A.pca_ranges(pca, traces)
    assert np.allclose(A.pca_ranges(pca, [(0, t) for t in traces]), r)
    for t in traces:
        pts = A.project(pca, t.hidden[-1]).reshape(-1, 3)
        assert np.all(pts >= r[:, 0]) and np.all(pts <= r[:, 1])


# ---------------------------------------------------------------- saturation


def test_saturation_fractions_per_unit():
    values = np.zeros((2, 5, 3))  # (B, T, H): 10 entries per unit
    values[..., 0] = 0.05  # always low
    values[..., 1] = 0.95  # always high
    values[0, :, 2] = 0.5  # unit 2: half in between, 3/10 low, 2/10 high
    values[1, :3, 2] = 0.0
    values[1, 3:, 2] = 1.0
    low, high = A.saturation(values)
    assert np.allclose(low, [1.0, 0.0, 0.3])
    assert np.allclose(high, [0.0, 1.0, 0.2])


def test_tanh_gate_uses_symmetric_thresholds():
    s = A.gate_saturation("lstm", "candidate", np.array([[-0.95, 0.0, 0.95, 0.5]]).T)  # one unit, four steps
    assert s.low == pytest.approx([0.25]) and s.high == pytest.approx([0.25])
    assert s.low_label == "candidate < -0.9" and s.high_label == "candidate > 0.9"
    s = A.gate_saturation("gru", "update", np.array([[0.05, 0.95, 0.95, 0.5]]).T)
    assert s.low == pytest.approx([0.25]) and s.high == pytest.approx([0.5])
    assert s.low_label == "update < 0.1" and s.high_label == "update > 0.9"


def test_state_saturation_tanh_and_relu():
    h = np.array([[0.0, 0.05, -0.95, 0.5]]).T  # one unit, four steps
    tanh = A.state_saturation("rnn_tanh", h)
    assert tanh.low == pytest.approx([0.5]) and tanh.high == pytest.approx([0.25])
    assert "|h| < 0.1" in tanh.low_label and "|h| > 0.9" in tanh.high_label
    relu = A.state_saturation("rnn_relu", np.array([[0.0, 0.0, 0.0, 2.0], [0.0] * 4]).T)
    assert relu.low == pytest.approx([0.75, 1.0]) and relu.high == pytest.approx([0.25, 0.0])
    assert "dead" in relu.low_label


def test_saturation_history_rows_per_probe_and_gate():
    gates = {name: np.full((1, 2, 4, 3), 0.95) for name in ("reset", "update", "new")}
    probes = [(s, fake_trace(np.zeros((1, 2, 4, 3)), gates=gates)) for s in (0, 10)]
    df = A.saturation_history(probes, "gru")
    assert len(df) == 6 and list(df["gate"][:3]) == ["reset", "update", "new"]
    assert np.allclose(df["mean_high"], 1.0) and np.allclose(df["mean_low"], 0.0)
    rnn = A.saturation_history(probes, "rnn_tanh")
    assert list(rnn["gate"]) == ["state", "state"] and np.allclose(rnn["mean_low"], 1.0)


def test_gate_values_are_the_state_for_vanilla_cells_and_the_gates_otherwise():
    hidden = np.full((1, 2, 4, 3), -0.5)
    rnn = fake_trace(hidden, gates={"preactivation": hidden})
    values = A.gate_values("rnn_tanh", rnn)
    assert list(values) == ["state"] and values["state"].shape == (2, 4, 3)
    lstm = fake_trace(hidden, gates={g: hidden for g in ("input", "forget", "candidate", "output")})
    assert list(A.gate_values("lstm", lstm)) == ["input", "forget", "candidate", "output"]


# ---------------------------------------------------------------- spectrum


def test_probe_radii_split_lstm_gate_blocks_and_radius_history_names_them():
    model = SequenceModel(RunConfig(cell="lstm", hidden_size=2, num_layers=2), 1, 1, "regression")
    scales = [0.5, 0.9, 1.2, 2.0]
    blocks = np.concatenate([s * rotation(0.3) for s in scales])  # (4H, H), torch's gate order
    with torch.no_grad():
        model.rnn.weight_hh_l1.copy_(torch.tensor(blocks))
    radii = block_radii(recurrent_blocks(model.rnn))  # what every probe's Trace carries
    assert radii.shape == (2, 4) and radii[1] == pytest.approx(scales, rel=1e-5)
    df = A.radius_history([(7, fake_trace(np.zeros((2, 1, 3, 2)), radius=radii))])
    assert df.loc[df["layer"] == 1, "gate"].tolist() == ["input", "forget", "candidate", "output"]
    assert df.loc[df["layer"] == 1, "radius"].tolist() == pytest.approx(scales, rel=1e-5)


def test_radius_history_names_blocks():
    probes = [(s, fake_trace(np.zeros((2, 1, 3, 2)), radius=np.full((2, 3), 0.1 * s))) for s in (0, 5)]
    df = A.radius_history(probes)
    assert list(df.columns) == ["step", "layer", "gate", "radius"] and len(df) == 12
    assert set(df["gate"]) == {"reset", "update", "new"} and set(df["layer"]) == {0, 1}
    assert df.loc[df["step"] == 5, "radius"].tolist() == pytest.approx([0.5] * 6)


# ---------------------------------------------------------------- gradient decay


@pytest.mark.parametrize("factor", [0.7, 1.3])
def test_decay_rate_recovers_geometric_factor(factor):
    T = 30
    norms = 2.0 * factor ** (T - 1 - np.arange(T))  # last step 2, each step back times `factor`
    batch = np.stack([norms, 3 * norms])  # (B, T): the batch mean keeps the factor
    batch[:, 5] = 0.0  # an underflow and a blow-up are ignored, not fitted
    batch[:, 9] = np.nan
    d = A.decay_rate(batch)
    assert d.factor_per_step == pytest.approx(factor)
    assert d.slope_per_step == pytest.approx(np.log10(factor))
    assert d.fitted[-1] == pytest.approx(4.0)  # the batch mean at the last step
    assert ("vanishing" if factor < 1 else "exploding") in d.label


@pytest.mark.parametrize("factor, T, verdict", [
    (0.9, 50, "vanishing"), (0.984, 50, "steady"), (1.02, 50, "steady"), (1.045, 50, "exploding"),
    (1.045, 5, "steady"), (0.7, 5, "vanishing"),  # the verdict is about what reaches the first step
])
def test_decay_verdict_is_one_word_shared_by_the_label(factor, T, verdict):
    d = A.decay_rate(factor ** (T - 1 - np.arange(T)))  # (T,) each step back times `factor`
    assert d.verdict == verdict and d.label.endswith(f"({verdict})")  # the page metric and the chart legend


def test_decay_rate_without_enough_points_is_not_ok():
    d = A.decay_rate(np.array([0.0, 0.0, 1.0]))
    assert not d.ok and d.label == "no fit"


def test_grad_heatmap_rows_are_batch_means():
    probes = [(s, fake_trace(np.zeros((1, 2, 4, 3)), grad_norms=np.full((1, 2, 4), s + 1.0))) for s in (0, 10)]
    steps, matrix = A.grad_heatmap(probes)
    assert steps.tolist() == [0, 10] and matrix.shape == (2, 4)
    assert np.allclose(matrix[1], 11.0)


def test_downsample_keeps_first_and_last():
    idx = A.downsample_index(1001, 100)
    assert len(idx) <= 100 and idx[0] == 0 and idx[-1] == 1000
    assert A.downsample(np.arange(10), 20).tolist() == list(range(10))
    assert len(A.downsample(pd.DataFrame({"a": range(1000)}), 10)) == 10


def test_class_labels_only_for_classification():
    data = SimpleNamespace(task="classification", y_val=torch.tensor([2, 0, 1, 1]))
    assert A.class_labels(data, 3).tolist() == [2, 0, 1]
    assert A.class_labels(SimpleNamespace(task="regression", y_val=torch.zeros(4, 1)), 3) is None
