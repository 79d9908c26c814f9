"""The connection to a Ray cluster, shared by sweeps (Ray tasks) and live sessions (Ray actors).

ray is optional (requirements-ray.txt) and imported only once a cluster is used.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time

RAY_ADDRESS_ENV = "RNNVIZ_RAY_ADDRESS"  # e.g. "auto" or "ray://head:10001"; unset = the local process pool


def ray_address() -> str | None:
    return os.environ.get(RAY_ADDRESS_ENV) or None


def ray_available() -> bool:
    """Whether ray is installed, without importing it (the Sweep page asks on every draw; importing ray into the
    web server takes seconds and memory, and only a sweep on a cluster needs it)."""
    try:
        return importlib.util.find_spec("ray") is not None
    except ValueError:  # sys.modules["ray"] is None: imports of ray are blocked
        return False


CONNECT_SECONDS = 15.0  # ray.init can block for minutes on an address nobody answers at
RETRY_SECONDS = 60.0  # after a failed connection, sessions train in-process without retrying for this long

_connect_lock = threading.Lock()
_PARKED = threading.Event()  # never set: the thread that started Ray waits on it for good
_attempt: _Connect | None = None  # the latest connection attempt, shared by all sessions of this server


class _Connect:
    """One ray.init in a thread of its own, so a session waits for it at most CONNECT_SECONDS.

    After a successful init the thread stays, parked: the processes a local Ray (`local`) starts die with the
    thread that started them (their parent-death signal is per thread)."""

    def __init__(self, address: str | None):
        self.address, self.error, self.started = address, None, time.monotonic()
        self.over = threading.Event()  # init returned or failed
        threading.Thread(target=self._run, name="rnnviz-ray", daemon=True).start()

    def _run(self) -> None:
        import ray

        try:
            ray.init(address=self.address)
        except Exception as err:  # any failure to connect means: train in-process and say why
            self.error = f"{type(err).__name__}: {err}".splitlines()[0]
        self.over.set()
        if self.error is None:
            _PARKED.wait()

    def spent(self) -> bool:
        """Over, and worth trying again: it succeeded (Ray was shut down since) or failed RETRY_SECONDS ago."""
        return self.over.is_set() and (self.error is None or time.monotonic() - self.started > RETRY_SECONDS)


def ensure_ray(address: str | None = None, timeout: float = CONNECT_SECONDS) -> str | None:
    """Connect to the cluster at `address` (or RNNVIZ_RAY_ADDRESS) unless Ray is already initialised.

    Returns None once connected, else why not (one line). A failed attempt is not repeated for RETRY_SECONDS.
    """
    global _attempt
    try:
        import ray
    except ImportError:
        return "ray is not installed (pip install -r requirements-ray.txt)"
    with _connect_lock:
        if ray.is_initialized():
            return None
        if _attempt is None or _attempt.spent():
            _attempt = _Connect(address or ray_address())
        attempt = _attempt
    attempt.over.wait(timeout)
    if ray.is_initialized():
        return None
    if not attempt.over.is_set():
        return f"the cluster did not answer within {timeout:g} s"
    return f"the cluster could not be reached ({attempt.error})"


