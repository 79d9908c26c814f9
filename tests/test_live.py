"""Live settings and forks: a change applies from the next step, never mid-step; a run is its first config plus its
changes, so a link or a run file trains the same numbers again; a fork goes on from a step exactly."""

import json
import random
import threading
import time

import numpy as np
import pytest
import torch

from rnnviz import RunConfig
from rnnviz.engine import changes as live
from rnnviz.engine.changes import Change
from rnnviz.engine.config import ConfigError
from rnnviz.engine.memory import estimate
from rnnviz.engine.train import Run, fork_run, new_run, probe_plan
from rnnviz.runs import runfile
from rnnviz.runs.registry import Refused, Registry
from rnnviz.runs.store import Store
from rnnviz.runs.trainer import LocalTrainer

CONFIG = RunConfig(cell="gru", hidden_size=16, seq_len=12, dataset="sine", steps=90, probe_every=10, eval_every=5)
THREE = {20: {"lr": 0.01}, 45: {"optimizer": "sgd", "batch_size": 16, "clip": None}, 70: {"probe_every": 5}}


def trained(run: Run, changes_after: dict[int, dict] | None = None) -> Run:
    """Train `run` to its end, applying changes_after[s] once step s is recorded (as a user between two steps)."""
    for event in run.events():
        run.record(event)
        if changes_after and event.step in changes_after:
            run.change(changes_after[event.step])
    return run


def numbers(run: Run) -> dict[str, np.ndarray]:
    h = run.history
    return {"loss": h.loss.to_numpy(), "val": h.val_loss.to_numpy(), "grad": h.grad_norm.to_numpy(),
            **{k: v.numpy() for k, v in run.model.state_dict().items()}}


def same(a: Run, b: Run) -> None:
    na, nb = numbers(a), numbers(b)
    assert na.keys() == nb.keys()
    for k in na:
        np.testing.assert_array_equal(na[k], nb[k], err_msg=k)


@pytest.fixture(scope="module")
def changed() -> Run:
    return trained(new_run(CONFIG), THREE)


# ---------------------------------------------------------------- changes apply from the next step


def test_three_live_changes_are_kept_as_steps_and_values(changed):
    assert [(c.step, dict(c.values)) for c in changed.changes] == [
        (21, {"lr": 0.01}), (46, {"optimizer": "sgd", "batch_size": 16, "clip": None}), (71, {"probe_every": 5})]
    assert changed.config == CONFIG  # the first config stays the run's
    assert changed.config_at(20).lr == 3e-3 and changed.config_at(21).lr == 0.01
    assert isinstance(changed.optimizer, torch.optim.SGD)  # the new kind; the weights went on (below)
    every = probe_plan(changed.config_at(71))[0]  # 5, or more when probes would slow training
    assert changed.probe_every == every
    assert [s for s, _ in changed.probes if s > 70] == [s for s in range(71, 91) if s % every == 0 or s == 90]
    assert changed.change_labels() == [(21, "lr 0.003 → 0.01"),
                                       (46, "optimizer adam → sgd, batch 64 → 16, clip 1 → off"),
                                       (71, "probe every 10 → 5")]


def test_a_change_differs_from_the_run_without_it_only_from_its_step(changed):
    plain = trained(new_run(CONFIG))
    a, b = changed.history, plain.history
    np.testing.assert_array_equal(a.loss[:22], b.loss[:22])  # step 21's loss is measured before its update
    assert not np.array_equal(a.loss[22:30], b.loss[22:30])


def test_the_link_and_the_run_file_train_the_same_numbers_again(changed):
    query = {"changes": live.to_json(changed.changes)}
    again = new_run(CONFIG)  # what ?changes=... makes on a new server: the list from step 0
    again.changes = live.from_json(CONFIG, query["changes"])
    same(trained(again), changed)
    loaded = runfile.load_run(runfile.save_run(changed))
    assert loaded.changes == changed.changes and loaded.change_labels() == changed.change_labels()
    same(loaded, changed)


def test_a_run_file_saved_mid_way_continues_with_its_changes(changed):
    part = new_run(CONFIG)
    for event in part.events():
        part.record(event)
        if event.step in THREE:
            part.change(THREE[event.step])
        if event.step == 50:  # past two changes, the optimizer already switched
            break
    loaded = runfile.load_run(runfile.save_run(part))
    assert isinstance(loaded.optimizer, torch.optim.SGD)
    for event in loaded.events():
        loaded.record(event)
        if event.step == 70:
            loaded.change(THREE[70])
    same(loaded, changed)


