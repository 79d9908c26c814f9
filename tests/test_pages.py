"""Every page through Streamlit's AppTest: before and after training, URL config, page switches, lessons."""

import numpy as np
import pytest

from rnnviz.runs import capacity
from rnnviz.views import metrics
from rnnviz.views.lessons import LESSONS
from tests.pagetools import PAGES, decode, open_page, play_to_the_end, press, specs, state, texts, traces, widget


@pytest.fixture(autouse=True)
def empty_run_cache():
    """Finished runs are shared across sessions; each test starts with none."""
    capacity.RUN_CACHE.clear()


SHORT = {"steps": "40", "hidden_size": "16", "seq_len": "20", "probe_every": "10", "eval_every": "10"}


@pytest.mark.parametrize("path", PAGES)
def test_page_runs_before_training(path):
    at = open_page(path, **SHORT)
    assert not at.exception, at.exception
    assert state(at).run.step == 0  # the untrained model is already probed
    if path not in ("app.py", "pages/5_Compare.py", "pages/6_Text.py", "pages/8_Runs.py"):  # nothing to draw yet
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
    assert widget(at, "selectbox", "cfg_cell").value == "gru"
    widget(at, "number_input", "cfg_hidden_size").set_value(40).run()
    assert state(at).config.hidden_size == 40
    assert at.query_params["hidden_size"] == ["40"] or at.query_params["hidden_size"] == "40"
    assert "new run starts at step 0" in texts(at, "info")
    assert not [b for b in at.button if b.label.startswith("← back")]  # the run left had no step yet


# bad URL values and divergence: tests/test_bad_input.py


def test_classification_train_page_runs_one_validation_pass_for_scores_and_confusion(monkeypatch):
    at = open_page("pages/1_Train.py", dataset="memory", **SHORT)
    calls, real = [], metrics.predict
    monkeypatch.setattr(metrics, "predict", lambda model, data: calls.append(model) or real(model, data))
    at.run()
    assert not at.exception, at.exception
    assert len(calls) == 1  # one pass feeds the accuracy, the verdict and the confusion matrix
    confusion = [t for t in traces(at) if t.get("type") == "heatmap"]
    assert len(confusion) == 1 and decode(confusion[0]["z"]).sum() == len(state(at).run.data.y_val)
    assert any(m.label == "Accuracy" for m in at.metric)


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


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.key for lesson in LESSONS])
def test_every_lesson_button_loads_the_lesson_plays_and_its_page_says_what_to_look_for(lesson):
    """The same click in every lesson's card as the browser test makes for one lesson per page it opens on."""
    at = open_page("app.py")
    at.button(key=f"lesson_{lesson.key}").click().run()
    assert not at.exception
    session = state(at)
    try:
        assert session.lesson is lesson and session.config == lesson.config
        assert session.playing or session.run.finished  # a short lesson may be done (or come from the run cache)
        at.switch_page(lesson.page).run()
        assert not at.exception
        assert lesson.title in "\n".join(str(s.value) for s in at.success)  # the page says what to look for
    finally:
        session.driver.pause()


def test_text_page_colours_text_and_samples_with_a_character_model():
    at = open_page("pages/6_Text.py", dataset="text", cell="lstm", hidden_size="16", seq_len="30", steps="20")
    press(at, "ctl_step", times=2)
    assert not at.exception
    assert any("<span style=\"background:rgb(" in m.value for m in at.markdown)
    sample = at.code[0].value
    assert sample.startswith("The ") and len(sample) == len("The ") + 200
    captions = "\n".join(c.value for c in at.caption)
    assert "Units ranked by |correlation|" in captions and "The rule (LSTMVis)" in captions
