"""Plotly figure builders, one per view: data (numpy / pandas) in, go.Figure out.

Every figure is downsampled to at most MAX_POINTS plotted values (heatmap cells count
one each), so a live page never ships megabytes to the browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from rnnviz.engine.cellspec import GATE_KIND, KIND_RANGE, gate_label
from rnnviz.views.analysis import Decay, Saturation, decay_rate, downsample, downsample_index, param_grad_columns
from rnnviz.views.palette import EXPORT_TEMPLATE, HOST_TEMPLATES, PALETTE, cell_color

MAX_POINTS = 50_000  # x, y and z values per figure, summed over traces
LINE_POINTS = 4_000  # a curve never needs more than this on a screen

CAPTIONS = {
    "loss_curves": "Training and validation loss against step; the dashed line is what a model that learned "
    "nothing scores, so a curve that never leaves it has learned nothing.",
    "predictions": "Each dot is a validation sample, its prediction against its target; a model that has "
    "learned puts the dots on the diagonal, one that has not predicts a flat line near the mean.",
    "confusion": "Rows are the true classes and columns the predicted ones; a model that has learned "
    "fills the diagonal, one at chance spreads counts evenly across a row.",
    "pca_trajectories": "Each line is one sequence's hidden state moving through time, projected on the "
    "top principal axes fitted over the whole run; look for trajectories that separate by class or settle "
    "into loops and fixed points as training goes on.",
    "state_heatmap": "Every hidden unit (row) at every time step (column), blue negative and red positive; "
    "look for units that switch at a marker and then hold their value, which is memory.",
    "gate_heatmaps": "Each gate's activation per unit and time step; a forget or update gate near 1 keeps "
    "the past, near 0 wipes it, and stripes that hold across time are units carrying memory.",
    "gate_histograms": "How each gate's activations are distributed over all units, steps and samples; "
    "mass piled at 0 or 1 means saturated gates that act as switches.",
    "saturation_scatter": "Each dot is a unit: how often it is left-saturated (x) against right-saturated (y); "
    "units near the axes or the x + y = 1 edge act as switches, units near the origin stay in between.",
    "saturation_over_training": "The unit-average saturation of every gate at each probe; watch gates "
    "move from undecided to switch-like as the model learns.",
    "grad_norms_over_time": "How much the loss at the last step depends on the hidden state at each earlier "
    "step (log scale, latest probe bold); a straight falling line to the left is vanishing gradient, with "
    "the fitted share kept per step back in the legend.",
    "grad_heatmap": "The same gradient norms for every probe (rows, training step) and time step (columns) "
    "in log10 colour; a dark left side means early inputs cannot influence learning.",
    "param_grad_norms": "Gradient norm of every parameter tensor over training (log scale), with ticks where "
    "clipping fired; spikes that hit the clip threshold are exploding gradients being tamed.",
    "spectral_radius": "Largest |eigenvalue| of each recurrent weight block over training; below the dashed "
    "line at 1 repeated multiplication shrinks signals (vanishing), above it they can grow (exploding).",
    "saliency": "How strongly the loss depends on each input x_t (log colour), per probe sample; a model that "
    "solved a long-range task lights up at the time steps that matter, however early.",
    "compare_losses": "Validation loss of each cell on the same data and seed (training loss faint); the cell "
    "whose curve leaves the dashed baseline first and lowest learned the task best.",
    "compare_grad_curves": "Each cell's ||dL/dh_t|| back through time at its latest probe (log scale), with the "
    "share kept per step back in the legend; the flatter the line, the further back the cell can learn from.",
    "runs_losses": "Validation loss of each chosen run against step (training loss faint), each run in its colour; "
    "a fork is drawn from the step it branched off (marked). Runs on different data or sequence lengths are not "
    "on the same scale.",
    "family_losses": "This run beside the run it was forked from and the runs forked from it: each from the step "
    "it trained itself (a fork from its branch point, marked), validation solid and training faint.",
    "runs_grad_curves": "Each chosen run's ||dL/dh_t|| back through time at its latest probe (log scale), with the "
    "share kept per step back in the legend; the flatter the line, the further back that run can learn from.",
}


# ---------------------------------------------------------------- helpers

# A figure names no template, so it takes plotly's default without a deep copy and re-validation (naming one cost
# about 50 ms a figure, 0.3 s a page redraw). Under Streamlit the default is Streamlit's own theme, which the browser
# draws light or dark as the viewer's theme is; elsewhere (a notebook, the CLI, an HTML download) it is
# EXPORT_TEMPLATE.


def _style(fig: go.Figure, title: str, x: str, y: str, height: int = 380) -> go.Figure:
    if pio.templates.default not in (EXPORT_TEMPLATE, *HOST_TEMPLATES):  # plotly's own default, first figure
        pio.templates.default = EXPORT_TEMPLATE
        fig.update_layout(template=EXPORT_TEMPLATE)
    titled = fig._grid_ref is not None and len(fig.layout.annotations) > 0  # subplot titles under the title
    fig.update_layout(
        title=dict(text=title, x=0.01, font_size=15), height=height,
        margin=dict(l=10, r=10, t=70 if titled else 40, b=10), xaxis_title=x, yaxis_title=y, uirevision="keep",
    )
    return fig


def _floats(values) -> np.ndarray:
    """float64 array with non-finite values as NaN (plotly draws gaps)."""
    a = np.asarray(pd.to_numeric(pd.Series(np.ravel(values)), errors="coerce"), dtype=np.float64)
    a = a.reshape(np.shape(values))
    return np.where(np.isfinite(a), a, np.nan)


def _positive(values) -> np.ndarray:
    """For log axes: zeros and non-finite values become gaps."""
    a = _floats(values)
    return np.where(a > 0, a, np.nan)


def _grid(n_rows: int, n_cols: int, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices whose cells plus axis labels, (rows + 1)(cols + 1) - 1, fit `max_points`."""
    if (n_rows + 1) * (n_cols + 1) - 1 <= max_points:
        return np.arange(n_rows), np.arange(n_cols)
    small = min(n_rows, n_cols, math.isqrt(max_points + 1) - 1)
    large = (max_points + 1) // (small + 1) - 1
    if n_rows <= n_cols:
        return downsample_index(n_rows, small), downsample_index(n_cols, large)
    return downsample_index(n_rows, large), downsample_index(n_cols, small)


