"""Checkpoints of your own model: a state_dict of an nn.RNN, nn.LSTM or nn.GRU (and an optional linear head), read
safely and understood from its shapes.

Reading never executes code from the file: `.safetensors` is plain tensors behind a JSON header, and a torch.save
file is read with `torch.load(weights_only=True)`, which refuses any pickled object but tensors and plain
containers. Every size is bounded before anything is parsed, so a hostile file is refused within a second.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from dataclasses import dataclass, field

import torch
from safetensors.torch import load as load_safetensors

MAX_CHECKPOINT_BYTES = 64 * 2**20  # the file as uploaded
MAX_UNPACKED_BYTES = 256 * 2**20  # a torch.save zip's entries together
MAX_ENTRIES = 4096  # in a torch.save zip (one record per tensor)
MAX_LAYERS, MAX_HIDDEN, MAX_INPUT = 4, 512, 4096  # what rnnviz shows
GATES = {1: "rnn", 3: "gru", 4: "lstm"}  # gate blocks of W_hh -> the module
RECURRENT = re.compile(r"^(?P<prefix>.*?)(?P<name>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(?P<layer>\d+)"
                       r"(?P<reverse>_reverse)?$")
NESTS = ("state_dict", "model", "model_state_dict")  # conventions for a state_dict saved inside a dict


class CheckpointError(ValueError):
    """A checkpoint rnnviz cannot read; the message says what was wrong and what is allowed."""


@dataclass
class Detected:
    kind: str  # "rnn" | "lstm" | "gru" (an nn.RNN's tanh or ReLU cannot be told from shapes: asked)
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    head_out: int | None  # out_features of the linear head, if there is one
    prefix: str  # of the recurrent weights' keys: "", "rnn.", "lstm.", ...
    head_prefix: str | None  # of the head's keys: "head.", "fc.", ...
    unknown: list[str] = field(default_factory=list)

    def recurrent_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The recurrent module's tensors under torch's own names (weight_ih_l0, ...)."""
        return {k[len(self.prefix):]: v for k, v in state.items() if k.startswith(self.prefix) and
                RECURRENT.match(k) and RECURRENT.match(k)["prefix"] == self.prefix}

    def head_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        if self.head_prefix is None:
            return None
        return {k[len(self.head_prefix):]: v for k, v in state.items() if k in (f"{self.head_prefix}weight",
                                                                               f"{self.head_prefix}bias")}


def read_state_dict(data: bytes, name: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The tensors of a `.safetensors` or torch.save file, told apart by content; CheckpointError if unusable."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise CheckpointError("the file is empty")
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"the file is {len(data) / 2**20:.0f} MB; checkpoints are at most "
                              f"{MAX_CHECKPOINT_BYTES // 2**20} MB")
    data = bytes(data)
    if data.startswith(b"PK\x03\x04"):
        state = _torch_file(data)
    elif len(data) > 8 and data[8:9] == b"{":
        state = _safetensors_file(data)
    else:
        raise CheckpointError(f"{name} is neither a torch.save file nor a .safetensors file; save your model with "
                              "torch.save(model.state_dict(), 'model.pt') or safetensors.torch.save_file")
    return _tensors(state)


def _torch_file(data: bytes) -> object:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ENTRIES or sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
                raise CheckpointError(f"the torch.save archive unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB "
                                      f"or {MAX_ENTRIES} entries")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as err:
        raise CheckpointError(f"the torch.save file is damaged or truncated ({str(err)[:100]})") from None
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many kinds; the unpickler refuses code: say so)
        text = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            raise CheckpointError("it holds Python objects other than tensors, which rnnviz never unpickles (save "
                                  f"model.state_dict(), not the model) — torch said: {text}") from None
        raise CheckpointError(f"the torch.save file cannot be read ({text})") from None


def _safetensors_file(data: bytes) -> dict:
    """Checks the header's declared byte ranges against the file before safetensors reads a tensor."""
    (size,) = struct.unpack("<Q", data[:8])
    if size > len(data) - 8 or size > 100 * 2**20:
        raise CheckpointError(f"the .safetensors header claims {size:,} bytes; the file has {len(data) - 8:,}")
    try:
        header = json.loads(data[8 : 8 + size])
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError("the .safetensors header is not valid JSON: the file is damaged") from None
    body = len(data) - 8 - size
    if not isinstance(header, dict):
        raise CheckpointError("the .safetensors header must be a JSON object of tensors")
    for key, info in header.items():
        if key == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and 0 <= offsets[0] <= offsets[1] <= body):
            raise CheckpointError(f"tensor {key[:60]!r} claims bytes {offsets} but the file holds {body:,}: it is "
                                  "truncated or made up")
    try:
        return load_safetensors(data)
    except Exception as err:  # noqa: BLE001  (safetensors raises its own error type)
        raise CheckpointError(f"the .safetensors file cannot be read ({str(err)[:200]})") from None


def _tensors(state: object) -> dict[str, torch.Tensor]:
    if isinstance(state, dict):
        for nest in NESTS:
            if isinstance(state.get(nest), dict):
                state = state[nest]
                break
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("a checkpoint must be a state_dict: a dict of tensors, e.g. "
                              "torch.save(model.state_dict(), path)")
    return {str(k): v for k, v in state.items()}


