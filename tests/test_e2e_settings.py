"""A bad RNNVIZ_* value under `streamlit run app.py`: the first page opened shows the message naming the variable
and its range, the terminal prints it, and the server stops (Streamlit runs no app code before a page opens)."""

from __future__ import annotations

import pytest

from rnnviz.server import under_streamlit_run
from tests.browser import ROOT, SERVERS, streamlit_server

pytestmark = pytest.mark.browser

MESSAGE = "RNNVIZ_MAX_TRAIN_MB='abc' is not a whole number; allowed: a whole number from 384 to 1048576"


def test_a_bad_setting_shows_on_the_first_page_then_stops_the_server(browser):
    with streamlit_server(RNNVIZ_MAX_TRAIN_MB="abc") as url:
        proc = SERVERS[url]
        page = browser.new_page()
        page.goto(f"{url}/Train?cell=gru", timeout=120_000)
        page.get_by_text(MESSAGE).first.wait_for(timeout=60_000)
        assert proc.wait(timeout=30) is not None  # it stopped by itself
        log = (ROOT / "artifacts" / f"streamlit-{url.rsplit(':', 1)[1]}.log").read_text()
        assert f"rnnviz: {MESSAGE}" in log and "the server stops" in log


def test_only_a_streamlit_server_is_stopped():
    assert not under_streamlit_run()  # pytest, with AppTest loaded
    assert under_streamlit_run({"streamlit.web.bootstrap": None})
