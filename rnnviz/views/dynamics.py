"""Why gradients vanish: step Jacobians J_t = ds_t/ds_{t-1} of the top layer along a probe, and fixed points.

Computed from a model's own parameters with the step functions of rnnviz.engine.cells; no Streamlit.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import jacrev, vmap

from rnnviz.engine.cells import layer_params, project, unroll
from rnnviz.engine.cellspec import CellSpec, spec

JACOBIAN_BYTES = 32 * 2**20  # Jacobians held at once (float32); longer probes are done in time chunks
STABLE, SADDLE, UNSTABLE = "stable", "saddle", "unstable"


# ---------------------------------------------------------------- one step of a layer, and of the stack


def layer_step(cell: CellSpec, params, xp: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """One step of a layer on rows of flat state s (N, S); S = H, or 2H for an LSTM's (h, c)."""
    b_hh = params[3] if cell.bias_apart else None  # project() folded it into xp otherwise
    state, _ = cell.step(xp, s.chunk(cell.state_parts, dim=-1), params[1], b_hh)
    return torch.cat(state, dim=-1)


def step_jacobian(cell: CellSpec, params, s: torch.Tensor, xp: torch.Tensor) -> torch.Tensor:
    """(N, S, S): ds'/ds of one layer step at each row of s (N, S) with inputs xp (N, G*H)."""
    one = lambda s1, xp1: layer_step(cell, params, xp1[None], s1[None])[0]  # noqa: E731  (S,) -> (S,)
    return vmap(jacrev(one))(s, xp)


# ---------------------------------------------------------------- step Jacobians along a probe


@dataclass
class Jacobians:
    """Per probe sample (rows) and time step t (columns), of the top layer's state s_t (h, or (h, c))."""

    sigma_max: np.ndarray  # (B, T) largest singular value of J_t = ds_t/ds_{t-1} (J_0: w.r.t. the zero start)
    radius: np.ndarray  # (B, T) spectral radius of J_t
    product_norm: np.ndarray  # (B, T) ||J_{T-1} ... J_{t+1}||, 1 at t = T-1: the most dL/ds_t can keep
    state: str  # "h" or "(h, c)"
    seconds: float  # what it cost to compute


