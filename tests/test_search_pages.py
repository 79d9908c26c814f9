"""The pages' connectivity and pattern search, through AppTest: the Gradients page's map follows the time cursor,
Compare shows each cell's row, and the Hidden states page lists the units of a selected span and where else they
switch on together (its first match is the span itself)."""

import numpy as np

from rnnviz.views import connectivity
from tests.pagetools import open_page, press, specs, state, widget

SHORT = {"hidden_size": "16", "seq_len": "20", "steps": "40", "probe_every": "10", "eval_every": "10"}


def titled(at, start: str) -> list[dict]:
    return [s for s in specs(at) if s["layout"].get("title", {}).get("text", "").startswith(start)]


def test_the_connectivity_map_follows_the_time_cursor():
    at = press(open_page("pages/4_Gradients.py", **SHORT), "ctl_step", times=10)
    assert titled(at, "Connectivity ‖∂ŷ_t/∂x_s‖ (row: t = 19)")  # no cursor: the last step
    state(at).view["time"] = (4, 7)
    at.run()
    assert titled(at, "Connectivity ‖∂ŷ_t/∂x_s‖ (row: t = 7)")
    found = connectivity.run_connectivity(state(at).run, 10, 0)
    assert np.all(found.matrix[np.triu_indices(20, 1)] == 0) and found.row(7)[:8].min() > 0


def test_compare_shows_each_cells_connectivity_at_the_last_step():
    at = open_page("pages/5_Compare.py", **SHORT)
    press(at, "cmp_step", times=2)
    figs = titled(at, "Connectivity at output step t = 19 by cell")
    assert figs and {t["name"] for t in figs[0]["data"]} == set(state(at).compare_cells)


def test_a_selected_span_gives_its_units_and_the_places_they_switch_on_together():
    at = press(open_page("pages/2_Hidden_states.py", **SHORT), "ctl_step", times=10)
    assert any("Select a span of time steps" in c.value for c in at.caption)
    run = state(at).run
    values = connectivity.run_searchable(run, 10)["hidden"]
    # a span of sample 0 over which some units switch on (and off around it), at the highest threshold that has one
    threshold, t0, t1 = next((h, a, b) for h in (0.2, 0.1, 0.05, 0.0) for a in range(1, 19) for b in (a + 1, a, 19)
                             if len(connectivity.units_on(values[0], a, b, h)))
    units = connectivity.units_on(values[0], t0, t1, threshold)
    state(at).view["time"] = (t0, t1)
    state(at).view["search_threshold"] = threshold
    at.run()
    assert not at.exception
    table = at.dataframe[-1].value
    want = connectivity.find_matches(values, units, threshold, t1 - t0 + 1)
    assert table["sample"].tolist() == [m.sample for m in want] and len(want) >= 1
    assert (0, t0, t1) in [(m.sample, m.start, m.end) for m in want]  # the span itself is found again
    assert any(f"{len(units)} unit(s):" in m.value for m in at.markdown)
    widget(at, "number_input", "view_search_threshold").set_value(5.0).run()  # no tanh state reaches 5
    assert any("No unit is on over the whole span" in i.value for i in at.info)
