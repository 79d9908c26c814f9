"""Load on one real server: eight browser sessions play at once with a single training slot.

Every session must finish without error, and while the slot is taken the others must say they wait
("Waiting for a free training slot"). Steps are lowered through the URL to keep the test short; each
session has its own seed, so none is served from the run cache.
"""

import time

import pytest
from playwright.sync_api import sync_playwright

from tests.browser import EXCEPTION, PLOT, launch, streamlit_server

pytestmark = pytest.mark.browser

SESSIONS = 8
STEPS = 40
PROGRESS = '[data-testid="stProgress"]'
WAITING = "Waiting for a free training slot"


def test_eight_sessions_with_one_slot_all_finish_and_the_waiting_is_shown():
    with streamlit_server(RNNVIZ_TRAINING_SLOTS="1") as url, sync_playwright() as p:
        browser = launch(p)
        contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(SESSIONS)]
        pages = [c.new_page() for c in contexts]
        for seed, page in enumerate(pages):
            page.goto(f"{url}/Train?steps={STEPS}&seed={seed}")
        for page in pages:
            page.get_by_role("button", name="Play").click(timeout=60_000)
        waited, pending, deadline = set(), set(range(SESSIONS)), time.time() + 240
        while pending and time.time() < deadline:
            for i in sorted(pending):
                if pages[i].get_by_text(WAITING).count():
                    waited.add(i)
                text = pages[i].locator(PROGRESS).first.inner_text()
                if "finished in" in text:
                    pending.discard(i)
            time.sleep(0.3)
        progress = {i: pages[i].locator(PROGRESS).first.inner_text() for i in sorted(pending)}
        assert not pending, f"sessions did not finish: {progress}"
        assert waited, "with one slot and eight sessions playing, some session must show that it waits"
        for page in pages:
            assert f"step {STEPS} / {STEPS}" in page.locator(PROGRESS).first.inner_text()
            assert page.get_by_text(WAITING).count() == 0  # the notice goes once the run is done
            assert page.locator(EXCEPTION).count() == 0 and page.locator(PLOT).count() >= 1
        browser.close()
