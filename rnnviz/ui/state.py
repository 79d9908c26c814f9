"""The one typed state object a session keeps, created by one guard function.

It is the truth for settings and view state: widgets get their values from it, callbacks write it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from rnnviz import compare, remote
from rnnviz.cellspec import COMPARED
from rnnviz.config import ConfigError, RunConfig, parse_query, to_query
from rnnviz.datasets import DatasetError
from rnnviz.lessons import Lesson
from rnnviz.session import Trainer
from rnnviz.worker import Worker, trainer_for

KEY = "rnnviz_state"


@dataclass
class AppState:
    config: RunConfig
    worker: Worker | None = None  # trains the session's run beside the page
    compare: Worker | None = None  # the Compare page's runs, one per cell, trained as a group
    compare_cells: tuple[str, ...] = COMPARED
    lesson: Lesson | None = None  # the lesson whose settings are loaded, while they are
    notice: str | None = None  # "settings changed, run reset", "from cache", ... until the next action
    error: str | None = None  # a refused setting or unusable data; the previous run stays
    view_token: int = 0  # bumps when the run is replaced, so view widgets can reset
    view: dict = field(default_factory=dict)  # view state kept across pages (probe step, layer, samples, ...)
    drawn: dict = field(default_factory=dict)  # per control: (news, time) of the last full draw
    page: str = ""  # the page being drawn (widget keys carry it: a widget is never shared by two pages)
    form: int = 0  # bumps on every settings proposal, taken or refused, so the sidebar redraws from the config
    draw_seconds: float = 0.0  # CPU seconds a full redraw of the page takes (running mean), to pace redraws
    draw_started: float = 0.0  # this script thread's CPU clock when the page's run began
    group_drives: bool = False  # the Compare group was played or stepped last: every page's control drives it

    def key(self, name: str) -> str:
        """A widget key unique to this page and to the current config and run.

        In a browser, widgets keyed the same on two pages can show a stale value after a page switch; a key
        that changes with the page and with every change of the truth gives each widget a fresh start, its
        value taken from the session (see rnnviz/ui/sidebar.py and views.py).
        """
        return f"{name}__{self.page}_{self.form}_{self.view_token}"

    @property
    def trainer(self) -> Trainer | None:
        return None if self.worker is None else self.worker.trainers[0]

    @property
    def run(self):
        return None if self.trainer is None else self.trainer.run

    @property
    def driver(self) -> Worker | None:
        """What the control of every page but Compare plays: the Compare group while it is the one in use and
        trains this session's own run (beside the other cells), else the session's own worker."""
        group = self.compare
        if self.group_drives and group is not None and self.trainer in group.trainers:
            return group
        return self.worker

    @property
    def playing(self) -> bool:
        """The session's own run is training (alone, or in the Compare group)."""
        return self.driver is not None and self.driver.playing


def get_state() -> AppState:
    """This session's state; on first use the config comes from the URL (bad values are refused)."""
    if KEY not in st.session_state:
        st.session_state[KEY] = _first_state(dict(st.query_params.to_dict()))
    state = st.session_state[KEY]
    sync_url(state.config)
    return state


def _first_state(query: dict[str, str]) -> AppState:
    state, refused = AppState(RunConfig()), None
    try:
        state.config = parse_query(query)
    except (ConfigError, DatasetError) as err:
        refused = f"The link's settings were refused: {err}. Using the defaults instead."
    if not apply_config(state, state.config, force=True):  # e.g. the link names an upload this server lost
        refused = f"The link's settings could not be used: {state.error}. Using the defaults instead."
        apply_config(state, RunConfig(), force=True)
    state.error = refused
    return state


def sync_url(config: RunConfig) -> None:
    """Mirror the config in the URL so a copied link reproduces the run."""
    wanted = to_query(config)
    if dict(st.query_params.to_dict()) != wanted:
        st.query_params.from_dict(wanted)