def test_a_change_from_another_thread_at_twenty_moments_of_a_step_applies_at_the_next_step():
    """A worker plays; another thread changes the learning rate at 20 moments spread over steps. Each change lands
    at the step after the last one recorded, and the whole run equals one trained from step 0 with that list: had
    one applied mid-step (e.g. between the gradient and the update), that step's numbers would differ."""
    config = CONFIG.replace(steps=400, probe_every=100, eval_every=100, cell="lstm", hidden_size=32, seq_len=30)
    trainer = LocalTrainer(new_run(config))
    run, stop = trainer.run, threading.Event()

    def play():
        while not stop.is_set() and not trainer.finished:
            trainer.advance(0.05)

    t0 = time.perf_counter()
    trainer.advance(max_steps=5)
    step_s = (time.perf_counter() - t0) / 5
    player = threading.Thread(target=play)
    player.start()
    landed, rng = [], random.Random(0)
    try:
        for i in range(20):
            time.sleep(step_s * (1 + rng.random()))  # a different moment of a step each time
            before = run.step
            change = run.change({"lr": 0.002 if i % 2 else 0.004})
            landed.append((before, change.step))
    finally:
        stop.set()
        player.join()
    trainer.advance(budget_s=60)
    assert run.finished and len(run.changes) == 20
    assert all(step >= before + 1 for before, step in landed)  # never at a step already trained
    assert len({s for _, s in landed}) == 20  # each at its own step: the training went on between them
    again = new_run(config)
    again.changes = run.changes
    same(trained(again), run)


def test_an_optimizer_change_keeps_the_weights_and_starts_a_fresh_state():
    run = new_run(CONFIG)
    for event in run.events():
        run.record(event)
        if event.step == 30:
            before = {k: v.clone() for k, v in run.model.state_dict().items()}
            run.change({"optimizer": "rmsprop"})
        if event.step == 31:
            break
    assert isinstance(run.optimizer, torch.optim.RMSprop)
    state = run.optimizer.state_dict()["state"]
    assert all(int(s["step"]) == 1 for s in state.values())  # one step of the new optimizer, none of Adam's
    moved = max(float((run.model.state_dict()[k] - v).abs().max()) for k, v in before.items())
    assert 0 < moved < 0.1  # one update away from the weights at step 30, not re-initialised


# ---------------------------------------------------------------- refused changes


@pytest.mark.parametrize("values, message", [
    ({"lr": 0.0}, "lr=0.0 is out of range; allowed: a number greater than 0 and at most 10"),
    ({"lr": "fast"}, "lr='fast' must be a number greater than 0 and at most 10"),
    ({"batch_size": 5000}, "batch_size=5000 is out of range; allowed: 1 to 1024"),
    ({"optimizer": "lbfgs"}, "optimizer='lbfgs' is not allowed; choose one of adam, sgd, rmsprop"),
    ({"hidden_size": 64}, "hidden_size cannot change while a run trains (it needs a new run); live settings: "),
    ({"clip": -1.0}, "clip=-1.0 is out of range"),
    ({}, "a change must name at least one live setting"),
])
def test_a_refused_value_says_why_and_the_run_goes_on_unchanged(values, message):
    trainer = LocalTrainer(new_run(CONFIG))
    trainer.advance(max_steps=3)
    with pytest.raises(ConfigError, match=None) as err:
        trainer.change(values)
    assert message in str(err.value)
    assert trainer.run.changes == () and trainer.run.current_config == CONFIG
    assert trainer.advance(max_steps=2) == 2 and trainer.run.step == 5  # steps 0-3 before, 4 and 5 after


def test_a_batch_too_large_for_the_memory_limit_is_refused_with_the_memory_message(monkeypatch):
    from rnnviz.engine import config as config_module

    monkeypatch.setattr(config_module, "MAX_TRAIN_BYTES", estimate(CONFIG)["total"] + 2**20)
    run = new_run(CONFIG)
    with pytest.raises(ConfigError, match="this run would need about .* of memory"):
        run.change({"batch_size": 1024})
    assert run.changes == ()


def test_a_finished_run_refuses_a_change_and_says_to_fork():
    run = trained(new_run(CONFIG.replace(steps=5)))
    with pytest.raises(ConfigError, match="this run has finished: fork it"):
        run.change({"lr": 0.1})


def test_a_value_equal_to_the_one_in_force_is_no_change():
    run = new_run(CONFIG)
    run.record(next(run.events()))
    assert run.change({"lr": CONFIG.lr}) is None and run.changes == ()
    first = run.change({"lr": 0.01})
    assert run.change({"clip": None}).values == {"lr": 0.01, "clip": None}  # merged: the same next step
    assert first.step == 1 and len(run.changes) == 1


