"""Hidden states: PCA trajectories of the probe samples (axes fitted once per run) and a unit x time heatmap."""

import pandas as pd
import streamlit as st

from rnnviz.ui import chart, live, no_probe_yet, page
from rnnviz.ui.views import (
    cursor_bar,
    layer_picker,
    probe_picker,
    sample_picker,
    selectable_chart,
    time_cursor,
    view_widget,
)
from rnnviz.views import analysis, connectivity, dynamics, figures

state = page("Hidden states", icon="🌀")
SELECTABLE = {"hs_traj_sel": False, "hs_heat_sel": True}  # chart key -> is its x axis time?


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
    B, T = trace.hidden.shape[1:3]
    with c3:
        state.view["samples"] = [i for i in state.view.get("samples", range(min(4, B))) if i < B]
        samples = view_widget(state, "samples", None, st.multiselect, "Samples", list(range(B)))
        labels = analysis.class_labels(run.data, B)
        options = ["time", "class"] if labels is not None else ["time"]
        if state.view.get("color") not in options:
            state.view["color"] = "time"
        color = view_widget(state, "color", "time", st.radio, "Colour by", options, horizontal=True)
        sample = sample_picker(state, trace)  # the heatmap's sample, shared with the other pages
    if not samples:
        st.info("Choose at least one sample.")
        return
    # ---- linked time cursor (dynamics): a selection on either chart marks the same t on both
    cursor = time_cursor(state, SELECTABLE, T)
    cursor_bar(state, cursor, "hs_cursor_clear")
    pca, ranges = trajectories_block(state, run, step, trace, layer, samples,
                                     "time" if color == "time" else labels[samples], dims, cursor)
    heatmaps_block(trace, step, layer, sample, cursor)
    search_block(state, run, step, sample, cursor)
    # ---- training replay (dynamics): every stored probe as an animation frame on the same axes
    if st.toggle("Replay training", key="hs_replay", help="Animate the stored probes from step 0 to the latest."):
        frames = [analysis.project(pca, t.hidden[layer])[samples] for _, t in run.probes]
        chart(figures.pca_replay([s for s, _ in run.probes], frames, ranges, pca.explained, dims),
              figures.CAPTIONS["pca_replay"])


def trajectories_block(state, run, step: int, trace, layer: int, samples, colours, dims: int, cursor):
    """The chosen samples' h_t in the run's PCA axes, with the fixed points if asked; (the PCA, its ranges)."""
    fixed = fixed_points_block(state, run, step, layer)  # where the recurrent map stands still for a constant input
    pca = analysis.fit_pca(run.probes, layer)
    points = analysis.project(pca, trace.hidden[layer])
    ranges = analysis.pca_ranges(pca, run.probes, layer)
    coords = None if fixed is None else analysis.project(pca, fixed.hidden)  # (K, 3) in the same axes
    view_ranges = ranges if coords is None else figures.covering_ranges(ranges, coords)
    fig = figures.with_time_data(figures.pca_trajectories(points[samples], dims=dims, color=colours,
                                                          explained=pca.explained, ranges=view_ranges))
    if cursor is not None:
        figures.trajectory_cursor(fig, points[samples], *cursor, dims=dims)
    if coords is not None:
        figures.add_fixed_points(fig, coords, fixed.kind, fixed.fixed, dims)
    caption = figures.CAPTIONS["pca_trajectories" if coords is None else "fixed_points"]
    selectable_chart(fig, caption, "hs_traj_sel")
    return pca, ranges


def heatmaps_block(trace, step: int, layer: int, sample: int, cursor) -> None:
    """Unit x time heatmaps of one sample's h_t, and of its c_t for a cell that has one."""
    heat = figures.state_heatmap(trace.hidden[layer, sample], f"h_t of sample {sample}, layer {layer + 1}, "
                                 f"step {step}")
    figures.time_picker_strip(heat, trace.hidden.shape[2], 0)
    if cursor is not None:
        figures.heatmap_cursor(heat, *cursor)
    selectable_chart(heat, figures.CAPTIONS["state_heatmap"], "hs_heat_sel")
    if trace.cell_state is not None:
        cell_fig = figures.state_heatmap(trace.cell_state[layer, sample], f"LSTM cell state c_t of sample {sample}")
        if cursor is not None:
            figures.heatmap_cursor(cell_fig, *cursor)
        chart(cell_fig, "The LSTM's cell state: the memory that the forget gate carries across time; long flat "
              "bands are values being remembered.")


