"""rnnviz home: what it shows, the lessons, and a small live figure of this session's run."""

import streamlit as st

from rnnviz.ui import SECTIONS, chart, live, page
from rnnviz.ui.state import start_lesson
from rnnviz.views import analysis, figures
from rnnviz.views.lessons import LESSONS

state = page("rnnviz — watch recurrent networks learn", control=False)


def lesson_card(lesson, primary: bool = False) -> None:
    with st.container(border=True):
        st.markdown(f"**{lesson.title}**  \n{lesson.claim}")
        if st.button("Start this lesson", key=f"lesson_{lesson.key}", on_click=start_lesson, args=(state, lesson),
                     type="primary" if primary else "secondary", icon=":material/play_arrow:"):
            st.switch_page(lesson.page)


def home_figure(state) -> None:
    run = state.run
    st.caption(f"This session's run: {state.config.cell} on {state.config.dataset}, T = {state.config.seq_len}, "
               f"step {max(run.step, 0)} of {state.config.steps}" if run else "")
    if run is not None and run.probes:
        step, trace = run.probes[-1]
        decay = analysis.decay_rate(trace.grad_norms[-1])
        chart(figures.grad_norms_over_time([(step, trace.grad_norms[-1].mean(0))], decay),
              "How strongly the last step's loss reaches back to each earlier time step: a line falling to the left "
              "is a vanishing gradient. Start a lesson to watch it change as the model learns.", key="home_grad")


st.markdown(
    "rnnviz trains a small **vanilla RNN, LSTM or GRU** live in your browser session. "
    "While it learns, linked views show its **hidden-state trajectories**, its **gate activations** and the "
    "**per-step gradient norms** of backpropagation through time — where gradients vanish or explode."
)
left, right = st.columns([1, 1])
with left:
    st.subheader("Start here")
    lesson_card(LESSONS[0], primary=True)
    lesson_card(LESSONS[1], primary=True)
with right:
    live(home_figure, state)

st.subheader("More lessons: each reproduces a tutorial's set-up or claim")
cols = st.columns(2)
for i, lesson in enumerate(LESSONS[2:]):
    with cols[i % 2]:
        lesson_card(lesson)

st.subheader("Views")
st.caption("Or set up your own run in the sidebar and press Play on any page. The URL carries your settings: "
           "share it and others get the same run.")
for column, (section, pages) in zip(st.columns(len(SECTIONS) - 1), SECTIONS[1:], strict=True):
    column.markdown(f"**{section}**")
    for path, label, icon in pages:
        column.page_link(path, label=label, icon=icon, query_params=st.query_params.to_dict())
