"""A server for tests/test_store_crash.py to kill: `python tests/crash_child.py STORE_FOLDER HEARTBEAT_FILE`.

It loads everything a run needs, says "loaded", and waits for a line on stdin (the previous server is dead and its store
checked). Then it opens a registry on the store, makes four runs (first launch) or opens them again by their
secrets, plays them, says as one JSON line when and at which step each run resumed, and trains until killed,
writing every run's step and training seconds to HEARTBEAT_FILE every HEARTBEAT seconds.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from rnnviz.engine.config import RunConfig
from rnnviz.engine.train import new_run
from rnnviz.runs.registry import Access, Registry
from rnnviz.runs.store import Store

RUNS = 4
INTERVAL = 0.3  # seconds of training between two checkpoints of a playing run
CFG = RunConfig(hidden_size=8, seq_len=10, batch_size=16, steps=100_000, probe_every=500, eval_every=100)
HEARTBEAT = 0.05  # seconds between two reports of where the runs are
SECRETS = "secrets.json"  # the runs' links, as the attendees' browsers keep them (in the store's folder: it ignores it)


def first_run(registry: Registry, seed: int) -> Access:
    """A new run with one step and its first checkpoint, so that there is something to come back to."""
    access = registry.create(CFG.replace(seed=seed), use_cache=False)
    access.worker.step()
    registry.checkpoint(access.held)
    return access


def heartbeat(accesses: list[Access], path: Path) -> None:
    """Where each run is, as often as HEARTBEAT: what a kill takes away is measured from the last report."""
    tmp = path.with_name(f"{path.name}.tmp")
    while True:
        tmp.write_text(json.dumps({a.held.key: [a.run.step, a.run.seconds] for a in accesses}))
        os.replace(tmp, path)  # whole or not at all, whenever the kill comes
        time.sleep(HEARTBEAT)


def main(root: Path, beats: Path) -> None:
    new_run(CFG)  # what a first run imports lazily (Adam pulls in torch._dynamo: over a second)
    print("loaded", flush=True)
    sys.stdin.readline()
    registry = Registry(Store(root), cache=None, checkpoint_seconds=INTERVAL)
    secrets = root / SECRETS
    if secrets.exists():
        accesses = [registry.open(s) for s in json.loads(secrets.read_text())]
    else:
        accesses = [first_run(registry, seed) for seed in range(RUNS)]
        secrets.write_text(json.dumps([a.secret for a in accesses]))
    if any(a is None for a in accesses):
        sys.exit(f"a run did not open again: {registry.why or 'its checkpoint is unreadable'}")
    resumed = {}
    for access in accesses:
        resumed[access.held.key] = {"time": time.time(), "step": access.run.step}
        access.worker.play()
    threading.Thread(target=heartbeat, args=(accesses, beats), daemon=True).start()
    print(json.dumps(resumed), flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
