"""The config sidebar shared by every page, drawn from the session's run settings.

Each widget gets its value from the run's settings on every run (Streamlit may drop widget state on a page
switch) and a change callback changes them: the run is the truth, never the widgets. Live settings
(`Setting.live`) change the run from its next step; the others start a new run, the old one kept.
Labels, bounds and choices come from `config.SETTINGS` and the datasets' `Param`s.
"""

from __future__ import annotations

import streamlit as st

from rnnviz import datasets
from rnnviz.datasets import DATASETS, DatasetError
from rnnviz.engine.cellspec import SPECS
from rnnviz.engine.config import SETTINGS, ConfigError
from rnnviz.ui.state import AppState, apply_config, change_live

CHANGED = "Settings changed: a new run starts at step 0 (the previous one is kept: ← back returns to it)."
LIVE_HELP = "Changes the run from its next step, without a reset; marked on every chart with a training-step axis."


def config_sidebar(state: AppState) -> None:
    with st.sidebar:
        st.header("Live settings", help="These change the run while it plays or is paused, from its next step. "
                  "A new optimizer keeps the weights and starts its own state afresh.")
        for name in ("lr", "optimizer", "clip", "batch_size"):
            _setting(state, name)
        with st.expander("Validation and probes (live)"):
            for name in ("eval_every", "probe_every", "probe_size"):
                _setting(state, name)
        st.header("New-run settings", help="A change here starts a new run with a new model; the current run is "
                  "kept, paused (← back on every page returns to it, and the Runs page lists it).")
        for name in ("cell", "hidden_size", "num_layers"):
            _setting(state, name)
        _dataset(state)
        for name in ("steps", "seed"):
            _setting(state, name)
        with st.expander("Initialisation"):
            for name in ("embedding_size", "recurrent_radius", "forget_bias"):
                _setting(state, name)


def _setting(state: AppState, name: str) -> None:
    """One RunConfig field's widget, valued from the run's settings now (its first config and live changes)."""
    s, key, value = SETTINGS[name], state.key(f"cfg_{name}"), getattr(state.shown_config, name)
    on_key = state.key(f"cfg_{name}_on")
    change = {"on_change": _changed, "args": (state, name, key, on_key)}
    if s.live:  # a view-only link watches: it can't change the run
        change |= {"disabled": not state.can_control, "help": LIVE_HELP if not s.help else f"{s.help} {LIVE_HELP}"}
    if s.optional:
        on = st.checkbox(s.label, value is not None, key=on_key, **change)
        shown = float(value if value is not None else state.view.get(f"last_{name}", s.first))
        st.number_input(name.replace("_", " "), s.lo, s.hi, shown, key=key, format="%g",
                        **change | {"disabled": not on or change.get("disabled", False)})
    elif s.choices is not None:
        st.selectbox(s.label, s.choices, s.choices.index(value), key=key,
                     format_func=cell_label if name == "cell" else str, **change)
    elif s.kind is int:
        st.number_input(s.label, int(s.lo), int(s.hi), value, step=int(s.step or 1), key=key, **change)
    else:
        st.number_input(s.label, s.lo, s.hi, float(value), key=key, format="%g", **({"help": s.help or None} | change))


def cell_label(cell: str) -> str:
    return SPECS[cell].label


def _changed(state: AppState, name: str, key: str, on_key: str) -> None:
    value = st.session_state[key]
    if SETTINGS[name].optional:
        state.view[f"last_{name}"] = float(value)
        value = float(value) if st.session_state[on_key] else None
    if SETTINGS[name].live:
        change_live(state, {name: value})
    else:
        _propose(state, lambda: state.shown_config.replace(**{name: value}))


def _propose(state: AppState, build) -> None:
    """Apply a changed config, or keep the run and say why the change was refused."""
    state.notice, state.form = None, state.form + 1  # either way the widgets redraw from the config
    try:
        config = build()
    except (ConfigError, DatasetError) as err:
        state.error = f"Setting refused: {err}"
        return
    apply_config(state, config, notice=CHANGED)


