"""The user's journey through the pages (AppTest): settings and view state come from the session, lessons
train on the page they open, and a lost upload never loses the run. The real-browser version of the walk
is tests/test_e2e_journey.py."""

import time

import pytest

from rnnviz import RunConfig
from rnnviz.datasets import clear_uploads, register_upload
from rnnviz.engine.config import SETTINGS
from rnnviz.runs import capacity
from rnnviz.views.lessons import BY_KEY, LESSONS
from tests.pagetools import PAGES, open_page, press, state, texts, wait_until, widget

SHORT = {"steps": "20", "hidden_size": "8", "seq_len": "10", "probe_every": "5", "eval_every": "5"}


@pytest.fixture(autouse=True)
def empty_run_cache():
    capacity.RUN_CACHE.clear()


def sidebar_values(at) -> dict:
    """What the sidebar's config widgets show, by setting name."""
    out = {}
    for name in SETTINGS:
        found = [w for w in getattr(at.sidebar, _kind(name)) if (w.key or "").startswith(f"cfg_{name}__")]
        if found:
            out[name] = found[0].value
    return out


def _kind(name: str) -> str:
    s = SETTINGS[name]
    return "selectbox" if s.choices is not None or name == "dataset" else "number_input"


def assert_sidebar_shows(at, config: RunConfig) -> None:
    shown = sidebar_values(at)
    assert len(shown) >= 14, shown
    for name, value in shown.items():
        want = getattr(config, name)
        if SETTINGS[name].optional:
            on = widget(at, "checkbox", f"cfg_{name}_on", sidebar=True).value
            assert on == (want is not None), name
            if want is None:
                continue
        assert value == want, (name, value, want)


def test_every_page_shows_the_sessions_settings_after_a_switch():
    at = open_page("app.py", **SHORT, cell="gru", clip="none", recurrent_radius="0.8")
    config = state(at).config
    assert (config.cell, config.clip, config.recurrent_radius) == ("gru", None, 0.8)
    for path in PAGES[1:] + PAGES[:1] + PAGES[1:]:  # every page, twice
        at.switch_page(path).run()
        assert not at.exception, (path, at.exception)
        assert_sidebar_shows(at, config)
        assert state(at).config == config and not texts(at, "error")


def test_a_sidebar_change_writes_the_config_resets_the_run_and_the_next_page_shows_it():
    at = press(open_page("pages/1_Train.py", **SHORT), "ctl_step", times=2)
    widget(at, "number_input", "cfg_hidden_size", sidebar=True).set_value(24).run()
    assert state(at).config.hidden_size == 24 and state(at).run.step == 0
    assert "Settings changed" in texts(at, "info")
    assert at.query_params["hidden_size"] in ("24", ["24"])
    at.switch_page("pages/3_Gates.py").run()
    assert widget(at, "number_input", "cfg_hidden_size", sidebar=True).value == 24


def test_a_refused_value_keeps_the_run_and_says_what_is_allowed():
    at = press(open_page("pages/1_Train.py", **SHORT), "ctl_step", times=2)
    run = state(at).run
    widget(at, "number_input", "cfg_lr", sidebar=True).set_value(0.0).run()
    assert "lr=0.0 is out of range" in texts(at, "error")
    assert state(at).run is run and state(at).config.lr == 3e-3
    assert widget(at, "number_input", "cfg_lr", sidebar=True).value == 3e-3  # the widget shows the config again


def test_an_optional_setting_turns_on_with_a_value_and_off_again():
    at = open_page("pages/1_Train.py", **SHORT)
    run = state(at).run
    widget(at, "checkbox", "cfg_clip_on", sidebar=True).uncheck().run()  # live: the same run, clipping off from step 1
    assert state(at).run is run and state(at).shown_config.clip is None and state(at).config.clip == 1.0
    assert [(c.step, dict(c.values)) for c in run.changes] == [(1, {"clip": None})]
    assert not widget(at, "checkbox", "cfg_clip_on", sidebar=True).value
    widget(at, "checkbox", "cfg_recurrent_radius_on", sidebar=True).check().run()  # a new model: a new run
    assert state(at).config.recurrent_radius == 1.0 and state(at).config.clip is None  # with the settings shown


def test_view_state_survives_a_page_switch():
    at = press(open_page("pages/3_Gates.py", **SHORT), "ctl_step", times=12)
    widget(at, "number_input", "view_sample").set_value(3).run()
    probe_steps = [s for s, _ in state(at).run.probes]
    widget(at, "select_slider", "view_probe_step").set_value(probe_steps[1]).run()
    at.switch_page("pages/4_Gradients.py").run()
    at.switch_page("pages/3_Gates.py").run()
    assert widget(at, "number_input", "view_sample").value == 3
    assert widget(at, "select_slider", "view_probe_step").value == probe_steps[1]