def _hline(fig: go.Figure, x0: float, x1: float, level: float, name: str, color: str, dash: str = "dash"):
    fig.add_scatter(x=[x0, x1], y=[level, level], mode="lines", name=name, line=dict(color=color, dash=dash))


def _loss_level(metrics: dict | None) -> float | None:
    metrics = metrics or {}
    level = metrics.get("mse", metrics.get("loss"))
    return None if level is None else float(level)


# ---------------------------------------------------------------- Train page


def loss_curves(history: pd.DataFrame, baseline: dict, log_y: bool = False):
    """Training and validation loss against step, the learned-nothing baseline dashed, divergence marked."""
    fig = go.Figure()
    h = downsample(history, LINE_POINTS)
    fig.add_scatter(x=h["step"].to_numpy(), y=_floats(h["loss"]), mode="lines", name="training loss",
                    line=dict(width=1, color=PALETTE[0]))
    val = downsample(history[np.isfinite(_floats(history["val_loss"]))], LINE_POINTS)
    fig.add_scatter(x=val["step"].to_numpy(), y=_floats(val["val_loss"]), mode="lines+markers",
                    name="validation loss", line=dict(width=2, color=PALETTE[1]), marker_size=4)
    x0, x1 = (history["step"].min(), history["step"].max()) if len(history) else (0, 1)
    if (level := _loss_level(baseline)) is not None:
        _hline(fig, x0, x1, level, "baseline (learned nothing)", "grey")
    for step in history.loc[history["diverged"].astype(bool), "step"] if len(history) else []:
        fig.add_vline(x=step, line_color="red", annotation_text="diverged")
    fig.update_yaxes(type="log" if log_y else "linear")
    return _style(fig, "Loss", "training step", "loss")


def predictions(outputs: np.ndarray, targets: np.ndarray):
    """Regression: prediction against target for each validation value, with the y = x line."""
    pred, true = _floats(outputs).ravel(), _floats(targets).ravel()
    keep = downsample_index(len(true), MAX_POINTS // 2 - 2)
    pred, true = pred[keep], true[keep]
    fig = go.Figure()
    fig.add_scatter(x=true, y=pred, mode="markers", name="validation samples", marker=dict(size=5, opacity=0.6))
    finite = np.concatenate([true, pred])[np.isfinite(np.concatenate([true, pred]))]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect prediction",
                    line=dict(color="grey", dash="dash"))
    return _style(fig, "Predictions vs targets", "target", "prediction")


