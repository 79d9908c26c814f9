"""Every page through Streamlit's AppTest: before and after training, URL config, bad input, divergence."""

import numpy as np
import pytest

from rnnviz import jobs
from rnnviz.config import RunConfig
from tests.pagetools import DIVERGES, PAGES, decode, open_page, play_to_the_end, press, specs, state, texts, traces


@pytest.fixture(autouse=True)
def empty_run_cache():
    """Finished runs are shared across sessions; each test starts with none."""
    jobs.RUN_CACHE.clear()


SHORT = {"steps": "40", "hidden_size": "16", "seq_len": "20", "probe_every": "10", "eval_every": "10"}


@pytest.mark.parametrize("path", PAGES)
def test_page_runs_before_training(path):
    at = open_page(path, **SHORT)
    assert not at.exception, at.exception
    assert state(at).run.step == 0  # the untrained model is already probed
    if path not in ("app.py", "pages/5_Compare.py", "pages/6_Text.py"):
        assert specs(at), f"{path} draws no figure before training"


@pytest.mark.parametrize("path", PAGES[1:5])
def test_page_after_short_training(path):
    at = open_page(path, **SHORT)
    press(at, "ctl_step", times=3)
    play_to_the_end(at)
    assert not at.exception, at.exception
    assert state(at).run.step == 40 and state(at).run.finished
    assert len(state(at).run.probes) == 5  # steps 0, 10, 20, 30, 40
    assert specs(at)


def test_train_page_loss_curve_has_every_step():
    at = open_page("pages/1_Train.py", **SHORT)
    press(at, "ctl_step", times=5)
    loss = [t for t in traces(at) if t.get("name", "").lower().startswith("train")]
    assert loss, [t.get("name") for t in traces(at)]
    assert len(decode(loss[0]["y"])) == 6  # steps 0..5
    assert np.allclose(decode(loss[0]["y"]), state(at).run.history.loss.to_numpy(), rtol=1e-5)


def test_url_config_round_trip():
    at = open_page("pages/1_Train.py", cell="gru", hidden_size="24", lr="0.01", clip="none")
    cfg = state(at).config
    assert (cfg.cell, cfg.hidden_size, cfg.lr, cfg.clip) == ("gru", 24, 0.01, None)
    assert at.selectbox(key="cfg_cell").value == "gru"
    at.number_input(key="cfg_hidden_size").set_value(40).run()
    assert state(at).config.hidden_size == 40
    assert at.query_params["hidden_size"] == ["40"] or at.query_params["hidden_size"] == "40"
    assert "reset" in texts(at, "info")


@pytest.mark.parametrize("query, message", [
    ({"hidden_size": "100000"}, "hidden_size=100000 is out of range"),
    ({"lr": "nan"}, "lr=nan"),
    ({"cell": "foo"}, "cell='foo' is not allowed"),
    ({"steps": "many"}, "steps='many' must be a whole number"),
])
def test_bad_url_value_is_refused_with_its_message(query, message):
    at = open_page("pages/1_Train.py", **query)
    assert not at.exception
    assert message in texts(at, "error")
    assert state(at).config == RunConfig()




def test_divergence_shows_error_and_keeps_run():
    at = open_page("pages/1_Train.py", **DIVERGES)
    play_to_the_end(at)
    run = state(at).run
    assert run.diverged_at is not None, run.history.tail()
    errors = texts(at, "error")
    assert f"diverged at step {run.diverged_at}" in errors and "learning rate" in errors
    assert len(run.history) == run.diverged_at + 1 and run.probes  # everything before it is kept
    at.switch_page("pages/4_Gradients.py").run()
    assert not at.exception and specs(at)


def test_switching_pages_keeps_the_run():
    at = open_page("pages/1_Train.py", **SHORT)
    press(at, "ctl_step", times=4)
    run = state(at).run
    for path in PAGES[2:5]:
        at.switch_page(path).run()
        assert not at.exception
        assert state(at).run is run and run.step == 4


def test_lesson_button_starts_the_lesson():
    at = open_page("app.py")
    at.button(key="lesson_sine").click().run()
    assert not at.exception
    cfg = state(at).config
    assert (cfg.cell, cfg.dataset, cfg.seq_len) == ("rnn_tanh", "sine", 20)
    assert state(at).playing


def test_text_page_colours_text_and_samples_with_a_character_model():
    at = open_page("pages/6_Text.py", dataset="text", cell="lstm", hidden_size="16", seq_len="30", steps="20")
    press(at, "ctl_step", times=2)
    assert not at.exception
    assert any("<span style=\"background:rgb(" in m.value for m in at.markdown)
    sample = at.code[0].value
    assert sample.startswith("The ") and len(sample) == len("The ") + 200
    assert "Units most correlated" in "\n".join(c.value for c in at.caption)
