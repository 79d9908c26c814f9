"""Runs that outlive their page, in a real browser: a reload, a server stopped by SIGTERM and started again, a
second browser with the view-only link or the control link, and a link to a run the server does not have.

Every test starts its own server on its own empty run store (RNNVIZ_DATA_DIR)."""

from __future__ import annotations

import os
import re
import signal
import time
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from rnnviz.runs.registry import GONE
from rnnviz.runs.store import Store, key_of
from tests.browser import ROOT, SERVERS, exceptions, progress_step, shot, streamlit_server, wait_for_step

pytestmark = pytest.mark.browser

LONG = "cell=lstm&dataset=adding&hidden_size=16&steps=20000"  # an LSTM on `adding` that will not end in a test
CHECKPOINT_S = 2  # RNNVIZ_CHECKPOINT_S of the restart test: seconds of training between two checkpoints
WATCHING = "You are watching this run through a view-only link"
RESTORED = re.compile(r"Restored from its last checkpoint at step ([\d,]+)")
BUTTONS = ("Play", "Pause", "Step", "Reset")


@pytest.fixture
def new_page(request, browser):
    """new_page() -> a page in a browser context of its own (another browser: no shared cookies); every page is
    screenshotted when the test fails, and the contexts are closed after it."""
    contexts, failed = [], request.session.testsfailed

    def make():
        contexts.append(browser.new_context(viewport={"width": 1300, "height": 900}))
        return contexts[-1].new_page()

    yield make
    for i, page in enumerate(p for c in contexts for p in c.pages):
        if request.session.testsfailed > failed:  # the call's report is counted before the teardown
            shot(page, f"{request.node.name}-{i}")
    for c in contexts:
        c.close()


def open_run(page, url: str) -> None:
    page.goto(url, timeout=120_000)
    page.locator('[data-testid="stProgress"]').first.wait_for(timeout=60_000)


def play(page) -> None:
    page.get_by_role("button", name="Play", exact=True).click(timeout=60_000)
    page.get_by_role("button", name="Pause", exact=True).wait_for(timeout=30_000)


def run_id(page) -> str:
    page.wait_for_url("**run=**", timeout=30_000)
    return parse_qs(urlparse(page.url).query)["run"][0]


def progress_text(page) -> str:
    return page.locator('[data-testid="stProgress"]').first.inner_text(timeout=30_000)


def view_token(data_dir, secret: str, timeout: float = 20) -> str:
    """The run's view-only token from the store's index (its row appears with the run's first checkpoint)."""
    store = Store(data_dir, recover=False)  # beside a running server: leave its playing rows alone
    deadline = time.time() + timeout
    try:
        while (entry := store.get(key_of(secret))) is None:
            assert time.time() < deadline, f"the run is not in the store after {timeout} s"
            time.sleep(0.3)
        return entry.view_token
    finally:
        store.close()


def test_a_reload_keeps_the_run_training_at_its_step(tmp_path, new_page):
    with streamlit_server(RNNVIZ_DATA_DIR=str(tmp_path)) as url:
        page = new_page()
        open_run(page, f"{url}/Train?cell=lstm&dataset=adding&hidden_size=16&steps=5000")
        play(page)
        before, secret = wait_for_step(page, 300, timeout=30), run_id(page)
        page.reload()
        after = wait_for_step(page, before, timeout=30)  # the same run, not a fresh one at step 0
        assert run_id(page) == secret
        wait_for_step(page, after + 100, timeout=30)  # still training
        assert "training" in progress_text(page)
        expect(page.get_by_role("button", name="Pause", exact=True)).to_be_visible()
        assert not exceptions(page)


