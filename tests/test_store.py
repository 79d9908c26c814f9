"""The run store (rnnviz/runs/store.py) and the registry's checkpoints into it: round trips, secrets, recovery from a
damaged index or checkpoint, eviction, and a folder or disk that can't be written. The kill -9 test is in
tests/test_store_crash.py."""

from __future__ import annotations

import dataclasses
import errno
import itertools
import json
import os
import time
from pathlib import Path

import pytest

from rnnviz.engine.config import RunConfig
from rnnviz.engine.train import Run, train_run
from rnnviz.runs import runfile, worker
from rnnviz.runs.registry import Refused, Registry
from rnnviz.runs.store import TEMP, RunEntry, Store, StoreError, key_of, new_secret
from rnnviz.runs.trainer import LocalTrainer

CFG = RunConfig(hidden_size=8, seq_len=10, batch_size=16, steps=20)
LONG = CFG.replace(steps=100_000, probe_every=500, eval_every=100)  # plays for as long as a test wants


@pytest.fixture(scope="module")
def finished() -> Run:
    return train_run(CFG)


@pytest.fixture(scope="module")
def blob(finished) -> bytes:
    return runfile.save_run(finished)


def entry_of(run: Run | None = None, **fields) -> RunEntry:
    """A new index row with fresh secrets (for `run`'s settings and step when given)."""
    run_id, now = new_secret(), time.time()
    about = {} if run is None else {"config": json.dumps(run.config.to_dict()), "step": run.step,
                                    "steps": run.config.steps}
    return RunEntry(key_of(run_id), run_id, new_secret(), **{"created": now, "opened": now, **about, **fields})


