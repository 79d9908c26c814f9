"""Compare: the same data and seed, up to four cells side by side."""

import streamlit as st

from rnnviz import compare, figures
from rnnviz.config import CELLS
from rnnviz.ui import chart, live, page
from rnnviz.ui.compare import compare_control

state = page("Compare cells", icon="⚖️", control=False)
st.caption("Every cell trains on the same data with the same seed and settings (the sidebar's), so the "
           "differences you see come from the cell alone.")
cells = st.multiselect("Cells", list(CELLS), default=list(state.compare or ("rnn_tanh", "lstm", "gru")),
                       max_selections=compare.MAX_CELLS, key="cmp_cells")
if cells:
    compare_control(state, cells)


def draw(state) -> None:
    if not state.compare_trainers:
        st.info("Choose at least one cell.")
        return
    runs = {cell: t.run for cell, t in state.compare_trainers.items()}
    chart(figures.compare_losses({c: r.history for c, r in runs.items()},
                                 next(iter(runs.values())).data.baseline), figures.CAPTIONS["compare_losses"])
    chart(figures.compare_grad_curves(compare.last_grad_curves(runs)), figures.CAPTIONS["compare_grad_curves"])
    st.dataframe(compare.summary(runs), hide_index=True)
    st.caption("Parameters: an LSTM has four gate blocks, a GRU three, a vanilla RNN one — so a GRU has about "
               "3/4 of an LSTM's weights. ms/step is measured on this machine during this comparison.")


live(draw, state, running=state.compare_playing)
