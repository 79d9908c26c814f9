"""View widgets shared by pages (which probe, layer and samples to look at), kept in the session's state.

Their values live in `state.view`, not in widget state, so they survive page switches: the same
probe step, layer and sample are shown on every page until the user changes them.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from rnnviz.record import Trace
from rnnviz.ui.state import AppState


def view_widget(state: AppState, name: str, default, widget: Callable, *args, **kwargs):
    """`widget(*args, **kwargs)` valued from state.view[name] (or `default`); a change writes it back."""
    key = f"view_{name}"
    st.session_state[key] = state.view.get(name, default)
    return widget(*args, key=key, on_change=_store, args=(state, name, key), **kwargs)


def _store(state: AppState, name: str, key: str) -> None:
    state.view[name] = st.session_state[key]


def probe_picker(state: AppState, key: str = "probe") -> tuple[int, Trace]:
    """A slider over the run's probes (training steps); follows the latest probe unless moved back."""
    probes = state.run.probes
    steps = [step for step, _ in probes]
    if len(steps) == 1:
        st.caption(f"Probe at training step {steps[0]}.")
        return probes[0]
    chosen = state.view.get("probe_step")
    if chosen not in steps:
        chosen = steps[-1]
    st.session_state["view_probe_step"] = chosen
    st.select_slider("Training step (probe)", steps, key="view_probe_step", on_change=_follow, args=(state, steps),
                     help="Drag back to watch the views as they were earlier in training.")
    return probes[steps.index(chosen)]


def _follow(state: AppState, steps: list[int]) -> None:
    chosen = st.session_state["view_probe_step"]
    state.view["probe_step"] = None if chosen == steps[-1] else chosen  # the latest: keep following it


def layer_picker(state: AppState, key: str = "layer") -> int:
    n = state.config.num_layers
    if n == 1:
        return 0
    if state.view.get("layer", n - 1) >= n:
        state.view["layer"] = n - 1
    return view_widget(state, "layer", n - 1, st.radio, "Layer", list(range(n)),
                       format_func=lambda k: f"layer {k + 1}", horizontal=True)


def sample_picker(state: AppState, trace: Trace, key: str = "sample") -> int:
    B = trace.hidden.shape[1]
    if state.view.get("sample", 0) >= B:
        state.view["sample"] = 0
    return view_widget(state, "sample", 0, st.number_input, "Probe sample", 0, B - 1,
                       help="Which of the fixed validation samples to show (the same on every page).")
