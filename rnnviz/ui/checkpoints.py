"""Your checkpoint in the sidebar: upload a state_dict of your own RNN, LSTM or GRU, see what rnnviz read from it,
and open it on the sidebar's data as a run (every page shows it; ▶ Play fine-tunes it; the Runs page keeps it)."""

from __future__ import annotations

import streamlit as st

from rnnviz.datasets import DatasetError
from rnnviz.engine.checkpoint import MAX_CHECKPOINT_BYTES, CheckpointError, detect, read_state_dict
from rnnviz.engine.config import ConfigError
from rnnviz.engine.own import ModelError, checkpoint_run
from rnnviz.runs.registry import registry
from rnnviz.ui.state import AppState, use_run

KEY = "checkpoint_upload"
KINDS = {"lstm": "lstm", "gru": "gru"}  # an nn.RNN's tanh or ReLU cannot be told from its shapes: asked


def checkpoint_panel(state: AppState) -> None:
    with st.sidebar.expander("Your checkpoint", expanded=KEY in state.view):
        st.file_uploader("Open a state_dict (.pt, .safetensors)", type=["pt", "pth", "safetensors"], key=KEY,
                         max_upload_size=MAX_CHECKPOINT_BYTES // 2**20, on_change=_read, args=(state,),
                         help="torch.save(model.state_dict(), path) of your nn.RNN, nn.LSTM or nn.GRU (1–4 layers, "
                              "an optional linear head named head.*); read without pickle (weights_only).")
        found = state.view.get(KEY)
        if found is None:
            return
        if isinstance(found, str):
            st.error(found)
            return
        name, det, weights = found
        st.caption(f"{name}: {det.kind.upper()} with {det.num_layers} layer(s) of {det.hidden_size} units reading "
                   f"{det.input_size} feature(s) per step" + (f", a linear head of {det.head_out} output(s)"
                                                             if det.head_out else ", no head") + ".")
        cell = KINDS.get(det.kind) or st.radio("Nonlinearity", ["rnn_tanh", "rnn_relu"], horizontal=True,
                                              format_func=lambda c: c.split("_")[1], key=state.key("ckpt_nl"))
        dataset = state.shown_config.dataset
        st.button(f"Open it on {dataset}", key=state.key("ckpt_open"), on_click=_open, args=(state, cell),
                  type="primary", help="The sidebar's dataset and settings, with your weights: change the dataset "
                  "first if it does not fit (Your sequences (.npy) takes any number of features).")


def _read(state: AppState) -> None:
    file = st.session_state.get(KEY)
    if file is None:
        state.view.pop(KEY, None)
        return
    try:
        weights = read_state_dict(file.getvalue(), file.name)
        state.view[KEY] = (file.name, detect(weights), weights)
    except CheckpointError as err:
        state.view[KEY] = f"{file.name} was not opened: {err}. The current run stays."


def _open(state: AppState, cell: str) -> None:
    name, det, weights = state.view[KEY]
    rnn, head = det.recurrent_state(weights), det.head_state(weights)
    try:
        config = state.shown_config.replace(cell=cell, hidden_size=det.hidden_size, num_layers=det.num_layers)
        run = checkpoint_run(config, rnn, head)
    except (ConfigError, DatasetError, ModelError) as err:
        state.error = f"{name} does not fit: {err}. The current run stays."
        return
    use_run(state, registry().adopt(run, owner=state.browser, origin="checkpoint", name=name[:80]))
    state.lesson = None
    fresh = "" if head is not None and det.head_out == run.model.head.out_features else \
        " Its head does not fit this data's outputs, so the head is new (▶ Play fine-tunes it)."
    state.notice = f"Opened {name} on {config.dataset}: every page shows your model.{fresh}"
