"""End to end in a real browser, as a new user would: lesson, Play, Pause, every page, a shared link."""

import time

import pytest

from tests.browser import PLOT, exceptions, plot_points, progress_step, shot, streamlit_server, wait_for_step

pytestmark = pytest.mark.browser

PAGES = ["Train", "Hidden states", "Gates", "Gradients", "Compare cells", "Text", "Home"]


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def test_a_new_user_starts_a_lesson_trains_and_visits_every_page(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.get_by_role("button", name="Start this lesson").first.click(timeout=60_000)
    page.wait_for_url("**/Train**", timeout=30_000)
    wait_for_step(page, 20)  # the lesson plays by itself
    page.wait_for_function(  # the loss curve has points (train loss trace is the first)
        f"Array.from(document.querySelectorAll('{PLOT}')).some(g => g._fullData && g._fullData[0].x.length > 5)",
        timeout=30_000)
    page.goto(f"{server}/Train?steps=100000")  # a run long enough to pause (the lesson may be done already)
    page.get_by_role("button", name="Play", exact=True).click(timeout=60_000)
    wait_for_step(page, 20)
    page.get_by_role("button", name="Pause", exact=True).click(timeout=60_000)
    time.sleep(1.5)
    paused_at = progress_step(page)
    time.sleep(2)
    assert progress_step(page) == paused_at, "training went on after Pause"
    assert not exceptions(page)
    shot(page, "train")

    for name in PAGES:
        page.get_by_role("link", name=name).first.click()
        page.wait_for_load_state("networkidle")
        if name not in ("Text", "Home"):
            page.wait_for_selector(PLOT, timeout=30_000)
            assert max(plot_points(page)) > 0
        page.wait_for_timeout(1000)
        assert not exceptions(page), f"exception on {name}"
        assert progress_step(page) == paused_at if name not in ("Compare cells", "Home") else True
        shot(page, name.lower().replace(" ", "_"))


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
