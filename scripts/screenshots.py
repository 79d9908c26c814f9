"""Make every picture the README and docs/ show, from the real app in Chromium: run it again when the UI changes.

    .venv/bin/python -m scripts.screenshots            # all of them, into docs/images/
    .venv/bin/python -m scripts.screenshots gates sweep

Each picture starts the lesson (or the settings) it shows, trains in the browser as a user would, and waits for
the page to draw; learning.gif is frames of Hidden states while an LSTM learns the sine wave. A run on this 2-core
machine takes about three minutes. Needs the test install (playwright, Debian's chromium).
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from tests.browser import PLOT, launch, streamlit_server, wait_for_step

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
SIZE = {"width": 1440, "height": 900}
TALL = {"gradients": {"width": 1440, "height": 1300}}  # the gradient curve and the step Jacobians under it
GIF_WIDTH, GIF_FRAMES, GIF_SECONDS = 960, 16, 1.2  # the animation: under 3 MB
GIF_RUN = "dataset=sine&cell=lstm&hidden_size=64&seq_len=50&steps=4000"  # about 20 s of training here


def lesson(page, url: str, key: str, steps: int, then: str | None = None) -> None:
    """Start lesson `key` from Home, let it train `steps` steps, then (if given) go to the page linked `then`."""
    page.goto(url, timeout=120_000)
    page.locator(f".st-key-lesson_{key} button").click(timeout=60_000)
    wait_for_step(page, steps, timeout=180)
    if then:
        page.get_by_role("link", name=then).first.click()
    settle(page)


def settle(page, plots: bool = True) -> None:
    page.wait_for_load_state("networkidle")
    if plots:
        page.wait_for_selector(PLOT, timeout=60_000)
    page.wait_for_timeout(2500)  # plotly finishes drawing


def focus(page, n: int = 0) -> None:
    """Scroll the page so that its n-th chart starts at the top of the window (the sidebar stays)."""
    page.locator(PLOT).nth(n).evaluate("e => e.scrollIntoView({block: 'start'})")
    page.mouse.move(SIZE["width"] * 0.6, SIZE["height"] / 2)  # over the main column, not the sidebar
    page.mouse.wheel(0, -70)  # the chart's title in view
    page.wait_for_timeout(1500)


def pause(page) -> None:
    button = page.get_by_role("button", name="Pause", exact=True)
    if button.count():
        button.click()
        page.get_by_role("button", name="Play", exact=True).wait_for(timeout=30_000)


def home(page, url: str) -> None:
    page.goto(url, timeout=120_000)
    page.get_by_text("Lessons").first.wait_for(timeout=60_000)
    settle(page, plots=False)


def hidden_states(page, url: str) -> None:
    lesson(page, url, "sine", 150, "Hidden states")
    focus(page)


def gates(page, url: str) -> None:
    lesson(page, url, "lstm_remembers", 150, "Gates")
    focus(page)


def gradients(page, url: str) -> None:
    lesson(page, url, "vanish", 100, "Gradients")
    pause(page)
    settle(page)
    page.get_by_text("σ_max").first.wait_for(timeout=60_000)  # the step Jacobians, drawn once paused
    focus(page)


def sweep(page, url: str) -> None:
    page.goto(f"{url}/Sweep", timeout=120_000)
    page.get_by_role("button", name="▶ Run sweep").wait_for(timeout=60_000)
    for label, value in (("Sequence lengths T", "5, 10, 20"), ("Seeds", "2"), ("Step budget", "2500")):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        page.wait_for_timeout(800)
    page.get_by_role("button", name="▶ Run sweep").click()
    page.get_by_text("runs done (finished)").first.wait_for(timeout=900_000)
    settle(page)
    focus(page)


def text_search(page, url: str) -> None:
    page.goto(f"{url}/Text?dataset=text&cell=lstm&hidden_size=64&embedding_size=32&seq_len=50&steps=150",
              timeout=120_000)
    page.get_by_role("button", name="Play", exact=True).click(timeout=60_000)
    wait_for_step(page, 150, timeout=300)
    page.get_by_text("Find what a unit does").wait_for(timeout=60_000)
    threshold = page.get_by_label("Threshold", exact=True)
    threshold.fill("0.2")
    threshold.press("Enter")
    find = page.get_by_label("…or find this text", exact=True)
    find.fill("the")
    find.press("Enter")
    page.wait_for_timeout(3000)
    settle(page, plots=False)
    page.get_by_text("Find what a unit does").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(1500)


def learning_gif(page, url: str) -> None:
    """Frames of Hidden states while an LSTM learns the sine wave: the trajectories close into loops."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{url}/Hidden_states?{GIF_RUN}", timeout=120_000)
    page.get_by_role("button", name="Play", exact=True).click(timeout=60_000)
    settle(page)
    focus(page)
    frames = []
    for _ in range(GIF_FRAMES):
        png = page.screenshot()
        image = Image.open(io.BytesIO(png)).convert("RGB")
        image = image.resize((GIF_WIDTH, round(image.height * GIF_WIDTH / image.width)))
        frames.append(image.quantize(colors=128))
        time.sleep(GIF_SECONDS)
    frames[0].save(OUT / "learning.gif", save_all=True, append_images=frames[1:], duration=500, loop=0,
                   optimize=True)


SHOTS: dict[str, Callable] = {"home": home, "hidden_states": hidden_states, "gates": gates, "gradients": gradients,
                              "sweep": sweep, "text_search": text_search, "learning": learning_gif}


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    unknown = set(names) - set(SHOTS)
    if unknown:
        sys.exit(f"unknown picture(s) {', '.join(sorted(unknown))}; known: {', '.join(SHOTS)}")
    with tempfile.TemporaryDirectory() as data, streamlit_server(RNNVIZ_DATA_DIR=data) as url, \
            sync_playwright() as playwright:
        browser = launch(playwright)
        for name in names or list(SHOTS):
            started = time.time()
            page = browser.new_page(viewport=TALL.get(name, SIZE))
            SHOTS[name](page, url)
            if name != "learning":
                page.screenshot(path=str(OUT / f"{name}.png"))
            page.close()
            print(f"{name}: {time.time() - started:.0f} s")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
