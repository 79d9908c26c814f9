"""The one typed state object a session keeps, created by one guard function.

It is the truth for settings and view state: widgets get their values from it, callbacks write it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

import streamlit as st

from rnnviz.datasets import DatasetError
from rnnviz.engine import changes as live
from rnnviz.engine.cellspec import COMPARED
from rnnviz.engine.config import ConfigError, RunConfig, parse_query, to_query
from rnnviz.runs import remote
from rnnviz.runs.registry import GONE, Access, Refused, registry
from rnnviz.runs.trainer import Trainer
from rnnviz.runs.worker import Worker
from rnnviz.views import compare
from rnnviz.views.lessons import Lesson

KEY = "rnnviz_state"


@dataclass
class AppState:
    config: RunConfig
    access: Access | None = None  # the session's run, as its link gives it (to control, or only to watch)
    previous: Access | None = None  # the run before it (a new model's settings, a fork): one click goes back
    browser: str = ""  # this browser's key (rnnviz/ui/browser.py): whose runs the Runs page lists
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
    large_text: bool = False  # the projector display (?text=large): bigger text on every page and chart

    def key(self, name: str) -> str:
        """A widget key unique to this page and to the current config and run.

        In a browser, widgets keyed the same on two pages can show a stale value after a page switch; a key
        that changes with the page and with every change of the truth gives each widget a fresh start, its
        value taken from the session (see rnnviz/ui/sidebar.py and views.py).
        """
        return f"{name}__{self.page}_{self.form}_{self.view_token}"

    @property
    def shown_config(self) -> RunConfig:
        """The settings the sidebar shows: the run's next step's (its first config with its live changes)."""
        return self.run.current_config if self.run is not None else self.config

    @property
    def worker(self) -> Worker | None:
        """What plays the session's run (owned by the registry)."""
        return None if self.access is None else self.access.worker

    @property
    def trainer(self) -> Trainer | None:
        return None if self.access is None else self.access.trainer

    @property
    def run(self):
        return None if self.access is None else self.access.run

    @property
    def can_control(self) -> bool:
        """False on a view-only link: no Play, Pause, Step, Reset or delete."""
        return self.access is None or self.access.control

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


def get_state(browser: str = "") -> AppState:
    """This session's state; on first use the run comes from the link's ?run= and the settings from the URL
    (bad values are refused)."""
    if KEY not in st.session_state:
        st.session_state[KEY] = _first_state(dict(st.query_params.to_dict()), browser)
    state = st.session_state[KEY]
    if state.access is not None:  # still in memory, or back from the store after a long quiet spell
        state.access = registry().refresh(state.access) or state.access
    sync_url(state)
    return state


def _first_state(query: dict[str, str], browser: str = "") -> AppState:
    state, refused = AppState(RunConfig(), browser=browser), None
    state.large_text = query.get(TEXT_PARAM) == LARGE
    secret = query.get(RUN_PARAM)
    if secret:
        access = registry().open(secret)
        if access is not None:
            use_run(state, access)
            state.notice = access.held.restored
            return state
        refused = GONE + " Its settings are loaded below."
    changes: live.Changes = ()
    try:
        state.config = parse_query(query)
        changes = live.from_json(state.config, query[CHANGES_PARAM]) if CHANGES_PARAM in query else ()
    except (ConfigError, DatasetError) as err:
        refused = f"The link's settings were refused: {err}. Using the defaults instead."
    if not apply_config(state, state.config, force=True, changes=changes):  # e.g. an upload this server lost
        refused = f"The link's settings could not be used: {state.error}. Using the defaults instead."
        apply_config(state, RunConfig(), force=True)
    state.error = refused
    return state


RUN_PARAM = "run"  # ?run=<the run's id, or its view-only token>
CHANGES_PARAM = "changes"  # ?changes=[[step, {setting: value}], ...]: the run's live changes
TEXT_PARAM, LARGE = "text", "large"  # ?text=large: the projector display


def sync_url(state: AppState) -> None:
    """Mirror the run's id and its settings in the URL, so a copied link (a reload, a second tab) finds the run
    and a link without the id reproduces it."""
    wanted = run_query(state.config, state.run.changes if state.run is not None else ())
    if state.access is not None:
        wanted[RUN_PARAM] = state.access.secret
    if state.large_text:
        wanted[TEXT_PARAM] = LARGE
    if dict(st.query_params.to_dict()) != wanted:
        st.query_params.from_dict(wanted)


def run_query(config: RunConfig, changes: live.Changes = ()) -> dict[str, str]:
    """A run's settings as URL parameters: its first config and, if any, its live changes."""
    return {**to_query(config), **({CHANGES_PARAM: live.to_json(changes)} if changes else {})}


def run_link(secret: str, config: RunConfig, page: str = "Train", changes: live.Changes = ()) -> str:
    """A link that opens the run `secret` names (its settings beside it, for a server that no longer has it)."""
    base = (st.context.url or "").rstrip("/")
    return f"{base}/{page}?{urlencode({**run_query(config, changes), RUN_PARAM: secret})}"


def apply_config(state: AppState, config: RunConfig, notice: str | None = None, force: bool = False,
                 use_cache: bool = True, origin: str = "train", changes: live.Changes = ()) -> bool:
    """Switch to a new run of `config` and its live `changes` (or the cached finished one); the old run is kept
    (paused) in the registry, one click away. On bad data keep the previous run and say why."""
    if config == state.config and state.worker is not None and not force and not changes:
        return False
    try:
        access = registry().create(config, owner=state.browser, origin=origin, use_cache=use_cache,
                                   changes=changes)
    except (DatasetError, ConfigError, MemoryError) as err:
        state.error = f"{err}" if not isinstance(err, MemoryError) else "Not enough memory for this run."
        return False
    use_run(state, access)
    state.notice = notice
    if access.trainer.from_cache:
        state.notice = "This run was already trained on this server with the same settings: shown from the cache."
    state.notice = remote.fallback_notice([access.trainer]) or state.notice  # Ray configured but unusable
    return True


