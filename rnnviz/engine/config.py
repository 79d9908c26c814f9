"""RunConfig: the single, validated description of a training run.

Pages build one from widgets (or from the URL), everything below reads it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rnnviz import server
from rnnviz.datasets import DATASETS
from rnnviz.engine.cellspec import KINDS
from rnnviz.engine.memory import advice, estimate, size

CELLS = KINDS  # the cell table (rnnviz/cellspec.py) is the one list of cell kinds
OPTIMIZERS = ("adam", "sgd", "rmsprop")


class ConfigError(ValueError):
    """A run setting is out of range; the message names field, value and what is allowed."""


@dataclass(frozen=True)
class RunConfig:
    # each setting's bounds are stated once, in SETTINGS below (what widgets, URL parsing and checks read)
    cell: str = "lstm"  # rnn_tanh | rnn_relu | lstm | gru
    hidden_size: int = 32  # units per layer
    num_layers: int = 1  # stacked recurrent layers
    seq_len: int = 50  # time steps per sample
    dataset: str = "sine"  # a name from rnnviz.datasets.DATASETS
    dataset_params: Mapping = field(default_factory=dict)  # dataset options, checked by the dataset; read-only
    batch_size: int = 64  # samples per update
    steps: int = 500  # optimizer updates
    lr: float = 3e-3  # learning rate
    optimizer: str = "adam"  # adam | sgd | rmsprop
    clip: float | None = 1.0  # global gradient-norm clip; None = off
    seed: int = 0  # seeds data, init and batches: same config, same run
    probe_every: int = 25  # steps between instrumented replays
    probe_size: int = 8  # validation samples replayed per probe
    eval_every: int = 25  # steps between validation losses
    embedding_size: int = 16  # token embedding width for text-like datasets
    recurrent_radius: float | None = None  # rescale each W_hh to this spectral radius at init
    forget_bias: float | None = None  # LSTM: sum of forget-gate biases at init

    def __post_init__(self) -> None:
        for setting in SETTINGS.values():
            if setting.name != "dataset":  # the registry checks the dataset, below
                setting.check(getattr(self, setting.name))
        _check_dataset(self.dataset, self.dataset_params)
        _check_memory(self)
        # a private read-only copy (neither the caller's dict nor anyone holding the config can change it)
        # and floats as floats (lr=1 and lr=1.0 are one config, with one key)
        object.__setattr__(self, "dataset_params", MappingProxyType(dict(self.dataset_params)))
        for name in _FLOAT_FIELDS:
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))

    def __hash__(self) -> int:  # the dataclass hash would fail on the dataset_params dict
        return hash(self.key())

    def __reduce__(self):  # pickle and deepcopy through the dict form (a mappingproxy does not pickle)
        return _from_dict, (self.to_dict(),)

    def to_dict(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in FIELDS}
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


@dataclass(frozen=True)
class Setting:
    """One RunConfig field's rule: validation, URL parsing and the sidebar widget all read it."""

    name: str
    label: str  # what the sidebar calls it
    kind: type  # int | float | str
    lo: float | None = None  # numeric bounds, inclusive unless low_open
    hi: float | None = None
    low_open: bool = False  # lo itself is not allowed (lr > 0)
    optional: bool = False  # None means "off"
    choices: tuple[str, ...] | None = None  # allowed values for text settings
    step: float | None = None  # the widget's +/- step
    first: float | None = None  # value an optional setting takes when first turned on
    help: str = ""
    live: bool = False  # may change while a run trains (rnnviz.engine.changes); else a change starts a new run

    def check(self, value: Any) -> None:
        if value is None and self.optional:
            return
        if self.choices is not None:
            _check_choice(self.name, value, self.choices)
        elif self.kind is int:
            _check_int(self.name, value, int(self.lo), int(self.hi))
        elif self.kind is float:
            _check_float(self.name, value, self.lo, self.hi, self.low_open)


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("cell", "Cell", str, choices=CELLS),
    Setting("hidden_size", "Hidden units", int, 1, 512, step=8),
    Setting("num_layers", "Layers", int, 1, 4),
    Setting("seq_len", "Sequence length T", int, 2, 2000),
    Setting("dataset", "Dataset", str),
    Setting("batch_size", "Batch size", int, 1, 1024, live=True),
    Setting("steps", "Training steps", int, 1, 100_000, step=100),
    Setting("lr", "Learning rate", float, 0.0, 10.0, low_open=True, live=True),
    Setting("optimizer", "Optimizer", str, choices=OPTIMIZERS, live=True),
    Setting("clip", "Clip the gradient norm", float, 0.0, 1e6, low_open=True, optional=True, first=1.0,
            live=True),
    Setting("seed", "Seed", int, 0, 2**31 - 1),
    Setting("probe_every", "Probe every (steps)", int, 1, 100_000, live=True),
    Setting("probe_size", "Probe samples", int, 1, 64, live=True),
    Setting("eval_every", "Validate every (steps)", int, 1, 100_000, live=True),
    Setting("embedding_size", "Token embedding size", int, 1, 256),
    Setting("recurrent_radius", "Set the spectral radius of W_hh at init", float, 0.0, 1e6, low_open=True,
            optional=True, first=1.0),
    Setting("forget_bias", "Set the LSTM forget-gate bias at init", float, -20.0, 20.0, optional=True, first=1.0),
)}
_FLOAT_FIELDS = tuple(name for name, s in SETTINGS.items() if s.kind is float)
FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig))


