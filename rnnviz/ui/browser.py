"""Which browser this is: a random token in a cookie, set on the first visit, sent by every later session of it.

The Runs page lists the runs of this browser (the sha256 of its token): another attendee's browser has another
token and sees none of them. Without the cookie (blocked, a new private window) a browser sees only the runs of
its current session, and a run's link still opens the run.
"""

from __future__ import annotations

import streamlit as st

from rnnviz.runs.store import key_of, new_secret

COOKIE = "rnnviz_browser"
MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie


def browser_key() -> str:
    """This browser's key; on its first visit a new token, written to the cookie for the next sessions."""
    token = _cookie()
    if token is None:
        token = st.session_state.setdefault("rnnviz_browser_token", new_secret())
        if not st.session_state.get("rnnviz_browser_sent"):
            st.session_state["rnnviz_browser_sent"] = True
            # an HTML iframe has the page's origin (same-origin access), so its script sets the page's cookie
            st.iframe(f"<script>document.cookie='{COOKIE}={token}; path=/; max-age={MAX_AGE}; "
                      "SameSite=Strict';</script>", height=1)
    return key_of(token)


def _cookie() -> str | None:
    try:
        token = st.context.cookies.get(COOKIE)
    except Exception:  # no browser behind this session (AppTest, a bare script run)
        return None
    ok = isinstance(token, str) and 16 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)
    return token if ok else None
