"""The one home of every run on this server: it builds a run, owns the worker that trains it, checkpoints it to the
store, and finds it again by its secret id (control) or view token (watch only).

Sessions, pages, Compare, sweeps and the command line hold run ids and ask here; none of them builds or trains a run.
"""

from __future__ import annotations

import atexit
import hmac
import json
import math
import threading
import time
import weakref
from dataclasses import dataclass, field, replace

from rnnviz import server
from rnnviz.engine import changes as live
from rnnviz.engine.changes import Change
from rnnviz.engine.config import ConfigError, RunConfig
from rnnviz.engine.train import Run, fork_run
from rnnviz.runs import capacity, remote, runfile, sweep
from rnnviz.runs.runfile import RunFileError
from rnnviz.runs.store import RunEntry, Store, StoreError, key_of, new_secret
from rnnviz.runs.trainer import LocalTrainer, Trainer
from rnnviz.runs.worker import Worker

UNLOAD_SECONDS = 600.0  # a run nobody plays or looks at for this long leaves memory (it stays on disk)
GONE = "This run is not on this server any more (or the link is not complete)."


@dataclass
class Held:
    """A run in memory: its index row, its trainer and the worker that plays it."""

    entry: RunEntry
    trainer: Trainer
    worker: Worker
    touched: float = field(default_factory=time.monotonic)
    saved_at: float = -1.0  # the run's training seconds at its last checkpoint (-1: never saved)
    saved_step: int = -1
    restored: str | None = None  # one line when it came back from disk after a restart
    writer: threading.Thread | None = None  # the thread writing its latest checkpoint, if any
    taken: int = 0  # snapshots taken for checkpoints (their order)
    written: int = 0  # the number of the snapshot on disk
    lock: threading.Lock = field(default_factory=threading.Lock)  # one checkpoint at a time

    @property
    def run(self) -> Run:
        return self.trainer.run

    @property
    def key(self) -> str:
        return self.entry.key


@dataclass
class Access:
    """What a secret from a link gives: the run, and whether it may be controlled (Play, Pause, Reset, delete)."""

    held: Held
    control: bool
    secret: str

    @property
    def run(self) -> Run:
        return self.held.run

    @property
    def trainer(self) -> Trainer:
        return self.held.trainer

    @property
    def worker(self) -> Worker:
        return self.held.worker


class Refused(PermissionError):
    """A view-only link asked for control."""


