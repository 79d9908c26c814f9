"""The cell table agrees with what torch builds, trains and saves, and with what replay records, for every row."""

import pytest
import torch

from rnnviz import RunConfig, SequenceModel, replay
from rnnviz.engine.cells import layer_params, project
from rnnviz.engine.cellspec import GATE_KIND, KINDS, SPECS, blocks_of, gate_label, gate_range, spec
from rnnviz.engine.config import CELLS


@pytest.mark.parametrize("cell", KINDS)
def test_each_row_matches_the_torch_module_and_the_replayed_gates(cell):
    s, H = spec(cell), 5
    model = SequenceModel(RunConfig(cell=cell, hidden_size=H, num_layers=2), 3, 2, "regression")
    assert type(model.rnn) is s.module and getattr(model.rnn, "nonlinearity", None) == s.nonlinearity
    for k, inputs in ((0, 3), (1, H)):  # one H-row block per gate in both weight matrices and both biases
        assert getattr(model.rnn, f"weight_ih_l{k}").shape == (s.gate_count * H, inputs)
        assert getattr(model.rnn, f"weight_hh_l{k}").shape == (s.gate_count * H, H)
        assert getattr(model.rnn, f"bias_hh_l{k}").shape == (s.gate_count * H,)
    _, state = model.rnn(torch.randn(4, 6, 3))
    assert len(state) == s.state_parts if isinstance(state, tuple) else s.state_parts == 1  # (h, c) or h
    trace = replay(model, torch.randn(4, 6, 3), torch.randn(4, 2))
    assert tuple(trace.gates) == s.gate_names and len(s.gates) in (1, s.gate_count)
    assert (trace.cell_state is not None) == s.has_cell_state
    assert trace.spectral_radius.shape == (2, s.gate_count) and blocks_of(s.gate_count) == s.blocks


@pytest.mark.parametrize("cell", KINDS)
def test_each_step_function_is_one_step_of_the_torch_module(cell):
    """The row's step (with its bias rule) from a random state gives the fused module's next state exactly."""
    s, H = spec(cell), 4
    rnn = s.module(3, H, 1, batch_first=True, **s.module_kwargs())
    x, state = torch.randn(5, 1, 3), tuple(torch.randn(1, 5, H) for _ in range(s.state_parts))
    _, want = rnn(x, state if s.has_cell_state else state[0])
    params = layer_params(rnn, 0)
    new, gates = s.step(project(s, params, x[:, 0]), tuple(p[0] for p in state), params[1],
                        params[3] if s.bias_apart else None)
    for got, expected in zip(new, want if isinstance(want, tuple) else (want,), strict=True):
        torch.testing.assert_close(got, expected[0], atol=1e-6, rtol=1e-5)
    assert len(gates) == len(s.gates) and all(g.shape == (5, H) for g in gates)


@pytest.mark.parametrize("cell", KINDS)
def test_saved_floats_bound_what_the_fused_module_keeps_for_backward(cell):
    """The memory estimate's per-unit floats are at least what torch saves (within 10%) and at most twice it."""
    s, (B, T, H, L) = spec(cell), (8, 20, 32, 2)
    rnn = s.module(3, H, L, batch_first=True, **s.module_kwargs())
    x = torch.randn(B, T, 3)
    skip = {p.untyped_storage().data_ptr() for p in [x, *rnn.parameters()]}
    storages = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in skip:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        rnn(x)
    measured = sum(storages.values()) / 4 / (B * T * H * L)
    assert measured / 1.1 <= s.saved_floats <= 2 * measured, (measured, s.saved_floats)


def test_the_table_is_the_config_choice_and_gates_have_one_kind_each():
    assert KINDS == CELLS
    assert {g.name for s in SPECS.values() for g in s.gates} == set(GATE_KIND)
    assert [s.key for s in SPECS.values()] == list(SPECS)
    assert gate_range("forget") == (0.0, 1.0) and gate_range("new") == (-1.0, 1.0)
    assert gate_range("preactivation") is None
    assert gate_label("candidate") == "candidate g" and gate_label("state") == "state"
    assert "cell" not in GATE_KIND  # "cell" is the cell kind; c_t is cell_state, the LSTM's g is "candidate"
    assert spec("lstm").blocks.index("forget") == 1  # torch's row order i, f, g, o
    assert [k for k in KINDS if spec(k).bias_apart] == ["gru"]  # only the GRU's reset multiplies W_hn h + b_hn
    with pytest.raises(ValueError, match="rnn_tanh, rnn_relu, lstm, gru"):
        spec("transformer")
