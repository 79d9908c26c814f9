"""The only Streamlit-aware helpers shared by pages: page setup, state, sidebar, trainer control."""

from __future__ import annotations

import time

import streamlit as st

from rnnviz.engine.cellspec import SPECS
from rnnviz.runs import capacity
from rnnviz.runs.registry import registry
from rnnviz.ui.browser import browser_key
from rnnviz.ui.checkpoints import checkpoint_panel
from rnnviz.ui.control import live, training_control
from rnnviz.ui.display import SECTIONS, navigation, sized
from rnnviz.ui.runfiles import chart_downloads, run_file_panel
from rnnviz.ui.sidebar import config_sidebar
from rnnviz.ui.state import AppState, get_state, go_back, reset_driven

__all__ = ["SECTIONS", "AppState", "chart", "live", "page", "no_probe_yet"]


def page(title: str, icon: str = "🔁", control: bool = True, progress: bool = True) -> AppState:
    """Every page starts here: config, state, sidebar, messages, and the run's Play/Pause/Step/Reset
    (with `control=False`, only its progress, which still redraws the page when the run has news)."""
    st.set_page_config(page_title=f"{title} · rnnviz", page_icon=icon, layout="wide")
    capacity.configure_torch()
    state = get_state(browser_key())
    state.draw_started = time.thread_time()  # live() measures what the whole page cost to draw
    state.page = "".join(c for c in title.lower() if c.isalnum())[:24]
    navigation(state)
    config_sidebar(state)
    run_file_panel(state)
    checkpoint_panel(state)
    st.title(title)
    if state.previous is not None:
        before = state.previous.run
        st.button(f"← back to the run at step {max(before.step, 0):,}", key=state.key("back"), on_click=go_back,
                  args=(state,), help="The run you were on before this one (kept, paused as you left it).")
    if state.error:
        st.error(state.error)
    if registry().why:
        st.warning(f"{registry().why[0].upper()}{registry().why[1:]}. Training goes on in memory.",
                   icon=":material/save:")
    if not state.can_control:
        st.info("You are watching this run through a view-only link: its owner plays, pauses and resets it.",
                icon=":material/visibility:")
    if state.notice:
        st.info(state.notice)
    if state.lesson is not None:
        st.success(f"**Lesson: {state.lesson.title}.** {state.lesson.claim}  \n**Look:** {state.lesson.look}",
                   icon=":material/school:")
    if control or (progress and state.playing):
        training_control(state, state.driver, reset_driven, buttons=control and state.can_control)
        if control and state.driver is not state.worker:
            cells = ", ".join(SPECS[t.config.cell].label for t in state.driver.trainers)
            st.caption(f"Training the Compare page's group ({cells}) as one; this page shows its "
                       f"{SPECS[state.config.cell].label} run.")
    return state


def chart(fig, caption: str, key: str | None = None, data=None) -> None:
    """A plotly figure across the page's width with its one-sentence caption, and its CSV / HTML downloads.

    `data` (a DataFrame) is what the CSV holds; without it, the figure's own points.
    """
    st.plotly_chart(sized(fig), width="stretch", key=key)
    st.caption(caption)
    chart_downloads(fig, caption, key, data)


def no_probe_yet(state: AppState) -> bool:
    """True (with a hint) when there is nothing to show yet."""
    run = state.run
    if run is None or not run.probes:
        st.info("No probe yet: press ▶ Play or ⏭ Step to start training.")
        return True
    return False