class Registry:
    def __init__(self, store: Store, cache: capacity.RunCache | None = None,
                 checkpoint_seconds: float = server.CHECKPOINT_SECONDS):
        self.store, self.cache, self.checkpoint_seconds = store, cache, checkpoint_seconds
        self._held: dict[str, Held] = {}
        self._groups: weakref.WeakSet[Worker] = weakref.WeakSet()  # Compare's groups: their runs stay loaded
        self._sweeps: dict[str, sweep.Sweep] = {}  # sweeps of this server's life, by group id
        self._lock = threading.RLock()
        self._writing = threading.Lock()  # one checkpoint file at a time

    # ---- making runs ---------------------------------------------------------------------------------------

    def create(self, config: RunConfig, owner: str = "", origin: str = "train", use_cache: bool = True,
               name: str = "", changes: live.Changes = ()) -> Access:
        """A new run of `config` and its live `changes` (the finished one from the run cache when there is one and
        nothing changes), at step 0. DatasetError / ConfigError / MemoryError propagate: nothing is registered."""
        use_cache = use_cache and not changes and self.cache is not None
        cached = self.cache.get(config.key()) if use_cache else None
        trainer = (LocalTrainer(cached, from_cache=True) if cached is not None
                   else remote.live_trainer(config, changes=changes))
        return self.adopt(trainer, owner, origin, name)

    def adopt(self, trainer: Trainer | Run, owner: str = "", origin: str = "file", name: str = "",
              group: str = "", row: str = "") -> Access:
        """Register a trainer (or a run, e.g. opened from a run file, which then continues from its last step)."""
        if isinstance(trainer, Run):
            trainer = LocalTrainer(trainer)
        run_id, view = new_secret(), new_secret()
        now = time.time()
        entry = RunEntry(key_of(run_id), run_id, view, owner=owner, name=name, origin=origin, group=group,
                         config=json.dumps(trainer.config.to_dict()), steps=trainer.config.steps, created=now,
                         opened=now, row=row, changes=live.to_json(trainer.run.changes))
        held = Held(entry, trainer, Worker([trainer], self._on_event))
        with self._lock:
            self._held[entry.key] = held
        self._tidy()
        if trainer.finished:
            self.checkpoint(held)  # nothing more will happen to it: keep it now
        return Access(held, True, run_id)

    # ---- finding runs --------------------------------------------------------------------------------------

    def open(self, secret: str) -> Access | None:
        """The run a link's secret names, from memory or from the store (paused at its last checkpoint); None when
        it is unknown, malformed or unreadable — the same answer either way, so a guess learns nothing."""
        if not isinstance(secret, str) or not 16 <= len(secret) <= 128:
            return None
        k = key_of(secret)
        with self._lock:
            held = self._held.get(k) or next((h for h in self._held.values() if h.entry.view_key == k), None)
        if held is None:
            found = self.store.find(secret)
            if found is None:
                return None
            held = self._load(found[0])
            if held is None:
                return None
        control = _same(held.entry.run_id, secret)
        if not control and not _same(held.entry.view_token, secret):
            return None
        held.touched = time.monotonic()
        return Access(held, control, secret)

    def _load(self, entry: RunEntry) -> Held | None:
        """A stored run back in memory, paused; None (and the reason on its row) when its checkpoint is damaged."""
        try:
            run = runfile.load_run(self.store.read(entry.key))
        except (StoreError, RunFileError) as err:
            self.store.mark_damaged(entry.key, f"{err}")
            return None
        trainer = LocalTrainer(run)
        held = Held(entry, trainer, Worker([trainer], self._on_event), saved_at=run.seconds, saved_step=run.step)
        if entry.state == "interrupted":
            held.restored = (f"Restored from its last checkpoint at step {max(run.step, 0):,}: the server stopped "
                             "while it trained. ▶ Play continues it exactly.")
            entry.state = "paused"
        entry.opened = time.time()
        self.store.update(entry.key, state=entry.state, opened=entry.opened)
        with self._lock:
            held = self._held.setdefault(entry.key, held)
        return held

    def refresh(self, access: Access) -> Access | None:
        """`access` if its run is still in memory, else the run again from the store (a tab left open past
        UNLOAD_SECONDS); None when it is gone."""
        with self._lock:
            if self._held.get(access.held.key) is access.held:
                access.held.touched = time.monotonic()
                return access
        return self.open(access.secret)

    def entries(self, owner: str) -> list[RunEntry]:
        """This browser's runs, newest first: in memory (live state) and on disk. A run still at step 0 is not
        listed (it is made again from its settings)."""
        with self._lock:
            live = {h.key: self._fresh_entry(h) for h in self._held.values()
                    if h.entry.owner == owner and (h.run.step >= 1 or h.trainer.from_cache or _own_weights(h))}
        stored = [e for e in self.store.entries(owner=owner) if e.key not in live]
        return sorted([*live.values(), *stored], key=lambda e: e.created, reverse=True)

    def _fresh_entry(self, held: Held) -> RunEntry:
        entry, run = held.entry, held.run
        entry.step, entry.state, entry.changes = max(run.step, 0), _state(held), live.to_json(run.changes)
        entry.metrics = json.dumps(_metrics(run))
        return entry

    def family(self, access: Access) -> dict[str, Run]:
        """The run, the run it was forked from and the runs forked from it that the same browser made (in memory
        or back from disk), by a name for a legend."""
        me = access.held.entry
        out = {"this run": access.run}
        parent = self._by_key(me.parent) if me.parent else None
        if parent is not None:
            out[f"its parent (forked at step {me.fork_step:,})"] = parent.run
        with self._lock:
            keys = {h.key for h in self._held.values() if h.entry.parent == me.key and h.entry.owner == me.owner}
        keys |= {e.key for e in self.store.entries(owner=me.owner) if e.parent == me.key}
        for key in sorted(keys):
            held = self._by_key(key)
            if held is not None and held.run.fork_step is not None:
                out[f"fork at step {held.run.fork_step:,} #{key[:4]}"] = held.run
        return out

    def _by_key(self, key: str) -> Held | None:
        with self._lock:
            held = self._held.get(key)
        if held is None and (entry := self.store.get(key)) is not None:
            held = self._load(entry)
        return held

    # ---- control ---------------------------------------------------------------------------------------------

    def control(self, access: Access) -> Worker:
        """The worker that plays the run; Refused for a view-only link."""
        if not access.control:
            raise Refused("this link only watches the run: Play, Pause, Step and Reset need the run's own link")
        return access.worker

    def change(self, access: Access, values: dict) -> Change | None:
        """Live settings for the run from its next step (Refused for a view-only link; ConfigError when a value is
        refused, the run going on unchanged). Kept on disk at once, so a reload or a restart has it."""
        self.control(access)
        change = access.trainer.change(values)
        if change is not None:
            access.held.saved_step = -1  # the same step, new settings: the next checkpoint is due
            self.checkpoint(access.held, wait=False)
        return change

    def fork(self, access: Access, step: int, values: dict | None = None, owner: str = "") -> Access:
        """A new run, `owner`'s, that is this run up to `step` and goes on with `values` (rnnviz.engine.train.
        fork_run; ConfigError says why a step or value is refused). Any link may fork: it only reads the run."""
        held = access.held
        with held.trainer.between_steps():  # a remote run's optimizer state is brought to the mirror first
            forked = fork_run(held.run, step, values)
        name = f"fork of {held.entry.name or 'run ' + held.key[:6]} at step {step:,}"
        new = self.adopt(forked, owner, origin="fork", name=name[:80])
        new.held.entry.parent, new.held.entry.fork_step = held.key, step
        return new

    def rename(self, access: Access, name: str) -> None:
        self.control(access)
        held = access.held
        held.entry.name = name.strip()[:80]
        if self.store.get(held.key) is not None:
            self.store.update(held.key, name=held.entry.name)
        else:
            self.checkpoint(held)

    def park(self, access: Access) -> None:
        """Pause the run and keep it on disk (the session moves on to another run)."""
        if access.control:
            access.worker.pause()
        self.checkpoint(access.held)

    def delete(self, access: Access) -> None:
        self.control(access)
        with self._lock:
            held = self._held.pop(access.held.key, None)
        if held is not None:
            held.worker.close()
        self.store.delete(access.held.key)

    def group(self, trainers: list[Trainer]) -> Worker:
        """A worker that trains registered runs in turn (Compare's cells); it borrows them: closing it closes
        only its thread, and every run stays the registry's."""
        group = Worker(trainers, self._on_event, borrowed=trainers)
        self._groups.add(group)
        return group

    # ---- sweeps ------------------------------------------------------------------------------------------------

    def start_sweep(self, grid: sweep.Grid, owner: str, address: str | None = None, group_id: str | None = None,
                    rows: list[dict] = ()) -> sweep.Sweep:
        """Start (or resume, with the `rows` already done) a sweep whose every finished run is kept like any run,
        listed on the Runs page; its grid is kept too, so a restart can offer to resume it."""
        group_id = group_id or new_secret()
        self.store.put_group(group_id, owner, "sweep", json.dumps(grid.to_dict()), "running")

        def on_run(asked: RunConfig, row: dict, run: Run) -> None:
            access = self.adopt(run, owner, origin="sweep", group=group_id,
                                row=json.dumps({**_plain(row), "asked": asked.key()}))
            access.held.touched = 0.0  # nobody is looking at it: it may leave memory first (it is on disk)

        def on_end(s: sweep.Sweep) -> None:
            self.store.update_group(group_id, state="finished" if not s.unfinished else "stopped")

        started = sweep.start_sweep(grid, address, rows=rows, on_run=on_run, on_end=on_end)
        started.group = group_id
        with self._lock:
            self._sweeps[group_id] = started
        return started

    def latest_sweep(self, owner: str) -> sweep.Sweep | None:
        """This browser's latest sweep: the one under way in memory, or one the store remembers (after a restart
        its results are back; one that did not finish has `interrupted` set and can be resumed)."""
        for group in self.store.groups(owner=owner, kind="sweep")[:1]:
            with self._lock:
                live = self._sweeps.get(group["id"])
            if live is not None:
                return live
            try:
                grid = sweep.Grid.from_dict(json.loads(group["spec"]))
                grid.configs()
            except (ValueError, TypeError, KeyError, ConfigError):
                return None  # a grid this version can't run any more
            rows = [self._sweep_row(e) for e in self.store.entries(group=group["id"]) if e.row]
            kept = sweep.Sweep(grid, rows=rows)
            kept.group, kept.interrupted = group["id"], group["state"] in ("interrupted", "running")
            with self._lock:
                self._sweeps[group["id"]] = kept
            return kept
        return None

    def resume_sweep(self, kept: sweep.Sweep, owner: str, address: str | None = None) -> sweep.Sweep:
        """Run the runs of `kept` that did not finish (the ones done are not trained again)."""
        return self.start_sweep(kept.grid, owner, address, group_id=kept.group, rows=kept.rows)

    @staticmethod
    def _sweep_row(entry: RunEntry) -> dict:
        row = json.loads(entry.row)
        return {**row, "config": RunConfig.from_dict(json.loads(entry.config))}

    # ---- checkpoints -----------------------------------------------------------------------------------------

    def _on_event(self, trainer: Trainer, what: str) -> None:
        held = self._by_trainer(trainer)
        if held is None:
            return
        if what == "finished" and trainer.shareable and self.cache is not None and not trainer.from_cache:
            self.cache.put(trainer.config.key(), trainer.run)  # deterministic: the next session with these settings
        if what in ("paused", "finished"):
            self.checkpoint(held)
        elif trainer.run.seconds - held.saved_at >= self.checkpoint_seconds:
            self.checkpoint(held, wait=False)  # training goes on while the file is written

    def _by_trainer(self, trainer: Trainer) -> Held | None:
        with self._lock:
            return next((h for h in self._held.values() if h.trainer is trainer), None)

    def checkpoint(self, held: Held, wait: bool = True) -> bool:
        """Save the run to the store if it changed since its last checkpoint. Training waits only for a snapshot
        taken between two of its steps (copies of weights and optimizer state, milliseconds); the file is written
        from it here, or with `wait=False` in a thread beside training (then True means "under way")."""
        if held.run.step < 1 and not held.trainer.from_cache and not _own_weights(held):
            return False  # an untrained run is made again from its settings: nothing worth a file
        with held.lock:
            writer = held.writer if held.writer is not None and held.writer.is_alive() else None
            if not wait and writer is not None:
                return True  # the last one is still being written: the next interval takes this one
            if held.run.step == held.saved_step and held.entry.state == _state(held):
                if writer is not None:
                    writer.join()  # taken already, still being written: done when this returns
                return held.written == held.taken
            with held.trainer.between_steps():
                step, seconds, frozen = held.run.step, held.run.seconds, held.run.snapshot()
            entry = replace(self._fresh_entry(held), step=max(step, 0))
            held.saved_at, held.saved_step = seconds, step
            held.taken += 1
            number = held.taken
            if not wait:
                held.writer = threading.Thread(target=self._write, args=(held, entry, frozen, number),
                                               name="rnnviz-checkpoint", daemon=True)
                held.writer.start()
                return True
        return self._write(held, entry, frozen, number)

    def _write(self, held: Held, entry: RunEntry, frozen: Run, number: int) -> bool:
        """One checkpoint file and index row (one at a time: the latest snapshot of a run is written last)."""
        with self._writing:
            if number < held.written:
                return True  # a later snapshot of it got here first: this one is stale
            try:
                blob = runfile.save_run(frozen)
            except RunFileError as err:
                self.store.why = f"this run is too large to keep on disk ({err})"
                kept = False
            else:
                kept = self.store.put(entry, blob)
            if kept:
                held.written = number
        if kept:
            held.entry.nbytes, held.entry.updated, held.entry.error = entry.nbytes, entry.updated, ""
        else:
            held.saved_step = -1  # try again at the next event
        return kept

    def checkpoint_all(self) -> None:
        """Every run in memory, paused first (the server is stopping)."""
        with self._lock:
            helds = list(self._held.values())
        for held in helds:
            playing = held.worker.playing
            held.worker.pause()
            self.checkpoint(held)
            if playing:
                self.store.update(held.key, state="interrupted")

    def _tidy(self) -> None:
        """Runs nobody has played or looked at for UNLOAD_SECONDS leave memory, kept on disk first."""
        now = time.monotonic()
        with self._lock:
            grouped = {id(t) for g in list(self._groups) if not g.closed for t in g.trainers}
            idle = [h for h in self._held.values() if not h.worker.playing and id(h.trainer) not in grouped
                    and now - max(h.touched, h.worker.seen) > UNLOAD_SECONDS]
        for held in idle:
            if (held.run.step >= 1 or _own_weights(held)) and not self.checkpoint(held):
                continue  # not on disk: stays in memory
            with self._lock:
                self._held.pop(held.key, None)
            held.worker.close()

    @property
    def why(self) -> str | None:
        """One line when runs are not being kept on disk, and why."""
        return self.store.why