def detect(state: dict[str, torch.Tensor]) -> Detected:
    """The recurrent module (kind, sizes, layers, bias) and the linear head a state_dict holds, from its keys and
    shapes; CheckpointError names the key and what was expected when something does not fit."""
    found = {k: RECURRENT.match(k) for k in state}
    recurrent = {k: m for k, m in found.items() if m}
    if not recurrent:
        raise CheckpointError("no weight_ih_l0 / weight_hh_l0 of an nn.RNN, nn.LSTM or nn.GRU found; rnnviz reads "
                              "the state_dict of one of those (with an optional linear head)")
    if any(m["reverse"] for m in recurrent.values()):
        raise CheckpointError("bidirectional modules are not supported: rnnviz follows a network forward in time")
    if any(m["name"] == "weight_hr" for m in recurrent.values()):
        raise CheckpointError("an LSTM with proj_size is not supported (its h_t is projected)")
    prefixes = sorted({m["prefix"] for m in recurrent.values()})
    if len(prefixes) > 1:
        raise CheckpointError(f"recurrent weights under {len(prefixes)} prefixes ({', '.join(map(repr, prefixes))}): "
                              "rnnviz shows one recurrent module")
    prefix = prefixes[0]
    layers = sorted({int(m["layer"]) for m in recurrent.values()})
    if layers != list(range(len(layers))):
        raise CheckpointError(f"layers {layers}: expected layers numbered from 0 without gaps")
    if len(layers) > MAX_LAYERS:
        raise CheckpointError(f"{len(layers)} layers: rnnviz shows 1 to {MAX_LAYERS}")
    w_hh = _get(state, f"{prefix}weight_hh_l0")
    if w_hh.dim() != 2 or w_hh.shape[0] % max(w_hh.shape[1], 1):
        raise CheckpointError(f"{prefix}weight_hh_l0 has shape {tuple(w_hh.shape)}: expected (gates × hidden, hidden)")
    H = w_hh.shape[1]
    G = w_hh.shape[0] // H
    if G not in GATES:
        raise CheckpointError(f"{prefix}weight_hh_l0 has {G} gate blocks of {H}: an nn.RNN has 1, a GRU 3, an LSTM 4")
    if H > MAX_HIDDEN:
        raise CheckpointError(f"hidden size {H}: rnnviz shows up to {MAX_HIDDEN} units")
    inputs = _get(state, f"{prefix}weight_ih_l0")
    I = inputs.shape[1] if inputs.dim() == 2 else -1  # noqa: E741
    if not 1 <= I <= MAX_INPUT:
        raise CheckpointError(f"{prefix}weight_ih_l0 has shape {tuple(inputs.shape)}: expected ({G * H}, input size "
                              f"of 1 to {MAX_INPUT})")
    bias = f"{prefix}bias_ih_l0" in state
    for k in layers:
        want = {"weight_ih": (G * H, I if k == 0 else H), "weight_hh": (G * H, H)}
        if bias:
            want |= {"bias_ih": (G * H,), "bias_hh": (G * H,)}
        for name, shape in want.items():
            key = f"{prefix}{name}_l{k}"
            got = _get(state, key)
            if tuple(got.shape) != shape:
                raise CheckpointError(f"{key} has shape {tuple(got.shape)}; a {GATES[G].upper()} of {H} units "
                                      f"expects {shape}")
    head_prefix, head_out = _head(state, set(recurrent), H)
    unknown = sorted(k for k in state if k not in recurrent and (head_prefix is None or not k.startswith(head_prefix)))
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise CheckpointError(f"keys rnnviz does not understand: {shown}; it reads one recurrent module and an "
                              "optional linear head (head.weight, head.bias)")
    for key, tensor in state.items():
        if not torch.is_floating_point(tensor):
            raise CheckpointError(f"{key} holds {tensor.dtype} values: weights must be floating-point")
        bad = int((~torch.isfinite(tensor)).sum())
        if bad:
            raise CheckpointError(f"{key} holds {bad:,} NaN or infinite values: a run that diverged cannot be shown")
    return Detected(GATES[G], I, H, len(layers), bias, head_out, prefix, head_prefix)


def _get(state: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f"{key} is missing")
    return state[key]


def _head(state: dict[str, torch.Tensor], recurrent: set[str], H: int) -> tuple[str | None, int | None]:
    """The linear head: `head.weight` (O, H) and `head.bias`, or, under any prefix, the one other weight with H
    columns."""
    others = [k for k in state if k not in recurrent and k.endswith("weight") and state[k].dim() == 2
              and state[k].shape[1] == H]
    names = ["head.weight"] if "head.weight" in others else others
    if len(names) != 1:
        return None, None
    prefix = names[0][: -len("weight")]
    out = state[names[0]].shape[0]
    bias = state.get(f"{prefix}bias")
    if bias is not None and tuple(bias.shape) != (out,):
        raise CheckpointError(f"{prefix}bias has shape {tuple(bias.shape)}; the head's weight expects ({out},)")
    return prefix, out


def build_module(detected: Detected, state: dict[str, torch.Tensor], nonlinearity: str = "tanh"
                 ) -> tuple[torch.nn.RNNBase, torch.nn.Linear | None]:
    """A batch-first torch module with the checkpoint's weights (strict), and its linear head (or None)."""
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[detected.kind]
    extra = {"nonlinearity": nonlinearity} if detected.kind == "rnn" else {}
    module = kind(detected.input_size, detected.hidden_size, detected.num_layers, bias=detected.bias,
                  batch_first=True, **extra)
    module.load_state_dict({k: v.to(torch.float32) for k, v in detected.recurrent_state(state).items()})
    head = None
    if detected.head_prefix is not None:
        weights = detected.head_state(state)
        head = torch.nn.Linear(detected.hidden_size, detected.head_out, bias="bias" in weights)
        head.load_state_dict({k: v.to(torch.float32) for k, v in weights.items()})
    return module, head