def wait_until(condition, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def temp_files(root) -> list:
    return [p for p in (root / "runs").rglob("*") if p.name.startswith(TEMP)]


# ---- the store alone -------------------------------------------------------------------------------------------


def test_a_put_run_comes_back_by_key_and_by_secret(tmp_path, finished, blob):
    store = Store(tmp_path)
    entry = entry_of(finished, name="first", state="finished")
    assert store.put(entry, blob) and store.why is None
    assert store.get(entry.key) == entry and entry.nbytes == len(blob) and entry.updated > 0
    assert store.read(entry.key) == blob
    assert runfile.load_run(store.read(entry.key)).step == finished.step == CFG.steps
    assert store.find(entry.run_id) == (entry, True)
    assert [e.key for e in store.entries()] == [entry.key] and store.total_bytes() == len(blob)


def test_the_run_id_gives_control_the_view_token_only_a_view_and_anything_else_nothing(tmp_path, blob):
    store = Store(tmp_path)
    entry = entry_of()
    store.put(entry, blob)
    assert store.find(entry.run_id) == (entry, True)
    assert store.find(entry.view_token) == (entry, False)
    for secret in (new_secret(), entry.run_id[:-1] + "?", entry.run_id + "x", "short", "x" * 200, "", None, 42,
                   entry.key):
        assert store.find(secret) is None, secret


def test_the_index_survives_a_reopen(tmp_path, blob):
    store = Store(tmp_path)
    kept = [entry_of(name=f"run {i}", step=i, created=1000.0 + i) for i in range(3)]
    for e in kept:
        store.put(e, blob)
    store.close()
    again = Store(tmp_path)
    assert again.available and again.problems == []
    assert again.entries() == kept[::-1]  # newest first
    assert all(again.read(e.key) == blob for e in kept)


def test_a_damaged_index_is_kept_aside_and_rebuilt_from_the_sidecars(tmp_path, blob):
    store = Store(tmp_path)
    playing, paused = entry_of(state="playing", step=7), entry_of(state="paused", step=3)
    for e in (playing, paused):
        store.put(e, blob)
    store.close()
    (tmp_path / "index.sqlite").write_bytes(b"this is not an SQLite database " * 100)
    again = Store(tmp_path)
    assert again.available
    assert any("the index was damaged" in line for line in again.problems), again.problems
    assert [p.name for p in tmp_path.glob("index.sqlite.damaged-*")]
    assert {e.key: (e.state, e.step) for e in again.entries()} == {playing.key: ("interrupted", 7),
                                                                    paused.key: ("paused", 3)}
    assert again.read(playing.key) == again.read(paused.key) == blob
    assert again.find(paused.view_token)[1] is False  # the view key is rebuilt too


def test_an_unreadable_checkpoint_is_marked_and_the_other_runs_still_read(tmp_path, blob):
    store = Store(tmp_path)
    gone, kept = entry_of(), entry_of()
    for e in (gone, kept):
        store.put(e, blob)
    store._file(gone.key).unlink()
    store._file(gone.key).mkdir()  # there, but not a file anyone can read
    with pytest.raises(StoreError, match=f"run {gone.key[:8]} can't be read"):
        store.read(gone.key)
    assert "can't be read" in store.get(gone.key).error
    assert store.read(kept.key) == blob and store.get(kept.key).error == ""


def test_a_garbled_checkpoint_is_refused_on_open_and_marked(tmp_path, blob):
    """Bytes that are not a run file read fine from disk: the registry refuses them when it opens the run."""
    store = Store(tmp_path)
    garbled, kept = entry_of(config=json.dumps(CFG.to_dict())), entry_of(config=json.dumps(CFG.to_dict()))
    for e in (garbled, kept):
        store.put(e, blob)
    store._file(garbled.key).write_bytes(b"PK\x03\x04" + os.urandom(2000))
    registry = Registry(store, cache=None)
    assert registry.open(garbled.run_id) is None
    assert "damaged" in store.get(garbled.key).error
    assert registry.open(kept.run_id).run.step == CFG.steps


def test_a_checkpoint_missing_at_open_is_marked(tmp_path, blob):
    store = Store(tmp_path)
    lost, kept = entry_of(), entry_of()
    for e in (lost, kept):
        store.put(e, blob)
    store.close()
    store._file(lost.key).unlink()
    again = Store(tmp_path)
    assert again.problems == [f"run {lost.key[:8]}: its checkpoint file is missing"]
    assert again.get(lost.key).error == "its checkpoint file is missing" and again.get(kept.key).error == ""


def test_half_written_files_are_removed_at_open(tmp_path, blob):
    store = Store(tmp_path)
    entry = entry_of()
    store.put(entry, blob)
    folder = store._file(entry.key).parent
    for name in (f"{TEMP}{entry.key}.zip.123.456", f"{TEMP}{entry.key}.json.123.456"):
        (folder / name).write_bytes(blob[: len(blob) // 2])  # what a kill -9 mid-write leaves
    store.close()
    again = Store(tmp_path)
    assert temp_files(tmp_path) == []
    assert again.read(entry.key) == blob and again.problems == []


def test_runs_that_were_playing_come_back_interrupted(tmp_path, blob):
    store = Store(tmp_path)
    playing, paused, done = entry_of(state="playing"), entry_of(state="paused"), entry_of(state="finished")
    for e in (playing, paused, done):
        store.put(e, blob)
    store.close()
    beside = Store(tmp_path, recover=False)  # the command line beside a running server leaves them playing
    assert beside.get(playing.key).state == "playing"
    beside.close()
    again = Store(tmp_path)
    assert [again.get(e.key).state for e in (playing, paused, done)] == ["interrupted", "paused", "finished"]


def test_eviction_takes_finished_runs_least_recently_opened_first_and_never_a_playing_or_paused_one(tmp_path):
    n, now = 1000, time.time()
    store = Store(tmp_path, max_bytes=int(4.5 * n))
    playing = entry_of(state="playing", opened=now - 300)  # opened long before any finished one
    paused = entry_of(state="paused", opened=now - 200)
    older = entry_of(state="finished", opened=now - 30)
    recent = entry_of(state="diverged", opened=now - 10)
    for e in (playing, paused, older, recent):
        assert store.put(e, b"x" * n)
    latest = entry_of(state="finished", opened=now)
    assert store.put(latest, b"x" * n)
    assert store.get(older.key) is None and not store._file(older.key).exists()
    assert store.put(entry_of(state="paused"), b"x" * n)
    assert store.get(recent.key) is None
    assert store.put(latest, b"y" * n)  # the same size again needs no room
    assert store.put(entry_of(state="paused"), b"x" * n)  # takes `latest`, the last finished run
    assert store.get(latest.key) is None
    refused = entry_of(state="paused")
    assert not store.put(refused, b"x" * n)
    assert "runs are not being kept: the store is full" in store.why and "\n" not in store.why
    assert store.get(refused.key) is None and not store._file(refused.key).exists()
    assert {e.state for e in store.entries()} == {"playing", "paused"} and len(store.entries()) == 4
    assert store.put(entry_of(state="paused")) and store.why is None  # an index change alone takes no room


def test_no_run_is_evicted_when_that_would_not_make_room(tmp_path):
    store = Store(tmp_path, max_bytes=3000)
    paused, done = entry_of(state="paused"), entry_of(state="finished")
    store.put(paused, b"x" * 1000)
    store.put(done, b"x" * 1000)
    assert not store.put(entry_of(state="paused"), b"x" * 2500)  # 3,500 bytes even without the finished run
    assert "the store is full" in store.why
    assert store.get(done.key) is not None  # not deleted for nothing


def test_a_data_folder_that_cannot_be_made_keeps_no_run_and_says_why(tmp_path, blob):
    root = tmp_path / "taken"
    root.write_text("a file where the data folder should be")  # mkdir fails for root as well
    store = Store(root)
    assert not store.available
    assert store.why.startswith(f"runs are not being kept: {root} is not a writable folder (FileExistsError")
    assert "\n" not in store.why
    entry = entry_of()
    assert not store.put(entry, blob)
    assert store.get(entry.key) is None and store.find(entry.run_id) is None and store.entries() == []
    assert root.read_text().startswith("a file")


def test_a_read_only_data_folder_keeps_no_run_and_says_why(tmp_path, monkeypatch):
    root = tmp_path / "readonly"
    root.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes into a read-only folder anyway: the OS refuses as it would anyone else
        real = Path.write_bytes

        def refused(path, data):
            if path.parent == root:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real(path, data)

        monkeypatch.setattr(Path, "write_bytes", refused)
    try:
        store = Store(root)
        assert not store.available and "runs are not being kept" in store.why and "PermissionError" in store.why
        assert not store.put(entry_of(), b"x") and not [p for p in root.rglob("*") if p.is_file()]
    finally:
        root.chmod(0o700)


def test_a_full_disk_refuses_the_checkpoint_and_keeps_the_previous_one(tmp_path, monkeypatch, blob):
    store = Store(tmp_path)
    entry = entry_of(step=20)
    store.put(entry, blob)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # the new checkpoint is written, then fails to reach the disk
    assert not store.put(dataclasses.replace(entry, step=40), b"newer" * 1000)
    monkeypatch.undo()
    assert store.why.startswith("runs are not being kept: the disk is full (OSError:") and "\n" not in store.why
    assert store.read(entry.key) == blob and store.get(entry.key).step == 20
    assert runfile.load_run(store.read(entry.key)).step == CFG.steps
    assert temp_files(tmp_path) == []
    assert store.put(entry, blob) and store.why is None  # room again: kept again


# ---- the registry's checkpoints --------------------------------------------------------------------------------


def registry_at(root, checkpoint_seconds: float = 3600.0) -> Registry:
    return Registry(Store(root), cache=None, checkpoint_seconds=checkpoint_seconds)


def test_pause_and_finish_checkpoint_the_run(tmp_path):
    registry = registry_at(tmp_path)  # an interval no test reaches: only pause and finish checkpoint
    access = registry.create(CFG.replace(steps=300), use_cache=False)
    access.worker.play()
    wait_until(lambda: access.run.step >= 5)
    assert registry.store.get(access.held.key) is None
    access.worker.pause()
    kept = registry.store.get(access.held.key)
    assert (kept.state, kept.step) == ("paused", access.run.step)
    assert runfile.load_run(registry.store.read(kept.key)).step == access.run.step
    access.worker.play()
    wait_until(lambda: registry.store.get(kept.key).state == "finished")
    assert registry.store.get(kept.key).step == 300
    assert runfile.load_run(registry.store.read(kept.key)).finished


def test_a_playing_run_is_checkpointed_every_interval_of_its_training(tmp_path, monkeypatch):
    interval = 0.2
    registry = registry_at(tmp_path, checkpoint_seconds=interval)
    seen: list[tuple[float, int]] = []  # (training seconds, step) at each checkpoint
    put = registry.store.put

    def spy(entry: RunEntry, blob: bytes | None = None) -> bool:
        seen.append((json.loads(entry.metrics)["seconds"], entry.step))
        return put(entry, blob)

    monkeypatch.setattr(registry.store, "put", spy)
    access = registry.create(LONG, use_cache=False)
    access.worker.play()
    wait_until(lambda: access.run.seconds >= 2.0)
    access.worker.pause()
    seconds = [0.0] + [s for s, _ in seen]
    gaps = [b - a for a, b in itertools.pairwise(seconds)]
    assert len(seen) >= 2.0 / (interval + worker.SLICE_SECONDS)
    # a checkpoint is due once `interval` has passed, and it is taken after the slice of training under way
    assert max(gaps) <= interval + worker.SLICE_SECONDS + 0.05, gaps
    assert [s for _, s in seen] == sorted(s for _, s in seen)
    assert registry.store.get(access.held.key).step == access.run.step


def test_training_goes_on_when_the_store_cannot_write(tmp_path):
    root = tmp_path / "taken"
    root.write_text("not a folder")
    registry = registry_at(root, checkpoint_seconds=0.1)
    access = registry.create(LONG, use_cache=False)
    access.worker.play()
    wait_until(lambda: access.run.step >= 50)
    access.worker.pause()
    assert access.worker.error is None
    assert registry.why.startswith("runs are not being kept:") and "\n" not in registry.why


def test_training_goes_on_when_the_disk_fills_and_the_run_is_kept_again_once_there_is_room(tmp_path, monkeypatch):
    registry = registry_at(tmp_path, checkpoint_seconds=0.1)
    access = registry.create(LONG, use_cache=False)
    access.worker.play()
    wait_until(lambda: registry.store.get(access.held.key) is not None)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    wait_until(lambda: (registry.why or "").startswith("runs are not being kept: the disk is full"))
    stuck = registry.store.get(access.held.key).step
    wait_until(lambda: access.run.step >= stuck + 50)  # still training
    assert registry.store.get(access.held.key).step == stuck
    monkeypatch.undo()
    wait_until(lambda: registry.store.get(access.held.key).step > stuck)
    access.worker.pause()
    assert registry.why is None and access.worker.error is None


def test_a_view_only_link_cannot_control_the_run(tmp_path):
    registry = registry_at(tmp_path)
    owner = registry.create(CFG, use_cache=False)
    assert registry.control(owner) is owner.worker
    viewer = registry.open(owner.held.entry.view_token)
    assert viewer is not None and not viewer.control and viewer.run is owner.run
    for act in (registry.control, registry.delete, lambda a: registry.rename(a, "mine now")):
        with pytest.raises(Refused):
            act(viewer)
    assert registry.open(owner.secret).control


def test_an_unknown_or_malformed_secret_opens_nothing(tmp_path):
    registry = registry_at(tmp_path)
    registry.create(CFG, use_cache=False)
    for secret in (new_secret(), "", "short", "x" * 500, None):
        assert registry.open(secret) is None


def test_after_a_restart_a_playing_run_comes_back_paused_at_its_checkpoint(tmp_path):
    first = registry_at(tmp_path)
    playing, paused = first.create(LONG, use_cache=False), first.create(LONG.replace(seed=1), use_cache=False)
    paused.worker.step()
    paused.worker.step()
    first.park(paused)
    playing.worker.play()
    wait_until(lambda: playing.run.step >= 20)
    first.checkpoint_all()  # the server stops
    step = first.store.get(playing.held.key).step
    assert step == playing.run.step >= 20 and first.store.get(playing.held.key).state == "interrupted"
    first.store.close()

    second = registry_at(tmp_path)
    back = second.open(playing.secret)
    assert back is not None and back.control and not back.worker.playing
    assert back.run.step == step
    assert back.held.restored.startswith(f"Restored from its last checkpoint at step {step:,}")
    assert second.store.get(back.held.key).state == "paused"
    assert back.worker.step() == 1 and back.run.step == step + 1  # and it goes on from there
    quiet = second.open(paused.held.entry.view_token)
    assert quiet.run.step == 2 and quiet.held.restored is None and not quiet.control


def test_adopting_a_finished_run_keeps_it_at_once(tmp_path, finished):
    registry = registry_at(tmp_path)
    access = registry.adopt(LocalTrainer(finished))
    kept = registry.store.get(access.held.key)
    assert (kept.state, kept.step, kept.origin) == ("finished", CFG.steps, "file")
