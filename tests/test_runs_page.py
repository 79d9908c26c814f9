"""The Runs page and the run link (issue 21.2, 21.5, 21.8): this browser's runs, open / rename / delete / download,
overlays in each run's colour; ?run= opens the same run, a view-only link only watches, an unknown id says so."""

from __future__ import annotations

import pytest
from pagetools import open_page, press, state, traces, wait_until

from rnnviz.runs import listing
from rnnviz.runs.registry import GONE, Refused, registry
from rnnviz.runs.runfile import load_run
from rnnviz.ui.runfiles import run_file_bytes
from rnnviz.ui.state import apply_config

SHORT = {"cell": "gru", "dataset": "sine", "hidden_size": "8", "seq_len": "12", "steps": "30", "probe_every": "5",
         "eval_every": "5"}


def runs_page(at):
    return at.switch_page("pages/8_Runs.py").run()


def trained(at, steps: int = 3):
    press(at, "ctl_step", times=steps)
    return state(at).run


def reseed(at, seed: int) -> None:
    """New settings (what the sidebar's seed box does): a new run, the old one kept."""
    assert apply_config(state(at), state(at).config.replace(seed=seed))
    at.run()


def picker(at):
    return next(w for w in at.selectbox if (w.key or "").startswith("view_runs_pick__"))


def overlay(at):
    return next(w for w in at.multiselect if (w.key or "").startswith("view_runs_overlay__"))


def test_a_browser_with_no_runs_is_told_how_to_make_one():
    at = runs_page(open_page("app.py"))
    assert not at.exception
    assert "No runs yet" in at.info[0].value


def test_the_runs_of_this_browser_are_listed_and_overlaid_each_in_its_own_colour():
    at = open_page("pages/1_Train.py", **SHORT)
    first = trained(at)
    reseed(at, 7)
    second = trained(at, 5)
    assert second is not first and first.step == 3  # the first run was kept, paused
    at = runs_page(at)
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 2 and list(table["step"]) == ["5 / 30", "3 / 30"]  # newest first
    assert "GRU · sine · T=12 · hidden 8" in table["settings"][0] and "seed 7" in table["settings"][0]
    overlay(at).set_value([e for e in overlay(at).options]).run()
    lines = [t for t in traces(at) if t.get("mode") == "lines" and "validation" in t.get("name", "")]
    assert len({t["line"]["color"] for t in lines}) == 2 and {t["line"]["color"] for t in lines} <= set(
        listing.RUN_COLORS)
    grads = [t for t in traces(at) if "‖" not in t.get("name", "") and ":" in t.get("name", "")]
    assert len(grads) == 2  # each run's gradient-decay curve, its decay rate in the legend


def test_open_rename_delete_and_download():
    at = open_page("pages/1_Train.py", **SHORT)
    run = trained(at, 4)
    own = state(at).access
    reseed(at, 3)
    trained(at, 2)
    at = runs_page(at)
    old = listing.labels([own.held.entry])[own.held.key]
    picker(at).set_value(old).run()
    name = next(w for w in at.text_input if (w.key or "").startswith("runs_name_"))
    name.set_value("my first GRU").run()
    assert "my first GRU" in list(at.dataframe[0].value["run"])
    assert registry().store.get(own.held.key).name == "my first GRU"  # kept on disk too
    assert [el.proto.label for el in at.get("download_button") if el.proto.label == "Download"] == ["Download"]
    assert load_run(run_file_bytes(own.trainer)).history.equals(run.history)  # what the button hands the browser
    at.button(key=next(b.key for b in at.button if (b.key or "").startswith("runs_open__"))).click().run()
    assert not at.exception and state(at).run is run  # opened on the Train page
    at = runs_page(at)
    picker(at).set_value("my first GRU").run()
    at.checkbox(key=next(c.key for c in at.checkbox if c.key.startswith("runs_confirm__"))).check().run()
    at.button(key=next(b.key for b in at.button if b.key.startswith("runs_delete__"))).click().run()
    assert not at.exception
    assert "my first GRU" not in list(at.dataframe[0].value["run"])
    assert registry().store.get(own.held.key) is None and registry().open(own.secret) is None
    assert state(at).run is not run and state(at).run.step <= 0  # the session's run was it: a fresh one


def test_another_browser_sees_none_of_them():
    mine = open_page("pages/1_Train.py", **SHORT)
    trained(mine)
    theirs = runs_page(open_page("app.py"))
    assert "No runs yet" in theirs.info[0].value  # nothing listed, nothing said about what exists


def test_a_run_link_opens_the_same_run_in_a_second_tab_still_training():
    at = open_page("pages/1_Train.py", **{**SHORT, "steps": "100000"})
    at.button(key="ctl_play").click().run()
    run, secret = state(at).run, state(at).access.secret
    wait_until(lambda: run.step >= 20, what="twenty steps")
    assert at.query_params["run"] == [secret] or at.query_params["run"] == secret
    other = open_page("pages/1_Train.py", run=secret)
    assert not other.exception and state(other).run is run and state(other).playing
    assert state(other).can_control and other.button(key="ctl_pause") is not None
    other.button(key="ctl_pause").click().run()
    assert not state(at).playing  # Pause in one tab is the run's pause: the other tab's timer shows it


def test_a_view_only_link_watches_without_the_buttons_and_the_registry_refuses_it():
    at = open_page("pages/1_Train.py", **SHORT)
    trained(at)
    access = state(at).access
    watcher = open_page("pages/1_Train.py", run=access.held.entry.view_token)
    assert not watcher.exception and state(watcher).run is access.run
    assert not state(watcher).can_control
    assert not [b for b in watcher.button if (b.key or "").startswith("ctl_")]  # no Play, Pause, Step, Reset
    assert any("view-only link" in i.value for i in watcher.info)
    with pytest.raises(Refused):
        registry().control(state(watcher).access)
    with pytest.raises(Refused):
        registry().delete(state(watcher).access)


@pytest.mark.parametrize("bad", ["notarealid0000000000000", "x", "'; DROP TABLE runs; --" * 3, "é" * 40])
def test_an_unknown_or_malformed_run_id_says_one_line_and_loads_the_settings(bad):
    at = open_page("pages/1_Train.py", run=bad, **SHORT)
    assert not at.exception
    assert [e.value for e in at.error] == [GONE + " Its settings are loaded below."]
    assert state(at).config.cell == "gru" and state(at).config.hidden_size == 8
    press(at, "ctl_step")
    assert state(at).run.step == 1


def test_a_kept_run_opens_after_the_server_lost_it_from_memory():
    at = open_page("pages/1_Train.py", **SHORT)
    run = trained(at, 6)
    access = state(at).access
    reg = registry()
    assert reg.checkpoint(access.held)
    with reg._lock:
        reg._held.pop(access.held.key)  # what a restart (or a long quiet spell) leaves: only the disk
    back = open_page("pages/1_Train.py", run=access.secret)
    assert not back.exception and state(back).run is not run
    assert state(back).run.step == 6 and state(back).run.history.equals(run.history)
    assert load_run(reg.store.read(access.held.key)).step == 6
