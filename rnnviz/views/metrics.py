"""Validation metrics by task, plus the dataset-specific ones its `extras` make possible."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.datasets import SequenceData


@torch.no_grad()
def predict(model: torch.nn.Module, data: SequenceData, batch: int | None = None) -> torch.Tensor:
    """The model's validation outputs, in eval mode, computed `batch` samples at a time (by default as many as
    keep one batch's activations within memory.PREDICT_BYTES) into one preallocated output."""
    was_training = model.training
    model.eval()
    n = len(data.x_val)
    size = batch or predict_batch(model, data)
    out = None
    for start in range(0, n, size):
        part, _ = model(data.x_val[start : start + size])  # (b, O) or (b, T, V)
        if out is None:
            out = torch.empty((n, *part.shape[1:]), dtype=part.dtype)
        out[start : start + len(part)] = part
    model.train(was_training)
    return out


def predict_batch(model: torch.nn.Module, data: SequenceData) -> int:
    """Validation samples per forward pass in predict(), from the memory estimate of one sample's pass."""
    from rnnviz.engine.memory import PREDICT_BYTES

    rnn = getattr(model, "rnn", None)
    if rnn is None:  # not a SequenceModel (a stand-in in tests): all at once
        return max(1, len(data.x_val))
    T = data.x_val.shape[1]
    per_step = rnn.num_layers * rnn.hidden_size * 4 * 6 + model.head.out_features * 4 * 3 + rnn.input_size * 4
    return max(1, min(len(data.x_val), PREDICT_BYTES // (T * per_step)))


def evaluate_metrics(model: torch.nn.Module, data: SequenceData, out: torch.Tensor | None = None) -> dict[str, float]:
    """Validation scores: mse/mae (+ solved) for regression, accuracy for the others, + extras-based ones.

    Pass `out` (from predict) when the caller needs the predictions too, to run the model once.
    """
    out = predict(model, data) if out is None else out
    if data.task == "regression":
        scores = regression_metrics(out, data)
    elif data.task == "classification":
        scores = classification_metrics(out, data)
    else:
        scores = token_metrics(out, data)
    for name, threshold in data.solved.items():  # e.g. {"mae": 0.04}: solved below the threshold
        scores["solved"] = float(scores[name] < threshold)
    return scores


def regression_metrics(out: torch.Tensor, data: SequenceData) -> dict[str, float]:
    err = out - data.y_val
    return {"mse": float((err**2).mean()), "mae": float(err.abs().mean())}


def classification_metrics(out: torch.Tensor, data: SequenceData) -> dict[str, float]:
    """Accuracy; with a "solved" threshold (on the error rate, like every threshold: below = solved) the error too."""
    accuracy = float((out.argmax(-1) == data.y_val).float().mean())
    return {"accuracy": accuracy, "error": 1 - accuracy} if "error" in data.solved else {"accuracy": accuracy}


def token_metrics(out: torch.Tensor, data: SequenceData) -> dict[str, float]:
    """Accuracy on valid steps; per named mask in extras, accuracy there and the share of sequences all right."""
    hit = out.argmax(-1) == data.y_val  # (N, T)
    valid = data.extras.get("valid", torch.ones_like(hit))
    scores = {"accuracy": _mean(hit, valid)}
    if "legal" in data.extras:  # the prediction is a symbol the grammar allows next
        legal = data.extras["legal"].gather(-1, out.argmax(-1, keepdim=True)).squeeze(-1)
        scores["legal_accuracy"] = _mean(legal, valid)
    for name, mask in data.extras.get("masks", {}).items():
        mask = mask & valid
        scores[f"accuracy_{name}"] = _mean(hit, mask)
        has = mask.any(1)
        scores[f"all_{name}_right"] = _mean((hit | ~mask).all(1)[has], torch.ones_like(has[has]))
    return scores


def _mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean of `values` where `mask` holds; NaN when the mask is empty."""
    n = int(mask.sum())
    return float((values & mask).sum()) / n if n else float("nan")


def confusion_matrix(model: torch.nn.Module, data: SequenceData, out: torch.Tensor | None = None) -> np.ndarray:
    """(C, C) counts on validation: rows are true classes, columns predicted ones; `out` as in evaluate_metrics."""
    pred = (predict(model, data) if out is None else out).argmax(-1)
    C = data.output_size
    return torch.bincount(data.y_val * C + pred, minlength=C * C).reshape(C, C).numpy()


# ---------------------------------------------------------------- the Train page's headline


HEADLINE_ORDER = ("mae", "accuracy", "mse")  # the first of these a task scores is its headline number


@dataclass(frozen=True)
class Headline:
    name: str  # the score's key, e.g. "mae"
    value: float
    baseline: float | None  # what a model that learned nothing scores, when the dataset knows it

    @property
    def title(self) -> str:
        return self.name.upper() if len(self.name) <= 3 else self.name.capitalize()


@dataclass(frozen=True)
class Verdict:
    solved: bool
    text: str  # one sentence for the page


def headline(scores: dict[str, float], data: SequenceData) -> Headline | None:
    """The one number the Train page leads with, and its learned-nothing baseline."""
    name = next((n for n in HEADLINE_ORDER if n in scores), None)
    return None if name is None else Headline(name, scores[name], data.baseline.get(name))


def solved_verdict(scores: dict[str, float], data: SequenceData) -> Verdict | None:
    """Whether the run meets its dataset's "solved" threshold (e.g. MAE < 0.04), or None when it has none."""
    if not data.solved:
        return None
    name, threshold = next(iter(data.solved.items()))
    value = scores.get(name, float("nan"))
    if value < threshold:
        return Verdict(True, f"Solved: validation {name.upper()} {value:.4f} is below {threshold}.")
    return Verdict(False, f"Solved when the validation {name.upper()} is below {threshold}.")