def _from_dict(d: dict[str, Any]) -> RunConfig:
    return RunConfig.from_dict(d)


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={_short(value)} is not allowed; choose one of {', '.join(allowed)}")


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}={_short(value)} must be a whole number from {lo} to {hi}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={_short(value)} is out of range; allowed: {lo} to {hi}")


def _check_float(name: str, value: Any, lo: float, hi: float, low_open: bool = False) -> None:
    span = f"{'greater than' if low_open else 'from'} {lo:g} {'and at most' if low_open else 'to'} {hi:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}={_short(value)} must be a number {span}")
    if not _fits_float(value) or not math.isfinite(value) or value > hi or value < lo or (low_open and value == lo):
        raise ConfigError(f"{name}={_short(value)} is out of range; allowed: a number {span}")


def _fits_float(value: int | float) -> bool:
    """False for an int too large for a float (10**400), which math would refuse with OverflowError."""
    try:
        float(value)
        return True
    except OverflowError:
        return False


def _short(value: Any) -> str:
    """A value for a message, cut to stay readable (str() of a 5,000-digit int even raises)."""
    if isinstance(value, int) and abs(value) >= 10**30:
        return f"{'-' if value < 0 else ''}(a number of about {int(value.bit_length() * math.log10(2)) + 1} digits)"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


MAX_TRAIN_BYTES = server.MAX_TRAIN_MB * 2**20  # one run's memory (RNNVIZ_MAX_TRAIN_MB, checked in rnnviz.server)


def training_bytes(config: RunConfig) -> int:
    """Estimated peak memory of a run: its data (from the shapes the dataset will build), the model's weights and
    optimizer state, one training step's activations (embedding and logits included), validation and probes.
    The parts are in rnnviz.engine.memory.estimate."""

    return estimate(config)["total"]


def _check_memory(config: RunConfig) -> None:

    parts = estimate(config)
    if parts["total"] > MAX_TRAIN_BYTES:
        raise ConfigError(f"this run would need about {size(parts['total'])} of memory and this server allows "
                          f"{size(MAX_TRAIN_BYTES)} per run: {advice(config, parts)}")


def _check_dataset(name: Any, params: Any) -> None:

    _check_choice("dataset", name, tuple(DATASETS))
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise ConfigError(f"dataset_params={_short(params)} must be a dict with string keys")
    for k, v in params.items():
        where = f"dataset_params[{_short(k)}]={_short(v)}"
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= MAX_PARAM_INT:
            raise ConfigError(f"{where} is too large; whole numbers must be below 2**63 in size")
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{where} must be a finite number")
        if not isinstance(v, (str, int, float, bool)) and v is not None:
            raise ConfigError(f"{where} must be a number, text or true/false")
        if isinstance(v, str) and len(v) > MAX_PARAM_TEXT:
            raise ConfigError(f"{where} is {len(v)} characters long; options are at most {MAX_PARAM_TEXT}")


MAX_PARAM_INT = 2**63  # dataset options are counts and sizes: anything larger is a typo or an attack
MAX_PARAM_TEXT = 200  # a column name or an upload key
MAX_QUERY_TEXT = 2000  # characters of one URL value; dataset_params is a small flat JSON object
_NUMBER = {int: re.compile(r"[+-]?[0-9]+"),  # ASCII digits only: int() would take "1_000" and "١٢"
           float: re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(nan|inf|infinity)",
                             re.IGNORECASE)}


def parse_query(params: dict[str, str], base: RunConfig | None = None) -> RunConfig:
    """Build a config from URL query strings (all values are text); bad values raise ConfigError."""
    base = base or RunConfig()
    d = base.to_dict()
    for key, text in params.items():
        if key not in FIELDS:
            continue  # other URL keys belong to the app, not the config
        if not isinstance(text, str) or len(text) > MAX_QUERY_TEXT:
            raise ConfigError(f"{key} in the link is longer than {MAX_QUERY_TEXT} characters")
        d[key] = _parse_json_params(text) if key == "dataset_params" else _parse_text(key, text)
    return RunConfig.from_dict(d)


def _parse_json_params(text: str) -> Any:
    """JSON of dataset options, refused before decoding if nested (options are flat: depth 1)."""
    if json_depth(text) > 1:
        raise ConfigError(f"dataset_params={_short(text)} must be a flat JSON object of options, "
                          'e.g. {"noise": 0.1}; lists and nested objects are not allowed')
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, and ints over Python's 4,300-digit limit
        raise ConfigError(f"dataset_params={_short(text)} is not valid JSON") from None


def json_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings, counted without decoding."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif in_string:
            escaped, in_string = ch == "\\", ch != '"'
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


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
    setting = SETTINGS[key]
    if text.strip().lower() in ("none", "off", "") and setting.optional:
        return None
    if setting.kind in _NUMBER:
        if not _NUMBER[setting.kind].fullmatch(text.strip()):
            kind = "a whole number" if setting.kind is int else "a number"
            raise ConfigError(f"{key}={_short(text)} must be {kind} written with the digits 0-9, "
                              "without separators")
        return setting.kind(text.strip())
    return text