def confusion(matrix: np.ndarray, labels: list[str] | None = None):
    """Counts of true class (rows) against predicted class (columns)."""
    matrix = np.asarray(matrix)
    labels = [str(x) for x in (labels if labels is not None else range(len(matrix)))]
    idx = downsample_index(len(matrix), math.isqrt(MAX_POINTS + 1) - 1)
    z, names = matrix[np.ix_(idx, idx)], [labels[i] for i in idx]
    fig = go.Figure(go.Heatmap(
        z=z, x=names, y=names, colorscale="Blues", colorbar_title="count",
        texttemplate="%{z}" if len(idx) <= 30 else None,
        hovertemplate="true %{y}<br>predicted %{x}<br>%{z} samples<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return _style(fig, "Confusion matrix", "predicted class", "true class")


# ---------------------------------------------------------------- Hidden states page


def _trajectory_styles(B: int, color, class_names, t_idx: np.ndarray, dims: int) -> list[dict]:
    """Per-sample trace styles: grey paths with time-coloured markers, or one colour per class."""
    if isinstance(color, str):
        marker = dict(color=t_idx, coloraxis="coloraxis", size=3 if dims == 3 else 5)
        line = dict(color="rgba(110,110,110,0.45)", width=1)
        return [dict(marker=marker, line=line, name="trajectory", legendgroup="trajectory", showlegend=b == 0)
                for b in range(B)]
    labels = np.asarray(color).tolist()
    classes, styles = list(dict.fromkeys(labels)), []
    for b, label in enumerate(labels):
        name = f"class {class_names[int(label)] if class_names is not None else label}"
        c = PALETTE[classes.index(label) % len(PALETTE)]
        styles.append(dict(marker=dict(color=c, size=3), line=dict(color=c, width=2), name=name,
                           legendgroup=name, showlegend=label not in labels[:b]))
    return styles


def _pca_axes(fig: go.Figure, titles: list[str], ranges, dims: int) -> None:
    r = np.asarray(ranges, dtype=np.float64) if ranges is not None else [None] * dims
    if dims == 3:
        axes = {f"{a}axis": dict(title=t, range=rg) for a, t, rg in zip("xyz", titles, r, strict=False)}
        fig.update_layout(scene=axes, scene_aspectmode="cube")
    else:
        fig.update_xaxes(range=r[0])
        fig.update_yaxes(range=r[1])


def pca_trajectories(points: np.ndarray, dims: int = 2, color="time", explained: np.ndarray | None = None,
                     ranges: np.ndarray | None = None, class_names: list[str] | None = None):
    """Hidden-state paths (B, T, k) on the first `dims` principal axes; markers coloured by time or class.

    `color` is "time" or a (B,) array of class labels; `ranges` (k, 2) pins the axes across probes.
    """
    points = np.asarray(points, dtype=np.float64)
    B, T, _ = points.shape
    t_idx = downsample_index(T, max(2, MAX_POINTS // (B * dims) - 2))
    p = points[:, t_idx, :dims]  # (B, t, dims)
    titles = [f"PC{i + 1}" + (f" ({explained[i]:.0%})" if explained is not None else "") for i in range(dims)]
    scatter = go.Scatter3d if dims == 3 else go.Scatter
    xyz = lambda a: dict(zip("xyz", np.moveaxis(a, -1, 0), strict=False))  # (..., dims) -> x=, y=, z=
    fig = go.Figure()
    for b, style in enumerate(_trajectory_styles(B, color, class_names, t_idx, dims)):
        fig.add_trace(scatter(mode="lines+markers", **xyz(p[b]), **style, text=t_idx,
                              hovertemplate=f"sample {b}, t = %{{text}}<extra></extra>"))
    fig.add_trace(scatter(mode="markers", name="start (t = 0)", **xyz(p[:, 0]),
                          marker=dict(symbol="circle-open", size=8, color="black")))
    fig.add_trace(scatter(mode="markers", name=f"end (t = {T - 1})", **xyz(p[:, -1]),
                          marker=dict(symbol="diamond" if dims == 3 else "x", size=7, color="black")))
    fig.update_layout(coloraxis=dict(colorscale="Viridis", cmin=0, cmax=T - 1, colorbar_title="time step"))
    _style(fig, "Hidden-state trajectories (PCA)", titles[0], titles[1], height=480)
    # legend above the plot, so it never sits on the time colour bar
    fig.update_layout(legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
                      margin_t=60)
    _pca_axes(fig, titles, ranges, dims)
    return fig


def state_heatmap(values: np.ndarray, title: str = "Hidden state h_t"):
    """Units (rows) by time steps (columns) of one sample's (T, H) states, diverging colours centred at 0."""
    values = _floats(values)
    t_idx, u_idx = _grid(*values.shape, MAX_POINTS)
    z = values[np.ix_(t_idx, u_idx)].T  # (units, time)
    m = np.nanmax(np.abs(z)) if np.isfinite(z).any() else 1.0
    m = m if m > 0 else 1.0
    fig = go.Figure(go.Heatmap(z=z, x=t_idx, y=u_idx, colorscale="RdBu_r", zmid=0, zmin=-m, zmax=m,
                               colorbar_title="value", hovertemplate="t %{x}, unit %{y}: %{z:.3f}<extra></extra>"))
    return _style(fig, title, "time step t", "unit")


# ---------------------------------------------------------------- Gates page


def _gate_coloraxes(gates: dict) -> tuple[dict[str, str], dict[str, str]]:
    """(gate name -> coloraxis id, kind -> coloraxis id): one colour bar per kind (sigmoid, tanh, unbounded)."""
    kinds = list(dict.fromkeys(GATE_KIND.get(name, "linear") for name in gates))
    ids = {kind: "coloraxis" + (str(i + 1) if i else "") for i, kind in enumerate(kinds)}
    return {name: ids[GATE_KIND.get(name, "linear")] for name in gates}, ids


def gate_heatmaps(gates: dict[str, np.ndarray]):
    """One units x time heatmap per gate (each (T, H)): sigmoid gates on [0, 1], tanh gates on [-1, 1]."""
    names = list(gates)
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, subplot_titles=[gate_label(n) for n in names],
                        vertical_spacing=0.08)
    axis_of, ids = _gate_coloraxes(gates)
    for row, name in enumerate(names, start=1):
        values = _floats(gates[name])
        t_idx, u_idx = _grid(*values.shape, MAX_POINTS // len(names))
        hover = f"{name}<br>t %{{x}}, unit %{{y}}: %{{z:.3f}}<extra></extra>"
        fig.add_trace(go.Heatmap(z=values[np.ix_(t_idx, u_idx)].T, x=t_idx, y=u_idx, coloraxis=axis_of[name],
                                 name=name, hovertemplate=hover), row=row, col=1)
        fig.update_yaxes(title_text="unit", row=row, col=1)
    for i, (kind, axis) in enumerate(ids.items()):
        if kind in KIND_RANGE:  # bounded gates keep a fixed scale, so colours mean the same at every probe
            lo, hi = KIND_RANGE[kind]
            scale = dict(cmin=lo, cmax=hi, colorscale="Viridis" if lo == 0 else "RdBu_r")
        else:
            m = max(float(np.nanmax(np.abs(_floats(gates[n])), initial=0)) for n in names if axis_of[n] == axis)
            scale = dict(cmin=-m or -1, cmax=m or 1, colorscale="RdBu_r")
        fig.update_layout({axis: dict(**scale, colorbar=dict(title=kind, x=1.0 + 0.1 * i, len=0.8))})
    _style(fig, "Gate activations", "", "unit", height=170 * len(names) + 70)
    fig.update_xaxes(title_text="time step t", row=len(names), col=1)
    return fig


def gate_histograms(gates: dict[str, np.ndarray], bins: int = 50):
    """Overlaid distributions of every gate, on shared bins, histogrammed here so the payload stays small."""
    flat = {}
    for name, v in gates.items():
        v = np.asarray(v, dtype=np.float64).ravel()
        v = v[downsample_index(v.size, 2_000_000)]
        flat[name] = v[np.isfinite(v)]
    every = np.concatenate(list(flat.values())) if flat else np.zeros(0)
    lo, hi = (every.min(), every.max()) if every.size else (0.0, 1.0)
    lo, hi = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
    edges = np.linspace(lo, hi, bins + 1)
    fig = go.Figure()
    for i, (name, v) in enumerate(flat.items()):
        counts, _ = np.histogram(v, edges)
        fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=counts / max(v.size, 1), width=edges[1] - edges[0],
                    name=name, opacity=0.55, marker_color=PALETTE[i % len(PALETTE)])
    fig.update_layout(barmode="overlay", bargap=0)
    return _style(fig, "Gate distributions", "activation", "fraction of entries")


def saturation_scatter(sat: Saturation, gate_name: str):
    """Karpathy's saturation plot: per unit, fraction of time left-saturated (x) vs right-saturated (y).

    The thresholds are analysis.gate_saturation's, read off the Saturation's labels.
    """
    low, high = _floats(sat.low), _floats(sat.high)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[1, 0], mode="lines", name="x + y = 1 (always saturated)",
                    line=dict(color="grey", dash="dash"))
    fig.add_scatter(x=low, y=high, mode="markers", name="units", text=np.arange(len(low)),
                    marker=dict(size=8, opacity=0.7, color=PALETTE[0]),
                    hovertemplate="unit %{text}<br>low %{x:.2f}, high %{y:.2f}<extra></extra>")
    fig.update_xaxes(range=[-0.03, 1.03], constrain="domain")
    fig.update_yaxes(range=[-0.03, 1.03], scaleanchor="x", scaleratio=1)
    return _style(fig, f"{gate_label(gate_name)}: saturation per unit", f"fraction of time {sat.low_label}",
                  f"fraction of time {sat.high_label}", height=420)


def saturation_over_training(df: pd.DataFrame):
    """Unit-mean low (solid) and high (dashed) saturation per gate against training step."""
    fig = go.Figure()
    for i, (gate, g) in enumerate(df.groupby("gate", sort=False)):
        g = downsample(g.sort_values("step"), LINE_POINTS)
        c = PALETTE[i % len(PALETTE)]
        low = g["low_label"].iloc[0] if "low_label" in g else f"{gate} low"
        high = g["high_label"].iloc[0] if "high_label" in g else f"{gate} high"
        fig.add_scatter(x=g["step"].to_numpy(), y=_floats(g["mean_low"]), mode="lines+markers", name=low,
                        line=dict(color=c), legendgroup=gate)
        fig.add_scatter(x=g["step"].to_numpy(), y=_floats(g["mean_high"]), mode="lines+markers", name=high,
                        line=dict(color=c, dash="dash"), legendgroup=gate)
    fig.update_yaxes(range=[0, 1])
    return _style(fig, "Saturation over training", "training step", "mean fraction of time")


# ---------------------------------------------------------------- Gradients page


def grad_norms_over_time(curves: list[tuple[int, np.ndarray]], decay: Decay | None = None, max_curves: int = 20):
    """||dL/dh_t|| against t on a log axis, one curve per probe (latest bold), with the fitted decay."""
    curves = [curves[i] for i in downsample_index(len(curves), max_curves)]
    per_curve = MAX_POINTS // (2 * (len(curves) + 1))
    fig = go.Figure()
    for i, (step, norms) in enumerate(curves):
        t = downsample_index(len(norms), per_curve)
        latest = i == len(curves) - 1
        opacity = 1.0 if latest else 0.15 + 0.45 * i / max(len(curves) - 1, 1)
        fig.add_scatter(x=t, y=_positive(np.asarray(norms)[t]), mode="lines", opacity=opacity,
                        name=f"step {step} (latest)" if latest else "earlier probes",
                        legendgroup="latest" if latest else "earlier", showlegend=latest or i == 0,
                        line=dict(color=PALETTE[0] if latest else "grey", width=3 if latest else 1),
                        hovertemplate=f"step {step}<br>t %{{x}}: %{{y:.3g}}<extra></extra>")
    if decay is not None and decay.ok:
        t = downsample_index(len(decay.fitted), per_curve)
        fig.add_scatter(x=t, y=decay.fitted[t], mode="lines", name=f"fit: {decay.label}",
                        line=dict(color=PALETTE[1], dash="dash", width=2))
    fig.update_yaxes(type="log", exponentformat="power")
    return _style(fig, "Gradient norm through time", "time step t (gradients flow from the last step back)",
                  "‖∂L/∂h_t‖")


def grad_heatmap(steps: np.ndarray, matrix: np.ndarray):
    """Batch-mean ||dL/dh_t|| per probe (rows: training step) and time step (columns), log10 colour."""
    matrix = _positive(matrix)
    s_idx, t_idx = _grid(*matrix.shape, MAX_POINTS)
    z = np.log10(matrix[np.ix_(s_idx, t_idx)])
    fig = go.Figure(go.Heatmap(z=z, x=t_idx, y=np.asarray(steps)[s_idx], colorscale="Viridis",
                               colorbar_title="log10 ‖∂L/∂h_t‖",
                               hovertemplate="step %{y}, t %{x}: 10^%{z:.2f}<extra></extra>"))
    return _style(fig, "Gradient norm: training step × time step", "time step t", "training step")


def param_grad_norms(history: pd.DataFrame, clip: float | None = None):
    """Per-parameter gradient norms over training (log y), the total, and ticks where clipping fired."""
    cols = param_grad_columns(history)
    marks = MAX_POINTS // 10  # clipping ticks get a tenth of the budget, the curves share the rest
    h = downsample(history, min(LINE_POINTS, (MAX_POINTS - 2 * marks - 4) // (2 * (len(cols) + 1))))
    fig = go.Figure()
    for i, col in enumerate(cols):
        fig.add_scatter(x=h["step"].to_numpy(), y=_positive(h[col]), mode="lines", line=dict(width=1),
                        name=col.removeprefix("grad/").removeprefix("rnn."), marker_color=PALETTE[i % len(PALETTE)])
    fig.add_scatter(x=h["step"].to_numpy(), y=_positive(h["grad_norm"]), mode="lines", name="total",
                    line=dict(width=2, color="black"))
    clipped = downsample(history[history["clipped"].astype(bool)], marks // 2)
    fig.add_scatter(x=clipped["step"].to_numpy(), y=_positive(clipped["grad_norm"]), mode="markers",
                    name=f"clipped ({int(history['clipped'].astype(bool).sum())} steps)",
                    marker=dict(symbol="line-ns-open", size=10, color="red"))
    if clip is not None and len(history):
        _hline(fig, history["step"].min(), history["step"].max(), clip, "clip threshold", "red", dash="dot")
    fig.update_yaxes(type="log", exponentformat="power")
    return _style(fig, "Parameter gradient norms", "training step", "gradient norm")


def spectral_radius(df: pd.DataFrame):
    """Spectral radius of each W_hh gate block against training step, with the critical line at 1."""
    fig = go.Figure()
    layers = df["layer"].nunique() if len(df) else 1
    for i, ((layer, gate), g) in enumerate(df.groupby(["layer", "gate"], sort=False)):
        g = downsample(g.sort_values("step"), LINE_POINTS)
        fig.add_scatter(x=g["step"].to_numpy(), y=_floats(g["radius"]), mode="lines+markers",
                        name=gate if layers == 1 else f"layer {layer} {gate}",
                        line=dict(color=PALETTE[i % len(PALETTE)]))
    x0, x1 = (df["step"].min(), df["step"].max()) if len(df) else (0, 1)
    _hline(fig, x0, x1, 1.0, "radius 1: vanish below, explode above", "grey")
    return _style(fig, "Spectral radius of W_hh", "training step", "max |eigenvalue|")


def saliency(values: np.ndarray):
    """||dL/dx_t|| per probe sample (rows) and time step (columns), log10 colour."""
    values = _positive(np.asarray(values).reshape(-1, np.shape(values)[-1]))
    b_idx, t_idx = _grid(*values.shape, MAX_POINTS)
    fig = go.Figure(go.Heatmap(z=np.log10(values[np.ix_(b_idx, t_idx)]), x=t_idx, y=b_idx, colorscale="Viridis",
                               colorbar_title="log10 ‖∂L/∂x_t‖",
                               hovertemplate="sample %{y}, t %{x}: 10^%{z:.2f}<extra></extra>"))
    return _style(fig, "Input saliency ‖∂L/∂x_t‖", "time step t", "probe sample")


CAPTIONS.update({
    "connectivity_map": "Connectivity: how strongly each input x_s (columns) reaches the prediction at step t (rows), "
    "‖∂ŷ_t/∂x_s‖ on a log colour scale; nothing above the diagonal, as no output reads the future. The line below "
    "is the row at the time cursor's step (the last step without one): a short bright band is a short memory.",
    "connectivity_rows": "Each cell's ‖∂ŷ_t/∂x_s‖ for the same probe sample at the same output step t (log scale), "
    "against s: how far back each one's prediction reaches (Distill's GRU against LSTM); dotted: the inputs the "
    "task marks as the ones that matter.",
    "search_match": "The chosen units over the matched sample, the match outlined: every unit of the set is on "
    "(at or above the threshold) at every outlined step.",
})


def connectivity_map(matrix: np.ndarray, steps: np.ndarray, t: int):
    """The (output step × input step) connectivity heatmap over the row at output step t."""
    fig = make_subplots(rows=2, cols=1, row_heights=[0.7, 0.3], vertical_spacing=0.08, shared_xaxes=True)
    values = np.where(matrix > 0, matrix, np.nan)
    r_idx, s_idx = _grid(*values.shape, MAX_POINTS // 2)
    fig.add_trace(go.Heatmap(z=np.log10(values[np.ix_(r_idx, s_idx)]), x=s_idx, y=np.asarray(steps)[r_idx],
                             colorscale="Viridis", colorbar=dict(title="log10", len=0.7, y=0.65),
                             hovertemplate="output t %{y}, input s %{x}: 10^%{z:.2f}<extra></extra>"), row=1, col=1)
    row = matrix[int(np.abs(np.asarray(steps) - t).argmin())]
    s = downsample_index(len(row), LINE_POINTS)
    fig.add_scatter(x=s, y=_positive(row[s]), mode="lines", name=f"t = {t}", line=dict(color="#3969AC"),
                    row=2, col=1)
    fig.update_yaxes(title_text="output step t", row=1, col=1)
    fig.update_yaxes(type="log", title_text="‖∂ŷ_t/∂x_s‖", row=2, col=1)
    fig.update_xaxes(title_text="input step s", row=2, col=1)
    return _style(fig, f"Connectivity ‖∂ŷ_t/∂x_s‖ (row: t = {t})", "input step s", "output step t")


def connectivity_rows(rows: dict[str, np.ndarray], t: int, colors: dict[str, str] | None = None,
                      marks: Sequence[int] = ()):
    """One ‖∂ŷ_t/∂x_s‖ line per cell (or run) against s, for one output step t; the inputs the task marks (the
    adding problem's two numbers) dotted."""
    fig = go.Figure()
    for s_mark in marks:
        fig.add_vline(x=int(s_mark), line=dict(color="#888", dash="dot", width=1))
    for name, row in rows.items():
        s = downsample_index(len(row), LINE_POINTS)
        fig.add_scatter(x=s, y=_positive(np.asarray(row)[s]), mode="lines", name=name,
                        line=dict(color=colors[name] if colors else cell_color(name), width=2))
    fig.update_yaxes(type="log", exponentformat="power")
    return _style(fig, f"Connectivity at output step t = {t} by cell", "input step s", "‖∂ŷ_t/∂x_s‖")


def search_match(values: np.ndarray, units: np.ndarray, start: int, end: int, title: str):
    """The chosen units (rows) over one sample's steps (columns), the match outlined."""
    fig = state_heatmap(values[:, units], title)
    fig.data[0].y = [f"unit {units[i]}" for i in np.asarray(fig.data[0].y, dtype=int)]  # the units' own numbers
    fig.update_yaxes(type="category")
    return heatmap_cursor(fig, start, end)


# ---------------------------------------------------------------- Compare page


def compare_losses(histories: dict[str, pd.DataFrame], baseline: dict | None, log_y: bool = False,
                   colors: dict[str, str] | None = None):
    """Validation (solid) and training (faint) loss of each cell (or named run, coloured by `colors`) against
    step, with the shared baseline."""
    fig = go.Figure()
    per_line = min(LINE_POINTS, (MAX_POINTS - 4) // (4 * max(len(histories), 1)))
    for cell, history in histories.items():
        c = colors[cell] if colors else cell_color(cell)
        h = downsample(history, per_line)
        fig.add_scatter(x=h["step"].to_numpy(), y=_floats(h["loss"]), mode="lines", name=f"{cell} training",
                        line=dict(color=c, width=1), opacity=0.35, legendgroup=cell)
        val = downsample(history[np.isfinite(_floats(history["val_loss"]))], per_line)
        fig.add_scatter(x=val["step"].to_numpy(), y=_floats(val["val_loss"]), mode="lines",
                        name=f"{cell} validation", line=dict(color=c, width=2.5), legendgroup=cell)
    last = max((int(h["step"].max()) for h in histories.values() if len(h)), default=1)
    if (level := _loss_level(baseline)) is not None:
        _hline(fig, 0, last, level, "baseline (learned nothing)", "grey")
    fig.update_yaxes(type="log" if log_y else "linear")
    return _style(fig, "Loss by run" if colors else "Loss by cell", "training step", "loss")


def compare_grad_curves(curves: dict[str, np.ndarray], colors: dict[str, str] | None = None):
    """Each cell's (or named run's) batch-mean ||dL/dh_t|| against t (log y), its fitted factor per step back in
    the name."""
    fig = go.Figure()
    per_curve = MAX_POINTS // (2 * max(len(curves), 1))
    for cell, norms in curves.items():
        t = downsample_index(len(norms), per_curve)
        fig.add_scatter(x=t, y=_positive(np.asarray(norms)[t]), mode="lines", name=f"{cell}: {decay_rate(norms).label}",
                        line=dict(color=colors[cell] if colors else cell_color(cell), width=2))
    fig.update_yaxes(type="log", exponentformat="power")
    title = "Gradient norm through time by run" if colors else "Gradient norm through time by cell"
    return _style(fig, title, "time step t", "‖∂L/∂h_t‖")


# ---------------------------------------------------------------- Dynamics: step Jacobians, fixed points, replay

CAPTIONS.update({
    "jacobian_spectrum": "Top: the largest singular value of the step Jacobian J_t = ∂s_t/∂s_{t−1} (dotted: its "
    "spectral radius), how much one step back can stretch the gradient, so below the line at 1 it shrinks; bottom: "
    "‖∂L/∂h_t‖ under the bound that the product J_{T−1}⋯J_{t+1} sets (dashed), which it never exceeds.",
    "fixed_points": "The trajectories with the fixed and slow points of the recurrent map for a constant input, "
    "in the same PCA axes: filled circles attract (stable), crosses attract along some directions and repel "
    "along others (saddle), open circles repel (unstable); faint markers are slow points, not exact ones.",
    "pca_replay": "Press ▶ to replay training: each frame is one stored probe on the same PCA axes, so the "
    "picture stands still while the trajectories form.",
    "grad_replay": "Press ▶ to replay training: ‖∂L/∂h_t‖ (and the largest singular value of J_t where computed) "
    "at each stored probe, on fixed axes, so you watch the gradient's reach change as the model learns.",
})
REPLAY_FRAMES = 60  # animation frames at most: probes in between are skipped
# helpers that mark or extend a figure a builder made (cursor, fixed points): no caption of their own
# captions of a builder (or overlay) drawn in a second setting: caption -> the function that draws it
SHARED_CAPTIONS = {"fixed_points": "add_fixed_points", "runs_losses": "compare_losses",
                   "family_losses": "compare_losses", "runs_grad_curves": "compare_grad_curves"}
OVERLAYS = ("add_fixed_points", "change_marks", "covering_ranges", "heatmap_cursor", "time_cursor", "time_picker_strip",
            "trajectory_cursor", "with_time_data")
CURSOR_COLOR = "rgba(255, 140, 0, 0.25)"  # the linked time cursor, the same on every view
CHANGE_COLOR = "#7b3294"  # a live change or fork of the run, marked at its step on every training-step axis
FIXED_POINT_STYLE = {  # kind -> marker: filled attracts, open repels, a cross does both
    "stable": dict(symbol="circle", color="#2ca02c"),
    "saddle": dict(symbol="x", color="#ff7f0e"),
    "unstable": dict(symbol="circle-open", color="#d62728"),
}


def jacobian_spectrum(sigma: np.ndarray, grad: np.ndarray, bound: np.ndarray | None = None,
                      radius: np.ndarray | None = None, title: str = "Step Jacobians"):
    """Two rows over t: sigma_max(J_t) (+ radius) with the line at 1; ||dL/dh_t|| (log) with its product bound.

    `bound` is ||J_{T-1}...J_{t+1}|| * ||dL/dh_{T-1}||, the largest ||dL/dh_t|| the Jacobians allow.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("largest singular value of J_t", "‖∂L/∂h_t‖"))
    t = downsample_index(len(sigma), LINE_POINTS)
    fig.add_scatter(x=t, y=_floats(np.asarray(sigma)[t]), mode="lines+markers", name="σ_max(J_t)",
                    marker_size=4, line=dict(color=PALETTE[0], width=2), row=1, col=1)
    if radius is not None:
        fig.add_scatter(x=t, y=_floats(np.asarray(radius)[t]), mode="lines", name="spectral radius of J_t",
                        line=dict(color=PALETTE[0], dash="dot", width=1), row=1, col=1)
    fig.add_scatter(x=[t[0], t[-1]], y=[1.0, 1.0], mode="lines", name="1: keeps the signal",
                    line=dict(color="grey", dash="dash"), row=1, col=1)
    fig.add_scatter(x=t, y=_positive(np.asarray(grad)[t]), mode="lines+markers", name="‖∂L/∂h_t‖",
                    marker_size=4, line=dict(color=PALETTE[1], width=2), row=2, col=1)
    if bound is not None:
        fig.add_scatter(x=t, y=_positive(np.asarray(bound)[t]), mode="lines", name="bound ‖J_{T−1}⋯J_{t+1}‖·‖∂L/∂h_T‖",
                        line=dict(color=PALETTE[2], dash="dash"), row=2, col=1)
    fig.update_yaxes(type="log", exponentformat="power", row=2, col=1)
    _style(fig, title, "", "σ_max(J_t)", height=520)
    fig.update_xaxes(title_text="time step t", row=2, col=1)
    fig.update_yaxes(title_text="‖∂L/∂h_t‖", row=2, col=1)
    return fig


def time_cursor(fig: go.Figure, t0: float, t1: float) -> go.Figure:
    """Shade time steps t0..t1 on every x axis of a figure whose x is time (the linked cursor)."""
    where = dict(row="all", col="all") if fig._grid_ref is not None else {}  # every subplot, if there are any
    # a single step gets a band one step wide, centred on it
    fig.add_vrect(x0=t0 - 0.5, x1=t1 + 0.5, fillcolor=CURSOR_COLOR, line_width=0, layer="below", **where)
    return fig


def change_marks(fig: go.Figure, marks: Sequence[tuple[int, str]], across: bool = False) -> go.Figure:
    """Each live change or fork of a run, (step, "lr 0.01 → 0.001"), as a labelled dotted line at its step on a
    figure whose x is the training step (`across`: whose y is, as the gradient heatmap's rows)."""
    where = dict(row="all", col="all") if fig._grid_ref is not None else {}
    for i, (step, text) in enumerate(marks):
        line = dict(color=CHANGE_COLOR, dash="dot", width=1.5)
        if across:
            fig.add_hline(y=step, line=line, annotation_text=text, annotation_position="right",
                          annotation_font=dict(size=10, color=CHANGE_COLOR), **where)
        else:  # labels alternate in height, so two changes a few steps apart stay readable
            fig.add_vline(x=step, line=line, annotation_text=text, annotation_position="top right",
                          annotation_yshift=-14 * (i % 3), annotation_font=dict(size=10, color=CHANGE_COLOR),
                          **where)
    return fig


def heatmap_cursor(fig: go.Figure, t0: float, t1: float) -> go.Figure:
    """Outline time steps t0..t1 on a heatmap (a shaded band would hide the colours)."""
    fig.add_vrect(x0=t0 - 0.5, x1=t1 + 0.5, line=dict(color="darkorange", width=3), fillcolor="rgba(0,0,0,0)")
    return fig


def trajectory_cursor(fig: go.Figure, points: np.ndarray, t0: int, t1: int, dims: int = 2) -> go.Figure:
    """Mark every drawn sample's states at time steps t0..t1 on a PCA trajectory figure (points (B, T, k))."""
    points = np.asarray(points, dtype=np.float64)
    sel = points[:, int(t0) : int(t1) + 1, :dims].reshape(-1, dims)  # (B * steps, dims)
    sel = sel[downsample_index(len(sel), MAX_POINTS // (4 * dims))]
    scatter = go.Scatter3d if dims == 3 else go.Scatter
    label = f"t = {t0}" if t0 == t1 else f"t = {t0}–{t1}"
    fig.add_trace(scatter(mode="markers", name=f"cursor {label}", **dict(zip("xyz", sel.T, strict=False)),
                          marker=dict(size=10 if dims == 2 else 5, color="rgba(255,140,0,0.9)",
                                      line=dict(color="black", width=1)), hoverinfo="skip"))
    return fig


def with_time_data(fig: go.Figure) -> go.Figure:
    """Give a trajectory figure's paths customdata = t (from their text), so a selection names time steps."""
    for trace in fig.data:
        if trace.text is not None and "lines" in (trace.mode or ""):
            trace.customdata = np.asarray(trace.text)
    return fig


def time_picker_strip(fig: go.Figure, T: int, y: float) -> go.Figure:
    """Invisible points at (t, y) for every t: heatmaps cannot be selected, these make a click or box name t."""
    t = downsample_index(T, LINE_POINTS)
    fig.add_scatter(x=t, y=np.full(len(t), y, dtype=float), customdata=t, mode="markers", name="pick t",
                    marker=dict(size=8, opacity=0), showlegend=False,
                    hovertemplate="t %{x}: click or box-select to mark this time on every view<extra></extra>")
    return fig


def add_fixed_points(fig: go.Figure, coords: np.ndarray, kinds: list[str], fixed: np.ndarray,
                     dims: int = 2) -> go.Figure:
    """Fixed points (K, k) on a PCA figure, one trace per kind; slow points (fixed False) faint."""
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, np.shape(coords)[-1] if np.size(coords) else dims)
    scatter = go.Scatter3d if dims == 3 else go.Scatter
    keep = downsample_index(len(coords), MAX_POINTS // (4 * dims))
    coords, kinds, fixed = coords[keep], [kinds[i] for i in keep], np.asarray(fixed, dtype=bool)[keep]
    for kind, style in FIXED_POINT_STYLE.items():
        for exact in (True, False):
            idx = [i for i, k in enumerate(kinds) if k == kind and bool(fixed[i]) == exact]
            if not idx:
                continue
            name = f"{kind} {'fixed' if exact else 'slow'} point ({len(idx)})"
            fig.add_trace(scatter(mode="markers", name=name, **dict(zip("xyz", coords[idx, :dims].T, strict=False)),
                                  marker=dict(size=(13 if dims == 2 else 6), opacity=1.0 if exact else 0.4,
                                              line=dict(width=2, color=style["color"]), **style)))
    return fig


def covering_ranges(ranges: np.ndarray, extra: np.ndarray, pad: float = 0.05) -> np.ndarray:
    """PCA axis ranges (k, 2) widened to cover `extra` points (N, k) too (fixed points can lie off the paths)."""
    ranges = np.asarray(ranges, dtype=np.float64).copy()
    extra = np.asarray(extra, dtype=np.float64).reshape(-1, ranges.shape[0])
    extra = extra[np.isfinite(extra).all(1)]
    if len(extra):
        lo, hi = np.minimum(ranges[:, 0], extra.min(0)), np.maximum(ranges[:, 1], extra.max(0))
        margin = (hi - lo) * pad
        ranges = np.stack([np.minimum(ranges[:, 0], lo - margin), np.maximum(ranges[:, 1], hi + margin)], 1)
    return ranges


def _play_controls(fig: go.Figure, labels: list[str], duration: int = 400) -> None:
    """A ▶ / ⏸ pair and a slider over the frames, as in plotly's animation examples."""
    play = dict(label="▶ replay", method="animate",
                args=[None, dict(frame=dict(duration=duration, redraw=True), fromcurrent=True, transition_duration=0)])
    pause = dict(label="⏸", method="animate", args=[[None], dict(mode="immediate", frame=dict(duration=0))])
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=True))
    steps = [dict(method="animate", label=lab, args=[[lab], jump]) for lab in labels]
    fig.update_layout(
        updatemenus=[dict(type="buttons", buttons=[play, pause], direction="left", x=0, y=-0.12, xanchor="left",
                          yanchor="top", showactive=False)],
        sliders=[dict(steps=steps, active=len(labels) - 1, x=0.15, len=0.85, y=-0.08, yanchor="top",
                      currentvalue=dict(prefix="training step "))],
        margin_b=90,
    )


def pca_replay(steps: list[int], points: list[np.ndarray], ranges: np.ndarray, explained=None, dims: int = 2):
    """Animated PCA trajectories over training: one frame per probe (points[i] (B, T, k)), axes fixed by `ranges`."""
    keep = downsample_index(len(steps), REPLAY_FRAMES)
    steps, points = [steps[i] for i in keep], [np.asarray(points[i], dtype=np.float64) for i in keep]
    B, T = points[0].shape[:2]
    per_frame = max(2, MAX_POINTS // (len(steps) + 1) // (B * dims) - 1)
    t_idx = downsample_index(T, per_frame)
    scatter = go.Scatter3d if dims == 3 else go.Scatter

    gap = np.full((B, 1, dims), np.nan)  # one trace per frame: samples' paths joined by gaps (fast to build)
    colour = np.concatenate([np.tile(t_idx, (B, 1)), np.zeros((B, 1))], axis=1).ravel()

    def traces(p):  # (B, T, k) -> the paths of every sample, markers coloured by time
        xyz = np.concatenate([p[:, t_idx, :dims], gap], axis=1).reshape(-1, dims)  # (B * (t + 1), dims)
        return [scatter(mode="lines+markers", **dict(zip("xyz", xyz.T, strict=False)), name="trajectories",
                        line=dict(color="rgba(110,110,110,0.45)", width=1), connectgaps=False,
                        marker=dict(color=colour, coloraxis="coloraxis", size=3 if dims == 3 else 5))]

    labels = [str(s) for s in steps]
    fig = go.Figure(data=traces(points[-1]), frames=[go.Frame(data=traces(p), name=lab)
                                                      for p, lab in zip(points, labels, strict=True)])
    titles = [f"PC{i + 1}" + (f" ({explained[i]:.0%})" if explained is not None else "") for i in range(dims)]
    fig.update_layout(coloraxis=dict(colorscale="Viridis", cmin=0, cmax=T - 1, colorbar_title="time step"))
    _style(fig, "Training replay: hidden-state trajectories", titles[0], titles[1], height=520)
    _pca_axes(fig, titles, ranges, dims)
    _play_controls(fig, labels)
    return fig


def grad_replay(steps: list[int], grads: list[np.ndarray], sigmas: list[np.ndarray | None] | None = None):
    """Animated ||dL/dh_t|| (log) and sigma_max(J_t) against t over training, one frame per probe, axes fixed."""
    keep = downsample_index(len(steps), REPLAY_FRAMES)
    steps, grads = [steps[i] for i in keep], [np.asarray(grads[i], dtype=np.float64) for i in keep]
    sigmas = [sigmas[i] for i in keep] if sigmas is not None else [None] * len(steps)
    T = len(grads[0])
    t = downsample_index(T, max(2, MAX_POINTS // (4 * (len(steps) + 1))))
    g_all = _positive(np.concatenate([g[t] for g in grads]))
    lo, hi = (np.nanmin(g_all), np.nanmax(g_all)) if np.isfinite(g_all).any() else (1e-10, 1.0)

    def traces(g, s):
        s = np.full(T, np.nan) if s is None else np.asarray(s, dtype=np.float64)
        return [go.Scatter(x=t, y=_positive(g[t]), mode="lines", name="‖∂L/∂h_t‖",
                           line=dict(color=PALETTE[1], width=2)),
                go.Scatter(x=t, y=_floats(s[t]), mode="lines", name="σ_max(J_t)", yaxis="y2",
                           line=dict(color=PALETTE[0], width=2))]

    labels = [str(s) for s in steps]
    frames = [go.Frame(data=traces(g, s), name=lab) for g, s, lab in zip(grads, sigmas, labels, strict=True)]
    fig = go.Figure(data=traces(grads[-1], sigmas[-1]), frames=frames)
    fig.add_scatter(x=[t[0], t[-1]], y=[1, 1], yaxis="y2", mode="lines", name="σ = 1",
                    line=dict(color="grey", dash="dash"))
    s_all = np.concatenate([np.asarray(s, dtype=np.float64) for s in sigmas if s is not None] or [np.ones(1)])
    s_hi = float(np.nanmax(np.where(np.isfinite(s_all), s_all, np.nan), initial=1.0)) if s_all.size else 1.0
    _style(fig, "Training replay: gradient through time", "time step t", "‖∂L/∂h_t‖", height=480)
    fig.update_layout(
        yaxis=dict(type="log", exponentformat="power", range=[np.log10(lo) - 0.2, np.log10(hi) + 0.2]),
        yaxis2=dict(title="σ_max(J_t)", overlaying="y", side="right", range=[0, max(1.2, 1.1 * s_hi)], showgrid=False),
        xaxis=dict(range=[-0.5, T - 0.5]),
    )
    _play_controls(fig, labels)
    return fig


# ---- word models: the next-word distribution (Text page, word mode) ----

CAPTIONS["next_word_bars"] = (
    "The model's ten likeliest next words after the prompt, with their probabilities; a model that learned "
    "nothing would rank the commonest words (the, of, ',') first whatever the prompt."
)


def next_word_bars(top: list[tuple[str, float]]):
    """Horizontal bars: the likeliest first, at the top."""
    words, probs = [w for w, _ in top][::-1], [p for _, p in top][::-1]
    fig = go.Figure(go.Bar(x=probs, y=words, orientation="h", marker_color=PALETTE[0],
                           text=[f"{p:.1%}" for p in probs], textposition="outside",
                           hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_yaxes(type="category")
    return _style(fig, "Next word", "probability", "next word", height=80 + 28 * len(top))


# ---------------------------------------------------------------- Sweep page

CAPTIONS["sweep_success"] = (
    "Share of seeds that solved the task within the step budget, against sequence length T (log axis), per "
    "cell; bars are ± one standard error over seeds. The T where a cell's curve drops is where its memory ends."
)
CAPTIONS["sweep_steps"] = (
    "Steps each solved run needed (one dot per seed, the line through the medians); a cell that needs more "
    "steps as T grows is nearing its limit, and runs missing here did not solve within the budget."
)


def sweep_success(summary: pd.DataFrame):
    """Success rate against T per cell, with the spread over seeds as error bars."""
    fig = go.Figure()
    for cell, g in summary.groupby("cell", sort=False):
        fig.add_scatter(x=g["seq_len"].to_numpy(), y=_floats(g["success"]), mode="lines+markers", name=cell,
                        error_y=dict(type="data", array=_floats(g["success_se"]), visible=True),
                        line=dict(color=cell_color(cell), width=2.5),
                        customdata=g["runs"].to_numpy(), hovertemplate="T=%{x}: %{y:.0%} of %{customdata} runs")
    fig.update_xaxes(type="log")
    fig.update_yaxes(range=[-0.05, 1.05], tickformat=".0%")
    return _style(fig, "Success rate against sequence length", "sequence length T", "runs solved")


def sweep_steps(results: pd.DataFrame):
    """Steps to solve against T: every solved run, and the median per cell and T."""
    fig = go.Figure()
    solved = results[results["solved"].astype(bool)]
    for cell, g in solved.groupby("cell", sort=False):
        c = cell_color(cell)
        steps = _floats(g["steps_to_solve"].astype(float))
        fig.add_scatter(x=g["seq_len"].to_numpy(), y=steps, mode="markers", name=f"{cell} runs",
                        marker=dict(color=c, size=7, opacity=0.5), legendgroup=cell)
        med = g.groupby("seq_len")["steps_to_solve"].median()
        fig.add_scatter(x=med.index.to_numpy(), y=_floats(med.astype(float)), mode="lines", name=f"{cell} median",
                        line=dict(color=c, width=2), legendgroup=cell)
    fig.update_xaxes(type="log")
    return _style(fig, "Steps to solve", "sequence length T", "training steps")
