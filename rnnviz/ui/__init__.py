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
    navigation()
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


PAGES = (
    ("app.py", "Home", ":material/home:"),
    ("pages/1_Train.py", "Train", ":material/show_chart:"),
    ("pages/2_Hidden_states.py", "Hidden states", ":material/scatter_plot:"),
    ("pages/3_Gates.py", "Gates", ":material/door_open:"),
    ("pages/4_Gradients.py", "Gradients", ":material/trending_down:"),
    ("pages/5_Compare.py", "Compare cells", ":material/compare_arrows:"),
    ("pages/6_Text.py", "Text", ":material/text_fields:"),
    ("pages/7_Sweep.py", "Sweep", ":material/stacked_line_chart:"),
)


def navigation() -> None:
    """Labelled links to every page (the pages/ mechanism's own list is hidden in .streamlit/config.toml)."""
    with st.sidebar:
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()


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
