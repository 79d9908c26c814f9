"""Connectivity ||∂ŷ_t/∂x_s|| against autograd's Jacobian of the fused module, for every cell and task; and the
select-and-match search on states whose answer is known."""

import numpy as np
import pytest
import torch

from rnnviz import RunConfig, load_dataset
from rnnviz.engine.cellspec import KINDS
from rnnviz.engine.train import build_model
from rnnviz.views.connectivity import connectivity, final_reach, find_matches, marked_inputs, marked_reach, units_on


def jacobian_norms(model, x: torch.Tensor) -> np.ndarray:
    """(T, T) ||∂ŷ_t/∂x_s|| from torch.autograd.functional.jacobian of the whole sequence at once."""
    u = model.rnn_input(x).detach()[0]  # (T, F)
    with torch.no_grad():
        states, _ = model.rnn(u[None])
        out = model.head(states[0])
        pick = out.argmax(-1) if model.task != "regression" else None

    def scores(inputs):
        s, _ = model.rnn(inputs[None])
        o = model.head(s[0])
        if model.task == "regression":
            return o.sum(-1)
        return torch.log_softmax(o, -1)[torch.arange(len(o)), pick]

    J = torch.autograd.functional.jacobian(scores, u)  # (T, T, F)
    return J.norm(dim=-1).numpy()


@pytest.mark.parametrize("dataset", ["sine", "memory", "text"])
@pytest.mark.parametrize("cell", KINDS)
def test_connectivity_equals_autograds_jacobian_of_the_fused_module(cell, dataset):
    config = RunConfig(cell=cell, dataset=dataset, seq_len=12, hidden_size=8, num_layers=2, embedding_size=4)
    data = load_dataset(config)
    model = build_model(config, data)
    x = data.x_val[:1]
    found = connectivity(model, x)
    want = jacobian_norms(model, x)
    np.testing.assert_allclose(found.matrix, want, rtol=1e-4, atol=1e-7)
    assert np.all(found.matrix[np.triu_indices(12, 1)] == 0)  # nothing reads the future
    assert found.row(11)[11] > 0 and found.reach(11, 11) <= 1


@pytest.mark.parametrize("cell", KINDS)
def test_the_last_outputs_reach_in_one_batch_equals_each_samples_jacobian(cell):
    config = RunConfig(cell=cell, dataset="adding", seq_len=15, hidden_size=8)
    data = load_dataset(config)
    model = build_model(config, data)
    x = data.x_val[:5]
    want = np.stack([jacobian_norms(model, x[i : i + 1])[-1] for i in range(5)])
    np.testing.assert_allclose(final_reach(model, x), want, rtol=1e-4, atol=1e-9)


def test_marked_reach_measures_the_marked_inputs_against_the_others():
    config = RunConfig(cell="gru", dataset="adding", seq_len=15, hidden_size=8)
    data = load_dataset(config)
    model = build_model(config, data)
    marked = marked_inputs(data, n=6)
    assert marked.shape == (6, 15) and (marked.sum(1) == 2).all()  # the adding problem marks two numbers
    rows = final_reach(model, data.x_val[:6])
    got = marked_reach(model, data.x_val[:6], marked)
    pairs = list(zip(rows, marked, strict=True))
    assert got.ratio == pytest.approx(np.median([r[m].mean() / r[~m].mean() for r, m in pairs]))
    assert got.first == pytest.approx(np.median([r[m.argmax()] / r.max() for r, m in pairs]))
    assert got.fade == pytest.approx(np.median(rows[:, 0] / rows[:, -1])) and got.samples == 6
    assert got.per_step == pytest.approx(got.fade ** (1 / 14))
    assert marked_inputs(load_dataset(RunConfig(seq_len=15))) is None  # sine marks nothing


def test_a_long_sequence_is_thinned_to_evenly_spaced_output_steps():
    config = RunConfig(cell="gru", seq_len=900, hidden_size=4)
    data = load_dataset(config)
    found = connectivity(build_model(config, data), data.x_val[:1])
    assert found.matrix.shape == (200, 900) and found.steps[0] == 0 and found.steps[-1] == 899


def test_units_on_over_a_span_and_off_around_it_are_found_and_matched_elsewhere():
    T, H = 30, 6
    values = np.zeros((3, T, H))
    values[0, 10:15, [1, 4]] = 1.0  # units 1 and 4 switch on together over steps 10..14 of sample 0
    values[0, 9:16, 2] = 1.0  # unit 2 is on around the span too: not "off around it"
    values[2, 3:8, [1, 4]] = 1.0  # the same pattern, elsewhere, as long
    values[1, 20:29, [1, 4]] = 1.0  # and longer
    values[1, 0:2, 1] = 1.0  # unit 1 alone: no match
    units = units_on(values[0], 10, 14, 0.5)
    assert units.tolist() == [1, 4]
    matches = find_matches(values, units, 0.5, length=5)
    assert [(m.sample, m.start, m.end) for m in matches] == [(0, 10, 14), (2, 3, 7), (1, 20, 28)]
    assert matches[0].score == 1.0 and matches[2].score == pytest.approx(5 / 9)
    assert find_matches(values, np.array([], dtype=int), 0.5, 5) == []
