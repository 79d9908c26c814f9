"""20 kill -9s of the server at random moments while 4 runs train and checkpoint: the store opens every time, and each
run comes back at a checkpoint no older than its interval, never behind where it was (tests/crash_child.py is the
server)."""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from rnnviz.runs import runfile, worker
from rnnviz.runs.store import TEMP, Store
from tests.crash_child import INTERVAL, RUNS

ROOT = Path(__file__).resolve().parents[1]
KILLS = 20
SPARES = 3  # servers loading (importing torch and a first run take seconds) while the one before them trains
SLACK = 1.5  # wall seconds beyond the interval: the slice under way, a checkpoint being written, a loaded machine
# in the run's own clock a checkpoint is due after INTERVAL seconds of training and taken when the slice of training
# under way ends (its last step may end a little past the slice); the kill may come while that checkpoint is being
# written beside training (the one before it is then the newest on disk), which takes WRITING seconds of training
WRITING = 0.25
LOST = INTERVAL + worker.SLICE_SECONDS + WRITING


class Child:
    """One server process and the lines it prints, read by a thread so that a wait can time out."""

    def __init__(self, store: Path, name: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "RNNVIZ_TORCH_THREADS": "1"}
        self.log, self.beats = name.with_suffix(".log"), name.with_suffix(".beats")
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "crash_child.py"), str(store), str(self.beats)], cwd=ROOT,
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("")  # it exited

    def line(self, timeout: float = 60.0) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = ""
        assert line, f"the server said nothing (exit {self.proc.poll()}): {self.log.read_text()[-2000:]}"
        return line

    def start(self) -> dict[str, dict]:
        """Let it open the store; when and at which step each run resumed, once all play."""
        assert self.line() == "loaded"
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return json.loads(self.line())

    def kill(self) -> float:
        self.proc.kill()  # SIGKILL
        killed = time.time()
        self.proc.wait(timeout=30)
        self.proc.stdin.close()
        return killed

    def last_beat(self) -> dict[str, list]:
        """Each run's [step, training seconds] a moment before the kill."""
        return json.loads(self.beats.read_text())


def test_twenty_kill_9s_while_four_runs_train_lose_at_most_a_checkpoint_interval(tmp_path):
    store_dir, rng = tmp_path / "store", random.Random(2026)
    store_dir.mkdir()
    servers = deque(Child(store_dir, tmp_path / f"server{i}") for i in range(1 + SPARES))
    started = len(servers)
    steps: dict[str, int] = {}  # each run's step at the previous check
    ages, losses = [], []
    try:
        for _ in range(KILLS):
            server = servers.popleft()
            resumed = server.start()
            assert len(resumed) == RUNS and all(steps.get(k, r["step"]) == r["step"] for k, r in resumed.items())
            if started < KILLS:
                servers.append(Child(store_dir, tmp_path / f"server{started}"))
                started += 1
            time.sleep(rng.uniform(0.5, 2.0))
            killed = server.kill()
            age, lost = check_store(store_dir, resumed, killed, server.last_beat(), steps)
            ages += age
            losses += lost
    finally:
        for child in servers:
            child.kill()
    print(f"\nat the kills, the runs' checkpoints were {_spread(ages)} s old (wall) and {_spread(losses)} s of "
          f"training behind; steps reached {sorted(steps.values())}")
    assert min(steps.values()) > 100  # they did train between the kills


def check_store(root: Path, resumed: dict[str, dict], killed: float, beat: dict[str, list],
                steps: dict[str, int]) -> tuple[list[float], list[float]]:
    """The store as the next server finds it: each run's checkpoint age at the kill, in wall seconds and in seconds
    of training. Updates `steps`."""
    store = Store(root)
    try:
        assert store.available, store.why
        assert not [p for p in store.problems if "damaged" in p or "skipped" in p], store.problems
        assert not [p for p in (root / "runs").rglob("*") if p.name.startswith(TEMP)]
        entries = {e.key: e for e in store.entries()}
        assert set(entries) == set(resumed) == set(beat)
        ages, losses = [], []
        for key, entry in entries.items():
            run = runfile.load_run(store.read(key))
            assert entry.state in ("interrupted", "paused") and not entry.error
            assert run.step >= max(entry.step, steps.get(key, 0)), "a run went back"
            age = killed - max(entry.updated, resumed[key]["time"])  # a run just resumed is at its checkpoint
            lost = beat[key][1] - run.seconds
            assert age <= INTERVAL + SLACK, f"run {key[:8]}'s checkpoint was {age:.2f} s old at the kill"
            assert lost <= LOST, f"run {key[:8]} lost {lost:.2f} s of training (at most {LOST:.2f} allowed)"
            steps[key] = run.step
            ages.append(age)
            losses.append(lost)
        return ages, losses
    finally:
        store.close()


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"median {ordered[len(ordered) // 2]:.2f}, at most {ordered[-1]:.2f}"