@torch.no_grad()
def top_layer_path(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(xp (B, T, G*H), s (B, T, S)): the top layer's projected inputs and its states along x."""
    rnn, cell = model.rnn, spec(model.cell)
    u = model.rnn_input(x).detach()  # (B, T, F)
    for k in range(rnn.num_layers - 1):  # the layers below only feed the top layer its input
        u = unroll(cell, rnn, k, u)[0][0]  # (B, T, H)
    states, _, xp, _ = unroll(cell, rnn, rnn.num_layers - 1, u)
    return xp, torch.cat(states, -1)  # (h, c) side by side


@torch.no_grad()
def step_jacobians(model, x: torch.Tensor, max_bytes: int = JACOBIAN_BYTES) -> Jacobians:
    """J_t for every probe sample and t, with their top singular value, spectral radius and back products.

    Time is walked backwards in chunks of at most `max_bytes` of Jacobians, carrying the running product
    P = J_{T-1} ... J_{t+1} (float64, renormalised each step so 1.5^2000 neither overflows nor underflows).
    """
    start = time.perf_counter()
    cell, params = spec(model.cell), layer_params(model.rnn, model.rnn.num_layers - 1)
    xp, s = top_layer_path(model, x)
    B, T, S = s.shape
    prev = torch.cat([s.new_zeros(B, 1, S), s[:, :-1]], dim=1)  # (B, T, S) s_{t-1}, zero before t = 0
    sigma, radius, log_prod = (np.full((B, T), np.nan) for _ in range(3))
    log_prod[:, T - 1] = 0.0
    P, log_scale = torch.eye(S, dtype=torch.float64).repeat(B, 1, 1), torch.zeros(B, dtype=torch.float64)
    chunk = max(1, max_bytes // (B * S * S * 4))
    for end in range(T, 0, -chunk):
        lo = max(0, end - chunk)
        J = step_jacobian(cell, params, prev[:, lo:end].reshape(-1, S), xp[:, lo:end].reshape(B * (end - lo), -1))
        J = J.view(B, end - lo, S, S)  # (B, C, S, S)
        sigma[:, lo:end], radius[:, lo:end] = _top_values(J)
        for t in range(end - 1, max(lo, 1) - 1, -1):  # P J_t = J_{T-1} ... J_t is the product for t - 1
            P = P @ J[:, t - lo].double()  # (B, S, S)
            norm = _norms(P)  # (B,)
            log_scale += torch.log(norm)
            P = P / norm.clamp_min(1e-300)[:, None, None]
            log_prod[:, t - 1] = log_scale.numpy()
    return Jacobians(sigma, radius, np.exp(log_prod), "(h, c)" if cell.has_cell_state else "h",
                     time.perf_counter() - start)


def _norms(M: torch.Tensor) -> torch.Tensor:
    """Spectral norms of (N, S, S), NaN for matrices that are not finite (LAPACK must never see NaN)."""
    out = torch.full(M.shape[:1], float("nan"), dtype=M.dtype)
    ok = torch.isfinite(M).flatten(1).all(-1)
    if ok.any():
        out[ok] = torch.linalg.matrix_norm(M[ok], ord=2)
    return out


def _top_values(J: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(largest singular value, spectral radius) of every J (..., S, S), NaN where not finite."""
    flat = J.reshape(-1, *J.shape[-2:])
    ok = torch.isfinite(flat).flatten(1).all(-1)
    sig, rad = torch.full(ok.shape, float("nan")), torch.full(ok.shape, float("nan"))
    if ok.any():
        sig[ok] = torch.linalg.matrix_norm(flat[ok], ord=2)
        rad[ok] = torch.linalg.eigvals(flat[ok]).abs().amax(-1)
    return sig.view(J.shape[:-2]).numpy(), rad.view(J.shape[:-2]).numpy()


# ---------------------------------------------------------------- fixed points


@dataclass
class FixedPoints:
    """Fixed and slow points of the stacked recurrent map s -> F(s, x) for one constant input x."""

    states: np.ndarray  # (K, S) joint state of every layer: per layer h (then c for an LSTM)
    hidden: np.ndarray  # (K, H) the top layer's h part, to project into the run's PCA axes
    q: np.ndarray  # (K,) 1/2 ||F(s) - s||^2 at the point: 0 for a fixed point, small for a slow one
    kind: list[str]  # per point: stable (every |eigenvalue| < 1), unstable (every one > 1) or saddle
    max_abs_eig: np.ndarray  # (K,) largest |eigenvalue| of dF/ds at the point
    fixed: np.ndarray  # (K,) bool: q below FixedPointSearch.fixed_q (a true fixed point, not a slow one)
    starts: int  # how many starting states were optimised
    seconds: float

    def summary(self) -> str:
        """'5 point(s) from 64 starts in 1.2 s: 3 stable, 2 saddle' (or 'none found')."""
        kinds = {k: self.kind.count(k) for k in ("stable", "saddle", "unstable") if k in self.kind}
        return (f"{len(self.kind)} point(s) from {self.starts} starts in {self.seconds:.1f} s: "
                + (", ".join(f"{n} {k}" for k, n in kinds.items()) or "none found"))


@dataclass(frozen=True)
class FixedPointSearch:
    """How fixed points are looked for: from many starts, Adam on q, then Newton polishing."""

    starts: int = 256  # starting states drawn from the trajectories
    iterations: int = 1500  # Adam steps at most
    budget_s: float = 2.0  # seconds of Adam at most; Newton may take as long again
    lr: float = 0.01
    noise: float = 0.01  # jitter added to the starts, so two identical starts can still part
    slow_q: float = 1e-4  # q below this is kept, as a slow point
    fixed_q: float = 1e-10  # q below this is a fixed point
    dedup: float = 1e-3  # two points closer than this (RMS over the state) are one
    polish: int = 32  # distinct candidates (lowest q first) polished by Newton and classified
    seed: int = 0


def stack_map(model, x: torch.Tensor, dtype=torch.float64):
    """F(s) for rows of joint states s (N, S_all) under the constant rnn input x (F,): the whole stack, one step."""
    rnn, cell, H = model.rnn, spec(model.cell), model.rnn.hidden_size
    params = [layer_params(rnn, k, dtype) for k in range(rnn.num_layers)]
    S = cell.state_parts * H
    xp0 = project(cell, params[0], x.to(dtype))  # (G*H,) the first layer's input never changes

    def F(s: torch.Tensor) -> torch.Tensor:
        out, xp = [], xp0.expand(s.shape[0], -1)
        for k, p in enumerate(params):
            new = layer_step(cell, p, xp, s[:, k * S : (k + 1) * S])  # (N, S)
            out.append(new)
            if k + 1 < len(params):
                xp = project(cell, params[k + 1], new[:, :H])  # the next layer reads this layer's h
        return torch.cat(out, dim=-1)

    return F


def joint_states(trace) -> np.ndarray:
    """(B*T, S_all) joint states of every layer along a probe trace: per layer h_t, then c_t for an LSTM."""
    parts = [trace.hidden] if trace.cell_state is None else [trace.hidden, trace.cell_state]
    s = np.concatenate([p[k] for k in range(trace.hidden.shape[0]) for p in parts], axis=-1)  # (B, T, S_all)
    return s.reshape(-1, s.shape[-1]).astype(np.float64)


def constant_input(model, value) -> torch.Tensor:
    """The rnn input (F,) for a constant value: every feature = value, or a token's embedding."""
    if model.embed is not None:
        return model.embed.weight[int(value)].detach()
    return torch.full((model.rnn.input_size,), float(value))


def find_fixed_points(model, x: torch.Tensor, starts: np.ndarray, search: FixedPointSearch | None = None):
    """Minimise q(s) = 1/2 ||F(s, x) - s||^2 from many starts; keep, de-duplicate and classify the minima."""
    t0, search = time.perf_counter(), search or FixedPointSearch()
    F = stack_map(model, x)
    s = _pick_starts(starts, search)
    if len(s):  # else nothing to start from (every start not finite): no points, said as such
        s = _adam(F, s, search, t0)
    s, _ = _dedup(*_converged(F, s, 100 * search.slow_q), search.dedup)  # Newton only on distinct candidates
    s = _newton(F, s[: search.polish], deadline=t0 + 2 * search.budget_s)  # the best ones: Newton costs S^3 each
    s, q = _dedup(*_converged(F, s, search.slow_q), search.dedup)
    return _classify(model, F, s, q, search, len(starts), time.perf_counter() - t0)


def _converged(F, s: torch.Tensor, below: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows of s whose q is finite and below `below`, with their q."""
    q = _q(F, s)
    keep = torch.isfinite(q) & (q < below)
    return s[keep], q[keep]


def _pick_starts(starts: np.ndarray, search: FixedPointSearch) -> torch.Tensor:
    gen = np.random.default_rng(search.seed)
    starts = np.asarray(starts, dtype=np.float64)
    starts = starts[np.isfinite(starts).all(1)]
    idx = gen.choice(len(starts), size=min(search.starts, len(starts)), replace=False)
    s = starts[idx] + search.noise * gen.standard_normal((len(idx), starts.shape[1]))
    return torch.from_numpy(s)


def _q(F, s: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F(s) - s).pow(2).sum(-1)  # (N,)


def _adam(F, s: torch.Tensor, search: FixedPointSearch, t0: float) -> torch.Tensor:
    s = s.clone().requires_grad_(True)
    opt = torch.optim.Adam([s], lr=search.lr)
    with torch.enable_grad():
        for i in range(search.iterations):
            q = _q(F, s)
            if time.perf_counter() - t0 > search.budget_s or (i % 50 == 0 and q.max() < search.fixed_q):
                break
            opt.zero_grad()
            q.sum().backward()  # the rows are independent: one backward moves every start
            opt.step()
    return s.detach()


def _newton(F, s: torch.Tensor, deadline: float, steps: int = 8) -> torch.Tensor:
    """Polish with Newton on F(s) - s = 0 until `deadline`; a row moves only while its q goes down."""
    eye = torch.eye(s.shape[1], dtype=s.dtype)
    for _ in range(steps):
        if time.perf_counter() > deadline or not len(s):  # (no candidate converged enough to polish)
            break
        r = F(s) - s  # (N, S)
        J = vmap(jacrev(lambda v: F(v[None])[0]))(s) - eye  # (N, S, S)
        step = torch.linalg.lstsq(J, -r[..., None]).solution[..., 0]  # lstsq: singular J at a line attractor
        better = _q(F, s + step) < 0.5 * r.pow(2).sum(-1)
        s = torch.where(better[:, None], s + step, s)
    return s


def _dedup(s: torch.Tensor, q: torch.Tensor, tol: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy, best (lowest q) first: a point within `tol` (RMS) of one already kept is a duplicate."""
    order, kept = torch.argsort(q), []
    for i in order.tolist():
        if all(((s[i] - s[j]).pow(2).mean().sqrt() > tol) for j in kept):
            kept.append(i)
    idx = torch.tensor(kept, dtype=torch.long)
    return s[idx], q[idx]


def _classify(model, F, s, q, search, n_starts, seconds) -> FixedPoints:
    H, K = model.rnn.hidden_size, len(s)
    S_top = spec(model.cell).state_parts * H
    kinds, top = [], np.zeros(K)
    if K:
        J = vmap(jacrev(lambda v: F(v[None])[0]))(s)  # (K, S, S)
        mods = torch.linalg.eigvals(J).abs()  # (K, S)
        top = mods.amax(-1).numpy()
        kinds = [STABLE if hi < 1 else UNSTABLE if lo > 1 else SADDLE
                 for lo, hi in zip(mods.amin(-1).tolist(), mods.amax(-1).tolist(), strict=True)]
    hidden = s[:, -S_top:][:, :H] if K else s.new_zeros(0, H)
    return FixedPoints(s.numpy(), hidden.numpy(), q.numpy(), kinds, top, (q < search.fixed_q).numpy(),
                       n_starts, seconds)


# ---------------------------------------------------------------- a run's probes, on demand and cached


def model_at(run, step: int):
    """A copy of the run's model with the weights it had at probe `step`; None when they were not kept."""
    weights = getattr(run, "weights", {}).get(step)
    if run.model is None or (weights is None and step != run.step):
        return None
    model = copy.deepcopy(run.current_model())  # the latest step's model unless `weights` were kept
    if weights is not None:
        model.load_state_dict(weights)
    return model


def cached(run, key: tuple, compute):
    """compute() once per (run, key): the cache lives on the run, so a shared finished run shares it too."""
    cache = vars(run).setdefault("_dynamics_cache", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def run_jacobians(run, step: int, samples: tuple[int, ...]) -> Jacobians | None:
    """Step Jacobians of the probe samples `samples` at probe `step` (the probe batch is x_val[:B])."""
    def compute():
        model = model_at(run, step)
        return None if model is None else step_jacobians(model, run.data.x_val[list(samples)])
    return cached(run, ("jacobians", step, tuple(samples)), compute)


def run_fixed_points(run, step: int, value: float, search: FixedPointSearch | None = None) -> FixedPoints | None:
    """Fixed points at probe `step` for the constant input `value`, started from that probe's trajectories."""
    search = search or FixedPointSearch()

    def compute():
        model, trace = model_at(run, step), dict(run.probes).get(step)
        if model is None or trace is None:
            return None
        return find_fixed_points(model, constant_input(model, value), joint_states(trace), search)
    return cached(run, ("fixed_points", step, float(value), search), compute)
