"""rnnviz.inspect(): the pages' views of your own RNN, LSTM or GRU, in a notebook or a script.

    import rnnviz
    view = rnnviz.inspect(my_lstm, x, targets=y, head=my_linear)
    view.gates().show()                        # the Gates page's heatmaps, for sample 0
    view.gradients().show()                    # ||dL/dh_t|| back through time with its fitted decay
    view.decay().factor_per_step               # the numbers behind it
    view.save_html("report.html")              # every figure in one standalone file

Every figure is the one the dashboard draws (rnnviz.views.figures); every method has a twin that gives the arrays
or the table behind it. Your module is read, never changed: rnnviz works on a copy of its weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

from rnnviz.engine.cellspec import spec
from rnnviz.engine.own import OwnModel, as_batch
from rnnviz.engine.record import Trace, replay
from rnnviz.views import analysis, dynamics, figures


def inspect(module: torch.nn.Module, inputs, targets=None, head: torch.nn.Module | None = None,
            loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> Inspection:
    """Replay `module` (a torch.nn.RNN, nn.LSTM or nn.GRU, 1–4 layers, batch_first either way) on `inputs`
    ((batch, time, features), or (time, batch, features) when the module is not batch-first; a tensor or an array)
    and record every layer's states, gates and ||dL/dh_t||.

    `head` maps the last step's state (batch, hidden) to the output (default: the state itself); `loss(out,
    targets)` is called per sample (default: mean squared error for real targets, cross-entropy for class
    indices, ½||out||² without targets). ModelError says what does not fit (a bidirectional module, inputs of
    the wrong width, ...)."""
    model = OwnModel(module, head, loss)
    x, y = as_batch(model, inputs, targets)
    return Inspection(model, x, y, replay(model, x, y))


@dataclass
class Inspection:
    """The views of one replay: figures (plotly) and the arrays behind them. `trace` holds them all: hidden,
    cell_state, gates (L, B, T, H), grad_norms (L, B, T), input_saliency (B, T), outputs, loss."""

    model: OwnModel
    x: torch.Tensor  # (B, T, F) as replayed
    y: torch.Tensor | None
    trace: Trace
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def cell(self) -> str:
        return self.model.cell

    # ---- hidden states

    def states(self, layer: int = -1) -> np.ndarray:
        """h_t of every sample (B, T, H)."""
        return self.trace.hidden[layer]

    def trajectories(self, samples=None, dims: int = 2, layer: int = -1, fixed_points: bool = False,
                     value: float = 0.0) -> go.Figure:
        """The samples' h_t on their first principal axes (the Hidden states page), with the fixed and slow points
        of the recurrent map for the constant input `value` if asked."""
        pca = analysis.fit_pca([(0, self.trace)], layer)
        points = analysis.project(pca, self.trace.hidden[layer])[self._samples(samples)]
        ranges = analysis.pca_ranges(pca, [(0, self.trace)], layer)
        found = self.fixed_point_arrays(value) if fixed_points else None
        coords = None if found is None else analysis.project(pca, found.hidden)
        view = ranges if coords is None else figures.covering_ranges(ranges, coords)
        fig = figures.pca_trajectories(points, dims=dims, explained=pca.explained, ranges=view)
        if coords is not None:
            figures.add_fixed_points(fig, coords, found.kind, found.fixed, dims)
        return fig

    def trajectory_points(self, dims: int = 3, layer: int = -1) -> np.ndarray:
        """(B, T, dims) the states on their first principal axes."""
        pca = analysis.fit_pca([(0, self.trace)], layer, k=dims)
        return analysis.project(pca, self.trace.hidden[layer])[..., :dims]

    def state_heatmap(self, sample: int = 0, layer: int = -1) -> go.Figure:
        return figures.state_heatmap(self.trace.hidden[layer, sample], f"h_t of sample {sample}")

    # ---- gates

    def gate_values(self, layer: int = -1) -> dict[str, np.ndarray]:
        """Gate name -> (B, T, H) values (for a vanilla RNN, its state)."""
        return analysis.gate_values(self.cell, self.trace, layer)

    def gates(self, sample: int = 0, layer: int = -1) -> go.Figure:
        """One units × time heatmap per gate of one sample (the Gates page)."""
        return figures.gate_heatmaps({k: v[sample] for k, v in self.gate_values(layer).items()})

    def gate_histograms(self, layer: int = -1) -> go.Figure:
        return figures.gate_histograms(self.gate_values(layer))

    def saturation(self, gate: str | None = None, layer: int = -1) -> go.Figure:
        """Per unit, the share of time each gate is left or right saturated (Karpathy's plot)."""
        name = gate or next(iter(self.gate_values(layer)))
        return figures.saturation_scatter(self.saturation_table(name, layer), name)

    def saturation_table(self, gate: str, layer: int = -1) -> analysis.Saturation:
        values = self.gate_values(layer)
        if gate not in values:
            raise KeyError(f"{gate!r}: the {spec(self.cell).label}'s gates are {', '.join(values)}")
        return analysis.gate_saturation(self.cell, gate, values[gate])

    # ---- gradients back through time

    def grad_norms(self, layer: int = -1) -> pd.DataFrame:
        """||dL/dh_t|| per sample and time step, long form (sample, t, grad_norm), L the last step's loss."""
        g = self.trace.grad_norms[layer]
        B, T = g.shape
        return pd.DataFrame({"sample": np.repeat(np.arange(B), T), "t": np.tile(np.arange(T), B),
                             "grad_norm": g.ravel()})

    def decay(self, layer: int = -1) -> analysis.Decay:
        """The fitted share of ||dL/dh_t|| kept per step back in time, with its verdict (vanishing, exploding)."""
        return analysis.decay_rate(self.trace.grad_norms[layer])

    def gradients(self, layer: int = -1) -> go.Figure:
        """The batch-mean ||dL/dh_t|| against t on a log axis with the fitted decay (the Gradients page)."""
        return figures.grad_norms_over_time([(0, self.trace.grad_norms[layer].mean(0))], self.decay(layer))

    def saliency(self) -> go.Figure:
        return figures.saliency(self.trace.input_saliency)

    # ---- dynamics: step Jacobians and fixed points

    def jacobian_arrays(self, sample: int = 0) -> dynamics.Jacobians:
        """sigma_max, spectral radius and back products of the step Jacobians J_t of one sample (top layer)."""
        key = ("jacobians", sample)
        if key not in self._cache:
            self._cache[key] = dynamics.step_jacobians(self.model, self.x[[sample]])
        return self._cache[key]

    def jacobians(self, sample: int = 0) -> go.Figure:
        """sigma_max(J_t) beside ||dL/dh_t|| and the bound the product of Jacobians sets (the Gradients page)."""
        jac, grad = self.jacobian_arrays(sample), self.trace.grad_norms[-1, sample]
        return figures.jacobian_spectrum(jac.sigma_max[0], grad, jac.product_norm[0] * grad[-1], jac.radius[0],
                                         title=f"Step Jacobians of {jac.state}, sample {sample} (top layer)")

    def fixed_point_arrays(self, value: float = 0.0,
                           search: dynamics.FixedPointSearch | None = None) -> dynamics.FixedPoints:
        """Fixed and slow points of the recurrent map for the constant input `value`, started from the states."""
        search = search or dynamics.FixedPointSearch()
        key = ("fixed", float(value), search)
        if key not in self._cache:
            self._cache[key] = dynamics.find_fixed_points(self.model, dynamics.constant_input(self.model, value),
                                                          dynamics.joint_states(self.trace), search)
        return self._cache[key]

    def fixed_points(self, value: float = 0.0, dims: int = 2) -> go.Figure:
        return self.trajectories(dims=dims, fixed_points=True, value=value)

    # ---- everything at once

    def figures(self) -> dict[str, go.Figure]:
        """Every view, by the caption key the dashboard uses."""
        out = {"pca_trajectories": self.trajectories(), "state_heatmap": self.state_heatmap(),
               "gate_heatmaps": self.gates(), "gate_histograms": self.gate_histograms(),
               "saturation_scatter": self.saturation(), "grad_norms_over_time": self.gradients(),
               "jacobian_spectrum": self.jacobians(), "saliency": self.saliency()}
        return out

    def html(self) -> str:
        """Every figure with its caption in one standalone HTML page (plotly.js inside: it opens offline)."""
        decay = self.decay()
        parts = [f"<h1>rnnviz: your {spec(self.cell).label}</h1>",
                 f"<p>{self.x.shape[0]} sequences × {self.x.shape[1]} steps, {self.model.rnn.num_layers} layer(s) of "
                 f"{self.model.rnn.hidden_size} units. Gradient kept per step back in time: "
                 f"{decay.factor_per_step:.3f}× ({decay.verdict}).</p>"]
        for i, (key, fig) in enumerate(self.figures().items()):
            parts.append(fig.to_html(include_plotlyjs=i == 0, full_html=False))
            parts.append(f"<p>{figures.CAPTIONS.get(key, '')}</p>")
        return "<!doctype html><html><head><meta charset='utf-8'><title>rnnviz report</title></head><body>" + \
            "\n".join(parts) + "</body></html>"

    def save_html(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.html())

    def _samples(self, samples) -> list[int]:
        B = self.trace.hidden.shape[1]
        chosen = list(range(min(B, 8))) if samples is None else [int(s) for s in np.atleast_1d(samples)]
        bad = [s for s in chosen if not 0 <= s < B]
        if bad:
            raise IndexError(f"samples {bad}: there are {B} (0 to {B - 1})")
        return chosen

