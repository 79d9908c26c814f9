"""Live settings on the pages: the sidebar changes the run without a reset, every training-step chart marks the
change, the Train page lists it, the link carries it; new-model settings keep the old run one click away; a fork
from the step slider becomes the session's run and overlays with its parent."""

import json

import numpy as np
import pytest

from rnnviz.runs import capacity
from rnnviz.views import figures
from tests.pagetools import PAGES, open_page, press, specs, state, widget

SHORT = {"hidden_size": "8", "seq_len": "10", "steps": "40", "probe_every": "5", "eval_every": "5"}


@pytest.fixture(autouse=True)
def empty_run_cache():
    capacity.RUN_CACHE.clear()


def marks(spec: dict) -> list[str]:
    """The labels of the change marks on one chart."""
    colored = [s for s in spec["layout"].get("shapes", []) if s.get("line", {}).get("color") == figures.CHANGE_COLOR]
    texts = [a["text"] for a in spec["layout"].get("annotations", [])
             if a.get("font", {}).get("color") == figures.CHANGE_COLOR]
    assert len(colored) >= len(texts)
    return texts


def chart(at, title: str) -> dict:
    found = [s for s in specs(at) if s["layout"].get("title", {}).get("text", "").startswith(title)]
    assert found, [s["layout"].get("title", {}).get("text") for s in specs(at)]
    return found[0]


def two_changes() -> tuple:
    """The Train page, 3 steps, lr 0.01, 3 more, lr 0.001, 2 more: the AppTest and its run."""
    at = press(open_page("pages/1_Train.py", **SHORT), "ctl_step", times=3)
    run = state(at).run
    widget(at, "number_input", "cfg_lr", sidebar=True).set_value(0.01).run()
    assert "From step 4: lr 0.003 → 0.01. The run goes on" in at.info[0].value
    press(at, "ctl_step", times=3)
    widget(at, "number_input", "cfg_lr", sidebar=True).set_value(0.001).run()
    press(at, "ctl_step", times=2)
    assert state(at).run is run and run.step == 8
    return at, run


def test_two_live_lr_changes_are_marked_listed_and_carried_by_the_link():
    at, run = two_changes()
    assert [c.step for c in run.changes] == [4, 7]
    assert marks(chart(at, "Loss")) == ["lr 0.003 → 0.01", "lr 0.01 → 0.001"]
    table = at.dataframe[0].value
    assert table.to_dict("list") == {"step": [4, 7], "change": ["lr 0.003 → 0.01", "lr 0.01 → 0.001"]}
    assert widget(at, "number_input", "cfg_lr", sidebar=True).value == 0.001  # the sidebar shows the run's now
    query = {k: v if isinstance(v, str) else v[0] for k, v in at.query_params.items() if k != "run"}
    assert json.loads(query["changes"]) == [[4, {"lr": 0.01}], [7, {"lr": 0.001}]]
    # the link without the run's id (another server): the same settings and changes, the same numbers
    again = press(open_page("pages/1_Train.py", **query), "ctl_step", times=8)
    np.testing.assert_array_equal(state(again).run.history.loss.to_numpy(), run.history.loss.to_numpy())


def test_every_chart_with_a_training_step_axis_marks_the_changes():
    at, run = two_changes()
    want = ["lr 0.003 → 0.01", "lr 0.01 → 0.001"]
    at.switch_page("pages/4_Gradients.py").run()
    assert not at.exception
    for title in ("Parameter gradient norms", "Spectral radius of W_hh", "Gradient norm: training step × time step"):
        assert marks(chart(at, title)) == want, title
    slider = [s for s in at.select_slider if s.label == "Training step (probe)"][0]
    assert slider.format_func(5) == "5 ◆ lr 0.003 → 0.01" and slider.format_func(10) == "10"
    at.switch_page("pages/3_Gates.py").run()
    assert marks(chart(at, "Saturation over training")) == want


def test_a_new_model_setting_starts_a_new_run_and_back_returns_to_the_old_one_on_every_page():
    at = press(open_page("pages/1_Train.py", **SHORT), "ctl_step", times=6)
    old = state(at).run
    widget(at, "number_input", "cfg_hidden_size", sidebar=True).set_value(12).run()
    assert state(at).run is not old and state(at).config.hidden_size == 12
    for path in PAGES[1:]:
        at.switch_page(path).run()
        assert [b.label for b in at.button if b.label.startswith("←")] == ["← back to the run at step 6"], path
    back = [b for b in at.button if b.label.startswith("←")][0]
    back.click().run()
    assert state(at).run is old and state(at).config.hidden_size == 8
    assert not [b for b in at.button if b.label.startswith("←")]  # the run left had no step: nothing to go back to


