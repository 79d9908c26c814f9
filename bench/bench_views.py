"""Cost of a rerun caused by a view widget (no training), per page, for the default config.

Run: python bench/bench_views.py [--quick]   (target: every median under 0.3 s)
The run is trained to the end first (default config: 500 steps, 21 probes); then on each page a view
widget is changed repeatedly and each AppTest rerun is timed. AppTest runs the page script in-process,
like the server does, minus the websocket. --quick: a 20-step run and one rerun per page (proves it runs).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from rnnviz.ui.state import KEY

ROOT = Path(__file__).resolve().parent.parent  # the app's scripts (the engine comes from the installed package)

# page -> (widget kind, key, the values to alternate between)
VIEWS = {
    "pages/1_Train.py": None,  # no view widget: a plain rerun
    "pages/2_Hidden_states.py": ("radio", "view_pca_dims", [3, 2]),
    "pages/3_Gates.py": ("number_input", "view_sample", [1, 2]),
    "pages/4_Gradients.py": ("select_slider", None, None),
}
REPEATS = 7


def trained_app(steps: int | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if steps is not None:
        at.query_params["steps"] = str(steps)
    at.run()
    trainer = at.session_state[KEY].trainer
    while not trainer.finished:
        trainer.advance(10.0)
    return at


def time_page(at: AppTest, page: str, repeats: int = REPEATS) -> float:
    at.switch_page(page).run()
    view = VIEWS[page]
    times = []
    for i in range(repeats):
        if view is None:
            t0 = time.perf_counter()
            at.run()
        elif view[0] == "select_slider":  # the probe step: set by value (its options are the formatted labels)
            slider = next(s for s in at.select_slider if s.label == "Training step (probe)")
            steps = [step for step, _ in at.session_state[KEY].run.probes]
            t0 = time.perf_counter()
            slider.set_value(steps[i % len(steps)]).run()
        else:
            kind, key, values = view
            widget = next(w for w in getattr(at, kind) if (w.key or "").startswith(f"{key}__"))
            t0 = time.perf_counter()
            widget.set_value(values[i % 2]).run()
        times.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 20-step run, one rerun per page")
    args = ap.parse_args()
    at = trained_app(20 if args.quick else None)
    run = at.session_state[KEY].run
    print(f"default config trained: {run.step} steps, {len(run.probes)} probes")
    print(f"{'page':32s} {'median rerun (s)':>17s}")
    worst = 0.0
    for page in VIEWS:
        t = time_page(at, page, 1 if args.quick else REPEATS)
        worst = max(worst, t)
        print(f"{page:32s} {t:17.3f}")
    print(f"worst median: {worst:.3f} s (target < 0.3 s): {'OK' if worst < 0.3 else 'SLOW'}")


if __name__ == "__main__":
    main()