def search_block(state, run, step: int, sample: int, cursor) -> None:
    """LSTMVis's search: the units on over the time cursor's span of this sample and off around it, then every
    place in the validation data where that set is on together, ranked; a row opens its sample."""
    st.subheader("Find what a unit does")
    if cursor is None:
        st.caption("Select a span of time steps on the heatmap above (click, or box-select a range), and the units "
                   "on over that span are looked for everywhere else in the validation data.")
        return
    values = connectivity.run_searchable(run, step)
    if values is None or sample >= len(next(iter(values.values()))):
        st.info("This probe step's weights were not kept (or the sample is past the searched ones), so it cannot be "
                "searched.")
        return
    c1, c2 = st.columns(2)
    names = list(values)
    state.view["search_of"] = state.view.get("search_of") if state.view.get("search_of") in names else names[0]
    with c1:
        what = view_widget(state, "search_of", names[0], st.selectbox, "Search", names,
                           format_func=connectivity.value_label)
    with c2:
        threshold = view_widget(state, "search_threshold", 0.5, st.number_input, "Threshold", step=0.05,
                                format="%g")
    t0, t1 = cursor
    units = connectivity.units_on(values[what][sample], t0, t1, float(threshold))
    st.caption(f"The rule (LSTMVis): a unit is in the set if it is at or above {threshold:g} at every step "
               f"t = {t0}–{t1} of sample {sample} and below it just before and just after. Top layer; "
               f"{len(next(iter(values.values())))} validation samples searched.")
    if not len(units):
        st.info("No unit is on over the whole span and off around it: lower the threshold or change the span.")
        return
    matches = connectivity.find_matches(values[what], units, float(threshold), t1 - t0 + 1)
    st.markdown(f"**{len(units)} unit(s):** {', '.join(map(str, units[:40]))}" + (" …" if len(units) > 40 else ""))
    table = pd.DataFrame([vars(m) for m in matches], columns=["sample", "start", "end", "score"])
    picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row",
                          key=state.key("search_matches"))
    rows = picked.selection.rows if picked is not None else []
    if rows:
        m = matches[rows[0]]
        chart(figures.search_match(values[what][m.sample], units, m.start, m.end,
                                   f"Sample {m.sample}: the units on at t = {m.start}–{m.end}"),
              figures.CAPTIONS["search_match"], key="hs_search_match")
    else:
        st.caption("Click a row to open that sample with the match marked.")


def fixed_points_block(state, run, step: int, layer: int):
    """The fixed points toggle and input value; the FixedPoints found (cached per run and probe), or None."""
    c1, c2 = st.columns([1, 2])
    show = c1.toggle("Fixed points", key="hs_fixed", help="Search the recurrent map's fixed and slow points "
                     "(a few seconds the first time for each probe step).")
    if not show:
        return None
    if state.playing:  # a search takes seconds: while training, that time belongs to training
        c2.caption("Fixed points are found when training is paused.")
        return None
    value = fixed_input_picker(run, c2)
    with st.spinner("Looking for fixed points…"):
        found = dynamics.run_fixed_points(run, step, value)
    if found is None:
        st.info("The weights of this probe step were not kept, so its fixed points cannot be found.")
        return None
    top = layer == run.config.num_layers - 1
    st.caption(found.summary() + ("" if top else " (found for the whole stack, drawn for the top layer's axes: pick "
                                  "the top layer to see them on its trajectories)"))
    return found if top else None


def fixed_input_picker(run, where) -> float:
    """The constant input: a value for every feature, or a symbol of the vocabulary."""
    if run.data.vocab is not None:
        vocab = run.data.vocab
        return where.selectbox("Constant input symbol", range(len(vocab)), format_func=lambda i: repr(vocab[i]),
                               key="hs_fixed_token")
    return where.number_input("Constant input value", -10.0, 10.0, 0.0, 0.1, key="hs_fixed_value",
                              help="Every input feature held at this value while the state evolves.")


live(draw, state)
