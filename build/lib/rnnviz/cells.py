"""Instrumented step functions that read the fused module's own parameters.

Each takes the input projection `xp = W_ih x_t + b_ih` (precomputed for all t)
and the previous state, and returns the new state plus every gate it computed.
`b_hh=None` means it was already folded into `xp` (run_layer does that: fewer ops per step).
"""

from __future__ import annotations

import torch


def rnn_step(xp, h, w_hh, b_hh=None, relu: bool = False):
    pre = torch.addmm(xp if b_hh is None else xp + b_hh, h, w_hh.T)  # (B, H) = xp + h W_hh^T
    h = torch.relu(pre) if relu else torch.tanh(pre)
    return h, None, {"preactivation": pre}


def lstm_step(xp, h, c, w_hh, b_hh=None):
    pre = torch.addmm(xp if b_hh is None else xp + b_hh, h, w_hh.T)  # (B, 4H), torch's row order i, f, g, o
    i, f, _, o = pre.sigmoid().chunk(4, dim=-1)  # one sigmoid for the three sigmoid gates
    g = pre[:, 2 * h.shape[1] : 3 * h.shape[1]].tanh()  # (B, H) candidate cell
    c = torch.addcmul(f * c, i, g)  # keep what the forget gate lets through, add what the input gate admits
    h = o * c.tanh()  # the output gate decides what of the cell is shown
    return h, c, {"input": i, "forget": f, "cell": g, "output": o}


def gru_step(xp, h, w_hh, b_hh):
    H = h.shape[1]
    hp = torch.addmm(b_hh, h, w_hh.T)  # (B, 3H) = W_hh h + b_hh, rows r, z, n
    r, z = (xp[:, : 2 * H] + hp[:, : 2 * H]).sigmoid().chunk(2, dim=-1)  # reset, update
    n = torch.addcmul(xp[:, 2 * H :], r, hp[:, 2 * H :]).tanh()  # torch resets the *projected* state, bias included
    h = torch.lerp(n, h, z)  # (1 - z) * n + z * h: the update gate keeps z of the old state
    return h, None, {"reset": r, "update": z, "new": n}


GATE_NAMES = {
    "rnn_tanh": ("preactivation",),
    "rnn_relu": ("preactivation",),
    "lstm": ("input", "forget", "cell", "output"),
    "gru": ("reset", "update", "new"),
}


def run_layer(cell: str, rnn: torch.nn.Module, k: int, inp: torch.Tensor):
    """Unroll layer k over inp (B, T, F) from a zero state; lists of per-step tensors.

    The parameters are read detached: replay differentiates states, never the weights.
    """
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{n}_l{k}").detach() for n in names)
    B, T = inp.shape[:2]
    if cell != "gru":  # GRU needs b_hh apart: the reset gate multiplies W_hn h + b_hn
        b_ih, b_hh = b_ih + b_hh, None
    xp = torch.addmm(b_ih, inp.reshape(B * T, -1), w_ih.T).view(B, T, -1)  # (B, T, G*H), one matmul for all t
    xp = xp.unbind(1)  # T x (B, G*H); unlike xp[:, t], backward doesn't build a (B, T, G*H) zero tensor per step
    h = inp.new_zeros(B, rnn.hidden_size)
    c = h if cell == "lstm" else None
    hs, cs, gates = [], [], []
    for t in range(T):
        if cell == "lstm":
            h, c, g = lstm_step(xp[t], h, c, w_hh, b_hh)
            cs.append(c)
        elif cell == "gru":
            h, _, g = gru_step(xp[t], h, w_hh, b_hh)
        else:
            h, _, g = rnn_step(xp[t], h, w_hh, b_hh, relu=cell == "rnn_relu")
        hs.append(h)
        gates.append(g)
    return hs, cs, gates
