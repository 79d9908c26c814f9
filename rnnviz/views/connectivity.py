"""Connectivity: how strongly each earlier input reaches each prediction, ||∂ŷ_t/∂x_s|| for s ≤ t (Distill's
"Visualizing memorization in RNNs"), and the search for what a unit does (LSTMVis's select-and-match rule).

ŷ_t is the head applied to h_t, reduced to one number per step: the output itself for regression (summed over its
outputs), the log-probability of the class or token the model finds likeliest at t otherwise. x_s is what the
recurrent module reads at s (a token's embedding for text). One backward pass per output step, on the fused
module; tests/test_connectivity.py checks it against torch.autograd.functional.jacobian.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.engine.cells import unroll
from rnnviz.engine.cellspec import gate_label, spec
from rnnviz.views.dynamics import cached, model_at

MAX_STEPS = 200  # output steps of one connectivity matrix; longer sequences get evenly spaced ones
CHUNK_BYTES = 256 * 2**20  # activations of the copies of a sequence computed in one pass


@dataclass
class Connectivity:
    matrix: np.ndarray  # (len(steps), T): ||∂ŷ_t/∂x_s|| for output step steps[i] (row) and input step s; 0 for s > t
    steps: np.ndarray  # the output steps t of the rows (all of them, or evenly spaced past MAX_STEPS)
    seconds: float

    def row(self, t: int) -> np.ndarray:
        """||∂ŷ_t/∂x_s|| over s for the output step nearest t."""
        return self.matrix[int(np.abs(self.steps - t).argmin())]

    def reach(self, t: int, s: int) -> float:
        """How much of output t's connectivity comes from input s, against the strongest input: 1 = as strong."""
        row = self.row(t)
        return float(row[s] / row.max()) if row.max() > 0 else 0.0


