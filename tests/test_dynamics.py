"""Step Jacobians and fixed points against PyTorch autograd through the fused torch.nn modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from rnnviz import RunConfig, replay, train_run
from rnnviz.engine.cellspec import KINDS, spec
from rnnviz.views import dynamics as D
from rnnviz.views.lessons import BY_KEY
from tests.test_replay import single_layers

CELLS = KINDS  # every row of the cell table


def top_inputs(model, x):
    """What the top layer reads at every step (B, T, F), computed with the fused modules."""
    inp = model.rnn_input(x).detach()
    with torch.no_grad():
        for layer in single_layers(model.rnn)[:-1]:
            inp = layer(inp)[0]
    return inp


def torch_step(layer: nn.Module, u: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """One step of a fused single-layer module from state s (S,) on input u (F,) -> the new state (S,)."""
    H = layer.hidden_size
    if isinstance(layer, nn.LSTM):
        _, (h, c) = layer(u[None, None], (s[None, None, :H], s[None, None, H:]))
        return torch.cat([h[0, 0], c[0, 0]])
    return layer(u[None, None], s[None, None])[1][0, 0]


def torch_states(layer: nn.Module, u: torch.Tensor) -> torch.Tensor:
    """(T, S) states of one sample along inputs u (T, F), the oracle's own unroll from zero."""
    S = 2 * layer.hidden_size if isinstance(layer, nn.LSTM) else layer.hidden_size
    s, out = torch.zeros(S), []
    for t in range(len(u)):
        s = torch_step(layer, u[t], s)
        out.append(s)
    return torch.stack(out)


def oracle_jacobians(model, x, b: int) -> torch.Tensor:
    """(T, S, S) ds_t/ds_{t-1} of sample b, by torch.autograd.functional.jacobian through the fused module."""
    layer, u = single_layers(model.rnn)[-1], top_inputs(model, x)[b]
    with torch.no_grad():
        states = torch_states(layer, u)
    prev = torch.cat([torch.zeros(1, states.shape[1]), states[:-1]])
    return torch.stack([torch.autograd.functional.jacobian(lambda s, t=t: torch_step(layer, u[t], s), prev[t])
                        for t in range(len(u))])


def back_product(J: np.ndarray, t: int) -> np.ndarray:
    """J_{T-1} ... J_{t+1} (the identity for t = T-1) from Jacobians J (T, S, S)."""
    P = np.eye(J.shape[-1])
    for k in range(t + 1, len(J)):
        P = J[k] @ P
    return P


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", (1, 2))
def test_step_jacobians_equal_autograd_through_torch_nn(tiny_model, cell, layers):
    model, data = tiny_model(cell, "regression", num_layers=layers, recurrent_radius=1.2)
    x = data.x_val[:3]
    jac = D.step_jacobians(model, x)
    for b in range(3):
        J = oracle_jacobians(model, x, b).double().numpy()  # (T, S, S)
        sigma = np.linalg.svd(J, compute_uv=False)[:, 0]
        radius = np.abs(np.linalg.eigvals(J)).max(-1)
        np.testing.assert_allclose(jac.sigma_max[b], sigma, rtol=1e-4)
        np.testing.assert_allclose(jac.radius[b], radius, rtol=1e-4)
        products = [np.linalg.norm(back_product(J, t), 2) for t in range(len(J))]
        np.testing.assert_allclose(jac.product_norm[b], products, rtol=1e-4)
    assert jac.state == ("(h, c)" if cell == "lstm" else "h")


