"""How the app is shown: the sidebar's navigation in sections, and the projector display (large text).

The theme is Streamlit's own (light or dark, from the viewer's system or the ⋮ menu's Settings): the charts take
it too, as they name no template of their own (rnnviz/views/palette.py).
"""

from __future__ import annotations

import streamlit as st

from rnnviz.ui.state import KEY, AppState

# the sidebar: (section, pages), each page (file, label, icon); Streamlit marks the page being shown
SECTIONS = (
    ("Learn", (("app.py", "Home and lessons", ":material/school:"),)),
    ("Watch", (("pages/1_Train.py", "Train", ":material/show_chart:"),
               ("pages/2_Hidden_states.py", "Hidden states", ":material/scatter_plot:"),
               ("pages/3_Gates.py", "Gates", ":material/door_open:"),
               ("pages/4_Gradients.py", "Gradients", ":material/trending_down:"))),
    ("Explore", (("pages/6_Text.py", "Text", ":material/text_fields:"),
                 ("pages/5_Compare.py", "Compare cells", ":material/compare_arrows:"),
                 ("pages/7_Sweep.py", "Sweep", ":material/stacked_line_chart:"),
                 ("pages/8_Runs.py", "Runs", ":material/folder_open:"))),
)
PAGES = tuple(p for _, pages in SECTIONS for p in pages)

LARGE_ROOT_PX = 21  # the page's base font in the projector display (Streamlit's is 16 px; everything is in rem)
LARGE_FONT, LARGE_TITLE = 17, 21  # a chart's text and title in px (12 and 15 otherwise)
_LARGE_CSS = f"<style>html {{ font-size: {LARGE_ROOT_PX}px; }}</style>"


def navigation(state: AppState) -> None:
    """The sidebar's links in three sections; each link carries the run and its settings (?run=…, the config),
    so opening it in a new tab finds the same run. Then the display toggle."""
    query = st.query_params.to_dict()
    with st.sidebar:
        for section, pages in SECTIONS:
            st.caption(f"**{section.upper()}**")
            for path, label, icon in pages:
                st.page_link(path, label=label, icon=icon, query_params=query, width="stretch")
        st.toggle("Large text (projector)", value=state.large_text, key=state.key("large_text"),
                  on_change=_flip_large, args=(state,), help="Bigger text on every page and chart, for a room "
                  "reading a projector. The link keeps it (?text=large).")
        st.divider()
    if state.large_text:
        st.html(_LARGE_CSS)


def _flip_large(state: AppState) -> None:
    state.large_text = not state.large_text


def sized(fig):
    """The figure with its text enlarged when the session shows large text (the projector display)."""
    state = st.session_state.get(KEY)
    if state is not None and state.large_text:
        fig.update_layout(font_size=LARGE_FONT, title_font_size=LARGE_TITLE)
    return fig
