"""train() / train_run(): the event contract, step 0, clipping, divergence, stopping, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnviz import RunConfig, replay, train, train_run
from rnnviz.engine.train import batch_indices, build_model, train_model

SMALL = dict(hidden_size=6, seq_len=7, embedding_size=4, batch_size=8)


def cfg(**kw) -> RunConfig:
    return RunConfig(**{**SMALL, "steps": 7, "eval_every": 2, "probe_every": 3, **kw})


def params_copy(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("task", ["regression", "classification", "next_token"])
def test_events_follow_the_contract(tiny_data, task):
    config, data = cfg(cell="gru", num_layers=2), tiny_data(task)
    events = list(train(config, data))
    assert [e.step for e in events] == list(range(8))  # step 0 = untrained, then one per update
    assert [e.step for e in events if e.val_loss is not None] == [0, 2, 4, 6, 7]  # every eval_every + last
    assert [e.step for e in events if e.probe is not None] == [0, 3, 6, 7]  # every probe_every + last
    names = [n for n, _ in build_model(config, data).named_parameters()]
    for e in events:
        assert not e.diverged and math.isfinite(e.loss) and e.seconds >= 0
        assert list(e.param_grad_norms) == names
        assert e.grad_norm == pytest.approx(math.sqrt(sum(v * v for v in e.param_grad_norms.values())), rel=1e-5)
    assert events[-1].probe.hidden.shape == (2, config.probe_size, 7, 6)


def test_step_zero_measures_the_untrained_model_without_updating(tiny_data):
    config, data = cfg(optimizer="sgd", lr=0.5, clip=1e-3), tiny_data("regression")
    model = build_model(config, data)
    init = params_copy(model)
    untrained = build_model(config, data)
    gen = train_model(config, data, model)
    first = next(gen)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), init, strict=True))  # no update at step 0
    idx = next(batch_indices(config, len(data.x_train)))  # the run's first batch
    _, loss = untrained(data.x_train[idx], data.y_train[idx])
    assert first.step == 0 and first.loss == pytest.approx(loss.item(), rel=1e-6)
    assert first.grad_norm > config.clip and not first.clipped  # nothing was applied, so nothing clipped
    with torch.no_grad():
        _, val = untrained(data.x_val[:128], data.y_val[:128])
    assert first.val_loss == pytest.approx(val.item(), rel=1e-6)
    expected = replay(untrained, data.x_val[: config.probe_size], data.y_val[: config.probe_size])
    np.testing.assert_array_equal(first.probe.hidden, expected.hidden)
    second = next(gen)
    assert second.step == 1 and not all(torch.equal(p, q) for p, q in zip(model.parameters(), init, strict=True))
    gen.close()


@pytest.mark.parametrize("clip", [1e-2, None, 1e6])
def test_clipping_scales_the_applied_update_to_the_clip_norm(tiny_data, clip):
    """With plain SGD an update is -lr * g, so its norm shows whether g was clipped."""
    lr = 0.5  # big enough that float32 parameter differences measure the step to 1e-4
    config, data = cfg(optimizer="sgd", lr=lr, clip=clip, cell="lstm"), tiny_data("regression")
    model = build_model(config, data)
    before = params_copy(model)
    for e in train_model(config, data, model):
        after = params_copy(model)
        delta = math.sqrt(sum(float(((a - b) ** 2).sum()) for a, b in zip(after, before, strict=True)))
        if e.step == 0:
            assert delta == 0
        elif clip == 1e-2:
            assert e.clipped and e.grad_norm > clip
            assert delta == pytest.approx(lr * clip, rel=1e-4)
        else:
            assert not e.clipped
            assert delta == pytest.approx(lr * e.grad_norm, rel=1e-4)
        before = after


def test_natural_divergence_yields_one_event_and_stops(tiny_data):
    """ReLU RNN, W_hh radius 3, SGD at lr 10, no clipping: activations and gradients explode."""
    config = RunConfig(cell="rnn_relu", hidden_size=16, seq_len=30, recurrent_radius=3.0, lr=10.0,
                       optimizer="sgd", clip=None, steps=50, batch_size=16)
    events = list(train(config))  # sine data
    assert events[-1].diverged and sum(e.diverged for e in events) == 1
    assert [e.step for e in events] == list(range(len(events))) and len(events) < 51
    assert all(math.isfinite(e.loss) and math.isfinite(e.grad_norm) for e in events[:-1])
    assert not (math.isfinite(events[-1].loss) and math.isfinite(events[-1].grad_norm))
    run = train_run(config)
    assert run.diverged_at == events[-1].step and run.finished
    assert run.history["diverged"].tolist() == [e.diverged for e in events]


@pytest.mark.parametrize("where", ["x_train", "y_train"])
def test_injected_inf_in_the_batch_diverges_keeping_earlier_events(tiny_data, where):
    config, data = cfg(steps=20), tiny_data("regression")
    gen = train(config, data)
    events = [next(gen) for _ in range(4)]
    getattr(data, where).fill_(float("inf"))  # every later batch is poisoned
    events += list(gen)
    assert [e.step for e in events] == [0, 1, 2, 3, 4]
    assert [e.diverged for e in events] == [False] * 4 + [True]
    assert events[-1].probe is None and not events[-1].clipped


def test_weights_blown_up_by_an_update_diverge_at_validation(tiny_data):
    """A finite batch loss but a non-finite validation loss (here: inf in validation data) also stops."""
    config, data = cfg(steps=20, eval_every=5), tiny_data("classification")
    gen = train(config, data)
    events = [next(gen) for _ in range(2)]
    data.x_val[:] = float("inf")
    events += list(gen)
    assert [e.step for e in events] == list(range(6)) and events[-1].diverged
    assert events[-1].val_loss is not None and not math.isfinite(events[-1].val_loss)


def test_probe_of_nan_weights_does_not_crash(tiny_model):
    """LAPACK segfaults on NaN input: the spectral radius of a blown-up W_hh must come back NaN."""
    model, data = tiny_model("lstm", "regression", 2)
    with torch.no_grad():
        model.rnn.weight_hh_l1.fill_(float("nan"))
    trace = replay(model, data.x_val[:2], data.y_val[:2])
    assert np.isnan(trace.spectral_radius[1]).all() and np.isfinite(trace.spectral_radius[0]).all()


def test_close_and_stop_end_training_cleanly(tiny_data):
    config, data = cfg(steps=50), tiny_data("regression")
    gen = train(config, data)
    assert [next(gen).step for _ in range(3)] == [0, 1, 2]
    gen.close()
    with pytest.raises(StopIteration):
        next(gen)
    calls = []
    stop = lambda: calls.append(1) or len(calls) > 3  # noqa: E731
    assert [e.step for e in train(config, data, stop=stop)] == [0, 1, 2]


def test_same_config_same_run_other_seed_other_run(tiny_data):
    config = cfg(steps=12, cell="lstm")
    a, b = train_run(config), train_run(config)
    assert a.history["loss"].tolist() == b.history["loss"].tolist()
    assert a.history["val_loss"].equals(b.history["val_loss"])
    np.testing.assert_array_equal(a.probes[-1][1].hidden, b.probes[-1][1].hidden)
    c = train_run(config.replace(seed=1))
    assert c.history["loss"].tolist() != a.history["loss"].tolist()
    # the global torch RNG neither matters nor is touched
    torch.manual_seed(123)
    state = torch.get_rng_state()
    d = train_run(config)
    assert torch.equal(torch.get_rng_state(), state)
    assert d.history["loss"].tolist() == a.history["loss"].tolist()


def test_run_history_rows_columns_and_probes(tiny_data):
    config, data = cfg(cell="rnn_tanh"), tiny_data("next_token")
    run = train_run(config, data)
    h = run.history
    assert len(h) == config.steps + 1 and h["step"].tolist() == list(range(8))
    names = [f"grad/{n}" for n, _ in run.model.named_parameters()]
    assert list(h.columns) == ["step", "loss", "val_loss", "grad_norm", "clipped", "diverged", "seconds", *names]
    assert h["val_loss"].notna().tolist() == [s in (0, 2, 4, 6, 7) for s in range(8)]
    assert [s for s, _ in run.probes] == [0, 3, 6, 7]
    assert run.finished and run.diverged_at is None and run.step == 7
    assert run.seconds == h["seconds"].iloc[-1]
    # the run's model is the trained one: its probe at the last step is a replay of it
    last = replay(run.model, data.x_val[: config.probe_size], data.y_val[: config.probe_size])
    np.testing.assert_array_equal(run.probes[-1][1].hidden, last.hidden)


def test_event_seconds_count_compute_time_not_time_paused_between_events():
    import time

    from rnnviz import RunConfig, train

    gen = train(RunConfig(cell="rnn_tanh", hidden_size=4, seq_len=5, steps=3, probe_every=100))
    first = next(gen)
    time.sleep(0.3)  # the UI pauses between chunks: that is not training time
    second = next(gen)
    assert second.seconds - first.seconds < 0.25
    gen.close()
