"""Live training as a user sees it, in Chromium against `streamlit run app.py`.

    python -m bench.bench_browser            # from the repo root; --quick for a smoke run
    python -m bench.bench_browser --app-dir /path/to/older/checkout   # the same figures for other code

1. Click a lesson and wait for "finished": wall time / the training seconds the app reports
   ("Watch gradients vanish"; the LSTM adding lesson, three cells on the Compare page). Target <= 1.3.
2. N sessions playing the default run on the Gradients page: the server's training steps per second in all,
   and its CPU seconds per playing session per wall second (psutil-free: /proc of the server's pid; the
   browsers' own CPU is not counted). Target: with 4 sessions, total steps/s >= half of 1 session's.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from tests.browser import ROOT, SERVERS, SHOTS, cpu_seconds, launch, progress_step, shot, streamlit_server

LESSONS = {"vanish": "Gradients", "lstm_remembers": "Compare"}
QUICK_LESSON = ("keras_sine", "Train")  # 40 steps: --quick only proves the script works
FINISHED = re.compile(r"finished in ([0-9.,]+) s of training")
LONG_RUN = "steps=100000"  # the default run, long enough to keep playing while we measure


def lesson_ratio(browser, url: str, key: str, timeout: float) -> tuple[float, float]:
    """(wall seconds from click to 'finished', training seconds the app reports)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    button = page.locator(f".st-key-lesson_{key} button")
    button.wait_for(timeout=120_000)
    start = time.time()
    button.click()
    page.wait_for_url(f"**/{LESSONS[key]}**", timeout=60_000)
    text = ""
    while not FINISHED.search(text):
        try:
            text = page.locator('[data-testid="stProgress"]').first.inner_text(timeout=5_000)
        except PlaywrightError:  # the element is being redrawn
            pass
        if time.time() - start > timeout:
            shot(page, f"bench-lesson-{key}")
            log = ROOT / "artifacts" / f"streamlit-{url.rsplit(':', 1)[1]}.log"
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise SystemExit(f"lesson {key} did not finish in {timeout:.0f} s; the page showed {text!r}; "
                             f"screenshot in {SHOTS}; the end of the server log {log}:\n{tail}")
        time.sleep(0.3)
    wall = time.time() - start
    trained = float(FINISHED.search(text).group(1).replace(",", ""))
    context.close()
    return wall, trained


def playing_sessions(browser, url: str, n: int, seconds: float) -> tuple[float, float]:
    """(training steps per second in all, server CPU seconds per session per second) with n sessions playing."""
    contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(n)]
    pages = [c.new_page() for c in contexts]
    for page in pages:
        page.goto(f"{url}/Gradients?{LONG_RUN}")
        page.get_by_role("button", name="Play", exact=True).click(timeout=120_000)
        page.get_by_role("button", name="Pause", exact=True).wait_for(timeout=120_000)  # the click reached the server
    time.sleep(3)  # let every session get going
    pid = SERVERS[url].pid
    steps0, cpu0, t0 = [progress_step(p) for p in pages], cpu_seconds(pid), time.time()
    time.sleep(seconds)
    steps1, cpu1, t1 = [progress_step(p) for p in pages], cpu_seconds(pid), time.time()
    for page in pages:
        page.get_by_role("button", name="Pause", exact=True).click(timeout=120_000)
    for c in contexts:
        c.close()
    dt = t1 - t0
    return (sum(steps1) - sum(steps0)) / dt, (cpu1 - cpu0) / dt / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app-dir", type=Path, default=ROOT, help="the checkout whose app.py to serve")
    ap.add_argument("--sessions", default="1,4,8", help="numbers of playing sessions to measure")
    ap.add_argument("--seconds", type=float, default=15.0, help="measuring window per session count")
    ap.add_argument("--lessons", default=",".join(LESSONS), help="lessons to time (empty: none)")
    ap.add_argument("--quick", action="store_true", help="one short lesson and one session: proves it works")
    args = ap.parse_args()
    if args.quick:
        LESSONS.update([QUICK_LESSON])
    lessons = [QUICK_LESSON[0]] if args.quick else [k for k in args.lessons.split(",") if k]
    counts = [1] if args.quick else [int(n) for n in args.sessions.split(",")]
    with streamlit_server(app_dir=args.app_dir, RNNVIZ_CACHE_RUNS="0") as url, sync_playwright() as p:
        browser = launch(p)
        for key in lessons:
            wall, trained = lesson_ratio(browser, url, key, timeout=300)
            print(f"lesson {key}: wall {wall:.1f} s / training {trained:.1f} s = {wall / trained:.2f} (target <= 1.3)")
        alone = None
        for n in counts:
            rate, cpu = playing_sessions(browser, url, n, 2.0 if args.quick else args.seconds)
            alone = alone or rate
            print(f"{n} session(s) playing: {rate:.1f} training steps/s in all ({rate / alone:.2f} of one alone); "
                  f"server CPU {cpu:.2f} s per session per s")
        browser.close()


if __name__ == "__main__":
    main()
