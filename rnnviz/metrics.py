"""Validation metrics by task, plus the dataset-specific ones its `extras` make possible."""

from __future__ import annotations

import numpy as np
import torch

from rnnviz.datasets import SequenceData


@torch.no_grad()
def predict(model: torch.nn.Module, data: SequenceData) -> torch.Tensor:
    """The model's validation outputs, in eval mode."""
    was_training = model.training
    model.eval()
    out, _ = model(data.x_val)
    model.train(was_training)
    return out


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


def confusion_matrix(model: torch.nn.Module, data: SequenceData) -> np.ndarray:
    """(C, C) counts on validation: rows are true classes, columns predicted ones."""
    pred = predict(model, data).argmax(-1)
    C = data.output_size
    return torch.bincount(data.y_val * C + pred, minlength=C * C).reshape(C, C).numpy()
