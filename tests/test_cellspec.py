"""The cell table agrees with what torch builds and what replay records, for every cell kind."""

import pytest
import torch

from rnnviz import RunConfig, SequenceModel, replay
from rnnviz.cellspec import GATE_KIND, KINDS, SPECS, blocks_of, gate_label, gate_range, spec
from rnnviz.config import CELLS


@pytest.mark.parametrize("cell", KINDS)
def test_each_row_matches_the_torch_module_and_the_replayed_gates(cell):
    s = spec(cell)
    H = 5
    model = SequenceModel(RunConfig(cell=cell, hidden_size=H, num_layers=2), 3, 2, "regression")
    assert type(model.rnn) is s.module
    assert model.rnn.weight_hh_l1.shape == (s.gate_count * H, H)  # one H x H block per gate
    assert getattr(model.rnn, "nonlinearity", None) == s.nonlinearity
    trace = replay(model, torch.randn(4, 6, 3), torch.randn(4, 2))
    assert tuple(trace.gates) == s.gate_names
    assert (trace.cell is not None) == s.has_cell_state
    assert trace.spectral_radius.shape == (2, s.gate_count) and blocks_of(s.gate_count) == s.blocks


def test_the_table_is_the_config_choice_and_gates_have_one_kind_each():
    assert KINDS == CELLS
    assert {g.name for s in SPECS.values() for g in s.gates} == set(GATE_KIND)
    assert gate_range("forget") == (0.0, 1.0) and gate_range("new") == (-1.0, 1.0)
    assert gate_range("preactivation") is None
    assert gate_label("cell") == "candidate g" and gate_label("state") == "state"  # "cell" is not c_t
    assert spec("lstm").blocks.index("forget") == 1  # torch's row order i, f, g, o
    with pytest.raises(ValueError, match="rnn_tanh, rnn_relu, lstm, gru"):
        spec("transformer")
