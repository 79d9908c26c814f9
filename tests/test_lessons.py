"""Each lesson's claim, tested on the lesson's own config (lessons.BY_KEY[key].config); long runs are slow.

A model that learned nothing fails every "it learns" threshold here: they sit well below the baseline.
Runs are trained once per module and shared (the LSTM run serves both adding-problem lessons).
"""

from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnviz import load_dataset, train_run
from rnnviz.engine.cellspec import KINDS
from rnnviz.engine.model import parameter_count
from rnnviz.engine.train import Run, build_model, fork_run, train_model
from rnnviz.runs.sweep import run_one
from rnnviz.views import analysis, connectivity, metrics
from rnnviz.views.compare import variants
from rnnviz.views.lessons import BY_KEY, LESSONS

ROOT = Path(__file__).resolve().parents[1]


def _one_thread() -> None:
    torch.set_num_threads(1)


def until_solved(config) -> Run:
    """The run of `config` stopped once solved (checked every eval_every steps, as the Sweep page does), or the
    whole run when it never solves: what a claim "it solves within the lesson's steps" needs, no more."""
    return run_one(config)[1]


@pytest.fixture(scope="module")
def runs():
    """runs(*configs, train=train_run) -> the Run (or a list of Runs): trained once per module on one thread each
    (small batches lose from a second one); several at once train side by side in processes of their own
    (training is deterministic)."""
    threads, cache = torch.get_num_threads(), {}
    torch.set_num_threads(1)

    def get(*configs, train=train_run):
        todo = list(dict.fromkeys(c for c in configs if (c, train) not in cache))
        if len(todo) > 1:
            # a process each: the OS shares the cores, so the longest run no longer waits behind another
            with ProcessPoolExecutor(len(todo), mp_context=get_context("spawn"), initializer=_one_thread) as pool:
                cache.update(zip([(c, train) for c in todo], pool.map(train, todo), strict=True))
        elif todo:
            cache[todo[0], train] = train(todo[0])
        found = [cache[c, train] for c in configs]
        return found[0] if len(configs) == 1 else found

    yield get
    torch.set_num_threads(threads)


def decay(run, probe: int = -1) -> analysis.Decay:
    """The decay the Gradients page shows for one of the run's probes (top layer)."""
    return analysis.decay_rate(run.probes[probe][1].grad_norms[-1])


def scores(run) -> dict[str, float]:
    return metrics.evaluate_metrics(run.model, run.data)


def test_every_lesson_builds_its_data_and_model_and_opens_a_page_that_exists():
    for lesson in LESSONS:
        data = load_dataset(lesson.config)
        build_model(lesson.config, data)
        assert lesson.claim and lesson.look
        assert lesson.page.startswith("pages/") and (ROOT / lesson.page).is_file(), lesson.page
        assert set(lesson.compare) <= set(KINDS) and (not lesson.compare or lesson.config.cell in lesson.compare)


@pytest.mark.slow
def test_sine_a_small_rnn_forecasts_far_below_the_baseline(runs):
    run = runs(BY_KEY["sine"].config)
    assert run.history.val_loss.dropna().iloc[-1] < 0.01 * run.data.baseline["mse"]


@pytest.mark.slow
def test_vanish_the_gradient_vanishes_and_the_loss_stays_at_the_baseline(runs):
    run = runs(BY_KEY["vanish"].config)
    for probe in (0, -1):  # at the start and at the end of training
        assert decay(run, probe).verdict == "vanishing" and decay(run, probe).factor_per_step < 0.8
    s = scores(run)
    assert abs(s["mse"] / run.data.baseline["mse"] - 1) < 0.1 and s["solved"] == 0.0


def test_explode_the_gradient_grows_back_in_time_and_the_run_diverges(runs):
    run = runs(BY_KEY["explode"].config)
    assert run.probes[0][1].spectral_radius[0, 0] == pytest.approx(1.5, rel=1e-4)
    assert decay(run, 0).verdict == "exploding"
    assert run.diverged_at is not None and run.diverged_at < 100


@pytest.mark.slow
def test_clip_tames_the_explosion_and_the_rnn_learns_below_the_baseline(runs):
    run = runs(BY_KEY["clip"].config)
    assert decay(run, 0).verdict == "exploding"  # the same start as the explode lesson
    assert run.diverged_at is None and run.history.clipped.mean() > 0.5
    assert run.history.val_loss.dropna().iloc[-1] < 0.8 * run.data.baseline["mse"]  # measured 0.09 vs 0.17


