"""Numbers behind the views: PCA over training, gate saturation, W_hh spectra, gradient decay.

numpy (and Traces / history DataFrames) in, numpy, small dataclasses or DataFrames out; no plotting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnviz.engine.cellspec import GATE_KIND, blocks_of, spec
from rnnviz.engine.record import Trace

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


# Karpathy's saturation thresholds (low, high), the only copy: figures read them off a Saturation's labels
SATURATION = {"sigmoid": (0.1, 0.9), "tanh": (-0.9, 0.9), "state": (0.1, 0.9)}  # "state": |h| of a tanh RNN


@dataclass
class Saturation:
    low: np.ndarray  # (H,) fraction of (sample, step) entries on the low side
    high: np.ndarray  # (H,) fraction on the high side
    low_label: str  # what "low" means, for axis titles, e.g. "input < 0.1"
    high_label: str


def saturation(values: np.ndarray, lo: float = SATURATION["sigmoid"][0],
               hi: float = SATURATION["sigmoid"][1]) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: fraction of all (sample, step) entries of values (..., H) below `lo` and above `hi`
    (by default a sigmoid gate's thresholds, SATURATION)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])  # (N, H)
    return (v < lo).mean(0), (v > hi).mean(0)


def gate_saturation(cell: str, name: str, values: np.ndarray) -> Saturation:
    """Karpathy's saturation: sigmoid gates < 0.1 / > 0.9, tanh gates < -0.9 / > 0.9; a vanilla RNN's state
    (name "state", see gate_values) as in state_saturation."""
    if name == "state":
        return state_saturation(cell, values)
    lo, hi = SATURATION["tanh" if GATE_KIND.get(name) == "tanh" else "sigmoid"]
    low, high = saturation(values, lo, hi)
    return Saturation(low, high, f"{name} < {lo:g}", f"{name} > {hi:g}")


def state_saturation(cell: str, hidden: np.ndarray) -> Saturation:
    """Vanilla RNN states (..., H). tanh: low = |h| < 0.1 (near-linear), high = |h| > 0.9 (saturated).

    relu: low = h == 0 (off, the unit passes no gradient), high = h > 0 (active); they sum to 1.
    """
    h = np.asarray(hidden, dtype=np.float64).reshape(-1, hidden.shape[-1])  # (N, H)
    if spec(cell).nonlinearity == "relu":
        return Saturation((h <= 0).mean(0), (h > 0).mean(0), "h = 0 (dead)", "h > 0 (active)")
    lo, hi = SATURATION["state"]
    return Saturation((np.abs(h) < lo).mean(0), (np.abs(h) > hi).mean(0), f"|h| < {lo:g} (linear)",
                      f"|h| > {hi:g} (saturated)")


def gate_values(cell: str, trace: Trace, layer: int = -1) -> dict[str, np.ndarray]:
    """name -> (B, T, H) of what saturates: LSTM/GRU gates, or a vanilla RNN's state itself (key "state")."""
    if not spec(cell).gated:
        return {"state": trace.hidden[layer]}
    return {name: trace.gates[name][layer] for name in spec(cell).gate_names}


def unit_saturation(trace: Trace, cell: str, layer: int = -1) -> dict[str, Saturation]:
    """Saturation of everything gate_values returns, by the same names."""
    return {name: gate_saturation(cell, name, v) for name, v in gate_values(cell, trace, layer).items()}


def saturation_history(probes: list[tuple[int, Trace]], cell: str, layer: int = -1) -> pd.DataFrame:
    """DataFrame(step, gate, mean_low, mean_high, low_label, high_label): unit-mean saturation per probe."""
    rows = [
        {"step": step, "gate": name, "mean_low": float(s.low.mean()), "mean_high": float(s.high.mean()),
         "low_label": s.low_label, "high_label": s.high_label}
        for step, trace in probes
        for name, s in unit_saturation(trace, cell, layer).items()
    ]
    return pd.DataFrame(rows, columns=["step", "gate", "mean_low", "mean_high", "low_label", "high_label"])


# ---------------------------------------------------------------- recurrent spectrum


def radius_history(probes: list[tuple[int, Trace]]) -> pd.DataFrame:
    """DataFrame(step, layer, gate, radius) from the (L, G) radii every probe carries (record.recurrent_blocks)."""
    rows = [
        {"step": step, "layer": layer, "gate": name, "radius": float(r)}
        for step, trace in probes if trace.spectral_radius is not None
        for layer, radii in enumerate(np.asarray(trace.spectral_radius))
        for name, r in zip(blocks_of(len(radii)), radii, strict=True)
    ]
    return pd.DataFrame(rows, columns=["step", "layer", "gate", "radius"])


# ---------------------------------------------------------------- gradients through time

# "steady" while the fitted norm changes by less than half an order of magnitude (x3.2) across the whole
# sequence: what matters for learning is how much of the gradient reaches the first step, not one step's share
STEADY_SPAN = 0.5


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
    def verdict(self) -> str:
        """"vanishing", "steady" or "exploding": the one word every view uses for this decay."""
        if not self.ok:
            return "no fit"
        change = self.slope_per_step * (len(self.fitted) - 1)  # log10(norm at t = 0 / norm at the last step)
        return "vanishing" if change < -STEADY_SPAN else "exploding" if change > STEADY_SPAN else "steady"

    @property
    def label(self) -> str:
        return f"×{self.factor_per_step:.3g} per step back ({self.verdict})" if self.ok else "no fit"


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


def param_grad_columns(history: pd.DataFrame) -> list[str]:
    return [c for c in history.columns if c.startswith("grad/")]


# ---------------------------------------------------------------- labels


def class_labels(data, n: int) -> np.ndarray | None:
    """(n,) class of each probe sample (the first n validation samples), or None when the task has no classes."""
    if data is None or data.task != "classification":
        return None
    return np.asarray(data.y_val[:n]).astype(int)