@pytest.mark.parametrize("text, message", [
    ("[[0, {\"lr\": 0.01}]]", "steps must be whole numbers rising from 1 to 90"),
    ("[[20, {\"lr\": 0.01}], [10, {\"lr\": 0.02}]]", "steps must be whole numbers rising"),
    ("[[91, {\"lr\": 0.01}]]", "rising from 1 to 90"),
    ("[[5, {\"seed\": 3}]]", "seed cannot change while a run trains"),
    ("[[5, {\"lr\": 99}]]", "lr=99 is out of range"),
    ("[[5, {\"lr\": 0.003}]]", "the change at step 5 changes nothing"),
    ("[[5, [1, [2, [3]]]]]", "changes must be a flat list"),
    ("[5, 6]", "must be a pair [step, {setting: value}]"),
    ("{\"lr\": 1}", "changes must be a list"),
    ("[[5, {\"lr\": 0.01}", "is not valid JSON"),
    ("[" + " " * live.MAX_CHANGES_TEXT + "]", "longer than"),
    (json.dumps([[i, {"lr": 0.001 * (i % 2 + 1)}] for i in range(1, 102)], separators=(",", ":")), "at most 100"),
])
def test_a_bad_list_of_changes_in_a_link_is_refused_with_its_reason(text, message):
    with pytest.raises(ConfigError) as err:
        live.from_json(CONFIG, text)
    assert message in str(err.value)


# ---------------------------------------------------------------- forks


def test_a_fork_without_new_values_goes_on_exactly_as_its_parent(changed):
    for step in (30, 37, 75):  # a kept probe state, a step between probes (trained again from 30), after 2 changes
        fork = trained(fork_run(changed, step))
        assert fork.fork_step == step
        same_until = changed.config_at(step + 1) == changed.current_config or step >= 70
        if same_until:
            same(fork, changed)
        else:  # the parent's later changes are not the fork's: equal up to the first of them
            np.testing.assert_array_equal(fork.history.loss[:46], changed.history.loss[:46])


def test_a_fork_from_step_zero_and_from_the_latest_step():
    run = new_run(CONFIG)
    for event in run.events():
        run.record(event)
        if event.step == 40:
            break
    at_latest = trained(fork_run(run, 40))  # from the run's own model, optimizer and sampler now
    at_zero = trained(fork_run(run, 0))
    whole = trained(new_run(CONFIG))
    same(at_latest, whole)
    same(at_zero, whole)


def test_a_fork_with_new_values_is_reproduced_by_its_own_link(changed):
    fork = trained(fork_run(changed, 50, {"lr": 0.05, "clip": 0.5}))
    assert fork.changes[-1] == Change(51, {"lr": 0.05, "clip": 0.5})
    assert fork.change_labels()[-2:] == [(50, "fork: lr 0.01 → 0.05, clip off → 0.5"), (71, "probe every 10 → 5")
                                         ] or fork.change_labels()[-1][0] == 50
    again = new_run(CONFIG)
    again.changes = live.from_json(CONFIG, live.to_json(fork.changes))
    same(trained(again), fork)


def test_forks_that_cannot_be_made_say_why():
    diverging = CONFIG.replace(cell="rnn_relu", hidden_size=32, seq_len=50, recurrent_radius=1.5, lr=1.0,
                               optimizer="sgd", clip=None, probe_every=1, steps=50)
    run = trained(new_run(diverging))
    assert run.diverged_at is not None
    last = [s for s, _ in run.probes][-1]
    with pytest.raises(ConfigError, match=rf"step {run.diverged_at} is at or after the divergence .* the last probe "
                                          rf"before it is step {last}"):
        fork_run(run, run.diverged_at)
    fork_run(run, run.diverged_at - 1)  # the step before it is fine
    done = trained(new_run(CONFIG.replace(steps=10)))
    with pytest.raises(ConfigError, match="step 11 is not in this run: fork from a step from 0 to 10"):
        fork_run(done, 11)
    with pytest.raises(ConfigError, match="is the run's last"):
        fork_run(done, 10)
    with pytest.raises(ConfigError, match="lr=-1"):
        fork_run(done, 5, {"lr": -1.0})


