"""Numbers behind the views: PCA over training, gate saturation, W_hh spectra, gradient decay.

numpy (and Traces / history DataFrames) in, numpy, small dataclasses or DataFrames out; no plotting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from rnnviz.cells import GATE_NAMES
from rnnviz.record import Trace

# what squashes each gate: sets the saturation thresholds and the colour scale of its heatmap
GATE_KIND = {
    "input": "sigmoid", "forget": "sigmoid", "output": "sigmoid", "reset": "sigmoid", "update": "sigmoid",
    "cell": "tanh", "new": "tanh", "preactivation": "linear",
}
PCA_MAX_ROWS = 20_000  # states used to fit the PCA; more rows only cost time, not accuracy


# ---------------------------------------------------------------- helpers


def downsample_index(n: int, max_points: int) -> np.ndarray:
    """At most `max_points` evenly spaced indices into range(n), always keeping the first and the last."""
    if n <= max_points:
        return np.arange(n)
    if max_points <= 1:
        return np.array([n - 1])
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def downsample(x, max_points: int, axis: int = 0):
    """x (array or DataFrame) with at most `max_points` evenly spaced entries along `axis`."""
    if isinstance(x, pd.DataFrame):
        return x.iloc[downsample_index(len(x), max_points)]
    x = np.asarray(x)
    return np.take(x, downsample_index(x.shape[axis], max_points), axis=axis)


def _as_float(a) -> np.ndarray:
    """float64 copy with non-finite entries (overflowed float16, diverged runs) set to 0."""
    return np.nan_to_num(np.asarray(a, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)


# ---------------------------------------------------------------- PCA of hidden states


@dataclass
class PCA:
    mean: np.ndarray  # (H,)
    components: np.ndarray  # (k, H) orthonormal rows (zero rows when H < k)
    explained: np.ndarray  # (k,) fraction of the variance along each component


def pca_of(states: np.ndarray, k: int = 3) -> PCA:
    """PCA of the rows of `states` (N, H); each component's largest-|loading| entry is made positive."""
    X = _as_float(states).reshape(-1, states.shape[-1])  # (N, H)
    X = X[downsample_index(len(X), PCA_MAX_ROWS)]
    H = X.shape[1]
    mean = X.mean(0)
    Xc = X - mean
    cov = Xc.T @ Xc / max(len(X), 1)  # (H, H)
    values, vectors = np.linalg.eigh(cov)  # ascending
    values, vectors = np.clip(values[::-1], 0, None), vectors[:, ::-1].T  # (H,), (H, H) rows = components
    n = min(k, H)
    components, explained = np.zeros((k, H)), np.zeros(k)
    components[:n] = vectors[:n]
    total = values.sum()
    if total > 0:
        explained[:n] = values[:n] / total
    # fixed signs, so an axis never flips between two fits of nearly the same data
    big = np.abs(components).argmax(1)
    components *= np.where(components[np.arange(k), big] < 0, -1.0, 1.0)[:, None]
    return PCA(mean, components, explained)


def _traces(items) -> list[Trace]:
    """Traces from a list of Traces or of a run's (step, Trace) probes."""
    return [item[1] if isinstance(item, tuple) else item for item in items]


def fit_pca(traces, layer: int = -1, k: int = 3) -> PCA:
    """One PCA over the hidden states of every probe (Traces or (step, Trace)), so the axes stay put."""
    traces = _traces(traces)
    if not traces:
        raise ValueError("fit_pca needs at least one probe trace")
    H = traces[0].hidden.shape[-1]
    return pca_of(np.concatenate([t.hidden[layer].reshape(-1, H) for t in traces]), k)


def fit_run_pca(probes: list[tuple[int, Trace]], layer: int = -1, k: int = 3) -> PCA:
    """fit_pca over a run's probes: what the Hidden states page calls."""
    return fit_pca(probes, layer, k)


def project(pca: PCA, hidden: np.ndarray) -> np.ndarray:
    """hidden (..., H) -> (..., k) coordinates along the fitted components."""
    return (_as_float(hidden) - pca.mean) @ pca.components.T


def pca_ranges(pca: PCA, traces, layer: int = -1, pad: float = 0.05) -> np.ndarray:
    """(k, 2) axis ranges covering every probe's projection, for axes that stay still over training."""
    k = len(pca.explained)
    pts = np.concatenate([project(pca, t.hidden[layer]).reshape(-1, k) for t in _traces(traces)])
    lo, hi = pts.min(0), pts.max(0)
    margin = np.maximum((hi - lo) * pad, 1e-6)
    return np.stack([lo - margin, hi + margin], axis=1)


# ---------------------------------------------------------------- saturation


