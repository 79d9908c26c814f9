"""replay() against torch.nn itself: states, gates, dL/dh_t and dL/dx_t of every layer at every step."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from rnnviz import replay
from rnnviz.engine.cellspec import KINDS
from rnnviz.engine.record import block_radii, recurrent_blocks

CELLS = KINDS  # every row of the cell table
TASKS = ("regression", "classification", "next_token")
LAYERS = (1, 2, 3)


def single_layers(rnn: nn.Module) -> list[nn.Module]:
    """One single-layer torch.nn module per layer of a stacked `rnn`, holding that layer's weights."""
    kind = type(rnn)
    extra = {"nonlinearity": rnn.nonlinearity} if kind is nn.RNN else {}
    layers = []
    for k in range(rnn.num_layers):
        m = kind(rnn.input_size if k == 0 else rnn.hidden_size, rnn.hidden_size, 1, batch_first=True, **extra)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(m, f"{name}_l0").copy_(getattr(rnn, f"{name}_l{k}"))
        layers.append(m)
    return layers


def fused_states(model, x):
    """Every layer's h_t (and LSTM c_t) at every step, each step computed by a fused torch.nn module."""
    inp, hidden, cells = model.rnn_input(x).detach(), [], []
    B, T = inp.shape[:2]
    with torch.no_grad():
        for layer in single_layers(model.rnn):
            state, hs, cs = None, [], []
            for t in range(T):  # stepping the fused module one step at a time exposes c_t too
                out, state = layer(inp[:, t : t + 1], state)
                hs.append(out[:, 0])
                cs.append(state[1][0] if isinstance(state, tuple) else None)
            hidden.append(torch.stack(hs, 1))
            cells.append(torch.stack(cs, 1) if cs[0] is not None else None)
            inp = hidden[-1]
        top, _ = model.rnn(model.rnn_input(x))
    torch.testing.assert_close(hidden[-1], top, rtol=0, atol=1e-5)  # the per-layer oracle is the stack
    return hidden, cells


def last_step_loss(task, out, y):
    """The loss replay differentiates, written out: sum over samples of each one's last-step loss."""
    if task == "regression":
        return ((out - y) ** 2).mean(-1).sum()
    if task == "next_token":
        return F.cross_entropy(out[:, -1], y[:, -1], reduction="sum")
    return F.cross_entropy(out, y, reduction="sum")


def split_grad(model, x, y, k: int, t: int) -> torch.Tensor:
    """dL/dh_t of layer k: split layer k's sequence at t, hand the state across as a leaf, run on.

    The leaf also stands in for layer k's output at t, so it gets every path: the layer's own
    future steps and the layers above.
    """
    layers, inp = single_layers(model.rnn), model.rnn_input(x).detach()
    T = inp.shape[1]
    for j, layer in enumerate(layers):
        if j != k:
            inp, _ = layer(inp)
            continue
        before, state = layer(inp[:, : t + 1])
        h_t = (state[0] if isinstance(state, tuple) else state).detach().requires_grad_(True)  # (1, B, H)
        parts = [before[:, :t], h_t[0][:, None]]
        if t + 1 < T:
            handed = (h_t, state[1]) if isinstance(state, tuple) else h_t
            after, _ = layer(inp[:, t + 1 :], handed)
            parts.append(after)
        inp = torch.cat(parts, dim=1)
    out, _ = model.readout(inp)
    (grad,) = torch.autograd.grad(last_step_loss(model.task, out, y), h_t)
    return grad[0]  # (B, H)


