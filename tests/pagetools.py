"""Helpers for AppTest page tests: run a page, read plotly specs (numpy arrays arrive as bdata)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from rnnviz.ui.state import KEY

PAGES = ["app.py", "pages/1_Train.py", "pages/2_Hidden_states.py", "pages/3_Gates.py", "pages/4_Gradients.py",
         "pages/5_Compare.py", "pages/6_Text.py"]
TIMEOUT = 60
ROOT = Path(__file__).resolve().parent.parent


def open_page(path: str, **query: str) -> AppTest:
    """Open `path` as the multipage app does (main script app.py), with `query` in the URL."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    if path != "app.py":
        at.switch_page(path)
    return at.run()


def state(at: AppTest):
    return at.session_state[KEY]


def decode(value):
    """plotly's typed-array encoding {'dtype': 'f8', 'bdata': ...} -> numpy; lists pass through."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return arr.reshape(value["shape"]) if "shape" in value and isinstance(value["shape"], list) else arr
    return np.asarray(value) if isinstance(value, list) else value


def specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def traces(at: AppTest) -> list[dict]:
    return [trace for spec in specs(at) for trace in spec["data"]]


def texts(at: AppTest, kind: str) -> str:
    return "\n".join(str(el.value) for el in getattr(at, kind))


# a ReLU RNN with W_hh radius 1.5 and plain SGD at lr 1 blows up within a few steps
DIVERGES = {"cell": "rnn_relu", "recurrent_radius": "1.5", "lr": "1.0", "optimizer": "sgd", "clip": "none",
            "steps": "50", "probe_every": "1"}


def play_to_the_end(at: AppTest, reruns: int = 30) -> AppTest:
    """Press Play and rerun (one training chunk each) until the run is finished."""
    at.button(key="ctl_play").click().run()
    for _ in range(reruns):
        if state(at).run.finished:
            return at
        at.run()
    raise AssertionError(f"the run did not finish in {reruns} reruns (at step {state(at).run.step})")


def press(at: AppTest, key: str, times: int = 1) -> AppTest:
    for _ in range(times):
        at.button(key=key).click().run()
    return at