def use_run(state: AppState, access: Access) -> None:
    """Make `access`'s run the session's run. The old one is paused (the registry keeps it), and so is the
    Compare group, which trained the old run beside its other cells (rebuilt around the new run when shown)."""
    if state.compare is not None:
        state.compare.close()  # borrows every run: closes only its thread
        state.compare, state.group_drives = None, False
    if state.access is not None and state.access.held is not access.held:
        registry().park(state.access)  # paused and kept on disk, one click away on the Runs page
        # "← back to the run at step N" on every page (a run left at step 0 is made again from its settings)
        state.previous = state.access if state.access.run.step >= 1 else None
    if state.previous is not None and state.previous.held is access.held:
        state.previous = None
    state.access, state.config, state.error = access, access.trainer.config, None
    if state.lesson is not None and state.lesson.config != state.config:
        state.lesson = None
    state.view.pop("probe_step", None)  # follow the new run's latest probe
    state.view_token, state.form = state.view_token + 1, state.form + 1  # the sidebar redraws from the new config


def go_back(state: AppState) -> None:
    """Callback of "← back to the run at step N": the previous run again (paused as it was left); the run left
    becomes the one to go back to."""
    previous = state.previous and registry().refresh(state.previous)
    state.notice = None
    if previous is None:
        state.previous, state.error = None, "The previous run is not on this server any more."
        return
    use_run(state, previous)


def change_live(state: AppState, values: dict) -> None:
    """A live setting changed in the sidebar: the run trains on with it from its next step (marked on every chart).
    A run with nothing left to train (finished, or shown from the cache) starts a new one with it instead."""
    state.notice, state.form = None, state.form + 1  # the widgets redraw from the run's settings either way
    run = state.run
    if run is None or run.finished or state.trainer.from_cache:
        try:
            config = state.shown_config.replace(**values)
        except ConfigError as err:
            state.error = f"Setting refused: {err}"
            return
        apply_config(state, config, notice="The run had finished, so the change starts a new run (the finished "
                     "one is kept: ← back returns to it).")
        return
    try:
        change = registry().change(state.access, values)
    except Refused as err:
        state.error = f"Setting refused: {err}."
        return
    except ConfigError as err:
        state.error = f"Setting refused: {err}. The run goes on unchanged."
        return
    state.error = None
    if change is not None:
        what = live.label(run.config, run.changes, change)
        fresh = (f" The weights stay; {change.values['optimizer']} starts with a fresh state."
                 if "optimizer" in change.values else "")
        state.notice = f"From step {change.step:,}: {what}. The run goes on (marked on every chart).{fresh}"


def fork(state: AppState, step: int, values: dict) -> None:
    """Callback of "Fork from this step": a new run from that step with `values`, the session's run from now on
    (the parent is kept and one click away)."""
    state.notice = None
    try:
        forked = registry().fork(state.access, step, values, owner=state.browser)
    except ConfigError as err:
        state.error = f"Fork refused: {err}"
        return
    use_run(state, forked)
    new = [c for c in forked.run.changes if c.step == step + 1]
    what = live.label(forked.run.config, forked.run.changes, new[0]) if new else "the same settings"
    state.notice = (f"Forked at step {step:,} with {what}. ▶ Play trains the fork; its parent is kept (← back, or "
                    "both on the Runs page and on Compare).")


def reset(state: AppState) -> None:
    """Back to the initial weights: a fresh run, never from the cache (the old one is kept); on failure the
    run stays."""
    if apply_config(state, state.config, force=True, use_cache=False, origin=_origin(state)):
        state.notice = "Run reset: the model is back at its initial weights."


def start_lesson(state: AppState, lesson: Lesson) -> None:
    """Callback for a lesson button: its config (and live changes), a fresh (or cached) run, playing at once on its
    page. A lesson that forks trains its config to the end first (the parent), then plays the fork."""
    made = apply_config(state, lesson.config, origin="lesson", changes=lesson.changes, force=bool(lesson.changes))
    if not made and state.config != lesson.config:
        return  # the error says why, and the previous run stays
    if lesson.fork is not None:
        step, values = lesson.fork
        state.trainer.advance(budget_s=30.0)  # the parent: a short run (the rescue lesson's diverges at step 32)
        fork(state, step, values)
        if state.error:
            return
    state.lesson, state.notice = lesson, None
    if lesson.compare:
        state.compare_cells = lesson.compare
        play(state, compare_group(state))
    else:
        play(state, state.worker)


def _origin(state: AppState) -> str:
    return state.access.held.entry.origin if state.access is not None else "train"


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
    if worker is None or not state.can_control:
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
    if own is not None and own.run.changes:
        own = None  # changed live: not the run these settings train, so the group trains its cell afresh
    reg = registry()
    try:
        trainers = [own if own is not None and c == own.config else
                    reg.create(c, owner=state.browser, origin="compare", use_cache=use_cache).trainer for c in configs]
    except (DatasetError, ConfigError, MemoryError) as err:
        state.error = f"{err}"
        return state.compare
    if state.compare is not None:
        state.compare.close()
    state.compare = reg.group(trainers) if trainers else None
    state.group_drives = False
    state.notice = remote.fallback_notice([t for t in trainers if t is not own]) or state.notice
    return state.compare
