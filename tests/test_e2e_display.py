"""The display in a real browser: the sidebar's sections with the current page marked, links that keep the
settings, no horizontal scrolling at 1280×720 and 1440×900 on any page, charts that follow the dark theme, and
the projector's large text kept over a reload."""

import pytest

from rnnviz.ui.display import LARGE_ROOT_PX, SECTIONS
from rnnviz.ui.state import LARGE, TEXT_PARAM
from tests.browser import PLOT, exceptions, streamlit_server

pytestmark = pytest.mark.browser

QUERY = "hidden_size=24&seq_len=12&steps=20"
URLS = ["", "Train", "Hidden_states", "Gates", "Gradients", "Text", "Compare", "Sweep", "Runs"]  # every page
LINK = '[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]'  # the sidebar's (Home has more)
SIZES = [{"width": 1440, "height": 900}, {"width": 1280, "height": 720}]


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def links(page) -> list[dict]:
    """Every sidebar link: its label (the icon's ligature dropped), its href and its background colour."""
    return page.evaluate(f"""() => Array.from(document.querySelectorAll('{LINK}')).map(a => ({{
        label: a.innerText.trim().split('\\n').pop(), href: a.getAttribute('href'),
        background: getComputedStyle(a).backgroundColor}}))""")


def marked(page) -> list[str]:
    """The links drawn unlike the others: the page being shown."""
    shown = links(page)
    backgrounds = [link["background"] for link in shown]
    usual = max(set(backgrounds), key=backgrounds.count)
    return [link["label"] for link in shown if link["background"] != usual]


def opened(page, url: str) -> None:
    page.goto(url)
    page.locator(LINK).first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(800)  # the charts laid out


def test_every_page_marks_itself_in_the_sections_keeps_the_settings_and_does_not_scroll_sideways(server, browser):
    """Clicking the links is the journey's test (tests/test_e2e_journey.py); here each page opened by its URL."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    labels = [label for _, pages in SECTIONS for _, label, _ in pages]
    wide = {}
    for name, label in zip(URLS, labels, strict=True):
        opened(page, f"{server}/{name}?{QUERY}")
        bar = page.get_by_test_id("stSidebarUserContent").inner_text()
        heads = [bar.index(section.upper()) for section, _ in SECTIONS]
        assert heads == sorted(heads), bar[:400]
        assert [link["label"] for link in links(page)] == labels and marked(page) == [label]
        assert all(QUERY in link["href"] and "run=" in link["href"] for link in links(page))
        assert page.get_by_label("Hidden units", exact=True).input_value() == "24", name
        for size in SIZES:  # the same page, the window resized: Streamlit and plotly lay out again
            page.set_viewport_size(size)
            page.wait_for_timeout(600)
            widths = page.evaluate("""() => {const d = document.documentElement,
                m = document.querySelector('[data-testid="stMain"]');
                return [d.scrollWidth, d.clientWidth, m.scrollWidth, m.clientWidth]}""")
            assert widths[1] == size["width"] and widths[3] > 0, widths  # measured in the window asked for
            if widths[0] > widths[1] or widths[2] > widths[3]:
                wide[f"{name or 'Home'} at {size['width']}x{size['height']}"] = widths
        assert not exceptions(page), name
    page.close()
    assert not wide, f"scrolls sideways: {wide}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_charts_follow_the_theme(server, browser, scheme):
    context = browser.new_context(viewport={"width": 1280, "height": 720}, color_scheme=scheme)
    page = context.new_page()
    opened(page, f"{server}/Gates?{QUERY}")
    page.wait_for_selector(PLOT, timeout=60_000)
    colours = page.evaluate(f"""() => {{const g = document.querySelector('{PLOT}')._fullLayout;
        return [getComputedStyle(document.body).backgroundColor, g.paper_bgcolor, g.plot_bgcolor, g.font.color]}}""")
    context.close()
    body, paper, plot, text = colours
    assert body == rgb(paper) == rgb(plot), colours  # the chart sits on the page's own background
    dark = luminance(body) < 0.2
    assert dark == (scheme == "dark") and abs(luminance(rgb(text)) - luminance(body)) > 0.4, colours  # readable


def test_large_text_enlarges_the_page_and_a_reload_keeps_it(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    opened(page, f"{server}/Gradients?{QUERY}")
    root = "() => getComputedStyle(document.documentElement).fontSize"
    assert page.evaluate(root) == "16px"
    page.get_by_text("Large text (projector)").click()
    page.wait_for_url(f"**{TEXT_PARAM}={LARGE}**", timeout=30_000)
    page.wait_for_function(f"() => getComputedStyle(document.documentElement).fontSize === '{LARGE_ROOT_PX}px'",
                           timeout=30_000)
    page.reload()
    page.locator(LINK).first.wait_for(timeout=60_000)
    page.wait_for_function(f"() => getComputedStyle(document.documentElement).fontSize === '{LARGE_ROOT_PX}px'",
                           timeout=30_000)
    assert all(f"{TEXT_PARAM}={LARGE}" in link["href"] for link in links(page))  # the next page keeps it too
    assert not exceptions(page)


def rgb(colour: str) -> str:
    """'#171614' as the browser writes it: 'rgb(23, 22, 20)'; other forms as they are."""
    if colour.startswith("#") and len(colour) == 7:
        return "rgb({}, {}, {})".format(*(int(colour[i:i + 2], 16) for i in (1, 3, 5)))
    return colour


def luminance(colour: str) -> float:
    """0 (black) to 1 (white), from 'rgb(r, g, b)'."""
    r, g, b = (int(v) for v in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
