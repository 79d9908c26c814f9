"""Dataset registry: every dataset is a pure generator with one signature.

`make(config, rng, **params) -> SequenceData`; `load_dataset(config)` looks the
name up, checks `config.dataset_params` against the declared `Param`s and calls it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


class DatasetError(ValueError):
    """Data that cannot be used; the message says what was wrong and what is allowed."""


@dataclass
class SequenceData:
    task: str  # "regression" | "classification" | "next_token"
    x_train: torch.Tensor  # (N, T, F) float, or (N, T) long token ids for next_token
    y_train: torch.Tensor  # (N, O) float | (N,) long | (N, T) long
    x_val: torch.Tensor
    y_val: torch.Tensor
    input_size: int  # features per step (vocabulary size for token inputs)
    output_size: int  # regression outputs or number of classes / tokens
    vocab: list[str] | None  # token or class names
    baseline: dict[str, float]  # what a model that learned nothing scores
    description: str  # one paragraph for the UI
    solved: dict[str, float] = field(default_factory=dict)  # e.g. {"mae": 0.04}: below = solved
    extras: dict[str, Any] = field(default_factory=dict)  # dataset-specific (e.g. masks for metrics)

    @property
    def seq_len(self) -> int:
        return int(self.x_train.shape[1])


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    lo: float | None = None  # numeric bounds, inclusive
    hi: float | None = None
    choices: tuple | None = None  # allowed values, for text options
    help: str = ""

    def check(self, dataset: str, value: Any) -> Any:
        where = f"{dataset} option {self.name}={value!r}"
        if self.choices is not None:
            if value not in self.choices:
                raise DatasetError(f"{where} is not allowed; choose one of {', '.join(map(str, self.choices))}")
            return value
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise DatasetError(f"{where} must be true or false")
            return value
        if isinstance(self.default, (int, float)):
            ok_type = int if isinstance(self.default, int) else (int, float)
            if isinstance(value, bool) or not isinstance(value, ok_type) or not _finite(value):
                kind = "a whole number" if ok_type is int else "a number"
                raise DatasetError(f"{where} must be {kind} from {self.lo:g} to {self.hi:g}")
            if not self.lo <= value <= self.hi:
                raise DatasetError(f"{where} is out of range; allowed: {self.lo:g} to {self.hi:g}")
            return value
        if not isinstance(value, str):
            raise DatasetError(f"{where} must be text")
        return value


def _finite(value: int | float) -> bool:
    """A finite number a float can hold (math.isfinite raises on an int like 10**400, numpy on 2**64)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@dataclass(frozen=True)
class Shape:
    """What a dataset will build, known without building it: the memory estimate reads it before any allocation."""

    task: str  # "regression" | "classification" | "next_token"
    n_train: int
    n_val: int
    T: int  # time steps per sample, as built (memory with length=hard is 200 whatever seq_len says)
    features: int  # floats per step of a real-valued input; token inputs are one id per step
    output_size: int  # regression outputs, classes or vocabulary size
    work: float = 16.0  # peak bytes per sample and step while generating, the final tensors included
    fixed: int = 0  # bytes that do not scale with samples (a corpus, a parsed file)
    val_extra: float = 0.0  # bytes per validation sample and step kept in extras (legal-symbol masks...)

    @property
    def input_size(self) -> int:
        """What the model's input layer sees: features, or the vocabulary for tokens."""
        return self.output_size if self.task == "next_token" else self.features

    def data_bytes(self) -> int:
        """The tensors a run keeps: inputs, targets and validation extras."""
        per_step = 8 if self.task == "next_token" else 4 * self.features  # ids (x and y are views of one array)
        targets = {"regression": 4 * self.output_size, "classification": 8}.get(self.task, 0)
        n = self.n_train + self.n_val
        return int(n * (self.T * per_step + targets) + self.n_val * self.T * self.val_extra)

    def generation_bytes(self) -> int:
        """Peak memory while the data is generated (numpy intermediates, dtype conversions)."""
        return int((self.n_train + self.n_val) * self.T * self.work + self.fixed + self.n_val * self.T * self.val_extra)


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str  # what the sidebar shows
    make: Callable[..., SequenceData]
    params: tuple[Param, ...] = ()
    summary: str = ""  # one line for pickers
    shape: Callable[..., Shape] | None = None  # shape(config, **params): what make() will build, cheaply


DATASETS: dict[str, Dataset] = {}


