"""The instructor's command line (rnnviz/cli.py) on a store of real small runs: a finished one, a paused one, one
whose checkpoint is garbled and one whose checkpoint is missing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from rnnviz import cli
from rnnviz.cli import main
from rnnviz.engine import changes as live
from rnnviz.engine.config import RunConfig
from rnnviz.engine.train import Run, new_run, train_run
from rnnviz.runs import runfile
from rnnviz.runs.registry import Registry
from rnnviz.runs.store import Store
from rnnviz.runs.trainer import LocalTrainer

ROOT = Path(__file__).resolve().parents[1]
CFG = RunConfig(hidden_size=8, seq_len=10, batch_size=16, steps=20)
NAMES = ("sine done", "half way", "broken", "lost")


@dataclass
class Kept:
    root: Path
    runs: dict[str, Run]  # by name, the runs as trained
    keys: dict[str, str]  # by name


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Kept:
    root = tmp_path_factory.mktemp("store")
    registry = Registry(Store(root), cache=None)
    half = new_run(CFG.replace(seed=1))
    LocalTrainer(half).advance(max_steps=8)
    runs = {"sine done": train_run(CFG), "half way": half, "broken": train_run(CFG.replace(seed=2)),
            "lost": train_run(CFG.replace(seed=3))}
    keys = {}
    for name, run in runs.items():
        access = registry.adopt(run, name=name)
        registry.checkpoint(access.held)
        keys[name] = access.held.key
    store = registry.store
    store.update(keys["sine done"], opened=time.time() - 10 * 86400)
    store.update(keys["lost"], state="interrupted")
    store._file(keys["broken"]).write_bytes(b"PK\x03\x04 not a run file any more")
    store._file(keys["lost"]).unlink()
    store.close()
    Store(root).close()  # a server start notices the missing file
    return Kept(root, runs, keys)


@pytest.fixture
def kept(template, tmp_path) -> Kept:
    """A copy of the store each test may change."""
    root = tmp_path / "data"
    shutil.copytree(template.root, root)
    return Kept(root, template.runs, template.keys)


def rnnviz(*args: str, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def names_left(root: Path) -> set[str]:
    store = Store(root, recover=False)
    try:
        return {e.name for e in store.entries()}
    finally:
        store.close()


def one_line_error(result) -> bool:
    return "Traceback" not in result.output and result.output.strip().count("\n") == 0


# ---- runs list ---------------------------------------------------------------------------------------------


def test_list_shows_every_run_its_state_step_settings_and_why_one_cannot_be_read(kept):
    result = rnnviz("runs", "list", "--data-dir", kept.root)
    assert result.exit_code == 0, result.output
    out = result.output
    for name in NAMES:
        assert name in out and kept.keys[name][:8] in out
    assert "20 / 20" in out and "8 / 20" in out and "paused" in out and "finished" in out
    assert "LSTM · sine · T=10 · hidden 8" in out
    assert "damaged" in out and "unreadable: its checkpoint file is missing" in out
    assert out.strip().splitlines()[-1].startswith("4 runs, ")
    assert rnnviz("--data-dir", kept.root, "runs", "list").output == out  # the option before the command too
    assert rnnviz("runs", "list", env={"RNNVIZ_DATA_DIR": str(kept.root)}).output == out  # and from the setting


def test_list_json_parses_and_keeps_the_secrets_out(kept):
    result = rnnviz("runs", "list", "--json", "--data-dir", kept.root)
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert set(rows) == set(NAMES)
    assert rows["half way"]["step"] == 8 and rows["half way"]["state"] == "paused"
    assert rows["sine done"]["settings"] == CFG.to_dict() and "loss" in rows["sine done"]["metrics"]
    assert rows["lost"]["error"] == "its checkpoint file is missing"
    store = Store(kept.root, recover=False)
    secrets = [s for e in store.entries() for s in (e.run_id, e.view_token)]
    store.close()
    assert not any(s in result.output for s in secrets)


def test_list_of_an_empty_store(tmp_path):
    Store(tmp_path).close()
    result = rnnviz("runs", "list", "--data-dir", tmp_path)
    assert result.exit_code == 0 and result.output.startswith("No runs in")


def test_a_damaged_index_is_rebuilt_and_said(kept):
    (kept.root / "index.sqlite").write_bytes(b"garbage " * 500)
    result = rnnviz("runs", "list", "--json", "--data-dir", kept.root)
    assert result.exit_code == 0, result.output
    assert "note: the index was damaged" in result.stderr
    assert {r["name"] for r in json.loads(result.stdout)} == set(NAMES)


# ---- runs export -------------------------------------------------------------------------------------------


def test_export_writes_run_files_that_load_and_an_index_and_skips_the_unreadable(kept, tmp_path):
    folder = tmp_path / "backup" / "monday"  # made, parents too
    result = rnnviz("runs", "export", folder, "--data-dir", kept.root)
    assert result.exit_code == 1, result.output
    assert "Exported 2 runs" in result.output and "skipped 2" in result.output
    assert f"{kept.keys['broken'][:8]} broken: " in result.output
    assert f"{kept.keys['lost'][:8]} lost: its checkpoint file is missing" in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["half-way.zip", "index.json", "sine-done.zip"]
    for name, file in (("sine done", "sine-done.zip"), ("half way", "half-way.zip")):
        run, want = runfile.load_run((folder / file).read_bytes()), kept.runs[name]
        assert run.step == want.step
        pd.testing.assert_frame_equal(run.history, want.history)
    index = json.loads((folder / "index.json").read_text())
    assert [(r["name"], r["file"]) for r in index] == [("half way", "half-way.zip"), ("sine done", "sine-done.zip")]
    assert all("run_id" not in r and "view_token" not in r for r in index)


def test_export_with_links_writes_the_secrets_that_open_the_runs(kept, tmp_path):
    result = rnnviz("runs", "export", tmp_path / "out", "--with-links", "--data-dir", kept.root)
    assert result.exit_code == 1
    store = Store(kept.root, recover=False)
    for row in json.loads((tmp_path / "out" / "index.json").read_text()):
        assert store.find(row["run_id"])[0].key == row["key"] and store.find(row["view_token"])[1] is False
    store.close()


def test_export_of_readable_runs_only_exits_0_and_names_clash_apart(kept, tmp_path):
    store = Store(kept.root)
    for name in ("broken", "lost"):
        store.delete(kept.keys[name])
    store.update(kept.keys["half way"], name="sine done")  # two runs, one name
    store.close()
    result = rnnviz("runs", "export", tmp_path / "out", "--data-dir", kept.root)
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "out").glob("*.zip"))
    assert len(files) == 2 and "sine-done.zip" in files and all(f.startswith("sine-done") for f in files)


def test_export_into_a_folder_that_cannot_be_written_is_one_line(kept, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    result = rnnviz("runs", "export", blocker / "below", "--data-dir", kept.root)
    assert result.exit_code == 1 and one_line_error(result), result.output
    assert result.output.startswith(f"Error: can't write to {blocker / 'below'}")
    result = rnnviz("runs", "export", blocker, "--data-dir", kept.root)
    assert result.exit_code == 2 and "is a file" in result.output and "Traceback" not in result.output
    assert rnnviz("runs", "export", "--data-dir", kept.root).exit_code == 2  # no folder given


# ---- runs prune --------------------------------------------------------------------------------------------


def test_prune_by_state(kept):
    result = rnnviz("runs", "prune", "--state", "finished", "--yes", "--data-dir", kept.root)
    assert result.exit_code == 0, result.output
    assert names_left(kept.root) == {"half way", "lost"}
    assert not list((kept.root / "runs").rglob(f"{kept.keys['sine done']}.*"))  # its file and sidecar too
    rnnviz("runs", "prune", "--state", "paused", "--state", "interrupted", "--yes", "--data-dir", kept.root)
    assert names_left(kept.root) == set()


def test_prune_by_days_since_last_opened_and_with_a_state(kept):
    result = rnnviz("runs", "prune", "--older-than", 5, "--state", "paused", "--yes", "--data-dir", kept.root)
    assert result.exit_code == 0 and "No run matches." in result.output
    result = rnnviz("runs", "prune", "--older-than", 5, "--yes", "--data-dir", kept.root)
    assert result.exit_code == 0 and "Deleted 1 runs; 3 left." in result.output
    assert names_left(kept.root) == {"half way", "broken", "lost"}


def test_prune_all_wipes_the_store(kept):
    result = rnnviz("runs", "prune", "--all", "--yes", "--data-dir", kept.root)
    assert result.exit_code == 0 and "Deleted 4 runs; 0 left." in result.output
    assert names_left(kept.root) == set() and not list((kept.root / "runs").rglob("*.zip"))


def test_a_dry_run_deletes_nothing(kept):
    result = rnnviz("runs", "prune", "--all", "--dry-run", "--data-dir", kept.root)
    assert result.exit_code == 0 and result.output.count("would delete") == 4
    assert names_left(kept.root) == set(NAMES)


def test_prune_asks_first(kept):
    result = rnnviz("runs", "prune", "--state", "paused", "--data-dir", kept.root, input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output and names_left(kept.root) == set(NAMES)
    result = rnnviz("runs", "prune", "--state", "paused", "--data-dir", kept.root)  # no answer at all
    assert result.exit_code == 1 and names_left(kept.root) == set(NAMES)
    result = rnnviz("runs", "prune", "--state", "paused", "--data-dir", kept.root, input="y\n")
    assert result.exit_code == 0 and "half way" not in names_left(kept.root)


def test_prune_without_a_filter_refuses_and_says_what_is_allowed(kept):
    result = rnnviz("runs", "prune", "--yes", "--data-dir", kept.root)
    assert result.exit_code == 2 and "say which runs to delete" in result.output
    assert "paused, interrupted, finished, diverged" in result.output and "--older-than DAYS" in result.output
    assert rnnviz("runs", "prune", "--all", "--state", "paused", "--yes", "--data-dir", kept.root).exit_code == 2
    assert rnnviz("runs", "prune", "--state", "playing", "--yes", "--data-dir", kept.root).exit_code == 2
    assert names_left(kept.root) == set(NAMES)


# ---- bad folders and the real command ----------------------------------------------------------------------


def test_a_folder_that_holds_no_store_is_one_line_and_left_alone(tmp_path):
    for args in (["runs", "list"], ["runs", "export", tmp_path / "out"], ["runs", "prune", "--all", "--yes"]):
        result = rnnviz(*args, "--data-dir", tmp_path / "empty")
        assert result.exit_code == 1 and one_line_error(result), result.output
        assert "holds no rnnviz run store" in result.output
    assert not (tmp_path / "empty").exists() and not (tmp_path / "out").exists()
    (tmp_path / "plain").write_text("x")
    result = rnnviz("runs", "list", "--data-dir", tmp_path / "plain")
    assert result.exit_code == 2 and "is a file" in result.output


def test_python_dash_m_rnnviz_lists_the_runs(kept):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "rnnviz", "runs", "list", "--data-dir", str(kept.root)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in NAMES) and done.stderr == ""


# ---- train, open, inspect: your own runs and models


def same_losses(got: Run, want: Run) -> None:
    columns = [c for c in want.history.columns if c != "seconds"]  # everything but the clock
    pd.testing.assert_frame_equal(got.history[columns], want.history[columns])


def test_train_from_a_json_config_writes_the_run_train_run_trains(tmp_path):
    config = {"cell": "lstm", "hidden_size": 8, "seq_len": 10, "steps": 30}
    (tmp_path / "c.json").write_text(json.dumps(config))
    out = tmp_path / "run.zip"
    done = CliRunner().invoke(main, ["train", str(tmp_path / "c.json"), "--out", str(out)])
    assert done.exit_code == 0, done.output
    summary = done.output.strip().splitlines()[-1]
    assert summary.startswith("finished, did not diverge: 30 / 30 steps in ") and summary.endswith(f"-> {out}")
    want = train_run(RunConfig.from_dict(config))
    assert f"validation loss {want.latest_losses()['val_loss']:.4g}" in summary
    got = runfile.load_run(out.read_bytes())
    assert got.config == want.config and got.step == 30
    same_losses(got, want)
    assert [p.name for p in tmp_path.iterdir()] == ["c.json", "run.zip"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "run.zip"]  # no temporary file left


def test_train_from_a_json_config_with_changes_writes_the_run_it_trains(tmp_path):
    config = {"cell": "gru", "hidden_size": 8, "seq_len": 10, "steps": 30, "changes": [[10, {"lr": 0.01}]]}
    (tmp_path / "c.json").write_text(json.dumps(config))
    out = tmp_path / "run.zip"
    done = CliRunner().invoke(main, ["train", str(tmp_path / "c.json"), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "30 / 30 steps" in done.output and str(out) in done.output
    first = RunConfig.from_dict({k: v for k, v in config.items() if k != "changes"})
    want = train_run(first, changes=live.from_list(first, config["changes"]))
    got = runfile.load_run(out.read_bytes())
    assert got.changes == want.changes
    same_losses(got, want)


def test_train_from_a_link_reproduces_the_link(tmp_path):
    link = 'http://host:8501/Train?cell=lstm&hidden_size=8&seq_len=10&steps=20&run=xyz&changes=[[5,{"clip":0.5}]]'
    out = tmp_path / "run.zip"
    assert CliRunner().invoke(main, ["train", link, "--out", str(out)]).exit_code == 0
    got = runfile.load_run(out.read_bytes())
    config = RunConfig(cell="lstm", hidden_size=8, seq_len=10, steps=20)
    assert got.config == config
    assert [(c.step, dict(c.values)) for c in got.changes] == [(5, {"clip": 0.5})]
    same_losses(got, train_run(config, changes=live.from_json(config, '[[5, {"clip": 0.5}]]')))
    query = CliRunner().invoke(main, ["train", "cell=lstm&hidden_size=8&seq_len=10&steps=20", "--out", str(out)])
    assert query.exit_code == 0 and runfile.load_run(out.read_bytes()).config == config  # the query string alone


@pytest.mark.parametrize("source, message", [
    ("hidden_size=100000", "hidden_size=100000 is out of range; allowed: 1 to 512"),
    ("http://host/Train?cell=foo", "cell='foo' is not allowed"),
    ('steps=20&changes=[[5,{"seed":1}]]', "seed cannot change while a run trains"),
    ("nothing here", "is neither a .json file nor a link with settings"),
])
def test_train_refuses_bad_settings_with_the_apps_messages(tmp_path, source, message):
    done = CliRunner().invoke(main, ["train", source, "--out", str(tmp_path / "x.zip")])
    assert done.exit_code == 2 and message in done.output and "Traceback" not in done.output
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.parametrize("text, message", [
    ("[1, 2", "is not a JSON object of settings (Expecting"),
    ("[1, 2]", "must hold a JSON object of settings"),
    ('{"hidden": 8}', "unknown setting(s) hidden"),
    ('{"steps": 20, "changes": [[5, {"lr": -1}]]}', "lr=-1 is out of range"),
])
def test_train_refuses_a_json_file_that_is_not_settings(tmp_path, text, message):
    (tmp_path / "bad.json").write_text(text)
    done = CliRunner().invoke(main, ["train", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x.zip")])
    assert done.exit_code == 2 and message in done.output and "Traceback" not in done.output, done.output
    missing = CliRunner().invoke(main, ["train", str(tmp_path / "none.json"), "--out", str(tmp_path / "x.zip")])
    assert missing.exit_code == 2 and "none.json: no such file" in missing.output


def test_train_into_a_missing_folder_is_refused_before_training(tmp_path):
    done = CliRunner().invoke(main, ["train", "steps=20", "--out", str(tmp_path / "no" / "x.zip")])
    assert done.exit_code == 2 and "there is no folder" in done.output


def test_ctrl_c_stops_training_and_writes_the_run_so_far(tmp_path, monkeypatch):
    want = train_run(RunConfig(hidden_size=8, seq_len=10, steps=30))  # before Ctrl-C is wired into Run.record
    record = Run.record
    # a terminal's Python starts with this handler; CI may start it with SIGINT ignored (a background job)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    def press_ctrl_c_at_step_12(run, event):
        record(run, event)
        if event.step == 12:
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # what the terminal's Ctrl-C calls

    monkeypatch.setattr(Run, "record", press_ctrl_c_at_step_12)
    out = tmp_path / "run.zip"
    try:
        done = CliRunner().invoke(main, ["train", "hidden_size=8&seq_len=10&steps=30", "--out", str(out)])
        handler_after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done.exit_code == 0, done.output
    assert "stopped (Ctrl-C), the run so far written: 12 / 30 steps" in done.output
    assert handler_after is signal.default_int_handler  # given back
    got = runfile.load_run(out.read_bytes())
    assert got.step == 12 and not got.finished
    pd.testing.assert_series_equal(got.history.loss, want.history.loss[:13])


def test_train_says_where_a_run_diverged(tmp_path):
    link = "cell=rnn_relu&hidden_size=32&seq_len=20&steps=40&recurrent_radius=1.5&lr=1.0&optimizer=sgd&clip=none"
    done = CliRunner().invoke(main, ["train", link, "--out", str(tmp_path / "run.zip")])
    assert done.exit_code == 0, done.output
    run = runfile.load_run((tmp_path / "run.zip").read_bytes())
    assert run.diverged_at is not None and f"diverged at step {run.diverged_at}: " in done.output


def test_train_keep_also_keeps_the_run_in_the_store(tmp_path):
    out, data = tmp_path / "run.zip", tmp_path / "data"
    done = CliRunner().invoke(main, ["train", "hidden_size=8&seq_len=10&steps=20", "--out", str(out), "--keep",
                                     "--data-dir", str(data)])
    assert done.exit_code == 0, done.output
    assert f"kept in {data}: /Train?run=" in done.output
    secret = done.output.split("?run=")[1].split()[0]
    found = Registry(Store(data), cache=None).open(secret)
    assert found is not None and found.run.step == 20
    assert [e.origin for e in Store(data).entries()] == ["cli"]


def test_open_keeps_a_run_file_in_the_store_and_prints_its_link(tmp_path):
    path = tmp_path / "mine.zip"
    path.write_bytes(runfile.save_run(train_run(CFG)))
    done = CliRunner().invoke(main, ["open", str(path), "--dry-run", "--data-dir", str(tmp_path / "data")])
    assert done.exit_code == 0, done.output
    assert "http://localhost:8501/Train?run=" in done.output
    secret = done.output.split("?run=")[1].split()[0]
    assert [(e.name, e.origin, e.step) for e in Store(tmp_path / "data").entries()] == [("mine.zip", "file", 20)]
    found = Registry(Store(tmp_path / "data"), cache=None).open(secret)
    assert found is not None and found.run.step == CFG.steps
    other = CliRunner().invoke(main, ["open", str(path), "--dry-run", "--port", "9000", "--no-browser",
                                      "--data-dir", str(tmp_path / "data")])
    assert other.exit_code == 0 and "http://localhost:9000/Train?run=" in other.output


def test_open_starts_the_app_on_the_store(tmp_path, monkeypatch):
    path = tmp_path / "mine.zip"
    path.write_bytes(runfile.save_run(train_run(CFG)))
    started = []

    class App:  # stands in for the streamlit process
        def __init__(self, command, cwd, env):
            started.append((command, cwd, env["RNNVIZ_DATA_DIR"]))

        def __enter__(self):
            return self

        def __exit__(self, *_):
            pass

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(cli.subprocess, "Popen", App)
    monkeypatch.setattr(cli.webbrowser, "open", lambda url: pytest.fail("no browser without a terminal"))
    done = CliRunner().invoke(main, ["open", str(path), "--port", "8600", "--data-dir", str(tmp_path / "data")])
    assert done.exit_code == 0, done.output
    [(command, cwd, data)] = started
    assert command[1:4] == ["-m", "streamlit", "run"] and Path(command[4]) == ROOT / "app.py"
    assert command[5:] == ["--server.port", "8600", "--server.headless", "true"]
    assert Path(cwd) == ROOT and data == str(tmp_path / "data")


def test_open_keeps_a_checkpoint_from_step_0_and_refuses_a_file_that_is_neither(tmp_path):
    import torch

    torch.manual_seed(0)
    module = torch.nn.Module()
    module.rnn, module.head = torch.nn.GRU(1, 6, batch_first=True), torch.nn.Linear(6, 1)
    torch.save(module.state_dict(), tmp_path / "mine.pt")
    done = CliRunner().invoke(main, ["open", str(tmp_path / "mine.pt"), "--dry-run", "--data-dir", str(tmp_path / "d")])
    assert done.exit_code == 0, done.output
    secret = done.output.split("?run=")[1].split()[0]
    found = Registry(Store(tmp_path / "d"), cache=None).open(secret)  # kept though untrained: it is your weights
    assert found is not None and found.run.step == 0
    assert torch.equal(found.run.model.rnn.weight_hh_l0, module.rnn.weight_hh_l0)
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    bad = CliRunner().invoke(main, ["open", str(tmp_path / "x.zip"), "--dry-run", "--data-dir", str(tmp_path / "d")])
    assert bad.exit_code == 2 and "x.zip was not opened: this is not a run file" in bad.output
    assert "Traceback" not in bad.output and len(Store(tmp_path / "d").entries()) == 1  # nothing more kept


def test_inspect_writes_one_html_report_of_a_checkpoint_on_your_sequences(tmp_path):
    import io

    import numpy as np
    import torch

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5, 2, batch_first=True)
    torch.save(lstm.state_dict(), tmp_path / "lstm.pt")
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(0).normal(size=(20, 12, 3)))
    (tmp_path / "seqs.npy").write_bytes(buf.getvalue())
    out = tmp_path / "report.html"
    done = CliRunner().invoke(main, ["inspect", str(tmp_path / "lstm.pt"), "--data", str(tmp_path / "seqs.npy"),
                                     "--html", str(out), "--samples", "4"])
    assert done.exit_code == 0, done.output
    assert "LSTM 2×5 on 4 sequences of 12 steps" in done.output
    html = out.read_text()
    assert html.count('class="plotly-graph-div"') == 8 and "Step Jacobians" in html
    wrong = CliRunner().invoke(main, ["inspect", str(tmp_path / "lstm.pt"), "--html", str(out)])  # sine: 1 feature
    assert wrong.exit_code == 2 and "inputs have 1 feature per step but the module's input_size is 3" in wrong.output


@pytest.mark.parametrize("before", [signal.SIG_DFL, signal.SIG_IGN])
def test_train_gives_back_the_sigint_disposition_it_found(tmp_path, before):
    previous = signal.signal(signal.SIGINT, before)
    try:
        done = CliRunner().invoke(main, ["train", "hidden_size=8&seq_len=10&steps=5", "--out", str(tmp_path / "r.zip")])
        after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done.exit_code == 0, done.output
    assert after == before  # SIG_DFL is 0: not mistaken for "no handler"
