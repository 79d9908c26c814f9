"""rnnviz.inspect() on modules people build themselves: PyTorch is the oracle. The replay's states equal the
module's own outputs and its ||dL/dh_t|| equals autograd through the module split at t, for every cell, 1-3
layers, batch_first either way, no biases, a custom head and loss; the module is never changed."""

import copy

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn as nn

import rnnviz
from rnnviz import ModelError

KINDS = {"rnn_tanh": lambda i, h, n, **kw: nn.RNN(i, h, n, nonlinearity="tanh", **kw),
         "rnn_relu": lambda i, h, n, **kw: nn.RNN(i, h, n, nonlinearity="relu", **kw),
         "lstm": nn.LSTM, "gru": nn.GRU}


def build(kind: str, layers: int = 1, batch_first: bool = True, bias: bool = True, seed: int = 7,
          inputs: int = 3, hidden: int = 6) -> nn.Module:
    torch.manual_seed(seed)  # weights from a seed of the user's, not rnnviz's
    return KINDS[kind](inputs, hidden, layers, batch_first=batch_first, bias=bias)


def data(module, B: int = 4, T: int = 9, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, module.input_size, generator=g)
    return x if module.batch_first else x.transpose(0, 1)


def split_grad(module, head, loss, x_bf: torch.Tensor, y, t: int) -> torch.Tensor:
    """dL/dh_t of the top layer through the user's own module: run to t, hand (h, c) across as a leaf, run on.
    x_bf is (B, T, F); the module is called in its own layout."""
    def call(inp, state=None):
        if not module.batch_first:
            out, st = module(inp.transpose(0, 1), state)
            return out.transpose(0, 1), st
        return module(inp, state)

    _, state = call(x_bf[:, : t + 1])
    h = (state[0] if isinstance(state, tuple) else state).detach().requires_grad_(True)  # (L, B, H)
    if t + 1 < x_bf.shape[1]:
        out, _ = call(x_bf[:, t + 1 :], (h, state[1]) if isinstance(state, tuple) else h)
        last = out[:, -1]
    else:
        last = h[-1]
    pred = head(last) if head is not None else last
    total = sum(loss(pred[i : i + 1], y[i : i + 1]) for i in range(pred.shape[0]))
    (grad,) = torch.autograd.grad(total, h)
    return grad[-1]  # (B, H)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("kind", list(KINDS))
def test_the_replay_equals_the_users_module_states_and_gradients(kind, layers, batch_first):
    module = build(kind, layers, batch_first)
    head = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2))  # a head of the user's own
    x = data(module)
    x_bf = x if batch_first else x.transpose(0, 1)
    y = torch.randn(4, 2)

    def loss(out, target):  # a loss of the user's own, averaged over its batch
        return (out - target).abs().mean()

    view = rnnviz.inspect(module, x, targets=y, head=head, loss=loss)
    with torch.no_grad():
        out, state = module(x)
    out = out if batch_first else out.transpose(0, 1)
    np.testing.assert_allclose(view.trace.hidden[-1], out.numpy(), atol=1e-5)
    h_n = state[0] if kind == "lstm" else state
    np.testing.assert_allclose(view.trace.hidden[:, :, -1], h_n.numpy(), atol=1e-5)  # every layer's last h
    if kind == "lstm":
        np.testing.assert_allclose(view.trace.cell_state[:, :, -1], state[1].numpy(), atol=1e-5)
    np.testing.assert_allclose(view.trace.outputs, head(out[:, -1]).detach().numpy(), atol=1e-5)
    for t in (0, 4, 8):
        want = split_grad(module, head, loss, x_bf, y, t).norm(dim=-1).numpy()
        np.testing.assert_allclose(view.trace.grad_norms[-1][:, t], want, rtol=1e-4, atol=1e-7)


def test_a_module_without_biases_and_the_default_loss_without_targets():
    module = build("gru", 2, bias=False)
    x = data(module)
    view = rnnviz.inspect(module, x)
    with torch.no_grad():
        out, _ = module(x)
    np.testing.assert_allclose(view.trace.hidden[-1], out.numpy(), atol=1e-5)

    def half_square(pred, _):
        return 0.5 * pred.pow(2).sum()

    for t in (0, 8):  # without targets, L = ½||h_T||² per sample
        want = split_grad(module, None, half_square, x, torch.zeros(4, 1), t).norm(dim=-1).numpy()
        np.testing.assert_allclose(view.trace.grad_norms[-1][:, t], want, rtol=1e-4, atol=1e-7)