def test_the_raw_jacobian_matches_autograd(tiny_model):
    model, data = tiny_model("gru", "classification")
    xp, s = D.top_layer_path(model, data.x_val[:2])
    prev = torch.cat([torch.zeros(2, 1, s.shape[-1]), s[:, :-1]], 1)
    params = D.layer_params(model.rnn, 0)
    J = D.step_jacobian(spec("gru"), params, prev.reshape(-1, s.shape[-1]), xp.reshape(-1, xp.shape[-1]))
    torch.testing.assert_close(J.view(2, -1, 6, 6)[1], oracle_jacobians(model, data.x_val[:2], 1), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", ("regression", "classification", "next_token"))
@pytest.mark.parametrize("radius", (None, 0.5, 1.5))
def test_product_norm_bounds_the_gradient_ratio(tiny_model, cell, task, radius):
    """||dL/dh_t|| / ||dL/dh_{T-1}|| <= ||J_{T-1} ... J_{t+1}|| for every sample and t (replay's gradients)."""
    model, data = tiny_model(cell, task, num_layers=2, recurrent_radius=radius)
    x, y = data.x_val[:5], data.y_val[:5]
    g = replay(model, x, y).grad_norms[-1].astype(np.float64)  # (B, T) top layer
    ratio = g / g[:, -1:]
    bound = D.step_jacobians(model, x).product_norm
    assert np.all(ratio <= bound * (1 + 1e-5) + 1e-12), (ratio / bound).max()
    assert np.all(np.isfinite(bound)) and (ratio / bound).max() > 1e-3  # a bound, and not a vacuous one


@pytest.mark.parametrize("cell", CELLS)
def test_product_norm_is_reached_when_the_loss_gradient_is_the_top_singular_vector(tiny_model, cell):
    """L = <v, s_{T-1}> with v the top left singular vector of J_{T-1}...J_{t+1}: ||dL/ds_t|| is the norm itself."""
    model, data = tiny_model(cell, "regression", recurrent_radius=1.1)
    x, b, t = data.x_val[:2], 1, 2
    J = oracle_jacobians(model, x, b).double()
    P = torch.from_numpy(back_product(J.numpy(), t))
    v = torch.linalg.svd(P).U[:, 0].float()
    layer, u = single_layers(model.rnn)[-1], top_inputs(model, x)[b]
    with torch.no_grad():
        s_t = torch_states(layer, u)[t]
    s = s_t.clone().requires_grad_(True)
    out = s
    for k in range(t + 1, len(u)):
        out = torch_step(layer, u[k], out)
    (grad,) = torch.autograd.grad(v @ out, s)
    norm = D.step_jacobians(model, x).product_norm[b, t]
    assert float(grad.norm()) == pytest.approx(norm, rel=1e-4)
    assert norm != pytest.approx(1.0, abs=1e-2)  # a real product, not the identity


def test_diverged_weights_give_nan_not_a_crash(tiny_model):
    model, data = tiny_model("lstm", "regression")
    with torch.no_grad():
        model.rnn.weight_hh_l0[0, 0] = float("nan")
    jac = D.step_jacobians(model, data.x_val[:2])
    assert np.isnan(jac.sigma_max).any() and jac.sigma_max.shape == (2, 7)


def test_long_sequences_are_done_in_chunks_with_the_same_result(tiny_model):
    model, data = tiny_model("rnn_tanh", "regression", recurrent_radius=1.5)
    whole = D.step_jacobians(model, data.x_val[:3])
    chunked = D.step_jacobians(model, data.x_val[:3], max_bytes=3 * 6 * 6 * 4 * 2)  # two steps per chunk
    np.testing.assert_allclose(chunked.product_norm, whole.product_norm, rtol=1e-6)
    np.testing.assert_allclose(chunked.sigma_max, whole.sigma_max, rtol=1e-6)


# ---------------------------------------------------------------- fixed points


def two_unit_rnn(r: float = 0.5):
    """h' = tanh(a h) per unit, a = artanh(r) / r > 1: fixed points 0 and ±r per unit, so 9 in the plane.

    Each unit's slope there is a (at 0, > 1) or a (1 - r^2) (at ±r, < 1): (0, 0) repels, (±r, ±r) attract,
    the four with one zero are saddles.
    """
    model, _ = _model(RunConfig(cell="rnn_tanh", hidden_size=2, seq_len=5), input_size=1)
    a = np.arctanh(r) / r
    with torch.no_grad():
        model.rnn.weight_hh_l0.copy_(torch.eye(2) * a)
        for name in ("bias_hh_l0", "bias_ih_l0", "weight_ih_l0"):
            getattr(model.rnn, name).zero_()
    return model, a


def _model(config, input_size):
    from rnnviz import SequenceModel
    return SequenceModel(config, input_size, 1, "regression"), None


def test_two_unit_rnn_fixed_points_are_found_and_classified():
    model, a = two_unit_rnn(0.5)
    starts = np.random.default_rng(1).uniform(-1, 1, (300, 2))
    fp = D.find_fixed_points(model, torch.zeros(1), starts, D.FixedPointSearch(seed=3, budget_s=600))
    found = {tuple(np.round(s, 6) + 0.0): kind for s, kind in zip(fp.states, fp.kind, strict=True)}
    expected = {}
    for h1 in (-0.5, 0.0, 0.5):
        for h2 in (-0.5, 0.0, 0.5):
            n_zero = (h1 == 0) + (h2 == 0)
            expected[(h1, h2)] = {0: "stable", 1: "saddle", 2: "unstable"}[n_zero]
    assert found == expected
    assert fp.fixed.all() and np.all(fp.q < 1e-20)
    eig_at = dict(zip(map(tuple, np.round(fp.states, 6) + 0.0), fp.max_abs_eig, strict=True))
    assert eig_at[(0.0, 0.0)] == pytest.approx(a, rel=1e-6)  # the slope of tanh(a h) at 0
    assert eig_at[(0.5, 0.5)] == pytest.approx(a * 0.75, rel=1e-6)  # a (1 - r^2)
    np.testing.assert_allclose(fp.hidden, fp.states)  # one layer of a vanilla RNN: the state is h


def test_search_is_seeded_and_deduplicated():
    model, _ = two_unit_rnn(0.5)
    starts = np.random.default_rng(0).uniform(-1, 1, (100, 2))
    search = D.FixedPointSearch(seed=7, iterations=300, budget_s=600)  # the same work both times, however slow
    one = D.find_fixed_points(model, torch.zeros(1), starts, search)
    two = D.find_fixed_points(model, torch.zeros(1), starts, search)
    rows = lambda a: a[np.lexsort(a.T)]  # noqa: E731  (the order by q is decided at round-off level)
    np.testing.assert_allclose(rows(one.states), rows(two.states), atol=1e-12)
    d = np.sqrt(((one.states[:, None] - one.states[None]) ** 2).mean(-1)) + np.eye(len(one.states))
    assert d.min() > D.FixedPointSearch().dedup


@pytest.mark.parametrize("cell", KINDS)
@pytest.mark.parametrize("case", ["nothing converges", "no finite start"])
def test_a_search_that_finds_nothing_says_so_instead_of_failing(cell, case):
    config = RunConfig(cell=cell, hidden_size=4, seq_len=5)
    model, _ = _model(config, input_size=1)
    S = 4 * spec(cell).state_parts
    starts = np.full((20, S), np.nan) if case == "no finite start" else np.random.default_rng(0).normal(size=(20, S))
    search = D.FixedPointSearch(iterations=1, slow_q=1e-30, fixed_q=1e-40, budget_s=600)
    fp = D.find_fixed_points(model, torch.zeros(1), starts, search)
    assert len(fp.states) == len(fp.kind) == len(fp.q) == 0 and fp.hidden.shape == (0, 4)


UNHURRIED = D.FixedPointSearch(budget_s=600)  # a shared, loaded machine must not cut the search short


@pytest.fixture(scope="module")
def sine_run():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: a second thread only fights the other jobs for the cores
    yield train_run(BY_KEY["sine"].config)
    torch.set_num_threads(threads)


def test_trained_sine_model_settles_on_one_stable_spiral(sine_run):
    """Measured: the sine lesson's tanh RNN (32 units, 300 steps), input held at 0, has one fixed point.

    It is stable, with a complex pair of eigenvalues |lambda| ~ 0.96 (a slowly decaying rotation: the
    loops the trajectories draw), where the untrained model's point decays fast (|lambda| ~ 0.6).
    """
    run = sine_run
    step = run.probes[-1][0]
    fp = D.run_fixed_points(run, step, 0.0, UNHURRIED)
    assert fp.kind == ["stable"] and fp.fixed.all()
    model = D.model_at(run, step)
    layer = single_layers(model.rnn)[-1].double()
    s = torch.from_numpy(fp.states[0])
    with torch.no_grad():
        assert float((torch_step(layer, torch.zeros(1, dtype=torch.float64), s) - s).abs().max()) < 1e-10
    J = torch.autograd.functional.jacobian(lambda v: torch_step(layer, torch.zeros(1, dtype=torch.float64), v), s)
    eig = np.linalg.eigvals(J.numpy())
    top = eig[np.argmax(np.abs(eig))]
    assert abs(top) == pytest.approx(fp.max_abs_eig[0], rel=1e-6)
    assert 0.9 < abs(top) < 1 and abs(top.imag) > 0.1  # slow and rotating
    untrained = D.run_fixed_points(run, 0, 0.0, UNHURRIED)
    assert untrained.max_abs_eig.max() < abs(top) - 0.2


def test_probe_weights_are_the_ones_the_probe_saw(sine_run):
    run = sine_run
    assert set(run.weights) == {s for s, _ in run.probes}
    step, trace = run.probes[3]
    model = D.model_at(run, step)
    n = trace.hidden.shape[1]
    again = replay(model, run.data.x_val[:n], run.data.y_val[:n])
    np.testing.assert_array_equal(again.hidden, trace.hidden)
    assert D.run_jacobians(run, step, (0, 1)) is D.run_jacobians(run, step, (0, 1))  # cached per (run, step)


def test_fixed_points_project_into_the_run_pca(sine_run):
    from rnnviz.views import analysis
    run = sine_run
    pca = analysis.fit_pca(run.probes)
    fp = D.run_fixed_points(run, run.probes[-1][0], 0.0, UNHURRIED)
    xy = analysis.project(pca, fp.hidden)
    assert xy.shape == (len(fp.kind), 3) and np.isfinite(xy).all()


def test_kept_weights_are_bounded(monkeypatch):
    import importlib

    train_module = importlib.import_module("rnnviz.engine.train")  # the package's `train` is the function
    config = RunConfig(cell="gru", hidden_size=16, seq_len=10, steps=40, probe_every=2, dataset="sine")
    per_probe = sum(p.nbytes for p in train_module.build_model(config, train_module.load_dataset(config))
                    .state_dict().values())
    monkeypatch.setattr(train_module, "WEIGHT_BYTES_PER_RUN", 5 * per_probe)
    run = train_run(config)
    assert 2 < len(run.weights) <= 5 and {0, 40} <= set(run.weights)
    assert D.model_at(run, 0) is not None and D.model_at(run, 2) is None  # thinned: no Jacobians there
