"""The user's journey in a real browser: a lesson, every page twice by the sidebar links, settings that
stay what the run is, a change seen on the next page, a reload, and every lesson button training."""

import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from rnnviz.views.lessons import BY_KEY, LESSONS
from tests.browser import PLOT, exceptions, plot_points, progress_step, shot, streamlit_server, wait_for_step

pytestmark = pytest.mark.browser

LINKS = ["Train", "Hidden states", "Gates", "Gradients", "Text", "Compare cells", "Sweep", "Runs", "Home"]  # every page
PLOTTED = ("Train", "Hidden states", "Gates", "Gradients", "Compare cells")
NUMBERS = {"hidden_size": "Hidden units", "num_layers": "Layers", "seq_len": "Sequence length T",
           "steps": "Training steps", "batch_size": "Batch size", "lr": "Learning rate", "seed": "Seed"}
CHOICES = {"cell": ("Cell", {"rnn_tanh": "Vanilla RNN (tanh)", "lstm": "LSTM", "gru": "GRU"}),
           "optimizer": ("Optimizer", None)}


@pytest.fixture(scope="module")
def server():
    with streamlit_server(RNNVIZ_CACHE_RUNS="0") as url:  # every lesson trains: nothing comes from the cache
        yield url


@pytest.fixture(scope="module")
def people(browser):
    """Where new people open the app: every page is a session of its own (its own websocket and session state);
    one context for all, so each does not fetch and compile the app's scripts again."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


def sidebar_config(page) -> dict:
    """The settings the sidebar shows, read from the page."""
    bar = page.get_by_test_id("stSidebarUserContent")
    shown = {name: float(bar.get_by_label(label, exact=True).input_value()) for name, label in NUMBERS.items()}
    for name, (label, _) in CHOICES.items():
        shown[name] = bar.get_by_role("combobox", name=label, exact=True).input_value()
    shown["clip_on"] = bar.get_by_role("checkbox", name="Clip the gradient norm").is_checked()
    return shown


def expected(config) -> dict:
    want = {name: float(getattr(config, name)) for name in NUMBERS}
    for name, (_, names) in CHOICES.items():
        want[name] = names[getattr(config, name)] if names else getattr(config, name)
    want["clip_on"] = config.clip is not None
    return want


def test_a_lesson_then_every_page_twice_keeps_the_settings_and_the_progress(server, browser):
    lesson = BY_KEY["vanish"]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.locator(".st-key-lesson_vanish button").click(timeout=60_000)
    page.wait_for_url("**/Gradients**", timeout=30_000)
    last = wait_for_step(page, 1, timeout=30)
    start = time.time()
    for i, name in enumerate(LINKS * 2):
        page.get_by_role("link", name=name).first.click()
        page.wait_for_load_state("networkidle")
        page.get_by_label("Hidden units", exact=True).wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        assert sidebar_config(page) == expected(lesson.config), f"stop {i}: {name}"
        assert not exceptions(page), f"exception on {name}"
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0, f"error on {name}"
        if name in PLOTTED:  # every view has something to show, from step 0 on
            page.wait_for_selector(PLOT, timeout=30_000)
            assert max(plot_points(page)) > 0, f"empty charts on {name}"
        if name != "Compare cells":  # Compare shows its own group's progress
            step = progress_step(page) if page.locator('[data-testid="stProgress"]').count() else last
            assert step >= last, f"progress went back on {name}: {step} < {last}"
            last = step
    print(f"journey: {2 * len(LINKS)} page stops in {time.time() - start:.1f} s, training reached step {last}")
    shot(page, "journey_end")


def test_a_change_on_one_page_shows_on_the_next_pause_holds_and_a_reload_keeps_it(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/Train?steps=100000")  # long enough to pause
    field = page.get_by_label("Hidden units", exact=True)
    field.fill("24")
    field.press("Enter")
    page.get_by_text("Settings changed").wait_for(timeout=30_000)
    page.get_by_role("button", name="Play", exact=True).click(timeout=30_000)
    wait_for_step(page, 20)
    page.get_by_role("button", name="Pause", exact=True).click(timeout=30_000)
    page.get_by_role("button", name="Play", exact=True).wait_for(timeout=30_000)
    paused_at = progress_step(page)
    time.sleep(2)
    assert progress_step(page) == paused_at, "training went on after Pause"
    page.get_by_role("link", name="Gates").first.click()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    assert page.get_by_label("Hidden units", exact=True).input_value() == "24"
    assert "hidden_size=24" in page.url and progress_step(page) == paused_at
    page.reload()
    page.get_by_label("Hidden units", exact=True).wait_for(timeout=30_000)
    assert page.get_by_label("Hidden units", exact=True).input_value() == "24"
    assert not exceptions(page)


# the first lesson of each page a lesson opens on (Train, Gradients, Compare, Text) and the one that forks: every
# lesson's button is clicked by AppTest (tests/test_pages.py), the browser proves the click for each kind of page
BROWSED = list({lesson.page: lesson for lesson in reversed(LESSONS)}.values())[::-1]
BROWSED += [lesson for lesson in LESSONS if lesson.fork and lesson not in BROWSED]


@pytest.mark.parametrize("lesson", BROWSED, ids=[lesson.key for lesson in BROWSED])
def test_a_lesson_button_of_each_page_in_a_fresh_session_starts_training(server, people, lesson):
    page = people.new_page()  # a new person: a fresh session
    page.goto(server)
    button = page.locator(f".st-key-lesson_{lesson.key} button")
    button.wait_for(timeout=60_000)
    clicked = time.time()
    button.click()
    page.wait_for_url(f"**/{lesson.page.split('_', 1)[1].removesuffix('.py')}**", timeout=30_000)
    wait_for_step(page, 1, timeout=30)  # the previous lessons were paused: the server is this person's
    print(f"{lesson.key}: training shown {time.time() - clicked:.1f} s after the click")
    assert not exceptions(page)
    pause = page.get_by_role("button", name="Pause", exact=True)
    if pause.count():  # leave as a user who is done would, so the next lesson's session gets the server
        try:
            pause.first.click(timeout=5_000)
        except PlaywrightError:  # the lesson ended (the button went) between the count and the click
            pass
    page.close()


def test_a_sweep_runs_to_the_end_by_itself_and_is_still_there_after_a_page_switch(server, browser):
    """The Sweep page's progress ticks with no click after ▶ Run sweep, and its choices and results survive
    leaving the page and coming back by the sidebar link."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/Sweep")
    for label, value in (("Sequence lengths T", "4, 6"), ("Seeds", "1"), ("Step budget", "20")):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        page.wait_for_timeout(300)
    page.get_by_role("button", name="▶ Run sweep").click(timeout=30_000)
    page.get_by_text("6 / 6 runs done (finished)").wait_for(timeout=180_000)  # nothing clicked meanwhile
    page.wait_for_selector(PLOT, timeout=30_000)
    page.get_by_role("link", name="Train").first.click()
    page.get_by_label("Hidden units", exact=True).wait_for(timeout=30_000)
    page.get_by_role("link", name="Sweep").first.click()
    page.get_by_text("6 / 6 runs done (finished)").wait_for(timeout=30_000)
    assert page.get_by_label("Sequence lengths T", exact=True).input_value() == "4, 6"
    assert page.get_by_label("Step budget", exact=True).input_value() == "20"
    assert max(plot_points(page)) > 0 and not exceptions(page)
    shot(page, "sweep_done")
