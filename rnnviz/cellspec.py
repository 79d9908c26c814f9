"""The cell table: what rnnviz knows about each cell kind, in one place.

Adding a cell kind means a row here plus its step function in cells.py; everything else reads this table.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

# what squashes a gate decides its range: it sets the saturation thresholds, the colour scale and the text colouring
KIND_RANGE = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}  # "linear" (a preactivation) has no fixed range


@dataclass(frozen=True)
class Gate:
    name: str  # key in Trace.gates (the DESIGN contract: LSTM input, forget, cell, output; GRU reset, update, new)
    kind: str  # "sigmoid" | "tanh" | "linear"
    label: str  # what the views call it ("cell" is the LSTM's candidate g, not its cell state c_t)


@dataclass(frozen=True)
class CellSpec:
    key: str  # RunConfig.cell
    label: str  # shown in the sidebar and on the Compare page
    module: type[nn.RNNBase]  # the fused torch module that trains it
    gates: tuple[Gate, ...]  # what replay records, in torch's row order of weight_ih / weight_hh
    blocks: tuple[str, ...]  # names of the H x H blocks of weight_hh_l{k}, in torch's row order
    nonlinearity: str | None = None  # nn.RNN's `nonlinearity` (vanilla cells only)
    has_cell_state: bool = False  # an LSTM carries c_t beside h_t

    @property
    def gate_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.gates)

    @property
    def gate_count(self) -> int:
        """H x H blocks per weight matrix: 1 (vanilla), 3 (GRU), 4 (LSTM)."""
        return len(self.blocks)

    @property
    def gated(self) -> bool:
        return self.nonlinearity is None

    def module_kwargs(self) -> dict:
        return {"nonlinearity": self.nonlinearity} if self.nonlinearity else {}


_PRE = (Gate("preactivation", "linear", "preactivation W_ih x + W_hh h + b"),)
_LSTM = (Gate("input", "sigmoid", "input gate i"), Gate("forget", "sigmoid", "forget gate f"),
         Gate("cell", "tanh", "candidate g"), Gate("output", "sigmoid", "output gate o"))
_GRU = (Gate("reset", "sigmoid", "reset gate r"), Gate("update", "sigmoid", "update gate z"),
        Gate("new", "tanh", "candidate n"))

SPECS = {
    "rnn_tanh": CellSpec("rnn_tanh", "Vanilla RNN (tanh)", nn.RNN, _PRE, ("W_hh",), nonlinearity="tanh"),
    "rnn_relu": CellSpec("rnn_relu", "Vanilla RNN (ReLU)", nn.RNN, _PRE, ("W_hh",), nonlinearity="relu"),
    "lstm": CellSpec("lstm", "LSTM", nn.LSTM, _LSTM, tuple(g.name for g in _LSTM), has_cell_state=True),
    "gru": CellSpec("gru", "GRU", nn.GRU, _GRU, tuple(g.name for g in _GRU)),
}
KINDS = tuple(SPECS)  # the allowed values of RunConfig.cell
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
    """A gate's display name ("cell" -> "candidate g"); other names (e.g. "state", "hidden") as they are."""
    return next((g.label for s in SPECS.values() for g in s.gates if g.name == name), name)
