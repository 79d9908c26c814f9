"""The cell table: what rnnviz knows about each cell kind, in one place.

Adding a cell kind means a row here plus its pointwise cell in cells.py; everything else reads this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn as nn

from rnnviz.engine import cells

# what squashes a gate decides its range: it sets the saturation thresholds, the colour scale and the text colouring
KIND_RANGE = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}  # "linear" (a preactivation) has no fixed range


@dataclass(frozen=True)
class Gate:
    name: str  # key in Trace.gates (LSTM input, forget, candidate, output; GRU reset, update, new)
    kind: str  # "sigmoid" | "tanh" | "linear"
    label: str  # what the views call it


@dataclass(frozen=True)
class CellSpec:
    key: str  # RunConfig.cell
    label: str  # shown in the sidebar and on the Compare page
    module: type[nn.RNNBase]  # the fused torch module that trains it
    pointwise: Callable  # cells.*_cell: (xp, hp, state) -> (state, gates), state = (h,) or (h, c_t)
    gates: tuple[Gate, ...]  # what replay records, in torch's row order of weight_ih / weight_hh
    blocks: tuple[str, ...]  # names of the H x H blocks of weight_hh_l{k}, in torch's row order
    saved_floats: float  # floats autograd keeps per sample, step, layer and unit in the fused module's forward
    nonlinearity: str | None = None  # nn.RNN's `nonlinearity` (vanilla cells only)
    has_cell_state: bool = False  # an LSTM carries c_t beside h_t
    bias_apart: bool = False  # b_hh can't be folded into the input projection (GRU: r multiplies W_hn h + b_hn)
    compared: bool = True  # one of the cells the Compare page and the sweeps set side by side unless told otherwise

    @property
    def gate_names(self) -> tuple[str, ...]:
        return _names(self.gates)

    @property
    def gate_count(self) -> int:
        """H x H blocks per weight matrix: 1 (vanilla), 3 (GRU), 4 (LSTM)."""
        return len(self.blocks)

    @property
    def gated(self) -> bool:
        return self.nonlinearity is None

    @property
    def state_parts(self) -> int:
        """Tensors of H the state holds: h, and c_t for an LSTM."""
        return 1 + self.has_cell_state

    @property
    def probe_arrays(self) -> int:
        """(L, B, T, H) arrays a replay records: h, c_t if any, every gate."""
        return self.state_parts + len(self.gates)

    def step(self, xp, state, w_hh, b_hh=None):
        """One time step from the previous state: (new state, gates) (see rnnviz.engine.cells)."""
        return cells.step(self, xp, state, w_hh, b_hh)

    def module_kwargs(self) -> dict:
        return {"nonlinearity": self.nonlinearity} if self.nonlinearity else {}


def _names(gates: tuple[Gate, ...]) -> tuple[str, ...]:
    return tuple(g.name for g in gates)


_PRE = (Gate("preactivation", "linear", "preactivation W_ih x + W_hh h + b"),)
_LSTM = (Gate("input", "sigmoid", "input gate i"), Gate("forget", "sigmoid", "forget gate f"),
         Gate("candidate", "tanh", "candidate g"), Gate("output", "sigmoid", "output gate o"))
_GRU = (Gate("reset", "sigmoid", "reset gate r"), Gate("update", "sigmoid", "update gate z"),
        Gate("new", "tanh", "candidate n"))

# saved_floats measured with saved_tensors_hooks on torch 2.13 CPU (rnnviz.engine.memory adds the backward's share)
SPECS = {s.key: s for s in (
    CellSpec("rnn_tanh", "Vanilla RNN (tanh)", nn.RNN, cells.tanh_cell, _PRE, ("W_hh",), 2.1, nonlinearity="tanh"),
    CellSpec("rnn_relu", "Vanilla RNN (ReLU)", nn.RNN, cells.relu_cell, _PRE, ("W_hh",), 2.1, nonlinearity="relu",
             compared=False),
    CellSpec("lstm", "LSTM", nn.LSTM, cells.lstm_cell, _LSTM, _names(_LSTM), 16.5, has_cell_state=True),
    CellSpec("gru", "GRU", nn.GRU, cells.gru_cell, _GRU, _names(_GRU), 8.1, bias_apart=True),
)}
KINDS = tuple(SPECS)  # the allowed values of RunConfig.cell
COMPARED = tuple(k for k, s in SPECS.items() if s.compared)  # the tutorials' three: tanh RNN, LSTM, GRU
GATE_KIND = {g.name: g.kind for s in SPECS.values() for g in s.gates}  # gate names are unique across cells


def spec(cell: str) -> CellSpec:
    """The row for `cell`; a ValueError naming the allowed kinds otherwise."""
    if cell not in SPECS:
        raise ValueError(f"cell must be one of {', '.join(KINDS)}, not {cell!r}")
    return SPECS[cell]


def blocks_of(n_blocks: int) -> tuple[str, ...]:
    """Block names of a weight_hh with `n_blocks` H x H blocks (a Trace's spectral_radius has one per block)."""
    return next(s.blocks for s in SPECS.values() if s.gate_count == n_blocks)


def gate_range(name: str) -> tuple[float, float] | None:
    """(low, high) a gate's values can take, or None when unbounded (a preactivation)."""
    return KIND_RANGE.get(GATE_KIND.get(name, "linear"))


def gate_label(name: str) -> str:
    """A gate's display name ("candidate" -> "candidate g"); other names (e.g. "state", "hidden") as they are."""
    return next((g.label for s in SPECS.values() for g in s.gates if g.name == name), name)
