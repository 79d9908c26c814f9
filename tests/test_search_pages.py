"""The pages' connectivity and pattern search, through AppTest: the Gradients page's map follows the time cursor,
Compare shows each cell's row, and the Hidden states page lists the units of a selected span and where else they
switch on together (its first match is the span itself)."""

import numpy as np
import pandas as pd

from rnnviz.views import connectivity, hypotheses, textviz
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


TEXT = {"dataset": "text", "cell": "lstm", "hidden_size": "16", "seq_len": "30", "steps": "20"}


def test_the_text_page_ranks_units_by_your_regular_expression_and_underlines_it():
    at = press(open_page("pages/6_Text.py", **TEXT), "ctl_step", times=3)
    widget(at, "selectbox", "view_hyp_kind").set_value(hypotheses.REGEX).run()
    widget(at, "text_input", "view_hyp_regex").set_value(r"\(.*?\)").run()
    assert not at.exception
    text, values = textviz.run_text_values(state(at).run, textviz.SEARCH_CHARS)
    feature = hypotheses.marks(text, hypotheses.REGEX, r"\(.*?\)")
    want = hypotheses.rank_units(values["hidden"], feature, binary=True).table
    pd.testing.assert_frame_equal(at.dataframe[0].value.reset_index(drop=True), want)
    html = next(m.value for m in at.markdown if "background:rgb(" in m.value)
    assert html.count("text-decoration:underline") == int(feature[:300].sum()) > 0
    assert f"marks {int(feature.sum()):,} of {len(text):,} characters" in "\n".join(c.value for c in at.caption)


def test_the_text_page_refuses_a_pattern_it_cannot_run_and_bounds_a_pathological_one():
    at = press(open_page("pages/6_Text.py", **TEXT), "ctl_step", times=2)
    widget(at, "selectbox", "view_hyp_kind").set_value(hypotheses.REGEX).run()
    widget(at, "text_input", "view_hyp_regex").set_value(r"(\w)\1").run()
    assert not at.exception and any("no backreferences" in w.value for w in at.warning)
    widget(at, "text_input", "view_hyp_regex").set_value(r"(a+)+$").run()  # catastrophic when backtracking
    assert not at.exception and (at.dataframe or any("marks no character" in w.value for w in at.warning))


def test_a_selection_on_the_text_page_finds_its_units_and_where_they_switch_on_again():
    at = press(open_page("pages/6_Text.py", **TEXT), "ctl_step", times=3)
    text, values = textviz.run_text_values(state(at).run, textviz.SEARCH_CHARS)
    h = values["hidden"]
    threshold, t0, t1 = next((th, a, b) for th in (0.3, 0.2, 0.1, 0.0) for a in range(1, 280) for b in (a + 2, a + 1)
                             if len(connectivity.units_on(h, a, b, th)))
    typed = text[t0 : t1 + 1]
    widget(at, "text_input", "view_span_text").set_value(typed).run()
    first = text[:300].find(typed)
    assert state(at).view["span"] == (first, first + len(typed) - 1)  # typing selects its first place
    widget(at, "number_input", "view_text_threshold").set_value(threshold).run()
    at.slider(key=next(s.key for s in at.slider if s.key.startswith("view_span__"))).set_value((t0, t1)).run()
    assert not at.exception
    units = connectivity.units_on(h, t0, t1, threshold)
    want = connectivity.find_matches(h[None], units, threshold, t1 - t0 + 1)
    table = at.dataframe[-1].value
    assert table["at"].tolist() == [m.start for m in want] and t0 in table["at"].tolist()  # the span itself too
    assert table["text"].iloc[0] == textviz.snippet(text, want[0].start, want[0].end)
    assert any(f"{len(units)} unit(s):" in m.value for m in at.markdown)


def test_compare_marks_the_adding_problems_inputs_and_measures_how_each_cell_reads_them():
    at = open_page("pages/5_Compare.py", dataset="adding", **SHORT)
    press(at, "cmp_step", times=2)
    assert not at.exception
    fig = titled(at, "Connectivity at output step t = 19 by cell")[0]
    x0 = state(at).run.data.x_val[0]
    marked = [int(s) for s in np.flatnonzero(x0[:, 1].numpy() > 0)]
    assert sorted(int(shape["x0"]) for shape in fig["layout"]["shapes"]) == marked and len(marked) == 2
    table = next(d.value for d in at.dataframe if "marked ÷ others" in d.value.columns)
    assert table["cell"].tolist() == list(state(at).compare_cells)
    group = state(at).compare
    for trainer in group.trainers:
        run = trainer.run
        want = connectivity.run_marked_reach(run, run.probes[-1][0])
        got = table.set_index("cell").loc[run.config.cell]
        assert got["marked ÷ others"] == round(want.ratio, 2) and got["per step"] == round(want.per_step, 3)
