"""View widgets shared by pages (which probe, layer and samples to look at), kept in the session's state.

Their values live in `state.view`, not in widget state, so they survive page switches: the same
probe step, layer and sample are shown on every page until the user changes them.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from rnnviz.engine.config import OPTIMIZERS, SETTINGS
from rnnviz.engine.record import Trace
from rnnviz.ui.display import sized
from rnnviz.ui.runfiles import chart_downloads
from rnnviz.ui.state import AppState, fork


def view_widget(state: AppState, name: str, default, widget: Callable, label: str, options=None, token: object = "",
                **kwargs):
    """`widget(label, options, ...)` valued from state.view[name] (or `default`); a change writes it back. A new
    `token` gives a fresh widget: for when the page itself moves the value, or the widget's range changes."""
    key, value = state.key(f"view_{name}") + (f"_{token}" if token != "" else ""), state.view.get(name, default)
    args = (label,) if options is None else (label, options)
    return widget(*args, key=key, on_change=_store, args=(state, name, key), **_initial(widget, options, value),
                  **kwargs)


def _initial(widget: Callable, options, value) -> dict:
    """The keyword that gives `widget` its starting value."""
    if widget in (st.radio, st.selectbox):
        return {"index": list(options).index(value)}
    if widget is st.multiselect:
        return {"default": value}
    return {"value": value}


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
    wkey = state.key("view_probe_step") + f"_{chosen}_{len(steps)}"  # following the latest moves the widget too
    marked = step_marks(state.run.change_labels(), steps)
    st.select_slider("Training step (probe)", steps, chosen, key=wkey, on_change=_follow, args=(state, steps, wkey),
                     format_func=lambda s: f"{s:,} ◆ {marked[s]}" if s in marked else f"{s:,}",
                     help="Drag back to watch the views as they were earlier in training. ◆ marks the first probe "
                          "after a live change or a fork.")
    fork_control(state, chosen)
    return probes[steps.index(chosen)]


def step_marks(marks: list[tuple[int, str]], steps: list[int]) -> dict[int, str]:
    """Probe step -> the changes since the probe before it (what the step slider marks)."""
    out: dict[int, str] = {}
    for step, text in marks:
        at = next((s for s in steps if s >= step), None)
        if at is not None:
            out[at] = f"{out[at]}; {text}" if at in out else text
    return out


def fork_control(state: AppState, step: int) -> None:
    """ "Fork from this step": a new run from the step's weights, optimizer state and batches, with the live settings
    chosen here (they start as the step's own)."""
    run = state.run
    with st.popover(f"Fork from step {step:,}", icon=":material/call_split:",
                    help="Branch the run here and train the branch with other live settings; the run itself is "
                         "kept, and both overlay on Compare and the Runs page."):

        def k(name: str, at: int = step) -> str:  # the slider's step in the key: moving it resets the fields
            return state.key(f"fork_{name}") + f"_{at}"

        last = max(run.step if run.diverged_at is None else run.diverged_at - 1, 0)
        st.number_input("From step", 0, last, min(step, last), key=k("step"),
                        help="The step slider's probe, or any other step (one between probes is reached by "
                             "training again from the probe before it: the same numbers).")
        now = run.config_at(step + 1)
        st.number_input(SETTINGS["lr"].label, SETTINGS["lr"].lo, SETTINGS["lr"].hi, float(now.lr), format="%g",
                        key=k("lr"))
        st.selectbox(SETTINGS["optimizer"].label, OPTIMIZERS, OPTIMIZERS.index(now.optimizer), key=k("optimizer"))
        clip_on = st.checkbox(SETTINGS["clip"].label, now.clip is not None, key=k("clip_on"))
        st.number_input("clip", SETTINGS["clip"].lo, SETTINGS["clip"].hi, float(now.clip or 1.0), format="%g",
                        key=k("clip"), disabled=not clip_on)
        st.number_input(SETTINGS["batch_size"].label, int(SETTINGS["batch_size"].lo), int(SETTINGS["batch_size"].hi),
                        now.batch_size, key=k("batch_size"))
        if st.button("Fork", key=k("go"), type="primary"):
            _fork_clicked(state, k)
            st.rerun()  # the whole page, not only the views' fragment: the control, notices and sidebar follow


def _fork_clicked(state: AppState, k: Callable[[str], str]) -> None:
    """The fork's step and settings as the fields show them when Fork is pressed."""
    got = {name: st.session_state[k(name)] for name in ("step", "lr", "optimizer", "clip", "batch_size")}
    values = {"lr": float(got["lr"]), "optimizer": got["optimizer"], "batch_size": int(got["batch_size"]),
              "clip": float(got["clip"]) if st.session_state[k("clip_on")] else None}
    fork(state, int(got["step"]), values)


def _follow(state: AppState, steps: list[int], key: str) -> None:
    chosen = st.session_state[key]
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
    return view_widget(state, "sample", 0, st.number_input, "Probe sample", min_value=0, max_value=B - 1,
                       help="Which of the fixed validation samples to show (the same on every page).")


# ---------------------------------------------------------------- linked views: the time cursor
# state.view["sample"]: the probe sample every page shows; state.view["time"]: (t0, t1) selected on any chart.


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
    st.plotly_chart(sized(fig), width="stretch", key=key, on_select="rerun", selection_mode=("points", "box"))
    st.caption(caption)
    chart_downloads(fig, caption, key)