def top_split_grad(model, x, y, t: int) -> torch.Tensor:
    """The issue's check, on the whole stacked fused module: dL/d(top h_n) handed across at t."""
    inp = model.rnn_input(x).detach()
    _, state = model.rnn(inp[:, : t + 1])
    h = (state[0] if isinstance(state, tuple) else state).detach().requires_grad_(True)  # (L, B, H)
    if t + 1 < inp.shape[1]:
        states, _ = model.rnn(inp[:, t + 1 :], (h, state[1]) if isinstance(state, tuple) else h)
    else:
        states = h[-1][:, None]
    out, _ = model.readout(states)  # next_token: the last column is the last step, all L uses
    (grad,) = torch.autograd.grad(last_step_loss(model.task, out, y), h)
    return grad[-1]


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("cell", CELLS)
def test_states_equal_fused_module_at_every_layer_and_step(tiny_model, cell, layers):
    model, data = tiny_model(cell, "regression", layers, recurrent_radius=1.1)
    x, y = data.x_val[:5], data.y_val[:5]
    trace = replay(model, x, y)
    hidden, cells = fused_states(model, x)
    assert trace.hidden.shape == (layers, 5, 7, 6)
    np.testing.assert_allclose(trace.hidden, torch.stack(hidden).numpy(), rtol=0, atol=1e-5)
    if cell == "lstm":
        np.testing.assert_allclose(trace.cell_state, torch.stack(cells).numpy(), rtol=0, atol=1e-5)
    else:
        assert trace.cell_state is None
    out, loss = model(x, y)
    np.testing.assert_allclose(trace.outputs, out.detach().numpy(), rtol=0, atol=1e-5)
    assert trace.loss == pytest.approx(loss.item(), rel=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_gates_are_the_torch_equations_on_the_fused_states(tiny_model, cell):
    """Gates from torch's parameter layout and the fused module's h_{t-1}, and the update they imply."""
    model, data = tiny_model(cell, "regression", 2)
    x, y = data.x_val[:5], data.y_val[:5]
    tr = replay(model, x, y)
    hidden, _ = fused_states(model, x)
    inputs = [model.rnn_input(x).detach(), *hidden[:-1]]
    H = 6
    for k in range(2):
        p = {n: getattr(model.rnn, f"{n}_l{k}").detach() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        h_prev = torch.cat([torch.zeros(5, 1, H), hidden[k][:, :-1]], dim=1)  # (B, T, H)
        xi = inputs[k] @ p["weight_ih"].T + p["bias_ih"]
        hh = h_prev @ p["weight_hh"].T + p["bias_hh"]
        gate = lambda name, k=k: torch.from_numpy(tr.gates[name][k])  # noqa: E731
        close = lambda a, b: torch.testing.assert_close(a, b, rtol=0, atol=1e-5)  # noqa: E731
        h = torch.from_numpy(tr.hidden[k])
        if cell == "lstm":
            pre = xi + hh
            i, f, o = pre[..., :H].sigmoid(), pre[..., H : 2 * H].sigmoid(), pre[..., 3 * H :].sigmoid()
            g = pre[..., 2 * H : 3 * H].tanh()
            for name, want in zip(("input", "forget", "candidate", "output"), (i, f, g, o), strict=True):
                close(gate(name), want)
            c = torch.from_numpy(tr.cell_state[k])
            c_prev = torch.cat([torch.zeros(5, 1, H), c[:, :-1]], dim=1)
            close(c, gate("forget") * c_prev + gate("input") * gate("candidate"))  # c_t = f c_{t-1} + i g
            close(h, gate("output") * c.tanh())  # h_t = o tanh(c_t)
        elif cell == "gru":
            r = (xi[..., :H] + hh[..., :H]).sigmoid()
            z = (xi[..., H : 2 * H] + hh[..., H : 2 * H]).sigmoid()
            n = (xi[..., 2 * H :] + r * hh[..., 2 * H :]).tanh()
            for name, want in zip(("reset", "update", "new"), (r, z, n), strict=True):
                close(gate(name), want)
            close(h, (1 - gate("update")) * gate("new") + gate("update") * h_prev)
        else:
            close(gate("preactivation"), xi + hh)
            act = torch.relu if cell == "rnn_relu" else torch.tanh
            close(h, act(gate("preactivation")))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("cell", CELLS)
def test_grad_norms_equal_split_sequence_gradients(tiny_model, cell, layers, task):
    model, data = tiny_model(cell, task, layers)
    x, y = data.x_val[:4], data.y_val[:4]
    trace = replay(model, x, y)
    assert trace.grad_norms.shape == (layers, 4, 7)
    want = np.array([[split_grad(model, x, y, k, t).norm(dim=-1).numpy() for t in range(7)] for k in range(layers)])
    np.testing.assert_allclose(trace.grad_norms, want.transpose(0, 2, 1), rtol=1e-4, atol=1e-9)
    # the formulation on the stacked module agrees for the top layer
    top = np.stack([top_split_grad(model, x, y, t).norm(dim=-1).numpy() for t in range(7)], axis=1)
    np.testing.assert_allclose(trace.grad_norms[-1], top, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("cell", CELLS)
def test_input_saliency_equals_autograd_on_fused_module(tiny_model, cell, task):
    model, data = tiny_model(cell, task, 2)
    x, y = data.x_val[:4], data.y_val[:4]
    inp = model.rnn_input(x).detach().requires_grad_(True)
    states, _ = model.rnn(inp)
    out, _ = model.readout(states)
    (grad,) = torch.autograd.grad(last_step_loss(task, out, y), inp)
    trace = replay(model, x, y)
    np.testing.assert_allclose(trace.input_saliency, grad.norm(dim=-1).numpy(), rtol=1e-4, atol=1e-9)


def test_last_step_loss_is_per_sample_so_each_row_gets_its_own_gradient(tiny_model):
    """Changing one sample's target changes only that sample's gradients."""
    model, data = tiny_model("lstm", "regression")
    x, y = data.x_val[:4], data.y_val[:4].clone()
    a = replay(model, x, y)
    y[2] += 5.0
    b = replay(model, x, y)
    np.testing.assert_array_equal(np.delete(a.grad_norms, 2, axis=1), np.delete(b.grad_norms, 2, axis=1))
    assert not np.allclose(a.grad_norms[:, 2], b.grad_norms[:, 2])


@pytest.mark.parametrize("cell", CELLS)
def test_replay_leaves_parameters_and_their_grads_alone(tiny_model, cell):
    model, data = tiny_model(cell, "next_token", 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    replay(model, data.x_val[:4], data.y_val[:4])
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    # gradients a training step left behind are not touched either
    _, loss = model(data.x_train[:8], data.y_train[:8])
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    with torch.no_grad():  # callers may hold no_grad; replay still differentiates the states
        trace = replay(model, data.x_val[:4], data.y_val[:4])
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads, strict=True))
    assert np.isfinite(trace.grad_norms).all() and trace.grad_norms.max() > 0


@pytest.mark.parametrize("cell", CELLS)
def test_trace_shapes_names_and_spectral_radius(tiny_model, cell):
    model, data = tiny_model(cell, "classification", 2)
    tr = replay(model, data.x_val[:3], data.y_val[:3])
    names = {"rnn_tanh": {"preactivation"}, "rnn_relu": {"preactivation"},
             "lstm": {"input", "forget", "candidate", "output"}, "gru": {"reset", "update", "new"}}[cell]
    assert set(tr.gates) == names
    assert all(g.shape == (2, 3, 7, 6) and g.dtype == np.float32 for g in tr.gates.values())
    assert tr.input_saliency.shape == (3, 7) and tr.outputs.shape == (3, 3)
    G = len(model.rnn.weight_hh_l0) // 6
    want = [[np.abs(np.linalg.eigvals(b.numpy().astype(np.float64))).max()
             for b in getattr(model.rnn, f"weight_hh_l{k}").detach().split(6)] for k in range(2)]
    assert tr.spectral_radius.shape == (2, G)
    np.testing.assert_allclose(tr.spectral_radius, want, rtol=1e-4)
    small = tr.astype(np.float16)
    assert small.hidden.dtype == np.float16 and small.nbytes < tr.nbytes


def test_spectral_radii_are_the_weights_at_the_probe_however_late_they_are_read(tiny_model):
    """Replay keeps a copy of W_hh and the trace turns it into radii when first read (LAPACK is a quarter of a
    probe): training on afterwards, pickling or copying the trace must not change what it reads."""
    model, data = tiny_model("lstm", "regression", 2)
    want = block_radii(recurrent_blocks(model.rnn))  # small blocks: copied, reduced here
    tr = replay(model, data.x_val[:3], data.y_val[:3])
    assert isinstance(tr.__dict__["_spectral_radius"], torch.Tensor)  # not computed yet...
    assert tr.nbytes >= tr.__dict__["_spectral_radius"].nbytes  # ...but its copy is counted
    with torch.no_grad():
        model.rnn.weight_hh_l0.mul_(3.0)  # a later training step
    copied = pickle.loads(pickle.dumps(tr))
    np.testing.assert_array_equal(tr.spectral_radius, want)
    np.testing.assert_array_equal(copied.spectral_radius, want)
    assert isinstance(tr.__dict__["_spectral_radius"], np.ndarray)  # computed once, then kept


def test_the_design_contract_names_still_work_beside_the_new_ones(tiny_model):
    """DESIGN.md names the LSTM's c_t `Trace.cell` and its candidate gate "cell": both still answer."""
    model, data = tiny_model("lstm", "regression")
    trace = replay(model, data.x_val[:4], data.y_val[:4])
    assert trace.cell is trace.cell_state and trace.cell_state is not None
    assert trace.gates["cell"] is trace.gates["candidate"] and "cell" not in trace.gates  # an alias, not a key
    assert list(trace.gates) == ["input", "forget", "candidate", "output"]
    half = trace.astype(np.float16)
    assert half.gates["cell"].dtype == np.float16 and half.cell is half.cell_state
    with pytest.raises(KeyError):
        replay(*_gru(tiny_model)).gates["cell"]  # only the LSTM has a candidate


def _gru(tiny_model):
    model, data = tiny_model("gru", "regression")
    return model, data.x_val[:4], data.y_val[:4]