def test_sigterm_checkpoints_the_run_and_a_new_server_reopens_it_paused(tmp_path, new_page):
    settings = {"RNNVIZ_DATA_DIR": str(tmp_path), "RNNVIZ_CHECKPOINT_S": str(CHECKPOINT_S)}
    with streamlit_server(**settings) as url:
        page = new_page()
        open_run(page, f"{url}/Train?{LONG}")
        play(page)
        early = wait_for_step(page, 300, timeout=30)
        time.sleep(CHECKPOINT_S + 0.5)  # one checkpoint interval later
        late, link = progress_step(page), urlparse(page.url)
        proc = SERVERS[url]
        os.kill(proc.pid, signal.SIGTERM)
        stopped = time.time()
        proc.wait(timeout=10)  # Streamlit turns SIGTERM into a normal exit; atexit checkpoints the runs
        print(f"SIGTERM at step >= {late}: exit {proc.returncode} after {time.time() - stopped:.1f} s")
        page.close()
    with streamlit_server(**settings) as url:
        page = new_page()
        open_run(page, f"{url}{link.path}?{link.query}")  # the same link, on the server started again
        line = page.get_by_text(RESTORED)
        line.wait_for(timeout=30_000)
        restored = int(RESTORED.search(line.inner_text()).group(1).replace(",", ""))
        assert restored >= early > 0, f"restored at step {restored}, {early} one checkpoint before the SIGTERM"
        assert restored >= late, f"restored at step {restored} < {late} shown at the SIGTERM: no exit checkpoint"
        assert progress_step(page) == restored
        expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()  # paused
        time.sleep(1.5)
        assert progress_step(page) == restored and "training" not in progress_text(page)
        play(page)
        wait_for_step(page, restored + 100, timeout=30)  # Play continues it
        assert run_id(page) == parse_qs(link.query)["run"][0] and not exceptions(page)


def shown_within(locator, seconds: float) -> float:
    """Seconds until `locator` shows (AssertionError after `seconds`)."""
    start = time.time()
    expect(locator).to_be_visible(timeout=seconds * 1000)
    return time.time() - start


def test_another_browser_watches_with_the_view_link_and_controls_with_the_run_link(tmp_path, new_page):
    with streamlit_server(RNNVIZ_DATA_DIR=str(tmp_path), RNNVIZ_CHECKPOINT_S="1") as url:
        a = new_page()
        open_run(a, f"{url}/Train?{LONG}")
        play(a)
        wait_for_step(a, 50, timeout=30)
        secret = run_id(a)
        token = view_token(tmp_path, secret)

        watcher = new_page()  # another browser, with the view-only link
        open_run(watcher, a.url.replace(secret, token))
        expect(watcher.get_by_text(WATCHING)).to_be_visible(timeout=30_000)
        assert run_id(watcher) == token  # its URL never shows the control id
        for name in BUTTONS:
            assert watcher.get_by_role("button", name=name, exact=True).count() == 0, f"{name} on a view-only link"
        seen = progress_step(watcher)
        wait_for_step(watcher, seen + 100, timeout=20)  # follows A's training

        b = watcher.context.new_page()  # the same other browser, now with the run's own link
        open_run(b, a.url)
        for name in ("Pause", "Step", "Reset"):
            expect(b.get_by_role("button", name=name, exact=True)).to_be_visible(timeout=30_000)
        assert b.get_by_text(WATCHING).count() == 0
        b.get_by_role("button", name="Pause", exact=True).click()
        paused = shown_within(a.get_by_role("button", name="Play", exact=True), 3)
        a.get_by_role("button", name="Play", exact=True).click()
        played = shown_within(b.get_by_role("button", name="Pause", exact=True), 3)
        print(f"Pause in B shown in A after {paused:.1f} s, Play in A shown in B after {played:.1f} s")
        assert not exceptions(a) and not exceptions(b) and not exceptions(watcher)
        b.get_by_role("button", name="Pause", exact=True).click()  # a quiet server loads the next pages faster
        for page in (a, b, watcher):
            page.close()

        if not (ROOT / "pages" / "8_Runs.py").exists():
            print("pages/8_Runs.py does not exist: the Runs page check is skipped")
            return
        short = f"#{key_of(secret)[:6]}"  # how the Runs page labels the run
        mine = a.context.new_page()
        mine.goto(f"{url}/Runs", timeout=60_000)
        expect(mine.get_by_text(short).first).to_be_visible(timeout=30_000)  # A's browser lists it
        theirs = b.context.new_page()
        theirs.goto(f"{url}/Runs", timeout=60_000)
        expect(theirs.get_by_text("No runs yet")).to_be_visible(timeout=30_000)
        assert theirs.get_by_text(short).count() == 0


def test_a_link_to_a_run_the_server_lacks_says_so_once_and_the_page_trains(tmp_path, new_page):
    with streamlit_server(RNNVIZ_DATA_DIR=str(tmp_path)) as url:
        page = new_page()
        for bad in ("notarealid0000000000000", "x"):  # unknown, malformed: the same answer
            page.goto(f"{url}/Train?hidden_size=16&run={bad}", timeout=120_000)
            expect(page.get_by_text(GONE)).to_have_count(1, timeout=60_000)
            expect(page.get_by_label("Hidden units", exact=True)).to_have_value("16")  # the link's settings
        play(page)
        wait_for_step(page, 50, timeout=30)
        assert run_id(page) != "x" and not exceptions(page)
