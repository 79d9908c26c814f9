"""Instrumented cells that read the fused module's own parameters.

A cell is written once, pointwise: from the input projection `xp = W_ih x_t + b_ih` (b_hh folded in unless the
cell keeps it apart), the recurrent projection `hp = W_hh h_{t-1}` (plus b_hh when kept apart) and the previous
state `(h,)` or `(h, c_t)`, it returns the new state and every gate it computed, in the order of the cell's row
in rnnviz/cellspec.py (which names them). Unit j of the new state reads only unit j of every gate block: replay
relies on it to take the cell's derivatives for all units at once. `step` adds the recurrent matmul.
"""

from __future__ import annotations

import weakref

import torch


def tanh_cell(xp, hp, state):
    pre = xp + hp  # (B, H) = W_ih x + W_hh h + b
    return (torch.tanh(pre),), (pre,)


def relu_cell(xp, hp, state):
    pre = xp + hp
    return (torch.relu(pre),), (pre,)


def lstm_cell(xp, hp, state):
    h, c = state
    H = h.shape[-1]
    pre = xp + hp  # (B, 4H), torch's row order i, f, g, o
    i, f, _, o = pre.sigmoid().chunk(4, dim=-1)  # one sigmoid for the three sigmoid gates
    g = pre[..., 2 * H : 3 * H].tanh()  # (B, H) the candidate
    c = torch.addcmul(f * c, i, g)  # keep what the forget gate lets through, add what the input gate admits
    h = o * c.tanh()  # the output gate decides what of the cell state is shown
    return (h, c), (i, f, g, o)


def gru_cell(xp, hp, state):
    h, H = state[0], state[0].shape[-1]
    r, z = (xp[..., : 2 * H] + hp[..., : 2 * H]).sigmoid().chunk(2, dim=-1)  # reset, update
    n = torch.addcmul(xp[..., 2 * H :], r, hp[..., 2 * H :]).tanh()  # torch resets the *projected* state, bias in
    return (torch.lerp(n, h, z),), (r, z, n)  # (1 - z) n + z h: the update gate keeps z of the old state


def recurrent(h: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor | None = None) -> torch.Tensor:
    """hp = W_hh h (+ b_hh): (..., H) -> (..., G*H), for one step or for every step at once."""
    rows = h.reshape(-1, h.shape[-1])
    hp = rows @ w_hh.T if b_hh is None else torch.addmm(b_hh, rows, w_hh.T)
    return hp.view(*h.shape[:-1], w_hh.shape[0])  # (no -1: there may be no rows at all)


def step(cell, xp, state, w_hh, b_hh=None):
    """One time step of `cell` (a CellSpec) from the previous state: the recurrent matmul, then the cell."""
    return cell.pointwise(xp, recurrent(state[0], w_hh, b_hh), state)


def layer_params(rnn: torch.nn.Module, k: int, dtype=torch.float32) -> tuple[torch.Tensor, ...]:
    """(W_ih, W_hh, b_ih, b_hh) of layer k, detached: replay and dynamics differentiate states, never weights."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return tuple(getattr(rnn, f"{n}_l{k}").detach().to(dtype) for n in names)


def project(cell, params, u: torch.Tensor) -> torch.Tensor:
    """u (..., F) -> xp (..., G*H) = W_ih u + b_ih, plus b_hh unless `cell` (a CellSpec) keeps it apart."""
    w_ih, _, b_ih, b_hh = params
    bias = b_ih if cell.bias_apart else b_ih + b_hh
    return torch.addmm(bias, u.reshape(-1, u.shape[-1]), w_ih.T).view(*u.shape[:-1], -1)  # one matmul for all t


_LAYERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # fused module -> its layers as modules


def layer_modules(rnn: torch.nn.RNNBase) -> list[torch.nn.RNNBase]:
    """Each layer of a fused multi-layer module as a fused one-layer module of its own, sharing its parameters
    (so it always computes with the current weights); a one-layer module is its own only layer."""
    if rnn.num_layers == 1:
        return [rnn]
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    layers = _LAYERS.get(rnn)
    if layers is None or any(getattr(m, f"{n}_l0") is not getattr(rnn, f"{n}_l{k}")
                             for k, m in enumerate(layers) for n in names):
        kwargs = {"nonlinearity": rnn.nonlinearity} if hasattr(rnn, "nonlinearity") else {}  # nn.RNN's only
        layers = []
        for k in range(rnn.num_layers):
            inputs = rnn.input_size if k == 0 else rnn.hidden_size
            m = type(rnn)(inputs, rnn.hidden_size, 1, batch_first=rnn.batch_first, device="meta", **kwargs)
            for n in names:  # no weights of its own: the layer's parameters, as they are
                setattr(m, f"{n}_l0", getattr(rnn, f"{n}_l{k}"))
            layers.append(m)
        _LAYERS[rnn] = layers
    return layers


@torch.no_grad()
def unroll(cell, rnn: torch.nn.Module, k: int, u: torch.Tensor):
    """Layer k of `cell` (a CellSpec) along u (B, T, F) from a zero state, the fused module computing h_t.

    Returns (states, prev, xp, hp): the new state parts (h_t, and c_t for an LSTM) and the previous ones, each
    (B, T, H), with the input and recurrent projections (B, T, G*H) of every step.
    """
    params = layer_params(rnn, k)
    h, _ = layer_modules(rnn)[k](u)  # (B, T, H)
    h_prev = torch.cat([h.new_zeros(h.shape[0], 1, h.shape[2]), h[:, :-1]], dim=1)  # zero before t = 0
    xp = project(cell, params, u)  # (B, T, G*H)
    hp = recurrent(h_prev, params[1], params[3] if cell.bias_apart else None)  # one matmul for all t
    prev, states = [h_prev], [h]
    for p in range(1, cell.state_parts):  # c_t: carried along t, as the cell updates it
        before, after = _carried(cell, xp, hp, h_prev, p)
        prev.append(before)
        states.append(after)
    return states, prev, xp, hp


def _carried(cell, xp, hp, h_prev, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(part p before, after every step), (B, T, H) each, for a state part the cell updates affinely from its
    previous value alone (the LSTM's c_t = f c_{t-1} + i g): c_t = a_t + b_t c_{t-1}, with a_t and b_t of every
    step found at once from the cell itself, so the walk along t is one multiply-add per step."""
    B, T, H = h_prev.shape
    zeros = [h_prev.new_zeros(B, T, H).requires_grad_(q == p) for q in range(1, cell.state_parts)]
    with torch.enable_grad():
        new, _ = cell.pointwise(xp, hp, (h_prev, *zeros))
        (b,) = torch.autograd.grad(new[p], zeros[p - 1], torch.ones_like(new[p]))  # (B, T, H) d c_t / d c_{t-1}
    a, carry, before, after = new[p].detach().unbind(1), h_prev.new_zeros(B, H), [], []
    for a_t, b_t in zip(a, b.unbind(1), strict=True):
        before.append(carry)
        carry = torch.addcmul(a_t, b_t, carry)
        after.append(carry)
    return torch.stack(before, dim=1), torch.stack(after, dim=1)