def _dataset(state: AppState) -> None:
    name, params = _shown(state)
    key = state.key("cfg_dataset")
    st.selectbox(SETTINGS["dataset"].label, list(DATASETS), list(DATASETS).index(name),
                 format_func=lambda n: DATASETS[n].title, key=key, on_change=_dataset_changed, args=(state, key))
    _setting(state, "seq_len")
    spec = DATASETS[name]
    st.caption(spec.summary)
    with st.expander("Dataset options"):
        for p in spec.params:
            if p.name != "upload":
                _param(state, name, params, p)
    if any(p.name == "upload" for p in spec.params):
        _upload(state, name, params)


def _shown(state: AppState) -> tuple[str, dict]:
    """The dataset the sidebar shows with its options: the run's, or one chosen that still waits for a file."""
    return state.view.get("pending_dataset") or (state.config.dataset, dict(state.config.dataset_params))


def _use_dataset(state: AppState, name: str, params: dict) -> None:
    """Switch the run to this dataset; one that needs a file stays chosen (and the run as it was) until it has one."""
    _propose(state, lambda: state.shown_config.replace(dataset=name, dataset_params=params))
    if state.config.dataset == name and state.config.dataset_params == params:
        state.view.pop("pending_dataset", None)
    elif any(p.name == "upload" for p in DATASETS[name].params) and not params.get("upload"):
        state.view["pending_dataset"] = (name, params)


def _dataset_changed(state: AppState, key: str) -> None:
    name = st.session_state[key]
    state.view.pop("pending_dataset", None)
    if name != state.config.dataset:
        _use_dataset(state, name, {})  # options are per dataset


def _param(state: AppState, dataset: str, params: dict, p) -> None:
    """One dataset option's widget, valued from the shown options (or the option's default)."""
    key = state.key(f"ds_{dataset}_{p.name}")
    value = params.get(p.name, p.default)
    label, extra = p.name.replace("_", " ").capitalize(), {"help": p.help or None, "on_change": _param_changed,
                                                           "args": (state, p, key), "key": key}
    if p.choices is not None:
        st.selectbox(label, list(p.choices), list(p.choices).index(value), **extra)
    elif isinstance(p.default, bool):
        st.checkbox(label, bool(value), **extra)
    elif isinstance(p.default, int):
        st.number_input(label, int(p.lo), int(p.hi), int(value), **extra)
    elif isinstance(p.default, float):
        st.number_input(label, float(p.lo), float(p.hi), float(value), format="%g", **extra)
    else:
        st.text_input(label, str(value), **extra)


def _param_changed(state: AppState, p, key: str) -> None:
    name, params = _shown(state)
    value = st.session_state[key]
    if value == p.default:
        params.pop(p.name, None)
    else:
        params[p.name] = value
    _use_dataset(state, name, params)


def _upload(state: AppState, dataset: str, params: dict) -> None:
    """The user's file: checked once per file; a good one becomes the run's data, a bad one is refused."""
    seen = state.view.setdefault("uploads_seen", {})
    file = st.file_uploader("Your file", type=list(datasets.UPLOAD_TYPES.get(dataset, ("csv", "txt"))),
                            key=f"file_{dataset}",
                            max_upload_size=datasets.MAX_UPLOAD_BYTES // 2**20,
                            help=f"At most {datasets.MAX_UPLOAD_BYTES // 2**20} MB.")
    if file is None or seen.get(dataset, (None,))[0] == file.file_id:
        if file is not None and seen[dataset][1]:
            st.error(seen[dataset][1])
        return
    try:
        key = datasets.register_upload(file.getvalue(), file.name)
    except DatasetError as err:
        seen[dataset] = (file.file_id, f"{file.name} was refused: {err}")
        st.error(seen[dataset][1])
        return
    seen[dataset] = (file.file_id, None)
    _use_dataset(state, dataset, params | {"upload": key})
    st.rerun()  # the new run replaces the page's content
