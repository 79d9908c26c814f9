"""Your own recurrent module, in the shape rnnviz's replay and dynamics read.

`OwnModel` wraps a `torch.nn.RNN` (tanh or ReLU), `nn.LSTM` or `nn.GRU` someone built, with an optional head and
loss, as a `SequenceModel` looks to `replay()`: a batch-first copy of the recurrent module (the user's own is only
read, never changed, whatever its `batch_first`), the head applied to the last step's state, and per-sample
losses. The replay of an OwnModel equals the user's module's own outputs (tests/test_inspect.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from rnnviz.engine.cellspec import SPECS, spec
from rnnviz.engine.train import new_run

MAX_LAYERS = 4  # what the views show
MAX_HIDDEN = 512
MAX_POSITIONS = 200_000  # samples × time steps replayed at once (a probe is a handful of samples)


class ModelError(ValueError):
    """A module or its inputs rnnviz cannot show; the message says what is wrong and what is allowed."""


def kind_of(module: nn.Module) -> str:
    """rnnviz's cell name for a torch recurrent module; ModelError for anything else."""
    kind = next((key for key, cell in SPECS.items() if isinstance(module, cell.module)  # the cell table's module
                 and getattr(module, "nonlinearity", None) == cell.nonlinearity), None)  # and its tanh or ReLU
    if kind is None:
        raise ModelError(f"{type(module).__name__} is not a torch.nn.RNN, nn.LSTM or nn.GRU (wrap your own cell's "
                         "weights in one of those to inspect it)")
    if module.bidirectional:
        raise ModelError("bidirectional modules are not supported: rnnviz follows a network forward in time "
                         "(inspect each direction as its own one-way module)")
    if getattr(module, "proj_size", 0):
        raise ModelError(f"an LSTM with proj_size={module.proj_size} is not supported (its h_t is projected)")
    if not 1 <= module.num_layers <= MAX_LAYERS:
        raise ModelError(f"num_layers={module.num_layers}: rnnviz shows 1 to {MAX_LAYERS} layers")
    if module.hidden_size > MAX_HIDDEN:
        raise ModelError(f"hidden_size={module.hidden_size}: rnnviz shows up to {MAX_HIDDEN} units per layer")
    return kind


def batch_first_copy(module: nn.RNNBase) -> nn.RNNBase:
    """A batch-first float32 copy of `module` with its weights (zero biases where it has none), in eval mode."""
    kind = spec(kind_of(module))
    copied = kind.module(module.input_size, module.hidden_size, module.num_layers, batch_first=True,
                         **kind.module_kwargs())
    state = {k: v.detach().to(torch.float32, copy=True) for k, v in module.state_dict().items()}
    for name, p in copied.named_parameters():
        state.setdefault(name, torch.zeros_like(p))  # bias=False: the same map as zero biases
    copied.load_state_dict(state)
    copied.requires_grad_(False)
    return copied.eval()


