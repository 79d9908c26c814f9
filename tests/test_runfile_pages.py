"""A run saved from one session and opened in another draws every page's figures with exactly the same data."""

import pytest
import streamlit as st

from rnnviz.runs import capacity
from rnnviz.runs.runfile import RunFileError, load_run, save_run
from rnnviz.ui import runfiles
from tests.pagetools import open_page, play_to_the_end, press, specs, state, texts

SHORT = {"steps": "24", "hidden_size": "12", "seq_len": "16", "probe_every": "6", "eval_every": "6"}


@pytest.fixture(autouse=True)
def empty_run_cache():
    capacity.RUN_CACHE.clear()


def open_in(at, run, monkeypatch):
    """What the uploader's callback does, with this AppTest's session state standing in for st.session_state."""
    with monkeypatch.context() as m:
        m.setattr(st, "session_state", at.session_state)
        runfiles.open_run(state(at), run)
    return at.run()


@pytest.mark.parametrize("path, query", [
    ("app.py", SHORT),
    ("pages/1_Train.py", SHORT),
    ("pages/2_Hidden_states.py", SHORT | {"cell": "gru", "num_layers": "2"}),
    ("pages/3_Gates.py", SHORT),
    ("pages/4_Gradients.py", SHORT | {"cell": "rnn_tanh", "dataset": "adding"}),
    ("pages/1_Train.py", SHORT | {"dataset": "memory", "cell": "gru"}),
])
def test_every_page_draws_the_same_figures_from_a_run_file(path, query, monkeypatch):
    at = play_to_the_end(open_page("pages/1_Train.py", **query))
    at.switch_page(path).run()
    original, blob = specs(at), save_run(state(at).run)
    assert original
    other = open_page("pages/1_Train.py")  # another session, on the default settings
    open_in(other, load_run(blob), monkeypatch).switch_page(path).run()
    assert not other.exception, other.exception
    assert state(other).config == state(at).config
    assert specs(other) == original
    assert "Opened" not in texts(other, "error")


def test_an_unfinished_run_opens_and_continues_to_the_end(monkeypatch):
    half = open_page("pages/4_Gradients.py", **SHORT)
    press(half, "ctl_step", times=9)
    saved = state(half).run
    other = open_in(open_page("pages/4_Gradients.py"), load_run(save_run(saved)), monkeypatch)
    assert state(other).run.step == 9 and "continue training" in texts(other, "info")
    play_to_the_end(other)
    assert not other.exception and specs(other)
    run = state(other).run
    assert run.step == 24 and [s for s, _ in run.probes] == [0, 6, 12, 18, 24]
    assert run.history.loss.iloc[:10].tolist() == saved.history.loss.tolist()  # the first 10 steps are the file's
    assert run.history.seconds.is_monotonic_increasing


def test_the_text_page_colours_the_same_text_after_opening(monkeypatch):
    query = {"dataset": "text", "cell": "lstm", "hidden_size": "16", "seq_len": "30", "steps": "6"}
    at = open_page("pages/6_Text.py", **query)
    press(at, "ctl_step", times=3)
    html = [m.value for m in at.markdown if "background:rgb(" in m.value]
    other = open_in(open_page("pages/6_Text.py"), load_run(save_run(state(at).run)), monkeypatch)
    assert [m.value for m in other.markdown if "background:rgb(" in m.value] == html
    assert other.code[0].value == at.code[0].value  # the same model samples the same continuation


def test_a_bad_file_leaves_the_current_run(monkeypatch):
    at = open_page("pages/1_Train.py", **SHORT)
    press(at, "ctl_step", times=2)
    run = state(at).run
    with pytest.raises(RunFileError):
        load_run(b"\x89PNG not a run")
    assert state(at).run is run  # nothing was replaced: opening happens only after load_run succeeded


def test_a_run_whose_settings_spell_out_defaults_is_not_reset_by_the_sidebar(monkeypatch):
    at = open_page("pages/1_Train.py", **SHORT)
    press(at, "ctl_step", times=2)
    run = load_run(save_run(state(at).run))
    run.config = run.config.replace(dataset_params={"frequency": 0.1} | run.config.dataset_params)
    other = open_in(open_page("pages/1_Train.py"), run, monkeypatch)
    other.run()
    assert state(other).run.step == 2 and "reset" not in texts(other, "info")
