"""Play / Pause / Step / Reset and progress for a worker; a timer that redraws the page when there is news.

Training happens in the worker's thread. While it plays, a small fragment ticks once a second: it tells
the worker the page is still open, updates the progress line and, when a run has something new to draw
(a validation loss, a probe, the end), reruns the page so the views redraw — at most once a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from rnnviz.runs.worker import Worker, redraw_gap
from rnnviz.ui.state import AppState, play, step

REFRESH = 1.0  # seconds between progress updates while playing, and the shortest time between redraws


def training_control(state: AppState, worker: Worker | None, reset: Callable[[AppState], None],
                     key: str = "ctl", buttons: bool = True) -> None:
    """The control bar for `worker` (buttons keyed `{key}_play` etc.), or just its progress."""
    if worker is None:
        return
    worker.touch()
    worker.connected = worker.connected or session_connected()
    playing = worker.playing
    state.drawn[key] = (worker.news(), time.monotonic())

    @st.fragment(run_every=REFRESH)  # also while paused: Play in another tab of this run shows here within a second
    def control() -> None:
        for w in (state.worker, state.compare):  # the session is open: none of its runs is idle
            if w is not None:
                w.touch()
        news, drawn_at = state.drawn.get(key, (None, 0.0))
        gap = redraw_gap(REFRESH, state.draw_seconds)
        stale = worker.news() != news and time.monotonic() - drawn_at >= 0.9 * gap
        if worker.playing != playing or stale:
            st.rerun()  # started, stopped or something new to draw: every view and timer on the page follows
        if buttons:
            _buttons(state, worker, reset, key)
        _progress(worker, gap)

    control()


def session_connected() -> Callable[[], bool] | None:
    """Whether this browser session is still connected (None outside a Streamlit server, e.g. in AppTest)."""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session_id)


def _buttons(state: AppState, worker: Worker, reset: Callable[[AppState], None], key: str) -> None:
    cols = st.columns([1, 1, 1, 5])
    if worker.playing:
        cols[0].button("Pause", icon=":material/pause:", key=f"{key}_pause", on_click=_act,
                       args=(state, key, worker.pause), type="primary")
    else:
        cols[0].button("Play", icon=":material/play_arrow:", key=f"{key}_play", on_click=_act,
                       args=(state, key, lambda: play(state, worker)), type="primary", disabled=worker.finished)
    cols[1].button("Step", icon=":material/skip_next:", key=f"{key}_step", on_click=_act,
                   args=(state, key, lambda: step(state, worker)), disabled=worker.finished)
    cols[2].button("Reset", icon=":material/replay:", key=f"{key}_reset", on_click=_act,
                   args=(state, key, lambda: reset(state)))


def _act(state: AppState, key: str, action: Callable[[], object]) -> None:
    """A button's callback: act, then make the fragment redraw the whole page (views, timers)."""
    state.notice = None
    action()
    state.drawn[key] = (None, 0.0)


def _progress(worker: Worker, gap: float = REFRESH) -> None:
    trainers = worker.trainers
    done = sum(max(t.run.step, 0) for t in trainers)
    total = sum(t.config.steps for t in trainers)
    st.progress(min(done / max(total, 1), 1.0), text=progress_text(worker, done, total, gap))
    if worker.waiting:
        st.info(f"Waiting for a free training slot: {worker.slots.n} run(s) may train at once on this server.")
    if worker.paused_idle:
        st.info("Paused: this page was closed or hidden for a while. Press Play to go on.")
    if worker.error:
        st.error(worker.error)
    for t in trainers:
        if t.run.diverged_at is not None:
            st.error(divergence_message(t, named=len(trainers) > 1))


def divergence_message(trainer, named: bool = False) -> str:
    config = trainer.run.config_at(trainer.run.diverged_at)  # the settings it diverged with
    who = f"The {config.cell} run" if named else "Training"
    return (f"{who} diverged at step {trainer.run.diverged_at}: the loss or a gradient became NaN or infinite. "
            f"Try a lower learning rate (now {config.lr:g}) or turn on gradient clipping"
            f"{'' if config.clip is None else ' with a smaller threshold'}. "
            "Everything up to that step is still shown.")


def progress_text(worker: Worker, done: int, total: int, gap: float = REFRESH) -> str:
    trainers = worker.trainers
    parts = [f"step {done:,} / {total:,}" + (f" in all ({len(trainers)} runs)" if len(trainers) > 1 else "")]
    rates = [t.steps_per_second for t in trainers if t.steps_per_second]
    if rates and not worker.finished:
        rate = len(rates) / sum(1 / r for r in rates)  # the runs take turns: the harmonic mean is the pace
        parts.append(f"{rate:,.0f} steps/s")
        if worker.playing:
            parts.append(f"about {(total - done) / rate:,.0f} s left")
    if all(t.from_cache for t in trainers):
        parts.append("from the run cache")
    elif worker.finished:
        parts.append(f"finished in {sum(t.run.seconds for t in trainers):,.1f} s of training")
    elif worker.playing:
        parts.append("training")
        if gap >= 1.5 * REFRESH:
            parts.append(f"views redraw every {gap:.0f} s to keep training fast")
    return " · ".join(parts)


def live(draw: Callable[[AppState], None], state: AppState) -> None:
    """Draw a page's views in a fragment: their own widgets rerun only the views, not the whole page."""

    @st.fragment
    def views() -> None:
        draw(state)

    views()
    # only a full run gets here (a fragment's own rerun runs views() alone): what the page cost to draw
    spent = time.thread_time() - state.draw_started
    state.draw_seconds = spent if not state.draw_seconds else 0.7 * state.draw_seconds + 0.3 * spent
