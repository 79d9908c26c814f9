"""Opening a run file in a real browser: the sidebar's uploader brings the run to every page, a bad file is refused."""

import time

import pytest
import torch
from playwright.sync_api import expect

from rnnviz import RunConfig, train_run
from rnnviz.runs.runfile import save_run
from tests.browser import exceptions, progress_step, shot, streamlit_server

pytestmark = pytest.mark.browser

CONFIG = RunConfig(cell="gru", hidden_size=12, seq_len=16, steps=40, probe_every=10, eval_every=5)  # not the defaults
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("runs") / "gru-run.zip"
    path.write_bytes(save_run(train_run(CONFIG)))
    torch.set_num_threads(threads)
    return path


def upload(page, name: str, content: bytes) -> None:
    """What a person does: open the sidebar's "Run file" panel and choose a file in "Open a run file"."""
    panel = page.get_by_test_id("stSidebar").get_by_text("Run file", exact=True)
    if not page.locator(".st-key-runfile_upload").is_visible():
        panel.click()
    page.locator(".st-key-runfile_upload input[type=file]").set_input_files(
        {"name": name, "mimeType": "application/zip", "buffer": content})


def visit(page, name: str) -> None:
    """Go to page `name` by its sidebar link, as a user would, and check it shows the opened run."""
    page.get_by_role("link", name=name).first.click()
    page.wait_for_url(f"**/{name}**", timeout=30_000)
    page.get_by_label("Hidden units", exact=True).first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    shows_the_run(page)


def shows_the_run(page) -> None:
    """The progress line and the sidebar's settings are the opened run's, and nothing raised."""
    bar = page.get_by_test_id("stSidebarUserContent")
    shown = {"Hidden units": "12", "Sequence length T": "16", "Training steps": "40"}
    for field, value in [(bar.get_by_role("combobox", name="Cell", exact=True), "GRU"),
                         *((bar.get_by_label(label, exact=True), value) for label, value in shown.items())]:
        expect(field).to_have_count(1, timeout=30_000)  # while the sidebar redraws, the old widget may linger
        expect(field).to_have_value(value)
    assert progress_step(page) == CONFIG.steps
    assert not exceptions(page)


def test_a_run_file_opens_on_every_page_and_a_bad_file_is_refused(browser, run_file):
    with streamlit_server() as url:
        start = time.time()
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/Train", timeout=120_000)
        page.get_by_label("Hidden units", exact=True).first.wait_for(timeout=60_000)
        expect(page.get_by_label("Hidden units", exact=True).first).not_to_have_value("12")  # the defaults, before

        chosen = time.time()
        upload(page, run_file.name, run_file.read_bytes())
        page.get_by_text(f"Opened {run_file.name}: a run at step 40 of 40").wait_for(timeout=30_000)
        opened = time.time() - chosen
        shows_the_run(page)
        shot(page, "runfile_opened")

        visit(page, "Gradients")
        assert "cell=gru" in page.url and "hidden_size=12" in page.url

        upload(page, "holiday.zip", PNG)  # a picture renamed to .zip
        page.get_by_text("holiday.zip was not opened: this is not a run file").wait_for(timeout=30_000)
        assert page.get_by_text("The current run stays.").count() == 1
        shows_the_run(page)
        shot(page, "runfile_refused")

        visit(page, "Train")
        print(f"run file test: opened {opened:.1f} s after choosing the file; {time.time() - start:.1f} s in all")
