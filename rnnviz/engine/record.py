"""replay(): an exact, instrumented re-run of a model on a probe batch -> Trace."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.engine.cells import layer_params, unroll
from rnnviz.engine.cellspec import spec
from rnnviz.engine.model import SequenceModel


class Gates(dict):
    """Gate name -> (L, B, T, H) array. "cell", the LSTM candidate's name in DESIGN.md's contract (before c_t
    became `cell_state` and g "candidate"), still finds the candidate: the contract is extended, not broken."""

    def __missing__(self, name: str) -> np.ndarray:
        if name == "cell" and "candidate" in self:
            return self["candidate"]
        raise KeyError(name)


class _Radii:
    """Trace.spectral_radius: given as (L, G) radii, or as the W_hh blocks they come from (L, G, H, H), reduced
    to radii when first read. LAPACK's eigenvalues cost a probe as much as a quarter of its time, and most
    probes are never asked for them (only the Gradients page's radius chart and run files read them)."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, trace, owner=None):
        if trace is None:
            return None  # the dataclass field's default
        value = trace.__dict__.get(self.slot)
        if isinstance(value, torch.Tensor):
            value = trace.__dict__[self.slot] = block_radii(value)
        return value

    def __set__(self, trace, value) -> None:
        trace.__dict__[self.slot] = value


@dataclass
class Trace:
    hidden: np.ndarray  # (L, B, T, H) h_t of every layer
    cell_state: np.ndarray | None  # (L, B, T, H) LSTM c_t, else None
    gates: dict[str, np.ndarray]  # name -> (L, B, T, H)
    grad_norms: np.ndarray  # (L, B, T) ||dL/dh_t||, L = each sample's loss at the last step
    input_saliency: np.ndarray  # (B, T) ||dL/dx_t|| (x_t as fed to the rnn)
    outputs: np.ndarray  # model outputs for the probe batch
    loss: float  # the model's (mean) loss on the probe batch
    spectral_radius: np.ndarray | None = _Radii()  # (L, G) radius of each gate's H x H block of W_hh

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
                  self.__dict__.get("_spectral_radius"), *self.gates.values()]
        return sum(a.nbytes for a in arrays if a is not None)


def replay(model: SequenceModel, x: torch.Tensor, y: torch.Tensor) -> Trace:
    """Re-run `model` on a probe batch with its own parameters, recording states, gates and dL/dh_t.

    The fused module computes every layer's h_t (as training does); the hand-written cells of rnnviz.engine.cells,
    given h_{t-1}, give every gate (and c_t) for all steps at once, with their pointwise derivatives; BPTT then
    walks back through time with those and W_hh, one small product per step. The model's parameters neither
    change nor collect .grad.
    """
    cell, rnn = spec(model.cell), model.rnn
    with torch.no_grad():
        u = model.rnn_input(x)  # (B, T, F) what the fused module is fed
    layers = []
    for k in range(rnn.num_layers):
        layers.append(_Layer(cell, rnn, k, u))
        u = layers[-1].states[0]  # (B, T, H) feeds the next layer
    with torch.enable_grad():
        top = u.detach().requires_grad_(True)
        out, loss = model.readout(top, y)
        (incoming,) = torch.autograd.grad(model.last_step_loss(out, y), top)  # (B, T, H): only the last t
    grads = []
    for layer in reversed(layers):  # dL/dh_t of each layer, and what reaches the layer below (or the input)
        dh, incoming = layer.backward(incoming)
        grads.insert(0, dh)
    return Trace(
        hidden=_numpy([layer.states[0] for layer in layers]),
        cell_state=_numpy([layer.states[1] for layer in layers]) if cell.has_cell_state else None,
        gates={name: _numpy([layer.gates[j] for layer in layers]) for j, name in enumerate(cell.gate_names)},
        grad_norms=torch.stack(grads).norm(dim=-1).numpy(),  # (L, B, T)
        input_saliency=incoming.norm(dim=-1).numpy(),  # (B, T) ||dL/dx_t||
        outputs=out.detach().numpy(),
        loss=float(loss.detach()),
        spectral_radius=recurrent_blocks(rnn),
    )


