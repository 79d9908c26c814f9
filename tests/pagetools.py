"""Helpers for AppTest page tests: run a page, read plotly specs (numpy arrays arrive as bdata)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from rnnviz.ui.state import KEY

PAGES = ["app.py", "pages/1_Train.py", "pages/2_Hidden_states.py", "pages/3_Gates.py", "pages/4_Gradients.py",
         "pages/5_Compare.py", "pages/6_Text.py", "pages/8_Runs.py"]
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


def widget(at: AppTest, kind: str, name: str, sidebar: bool = False):
    """The `kind` widget named `name` (its key is `name__<page>_<version>`: see AppState.key)."""
    found = [w for w in getattr(at.sidebar if sidebar else at, kind) if (w.key or "").startswith(f"{name}__")]
    assert len(found) == 1, f"{len(found)} {kind} widgets named {name}"
    return found[0]


def wait_until(condition, timeout: float = 60.0, what: str = "the condition") -> None:
    """Poll `condition()` while the session's worker trains in its thread."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)


def play_to_the_end(at: AppTest, key: str = "ctl", timeout: float = 60.0) -> AppTest:
    """Press Play, wait for the worker to finish the run(s), and draw the page once more."""
    at.button(key=f"{key}_play").click().run()
    worker = state(at).worker if key == "ctl" else state(at).compare
    wait_until(lambda: worker.finished, timeout, what=f"finishing the run (at step {worker.trainers[0].run.step})")
    return at.run()


def press(at: AppTest, key: str, times: int = 1) -> AppTest:
    for _ in range(times):
        at.button(key=key).click().run()
    return at