def _own_weights(held: Held) -> bool:
    """A run that starts from someone's checkpoint: its settings cannot make it again, so it is kept from step 0."""
    return held.entry.origin == "checkpoint"


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _state(held: Held) -> str:
    run = held.run
    if run.diverged_at is not None:
        return "diverged"
    if run.finished:
        return "finished"
    return "playing" if held.worker.playing else "paused"


def _plain(row: dict) -> dict:
    """A sweep's result row as JSON values (its config is the run's own, kept beside it)."""
    out = {k: v.item() if hasattr(v, "item") else v for k, v in row.items() if k != "config"}  # numpy scalars
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in out.items()}


def _metrics(run: Run) -> dict:
    """The latest losses (what the Runs page shows beside the settings)."""
    out = {**run.latest_losses(), "seconds": run.seconds}
    return {k: v for k, v in out.items() if math.isfinite(v)}


_REGISTRY: Registry | None = None
_made = threading.Lock()


def registry() -> Registry:
    """This server's registry, opened on first use (the store in RNNVIZ_DATA_DIR); checkpoints everything when the
    server stops (Streamlit turns SIGTERM and Ctrl-C into a normal exit, which runs atexit)."""
    global _REGISTRY
    with _made:
        if _REGISTRY is None:
            _REGISTRY = Registry(Store(), capacity.RUN_CACHE)
            atexit.register(_REGISTRY.checkpoint_all)
        return _REGISTRY