def register(name: str, title: str, params: tuple[Param, ...] = (), summary: str = "",
             shape: Callable[..., Shape] | None = None):
    """Decorator: add a generator `make(config, rng, **params)` to the registry, with the cheap
    `shape(config, **params)` of what it builds (for memory estimates; see `dataset_shape`)."""

    def wrap(make: Callable[..., SequenceData]) -> Callable[..., SequenceData]:
        DATASETS[name] = Dataset(name, title, make, params, summary, shape)
        return make

    return wrap


def dataset_shape(config) -> Shape:
    """The shape a config's dataset will have, without generating it (DatasetError for bad options).

    A dataset registered without `shape` is sized from its n_train / n_val options and seq_len, one float per step.
    """
    spec = DATASETS[config.dataset]
    params = resolve_params(config.dataset, config.dataset_params)
    if spec.shape is not None:
        return spec.shape(config, **params)
    return Shape("regression", int(params.get("n_train", 2000)), int(params.get("n_val", 256)), config.seq_len, 1, 1)


def resolve_params(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """Declared defaults overlaid with `given`, every value checked."""
    spec = DATASETS[name]
    known = {p.name: p for p in spec.params}
    unknown = sorted(set(given) - set(known))
    if unknown:
        allowed = ", ".join(known) or "none"
        raise DatasetError(f"{name} has no option(s) {', '.join(unknown)}; its options: {allowed}")
    out = {p.name: p.default for p in spec.params}
    for key, value in given.items():
        # numbers from JSON/URLs may arrive as int where a float is declared: both are fine
        out[key] = known[key].check(name, value)
    return out


def load_dataset(config) -> SequenceData:
    """The dataset a config names, generated deterministically from config.seed."""
    if config.dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {config.dataset!r}; choose one of {', '.join(DATASETS)}")
    params = resolve_params(config.dataset, config.dataset_params)
    rng = np.random.default_rng([config.seed, 7919])
    return DATASETS[config.dataset].make(config, rng, **params)


def constant_mse(y_train: torch.Tensor, y_val: torch.Tensor) -> float:
    """MSE on validation of the best constant learned from training targets (the mean)."""
    return float(((y_val - y_train.mean(0)) ** 2).mean())


def constant_token_baseline(y_train: torch.Tensor, y_val: torch.Tensor, vocab_size: int) -> dict[str, float]:
    """Accuracy and cross-entropy on validation of the best constant predictor: training symbol frequencies."""
    freq = torch.ones(vocab_size, dtype=torch.float64)  # add-one: no log(0)
    for rows in y_train.split(4096):  # in slices: flattening a strided view of all targets would copy it whole
        freq += torch.bincount(rows.flatten(), minlength=vocab_size)
    freq = freq / freq.sum()
    ids = y_val.flatten()
    return {"accuracy": float((ids == freq.argmax()).double().mean()), "loss": float(-freq[ids].log().mean())}


def regression_data(xt: np.ndarray, yt: np.ndarray, xv: np.ndarray, yv: np.ndarray, description: str,
                    **fields: Any) -> SequenceData:
    """A regression SequenceData from numpy splits; the baseline is the best constant's MSE unless given."""
    y_train, y_val = as_float(yt), as_float(yv)
    baseline = {"mse": constant_mse(y_train, y_val)} | fields.pop("baseline", {})
    return SequenceData(
        task="regression", x_train=as_float(xt), y_train=y_train, x_val=as_float(xv), y_val=y_val,
        input_size=xt.shape[-1], output_size=yt.shape[-1], vocab=None, baseline=baseline,
        description=description, **fields,
    )


def as_float(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)


from rnnviz.datasets import (  # noqa: E402,F401  (registers the generators)
    arrays,
    grammars,
    long_memory,
    real,
    synthetic,
    uploads,
)
from rnnviz.datasets.uploads import (  # noqa: E402,F401  (the UI validates and stores uploads)
    MAX_UPLOAD_BYTES,
    clear_uploads,
    get_upload,
    parse_csv,
    parse_npy,
    parse_text,
    register_upload,
)

UPLOAD_TYPES = {"npy": ("npy",)}  # file types a dataset's uploader takes (default: CSV and text)

# the order pickers show: the tutorials' examples first, then the long-memory tasks, then real data
_ORDER = ("sine", "white_noise", "adding", "memory", "temporal_order", "embedded_reber", "counting", "co2", "text",
          "csv", "npy")
DATASETS = dict(sorted(DATASETS.items(), key=lambda kv: _ORDER.index(kv[0]) if kv[0] in _ORDER else len(_ORDER)))
