"""Each one-click lesson reproduces its tutorial's set-up and claim (the long ones in test_long_memory.py)."""

import pytest

from rnnviz import analysis, load_dataset, metrics, train_run
from rnnviz.lessons import BY_KEY, LESSONS
from rnnviz.model import parameter_count
from rnnviz.train import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_lesson_builds_its_data_and_model():
    for lesson in LESSONS:
        data = load_dataset(lesson.config)
        build_model(lesson.config, data)
        assert lesson.page.startswith("pages/") and lesson.claim and lesson.look


def decay_at_init(key: str) -> float:
    config = BY_KEY[key].config.replace(steps=1)
    return analysis.decay_rate(train_run(config).probes[0][1].grad_norms[-1]).factor_per_step


def test_gradients_vanish_in_a_tanh_rnn_and_faster_with_a_small_radius():
    assert decay_at_init("vanish") < 0.8  # each step back keeps under 80 %: over 50 steps < 1e-5
    assert decay_at_init("radius_small") < 0.6
    assert decay_at_init("explode") > 1.0  # radius 1.5: the gradient grows going back in time


def test_without_clipping_the_explosion_diverges_and_clipping_tames_it():
    wild, tamed = train_run(BY_KEY["explode"].config), train_run(BY_KEY["clip"].config)
    assert wild.diverged_at is not None and wild.diverged_at < 300
    assert tamed.diverged_at is None and tamed.history.clipped.sum() > 100
    assert tamed.history.loss.iloc[-20:].max() < 1.0


def test_the_sine_lesson_forecasts_far_below_the_baseline():
    run = train_run(BY_KEY["sine"].config)
    assert run.history.val_loss.dropna().iloc[-1] < 0.01 * run.data.baseline["mse"]


def test_the_keras_white_noise_example_stays_at_the_baseline():
    lesson = BY_KEY["keras_noise"]
    run = train_run(lesson.config)
    assert run.data.x_train.shape == (1000, 10, 1) and run.model.rnn.hidden_size == 50
    assert abs(metrics.evaluate_metrics(run.model, run.data)["mse"] - 1 / 12) < 0.015


def test_the_keras_sine_example_has_one_step_per_sample():
    data = load_dataset(BY_KEY["keras_sine"].config)
    assert data.x_train.shape[1:] == (1, 1) and len(data.x_train) + len(data.x_val) == 100


def test_a_gru_has_three_quarters_of_an_lstms_recurrent_weights():
    cfg = BY_KEY["gru_lighter"].config
    data = load_dataset(cfg)
    gru, lstm = build_model(cfg, data), build_model(cfg.replace(cell="lstm"), data)
    assert parameter_count(gru.rnn) / parameter_count(lstm.rnn) == pytest.approx(0.75)
    assert parameter_count(gru) < parameter_count(lstm)


def test_the_text_lesson_is_the_tutorials_embedding_lstm():
    cfg = BY_KEY["text_lstm"].config
    model = build_model(cfg, load_dataset(cfg))
    assert model.embed.embedding_dim == 64 and model.rnn.hidden_size == 128 and cfg.seq_len == 50
    run = train_run(cfg.replace(steps=60, probe_every=60))
    assert run.history.val_loss.dropna().iloc[-1] < run.data.baseline["loss"]  # learnt more than letter counts