@dataclass
class Saturation:
    low: np.ndarray  # (H,) fraction of (sample, step) entries on the low side
    high: np.ndarray  # (H,) fraction on the high side
    low_label: str  # what "low" means, for axis titles
    high_label: str

    def __iter__(self):  # `low, high = gate_saturation(...)`
        return iter((self.low, self.high))


def saturation(values: np.ndarray, lo: float = 0.1, hi: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: fraction of all (sample, step) entries of values (..., H) below `lo` and above `hi`."""
    v = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])  # (N, H)
    return (v < lo).mean(0), (v > hi).mean(0)


def gate_saturation(cell: str, name: str, values: np.ndarray) -> Saturation:
    """Karpathy's saturation: sigmoid gates < 0.1 / > 0.9, tanh gates < -0.9 / > 0.9; a vanilla RNN's state
    (name "state", see gate_values) as in state_saturation."""
    if name == "state":
        return state_saturation(cell, values)
    if GATE_KIND.get(name) == "tanh":
        low, high = saturation(values, -0.9, 0.9)
        return Saturation(low, high, f"{name} < -0.9", f"{name} > 0.9")
    low, high = saturation(values, 0.1, 0.9)
    return Saturation(low, high, f"{name} < 0.1", f"{name} > 0.9")


def state_saturation(cell: str, hidden: np.ndarray) -> Saturation:
    """Vanilla RNN states (..., H). tanh: low = |h| < 0.1 (near-linear), high = |h| > 0.9 (saturated).

    relu: low = h == 0 (off, the unit passes no gradient), high = h > 0 (active); they sum to 1.
    """
    h = np.asarray(hidden, dtype=np.float64).reshape(-1, hidden.shape[-1])  # (N, H)
    if cell == "rnn_relu":
        return Saturation((h <= 0).mean(0), (h > 0).mean(0), "h = 0 (dead)", "h > 0 (active)")
    return Saturation((np.abs(h) < 0.1).mean(0), (np.abs(h) > 0.9).mean(0), "|h| < 0.1 (linear)",
                      "|h| > 0.9 (saturated)")


def gate_values(cell: str, trace: Trace, layer: int = -1) -> dict[str, np.ndarray]:
    """name -> (B, T, H) of what saturates: LSTM/GRU gates, or a vanilla RNN's state itself (key "state")."""
    if cell.startswith("rnn"):
        return {"state": trace.hidden[layer]}
    return {name: trace.gates[name][layer] for name in GATE_NAMES[cell]}


def unit_saturation(trace: Trace, cell: str, layer: int = -1) -> dict[str, Saturation]:
    """Saturation of everything gate_values returns, by the same names."""
    return {name: gate_saturation(cell, name, v) for name, v in gate_values(cell, trace, layer).items()}


def infer_cell(trace: Trace) -> str:
    """The cell a trace came from, read off its gate names (a vanilla RNN's state is >= 0 only for ReLU)."""
    for cell in ("lstm", "gru"):
        if set(GATE_NAMES[cell]) <= set(trace.gates):
            return cell
    return "rnn_relu" if np.nanmin(trace.hidden) >= 0 else "rnn_tanh"


def saturation_history(probes: list[tuple[int, Trace]], layer: int = -1, cell: str | None = None) -> pd.DataFrame:
    """DataFrame(step, gate, mean_low, mean_high, low_label, high_label): unit-mean saturation per probe.

    `cell` defaults to what the traces show (infer_cell); pass the run's config.cell to be sure.
    """
    cell = cell or (infer_cell(probes[0][1]) if probes else "lstm")
    rows = [
        {"step": step, "gate": name, "mean_low": float(s.low.mean()), "mean_high": float(s.high.mean()),
         "low_label": s.low_label, "high_label": s.high_label}
        for step, trace in probes
        for name, s in unit_saturation(trace, cell, layer).items()
    ]
    return pd.DataFrame(rows, columns=["step", "gate", "mean_low", "mean_high", "low_label", "high_label"])


# ---------------------------------------------------------------- recurrent spectrum


def block_names(n_blocks: int) -> tuple[str, ...]:
    """Names of the H x H blocks of W_hh, in torch's row order."""
    return {1: ("W_hh",), 3: GATE_NAMES["gru"], 4: GATE_NAMES["lstm"]}[n_blocks]


@torch.no_grad()
def recurrent_spectrum(model: torch.nn.Module) -> list[dict[str, dict]]:
    """Per layer: block name -> {"radius": max |eigenvalue|, "singular_values": (H,) descending}."""
    rnn = getattr(model, "rnn", model)
    H, out = rnn.hidden_size, []
    for k in range(rnn.num_layers):
        w = getattr(rnn, f"weight_hh_l{k}").detach().cpu().double().numpy()  # (G*H, H)
        blocks = np.split(w, len(w) // H)
        out.append({
            name: _spectrum(b)
            for name, b in zip(block_names(len(blocks)), blocks, strict=True)
        })
    return out


def _spectrum(block: np.ndarray) -> dict:
    """Radius and singular values of one H x H block; NaN (not an exception) once training has diverged."""
    if not np.isfinite(block).all():
        return {"radius": float("nan"), "singular_values": np.full(len(block), np.nan)}
    return {"radius": float(np.abs(np.linalg.eigvals(block)).max()),
            "singular_values": np.linalg.svd(block, compute_uv=False)}


def radius_history(probes: list[tuple[int, Trace]]) -> pd.DataFrame:
    """DataFrame(step, layer, gate, radius) from the (L, G) radii every probe carries."""
    rows = [
        {"step": step, "layer": layer, "gate": name, "radius": float(r)}
        for step, trace in probes if trace.spectral_radius is not None
        for layer, radii in enumerate(np.asarray(trace.spectral_radius))
        for name, r in zip(block_names(len(radii)), radii, strict=True)
    ]
    return pd.DataFrame(rows, columns=["step", "layer", "gate", "radius"])


# ---------------------------------------------------------------- gradients through time


@dataclass
class Decay:
    """A line fitted to log10 ||dL/dh_t|| against t, read backwards in time (the way BPTT flows)."""

    slope_per_step: float  # change of log10 norm per step *back* in time (< 0: vanishing)
    factor_per_step: float  # 10 ** slope: the share of the norm each step back keeps (0.8 = 80%)
    intercept: float  # fitted log10 norm at t = 0, the first (earliest) step
    fitted: np.ndarray  # (T,) fitted norm at every t (not log)

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.factor_per_step))

    @property
    def label(self) -> str:
        if not self.ok:
            return "no fit"
        trend = "vanishing" if self.factor_per_step < 1 else "exploding" if self.factor_per_step > 1 else "flat"
        return f"×{self.factor_per_step:.3g} per step back ({trend})"


