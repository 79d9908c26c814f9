"""rnnviz home: what it shows, the lessons, and a small live figure of this session's run."""

import streamlit as st

from rnnviz import figures
from rnnviz.lessons import LESSONS
from rnnviz.ui import page
from rnnviz.ui.state import start_lesson

state = page("rnnviz — watch recurrent networks learn", control=False)

st.markdown(
    "rnnviz trains a small **vanilla RNN, LSTM or GRU** live in your browser session. "
    "While it learns, linked views show its **hidden-state trajectories**, its **gate activations** and the "
    "**per-step gradient norms** of backpropagation through time — where gradients vanish or explode. "
    "Pick a lesson below, or set up your own run in the sidebar and press ▶ Play on any page."
)

left, right = st.columns([3, 2])
with left:
    st.subheader("Lessons: one click each")
    for lesson in LESSONS:
        with st.container(border=True):
            st.markdown(f"**{lesson.title}** — {lesson.claim}")
            if st.button("Start this lesson", key=f"lesson_{lesson.key}", on_click=start_lesson,
                         args=(state, lesson)):
                st.switch_page(lesson.page)
with right:
    st.subheader("This session's run")
    st.caption(f"{state.config.cell} · {state.config.dataset} · T = {state.config.seq_len} · "
               f"{state.config.steps} steps")
    if state.run is not None and state.run.rows:
        st.plotly_chart(figures.sparkline(state.run.history), width="stretch")
        st.caption(figures.CAPTIONS["sparkline"])
    st.subheader("Views")
    st.page_link("pages/1_Train.py", label="Train: loss, predictions, Play / Pause / Step", icon="📉")
    st.page_link("pages/2_Hidden_states.py", label="Hidden states: PCA trajectories and heatmaps", icon="🌀")
    st.page_link("pages/3_Gates.py", label="Gates: activations and saturation", icon="🚪")
    st.page_link("pages/4_Gradients.py", label="Gradients: BPTT norms, vanishing and exploding", icon="📐")
    st.page_link("pages/5_Compare.py", label="Compare: RNN vs LSTM vs GRU on the same data", icon="⚖️")
