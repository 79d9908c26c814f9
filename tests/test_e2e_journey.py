"""The user's journey in a real browser: a lesson, every page twice by the sidebar links, settings that
stay what the run is, a change seen on the next page, a reload, and every lesson button training."""

import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from rnnviz.lessons import BY_KEY, LESSONS
from tests.browser import exceptions, progress_step, shot, streamlit_server, wait_for_step

pytestmark = pytest.mark.browser

LINKS = ["Train", "Hidden states", "Gates", "Gradients", "Compare cells", "Text", "Home"]
NUMBERS = {"hidden_size": "Hidden units", "num_layers": "Layers", "seq_len": "Sequence length T",
           "steps": "Training steps", "batch_size": "Batch size", "lr": "Learning rate", "seed": "Seed"}
CHOICES = {"cell": ("Cell", {"rnn_tanh": "Vanilla RNN (tanh)", "lstm": "LSTM", "gru": "GRU"}),
           "optimizer": ("Optimizer", None)}


@pytest.fixture(scope="module")
def server():
    with streamlit_server(RNNVIZ_CACHE_RUNS="0") as url:  # every lesson trains: nothing comes from the cache
        yield url


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
        if name != "Compare cells":  # Compare shows its own group's progress
            step = progress_step(page) if page.locator('[data-testid="stProgress"]').count() else last
            assert step >= last, f"progress went back on {name}: {step} < {last}"
            last = step
    print(f"journey: 14 page stops in {time.time() - start:.1f} s, training reached step {last}")
    shot(page, "journey_end")


def test_a_change_on_one_page_shows_on_the_next_and_survives_a_reload(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/Train")
    field = page.get_by_label("Hidden units", exact=True)
    field.fill("24")
    field.press("Enter")
    page.get_by_text("Settings changed").wait_for(timeout=30_000)
    page.get_by_role("link", name="Gates").first.click()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    assert page.get_by_label("Hidden units", exact=True).input_value() == "24"
    assert "hidden_size=24" in page.url
    page.reload()
    page.get_by_label("Hidden units", exact=True).wait_for(timeout=30_000)
    assert page.get_by_label("Hidden units", exact=True).input_value() == "24"


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.key for lesson in LESSONS])
def test_every_lesson_button_in_a_fresh_session_starts_training(server, browser, lesson):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # a new person
    page = context.new_page()
    page.goto(server)
    page.locator(f".st-key-lesson_{lesson.key} button").click(timeout=60_000)
    page.wait_for_url(f"**/{lesson.page.split('_', 1)[1].removesuffix('.py')}**", timeout=30_000)
    wait_for_step(page, 1, timeout=120)  # this server also serves the lessons before this one
    assert not exceptions(page)
    pause = page.get_by_role("button", name="Pause", exact=True)
    if pause.count():  # leave as a user who is done would, so the next lesson's session gets the server
        try:
            pause.first.click(timeout=5_000)
        except PlaywrightError:  # the lesson ended (the button went) between the count and the click
            pass
    context.close()