@pytest.mark.slow
def test_radius_small_the_gradient_dies_within_a_few_steps(runs):
    run = runs(BY_KEY["radius_small"].config)
    assert run.probes[0][1].spectral_radius[0, 0] == pytest.approx(0.5, rel=1e-4)
    assert decay(run, 0).factor_per_step < 0.6 and decay(run, -1).verdict == "vanishing"


@pytest.mark.slow
def test_lstm_remembers_the_lstm_solves_adding_at_t50_and_the_rnn_does_not(runs):
    lesson = BY_KEY["lstm_remembers"]
    configs = variants(lesson.config, list(lesson.compare))
    cells = dict(zip(configs, runs(*configs.values(), train=until_solved), strict=True))
    lstm, rnn = cells["lstm"], cells["rnn_tanh"]
    assert lstm.config == lesson.config.replace(steps=lstm.step) and lstm.step <= lesson.config.steps
    assert rnn.step == lesson.config.steps  # never solved: trained to the lesson's last step
    assert scores(lstm)["mae"] < 0.04 and scores(lstm)["solved"] == 1.0
    assert decay(lstm).verdict == "steady" and decay(rnn).verdict == "vanishing"
    assert scores(rnn)["mae"] > 0.25 and scores(rnn)["solved"] == 0.0  # the baseline (always 1.0) scores 1/3
    assert scores(cells["gru"])["solved"] == 1.0


def test_reach_the_lstms_last_output_reads_the_marked_inputs_where_the_rnns_fades(runs):
    lesson = BY_KEY["reach"]
    assert lesson.config == BY_KEY["lstm_remembers"].config  # the same runs: trained once for both lessons
    configs = variants(lesson.config, list(lesson.compare))
    cells = dict(zip(configs, runs(*configs.values(), train=until_solved), strict=True))
    reach = {c: connectivity.marked_reach(r.model, r.data.x_val[:64], connectivity.marked_inputs(r.data))
             for c, r in cells.items()}
    lstm, gru, rnn = reach["lstm"], reach["gru"], reach["rnn_tanh"]
    assert lstm.ratio > 10 and gru.ratio > 10  # measured 19.4 and 19.0
    assert lstm.first > 0.5  # 0.99: the first mark, up to 49 steps back, as strong as the strongest input
    assert rnn.ratio < 1 and rnn.first < 1e-3  # measured 0.31 and 1.5e-6: the first mark is lost
    assert rnn.per_step < 0.8 and rnn.fade < 1e-5  # measured 0.70 per step, 3e-8 over the sequence
    assert lstm.per_step > 0.95  # 0.98


@pytest.mark.slow
def test_gru_lighter_both_solve_the_adding_problem(runs):
    lesson = BY_KEY["gru_lighter"]
    configs = variants(lesson.config, list(lesson.compare))
    for cell, run in zip(configs, runs(*configs.values(), train=until_solved), strict=True):
        assert scores(run)["mae"] < 0.04 and run.step <= lesson.config.steps, cell


def test_gru_lighter_a_gru_has_three_quarters_of_an_lstms_recurrent_weights():
    cfg = BY_KEY["gru_lighter"].config
    data = load_dataset(cfg)
    gru, lstm = build_model(cfg, data), build_model(cfg.replace(cell="lstm"), data)
    assert parameter_count(gru.rnn) / parameter_count(lstm.rnn) == pytest.approx(0.75)
    assert parameter_count(gru) < parameter_count(lstm)


def test_keras_noise_the_white_noise_example_stays_at_the_baseline(runs):
    run = runs(BY_KEY["keras_noise"].config)
    assert run.data.x_train.shape == (1000, 10, 1) and run.model.rnn.hidden_size == 50
    assert abs(scores(run)["mse"] - 1 / 12) < 0.015


def test_keras_sine_one_step_per_sample_still_learns_as_a_feed_forward_net(runs):
    run = runs(BY_KEY["keras_sine"].config)
    assert run.data.x_train.shape[1:] == (1, 1) and len(run.data.x_train) + len(run.data.x_val) == 100
    assert run.probes[-1][1].hidden.shape[2] == 1  # one time step: the recurrence never runs
    assert scores(run)["mse"] < 0.8 * run.data.baseline["mse"]  # measured 0.35 vs 0.50


@pytest.mark.slow
def test_text_lstm_the_tutorials_embedding_lstm_learns_more_than_letter_counts(runs):
    cfg = BY_KEY["text_lstm"].config
    run = runs(cfg)
    assert run.model.embed.embedding_dim == 64 and run.model.rnn.hidden_size == 128 and cfg.seq_len == 50
    assert run.history.val_loss.dropna().iloc[-1] < 0.75 * run.data.baseline["loss"]  # measured 1.60 vs 3.23