def mean_grad_norms(grad_norms: np.ndarray) -> np.ndarray:
    """(B, T) or (T,) -> (T,) batch mean over the finite entries (NaN where none are)."""
    g = np.asarray(grad_norms, dtype=np.float64)
    g = g.reshape(-1, g.shape[-1])
    finite = np.isfinite(g)
    count = finite.sum(0)
    total = np.where(finite, g, 0).sum(0)
    return np.divide(total, count, out=np.full(g.shape[-1], np.nan), where=count > 0)


def decay_rate(grad_norms: np.ndarray) -> Decay:
    """Fit log10 of the batch-mean ||dL/dh_t|| linearly in t, ignoring zeros and non-finite values.

    Returns NaNs (Decay.ok is False) when fewer than two steps are usable.
    """
    m = mean_grad_norms(grad_norms)  # (T,)
    t = np.arange(len(m), dtype=np.float64)
    use = np.isfinite(m) & (m > 0)
    if use.sum() < 2:
        return Decay(np.nan, np.nan, np.nan, np.full(len(m), np.nan))
    b, a = np.polyfit(t[use], np.log10(m[use]), 1)  # log10 norm = a + b t (forward in time)
    return Decay(float(-b), float(10.0 ** -b), float(a), 10.0 ** (a + b * t))


def grad_heatmap(probes: list[tuple[int, Trace]], layer: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """(steps (P,), matrix (P, T)) of batch-mean ||dL/dh_t||, one row per probe."""
    steps = np.array([s for s, _ in probes], dtype=int)
    rows = [mean_grad_norms(t.grad_norms[layer]) for _, t in probes]
    return steps, (np.stack(rows) if rows else np.zeros((0, 0)))


def decay_history(probes: list[tuple[int, Trace]], layer: int = -1) -> pd.DataFrame:
    """DataFrame(step, factor_per_step, slope_per_step): how the gradient decay changes over training."""
    rows = []
    for step, trace in probes:
        d = decay_rate(trace.grad_norms[layer])
        rows.append({"step": step, "factor_per_step": d.factor_per_step, "slope_per_step": d.slope_per_step})
    return pd.DataFrame(rows, columns=["step", "factor_per_step", "slope_per_step"])


def clip_events(history: pd.DataFrame) -> np.ndarray:
    """Training steps whose gradient was clipped."""
    if history.empty or "clipped" not in history:
        return np.zeros(0, dtype=int)
    return history.loc[history["clipped"].astype(bool), "step"].to_numpy(dtype=int)


def param_grad_columns(history: pd.DataFrame) -> list[str]:
    return [c for c in history.columns if c.startswith("grad/")]


# ---------------------------------------------------------------- labels


def class_labels(data, n: int) -> np.ndarray | None:
    """(n,) class of each probe sample (the first n validation samples), or None when the task has no classes."""
    if data is None or data.task != "classification":
        return None
    return np.asarray(data.y_val[:n]).astype(int)
