"""The config sidebar shared by every page: widgets -> RunConfig -> (maybe) a fresh run."""

from __future__ import annotations

import streamlit as st

from rnnviz import datasets
from rnnviz.config import ConfigError, RunConfig
from rnnviz.datasets import DATASETS, DatasetError
from rnnviz.ui.state import AppState, apply_config

CELL_LABELS = {"rnn_tanh": "Vanilla RNN (tanh)", "rnn_relu": "Vanilla RNN (ReLU)", "lstm": "LSTM", "gru": "GRU"}
OPTIONAL = {  # optional settings: a checkbox turns them on, with this value when first turned on
    "clip": ("Clip the gradient norm", 1.0),
    "recurrent_radius": ("Set the spectral radius of W_hh at init", 1.0),
    "forget_bias": ("Set the LSTM forget-gate bias at init", 1.0),
}


def load_widgets(config: RunConfig) -> None:
    """Put `config` into the sidebar's widget state (call from callbacks, before widgets are drawn)."""
    for key, value in config.to_dict().items():
        if key in OPTIONAL:
            st.session_state[f"cfg_{key}_on"] = value is not None
            if value is not None:
                st.session_state[f"cfg_{key}"] = float(value)
        elif key != "dataset_params":
            st.session_state[f"cfg_{key}"] = value
    for name, value in config.dataset_params.items():
        st.session_state[f"ds_{config.dataset}_{name}"] = value


def config_sidebar(state: AppState) -> None:
    with st.sidebar:
        st.header("Run settings")
        if any(f"cfg_{key}" not in st.session_state for key in ("cell", "seq_len", "steps")):
            load_widgets(state.config)  # a page switch may have dropped the widgets' values
        values = _model_widgets() | _data_widgets(state) | _training_widgets()
        with st.expander("Probes and initialisation"):
            values |= _advanced_widgets()
        try:
            config = RunConfig.from_dict(values)
        except (ConfigError, DatasetError) as err:
            st.error(f"Setting refused: {err}")
            return
        if apply_config(state, config, notice="Settings changed: the run was reset to step 0."):
            st.rerun()


def _model_widgets() -> dict:
    return {
        "cell": st.selectbox("Cell", list(CELL_LABELS), format_func=CELL_LABELS.get, key="cfg_cell"),
        "hidden_size": st.number_input("Hidden units", 1, 512, step=8, key="cfg_hidden_size"),
        "num_layers": st.number_input("Layers", 1, 4, key="cfg_num_layers"),
    }


def _data_widgets(state: AppState) -> dict:
    name = st.selectbox("Dataset", list(DATASETS), format_func=lambda n: DATASETS[n].title, key="cfg_dataset")
    seq_len = st.number_input("Sequence length T", 2, 2000, key="cfg_seq_len")
    params = {}
    st.caption(DATASETS[name].summary)
    with st.expander("Dataset options"):
        for p in DATASETS[name].params:
            value = _param_widget(name, p)
            if value != p.default:
                params[p.name] = value
    if getattr(datasets, "register_upload", None) and any(p.name == "upload" for p in DATASETS[name].params):
        params |= _upload_widget(name, state)
    return {"dataset": name, "seq_len": seq_len, "dataset_params": params}


def _param_widget(dataset: str, p):
    key = f"ds_{dataset}_{p.name}"
    if p.name == "upload":
        return st.session_state.get(key, p.default)
    label = p.name.replace("_", " ").capitalize()
    st.session_state.setdefault(key, p.default)
    if p.choices is not None:
        return st.selectbox(label, list(p.choices), key=key, help=p.help or None)
    if isinstance(p.default, bool):
        return st.checkbox(label, key=key, help=p.help or None)
    if isinstance(p.default, int):
        return st.number_input(label, int(p.lo), int(p.hi), key=key, help=p.help or None)
    if isinstance(p.default, float):
        st.session_state[key] = float(st.session_state[key])  # a URL may carry 1 for 1.0
        return st.number_input(label, float(p.lo), float(p.hi), key=key, format="%g", help=p.help or None)
    return st.text_input(label, key=key, help=p.help or None)


def _upload_widget(dataset: str, state: AppState) -> dict:
    key = f"ds_{dataset}_upload"
    file = st.file_uploader("Your file", type=["csv", "txt"], key=f"file_{dataset}",
                            help=f"At most {datasets.MAX_UPLOAD_BYTES // 2**20} MB.")
    if file is not None and st.session_state.get(f"{key}_file") != file.file_id:
        st.session_state[f"{key}_file"] = file.file_id  # check each file once, not on every rerun
        st.session_state[f"{key}_error"] = None
        try:
            st.session_state[key] = datasets.register_upload(file.getvalue(), file.name)
        except DatasetError as err:
            st.session_state[f"{key}_error"] = f"{file.name} was refused: {err}"
    if file is not None and st.session_state.get(f"{key}_error"):
        st.error(st.session_state[f"{key}_error"])
    value = st.session_state.get(key)
    return {"upload": value} if value else {}


def _training_widgets() -> dict:
    values = {
        "steps": st.number_input("Training steps", 1, 100_000, step=100, key="cfg_steps"),
        "batch_size": st.number_input("Batch size", 1, 1024, key="cfg_batch_size"),
        "lr": st.number_input("Learning rate", 0.0, 10.0, format="%g", key="cfg_lr"),
        "optimizer": st.selectbox("Optimizer", ["adam", "sgd", "rmsprop"], key="cfg_optimizer"),
        "seed": st.number_input("Seed", 0, 2**31 - 1, key="cfg_seed"),
    }
    return values | _optional("clip", 0.0, 1e6)


def _advanced_widgets() -> dict:
    values = {
        "probe_every": st.number_input("Probe every (steps)", 1, 100_000, key="cfg_probe_every"),
        "probe_size": st.number_input("Probe samples", 1, 64, key="cfg_probe_size"),
        "eval_every": st.number_input("Validate every (steps)", 1, 100_000, key="cfg_eval_every"),
        "embedding_size": st.number_input("Token embedding size", 1, 256, key="cfg_embedding_size"),
    }
    return values | _optional("recurrent_radius", 0.0, 1e6) | _optional("forget_bias", -20.0, 20.0)


def _optional(name: str, lo: float, hi: float) -> dict:
    label, first = OPTIONAL[name]
    st.session_state.setdefault(f"cfg_{name}", first)
    on = st.checkbox(label, key=f"cfg_{name}_on")
    value = st.number_input(name.replace("_", " "), lo, hi, format="%g", key=f"cfg_{name}", disabled=not on)
    return {name: float(value) if on else None}
