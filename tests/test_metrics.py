"""Metrics against hand-computed values, with stand-in models whose outputs we choose."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnviz import RunConfig, load_dataset
from rnnviz.engine.train import build_model
from rnnviz.views.metrics import confusion_matrix, evaluate_metrics, headline, solved_verdict


class Fixed(torch.nn.Module):
    """A 'model' that returns given outputs, with the (out, loss) interface."""

    def __init__(self, out: torch.Tensor):
        super().__init__()
        self.out = out

    def forward(self, x, y=None):
        return self.out, None


def onehot_logits(ids: torch.Tensor, n: int) -> torch.Tensor:
    return F.one_hot(ids, n).float() * 10


def test_regression_mse_mae_and_solved():
    d = load_dataset(RunConfig(dataset="adding", dataset_params={"n_train": 64, "n_val": 64}))
    scores = evaluate_metrics(Fixed(d.y_val + 0.03), d)
    assert scores["mse"] == pytest.approx(0.0009, rel=1e-3) and scores["mae"] == pytest.approx(0.03, rel=1e-3)
    assert scores["solved"] == 1.0
    assert evaluate_metrics(Fixed(d.y_val + 0.05), d)["solved"] == 0.0
    assert "solved" not in evaluate_metrics(Fixed(torch.zeros(256, 1)), load_dataset(RunConfig()))


def test_classification_accuracy_and_confusion_matrix():
    d = load_dataset(RunConfig(dataset="memory", dataset_params={"n_train": 64, "n_val": 64}))
    pred = d.y_val.clone()
    pred[:16] = (pred[:16] + 1) % 4  # a quarter wrong, each one class up
    model = Fixed(onehot_logits(pred, 4))
    # memory counts as solved below an error rate of 0.05: a quarter wrong is not solved, all right is
    assert evaluate_metrics(model, d) == {"accuracy": pytest.approx(0.75), "error": pytest.approx(0.25), "solved": 0.0}
    assert evaluate_metrics(Fixed(onehot_logits(d.y_val, 4)), d)["solved"] == 1.0
    order = load_dataset(RunConfig(dataset="temporal_order", dataset_params={"n_train": 64, "n_val": 64}))
    assert set(evaluate_metrics(Fixed(onehot_logits(order.y_val, 4)), order)) == {"accuracy"}  # no threshold
    cm = confusion_matrix(model, d)
    assert cm.shape == (4, 4) and cm.sum() == 64 and np.trace(cm) == 48
    assert cm[int(d.y_val[0]), int(pred[0])] >= 1


def test_reber_metrics_use_the_long_memory_mask():
    d = load_dataset(RunConfig(dataset="embedded_reber", dataset_params={"n_train": 64, "n_val": 64}))
    mask = d.extras["masks"]["long_memory"]
    pred = d.y_val.clone()
    pred[mask] = 3 - pred[mask]  # T (1) <-> P (2): the wrong branch
    scores = evaluate_metrics(Fixed(onehot_logits(pred, 7)), d)
    assert scores["accuracy_long_memory"] == 0.0 and scores["all_long_memory_right"] == 0.0
    expected = 1 - mask.float().mean()
    assert scores["accuracy"] == pytest.approx(float(expected), abs=1e-6)
    assert scores["legal_accuracy"] == pytest.approx(float(expected), abs=1e-6)
    perfect = evaluate_metrics(Fixed(onehot_logits(d.y_val, 7)), d)
    assert perfect["accuracy_long_memory"] == perfect["accuracy"] == perfect["legal_accuracy"] == 1.0


def test_counting_metrics_score_the_forced_steps():
    d = load_dataset(RunConfig(dataset="counting", dataset_params={"n_train": 64, "n_val": 64}))
    det = d.extras["masks"]["deterministic"]
    pred = d.y_val.clone()
    pred[det] = 0  # says "a" where b or E is forced
    scores = evaluate_metrics(Fixed(onehot_logits(pred, 4)), d)
    assert scores["accuracy_deterministic"] == 0.0 and scores["all_deterministic_right"] == 0.0
    assert evaluate_metrics(Fixed(onehot_logits(d.y_val, 4)), d)["all_deterministic_right"] == 1.0


def test_untrained_model_runs_through_every_task():
    for name in ("sine", "memory", "text"):
        config = RunConfig(dataset=name, seq_len=20, dataset_params={"n_train": 32, "n_val": 32})
        d = load_dataset(config)
        scores = evaluate_metrics(build_model(config, d), d)
        assert all(np.isfinite(v) for v in scores.values())


def test_headline_and_solved_verdict_of_the_adding_problem():
    d = load_dataset(RunConfig(dataset="adding", dataset_params={"n_train": 64, "n_val": 64}))
    good = evaluate_metrics(Fixed(d.y_val + 0.03), d)  # MAE 0.03: under the 0.04 threshold
    head = headline(good, d)
    assert (head.name, head.title, head.baseline) == ("mae", "MAE", d.baseline.get("mae"))
    assert head.value == pytest.approx(0.03, abs=1e-6)
    verdict = solved_verdict(good, d)
    assert verdict.solved and "0.0300 is below 0.04" in verdict.text
    bad = solved_verdict(evaluate_metrics(Fixed(torch.zeros_like(d.y_val)), d), d)  # predicts 0: learned nothing
    assert not bad.solved and bad.text == "Solved when the validation MAE is below 0.04."


def test_headline_of_a_classification_task_is_accuracy_against_chance_with_its_solved_verdict():
    d = load_dataset(RunConfig(dataset="memory", seq_len=12))
    scores = evaluate_metrics(Fixed(onehot_logits(d.y_val, d.output_size)), d)
    head = headline(scores, d)
    assert (head.name, head.title, head.value) == ("accuracy", "Accuracy", 1.0)
    assert head.baseline == d.baseline["accuracy"] < 1
    verdict = solved_verdict(scores, d)  # the memory task is solved below an error rate of 0.05
    assert verdict.solved and "0.05" in verdict.text
    out = onehot_logits(d.y_val, d.output_size)  # the page's one validation pass feeds the confusion matrix too
    assert np.trace(confusion_matrix(None, d, out)) == len(d.y_val)
