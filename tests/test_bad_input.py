"""Bad input through the UI: each shows its message, the app keeps working, the previous run is not lost.

Uploads go through a real browser (AppTest has no file_uploader); URL params and divergence through AppTest.
"""

import numpy as np
import pytest

from rnnviz import datasets
from rnnviz.datasets import DatasetError
from rnnviz.engine.config import RunConfig
from rnnviz.runs import capacity
from tests.browser import PLOT, exceptions, progress_step, shot, streamlit_server, wait_for_step
from tests.pagetools import DIVERGES, open_page, play_to_the_end, press, specs, state, texts

SHORT = {"steps": "40", "hidden_size": "8", "seq_len": "20", "probe_every": "5", "eval_every": "5"}

SINE = "\n".join(["value"] + [f"{np.sin(0.1 * i):.5f}" for i in range(200)]).encode()
BAD_UPLOADS = [  # (file name, content, text of the message the user sees)
    ("empty.csv", b"", "is empty"),
    ("binary.csv", bytes(range(256)) * 64, "binary file"),
    ("huge.csv", b"1\n" * (3 * 2**20), "File must be 5.0MB or smaller"),  # Streamlit's own cap (config.toml)
    ("nans.csv", b"value\n" + b"nan\n" * 50, "no numeric column"),
    ("short.csv", b"value\n1\n2\n3\n4\n5\n", "at least 21 are needed"),  # passes the upload, too short for T=20
    ("latin1.csv", "température\n1,5\n2,5\n".encode("latin-1"), "not UTF-8"),
]


@pytest.fixture(autouse=True)
def empty_run_cache():
    capacity.RUN_CACHE.clear()


@pytest.mark.browser
def test_bad_uploads_show_their_message_and_keep_the_run(browser):
    with streamlit_server() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/Train?" + "&".join(f"{k}={v}" for k, v in SHORT.items()))
        for _ in range(3):
            page.get_by_role("button", name="Step", exact=True).click(timeout=60_000)
            page.wait_for_timeout(300)
        steps = wait_for_step(page, 3, timeout=60)
        page.locator("[class*=st-key-cfg_dataset__]").click()
        page.keyboard.type("Your CSV")  # the list is long: filter it to the option
        page.get_by_role("option", name="Your CSV time series").click()
        page.get_by_text("no CSV uploaded yet").first.wait_for(timeout=30_000)
        assert progress_step(page) == steps  # choosing a dataset that has no data yet keeps the run

        upload = page.locator(".st-key-file_csv input[type=file]")
        for name, content, message in BAD_UPLOADS:
            upload.set_input_files({"name": name, "mimeType": "text/csv", "buffer": content})
            page.get_by_text(message).first.wait_for(timeout=30_000)
            assert not exceptions(page), name
            assert progress_step(page) == steps, f"{name} lost the run"
            assert page.locator(PLOT).count() >= 1, f"{name}: the views stopped rendering"
            shot(page, f"bad_upload_{name.split('.')[0]}")

        upload.set_input_files({"name": "sine.csv", "mimeType": "text/csv", "buffer": SINE})
        page.get_by_text("Settings changed").first.wait_for(timeout=30_000)  # a good file: a fresh run on it
        assert "dataset=csv" in page.url
        page.get_by_role("button", name="Step", exact=True).click()
        wait_for_step(page, 1, timeout=30)
        assert not exceptions(page)
        page.close()


def test_the_upload_store_refuses_files_over_5_mb_with_its_own_message():
    """Behind Streamlit's cap (server.maxUploadSize) the app checks the size again, with its own message."""
    with pytest.raises(DatasetError, match="uploads are limited to 5 MB"):
        datasets.register_upload(b"1\n" * (3 * 2**20), "huge.csv")


@pytest.mark.parametrize("query, message", [
    ({"hidden_size": "100000"}, "hidden_size=100000 is out of range"),
    ({"lr": "nan"}, "lr=nan"),
    ({"cell": "foo"}, "cell='foo' is not allowed"),
    ({"probe_size": "-3"}, "probe_size=-3 is out of range"),
    ({"steps": "many"}, "steps='many' must be a whole number"),
    ({"dataset_params": "{oops"}, "not valid JSON"),
    ({"dataset_params": "[" * 1000 + "]" * 1000}, "flat JSON object"),  # refused before it is decoded
    ({"dataset": "csv", "dataset_params": '{"upload": "0123456789abcdef"}'}, "no longer on this server"),
])
def test_a_nonsense_link_shows_its_message_and_the_app_still_trains(query, message):
    at = open_page("pages/1_Train.py", **query)
    assert not at.exception, at.exception
    assert message in texts(at, "error")
    assert state(at).config == RunConfig()
    press(at, "ctl_step", times=2)
    assert state(at).run.step == 2 and specs(at) and not at.exception


def test_a_bad_url_in_a_running_session_does_not_touch_its_run():
    at = press(open_page("pages/1_Train.py", **SHORT), "ctl_step", times=3)
    run, config = state(at).run, state(at).config
    at.query_params["hidden_size"] = "100000"
    at.query_params["lr"] = "nan"
    at.run()
    assert not at.exception
    assert state(at).run is run and run.step == 3 and state(at).config == config
    assert at.query_params["hidden_size"] in ("8", ["8"])  # the URL is rewritten to the session's config




def test_a_diverging_run_keeps_its_steps_and_every_view_renders():
    at = open_page("pages/1_Train.py", **DIVERGES)
    play_to_the_end(at)
    run = state(at).run
    assert run.diverged_at is not None, run.history.tail()
    errors = texts(at, "error")
    assert f"diverged at step {run.diverged_at}" in errors and "learning rate" in errors
    kept = len(run.history)
    assert kept == run.diverged_at + 1 and run.probes  # everything before it is kept
    assert at.button(key="ctl_step").disabled and at.button(key="ctl_play").disabled
    for path in ("pages/2_Hidden_states.py", "pages/3_Gates.py", "pages/4_Gradients.py", "pages/1_Train.py"):
        at.switch_page(path).run()
        assert not at.exception, (path, at.exception)
        assert specs(at), path
    assert state(at).run is run and len(run.history) == kept
    at.button(key="ctl_reset").click().run()  # and the way out works
    assert state(at).run.step == 0 and not at.exception
