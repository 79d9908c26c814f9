"""Server settings: every RNNVIZ_* environment variable, checked once at import against its allowed range.

A bad value is refused with a message naming the variable and its range, rather than guessed around or failing
later in a page: `python -m rnnviz` stops at once; under `streamlit run app.py` (which runs no rnnviz code until
the first page is opened) the first page opened shows the message, the terminal prints it, and the server stops.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import platformdirs


class ServerSettingError(ValueError):
    """An RNNVIZ_* environment variable is malformed or out of range; the message names it and the range."""


def cores() -> int:
    """Cores this process may run on (a container's CPU affinity, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ServerSetting:
    name: str  # the environment variable
    default: int | Callable[[], int]  # used when the variable is unset (or empty)
    lo: int  # inclusive range
    hi: int
    help: str = ""

    def read(self, environ: Mapping[str, str]) -> int:
        text = environ.get(self.name, "").strip()
        if not text:
            return self.default() if callable(self.default) else self.default
        allowed = f"allowed: a whole number from {self.lo} to {self.hi} ({self.help})"
        if len(text) > 12 or not re.fullmatch(r"[0-9]+", text):  # ASCII digits: int() also takes "1_0", "١٢"
            raise ServerSettingError(f"{self.name}={text[:20]!r} is not a whole number; {allowed}")
        value = int(text)
        if not self.lo <= value <= self.hi:
            raise ServerSettingError(f"{self.name}={value} is out of range; {allowed}")
        return value


SETTINGS: dict[str, ServerSetting] = {s.name: s for s in (
    # the lowest limit still admits the default run and every lesson (tests/test_server.py checks it)
    ServerSetting("RNNVIZ_MAX_TRAIN_MB", 2048, 384, 1_048_576, "MB of memory one run may use"),
    ServerSetting("RNNVIZ_TRAINING_SLOTS", cores, 1, 1024, "runs training at the same moment; default: the cores"),
    ServerSetting("RNNVIZ_CACHE_RUNS", 32, 0, 100_000, "finished runs kept for sharing; 0 turns sharing off"),
    ServerSetting("RNNVIZ_CACHE_MB", 512, 0, 1_048_576, "MB of finished runs kept for sharing"),
    ServerSetting("RNNVIZ_TORCH_THREADS", 1, 1, 256, "PyTorch threads per training run"),
    ServerSetting("RNNVIZ_STORE_GB", 2, 0, 1_000_000, "GB of disk the run store may hold; 0 keeps no run on disk"),
    ServerSetting("RNNVIZ_CHECKPOINT_S", 30, 1, 3600, "seconds of training between two checkpoints of a playing run"),
)}


TEXT_SETTINGS = {  # read where they are used; named here so that they are known
    "RNNVIZ_DATA_DIR": "the folder of the run store (an SQLite index and one run file per run); unset: the user's "
                       "data folder, e.g. ~/.local/share/rnnviz on Linux",
    "RNNVIZ_RAY_ADDRESS": "a Ray cluster address (local, auto, ray://head:10001): sweeps run as Ray tasks and playing "
                          "sessions train in Ray actors; unset: a local process pool and in-process training",
}


def read_all(environ: Mapping[str, str]) -> dict[str, int]:
    """Every setting's value; an unknown RNNVIZ_* variable (a typo would be silently ignored) is an error."""
    unknown = sorted(k for k in environ if k.startswith("RNNVIZ_") and k not in SETTINGS and k not in TEXT_SETTINGS)
    if unknown:
        known = ", ".join([*SETTINGS, *TEXT_SETTINGS])
        raise ServerSettingError(f"unknown server setting(s) {', '.join(unknown)}; known: {known}")
    return {name: setting.read(environ) for name, setting in SETTINGS.items()}


def stop_a_streamlit_server(err: ServerSettingError) -> None:
    """A bad setting under `streamlit run`: the message to the terminal and, a second later (the page that imported
    this shows it first), SIGTERM to the server, which stops as on Ctrl-C; if open connections hold it, it exits
    five seconds after that."""
    os.write(2, f"rnnviz: {err}\nrnnviz: the server stops: fix the variable and start it again\n".encode())
    for delay, stop, args in ((1.0, os.kill, (os.getpid(), signal.SIGTERM)), (6.0, os._exit, (2,))):
        timer = threading.Timer(delay, stop, args)
        timer.daemon = True
        timer.start()


def under_streamlit_run(modules=sys.modules) -> bool:
    """True in a `streamlit run` server: its command line loaded streamlit's bootstrap (AppTest does not). Read
    from the modules already loaded: rnnviz never imports streamlit."""
    return "streamlit.web.bootstrap" in modules


try:
    _VALUES = read_all(os.environ)
except ServerSettingError as _err:
    if under_streamlit_run():
        stop_a_streamlit_server(_err)
    raise
MAX_TRAIN_MB = _VALUES["RNNVIZ_MAX_TRAIN_MB"]
TRAINING_SLOTS = _VALUES["RNNVIZ_TRAINING_SLOTS"]
CACHE_RUNS = _VALUES["RNNVIZ_CACHE_RUNS"]
CACHE_MB = _VALUES["RNNVIZ_CACHE_MB"]
TORCH_THREADS = _VALUES["RNNVIZ_TORCH_THREADS"]
STORE_BYTES = _VALUES["RNNVIZ_STORE_GB"] * 2**30
CHECKPOINT_SECONDS = float(_VALUES["RNNVIZ_CHECKPOINT_S"])


def data_dir(environ: Mapping[str, str] = os.environ) -> str:
    """The run store's folder: RNNVIZ_DATA_DIR, else the user's data folder (platformdirs)."""
    chosen = environ.get("RNNVIZ_DATA_DIR", "").strip()
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    return platformdirs.user_data_dir("rnnviz", appauthor=False)
