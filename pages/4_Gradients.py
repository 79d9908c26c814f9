"""Gradients: ||dL/dh_t|| back through time with its decay rate, over training; parameter norms; W_hh radius."""

import streamlit as st

from rnnviz.ui import chart, live, no_probe_yet, page
from rnnviz.ui.views import cursor_bar, layer_picker, probe_picker, sample_picker, selectable_chart, time_cursor
from rnnviz.views import analysis, connectivity, dynamics, figures

state = page("Gradients", icon="📐")
SELECTABLE = {"grad_curve_sel": True, "grad_jac_sel": True}  # chart key -> is its x axis time?


def draw(state) -> None:
    if no_probe_yet(state):
        return
    run = state.run
    c1, c2 = st.columns([3, 1])
    with c1:
        step, trace = probe_picker(state, "grad_probe")
    with c2:
        layer = layer_picker(state, "grad_layer")
    # ---- linked time cursor (dynamics): a selection on a gradient curve marks the same t on every view
    T = trace.hidden.shape[2]
    cursor = time_cursor(state, SELECTABLE, T)
    cursor_bar(state, cursor, "grad_cursor_clear")
    curves = [(s, t.grad_norms[layer].mean(0)) for s, t in run.probes if s <= step]
    decay = analysis.decay_rate(trace.grad_norms[layer])
    st.metric("Gradient kept per step back in time", f"{decay.factor_per_step:.3f}×", help=(
        f"Fitted to log10 ||dL/dh_t|| at step {step}: below 1 the gradient vanishes going back in time, above 1 "
        f"it explodes. Here, over {len(decay.fitted)} steps: {decay.verdict}."))
    selectable_chart(with_cursor(figures.grad_norms_over_time(curves[-12:], decay), cursor),
                     figures.CAPTIONS["grad_norms_over_time"], "grad_curve_sel")
    # ---- step Jacobians (dynamics): why the curve above falls or grows
    jacobian_block(state, run, step, trace, cursor)
    steps, matrix = analysis.grad_heatmap(run.probes, layer)
    marks = run.change_labels()
    chart(figures.change_marks(with_cursor(figures.grad_heatmap(steps, matrix), cursor, heatmap=True), marks,
                               across=True), figures.CAPTIONS["grad_heatmap"])
    chart(figures.change_marks(figures.param_grad_norms(run.history), marks), figures.CAPTIONS["param_grad_norms"])
    chart(figures.change_marks(figures.spectral_radius(analysis.radius_history(run.probes)), marks),
          figures.CAPTIONS["spectral_radius"])
    chart(with_cursor(figures.saliency(trace.input_saliency), cursor, heatmap=True), figures.CAPTIONS["saliency"])
    connectivity_block(state, run, step, trace, cursor)
    # ---- training replay (dynamics)
    if st.toggle("Replay training", key="grad_replay", help="Animate the stored probes from step 0 to the latest.",
                 disabled=state.playing):
        replay_block(state, run)


def with_cursor(fig, cursor, heatmap: bool = False):
    if cursor is None:
        return fig
    return figures.heatmap_cursor(fig, *cursor) if heatmap else figures.time_cursor(fig, *cursor)


def jacobian_block(state, run, step: int, trace, cursor) -> None:
    """sigma_max(J_t) along t beside ||dL/dh_t|| of the chosen sample (top layer), computed on demand."""
    sample = sample_picker(state, trace)
    if state.playing:  # seconds of LAPACK per new probe: while training, that time belongs to training
        st.caption("Step Jacobians σ_max(J_t) are computed when training is paused (⏸).")
        return
    with st.spinner("Computing step Jacobians…"):
        jac = dynamics.run_jacobians(run, step, (sample,))
    if jac is None:
        st.info("The weights of this probe step were not kept, so its step Jacobians cannot be computed.")
        return
    grad = trace.grad_norms[-1, sample]  # (T,) top layer
    fig = figures.jacobian_spectrum(jac.sigma_max[0], grad, jac.product_norm[0] * grad[-1], jac.radius[0],
                                    title=f"Step Jacobians of {jac.state}, sample {sample}, step {step} (top layer)")
    selectable_chart(with_cursor(fig, cursor), figures.CAPTIONS["jacobian_spectrum"], "grad_jac_sel")


def connectivity_block(state, run, step: int, trace, cursor) -> None:
    """||dy_t/dx_s|| of the shared sample at this probe step; the row at the time cursor's step (else the last)."""
    sample = min(int(state.view.get("sample", 0)), trace.hidden.shape[1] - 1)
    if state.playing:
        st.caption("Connectivity ‖∂ŷ_t/∂x_s‖ is computed when training is paused (⏸).")
        return
    with st.spinner("Computing connectivity…"):
        found = connectivity.run_connectivity(run, step, sample)
    if found is None:
        st.info("The weights of this probe step were not kept, so its connectivity cannot be computed.")
        return
    T = trace.hidden.shape[2]
    t = T - 1 if cursor is None else cursor[1]
    fig = with_cursor(figures.connectivity_map(found.matrix, found.steps, t), cursor)
    chart(fig, figures.CAPTIONS["connectivity_map"], key="grad_connectivity")


def replay_block(state, run) -> None:
    """||dL/dh_t|| and sigma_max(J_t) of the shared sample at every stored probe, as animation frames."""
    B = run.probes[0][1].hidden.shape[1]
    sample = min(int(state.view.get("sample", 0)), B - 1)
    probes = [run.probes[i] for i in analysis.downsample_index(len(run.probes), figures.REPLAY_FRAMES)]
    with st.spinner("Computing step Jacobians at every probe…"):
        jacs = [dynamics.run_jacobians(run, s, (sample,)) for s, _ in probes]
    sigmas = [None if j is None else j.sigma_max[0] for j in jacs]
    grads = [t.grad_norms[-1, sample] for _, t in probes]
    chart(figures.grad_replay([s for s, _ in probes], grads, sigmas), figures.CAPTIONS["grad_replay"])


live(draw, state)
