"""SequenceModel: input encoder -> fused torch.nn RNN/LSTM/GRU -> linear head."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from rnnviz.engine.cellspec import spec
from rnnviz.engine.config import RunConfig


class SequenceModel(nn.Module):
    def __init__(self, config: RunConfig, input_size: int, output_size: int, task: str):
        super().__init__()
        self.cell, self.task = config.cell, task
        cell = spec(config.cell)
        with torch.random.fork_rng(devices=[]):  # their throwaway default init must not advance the global RNG
            # token inputs (next_token tasks) go through an embedding; real-valued inputs go in as they are
            self.embed = nn.Embedding(input_size, config.embedding_size) if task == "next_token" else None
            rnn_in = config.embedding_size if self.embed is not None else input_size
            self.rnn = cell.module(rnn_in, config.hidden_size, config.num_layers, batch_first=True,
                                   **cell.module_kwargs())
            self.head = nn.Linear(config.hidden_size, output_size)
        _init_default(self, torch.Generator().manual_seed(config.seed))
        _init_recurrent(self.rnn, config)

    def rnn_input(self, x: torch.Tensor) -> torch.Tensor:
        """Exactly what is fed to `.rnn`: (B, T, input features)."""
        return self.embed(x) if self.embed is not None else x

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        states, _ = self.rnn(self.rnn_input(x))  # (B, T, H)
        return self.readout(states, y)

    def readout(self, states: torch.Tensor, y: torch.Tensor | None = None):
        """Head + loss from the top layer's states (B, T, H); shared with replay()."""
        if self.task == "next_token":
            out = self.head(states)  # (B, T, V): a prediction at every step
        else:
            out = self.head(states[:, -1])  # (B, O): decided at the last step
        return out, (None if y is None else task_loss(self.task, out, y))

    def last_step_loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Sum over samples of each sample's loss at the last time step (so each row's gradient is its own): what
        replay() differentiates for ||dL/dh_t||.

        A sample's loss is what `task_loss` gives for that sample alone: for regression the mean
        squared error over its outputs, otherwise the cross-entropy of its (last) prediction.
        """
        if self.task == "next_token":
            return task_loss(self.task, out[:, -1:], y[:, -1:], reduction="sum")
        per_sample = task_loss(self.task, out, y, reduction="none")  # (B, O) or (B,)
        return per_sample.flatten(1).mean(1).sum() if per_sample.dim() > 1 else per_sample.sum()


def task_loss(task: str, out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    if task == "regression":
        return F.mse_loss(out, y, reduction=reduction)
    if task == "next_token":
        return F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction=reduction)
    return F.cross_entropy(out, y, reduction=reduction)


@torch.no_grad()
def _init_default(model: SequenceModel, gen: torch.Generator) -> None:
    """PyTorch's default init, drawn from the run's own generator rather than the global one.

    Same config, same weights, even when several sessions build models at once in threads.
    """
    if model.embed is not None:
        nn.init.normal_(model.embed.weight, generator=gen)
    bound = 1 / math.sqrt(model.rnn.hidden_size)  # what nn.RNNBase.reset_parameters uses
    for p in model.rnn.parameters():
        nn.init.uniform_(p, -bound, bound, generator=gen)
    bound = 1 / math.sqrt(model.head.in_features)  # nn.Linear's kaiming_uniform(a=sqrt(5)) bound
    nn.init.uniform_(model.head.weight, -bound, bound, generator=gen)
    nn.init.uniform_(model.head.bias, -bound, bound, generator=gen)


@torch.no_grad()
def _init_recurrent(rnn: nn.Module, config: RunConfig) -> None:
    H, blocks = config.hidden_size, spec(config.cell).blocks
    for k in range(config.num_layers):
        w_hh = getattr(rnn, f"weight_hh_l{k}")
        if config.recurrent_radius is not None:
            for block in w_hh.split(H):  # each gate's H x H block gets the radius
                radius = torch.linalg.eigvals(block).abs().max()
                block.mul_(config.recurrent_radius / radius.clamp_min(1e-12))
        if config.forget_bias is not None and "forget" in blocks:
            rows = slice(blocks.index("forget") * H, (blocks.index("forget") + 1) * H)  # the forget gate's block
            # the effective bias is b_ih + b_hh, split evenly
            getattr(rnn, f"bias_ih_l{k}")[rows] = config.forget_bias / 2
            getattr(rnn, f"bias_hh_l{k}")[rows] = config.forget_bias / 2


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
