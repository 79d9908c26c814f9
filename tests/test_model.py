"""SequenceModel: the fused module, the input encoder, the head and loss per task, the init options."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from rnnviz import RunConfig, SequenceModel
from rnnviz.engine.cellspec import KINDS

CELLS = KINDS  # every row of the cell table


def radius(block: torch.Tensor) -> float:
    return float(np.abs(np.linalg.eigvals(block.detach().double().numpy())).max())


@pytest.mark.parametrize("cell", CELLS)
def test_rnn_is_the_fused_torch_module(tiny_model, cell):
    model, _ = tiny_model(cell, "regression", 3)
    kind = {"rnn_tanh": nn.RNN, "rnn_relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
    assert type(model.rnn) is kind and model.rnn.batch_first
    assert (model.rnn.input_size, model.rnn.hidden_size, model.rnn.num_layers) == (3, 6, 3)
    if kind is nn.RNN:
        assert model.rnn.nonlinearity == cell[4:]
    assert isinstance(model.head, nn.Linear) and model.head.in_features == 6


@pytest.mark.parametrize("cell", CELLS)
def test_regression_reads_out_the_last_step(tiny_model, cell):
    model, data = tiny_model(cell, "regression", 2)
    x, y = data.x_val[:5], data.y_val[:5]
    assert torch.equal(model.rnn_input(x), x)  # real-valued inputs go in as they are
    states, _ = model.rnn(x)
    out, loss = model(x, y)
    torch.testing.assert_close(out, model.head(states[:, -1]))
    assert out.shape == (5, 2)
    torch.testing.assert_close(loss, F.mse_loss(out, y))
    out2, none = model(x)
    assert none is None and torch.equal(out2, out)


def test_classification_is_decided_at_the_last_step(tiny_model):
    model, data = tiny_model("gru", "classification")
    x, y = data.x_val[:5], data.y_val[:5]
    out, loss = model(x, y)
    assert out.shape == (5, 3)
    torch.testing.assert_close(out, model.head(model.rnn(x)[0][:, -1]))
    torch.testing.assert_close(loss, F.cross_entropy(out, y))


def test_next_token_embeds_ids_and_scores_every_step(tiny_model):
    model, data = tiny_model("lstm", "next_token")
    x, y = data.x_val[:5], data.y_val[:5]
    assert x.dtype == torch.long and isinstance(model.embed, nn.Embedding)
    torch.testing.assert_close(model.rnn_input(x), model.embed.weight[x])  # (B, T, E): what .rnn is fed
    out, loss = model(x, y)
    assert out.shape == (5, 7, 5)
    torch.testing.assert_close(out, model.head(model.rnn(model.rnn_input(x))[0]))
    per_step = torch.stack([F.cross_entropy(out[:, t], y[:, t]) for t in range(7)])
    torch.testing.assert_close(loss, per_step.mean())


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("value", [0.5, 1.0, 2.5])
def test_recurrent_radius_sets_every_gate_block(cell, value):
    config = RunConfig(cell=cell, hidden_size=12, num_layers=2, recurrent_radius=value)
    model = SequenceModel(config, 3, 1, "regression")
    for k in range(2):
        blocks = getattr(model.rnn, f"weight_hh_l{k}").split(12)
        assert len(blocks) == {"lstm": 4, "gru": 3}.get(cell, 1)
        for block in blocks:
            assert radius(block) == pytest.approx(value, rel=1e-4)


def test_default_init_is_pytorchs_and_seeded_by_the_config():
    config = RunConfig(cell="lstm", hidden_size=16, num_layers=2)
    a, b = SequenceModel(config, 3, 1, "regression"), SequenceModel(config, 3, 1, "regression")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = SequenceModel(config.replace(seed=1), 3, 1, "regression")
    assert not torch.equal(a.rnn.weight_hh_l0, c.rnn.weight_hh_l0)
    bound = 1 / math.sqrt(16)  # torch's RNN init: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias
    for p in a.rnn.parameters():
        assert p.abs().max() <= bound and p.abs().max() > 0.8 * bound
    assert a.head.weight.abs().max() <= bound


@pytest.mark.parametrize("value", [-2.0, 0.0, 1.0, 5.0])
def test_forget_bias_sets_the_lstm_forget_gate_bias_sum(value):
    H = 8
    base = RunConfig(cell="lstm", hidden_size=H, num_layers=3)
    plain = SequenceModel(base, 2, 1, "regression")
    model = SequenceModel(base.replace(forget_bias=value), 2, 1, "regression")
    for k in range(3):
        b_ih, b_hh = getattr(model.rnn, f"bias_ih_l{k}"), getattr(model.rnn, f"bias_hh_l{k}")
        torch.testing.assert_close(b_ih[H : 2 * H] + b_hh[H : 2 * H], torch.full((H,), value))
        rest = torch.cat([torch.arange(H), torch.arange(2 * H, 4 * H)])  # input, cell, output gates untouched
        assert torch.equal(b_ih[rest], getattr(plain.rnn, f"bias_ih_l{k}")[rest])
    # only the forget gate moved: weights are the same as without the option
    assert torch.equal(model.rnn.weight_hh_l0, plain.rnn.weight_hh_l0)


def test_forget_bias_leaves_other_cells_alone():
    base = RunConfig(cell="gru", hidden_size=8)
    a = SequenceModel(base, 2, 1, "regression")
    b = SequenceModel(base.replace(forget_bias=3.0), 2, 1, "regression")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
