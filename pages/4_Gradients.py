"""Gradients: ||dL/dh_t|| back through time with its decay rate, over training; parameter norms; W_hh radius."""

import streamlit as st

from rnnviz import analysis, figures
from rnnviz.ui import chart, live, no_probe_yet, page
from rnnviz.ui.views import layer_picker, probe_picker

state = page("Gradients", icon="📐")


def draw(state) -> None:
    if no_probe_yet(state):
        return
    run = state.run
    c1, c2 = st.columns([3, 1])
    with c1:
        step, trace = probe_picker(state, "grad_probe")
    with c2:
        layer = layer_picker(state, "grad_layer")
    curves = [(s, t.grad_norms[layer].mean(0)) for s, t in run.probes if s <= step]
    decay = analysis.decay_rate(trace.grad_norms[layer])
    st.metric("Gradient kept per step back in time", f"{decay.factor_per_step:.3f}×", help=(
        f"Fitted to log10 ||dL/dh_t|| at step {step}: below 1 the gradient vanishes going back in time, above 1 "
        f"it explodes. Here, over {len(decay.fitted)} steps: {decay.verdict}."))
    chart(figures.grad_norms_over_time(curves[-12:], decay), figures.CAPTIONS["grad_norms_over_time"])
    steps, matrix = analysis.grad_heatmap(run.probes, layer)
    chart(figures.grad_heatmap(steps, matrix), figures.CAPTIONS["grad_heatmap"])
    chart(figures.param_grad_norms(run.history), figures.CAPTIONS["param_grad_norms"])
    chart(figures.spectral_radius(analysis.radius_history(run.probes)), figures.CAPTIONS["spectral_radius"])
    chart(figures.saliency(trace.input_saliency), figures.CAPTIONS["saliency"])


live(draw, state)
