"""Play / Pause / Step / Reset, progress, and the timed fragments that train and refresh views."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from rnnviz import jobs
from rnnviz.ui.state import AppState, reset

INTERVAL = 0.5  # seconds between training ticks while playing
VIEW_INTERVAL = 1.0  # seconds between view refreshes while playing: drawing costs more than a chunk
BUDGET = 0.25  # seconds of training per tick: well under the interval, so the page stays responsive


def tick_every(state: AppState) -> float | None:
    return INTERVAL if state.playing else None


def training_control(state: AppState) -> None:
    """The control bar; while playing it trains a chunk per tick."""

    ticking = state.playing

    @st.fragment(run_every=tick_every(state))
    def control() -> None:
        if state.playing != ticking:
            st.rerun()  # Play/Pause was pressed: a full rerun (re)starts or stops every timer on the page
        if state.playing:
            _train_chunk(state)
        _buttons(state)
        _progress(state)

    control()


def _train_chunk(state: AppState) -> None:
    trainer = state.trainer
    with jobs.SLOTS.hold(timeout=BUDGET) as got:
        state.waiting = not got
        if got:
            trainer.advance(BUDGET)
    if trainer.finished:
        state.playing = False
        jobs.RUN_CACHE.put(state.config.key(), trainer.run)  # deterministic, so shareable (diverged too)
        st.rerun()  # a full rerun stops the timers and redraws every view at the final step


def _buttons(state: AppState) -> None:
    finished = state.trainer is None or state.trainer.finished
    cols = st.columns([1, 1, 1, 5])
    if state.playing:
        cols[0].button("Pause", icon=":material/pause:", key="ctl_pause", on_click=_set_playing,
                       args=(state, False), type="primary")
    else:
        cols[0].button("Play", icon=":material/play_arrow:", key="ctl_play", on_click=_set_playing,
                       args=(state, True), type="primary", disabled=finished)
    if cols[1].button("Step", icon=":material/skip_next:", key="ctl_step", disabled=finished or state.playing):
        _step(state)
    cols[2].button("Reset", icon=":material/replay:", key="ctl_reset", on_click=reset, args=(state,))


def _set_playing(state: AppState, playing: bool) -> None:
    state.playing = playing and state.trainer is not None and not state.trainer.finished
    state.waiting = False


def _step(state: AppState) -> None:
    with jobs.SLOTS.hold(timeout=5.0) as got:
        if got:
            state.trainer.step()
    if state.trainer.finished:
        jobs.RUN_CACHE.put(state.config.key(), state.trainer.run)
    st.rerun()  # views outside this fragment show the new step


def _progress(state: AppState) -> None:
    if state.trainer is None:
        return
    trainer, total = state.trainer, state.config.steps
    done = max(trainer.run.step, 0)
    st.progress(min(done / total, 1.0), text=_progress_text(state, done, total))
    if state.waiting:
        st.info(f"Waiting for a free training slot: {jobs.SLOTS.n} run(s) may train at once on this server.")
    if trainer.run.diverged_at is not None:
        st.error(
            f"Training diverged at step {trainer.run.diverged_at}: the loss or a gradient became NaN or infinite. "
            f"Try a lower learning rate (now {state.config.lr:g}) or turn on gradient clipping"
            f"{'' if state.config.clip is None else ' with a smaller threshold'}. "
            "Everything up to that step is still shown."
        )


def _progress_text(state: AppState, done: int, total: int) -> str:
    trainer = state.trainer
    parts = [f"step {done:,} / {total:,}"]
    rate = trainer.steps_per_second
    if rate:
        parts.append(f"{rate:,.0f} steps/s")
    if state.playing and (left := trainer.seconds_left(duty=BUDGET / INTERVAL)) is not None:
        parts.append(f"about {left:,.0f} s left")
    if trainer.from_cache:
        parts.append("from the run cache")
    elif trainer.finished:
        parts.append(f"finished in {trainer.run.seconds:,.1f} s of training")
    return " · ".join(parts)


def live(draw: Callable[[AppState], None], state: AppState, running: bool | None = None) -> None:
    """Draw a page's views in a fragment that refreshes with the training ticks (or while `running`)."""
    ticking = state.playing if running is None else running

    @st.fragment(run_every=VIEW_INTERVAL if ticking else None)
    def views() -> None:
        draw(state)

    views()
