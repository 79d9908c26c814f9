"""Hidden states: PCA trajectories of the probe samples (axes fitted once per run) and a unit x time heatmap."""

import streamlit as st

from rnnviz import analysis, figures
from rnnviz.ui import chart, live, no_probe_yet, page
from rnnviz.ui.views import layer_picker, probe_picker, view_widget

state = page("Hidden states", icon="🌀")


def draw(state) -> None:
    if no_probe_yet(state):
        return
    run = state.run
    c1, c2, c3 = st.columns([2, 1, 1])
    with c1:
        step, trace = probe_picker(state, "hs_probe")
    with c2:
        layer = layer_picker(state, "hs_layer")
        dims = view_widget(state, "pca_dims", 2, st.radio, "View", [2, 3], format_func=lambda d: f"{d}-D",
                           horizontal=True)
    B = trace.hidden.shape[1]
    with c3:
        state.view["samples"] = [i for i in state.view.get("samples", range(min(4, B))) if i < B]
        samples = view_widget(state, "samples", None, st.multiselect, "Samples", list(range(B)))
        labels = analysis.class_labels(run.data, B)
        options = ["time", "class"] if labels is not None else ["time"]
        if state.view.get("color") not in options:
            state.view["color"] = "time"
        color = view_widget(state, "color", "time", st.radio, "Colour by", options, horizontal=True)
    if not samples:
        st.info("Choose at least one sample.")
        return
    pca = analysis.fit_pca(run.probes, layer)
    points = analysis.project(pca, trace.hidden[layer])
    ranges = analysis.pca_ranges(pca, run.probes, layer)
    colours = "time" if color == "time" else labels[samples]
    chart(figures.pca_trajectories(points[samples], dims=dims, color=colours, explained=pca.explained,
                                   ranges=ranges), figures.CAPTIONS["pca_trajectories"])
    sample = samples[0]
    chart(figures.state_heatmap(trace.hidden[layer, sample], f"h_t of sample {sample}, layer {layer + 1}, "
                                f"step {step}"), figures.CAPTIONS["state_heatmap"])
    if trace.cell is not None:
        chart(figures.state_heatmap(trace.cell[layer, sample], f"LSTM cell state c_t of sample {sample}"),
              "The LSTM's cell state: the memory that the forget gate carries across time; long flat bands "
              "are values being remembered.")


live(draw, state)
