"""Compare page control: several Trainers advanced in turn by one timed fragment."""

from __future__ import annotations

import streamlit as st

from rnnviz import jobs
from rnnviz.compare import variants
from rnnviz.session import Trainer
from rnnviz.ui.control import BUDGET, INTERVAL
from rnnviz.ui.state import AppState


def compare_control(state: AppState, cells: list[str]) -> None:
    configs = variants(state.config, cells)
    trainers = state.compare_trainers or {}
    if {c: t.config for c, t in trainers.items()} != configs:
        state.compare_trainers = trainers = {c: _trainer(cfg) for c, cfg in configs.items()}
        state.compare_playing = False
    if all(t.finished for t in trainers.values()):
        state.compare_playing = False
    running = state.compare_playing

    @st.fragment(run_every=INTERVAL if running else None)
    def control() -> None:
        if state.compare_playing != running:
            st.rerun()  # started or paused: a full rerun sets every timer on the page
        if state.compare_playing:
            _tick(state, trainers)
        done = sum(max(t.run.step, 0) for t in trainers.values())
        total = sum(t.config.steps for t in trainers.values())
        label, icon = ("Pause", ":material/pause:") if state.compare_playing else \
            ("Train all side by side", ":material/play_arrow:")
        st.button(label, icon=icon, key="cmp_play", type="primary", on_click=_toggle, args=(state,),
                  disabled=all(t.finished for t in trainers.values()))
        st.progress(min(done / max(total, 1), 1.0), text=f"{done:,} / {total:,} steps in all")

    control()


def _trainer(config) -> Trainer:
    cached = jobs.RUN_CACHE.get(config.key())
    return Trainer(config, run=cached) if cached else Trainer(config)


def _toggle(state: AppState) -> None:
    state.compare_playing = not state.compare_playing


def _tick(state: AppState, trainers: dict[str, Trainer]) -> None:
    todo = [t for t in trainers.values() if not t.finished]
    with jobs.SLOTS.hold(timeout=BUDGET) as got:
        if got:
            for t in todo:
                t.advance(BUDGET / len(todo))
    for t in todo:
        if t.finished:
            jobs.RUN_CACHE.put(t.config.key(), t.run)
    if all(t.finished for t in trainers.values()):
        state.compare_playing = False
        st.rerun()
