"""The Sweep page: presets load, a tiny sweep runs to the end as the page is re-run, the plots and table fill,
its choices survive a page switch, a row's link opens the finished run from the cache."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl

from rnnviz.runs import cluster
from rnnviz.runs import sweep as sweep_mod
from tests.pagetools import decode, open_page, specs, state, texts, widget

PAGE = "pages/7_Sweep.py"


def test_preset_loads_its_grid():
    at = open_page(PAGE)
    assert widget(at, "selectbox", "view_sw_task").value == "adding"
    assert widget(at, "text_input", "view_sw_lengths").value == "10, 20, 50, 100, 200"
    assert widget(at, "multiselect", "view_sw_cells").value == ["rnn_tanh", "lstm", "gru"]
    widget(at, "selectbox", "view_sw_preset").set_value("memory").run()
    assert widget(at, "selectbox", "view_sw_task").value == "memory"
    assert widget(at, "text_input", "view_sw_lengths").value.endswith("400")


def test_choices_survive_a_page_switch():
    at = open_page(PAGE)
    widget(at, "text_input", "view_sw_lengths").set_value("5, 7").run()
    widget(at, "number_input", "view_sw_seeds").set_value(2).run()
    at.switch_page("pages/1_Train.py").run()
    at.switch_page(PAGE).run()
    assert widget(at, "text_input", "view_sw_lengths").value == "5, 7"
    assert widget(at, "number_input", "view_sw_seeds").value == 2


def test_without_ray_the_page_says_how_to_use_a_cluster(monkeypatch):
    monkeypatch.setattr(sweep_mod, "ray_available", lambda: False)
    monkeypatch.setattr(cluster, "ray_available", lambda: False)
    at = open_page(PAGE)
    assert "requirements-ray.txt" in texts(at, "caption") and not [w for w in at.text_input if "sw_ray" in w.key]


def test_bad_lengths_are_refused_with_a_message():
    at = open_page(PAGE)
    widget(at, "text_input", "view_sw_lengths").set_value("10, ten").run()
    at.button(key="sw_start").click().run()
    assert "'ten'" in texts(at, "error") and "sweep" not in state(at).view


def test_a_tiny_sweep_completes_and_draws_its_curve():
    at = open_page(PAGE)
    widget(at, "selectbox", "view_sw_task").set_value("memory").run()
    widget(at, "multiselect", "view_sw_cells").set_value(["rnn_tanh", "gru"]).run()
    widget(at, "text_input", "view_sw_lengths").set_value("4, 6").run()
    widget(at, "number_input", "view_sw_seeds").set_value(1).run()
    widget(at, "number_input", "view_sw_budget").set_value(20).run()
    at.button(key="sw_start").click().run()
    sweep = state(at).view["sweep"]
    assert sweep.total == 4
    deadline = time.monotonic() + 240
    while sweep.running and time.monotonic() < deadline:  # the fragment's timer does not tick in AppTest
        time.sleep(0.5)
        at.run()
    assert not sweep.running and sweep.error is None and sweep.done == 4
    at.run()
    assert "4 / 4 runs done (finished)" in str([p.proto.text for p in at.get("progress")])
    success, steps = specs(at)
    curves = {t["name"]: (decode(t["x"]), decode(t["y"])) for t in success["data"]}
    assert set(curves) == {"rnn_tanh", "gru"} and list(curves["gru"][0]) == [4, 6]
    expected = sweep.results.groupby(["cell", "seq_len"])["solved"].mean()
    assert list(curves["gru"][1]) == list(expected["gru"])
    table = at.dataframe[0].value
    assert len(table) == 4 and all(link.startswith("Train?") and "dataset=memory" in link for link in table["open"])
    # a row's link opens that run on the Train page, from the server's cache, not trained again
    query = dict(parse_qsl(table["open"][0].removeprefix("Train?")))
    train = open_page("pages/1_Train.py", **query)
    assert "shown from the cache" in texts(train, "info") and state(train).trainer.finished


def tiny_grid(cells=("rnn_tanh", "gru"), lengths=(4, 6)):
    base = sweep_mod.PRESETS["memory"].grid.base
    return sweep_mod.Grid(base, cells, lengths, (0,), budget=20, check_every=10)


def same_browser(monkeypatch) -> None:
    """Two AppTest sessions of one browser (the cookie's token, which AppTest has not)."""
    from rnnviz.ui import browser

    monkeypatch.setattr(browser, "_cookie", lambda: "one-browser-token-0123456789abcdef")


def test_a_reload_reattaches_the_sweep_and_its_runs_are_on_the_runs_page(monkeypatch):
    same_browser(monkeypatch)
    at = open_page(PAGE)
    widget(at, "selectbox", "view_sw_task").set_value("memory").run()
    widget(at, "multiselect", "view_sw_cells").set_value(["gru"]).run()
    widget(at, "text_input", "view_sw_lengths").set_value("4, 5").run()
    widget(at, "number_input", "view_sw_seeds").set_value(1).run()
    widget(at, "number_input", "view_sw_budget").set_value(20).run()
    at.button(key="sw_start").click().run()
    started = state(at).view["sweep"]
    again = open_page(PAGE)  # a reload: a new session of the same browser
    assert state(again).view["sweep"] is started  # the same sweep, under way or done
    assert started.join(120) and started.done == 2
    runs = open_page("pages/8_Runs.py")
    assert list(runs.dataframe[0].value["from"]).count("sweep") == 2


def test_after_a_restart_an_unfinished_sweep_offers_to_resume_only_the_rest(monkeypatch, tmp_path):
    from rnnviz.runs.registry import Registry
    from rnnviz.runs.store import Store

    reg = Registry(Store(tmp_path))
    grid = tiny_grid()
    first = reg.start_sweep(grid, "owner")
    first.join(120)
    assert first.done == 4
    entries = reg.store.entries(group=first.group)
    for e in entries[2:]:  # as if the server had stopped after two runs: the other two were never kept
        reg.store.delete(e.key)
    done = {(json.loads(e.config)["cell"], json.loads(e.config)["seq_len"]) for e in entries[:2]}
    reg.store.update_group(first.group, state="running")
    reg.store.close()
    reg = Registry(Store(tmp_path))  # the restart: the sweep was running, so it is interrupted
    kept = reg.latest_sweep("owner")
    assert kept is not None and kept.interrupted and not kept.running and kept.done == 2 and kept.unfinished == 2
    assert {(r["cell"], r["seq_len"]) for r in kept.rows} == done
    assert len(kept.todo) == 2 and not {(c.cell, c.seq_len) for c in kept.todo} & done  # only the others
    resumed = reg.resume_sweep(kept, "owner")
    assert resumed.join(120) and resumed.done == 4 and resumed.error is None
    assert reg.store.groups(owner="owner")[0]["state"] == "finished"
    assert len(reg.store.entries(group=first.group)) == 4


def test_the_sweep_page_shows_the_resume_button_for_an_interrupted_sweep(monkeypatch):
    same_browser(monkeypatch)
    from rnnviz.runs.registry import registry
    from rnnviz.runs.store import key_of
    from rnnviz.runs.sweep import Sweep

    owner = key_of("one-browser-token-0123456789abcdef")
    reg = registry()
    run = reg.start_sweep(tiny_grid(("gru",), (4, 5)), owner)
    run.join(120)
    kept = Sweep(run.grid, rows=[{**r, "asked": r["config"].key()} for r in run.rows[:1]])
    kept.group, kept.interrupted = run.group, True
    reg._sweeps[run.group] = kept  # what latest_sweep gives after a restart
    at = open_page(PAGE)
    assert "the server restarted while it ran" in texts(at, "info")
    at.button(key="sw_resume").click().run()
    resumed = state(at).view["sweep"]
    assert resumed is not kept and resumed.join(120) and resumed.done == 2