WELL_BELOW = 0.9  # "well below the unigram baseline": 10 % lower cross-entropy, about half its perplexity


def until_well_below_the_baseline(config) -> Run:
    """The run of `config` stopped at the first validation whose loss is WELL_BELOW the baseline's (or at the end)."""
    data = load_dataset(config)
    model = build_model(config, data)
    run = Run(config, model, data)
    for event in train_model(config, data, model):
        run.record(event)
        if event.val_loss is not None and event.val_loss < WELL_BELOW * data.baseline["loss"]:
            break
    return run


@pytest.mark.slow
def test_word_lstm_the_validation_loss_falls_well_below_the_unigram_baseline(runs):
    """The lesson's own config, stopped once its claim holds (about 400 of its 1,500 steps, 45 s on one thread);
    the full run's perplexity, 171 against 423 for word counts, is measured by bench/word_lesson.py."""
    cfg = BY_KEY["word_lstm"].config
    run = runs(cfg, train=until_well_below_the_baseline)
    assert run.step <= cfg.steps and run.history.val_loss.dropna().iloc[-1] < WELL_BELOW * run.data.baseline["loss"]


def test_word_lstm_has_the_tutorials_exact_shapes_on_words():
    """The tutorial's shapes, Embedding(5000, 64) -> LSTM(128) -> Dense(5000) over 50 words, on word tokens."""
    cfg = BY_KEY["word_lstm"].config.replace(dataset_params=dict(BY_KEY["word_lstm"].config.dataset_params,
                                                                 n_train=64, n_val=8))
    data = load_dataset(cfg)
    model = build_model(cfg, data)
    assert data.extras["tokens"] == "words" and data.seq_len == 50
    assert (model.embed.num_embeddings, model.embed.embedding_dim, model.rnn.hidden_size) == (5000, 64, 128)
    assert model.head.out_features == 5000 and "<unk>" in data.vocab  # the commonest words and <unk>: 5,000


def test_every_lesson_has_its_claim_tested_here():
    tested = {key for key in BY_KEY if any(name.startswith(f"test_{key}_") for name in globals())}
    assert tested == set(BY_KEY)


def test_rescue_the_explode_run_forked_at_step_10_with_clipping_trains_on_and_comes_back(runs):
    lesson = BY_KEY["rescue"]
    parent = runs(lesson.config)
    assert lesson.config == BY_KEY["explode"].config  # the explode lesson's own run is the parent
    assert parent.diverged_at == 32 and parent.history.loss[10] > 1e4
    step, values = lesson.fork
    fork = fork_run(parent, step, values)
    for event in fork.events():
        fork.record(event)
    val = fork.history.val_loss.dropna()
    assert fork.diverged_at is None and fork.step == 600  # measured: no divergence, 588 of 590 steps clipped
    # measured 0.214 on an Intel Xeon, 0.311 on an AMD EPYC (both AVX-512; baseline 0.171): the explosion before
    # the fork magnifies float32 rounding, so the bound is what holds on both, 10^5 below the loss at the fork
    assert val.iloc[-1] < 2 * parent.data.baseline["mse"] and val.iloc[-1] < 1e-5 * parent.history.loss[10]
    late = fork_run(parent, 15, values)
    for event in late.events():
        late.record(event)
    assert late.diverged_at is None and late.history.val_loss.dropna().iloc[-1] > 1e10  # measured 3e12: too late


@pytest.mark.slow
def test_plateau_lowering_the_learning_rate_live_at_step_501_makes_the_stalled_loss_fall(runs):
    lesson = BY_KEY["plateau"]
    plain, lowered = runs(lesson.config), runs(lesson.config, train=partial(train_run, changes=lesson.changes))

    def mean_val(run, lo, hi):
        h = run.history
        return h[(h.step > lo) & (h.step <= hi)].val_loss.dropna().mean()

    assert mean_val(plain, 900, 1000) >= mean_val(plain, 400, 500)  # stalled: the second half gets no lower
    assert mean_val(plain, 900, 1000) > 100 * mean_val(lowered, 900, 1000)  # measured 1,400× (seed 0)
    np.testing.assert_array_equal(plain.history.loss[:502], lowered.history.loss[:502])  # the same run until then
    assert lowered.change_labels() == [(501, "lr 0.05 → 0.005")]
