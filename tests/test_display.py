"""The sidebar's sections, links that carry the run, and the projector display, as AppTest sees them."""

import json

import pytest

from rnnviz.ui import display
from rnnviz.ui.state import LARGE, TEXT_PARAM
from tests.pagetools import ROOT, open_page, specs, state, widget


def test_every_page_file_is_in_one_section_and_every_section_has_pages():
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py")) + ["app.py"]
    assert sorted(path for path, _, _ in display.PAGES) == sorted(files)
    assert [name for name, _ in display.SECTIONS] == ["Learn", "Watch", "Explore"]
    assert all(pages and all(icon.startswith(":material/") for _, _, icon in pages) for _, pages in display.SECTIONS)


@pytest.mark.parametrize("path", ["app.py", "pages/3_Gates.py", "pages/8_Runs.py"])
def test_the_sidebar_lists_the_sections_in_order_and_each_link_carries_the_run(path):
    at = open_page(path, hidden_size="24", seq_len="12")
    captions = [c.value for c in at.sidebar.caption]
    assert [c for c in captions if c.strip("*") in {"LEARN", "WATCH", "EXPLORE"}] == ["**LEARN**", "**WATCH**",
                                                                                      "**EXPLORE**"]
    links = at.sidebar.get("page_link")
    assert [link.proto.label for link in links] == [label for _, label, _ in display.PAGES]
    secret = state(at).access.secret
    for link in links:
        carried = dict(link.proto.query_string and [kv.split("=", 1) for kv in link.proto.query_string.split("&")])
        assert carried["hidden_size"] == "24" and carried["seq_len"] == "12" and carried["run"] == secret


def test_large_text_enlarges_the_page_and_its_charts_and_the_link_keeps_it():
    at = open_page("pages/1_Train.py", steps="4", hidden_size="8", seq_len="8")
    assert not state(at).large_text and TEXT_PARAM not in at.query_params
    assert all(spec["layout"].get("font", {}).get("size") is None for spec in specs(at))
    widget(at, "toggle", "large_text", sidebar=True).set_value(True).run()
    assert state(at).large_text and at.query_params[TEXT_PARAM] == LARGE
    assert [f"font-size: {display.LARGE_ROOT_PX}px" in el.proto.body for el in at.get("html")] == [True]
    fonts = [(spec["layout"]["font"]["size"], spec["layout"]["title"]["font"]["size"]) for spec in specs(at)]
    assert fonts and set(fonts) == {(display.LARGE_FONT, display.LARGE_TITLE)}
    again = open_page("pages/4_Gradients.py", **{TEXT_PARAM: LARGE})  # a link (or a reload) with ?text=large
    assert state(again).large_text and widget(again, "toggle", "large_text", sidebar=True).value
    assert json.dumps(display.LARGE_FONT) in json.dumps([s["layout"].get("font") for s in specs(again)])
