"""Gates: per-gate unit x time heatmaps, distributions, saturation, and how it changes over training."""

import streamlit as st

from rnnviz.engine.cellspec import gate_label
from rnnviz.ui import chart, live, no_probe_yet, page
from rnnviz.ui.views import layer_picker, probe_picker, sample_picker, view_widget
from rnnviz.views import analysis, figures

state = page("Gates", icon="🚪")


def draw(state) -> None:
    if no_probe_yet(state):
        return
    run, cell = state.run, state.config.cell
    c1, c2, c3 = st.columns([2, 1, 1])
    with c1:
        step, trace = probe_picker(state, "gates_probe")
    with c2:
        layer = layer_picker(state, "gates_layer")
    with c3:
        sample = sample_picker(state, trace)  # shared with the other pages
    gates = analysis.gate_values(cell, trace, layer)  # name -> (B, T, H), for RNNs the state itself
    chart(figures.gate_heatmaps({k: v[sample] for k, v in gates.items()}), figures.CAPTIONS["gate_heatmaps"])
    chart(figures.gate_histograms(gates), figures.CAPTIONS["gate_histograms"])
    if state.view.get("saturation_of") not in gates:
        state.view["saturation_of"] = next(iter(gates))
    name = view_widget(state, "saturation_of", None, st.radio, "Saturation of", list(gates), format_func=gate_label,
                       horizontal=True)
    sat = analysis.gate_saturation(cell, name, gates[name])  # thresholds and axis labels decided there, once
    chart(figures.saturation_scatter(sat, name), figures.CAPTIONS["saturation_scatter"])
    chart(figures.change_marks(figures.saturation_over_training(analysis.saturation_history(run.probes, cell, layer)),
                               run.change_labels()), figures.CAPTIONS["saturation_over_training"])


live(draw, state)
