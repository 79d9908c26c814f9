"""Checkpoints of your own model: state_dicts saved by plain PyTorch (torch.save or safetensors) are read without
pickle, understood from their shapes and rebuilt to the same outputs; hostile files are refused within a second,
each with its reason, and nothing in them runs."""

import io
import struct
import time

import numpy as np
import pytest
import torch
import torch.nn as nn
from safetensors.torch import save as safetensors_save

import rnnviz
from rnnviz.engine.checkpoint import MAX_CHECKPOINT_BYTES, CheckpointError, build_module, detect, read_state_dict


def saved(state: dict, how: str = "torch") -> bytes:
    if how == "safetensors":
        return safetensors_save({k: v.contiguous() for k, v in state.items()})
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


class Yours(nn.Module):
    def __init__(self, kind=nn.LSTM, layers=2, batch_first=False):
        super().__init__()
        torch.manual_seed(3)
        self.lstm = kind(4, 10, layers, batch_first=batch_first)
        self.fc = nn.Linear(10, 2)


@pytest.mark.parametrize("how", ["torch", "safetensors"])
@pytest.mark.parametrize("make, kind", [(lambda: nn.RNN(4, 10, 1), "rnn"), (lambda: nn.LSTM(4, 10, 1), "lstm"),
                                        (lambda: nn.LSTM(4, 10, 3), "lstm"), (lambda: nn.GRU(4, 10, 2), "gru")])
def test_a_module_saved_by_plain_pytorch_is_rebuilt_to_the_same_outputs(make, kind, how):
    torch.manual_seed(0)
    module = make()
    state = read_state_dict(saved(module.state_dict(), how), f"model.{how}")
    det = detect(state)
    assert (det.kind, det.input_size, det.hidden_size, det.num_layers, det.head_out) == (
        kind, 4, 10, module.num_layers, None)
    rebuilt, head = build_module(det, state)
    x = torch.randn(6, 7, 4)
    with torch.no_grad():
        want, _ = module(x.transpose(0, 1))  # the original is not batch-first
        got, _ = rebuilt(x)
    torch.testing.assert_close(got, want.transpose(0, 1), rtol=0, atol=1e-6)
    assert head is None


def test_a_model_with_its_own_names_and_a_head_and_the_nesting_conventions():
    model = Yours()
    for blob in (saved(model.state_dict()), saved({"state_dict": model.state_dict()}),
                 saved({"model": model.state_dict(), "epoch": torch.tensor(3)})):
        state = read_state_dict(blob)
        det = detect(state)
        assert (det.prefix, det.head_prefix, det.head_out, det.kind) == ("lstm.", "fc.", 2, "lstm")
        rnn, head = build_module(det, state)
        x = torch.randn(3, 5, 4)
        with torch.no_grad():
            want = model.fc(model.lstm(x.transpose(0, 1))[0][-1])
            got = head(rnn(x)[0][:, -1])
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_the_checkpoint_inspected_equals_the_module_inspected():
    model = Yours(nn.GRU, layers=1, batch_first=True)
    state = read_state_dict(saved(model.state_dict(), "safetensors"))
    rnn, head = build_module(detect(state), state)
    x = torch.randn(4, 9, 4)
    a = rnnviz.inspect(rnn, x, head=head)
    b = rnnviz.inspect(model.lstm, x, head=model.fc)
    np.testing.assert_array_equal(a.trace.hidden, b.trace.hidden)
    np.testing.assert_array_equal(a.trace.grad_norms, b.trace.grad_norms)


class Evil:
    def __reduce__(self):
        import os

        return os.system, ("touch /tmp/rnnviz-pwned",)


