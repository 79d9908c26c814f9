"""View widgets shared by pages: which probe, layer and samples to look at."""

from __future__ import annotations

import streamlit as st

from rnnviz.record import Trace
from rnnviz.ui.state import AppState


def probe_picker(state: AppState, key: str) -> tuple[int, Trace]:
    """A slider over the run's probes (training steps); defaults to the latest, and follows it while playing."""
    probes = state.run.probes
    steps = [step for step, _ in probes]
    wkey = f"{key}_{state.view_token}"
    follow = st.session_state.get(f"{wkey}_follow", True)
    if len(steps) == 1:
        st.caption(f"Probe at training step {steps[0]}.")
        return probes[0]
    if follow or st.session_state.get(wkey) not in steps:
        st.session_state[wkey] = steps[-1]
    chosen = st.select_slider("Training step (probe)", steps, key=wkey,
                              help="Drag back to watch the views as they were earlier in training.")
    st.session_state[f"{wkey}_follow"] = chosen == steps[-1]
    return probes[steps.index(chosen)]


def layer_picker(state: AppState, key: str) -> int:
    n = state.config.num_layers
    if n == 1:
        return 0
    return st.radio("Layer", list(range(n)), index=n - 1, format_func=lambda k: f"layer {k + 1}",
                    horizontal=True, key=key)


def sample_picker(trace: Trace, key: str) -> int:
    B = trace.hidden.shape[1]
    return st.number_input("Probe sample", 0, B - 1, 0, key=key, help="Which of the fixed validation samples to show.")