def connectivity(model, x: torch.Tensor, steps: np.ndarray | None = None) -> Connectivity:
    """The connectivity matrix of one sample x (1, T, ...) for `model` (a SequenceModel or OwnModel).

    Each output step's row comes from its own copy of the sequence in one batch: a forward and a backward pass of
    the fused module over as many copies as CHUNK_BYTES of activations allow, not one backward pass per step."""
    start = time.perf_counter()
    with torch.no_grad():
        u = model.rnn_input(x).detach()  # (1, T, F)
    T = u.shape[1]
    steps = np.asarray(steps if steps is not None else np.unique(np.linspace(0, T - 1, min(T, MAX_STEPS)).round()),
                       dtype=int)
    per_copy = T * model.rnn.hidden_size * model.rnn.num_layers * 4 * 16  # gates, states and their gradients
    chunk = max(1, CHUNK_BYTES // per_copy)
    rows = []
    for lo in range(0, len(steps), chunk):
        part = torch.as_tensor(steps[lo : lo + chunk])
        copies = u.expand(len(part), -1, -1).clone().requires_grad_(True)  # (C, T, F)
        with torch.enable_grad():
            states, _ = model.rnn(copies)  # (C, T, H)
            scores = _scores(model, states)  # (C, T)
            picked = scores[torch.arange(len(part)), part].sum()  # copy i answers for output step part[i]
            (g,) = torch.autograd.grad(picked, copies)
        rows.append(g.norm(dim=-1))  # (C, T)
    matrix = torch.cat(rows).detach().numpy()
    matrix[np.arange(T)[None, :] > steps[:, None]] = 0.0  # exactly: no output reads the future
    return Connectivity(matrix, steps, time.perf_counter() - start)


def _scores(model, states: torch.Tensor) -> torch.Tensor:
    """ŷ_t as one number per step (..., T): see the module's docstring."""
    out = model.head(states) if model.head is not None else states  # (..., T, O)
    if getattr(model, "task", "regression") == "regression":
        return out.sum(-1)
    logp = torch.log_softmax(out, dim=-1)
    return logp.gather(-1, logp.detach().argmax(-1, keepdim=True))[..., 0]


def final_reach(model, x: torch.Tensor) -> np.ndarray:
    """||∂ŷ_T/∂x_s|| of each sample's last output over its inputs s, (N, T): the last row of every sample's
    connectivity matrix, in one backward pass over the batch (samples do not interact, so each sample's gradient
    is its own)."""
    with torch.no_grad():
        u = model.rnn_input(x).detach()
    u.requires_grad_(True)
    with torch.enable_grad():
        states, _ = model.rnn(u)
        (g,) = torch.autograd.grad(_scores(model, states)[:, -1].sum(), u)
    return g.norm(dim=-1).detach().numpy()


@dataclass
class MarkedReach:
    """How the last output reads inputs a task marks as the ones that matter (the adding problem's two numbers);
    each figure is the median over the samples."""
    ratio: float  # mean ||∂ŷ_T/∂x_s|| over the marked inputs against the mean over the others
    first: float  # the first marked input's connectivity against the sample's strongest input (1 = as strong)
    fade: float  # the first input's connectivity against the last one's: how much reaches back over the sequence
    per_step: float  # fade as a factor per step of distance, fade ** (1 / (T - 1))
    samples: int


MARKED_SAMPLES = 64  # validation samples the marked reach is measured on


def marked_reach(model, x: torch.Tensor, marked: np.ndarray) -> MarkedReach:
    """MarkedReach of `model` on samples x (N, T, ...) whose inputs `marked` (N, T) marks."""
    rows, marked = final_reach(model, x), np.asarray(marked, bool)
    T = rows.shape[1]
    ratio = [r[m].mean() / max(r[~m].mean(), 1e-30) for r, m in zip(rows, marked, strict=True) if m.any()]
    first = [r[m.argmax()] / max(r.max(), 1e-30) for r, m in zip(rows, marked, strict=True) if m.any()]
    fade = float(np.median(rows[:, 0] / np.maximum(rows[:, -1], 1e-30)))
    return MarkedReach(float(np.median(ratio)), float(np.median(first)), fade, fade ** (1 / max(T - 1, 1)),
                       len(rows))


def marked_inputs(data, n: int = MARKED_SAMPLES) -> np.ndarray | None:
    """The first n validation samples' marked inputs (N, T) for a task that marks them, else None."""
    feature = data.extras.get("marker_feature")
    return None if feature is None else data.x_val[:n, :, feature].numpy() > 0


def run_marked_reach(run, step: int) -> MarkedReach | None:
    """marked_reach at probe `step` on the run's first MARKED_SAMPLES validation samples; None for a task without
    marked inputs or a probe whose weights were not kept. Cached on the run."""
    def compute():
        marked, model = marked_inputs(run.data), model_at(run, step)
        return None if marked is None or model is None else marked_reach(model, run.data.x_val[: len(marked)],
                                                                          marked)
    return cached(run, ("marked_reach", step), compute)


# ---------------------------------------------------------------- what a unit does: select a span, find it again


@dataclass
class Match:
    sample: int
    start: int  # first step where every chosen unit is on
    end: int  # last one (inclusive)
    score: float  # how close the match is to the selection: 1 = the same length, less for longer or shorter


def units_on(values: np.ndarray, t0: int, t1: int, threshold: float) -> np.ndarray:
    """LSTMVis's rule on one sample's (T, H) values: the units at or above `threshold` at every step t0..t1 and
    below it at the step just before and just after the span (where there is one)."""
    on = (values[t0 : t1 + 1] >= threshold).all(0)
    if t0 > 0:
        on &= values[t0 - 1] < threshold
    if t1 + 1 < len(values):
        on &= values[t1 + 1] < threshold
    return np.flatnonzero(on)


def find_matches(values: np.ndarray, units: np.ndarray, threshold: float, length: int, limit: int = 50
                 ) -> list[Match]:
    """Every stretch of steps in (N, T, H) values where all `units` are on together, ranked by how close its
    length is to the selection's (`length` steps), longest first among equals."""
    if len(units) == 0:
        return []
    on = (values[:, :, units] >= threshold).all(-1)  # (N, T)
    padded = np.pad(on, ((0, 0), (1, 1))).astype(np.int8)
    edges = np.diff(padded, axis=1)  # +1 where a stretch starts, -1 one past where it ends
    samples, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    ends = ends - 1
    lengths = ends - starts + 1
    score = np.minimum(lengths, length) / np.maximum(lengths, length)
    order = np.lexsort((-lengths, -score))[:limit]
    return [Match(int(samples[i]), int(starts[i]), int(ends[i]), float(score[i])) for i in order]


MAX_POSITIONS = 20_000  # validation samples × steps searched (the benchmark: 10,000 positions of 512 units)


@torch.no_grad()
def searchable(model, x: torch.Tensor) -> dict[str, np.ndarray]:
    """The top layer's values that can be searched, (N, T, H) each: h_t, the LSTM's c_t and every gate."""
    cell, rnn = spec(model.cell), model.rnn
    u = model.rnn_input(x)
    for k in range(rnn.num_layers - 1):
        u = unroll(cell, rnn, k, u)[0][0]
    states, prev, xp, hp = unroll(cell, rnn, rnn.num_layers - 1, u)
    _, gates = cell.pointwise(xp, hp, tuple(prev))
    out = {"hidden": states[0].numpy()}
    if cell.has_cell_state:
        out["cell_state"] = states[1].numpy()
    if cell.gated:  # a vanilla RNN's only "gate" is its pre-activation: its state says it all
        out |= {name: g.numpy() for name, g in zip(cell.gate_names, gates, strict=True)}
    return out


def search_data(x_val: torch.Tensor, T: int) -> torch.Tensor:
    """The validation samples searched: as many as MAX_POSITIONS steps allow."""
    return x_val[: max(1, MAX_POSITIONS // max(T, 1))]


def run_connectivity(run, step: int, sample: int) -> Connectivity | None:
    """The connectivity of probe sample `sample` (x_val[sample]) at probe `step`; None when its weights were not
    kept. Cached on the run."""
    def compute():
        model = model_at(run, step)
        return None if model is None else connectivity(model, run.data.x_val[sample : sample + 1])
    return cached(run, ("connectivity", step, sample), compute)


def value_label(name: str) -> str:
    """What the pages call a searchable value: "hidden state h_t", "cell state c_t" or a gate ("forget gate f gate")."""
    return {"hidden": "hidden state h_t", "cell_state": "cell state c_t"}.get(name, f"{gate_label(name)} gate")


def run_searchable(run, step: int) -> dict[str, np.ndarray] | None:
    """The values of the searched validation samples at probe `step` (see searchable); cached on the run."""
    def compute():
        model = model_at(run, step)
        T = run.data.x_val.shape[1]
        return None if model is None else searchable(model, search_data(run.data.x_val, T))
    return cached(run, ("searchable", step), compute)
