"""The one typed run-state object a session keeps, created by one guard function."""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from rnnviz import jobs
from rnnviz.config import ConfigError, RunConfig, parse_query, to_query
from rnnviz.datasets import DatasetError
from rnnviz.session import Trainer

KEY = "rnnviz_state"


@dataclass
class AppState:
    config: RunConfig
    trainer: Trainer | None = None
    playing: bool = False
    notice: str | None = None  # shown once: "settings changed, run reset", "from cache", ...
    error: str | None = None  # a refused setting or unusable data; the previous run stays
    waiting: bool = False  # Play is on but no training slot was free at the last tick
    view_token: int = 0  # bumps when the run is replaced, so view widgets can reset
    compare: tuple[str, ...] = ()  # cells the Compare page runs side by side (set by lessons)
    compare_trainers: dict | None = None  # cell -> Trainer for the Compare page
    compare_playing: bool = False
    view: dict = field(default_factory=dict)  # view state kept across pages (selected sample, time cursor, ...)

    @property
    def run(self):
        return None if self.trainer is None else self.trainer.run


def get_state() -> AppState:
    """This session's state; on first use the config comes from the URL (bad values are refused)."""
    if KEY not in st.session_state:
        state, refused = AppState(RunConfig()), None
        try:
            state.config = parse_query(dict(st.query_params.to_dict()))
        except (ConfigError, DatasetError) as err:
            refused = f"The link's settings were refused: {err}. Using the defaults instead."
        if not new_trainer(state):  # e.g. the link names an upload this server no longer has
            refused, state.config = state.error, RunConfig()
            new_trainer(state)
        state.error = refused
        st.session_state[KEY] = state
    state = st.session_state[KEY]
    sync_url(state.config)
    return state


def sync_url(config: RunConfig) -> None:
    """Mirror the config in the URL so a copied link reproduces the run."""
    wanted = to_query(config)
    if dict(st.query_params.to_dict()) != wanted:
        st.query_params.from_dict(wanted)


def apply_config(state: AppState, config: RunConfig, notice: str | None = None) -> bool:
    """Switch to `config` with a fresh run; on bad data keep the previous run and show why."""
    if config == state.config and state.trainer is not None:
        return False
    previous = (state.config, state.trainer)
    state.config = config
    if not new_trainer(state):
        state.config, state.trainer = previous
        return False
    if previous[1] is not None:
        previous[1].close()
    state.notice = notice
    return True


def new_trainer(state: AppState, use_cache: bool = True) -> bool:
    """A trainer for state.config: a cached finished run if there is one, else a fresh model."""
    state.playing = False
    try:
        cached = jobs.RUN_CACHE.get(state.config.key()) if use_cache else None
        state.trainer = Trainer(state.config, run=cached) if cached else Trainer(state.config)
    except (DatasetError, ConfigError) as err:
        state.error = f"{err}"
        return False
    if cached:
        state.notice = "This run was already trained on this server with the same settings: shown from the cache."
    state.error = None
    state.view_token += 1
    return True


def reset(state: AppState) -> None:
    if state.trainer is not None:
        state.trainer.close()
    state.trainer = None
    if new_trainer(state, use_cache=False):
        state.notice = "Run reset: the model is back at its initial weights."


def start_lesson(state: AppState, lesson) -> None:
    """Callback for a lesson button: its config, a fresh (or cached) run, playing at once."""
    from rnnviz.ui.sidebar import load_widgets  # sidebar imports this module

    apply_config(state, lesson.config)
    if state.config == lesson.config:  # else the error says why, and the previous run stays
        load_widgets(state.config)
        state.compare = lesson.compare
        state.notice = f"Lesson: {lesson.title}. {lesson.claim} Look: {lesson.look}"
        state.playing = not state.trainer.finished
