"""The Sweep page: presets load, a tiny sweep runs to the end as the page is re-run, the plots and table fill."""

from __future__ import annotations

import time

from tests.pagetools import decode, open_page, specs, state, texts

PAGE = "pages/7_Sweep.py"


def test_preset_loads_its_grid():
    at = open_page(PAGE)
    assert at.selectbox(key="sw_task").value == "adding"
    assert at.text_input(key="sw_lengths").value == "10, 20, 50, 100, 200"
    assert at.multiselect(key="sw_cells").value == ["rnn_tanh", "lstm", "gru"]
    at.selectbox(key="sw_preset").set_value("memory").run()
    assert at.selectbox(key="sw_task").value == "memory"
    assert at.text_input(key="sw_lengths").value.endswith("400")


def test_bad_lengths_are_refused_with_a_message():
    at = open_page(PAGE)
    at.text_input(key="sw_lengths").set_value("10, ten").run()
    at.button(key="sw_start").click().run()
    assert "'ten'" in texts(at, "error") and "sweep" not in state(at).view


def test_a_tiny_sweep_completes_and_draws_its_curve():
    at = open_page(PAGE)
    at.selectbox(key="sw_task").set_value("memory")
    at.multiselect(key="sw_cells").set_value(["rnn_tanh", "gru"])
    at.text_input(key="sw_lengths").set_value("4, 6")
    at.number_input(key="sw_seeds").set_value(1)
    at.number_input(key="sw_budget").set_value(20)
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