@pytest.mark.parametrize("key", [lesson.key for lesson in LESSONS if lesson.compare])
def test_a_compare_lesson_trains_on_the_compare_page(key):
    lesson = BY_KEY[key]
    at = open_page("app.py")
    at.button(key=f"lesson_{key}").click().run()
    group = state(at).compare
    assert group is not None and group.playing
    assert [t.config.cell for t in group.trainers] == list(lesson.compare)
    wait_until(lambda: all(t.run.step >= 3 for t in group.trainers), what="every cell training")
    at.switch_page(lesson.page).run()
    assert not at.exception
    assert lesson.title in "\n".join(str(s.value) for s in at.success)  # the page says what to look for
    assert "in all" in at.get("progress")[0].proto.text
    group.close()


def test_after_a_compare_lesson_every_page_shows_and_drives_the_groups_run_of_the_sessions_cell():
    """The lesson says "Gates: forget gates near 1": the Gates page must show the LSTM the group trains, not an
    untrained copy, and its Pause / Play must act on the group."""
    lesson = BY_KEY["lstm_remembers"]
    at = open_page("app.py")
    at.button(key=f"lesson_{lesson.key}").click().run()
    s = state(at)
    group = s.compare
    assert s.trainer in group.trainers and s.driver is group  # the session's run is the group's LSTM
    wait_until(lambda: s.run.step >= 3, what="the group training the session's run")
    at.switch_page("pages/3_Gates.py").run()
    assert not at.exception and state(at).run.step >= 3
    assert "Training the Compare page's group" in texts(at, "caption")
    at.button(key="ctl_pause").click().run()
    assert not group.playing and not s.worker.playing
    at.button(key="ctl_play").click().run()
    assert group.playing and not s.worker.playing  # one worker trains the shared run at a time
    old_runs = [t.run for t in group.trainers]
    widget(at, "number_input", "cfg_hidden_size", sidebar=True).set_value(16).run()  # new settings: a new run
    assert state(at).compare is None and not group.playing and state(at).driver is state(at).worker
    steps = [r.step for r in old_runs]
    time.sleep(0.3)
    assert [r.step for r in old_runs] == steps  # the old group stopped for good
    at.switch_page("pages/5_Compare.py").run()
    assert state(at).trainer in state(at).compare.trainers and not state(at).compare.playing


def test_the_compare_page_before_training_asks_for_play_instead_of_empty_axes():
    at = open_page("pages/5_Compare.py", **SHORT)
    assert "Press ▶ Play" in texts(at, "info")
    at.button(key="cmp_step").click().run()
    assert "Press ▶ Play" not in texts(at, "info") and not at.exception


def test_reset_after_the_upload_was_dropped_keeps_the_run_and_asks_for_the_file():
    """Issue 14.2: Reset used to drop the run before rebuilding it, and every page then failed."""
    series = "\n".join(str(0.1 * i % 3) for i in range(300)).encode()
    key = register_upload(series, "series.csv")
    at = open_page("pages/1_Train.py", **SHORT, dataset="csv", dataset_params=f'{{"upload": "{key}"}}')
    press(at, "ctl_step", times=2)
    run = state(at).run
    clear_uploads()  # the bounded store dropped it
    at.button(key="ctl_reset").click().run()
    assert "upload it again" in texts(at, "error")
    assert state(at).run is run and run.step == 2
    for path in PAGES:
        at.switch_page(path).run()
        assert not at.exception, (path, at.exception)
        if path == "pages/5_Compare.py":  # its other cells can't be built either: it says why, not "choose"
            assert "upload it again" in texts(at, "error") and "Choose at least one cell" not in texts(at, "info")


def test_a_dataset_that_needs_a_file_stays_chosen_while_the_run_stays():
    at = press(open_page("pages/1_Train.py", **SHORT), "ctl_step", times=2)
    run = state(at).run
    widget(at, "selectbox", "cfg_dataset", sidebar=True).set_value("csv").run()
    assert "no CSV uploaded yet" in texts(at, "error")
    assert widget(at, "selectbox", "cfg_dataset", sidebar=True).value == "csv"  # the upload widget is there to use
    assert at.get("file_uploader") and state(at).run is run and state(at).config.dataset == "sine"
    at.switch_page("pages/2_Hidden_states.py").run()
    assert widget(at, "selectbox", "cfg_dataset", sidebar=True).value == "csv" and not at.exception
    widget(at, "selectbox", "cfg_dataset", sidebar=True).set_value("adding").run()
    assert state(at).config.dataset == "adding" and not texts(at, "error")