def test_class_targets_take_cross_entropy():
    module, head = build("lstm"), nn.Linear(6, 3)
    x, y = data(module), torch.tensor([0, 2, 1, 1])
    view = rnnviz.inspect(module, x, targets=y, head=head)
    ce = nn.CrossEntropyLoss(reduction="sum")
    want = split_grad(module, head, lambda p, t: ce(p, t), x, y, 5).norm(dim=-1).numpy()
    np.testing.assert_allclose(view.trace.grad_norms[-1][:, 5], want, rtol=1e-4, atol=1e-7)


def test_the_users_module_and_head_are_never_changed():
    module, head = build("lstm", 2), nn.Linear(6, 1)
    module.train()
    head.weight.requires_grad_(True)
    head.bias.requires_grad_(False)
    before = copy.deepcopy(module.state_dict()), copy.deepcopy(head.state_dict())
    view = rnnviz.inspect(module, data(module), targets=torch.randn(4, 1), head=head)
    view.figures()
    assert module.training and head.weight.requires_grad and not head.bias.requires_grad
    assert all(p.grad is None for p in [*module.parameters(), *head.parameters()])
    for mine, kept in ((module.state_dict(), before[0]), (head.state_dict(), before[1])):
        assert all(torch.equal(mine[k], kept[k]) for k in kept)


def test_every_figure_and_the_arrays_behind_them():
    module = build("lstm", 2, hidden=8)
    view = rnnviz.inspect(module, data(module, B=6, T=20), targets=torch.randn(6, 8))
    figs = view.figures()
    assert set(figs) <= set(rnnviz.views.figures.CAPTIONS) and len(figs) == 8
    assert all(isinstance(f, go.Figure) and f.layout.title.text for f in figs.values())
    assert set(view.gate_values()) == {"input", "forget", "candidate", "output"}
    table = view.grad_norms()
    assert list(table.columns) == ["sample", "t", "grad_norm"] and len(table) == 6 * 20
    decay = view.decay()
    assert 0 < decay.factor_per_step and decay.verdict in ("vanishing", "exploding", "steady")
    jac = view.jacobian_arrays(0)
    assert jac.sigma_max.shape == (1, 20) and np.all(jac.product_norm[0] * view.trace.grad_norms[-1, 0, -1]
                                                       >= view.trace.grad_norms[-1, 0] * (1 - 1e-4))
    points = view.fixed_point_arrays(0.0, rnnviz.views.dynamics.FixedPointSearch(starts=32, budget_s=0.5))
    assert points.states.shape[1] == 2 * 2 * 8  # (h, c) of both layers
    assert view.trajectory_points(3).shape == (6, 20, 3)
    html = view.html()
    assert html.count("plotly.js") >= 1 and html.count('class="plotly-graph-div"') == 8


@pytest.mark.parametrize("make, inputs, message", [
    (lambda: nn.LSTM(3, 6, bidirectional=True), None, "bidirectional modules are not supported"),
    (lambda: nn.LSTM(3, 6, proj_size=2), None, "proj_size=2 is not supported"),
    (lambda: nn.GRU(3, 6, 5), None, "num_layers=5: rnnviz shows 1 to 4 layers"),
    (lambda: nn.Linear(3, 6), None, "Linear is not a torch.nn.RNN, nn.LSTM or nn.GRU"),
    (lambda: nn.GRU(3, 6, batch_first=True), torch.zeros(2, 5, 4), "inputs have 4 features per step but the "
     "module's input_size is 3"),
    (lambda: nn.GRU(3, 6, batch_first=True), torch.zeros(5), "expected (batch, time, features)"),
    (lambda: nn.GRU(3, 6), torch.zeros(2, 2, 2, 2), "expected (time, batch, features)"),
    (lambda: nn.GRU(3, 6, batch_first=True), torch.full((2, 5, 3), float("nan")), "NaN or infinite"),
])
def test_what_cannot_be_inspected_says_why(make, inputs, message):
    module = make()
    with pytest.raises(ModelError) as err:
        rnnviz.inspect(module, inputs if inputs is not None else torch.zeros(2, 5, 3))
    assert message in str(err.value)


def test_numpy_inputs_and_a_single_sequence_are_taken():
    module = build("rnn_tanh")
    x = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float64)  # one sequence, (T, F)
    view = rnnviz.inspect(module, x)
    with torch.no_grad():
        out, _ = module(torch.tensor(x, dtype=torch.float32)[None])
    np.testing.assert_allclose(view.trace.hidden[-1, 0], out[0].numpy(), atol=1e-5)
