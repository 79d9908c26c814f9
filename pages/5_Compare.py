"""Compare: the same data and seed, up to four cells side by side, trained as one group."""

import numpy as np
import streamlit as st

from rnnviz.engine.cellspec import SPECS
from rnnviz.runs import listing
from rnnviz.runs.registry import registry
from rnnviz.ui import chart, live, page
from rnnviz.ui.control import training_control
from rnnviz.ui.sidebar import cell_label
from rnnviz.ui.state import compare_group, reset_compare
from rnnviz.views import compare, connectivity, figures

state = page("Compare cells", icon="⚖️", control=False, progress=False)
st.caption("Every cell trains on the same data with the same seed and settings (the sidebar's), so the "
           "differences you see come from the cell alone.")


def choose_cells(state, key: str) -> None:
    state.compare_cells = tuple(st.session_state[key])


key = state.key("cmp_cells")
st.multiselect("Cells", list(SPECS), list(state.compare_cells), format_func=cell_label,
               max_selections=compare.MAX_CELLS, key=key, on_change=choose_cells, args=(state, key))
group = compare_group(state) if state.compare_cells else None
training_control(state, group, reset_compare, key="cmp")


def draw(state) -> None:
    if group is None:
        if state.compare_cells:  # chosen, but their runs could not be built (state.error says why)
            st.error(f"The chosen cells can't train on the sidebar's settings: {state.error}")
        else:
            st.info("Choose at least one cell.")
        return
    runs = {t.config.cell: t.run for t in group.trainers}
    if all(r.step <= 0 for r in runs.values()):
        st.info("Press ▶ Play to train every cell side by side: their loss curves and gradients appear here.")
    else:
        baseline = next(iter(runs.values())).data.baseline
        chart(figures.compare_losses({c: r.history for c, r in runs.items()}, baseline),
              figures.CAPTIONS["compare_losses"])
    chart(figures.compare_grad_curves(compare.last_grad_curves(runs)), figures.CAPTIONS["compare_grad_curves"])
    connectivity_block(state, runs)
    st.dataframe(compare.summary(runs), hide_index=True)
    st.caption("Parameters: an LSTM has four gate blocks, a GRU three, a vanilla RNN one — so a GRU has about "
               "3/4 of an LSTM's weights. ms/step is measured on this machine during this comparison.")
    family_block(state)


def connectivity_block(state, runs) -> None:
    """Each cell's connectivity for the same probe sample at its last step, at each run's latest probe."""
    ready = {c: r for c, r in runs.items() if r.probes}
    if not ready or state.compare is not None and state.compare.playing:
        st.caption("Connectivity by cell is computed when the cells are paused (⏸).")
        return
    sample = int(state.view.get("sample", 0))
    found = {c: connectivity.run_connectivity(r, r.probes[-1][0], sample) for c, r in ready.items()}
    T = next(iter(ready.values())).data.x_val.shape[1]
    rows = {c: f.row(T - 1) for c, f in found.items() if f is not None}
    if not rows:
        return
    data = next(iter(ready.values())).data
    marked = connectivity.marked_inputs(data, n=sample + 1)
    marks = np.flatnonzero(marked[sample]) if marked is not None and sample < len(marked) else ()
    chart(figures.connectivity_rows(rows, T - 1, marks=marks), figures.CAPTIONS["connectivity_rows"],
          key="cmp_connectivity")
    reach = {c: connectivity.run_marked_reach(r, r.probes[-1][0]) for c, r in ready.items()}
    table = compare.reach_table({c: m for c, m in reach.items() if m is not None})
    if len(table):
        st.dataframe(table, hide_index=True)
        st.caption(f"How each cell's last output reads the marked inputs, median over the first "
                   f"{connectivity.MARKED_SAMPLES} validation samples: marked ÷ others (mean ‖∂ŷ_T/∂x_s‖ at the "
                   "marks against the rest), the first mark against the strongest input, and how much of the "
                   "first input reaches the output against the last one's (overall and per step).")


def family_block(state) -> None:
    """The session's run beside its parent and its forks: the futures a fork branched into."""
    st.subheader("This run and its forks")
    family = {n: r for n, r in registry().family(state.access).items() if r.step >= 0} if state.access else {}
    if len(family) < 2:
        st.caption("No forks yet: on Hidden states, Gates or Gradients, pick a step on the step slider and press "
                   "“Fork from step …” to branch the run with other live settings; both futures show here.")
        return
    colors = listing.colors(list(family))
    fig = figures.compare_losses({n: compare.own_history(r) for n, r in family.items()}, None, colors=colors)
    marks = compare.fork_marks(family) + [m for m in state.run.change_labels() if not m[1].startswith("fork")]
    chart(figures.change_marks(fig, marks), figures.CAPTIONS["family_losses"], key="family_losses")


live(draw, state)
