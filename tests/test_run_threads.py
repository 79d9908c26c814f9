"""Run under threads: one thread records a real run while others read history, probes and step."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
import pandas as pd
import torch

from rnnviz import RunConfig, train_run
from rnnviz.engine.train import BASE_COLUMNS, Run, build_model, train_model
from rnnviz.runs.trainer import rate

CONFIG = RunConfig(cell="gru", hidden_size=8, seq_len=10, steps=120, probe_every=7, eval_every=5, batch_size=16)


def reader(run: Run, stop: threading.Event, errors: list, seen: list) -> None:
    """Read as a page would, checking each snapshot is whole; keep (step, history length) pairs."""
    try:
        while not stop.is_set():
            step, version = run.step, run.version
            probes = run.probes  # read before history: a probe's row is recorded before the probe
            h = run.history
            assert isinstance(h, pd.DataFrame) and len(h) >= step + 1  # recorded before the read: in the frame
            assert h["step"].tolist() == list(range(len(h)))  # every step once, in order, no gap
            assert h.notna()[["loss", "grad_norm"]].all().all() and list(h.columns[:7]) == list(BASE_COLUMNS)
            steps = [s for s, _ in probes]
            assert steps == sorted(set(steps)) and all(s <= h["step"].iloc[-1] for s in steps)
            assert run.version >= version
            seen.append((step, len(h)))
            time.sleep(0.002)  # a page reads every second or so: a reader that never let go would only test the GIL
    except Exception as e:  # noqa: BLE001 - any failure in a reader fails the test
        errors.append(e)


def test_one_writer_three_readers_see_consistent_snapshots(one_thread):
    from rnnviz import load_dataset

    data = load_dataset(CONFIG)
    run = Run(CONFIG, build_model(CONFIG, data), data)
    stop, errors, seen = threading.Event(), [], [[], [], []]
    readers = [threading.Thread(target=reader, args=(run, stop, errors, s)) for s in seen]
    for t in readers:
        t.start()
    try:
        for event in train_model(CONFIG, data, run.model):
            run.record(event)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors, errors[0]
    h = run.history
    assert h["step"].tolist() == list(range(CONFIG.steps + 1)) and run.finished
    assert all(len(s) > 3 for s in seen)  # the readers really read while training went on
    for s in seen:  # what each reader saw only grew
        lengths = [n for _, n in s]
        assert lengths == sorted(lengths) and lengths[0] < lengths[-1]


def test_probes_are_replaced_not_changed_in_place():
    config = CONFIG.replace(steps=14)
    run, held = Run(config), []
    for event in train_model(config, *_model_data(config)):
        run.record(event)
        if event.probe is not None:
            held.append((run.probes, list(run.probes)))  # the list a reader holds, and a copy of what it held
    assert [len(p) for p, _ in held] == [1, 2, 3]  # probes at 0, 7, 14
    assert all(p == copy for p, copy in held)  # recording later probes never changed a list already handed out


def test_version_counts_what_there_is_to_draw():
    config = CONFIG.replace(steps=12, eval_every=4, probe_every=6)
    run = Run(config)
    versions = []
    for event in train_model(config, *_model_data(config)):
        run.record(event)
        versions.append(run.version)
    # validation at 0, 4, 8, 12; probes at 0, 6, 12; the last step: new drawing at 0, 4, 6, 8, 12 only
    bumps = [s for s in range(13) if versions[s] != (versions[s - 1] if s else 0)]
    assert bumps == [0, 4, 6, 8, 12] and versions[-1] == 5


def test_divergence_bumps_the_version_and_history_keeps_its_dtypes():
    config = RunConfig(cell="rnn_relu", hidden_size=16, seq_len=30, recurrent_radius=3.0, lr=10.0,
                       optimizer="sgd", clip=None, steps=50, batch_size=16, eval_every=1000, probe_every=1000)
    run = train_run(config)
    assert run.diverged_at is not None and run.version == 2  # step 0 (validation + probe), then the divergence
    h = run.history
    assert h["clipped"].dtype == bool and h["val_loss"].dtype == np.float64 and h["diverged"].iloc[-1]
    assert run.rows[-1]["diverged"] and len(run.rows) == len(h)


def _events(run: Run):
    return train_model(run.config, run.data, build_model(run.config, run.data))


def _model_data(config: RunConfig):
    from rnnviz import load_dataset

    data = load_dataset(config)
    return data, build_model(config, data)


def test_a_run_pickles_and_copies_without_its_lock():
    import copy
    import pickle

    run = train_run(CONFIG.replace(steps=5))
    for other in (pickle.loads(pickle.dumps(run)), copy.deepcopy(run)):
        assert other.history.equals(run.history) and other.version == run.version and other.step == 5
        other.record(next(iter(_events(other))))  # and it can still record (a fresh lock)


def test_views_read_a_copy_of_the_model_taken_between_two_steps(one_thread):
    """The Text page replays the model (autograd included) while the worker trains it: on the live model that
    raised "modified by an inplace operation" in CI. Views read Run.current_model(), a copy made between steps."""
    from rnnviz.engine.record import replay
    from rnnviz.runs.trainer import LocalTrainer

    config = CONFIG.replace(cell="lstm", hidden_size=32, seq_len=20, steps=100_000)
    trainer = LocalTrainer.fresh(config)
    run = trainer.run
    first = run.current_model()
    assert run.current_model() is first  # one copy per step, shared by every view
    live = dict(run.model.named_parameters())
    for name, p in first.named_parameters():
        assert p is not live[name] and torch.equal(p, live[name])
    stop, errors = threading.Event(), []

    def train() -> None:
        while not stop.is_set():
            trainer.advance(0.05)

    worker = threading.Thread(target=train)
    worker.start()
    try:
        x = torch.as_tensor(run.data.x_val[:4])
        y = torch.as_tensor(run.data.y_val[:4])
        deadline, reads = time.time() + 3, 0
        while time.time() < deadline:
            try:
                replay(run.current_model(), x, y)
                reads += 1
            except RuntimeError as err:  # the failure this guards against
                errors.append(err)
                break
    finally:
        stop.set()
        worker.join()
    assert not errors, errors[0]
    assert reads > 10 and run.step > 20  # both really ran side by side
    assert run.current_model() is not first  # training moved on: a new copy
    for name, p in run.current_model().named_parameters():
        assert torch.equal(p, dict(run.model.named_parameters())[name])


def test_the_training_speed_can_be_read_while_the_training_thread_records_chunks():
    """A page asks for steps/s while the worker appends (seconds, steps) chunks: CI once saw 'deque mutated during
    iteration' here."""
    recent, stop = deque(maxlen=20), threading.Event()

    def record():
        while not stop.is_set():
            recent.append((0.01, 1))

    writer = threading.Thread(target=record)
    writer.start()
    try:
        rates = [rate(recent) for _ in range(100_000)]
    finally:
        stop.set()
        writer.join()
    assert all(r is None or abs(r - 100.0) < 1e-6 for r in rates) and rates[-1] is not None
