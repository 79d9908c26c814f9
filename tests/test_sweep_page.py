"""The Sweep page: presets load, a tiny sweep runs to the end as the page is re-run, the plots and table fill,
its choices survive a page switch, a row's link opens the finished run from the cache."""

from __future__ import annotations

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
