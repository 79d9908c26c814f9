"""replay(): an exact, instrumented re-run of a model on a probe batch -> Trace."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.cells import run_layer
from rnnviz.cellspec import spec
from rnnviz.model import SequenceModel, task_loss


class Gates(dict):
    """Gate name -> (L, B, T, H) array. "cell", the LSTM candidate's name in DESIGN.md's contract (before c_t
    became `cell_state` and g "candidate"), still finds the candidate: the contract is extended, not broken."""

    def __missing__(self, name: str) -> np.ndarray:
        if name == "cell" and "candidate" in self:
            return self["candidate"]
        raise KeyError(name)


@dataclass
class Trace:
    hidden: np.ndarray  # (L, B, T, H) h_t of every layer
    cell_state: np.ndarray | None  # (L, B, T, H) LSTM c_t, else None
    gates: dict[str, np.ndarray]  # name -> (L, B, T, H)
    grad_norms: np.ndarray  # (L, B, T) ||dL/dh_t||, L = each sample's loss at the last step
    input_saliency: np.ndarray  # (B, T) ||dL/dx_t|| (x_t as fed to the rnn)
    outputs: np.ndarray  # model outputs for the probe batch
    loss: float  # the model's (mean) loss on the probe batch
    spectral_radius: np.ndarray | None = None  # (L, G) radius of each gate's H x H block of W_hh

    def __post_init__(self) -> None:
        self.gates = Gates(self.gates)

    @property
    def cell(self) -> np.ndarray | None:
        """DESIGN.md's contract name for `cell_state` (the LSTM's c_t): kept for code written against it."""
        return self.cell_state

    def astype(self, dtype) -> Trace:
        """A copy with the big arrays in `dtype` (float16 to store many probes)."""
        cast = lambda a: None if a is None else a.astype(dtype)  # noqa: E731
        return Trace(
            cast(self.hidden), cast(self.cell_state), {k: cast(v) for k, v in self.gates.items()},
            self.grad_norms, self.input_saliency, self.outputs, self.loss, self.spectral_radius,
        )

    @property
    def nbytes(self) -> int:
        arrays = [self.hidden, self.cell_state, self.grad_norms, self.input_saliency, self.outputs,
                  *self.gates.values()]
        return sum(a.nbytes for a in arrays if a is not None)


def replay(model: SequenceModel, x: torch.Tensor, y: torch.Tensor) -> Trace:
    """Re-run `model` step by step with its own parameters, recording states, gates and dL/dh_t.

    Gradients are taken with autograd.grad on the states only, so the model's
    parameters neither change nor collect .grad.
    """
    cell, rnn = spec(model.cell), model.rnn
    with torch.enable_grad():
        inp = model.rnn_input(x).detach().requires_grad_(True)  # (B, T, F)
        layer_in, hs_all, cs_all, gates_all = inp, [], [], []
        for k in range(rnn.num_layers):
            hs, cs, gates = run_layer(cell, rnn, k, layer_in)
            hs_all.append(hs)
            cs_all.append(cs)
            gates_all.append(gates)
            layer_in = torch.stack(hs, dim=1)  # (B, T, H) feeds the next layer
        out, loss = model.readout(layer_in, y)
        last = _last_step_loss(model, out, y)
        flat_h = [h for hs in hs_all for h in hs]
        grads = torch.autograd.grad(last, flat_h + [inp])
    L, T = rnn.num_layers, x.shape[1]
    # contiguous: numpy reductions over a permuted view round differently from a saved-and-loaded copy
    gnorm = torch.stack(grads[:-1]).norm(dim=-1).reshape(L, T, -1).permute(0, 2, 1).contiguous()  # (L, B, T)
    return Trace(
        hidden=_stack(hs_all),
        cell_state=_stack(cs_all) if cell.has_cell_state else None,
        gates={name: _stack([[g[j] for g in gs] for gs in gates_all]) for j, name in enumerate(cell.gate_names)},
        grad_norms=gnorm.numpy(),
        input_saliency=grads[-1].norm(dim=-1).detach().numpy(),
        outputs=out.detach().numpy(),
        loss=float(loss.detach()),
        spectral_radius=recurrent_radii(rnn),
    )


@torch.no_grad()
def recurrent_radii(rnn: torch.nn.Module) -> np.ndarray:
    """(L, G): spectral radius of each gate's H x H block of every W_hh (G = 1, 3 or 4)."""
    H = rnn.hidden_size
    blocks = torch.stack([getattr(rnn, f"weight_hh_l{k}").view(-1, H, H) for k in range(rnn.num_layers)])  # L, G, H, H
    finite = torch.isfinite(blocks).flatten(2).all(-1)  # (L, G)
    radii = torch.full(finite.shape, float("nan"), dtype=torch.float64)
    if finite.any():  # LAPACK (oneMKL) segfaults on NaN/inf input: only finite blocks go in
        radii[finite] = torch.linalg.eigvals(blocks[finite]).abs().amax(dim=-1).double()  # one batched call
    return radii.numpy()


def _last_step_loss(model: SequenceModel, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Sum over samples of each sample's loss at the last time step (so each row's gradient is its own).

    A sample's loss is what `task_loss` gives for that sample alone: for regression the mean
    squared error over its outputs, otherwise the cross-entropy of its (last) prediction.
    """
    if model.task == "next_token":
        return task_loss(model.task, out[:, -1:], y[:, -1:], reduction="sum")
    per_sample = task_loss(model.task, out, y, reduction="none")  # (B, O) or (B,)
    return per_sample.flatten(1).mean(1).sum() if per_sample.dim() > 1 else per_sample.sum()


def _stack(per_layer: list[list[torch.Tensor]]) -> np.ndarray:
    """[[ (B, H) per t ] per layer] -> (L, B, T, H) numpy."""
    return torch.stack([torch.stack(steps, dim=1) for steps in per_layer]).detach().numpy()