class _Layer:
    """One layer along the probe: its states and gates, and the cell's pointwise derivatives for BPTT.

    For each part o of the new state (h_t, c_t), one tensor per step t: d o / d hp and d o / d xp (B, G*H), and
    d o / d(each previous part) (B, H) where it is not zero. Unit j reads only unit j of each gate block, so one
    backward pass with all-ones weights gives each of them whole (rnnviz.engine.cells says so of every cell).
    """

    def __init__(self, cell, rnn: torch.nn.Module, k: int, u: torch.Tensor):
        self.states, prev, xp, hp = unroll(cell, rnn, k, u)
        self.w_ih, self.w_hh = layer_params(rnn, k)[:2]
        B, T, GH = xp.shape
        flat = [t.reshape(B * T, -1).requires_grad_(True) for t in (xp, hp, *prev)]
        with torch.enable_grad():
            new, gates = cell.pointwise(flat[0], flat[1], tuple(flat[2:]))
            grads = [torch.autograd.grad(part, flat, torch.ones_like(part), retain_graph=True, allow_unused=True)
                     for part in new]
        self.gates = [g.detach().view(B, T, -1) for g in gates]
        G, H = GH // self.w_hh.shape[1], self.w_hh.shape[1]
        steps = lambda g, *shape: g.view(B, T, *shape).unbind(1)  # noqa: E731  (B * T, n) -> T x (B, *shape)
        self.d_hp = [steps(g[1], G, H) for g in grads]  # per gate block, to multiply dL/do (B, 1, H) by
        self.d_xp = None if all(torch.equal(g[0], g[1]) for g in grads) else [steps(g[0], G, H) for g in grads]
        self.d_prev = [[(o, steps(g[2 + p], H)) for o, g in enumerate(grads) if g[2 + p] is not None]
                       for p in range(len(prev))]  # (xp and hp enter as one sum in every cell but the GRU)

    @torch.inference_mode()
    def backward(self, incoming: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(dL/dh_t (B, T, H), dL/du_t (B, T, F)) from `incoming`, what reaches h_t from outside the recurrence
        (the loss, or the layer above), walking back from the last step: a few small products per step."""
        T, inc = incoming.shape[1], incoming.unbind(1)
        carry = [None] * len(self.d_prev)  # dL/d(each state part at t) through step t + 1; None is zero
        dh, dxp = [None] * T, [None] * T
        for t in range(T - 1, -1, -1):
            ds = [inc[t] if carry[0] is None else carry[0] + inc[t], *carry[1:]]  # dL/ds_t, every part
            per_block = [None if d is None else d[:, None] for d in ds]  # (B, 1, H) against (B, G, H) factors
            dhp = _dot(per_block, [d[t] for d in self.d_hp]).flatten(1)  # (B, G*H)
            dxp[t] = dhp if self.d_xp is None else _dot(per_block, [d[t] for d in self.d_xp]).flatten(1)
            dh[t] = ds[0]
            carry = [_dot([ds[o] for o, _ in pairs], [d[t] for _, d in pairs]) for pairs in self.d_prev]
            carry[0] = dhp @ self.w_hh if carry[0] is None else torch.addmm(carry[0], dhp, self.w_hh)  # to h_{t-1}
        return torch.stack(dh, dim=1), torch.stack(dxp, dim=1) @ self.w_ih  # the second to the layer's input


def _dot(xs: list, ws: list) -> torch.Tensor | None:
    """sum of x * w over the pairs whose x is not None (zero); None when there is none."""
    total = None
    for x, w in zip(xs, ws, strict=True):
        if x is not None:
            total = x * w if total is None else torch.addcmul(total, x, w)
    return total


LAZY_RADII_BYTES = 4 * 2**20  # W_hh copies up to this size (one LSTM layer of 512 units) wait to be read


@torch.no_grad()
def recurrent_blocks(rnn: torch.nn.Module) -> torch.Tensor | np.ndarray:
    """A copy of every W_hh as (L, G, H, H) gate blocks, for Trace.spectral_radius to reduce when read; their
    radii at once when the copy would be large (big models: the probe then costs far more than LAPACK)."""
    H = rnn.hidden_size
    blocks = torch.stack([getattr(rnn, f"weight_hh_l{k}").detach().view(-1, H, H) for k in range(rnn.num_layers)])
    return blocks if blocks.nbytes <= LAZY_RADII_BYTES else block_radii(blocks)


@torch.no_grad()
def block_radii(blocks: torch.Tensor) -> np.ndarray:
    """(L, G, H, H) -> (L, G) largest |eigenvalue| of each block, NaN for a block that is not finite."""
    finite = torch.isfinite(blocks).flatten(2).all(-1)  # (L, G)
    radii = torch.full(finite.shape, float("nan"), dtype=torch.float64)
    if finite.any():  # LAPACK (oneMKL) segfaults on NaN/inf input: only finite blocks go in
        radii[finite] = torch.linalg.eigvals(blocks[finite]).abs().amax(dim=-1).double()  # one batched call
    return radii.numpy()


def _numpy(per_layer: list[torch.Tensor]) -> np.ndarray:
    """[(B, T, H) per layer] -> (L, B, T, H) numpy."""
    return torch.stack(per_layer).detach().numpy()
