"""Instrumented step functions that read the fused module's own parameters.

Each takes the input projection `xp = W_ih x_t + b_ih` (precomputed for all t), the previous state `(h,)` or
`(h, c_t)`, W_hh and b_hh, and returns the new state plus every gate it computed, in the order of the cell's
row in rnnviz/cellspec.py (which names them). `b_hh=None` means it was already folded into `xp` (`project`
does that unless the cell keeps it apart: fewer ops per step).
"""

from __future__ import annotations

import torch


def tanh_step(xp, state, w_hh, b_hh=None):
    pre = torch.addmm(xp if b_hh is None else xp + b_hh, state[0], w_hh.T)  # (B, H) = xp + h W_hh^T
    return (torch.tanh(pre),), (pre,)


def relu_step(xp, state, w_hh, b_hh=None):
    pre = torch.addmm(xp if b_hh is None else xp + b_hh, state[0], w_hh.T)
    return (torch.relu(pre),), (pre,)


def lstm_step(xp, state, w_hh, b_hh=None):
    h, c = state
    pre = torch.addmm(xp if b_hh is None else xp + b_hh, h, w_hh.T)  # (B, 4H), torch's row order i, f, g, o
    i, f, _, o = pre.sigmoid().chunk(4, dim=-1)  # one sigmoid for the three sigmoid gates
    g = pre[:, 2 * h.shape[1] : 3 * h.shape[1]].tanh()  # (B, H) the candidate
    c = torch.addcmul(f * c, i, g)  # keep what the forget gate lets through, add what the input gate admits
    h = o * c.tanh()  # the output gate decides what of the cell state is shown
    return (h, c), (i, f, g, o)


def gru_step(xp, state, w_hh, b_hh):
    h, H = state[0], state[0].shape[1]
    hp = torch.addmm(b_hh, h, w_hh.T)  # (B, 3H) = W_hh h + b_hh, rows r, z, n
    r, z = (xp[:, : 2 * H] + hp[:, : 2 * H]).sigmoid().chunk(2, dim=-1)  # reset, update
    n = torch.addcmul(xp[:, 2 * H :], r, hp[:, 2 * H :]).tanh()  # torch resets the *projected* state, bias included
    return (torch.lerp(n, h, z),), (r, z, n)  # (1 - z) n + z h: the update gate keeps z of the old state


def layer_params(rnn: torch.nn.Module, k: int, dtype=torch.float32) -> tuple[torch.Tensor, ...]:
    """(W_ih, W_hh, b_ih, b_hh) of layer k, detached: replay and dynamics differentiate states, never weights."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return tuple(getattr(rnn, f"{n}_l{k}").detach().to(dtype) for n in names)


def project(cell, params, u: torch.Tensor) -> torch.Tensor:
    """u (..., F) -> xp (..., G*H) = W_ih u + b_ih, plus b_hh unless `cell` (a CellSpec) keeps it apart."""
    w_ih, _, b_ih, b_hh = params
    bias = b_ih if cell.bias_apart else b_ih + b_hh
    return torch.addmm(bias, u.reshape(-1, u.shape[-1]), w_ih.T).view(*u.shape[:-1], -1)  # one matmul for all t


def run_layer(cell, rnn: torch.nn.Module, k: int, inp: torch.Tensor):
    """Unroll layer k of `cell` (a CellSpec) over inp (B, T, F) from a zero state: lists of per-step h, c_t, gates."""
    params = layer_params(rnn, k)
    # T x (B, G*H); unlike xp[:, t], backward doesn't build a (B, T, G*H) zero tensor per step
    xp = project(cell, params, inp).unbind(1)
    w_hh, b_hh = params[1], params[3] if cell.bias_apart else None
    state = (inp.new_zeros(inp.shape[0], rnn.hidden_size),) * cell.state_parts
    hs, cs, gates = [], [], []
    for t in range(inp.shape[1]):
        state, g = cell.step(xp[t], state, w_hh, b_hh)
        hs.append(state[0])
        cs.extend(state[1:])  # c_t, for a cell that has one
        gates.append(g)
    return hs, cs, gates
