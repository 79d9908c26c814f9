"""A shared link in a real browser: it restores the settings for another person; a bad one is refused.

The walk of a new user (a lesson, every page, Play, Pause, a reload) is tests/test_e2e_journey.py."""

import pytest

from tests.browser import PLOT, exceptions, shot, streamlit_server, wait_for_step

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def test_a_copied_link_restores_the_config_in_a_new_browser(server, browser):
    first = browser.new_page()
    first.goto(f"{server}/Gradients?cell=gru&hidden_size=24&seq_len=30&dataset=adding")
    first.wait_for_selector(PLOT, timeout=60_000)
    link = first.url
    assert "cell=gru" in link and "dataset=adding" in link
    context = browser.new_context()  # another person: no cookies, no session
    other = context.new_page()
    other.goto(link)
    other.wait_for_selector(PLOT, timeout=60_000)
    assert other.get_by_role("combobox", name="Cell").input_value() == "GRU"
    assert other.get_by_label("Hidden units").input_value() == "24"
    assert other.get_by_label("Sequence length T").input_value() == "30"
    shot(other, "restored_link")
    context.close()


def test_a_bad_link_shows_its_message_and_the_app_still_trains(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/Train?hidden_size=100000")
    page.get_by_text("hidden_size=100000 is out of range").wait_for(timeout=60_000)
    page.get_by_role("button", name="Step", exact=True).click()
    wait_for_step(page, 1, timeout=30)
    assert not exceptions(page)
