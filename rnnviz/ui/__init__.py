"""The only Streamlit-aware helpers shared by pages: page setup, state, sidebar, trainer control."""

from __future__ import annotations

import streamlit as st

from rnnviz import jobs
from rnnviz.ui.control import live, training_control
from rnnviz.ui.sidebar import config_sidebar
from rnnviz.ui.state import AppState, get_state

__all__ = ["AppState", "chart", "live", "page", "no_probe_yet"]


def page(title: str, icon: str = "🔁", control: bool = True) -> AppState:
    """Every page starts here: config, state, sidebar, messages, Play/Pause/Step/Reset."""
    st.set_page_config(page_title=f"{title} · rnnviz", page_icon=icon, layout="wide")
    jobs.configure_torch()
    state = get_state()
    config_sidebar(state)
    st.title(title)
    if state.error:
        st.error(state.error)
    if state.notice:
        st.info(state.notice)
        state.notice = None
    if control:
        training_control(state)
    return state


def chart(fig, caption: str, key: str | None = None) -> None:
    """A plotly figure across the page's width with its one-sentence caption."""
    st.plotly_chart(fig, width="stretch", key=key)
    st.caption(caption)


def no_probe_yet(state: AppState) -> bool:
    """True (with a hint) when there is nothing to show yet."""
    run = state.run
    if run is None or not run.probes:
        st.info("No probe yet: press ▶ Play or ⏭ Step to start training.")
        return True
    return False