def default_loss(out: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Per-sample loss (B,): mean squared error for real targets, cross-entropy for class indices, and without
    targets ½‖ŷ‖² (so ‖∂L/∂h_t‖ says how much each h_t moves the output's size)."""
    if y is None:
        return 0.5 * out.flatten(1).pow(2).sum(1)
    if not torch.is_floating_point(y):
        return F.cross_entropy(out, y.long(), reduction="none")
    return F.mse_loss(out, y.reshape(out.shape).to(out.dtype), reduction="none").flatten(1).mean(1)


class OwnModel(nn.Module):
    """A user's recurrent module, head and loss, read as replay() and the dynamics views read a SequenceModel."""

    embed = None  # inputs go to the recurrent module as they are (embed tokens yourself first)
    task = "regression"  # how the views colour and score it: outputs are the head's, unlabelled

    def __init__(self, module: nn.Module, head: nn.Module | None = None,
                 loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None):
        super().__init__()
        self.cell = kind_of(module)
        self.batch_first = module.batch_first  # how the user's inputs are laid out
        self.rnn = batch_first_copy(module)
        self.head = copy.deepcopy(head) if head is not None else None  # theirs keeps its mode and grads
        if self.head is not None:
            self.head.requires_grad_(False)
            self.head.eval()
        self.user_loss = loss

    def rnn_input(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        states, _ = self.rnn(x)
        return self.readout(states, y)

    def readout(self, states: torch.Tensor, y: torch.Tensor | None = None):
        """The head on the last step's state (B, H) (the state itself without a head), and the mean loss."""
        last = states[:, -1]
        out = self.head(last) if self.head is not None else last
        return out, self.last_step_loss(out, y) / out.shape[0]

    def last_step_loss(self, out: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The sum over samples of each sample's own loss: each row's gradient is its own. A loss you gave is
        called once per sample (it may average over a batch)."""
        if self.user_loss is None:
            return default_loss(out, y).sum()
        if y is None:
            raise ModelError("a loss needs targets: pass targets=… as well")
        return sum(self.user_loss(out[i : i + 1], y[i : i + 1]) for i in range(out.shape[0]))


def as_batch(model: OwnModel, inputs, targets=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Inputs as (B, T, F) float32 (transposed from (T, B, F) for a module that is not batch-first) and targets as
    tensors; ModelError names what does not fit."""
    x = torch.as_tensor(np.asarray(inputs) if not isinstance(inputs, torch.Tensor) else inputs)
    if x.dim() == 2:
        x = x.unsqueeze(0 if model.batch_first else 1)  # one sequence
    if x.dim() != 3:
        layout = "(batch, time, features)" if model.batch_first else "(time, batch, features)"
        raise ModelError(f"inputs of shape {tuple(x.shape)}: expected {layout}, as the module reads them")
    x = x.detach().to(torch.float32)
    if not model.batch_first:
        x = x.transpose(0, 1)
    B, T, features = x.shape
    if features != model.rnn.input_size:
        raise ModelError(f"inputs have {_features(features)} per step but the module's input_size is "
                         f"{model.rnn.input_size}")
    if B * T > MAX_POSITIONS:
        raise ModelError(f"{B} sequences × {T} steps = {B * T:,} positions; inspect at most {MAX_POSITIONS:,} at "
                         "once (a few sequences show everything)")
    if not torch.isfinite(x).all():
        raise ModelError("inputs hold NaN or infinite values")
    y = None if targets is None else torch.as_tensor(np.asarray(targets) if not isinstance(targets, torch.Tensor)
                                                     else targets).detach()
    if y is not None and y.shape[0] != B:
        raise ModelError(f"targets for {y.shape[0]} sequences, inputs for {B}")
    return x.contiguous(), y


def checkpoint_run(config, rnn_state: dict[str, torch.Tensor], head_state: dict[str, torch.Tensor] | None = None,
                   data=None):
    """A run of `config` (its cell, sizes and layers those of the checkpoint) that starts from your weights: the
    recurrent module's `rnn_state` (torch's names: weight_ih_l0, ...; missing biases are zeros) and, when its
    shapes fit the data's outputs, the linear head's (weight, bias); else the head is new, drawn from the seed.
    It trains (fine-tunes) like any run. ModelError names what does not fit (the data's features against the
    checkpoint's input size)."""
    run = new_run(config, data)
    rnn = run.model.rnn
    reads = rnn_state["weight_ih_l0"].shape[1]
    if reads != rnn.input_size:
        raise ModelError(f"the checkpoint reads {_features(reads)} per step but the data ({config.dataset}) gives "
                         f"{rnn.input_size}: choose data with {_features(reads)} (e.g. your sequences as a .npy "
                         "upload)")
    state = {name: rnn_state.get(name, torch.zeros_like(p)).detach().to(torch.float32)
             for name, p in rnn.named_parameters()}
    with torch.no_grad():
        rnn.load_state_dict(state)
        head = run.model.head
        if head_state is not None and head_state["weight"].shape == head.weight.shape:
            head.load_state_dict({"weight": head_state["weight"].to(torch.float32),
                                  "bias": head_state.get("bias", torch.zeros_like(head.bias)).to(torch.float32)})
    return run  # its optimizer (new_run's) updates these same parameters, in place


def _features(n: int) -> str:
    return f"{n} feature" + ("" if n == 1 else "s")
