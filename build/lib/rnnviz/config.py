"""RunConfig: the single, validated description of a training run.

Pages build one from widgets (or from the URL), everything below reads it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
OPTIMIZERS = ("adam", "sgd", "rmsprop")


class ConfigError(ValueError):
    """A run setting is out of range; the message names field, value and what is allowed."""


@dataclass(frozen=True)
class RunConfig:
    cell: str = "lstm"  # rnn_tanh | rnn_relu | lstm | gru
    hidden_size: int = 32  # units per layer, 1-512
    num_layers: int = 1  # stacked recurrent layers, 1-4
    seq_len: int = 50  # time steps per sample, 2-2000
    dataset: str = "sine"  # a name from rnnviz.datasets.DATASETS
    dataset_params: dict = field(default_factory=dict)  # dataset options, checked by the dataset
    batch_size: int = 64  # samples per update, 1-1024
    steps: int = 500  # optimizer updates, 1-100000
    lr: float = 3e-3  # learning rate, (0, 10]
    optimizer: str = "adam"  # adam | sgd | rmsprop
    clip: float | None = 1.0  # global gradient-norm clip; None = off
    seed: int = 0  # seeds data, init and batches: same config, same run
    probe_every: int = 25  # steps between instrumented replays
    probe_size: int = 8  # validation samples replayed per probe, 1-64
    eval_every: int = 25  # steps between validation losses
    embedding_size: int = 16  # token embedding width for text-like datasets, 1-256
    recurrent_radius: float | None = None  # rescale each W_hh to this spectral radius at init
    forget_bias: float | None = None  # LSTM: sum of forget-gate biases at init

    def __post_init__(self) -> None:
        _check_choice("cell", self.cell, CELLS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name, lo, hi in _INT_BOUNDS:
            _check_int(name, getattr(self, name), lo, hi)
        _check_float("lr", self.lr, 0.0, 10.0, low_open=True)
        for name in ("clip", "recurrent_radius"):
            if getattr(self, name) is not None:
                _check_float(name, getattr(self, name), 0.0, 1e6, low_open=True)
        if self.forget_bias is not None:
            _check_float("forget_bias", self.forget_bias, -20.0, 20.0)
        _check_dataset(self.dataset, self.dataset_params)
        _check_memory(self)
        # a private copy (the caller's dict can't change a frozen config) and floats as floats
        # (lr=1 and lr=1.0 are one config, with one key)
        object.__setattr__(self, "dataset_params", dict(self.dataset_params))
        for name in _FLOAT_FIELDS:
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))

    def __hash__(self) -> int:  # the dataclass hash would fail on the dataset_params dict
        return hash(self.key())

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["dataset_params"] = dict(self.dataset_params)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"a run config must be a dict of settings, got {type(d).__name__}")
        unknown = sorted(set(d) - set(FIELDS))
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
        return cls(**d)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A canonical string: equal configs, equal keys (for caches)."""
        return json.dumps(self.to_dict(), sort_keys=True)


_INT_BOUNDS = (
    ("hidden_size", 1, 512),
    ("num_layers", 1, 4),
    ("seq_len", 2, 2000),
    ("batch_size", 1, 1024),
    ("steps", 1, 100_000),
    ("seed", 0, 2**31 - 1),
    ("probe_every", 1, 100_000),
    ("probe_size", 1, 64),
    ("eval_every", 1, 100_000),
    ("embedding_size", 1, 256),
)
_FLOAT_FIELDS = ("lr", "clip", "recurrent_radius", "forget_bias")
FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig))


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(allowed)}")


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}={value!r} must be a whole number from {lo} to {hi}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value} is out of range; allowed: {lo} to {hi}")


def _check_float(name: str, value: Any, lo: float, hi: float, low_open: bool = False) -> None:
    span = f"{'greater than' if low_open else 'from'} {lo:g} {'and at most' if low_open else 'to'} {hi:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}={value!r} must be a number {span}")
    if not math.isfinite(value) or value > hi or value < lo or (low_open and value == lo):
        raise ConfigError(f"{name}={value} is out of range; allowed: a number {span}")


MAX_TRAIN_BYTES = int(os.environ.get("RNNVIZ_MAX_TRAIN_MB", "2048")) * 2**20  # one run's training memory


def training_bytes(config: RunConfig) -> int:
    """Rough memory one training step needs: per sample, step, layer and unit, the gates plus h, c and
    tanh(c) (G + 3 floats) kept by autograd, doubled for their gradients (bench/bench_memory.py measured
    1.7x the single count at the largest settings)."""
    gates = {"lstm": 4, "gru": 3}.get(config.cell, 1)
    return config.batch_size * config.seq_len * config.num_layers * config.hidden_size * (gates + 3) * 4 * 2


def _check_memory(config: RunConfig) -> None:
    need = training_bytes(config)
    if need > MAX_TRAIN_BYTES:
        raise ConfigError(
            f"batch_size={config.batch_size} x seq_len={config.seq_len} x num_layers={config.num_layers} x "
            f"hidden_size={config.hidden_size} would need about {need / 2**30:.1f} GB to train one step; this "
            f"server allows {MAX_TRAIN_BYTES / 2**30:.1f} GB per run: lower one of them"
        )


def _check_dataset(name: Any, params: Any) -> None:
    from rnnviz.datasets import DATASETS  # late import: datasets import config

    _check_choice("dataset", name, tuple(DATASETS))
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise ConfigError(f"dataset_params={params!r} must be a dict with string keys")
    for k, v in params.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"dataset_params[{k!r}]={v} must be a finite number")
        if not isinstance(v, (str, int, float, bool)) and v is not None:
            raise ConfigError(f"dataset_params[{k!r}]={v!r} must be a number, text or true/false")


def parse_query(params: dict[str, str], base: RunConfig | None = None) -> RunConfig:
    """Build a config from URL query strings (all values are text); bad values raise ConfigError."""
    base = base or RunConfig()
    d = base.to_dict()
    for key, text in params.items():
        if key == "dataset_params":
            try:
                d[key] = json.loads(text)
            except json.JSONDecodeError:
                raise ConfigError(f"dataset_params={text!r} is not valid JSON") from None
        elif key in FIELDS:
            d[key] = _parse_text(key, text)
    return RunConfig.from_dict(d)


def to_query(config: RunConfig) -> dict[str, str]:
    """The URL form of a config: only the settings that differ from the defaults."""
    default = RunConfig().to_dict()
    out = {}
    for key, value in config.to_dict().items():
        if value != default[key]:
            out[key] = json.dumps(value, sort_keys=True) if key == "dataset_params" else _format(value)
    return out


def _format(value: Any) -> str:
    return "none" if value is None else repr(value) if isinstance(value, float) else str(value)


def _parse_text(key: str, text: str) -> Any:
    kind = {f.name: f.type for f in dataclasses.fields(RunConfig)}[key]
    if text.strip().lower() in ("none", "off", "") and "None" in kind:
        return None
    if kind.startswith("int"):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{key}={text!r} must be a whole number") from None
    if kind.startswith("float"):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key}={text!r} must be a number") from None
    return text