def test_the_states_kept_for_forks_are_bounded_and_in_the_memory_estimate():
    config = CONFIG.replace(hidden_size=64, steps=200, probe_every=1)
    run = trained(new_run(config))
    per_probe = sum(v.nbytes for v in run.model.state_dict().values())
    kept = sum(v.nbytes for w in run.weights.values() for v in w.values())
    kept += sum(v.nbytes for o, _ in run.resume.values() for s in o["state"].values() for v in s.values()
                if isinstance(v, torch.Tensor))
    assert set(run.resume) <= set(run.weights) and len(run.resume) >= 2
    assert kept <= estimate(config)["kept"]
    assert estimate(config)["kept"] <= (200 + 2) * 3 * per_probe  # weights and Adam's two moments per probe


def test_kept_states_are_thinned_past_their_budget(monkeypatch):
    from rnnviz.engine import train as train_module

    run = new_run(CONFIG)
    run.record(next(run.events()))
    state_bytes = 2 * sum(v.nbytes for v in run.model.state_dict().values())
    monkeypatch.setattr(train_module, "RESUME_BYTES_PER_RUN", 4 * state_bytes)
    trained(run)
    assert 2 <= len(run.resume) <= 5 and 0 in run.resume and 90 in run.resume
    same(trained(fork_run(run, 63)), run)  # a step whose state was thinned away: trained again from one kept


# ---------------------------------------------------------------- the registry and the store


def test_a_change_is_kept_on_disk_at_once_and_a_new_server_opens_it(tmp_path):
    reg = Registry(Store(tmp_path), cache=None)
    access = reg.create(CONFIG, owner="me")
    access.trainer.advance(max_steps=10)
    reg.change(access, {"lr": 0.02})
    reg.checkpoint(access.held)
    view = reg.open(access.held.entry.view_token)
    with pytest.raises(Refused):
        reg.change(view, {"lr": 0.5})
    again = Registry(Store(tmp_path), cache=None).open(access.secret)
    assert again.run.changes == (Change(11, {"lr": 0.02}),)  # steps 0-10 trained: from step 11
    assert json.loads(again.held.entry.changes) == [[11, {"lr": 0.02}]]


def test_a_fork_is_a_new_run_of_its_owner_that_knows_its_parent(tmp_path):
    reg = Registry(Store(tmp_path), cache=None)
    parent = reg.create(CONFIG, owner="me")
    parent.trainer.advance(max_steps=31)
    view = reg.open(parent.held.entry.view_token)
    fork = reg.fork(view, 30, {"clip": 0.1}, owner="someone else")  # a view-only link may fork: it only reads
    assert fork.control and fork.held.entry.owner == "someone else" and fork.held.entry.parent == parent.held.key
    assert fork.run.fork_step == 30 and fork.run.step == 30
    fork.trainer.advance(max_steps=5)
    mine = reg.fork(parent, 20, owner="me")
    mine.trainer.advance(max_steps=2)
    family = reg.family(parent)
    assert list(family) == ["this run", "fork at step 20 #" + mine.held.key[:4]]  # the other browser's is not shown
    assert reg.family(mine)["its parent (forked at step 20)"] is parent.run
    with pytest.raises(ConfigError, match="not in this run"):
        reg.fork(parent, 500)


def test_a_run_created_with_changes_is_never_served_from_or_to_the_run_cache(tmp_path):
    from rnnviz.runs.capacity import RunCache

    cache = RunCache()
    reg = Registry(Store(tmp_path), cache=cache)
    plain = reg.create(CONFIG.replace(steps=8))
    plain.trainer.advance(budget_s=30)
    plain.worker.on_event(plain.trainer, "finished")
    changed = reg.create(CONFIG.replace(steps=8), changes=(Change(3, {"lr": 0.05}),))
    assert not changed.trainer.from_cache and changed.run.changes
    changed.trainer.advance(budget_s=30)
    assert not changed.trainer.shareable


def test_probes_of_different_sample_counts_go_into_a_run_file_and_come_back_as_they_were():
    run = trained(new_run(CONFIG.replace(probe_every=10)), {25: {"probe_size": 3}, 55: {"probe_size": 12}})
    counts = [t.hidden.shape[1] for _, t in run.probes]
    assert counts == [8] * 3 + [3] * 3 + [12] * 4  # steps 0-20, 30-50, 60-90
    loaded = runfile.load_run(runfile.save_run(run))
    assert [t.hidden.shape[1] for _, t in loaded.probes] == counts
    for (s, a), (s2, b) in zip(run.probes, loaded.probes, strict=True):
        assert s == s2
        np.testing.assert_array_equal(a.hidden, b.hidden)
        np.testing.assert_array_equal(a.gates["update"], b.gates["update"])
        np.testing.assert_array_equal(a.outputs, b.outputs)
        np.testing.assert_array_equal(a.input_saliency, b.input_saliency)