def zeros_safetensors(claimed: int) -> bytes:
    header = b'{"w":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}' % (claimed // 4, claimed)
    return struct.pack("<Q", len(header)) + header + b"\0" * 64


def lstm_state(**changes) -> dict:
    state = dict(nn.LSTM(4, 10, 2).state_dict())
    state.update(changes)
    return {k: v for k, v in state.items() if v is not None}


HOSTILE = [
    ("pickle", lambda: saved({"w": torch.zeros(2), "x": Evil()}), "rnnviz never unpickles"),
    ("whole model", lambda: saved(nn.LSTM(4, 10)), "never unpickles"),
    ("wrong shapes", lambda: saved(lstm_state(weight_hh_l1=torch.zeros(40, 9))),
     "weight_hh_l1 has shape (40, 9); a LSTM of 10 units expects (40, 10)"),
    ("2 GB claimed", lambda: zeros_safetensors(2 * 2**30), "claims bytes [0, 2147483648] but the file holds 64"),
    ("too big", lambda: b"PK\x03\x04" + b"\0" * (MAX_CHECKPOINT_BYTES + 1), "checkpoints are at most 64 MB"),
    ("NaN weights", lambda: saved(lstm_state(weight_ih_l0=torch.full((40, 4), float("nan")))),
     "weight_ih_l0 holds 160 NaN or infinite values"),
    ("unknown keys", lambda: saved(lstm_state(**{"encoder.weight": torch.zeros(3, 3), "emb.weight": torch.zeros(5)})),
     "keys rnnviz does not understand: emb.weight, encoder.weight"),
    ("bidirectional", lambda: saved(nn.GRU(4, 10, bidirectional=True).state_dict()), "bidirectional modules"),
    ("proj_size", lambda: saved(nn.LSTM(4, 10, proj_size=3).state_dict()), "proj_size is not supported"),
    ("5 layers", lambda: saved(nn.GRU(4, 10, 5).state_dict()), "5 layers: rnnviz shows 1 to 4"),
    ("png", lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "neither a torch.save file nor a .safetensors file"),
    ("empty", lambda: b"", "the file is empty"),
    ("truncated zip", lambda: saved(nn.LSTM(4, 10).state_dict())[:300], "damaged or truncated"),
    ("no recurrent", lambda: saved(nn.Linear(3, 2).state_dict()), "no weight_ih_l0 / weight_hh_l0"),
    ("ints", lambda: saved(lstm_state(bias_ih_l0=torch.zeros(40, dtype=torch.int64))), "bias_ih_l0 holds torch.int64"),
]


@pytest.mark.parametrize("name, make, message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_checkpoint_is_refused_within_a_second_and_nothing_runs(name, make, message, tmp_path):
    marker = "/tmp/rnnviz-pwned"
    import os

    if os.path.exists(marker):
        os.remove(marker)
    blob = make()
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as err:
        detect(read_state_dict(blob, name))
    assert time.perf_counter() - start < 1.0
    assert message in str(err.value), str(err.value)
    assert not os.path.exists(marker)  # the pickle's code never ran


def test_a_real_70_mb_file_of_zeros_is_refused_by_its_size_before_it_is_parsed():
    blob = zeros_safetensors(70 * 2**20)[:8] + b"{" + b"\0" * (70 * 2**20)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="the file is 70 MB; checkpoints are at most 64 MB"):
        read_state_dict(blob)
    assert time.perf_counter() - start < 1.0


def test_a_checkpoint_becomes_a_run_on_rnnvizs_data_that_fine_tunes_and_shows_the_same_numbers():
    from rnnviz import RunConfig
    from rnnviz.engine.own import ModelError, checkpoint_run
    from rnnviz.engine.record import replay
    from rnnviz.runs.trainer import LocalTrainer

    torch.manual_seed(5)
    lstm, head = nn.LSTM(1, 12, 2, batch_first=True), nn.Linear(12, 1)
    state = {**{f"rnn.{k}": v for k, v in lstm.state_dict().items()},
             **{f"head.{k}": v for k, v in head.state_dict().items()}}
    det = detect(read_state_dict(saved(state)))
    config = RunConfig(dataset="sine", seq_len=20, cell="lstm", hidden_size=det.hidden_size,
                       num_layers=det.num_layers, steps=30)
    run = checkpoint_run(config, det.recurrent_state(state), det.head_state(state))
    x, y = run.data.x_val[:8], run.data.y_val[:8]
    mine = replay(run.model, x, y)
    theirs = rnnviz.inspect(lstm, x, targets=y, head=head)  # the module as the user has it
    np.testing.assert_allclose(mine.hidden, theirs.trace.hidden, atol=1e-6)
    np.testing.assert_allclose(mine.grad_norms, theirs.trace.grad_norms, rtol=1e-5, atol=1e-8)
    trainer = LocalTrainer(run)  # step 0 is the checkpoint itself; then it fine-tunes like any run
    assert trainer.advance(budget_s=30) == 30 and run.finished
    assert run.history.loss.iloc[-1] < run.history.loss.iloc[0]
    with pytest.raises(ModelError, match="the checkpoint reads 1 feature per step but the data \\(adding\\) gives 2"):
        checkpoint_run(config.replace(dataset="adding"), det.recurrent_state(state), det.head_state(state))
