"""Instrumented step functions that read the fused module's own parameters.

Each takes the input projection `xp = W_ih x_t + b_ih` (precomputed for all t)
and the previous state, and returns the new state plus every gate it computed.
"""

from __future__ import annotations

import torch


def rnn_step(xp, h, w_hh, b_hh, relu: bool = False):
    pre = xp + h @ w_hh.T + b_hh  # (B, H)
    h = torch.relu(pre) if relu else torch.tanh(pre)
    return h, None, {"preactivation": pre}


def lstm_step(xp, h, c, w_hh, b_hh):
    i, f, g, o = (xp + h @ w_hh.T + b_hh).chunk(4, dim=-1)  # 4 x (B, H), torch's row order
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    c = f * c + i * g  # keep what the forget gate lets through, add what the input gate admits
    h = o * c.tanh()  # the output gate decides what of the cell is shown
    return h, c, {"input": i, "forget": f, "cell": g, "output": o}


def gru_step(xp, h, w_hh, b_hh):
    x_r, x_z, x_n = xp.chunk(3, dim=-1)  # 3 x (B, H)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    r = (x_r + h_r).sigmoid()  # reset: how much of the old state shapes the candidate
    z = (x_z + h_z).sigmoid()  # update: how much of the old state is kept
    n = (x_n + r * h_n).tanh()  # torch resets the *projected* state, bias included
    h = (1 - z) * n + z * h
    return h, None, {"reset": r, "update": z, "new": n}


GATE_NAMES = {
    "rnn_tanh": ("preactivation",),
    "rnn_relu": ("preactivation",),
    "lstm": ("input", "forget", "cell", "output"),
    "gru": ("reset", "update", "new"),
}


def run_layer(cell: str, rnn: torch.nn.Module, k: int, inp: torch.Tensor):
    """Unroll layer k over inp (B, T, F) from a zero state; lists of per-step tensors."""
    w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
    b_ih, b_hh = getattr(rnn, f"bias_ih_l{k}"), getattr(rnn, f"bias_hh_l{k}")
    B, T = inp.shape[:2]
    xp = inp @ w_ih.T + b_ih  # (B, T, G*H), one matmul for all steps
    h = inp.new_zeros(B, rnn.hidden_size)
    c = h if cell == "lstm" else None
    hs, cs, gates = [], [], []
    for t in range(T):
        if cell == "lstm":
            h, c, g = lstm_step(xp[:, t], h, c, w_hh, b_hh)
            cs.append(c)
        elif cell == "gru":
            h, _, g = gru_step(xp[:, t], h, w_hh, b_hh)
        else:
            h, _, g = rnn_step(xp[:, t], h, w_hh, b_hh, relu=cell == "rnn_relu")
        hs.append(h)
        gates.append(g)
    return hs, cs, gates
