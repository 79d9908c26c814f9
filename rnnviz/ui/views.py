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


def sample_picker(trace: Trace, key: str, state: AppState | None = None) -> int:
    """Which probe sample to show; with `state`, the choice is shared by every page (kept in state.view)."""
    B = trace.hidden.shape[1]
    if state is not None:
        return shared_sample(state, B, key)
    return st.number_input("Probe sample", 0, B - 1, 0, key=key, help="Which of the fixed validation samples to show.")


# ---------------------------------------------------------------- linked views: shared sample and time cursor
# state.view["sample"]: the probe sample every page shows; state.view["time"]: (t0, t1) selected on any chart.


def shared_sample(state: AppState, B: int, key: str) -> int:
    """A probe-sample picker whose value lives in state.view, so switching pages keeps the sample."""
    current = min(int(state.view.get("sample", 0)), B - 1)
    st.session_state[key] = current  # the widget shows the shared value, whatever this page's widget last held
    st.number_input("Probe sample", 0, B - 1, key=key, on_change=_keep_sample, args=(state, key),
                    help="Which of the fixed validation samples to show; the other pages follow.")
    return current


def _keep_sample(state: AppState, key: str) -> None:
    state.view["sample"] = int(st.session_state[key])


def selected_times(selection: dict | None, time_axis: bool = True) -> tuple[int, int] | None:
    """(t0, t1) named by a plotly selection: points' customdata (or x on a time axis), else a box's x range."""
    selection = selection or {}
    ts = [t for t in (_point_time(p, time_axis) for p in selection.get("points", [])) if t is not None]
    if ts:
        return int(min(ts)), int(max(ts))
    if time_axis:
        for area in [*selection.get("box", []), *selection.get("lasso", [])]:
            xs = [x for x in area.get("x", []) if isinstance(x, int | float)]
            if xs:
                lo, hi = round(min(xs)), round(max(xs))
                return int(lo), int(max(lo, hi))
    return None


def _point_time(point: dict, time_axis: bool) -> float | None:
    data = point.get("customdata")
    if isinstance(data, list | tuple):
        data = data[0] if data else None
    if isinstance(data, int | float):
        return data
    x = point.get("x")
    return x if time_axis and isinstance(x, int | float) else None


def time_cursor(state: AppState, keys: dict[str, bool], T: int) -> tuple[int, int] | None:
    """Read every selectable chart of the page (key -> is its x time?); a new selection moves the cursor.

    Called before drawing, so all views of the run see the same cursor. A chart redrawn with a new figure
    forgets its selection; the cursor stays in state.view until cleared.
    """
    seen = state.view.setdefault("selections", {})
    for key, time_axis in keys.items():
        event = st.session_state.get(key)
        mark = repr(event)
        if mark == seen.get(key):
            continue
        seen[key] = mark
        times = selected_times((event or {}).get("selection"), time_axis)
        if times is not None:
            state.view["time"] = times
    cursor = state.view.get("time")
    if cursor is None or cursor[0] > T - 1:
        return None
    return int(max(cursor[0], 0)), int(min(cursor[1], T - 1))


def cursor_bar(state: AppState, cursor: tuple[int, int] | None, key: str) -> None:
    """One line saying what the time cursor marks, with a button to clear it."""
    c1, c2 = st.columns([5, 1])
    if cursor is None:
        c1.caption("Time cursor: click a point or box-select a range of time steps on a chart to mark them "
                   "on every view of this page.")
        return
    t0, t1 = cursor
    c1.caption(f"Time cursor: t = {t0}" + (f"–{t1}" if t1 > t0 else "") + " (marked on every view).")
    c2.button("Clear cursor", key=key, on_click=lambda: state.view.pop("time", None))


def selectable_chart(fig, caption: str, key: str) -> None:
    """chart() whose points or box select time steps: time_cursor reads it on the next run."""
    st.plotly_chart(fig, width="stretch", key=key, on_select="rerun", selection_mode=("points", "box"))
    st.caption(caption)