def apply_config(state: AppState, config: RunConfig, notice: str | None = None, force: bool = False,
                 use_cache: bool = True) -> bool:
    """Switch to `config` with a fresh (or cached) run; on bad data keep the previous run and say why."""
    if config == state.config and state.worker is not None and not force:
        return False
    try:
        trainer = trainer_for(config, use_cache=use_cache)  # built before anything is replaced
    except (DatasetError, ConfigError, MemoryError) as err:
        state.error = f"{err}" if not isinstance(err, MemoryError) else "Not enough memory for this run."
        return False
    replace_run(state, config, Worker([trainer]))
    state.notice = notice
    if trainer.from_cache:
        state.notice = "This run was already trained on this server with the same settings: shown from the cache."
    state.notice = remote.fallback_notice([trainer]) or state.notice  # Ray configured but unusable
    if state.lesson is not None and state.lesson.config != config:
        state.lesson = None
    state.view_token += 1
    return True


def replace_run(state: AppState, config: RunConfig, worker: Worker) -> None:
    """Make `worker`'s run the session's run. The old one stops for good, and so does the Compare group,
    which trained the old run beside its other cells (it is rebuilt around the new run when Compare is shown)."""
    if state.compare is not None:
        state.compare.close()  # leaves the borrowed session run open; closes the group's other runs
        state.compare, state.group_drives = None, False
    if state.worker is not None:
        state.worker.close()  # joins the thread first: nothing is advancing the old trainer afterwards
    state.config, state.worker, state.error = config, worker, None
    state.view.pop("probe_step", None)  # follow the new run's latest probe


def reset(state: AppState) -> None:
    """Back to the initial weights: train afresh, never from the cache; on failure the run stays."""
    if apply_config(state, state.config, force=True, use_cache=False):
        state.notice = "Run reset: the model is back at its initial weights."


def start_lesson(state: AppState, lesson: Lesson) -> None:
    """Callback for a lesson button: its config, a fresh (or cached) run, playing at once on its page."""
    if not apply_config(state, lesson.config) and state.config != lesson.config:
        return  # the error says why, and the previous run stays
    state.lesson, state.notice = lesson, None
    if lesson.compare:
        state.compare_cells = lesson.compare
        play(state, compare_group(state))
    else:
        play(state, state.worker)


def play(state: AppState, worker: Worker | None) -> None:
    """Play `worker` (the session's run, or the Compare group)."""
    if _take_over(state, worker):
        worker.play()


def step(state: AppState, worker: Worker | None) -> None:
    """One update of `worker`'s run(s)."""
    if _take_over(state, worker):
        worker.step()


def _take_over(state: AppState, worker: Worker | None) -> bool:
    """One of the session's workers trains at a time: the other, which may share the session's run with it, is
    paused first; the group, once played or stepped, is what every page drives."""
    if worker is None:
        return False
    other = state.compare if worker is state.worker else state.worker
    if other is not None and other is not worker:
        other.pause()
    state.group_drives = worker is state.compare
    return True


def reset_driven(state: AppState) -> None:
    """Reset on a page other than Compare: the group's runs when the group is what the page drives."""
    (reset_compare if state.driver is state.compare and state.compare is not None else reset)(state)


def reset_compare(state: AppState) -> None:
    """Compare's Reset: every cell back to its initial weights, trained afresh (the session's own run too,
    when it is one of the group's cells)."""
    if state.config in compare.variants(state.config, list(state.compare_cells)).values():
        reset(state)  # a fresh session run; drops the group, rebuilt below around the new run
    if state.compare is not None:
        state.compare.close()
        state.compare, state.group_drives = None, False
    compare_group(state, use_cache=False)
    state.notice = "Runs reset: every cell is back at its initial weights."


def compare_group(state: AppState, use_cache: bool = True) -> Worker | None:
    """The Compare page's worker for the sidebar's settings and the chosen cells (rebuilt when they change).

    The cell whose settings are the session's own is the session's run itself (borrowed, never closed by the
    group): it is not trained twice, and every other page shows it as the group trains it."""
    configs = list(compare.variants(state.config, list(state.compare_cells)).values())
    if state.compare is not None and [t.config for t in state.compare.trainers] == configs:
        return state.compare
    own = state.trainer if state.trainer is not None and state.trainer.config in configs else None
    try:
        trainers = [own if own is not None and c == own.config else trainer_for(c, use_cache=use_cache)
                    for c in configs]
    except (DatasetError, ConfigError, MemoryError) as err:
        state.error = f"{err}"
        return state.compare
    if state.compare is not None:
        state.compare.close()
    state.compare = Worker(trainers, borrowed=[own] if own is not None else []) if trainers else None
    state.group_drives = False
    state.notice = remote.fallback_notice([t for t in trainers if t is not own]) or state.notice
    return state.compare
