"""Time per training step with 1 and with N simultaneous sessions.

Run: python -m bench.bench_load [--mode server|threads] [--sessions 8] [--steps 500] [--rounds 3] [--quick]
(from the repository root: server mode uses the browser helpers in tests/browser.py)

server (default): one `streamlit run app.py` (capacity.SLOTS = cores unless RNNVIZ_TRAINING_SLOTS is set), one
    headless chromium with a browser context per session; each opens /Train?steps=S&seed=i (own seed: no
    cache hits), presses Play and waits for "finished". Reported per session: training ms/step (the run's
    own compute time, from its progress text) and wall ms/step (from Play to finished).
threads: what the server does without the UI: N sessions' workers (rnnviz.runs.worker.Worker, one thread each,
    sharing capacity.SLOTS) play at once until every run is finished.
The ratio is N-session / 1-session ms/step (medians over sessions, then over rounds).
--quick: threads mode, 2 sessions, 20 steps, one round: only proves the script runs.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time


def run_server(sessions: int, steps: int) -> tuple[float, float]:
    """(median training ms/step, median wall ms/step) over `sessions` browser sessions on one server."""
    from playwright.sync_api import sync_playwright

    try:
        from tests.browser import launch, streamlit_server
    except ModuleNotFoundError:
        sys.exit("server mode needs the repository's tests/browser.py: run it as python -m bench.bench_load")

    with streamlit_server() as url, sync_playwright() as p:
        browser = launch(p)
        pages = [browser.new_context().new_page() for _ in range(sessions)]
        for seed, page in enumerate(pages):
            page.goto(f"{url}/Train?steps={steps}&seed={seed + int(time.time()) % 100_000}")
            page.get_by_role("button", name="Play", exact=True).wait_for(timeout=120_000)
        start = {}
        for i, page in enumerate(pages):
            page.get_by_role("button", name="Play", exact=True).click()
            start[i] = time.perf_counter()
        done: dict[int, tuple[float, float]] = {}
        while len(done) < sessions:
            for i, page in enumerate(pages):
                if i in done:
                    continue
                text = page.locator('[data-testid="stProgress"]').first.inner_text()
                if m := re.search(r"finished in ([\d.,]+) s", text):
                    done[i] = (float(m.group(1).replace(",", "")), time.perf_counter() - start[i])
            time.sleep(0.2)
        browser.close()
    return (statistics.median(1e3 * t / steps for t, _ in done.values()),
            statistics.median(1e3 * w / steps for _, w in done.values()))


def run_threads(sessions: int, steps: int) -> tuple[float, float]:
    from rnnviz import RunConfig
    from rnnviz.runs import capacity
    from rnnviz.runs.trainer import LocalTrainer
    from rnnviz.runs.worker import Worker

    capacity.configure_torch()
    trainers = [LocalTrainer.fresh(RunConfig(steps=steps, seed=i)) for i in range(sessions)]
    workers = [Worker([t]) for t in trainers]
    walls: dict[int, float] = {}
    t0 = time.perf_counter()
    for w in workers:
        w.play()
    while len(walls) < sessions:
        for i, w in enumerate(workers):
            w.touch()
            if w.finished and i not in walls:
                walls[i] = time.perf_counter() - t0
        time.sleep(0.01)
    return (statistics.median(1e3 * t.run.seconds / steps for t in trainers),
            statistics.median(1e3 * w / steps for w in walls.values()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("server", "threads"), default="server")
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="threads mode, 2 sessions, 20 steps, one round")
    args = ap.parse_args()
    if args.quick:
        args.mode, args.sessions, args.steps, args.rounds = "threads", 2, 20, 1
    run = run_server if args.mode == "server" else run_threads
    from rnnviz.runs import capacity

    print(f"mode={args.mode} steps={args.steps} slots={capacity.SLOTS.n} torch threads={capacity.TORCH_THREADS} "
          f"(default config: lstm H=32 T=50 sine)")
    rows = []
    for r in range(args.rounds):  # alternate 1 and N so drifting machine load hits both
        one = run(1, args.steps)
        many = run(args.sessions, args.steps)
        rows.append((one, many))
        print(f"round {r + 1}: 1 session {one[0]:.1f} ms/step train, {one[1]:.1f} ms/step wall | "
              f"{args.sessions} sessions {many[0]:.1f} ms/step train, {many[1]:.1f} ms/step wall", flush=True)
    med = lambda k, j: statistics.median(row[k][j] for row in rows)  # noqa: E731
    print(f"median  training ms/step: 1 session {med(0, 0):.1f}, {args.sessions} sessions {med(1, 0):.1f}, "
          f"ratio {med(1, 0) / med(0, 0):.2f}")
    print(f"median  wall ms/step per session: 1 session {med(0, 1):.1f}, {args.sessions} sessions {med(1, 1):.1f}, "
          f"ratio {med(1, 1) / med(0, 1):.2f} "
          f"(ideal with {capacity.SLOTS.n} slots: {args.sessions / capacity.SLOTS.n:.1f})")


if __name__ == "__main__":
    main()