def test_fork_from_the_step_slider_with_clipping_becomes_the_sessions_run_and_overlays_with_its_parent():
    at = press(open_page("pages/4_Gradients.py", **SHORT, clip="none"), "ctl_step", times=12)
    parent = state(at).run
    widget(at, "checkbox", "fork_clip_on").check().run()
    widget(at, "number_input", "fork_clip").set_value(0.5)
    widget(at, "button", "fork_go").click().run()  # the slider follows the latest probe: step 10
    fork = state(at).run
    assert fork is not parent and fork.fork_step == 10 and fork.step == 10
    assert [(c.step, dict(c.values)) for c in fork.changes] == [(11, {"clip": 0.5})]
    assert "Forked at step 10 with clip off → 0.5" in at.info[0].value
    assert state(at).previous.run is parent and parent.step == 12  # kept as it was
    press(at, "ctl_step", times=4)
    assert marks(chart(at, "Parameter gradient norms")) == ["fork: clip off → 0.5"]
    at.switch_page("pages/5_Compare.py").run()
    family = chart(at, "Loss by run")
    assert {t["name"] for t in family["data"]} >= {"this run validation", "its parent (forked at step 10) training"}
    own = [t for t in family["data"] if t["name"] == "this run training"][0]
    assert own["x"][0] == 10 if isinstance(own["x"], list) else True  # from its branch point
    assert "its parent (forked at step 10) forks" not in marks(family) and "this run forks" in marks(family)


def test_a_fork_from_a_step_between_probes_is_trained_again_to_that_step():
    at = press(open_page("pages/4_Gradients.py", **SHORT), "ctl_step", times=12)
    parent = state(at).run
    widget(at, "number_input", "fork_step").set_value(7)
    widget(at, "button", "fork_go").click().run()
    fork = state(at).run
    assert fork.fork_step == 7 and fork.changes == ()
    press(at, "ctl_step", times=5)
    np.testing.assert_array_equal(fork.history.loss.to_numpy(), parent.history.loss.to_numpy())


def test_a_view_only_link_shows_the_live_settings_disabled_and_refuses_a_change():
    at = press(open_page("pages/1_Train.py", **SHORT), "ctl_step", times=2)
    view = state(at).access.held.entry.view_token
    other = open_page("pages/1_Train.py", run=view)
    assert widget(other, "number_input", "cfg_lr", sidebar=True).disabled
    assert not widget(other, "selectbox", "cfg_cell", sidebar=True).disabled  # a new run of its own is fine


def test_changing_probe_samples_live_keeps_every_page_drawing():
    at = press(open_page("pages/1_Train.py", **SHORT), "ctl_step", times=6)
    widget(at, "number_input", "cfg_probe_size", sidebar=True).set_value(3).run()
    press(at, "ctl_step", times=6)
    run = state(at).run
    assert [t.hidden.shape[1] for _, t in run.probes] == [8, 8, 3]  # steps 0 and 5 with 8 samples, 10 with 3
    for path in PAGES:
        at.switch_page(path).run()
        assert not at.exception, (path, at.exception)


def test_a_live_change_on_a_finished_run_starts_a_new_run_with_it():
    at = open_page("pages/1_Train.py", **SHORT | {"steps": "3"})
    press(at, "ctl_step", times=3)
    old = state(at).run
    assert old.finished
    widget(at, "number_input", "cfg_lr", sidebar=True).set_value(0.02).run()
    assert state(at).run is not old and state(at).config.lr == 0.02
    assert "The run had finished, so the change starts a new run" in at.info[0].value


def test_the_rescue_lesson_is_one_click_a_fork_of_the_diverged_explode_run_beside_it_on_compare():
    at = open_page("app.py")
    at.button(key="lesson_rescue").click().run()
    run = state(at).run
    assert run.fork_step == 10 and [(c.step, dict(c.values)) for c in run.changes] == [(11, {"clip": 1.0})]
    assert state(at).previous.run.diverged_at == 32 and state(at).lesson.key == "rescue"
    assert state(at).playing
    state(at).worker.pause()
    at.switch_page("pages/5_Compare.py").run()
    family = chart(at, "Loss by run")
    assert "this run forks" in marks(family)
    assert {t["name"] for t in family["data"]} >= {"this run validation", "its parent (forked at step 10) training"}


def test_the_plateau_lesson_marks_its_change_on_the_loss_curve():
    at = open_page("app.py")
    at.button(key="lesson_plateau").click().run()
    state(at).worker.pause()
    at.switch_page("pages/1_Train.py").run()
    assert state(at).run.changes and marks(chart(at, "Loss")) == ["lr 0.05 → 0.005"]
