"""Live settings and forks in a real browser: the explode lesson rescued by a fork with clipping, both runs on one
chart with the fork marked; two learning-rate changes while playing, marked on the loss and gradient charts, still
there after a reload, and the run file opened on a fresh server shows the same numbers and marks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from rnnviz.runs.runfile import load_run
from tests.browser import exceptions, progress_step, shot, streamlit_server, wait_for_step
from tests.test_e2e_runfile import upload

pytestmark = pytest.mark.browser

LONG = "cell=lstm&dataset=adding&hidden_size=16&seq_len=20&steps=20000&eval_every=10&probe_every=20"


@pytest.fixture
def new_page(request, browser, tmp_path):
    contexts, failed = [], request.session.testsfailed

    def make():
        contexts.append(browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True))
        return contexts[-1].new_page()

    yield make
    for i, page in enumerate(p for c in contexts for p in c.pages):
        if request.session.testsfailed > failed:
            shot(page, f"{request.node.name}-{i}")
    for c in contexts:
        c.close()


def chart_texts(page) -> str:
    """Every text drawn in the page's plotly charts (titles, legends, annotations such as change marks)."""
    return "\n".join(page.locator(".js-plotly-plot text").evaluate_all("els => els.map(e => e.textContent)"))


def loss_values(page) -> list[float]:
    """The training loss curve's y values as the browser holds them (the first chart with a 'training' trace)."""
    return page.evaluate("""() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            const t = (el._fullData || []).find(d => (d.name || '').toLowerCase().startsWith('train'));
            if (t) return Array.from(t.y);
        }
        return null; }""")


def wait_for_chart_text(page, text: str, timeout: float = 60_000) -> None:
    page.locator(".js-plotly-plot text", has_text=text).first.wait_for(timeout=timeout)


def test_the_explode_lesson_forked_before_its_nan_with_clipping_trains_on_beside_its_parent(new_page, tmp_path):
    with streamlit_server(RNNVIZ_DATA_DIR=str(tmp_path / "data")) as url:
        page = new_page()
        page.goto(url, timeout=120_000)
        lesson = page.locator(".st-key-lesson_explode button")
        lesson.click(timeout=60_000)
        page.get_by_text("Training diverged at step 32").first.wait_for(timeout=60_000)
        # the run is at its NaN within 0.1 s of Play: go back to a step before it and fork from there
        page.get_by_role("button", name=re.compile(r"Fork from step")).click(timeout=30_000)
        body = page.get_by_test_id("stPopoverBody")
        field = body.get_by_role("spinbutton", name="From step")
        field.fill("10")
        field.press("Enter")
        page.wait_for_timeout(800)
        body = page.get_by_test_id("stPopoverBody")
        body.get_by_text("Clip the gradient norm").click()
        page.wait_for_timeout(800)
        page.get_by_test_id("stPopoverBody").get_by_role("button", name="Fork", exact=True).click()
        page.get_by_text("Forked at step 10 with clip off → 1").first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Play", exact=True).click(timeout=30_000)
        page.get_by_text(re.compile(r"step 600 / 600 · finished")).first.wait_for(timeout=120_000)
        assert page.get_by_text("diverged at step").count() == 0
        assert page.get_by_role("button", name="← back to the run at step 32").count() == 1
        page.get_by_role("link", name="Compare cells").first.click()
        page.get_by_text("This run and its forks").wait_for(timeout=60_000)
        wait_for_chart_text(page, "this run forks")
        texts = chart_texts(page)
        assert "its parent (forked at step 10) validation" in texts or "its parent (forked at step 10)" in texts
        assert not exceptions(page)
        shot(page, "fork_rescue_compare")


def test_two_lr_changes_while_playing_are_marked_kept_over_a_reload_and_in_the_run_file(new_page, tmp_path):
    with streamlit_server(RNNVIZ_DATA_DIR=str(tmp_path / "one")) as url:
        page = new_page()
        page.goto(f"{url}/Train?{LONG}", timeout=120_000)
        page.get_by_role("button", name="Play", exact=True).click(timeout=60_000)
        for old, new in (("0.003", "0.01"), ("0.01", "0.001")):
            wait_for_step(page, progress_step(page) + 30, timeout=60)
            lr = page.get_by_test_id("stSidebar").get_by_label("Learning rate", exact=True)
            lr.fill(new)
            lr.press("Enter")
            page.get_by_text(re.compile(rf"From step [\d,]+: lr {old} → {new}\. The run goes on")).first.wait_for(
                timeout=30_000)
            assert page.get_by_role("button", name="Pause", exact=True).count() == 1  # it kept playing
        wait_for_step(page, progress_step(page) + 30, timeout=60)
        page.get_by_role("button", name="Pause", exact=True).click()
        page.get_by_role("button", name="Play", exact=True).wait_for(timeout=30_000)
        marks = ("lr 0.003 → 0.01", "lr 0.01 → 0.001")
        for mark in marks:
            wait_for_chart_text(page, mark)
        page.get_by_role("link", name="Gradients").first.click()
        for mark in marks:
            wait_for_chart_text(page, mark)  # parameter-gradient norms, spectral radius, the heatmap
        page.get_by_role("link", name="Train").first.click()
        wait_for_chart_text(page, marks[1])
        page.wait_for_timeout(1500)
        before = loss_values(page)
        page.reload()
        for mark in marks:
            wait_for_chart_text(page, mark)
        assert page.get_by_text(marks[0]).count() >= 1  # the changes table too
        sidebar_lr = page.get_by_test_id("stSidebar").get_by_label("Learning rate", exact=True)
        expect(sidebar_lr).to_have_value("0.001")
        bar = page.get_by_test_id("stSidebar")
        bar.get_by_text("Run file", exact=True).click()
        with page.expect_download() as got:
            bar.get_by_role("button", name="Download this run").click()
        content = open(got.value.path(), "rb").read()
        assert not exceptions(page)
        saved = load_run(content)  # a whole run file, with the run's two changes
        assert [c.values["lr"] for c in saved.changes] == [0.01, 0.001]

    with streamlit_server(RNNVIZ_DATA_DIR=str(tmp_path / "two")) as fresh:
        other = new_page()
        other.goto(f"{fresh}/Train", timeout=120_000)
        other.get_by_label("Hidden units", exact=True).first.wait_for(timeout=60_000)
        upload(other, "changed.zip", content)
        other.get_by_text(re.compile("Opened changed.zip|changed.zip was not opened")).first.wait_for(timeout=60_000)
        assert other.get_by_text("Opened changed.zip").count() == 1, other.get_by_text("not opened").all_inner_texts()
        for mark in marks:
            wait_for_chart_text(other, mark)
        other.wait_for_timeout(1500)
        after = loss_values(other)
        assert len(before) > 100 and after == before  # the same numbers, step for step
        assert not exceptions(other)
        shot(other, "live_changes_runfile")
