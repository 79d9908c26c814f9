"""Pattern search in a real browser: on the Text page, type a few characters to select them, and rnnviz lists the
units on over them, every other place where that set switches on together, and opens one in its context; then a
hypothesis (a regular expression) ranks the units. The numbers are the ones the library gives for the same run."""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz import RunConfig, train_run
from rnnviz.views import connectivity, hypotheses, textviz
from tests.browser import exceptions, shot, streamlit_server, wait_for_step

pytestmark = pytest.mark.browser

QUERY = "dataset=text&cell=lstm&hidden_size=16&seq_len=30&steps=20"
CONFIG = RunConfig(dataset="text", cell="lstm", hidden_size=16, seq_len=30, steps=20)


def a_selection(text: str, h: np.ndarray) -> tuple[str, float, np.ndarray]:
    """Characters of the shown text (first place they appear) over which some units switch on, at a threshold
    no float32 rounding can move them across."""
    for threshold in (0.3, 0.2, 0.1, 0.0):
        for t0 in range(1, 280):
            for t1 in (t0 + 3, t0 + 2):
                typed = text[t0 : t1 + 1]
                units = connectivity.units_on(h, t0, t1, threshold)
                same = all(np.array_equal(units, connectivity.units_on(h, t0, t1, threshold + d))
                           for d in (-0.005, 0.005))
                if len(units) and same and text[:300].find(typed) == t0 and "\n" not in typed:
                    return typed, threshold, units
    raise AssertionError("no selection switches a unit on")


def test_select_characters_find_the_units_open_a_match_and_rank_a_hypothesis(browser, tmp_path):
    run = train_run(CONFIG)
    text = textviz.passage(run.data, textviz.SEARCH_CHARS)
    h = textviz.text_values(run.model, text, run.data.vocab)["hidden"]
    typed, threshold, units = a_selection(text, h)
    t0 = text.find(typed)
    matches = connectivity.find_matches(h[None], units, threshold, len(typed))
    with streamlit_server(RNNVIZ_DATA_DIR=str(tmp_path)) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"{url}/Text?{QUERY}", timeout=120_000)
        page.get_by_role("button", name="Play", exact=True).click(timeout=60_000)
        wait_for_step(page, 20)
        page.get_by_text("Find what a unit does").wait_for(timeout=60_000)
        threshold_box = page.get_by_label("Threshold", exact=True)
        threshold_box.fill(f"{threshold:g}")
        threshold_box.press("Enter")
        find = page.get_by_label("…or find this text", exact=True)
        find.fill(typed)
        find.press("Enter")
        page.get_by_text(f"{len(units)} unit(s):").wait_for(timeout=30_000)
        page.get_by_text(f"The rule (LSTMVis): a unit is in the set if it is at or above {threshold:g}").wait_for()
        grid = page.get_by_test_id("stDataFrame").last
        grid.wait_for(timeout=30_000)
        grid.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box
        page.get_by_text(f"The match at character {matches[0].start:,} (boxed)").wait_for(timeout=30_000)
        boxed = page.locator('span[style*="outline"]')
        assert boxed.count() == matches[0].end - matches[0].start + 1
        assert not exceptions(page)
        shot(page, "text_search")
        # a hypothesis: the characters inside brackets, as a regular expression
        page.locator("[class*=st-key-view_hyp_kind__]").click()
        page.keyboard.type("regular")  # the list filtered to the option
        page.get_by_role("option", name=hypotheses.REGEX).click()
        regex = page.get_by_label("Regular expression", exact=True)
        regex.fill(r"\([^)]*\)")
        regex.press("Enter")
        feature = hypotheses.marks(text, hypotheses.REGEX, r"\([^)]*\)")
        ranking = hypotheses.rank_units(h, feature, binary=True)
        page.get_by_text(f"The hypothesis marks {ranking.marked:,} of {len(text):,} characters").wait_for(
            timeout=30_000)
        page.get_by_text(f"coloured by unit {ranking.best}'s hidden state").wait_for(timeout=30_000)
        assert page.locator('span[style*="underline"]').count() == int(feature[:300].sum())
        assert not exceptions(page)
        shot(page, "text_hypothesis")
    assert t0 in [m.start for m in matches]  # the selection itself is found again
