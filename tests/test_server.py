"""RNNVIZ_* server settings: validated at start, with a message naming the variable and its range."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rnnviz import RunConfig, server
from rnnviz.engine.config import training_bytes
from rnnviz.server import SETTINGS, ServerSettingError, read_all
from rnnviz.views.lessons import LESSONS
from tests.pagetools import ROOT

BAD = [  # (variable, value, text the message must show)
    ("RNNVIZ_MAX_TRAIN_MB", "abc", "not a whole number"),
    ("RNNVIZ_MAX_TRAIN_MB", "1.5", "not a whole number"),
    ("RNNVIZ_MAX_TRAIN_MB", "0", "out of range"),
    ("RNNVIZ_MAX_TRAIN_MB", "-5", "not a whole number"),
    ("RNNVIZ_MAX_TRAIN_MB", "1_000", "not a whole number"),
    ("RNNVIZ_MAX_TRAIN_MB", "١٠٠", "not a whole number"),
    ("RNNVIZ_MAX_TRAIN_MB", "9" * 40, "not a whole number"),
    ("RNNVIZ_TRAINING_SLOTS", "0", "out of range"),
    ("RNNVIZ_TRAINING_SLOTS", "lots", "not a whole number"),
    ("RNNVIZ_CACHE_RUNS", "-1", "not a whole number"),
    ("RNNVIZ_CACHE_MB", "2e3", "not a whole number"),
    ("RNNVIZ_TORCH_THREADS", "0", "out of range"),
    ("RNNVIZ_TORCH_THREADS", "100000", "out of range"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD, ids=[f"{n}={v[:8]}" for n, v, _ in BAD])
def test_bad_values_name_the_variable_and_the_allowed_range(name, value, message):
    with pytest.raises(ServerSettingError, match=message) as err:
        read_all({name: value})
    s = SETTINGS[name]
    assert isinstance(err.value, ValueError)
    assert name in str(err.value) and f"from {s.lo} to {s.hi}" in str(err.value)


def test_unset_and_empty_take_the_defaults_and_edges_are_accepted():
    defaults = read_all({})
    assert defaults["RNNVIZ_MAX_TRAIN_MB"] == 2048 and defaults["RNNVIZ_CACHE_RUNS"] == 32
    assert defaults["RNNVIZ_TRAINING_SLOTS"] == server.cores() and defaults["RNNVIZ_TORCH_THREADS"] == 1
    assert read_all({"RNNVIZ_CACHE_MB": " "})["RNNVIZ_CACHE_MB"] == 512
    for s in SETTINGS.values():
        assert read_all({s.name: str(s.lo)})[s.name] == s.lo and read_all({s.name: f" {s.hi}\n"})[s.name] == s.hi
    assert read_all({"RNNVIZ_CACHE_RUNS": "0"})["RNNVIZ_CACHE_RUNS"] == 0  # sharing off is allowed


def test_an_unknown_rnnviz_variable_is_a_typo_and_is_refused():
    with pytest.raises(ServerSettingError, match="RNNVIZ_CACHE_MBS.*known: RNNVIZ_MAX_TRAIN_MB"):
        read_all({"RNNVIZ_CACHE_MBS": "10"})
    assert read_all({"PATH": "/bin", "RNNVIZ": "x"})  # only RNNVIZ_* names are ours


def test_the_lowest_memory_limit_still_admits_the_default_run_and_every_lesson():
    lowest = SETTINGS["RNNVIZ_MAX_TRAIN_MB"].lo * 2**20
    assert training_bytes(RunConfig()) <= lowest
    for lesson in LESSONS:
        assert training_bytes(lesson.config) <= lowest, lesson.key


def _import_rnnviz(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RNNVIZ_")}
    return subprocess.run([sys.executable, "-c", "import rnnviz.runs.capacity, rnnviz.engine.config"], cwd=ROOT,
                          env=clean | {"PYTHONPATH": str(ROOT)} | env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("env", "message"), [
    ({"RNNVIZ_MAX_TRAIN_MB": "abc"}, "RNNVIZ_MAX_TRAIN_MB='abc' is not a whole number; allowed: a whole number "
                                     "from 384 to 1048576"),
    ({"RNNVIZ_MAX_TRAIN_MB": "0"}, "RNNVIZ_MAX_TRAIN_MB=0 is out of range; allowed: a whole number from 384"),
    ({"RNNVIZ_TRAINING_SLOTS": "1.5"}, "RNNVIZ_TRAINING_SLOTS='1.5' is not a whole number"),
])
def test_importing_rnnviz_with_a_bad_value_fails_with_that_message(env, message):
    done = _import_rnnviz(**env)
    assert done.returncode != 0 and "ServerSettingError" in done.stderr and message in done.stderr, done.stderr


def test_good_values_reach_the_modules_that_use_them():
    code = ("import rnnviz.runs.capacity as j, rnnviz.engine.config as c; print(c.MAX_TRAIN_BYTES // 2**20, j.SLOTS.n, "
            "j.RUN_CACHE.max_entries, j.RUN_CACHE.max_bytes, j.TORCH_THREADS)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RNNVIZ_")}
    env = clean | {"PYTHONPATH": str(ROOT), "RNNVIZ_MAX_TRAIN_MB": "384", "RNNVIZ_TRAINING_SLOTS": "3",
                   "RNNVIZ_CACHE_RUNS": "0", "RNNVIZ_CACHE_MB": "7", "RNNVIZ_TORCH_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["384", "3", "0", str(7 * 2**20), "2"], done.stderr


def test_the_ray_address_is_a_known_setting_and_starts_the_server():
    from rnnviz.runs import cluster

    assert cluster.RAY_ADDRESS_ENV in server.TEXT_SETTINGS
    assert server.read_all({"RNNVIZ_RAY_ADDRESS": "auto"})["RNNVIZ_TRAINING_SLOTS"] >= 1


def test_the_server_does_not_collect_all_garbage_after_every_script_run():
    """Streamlit's default gc.collect(2) after each run (a progress tick a second per playing session) took a
    third of the server with four sessions playing; bench/bench_browser.py measures what turning it off gives."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
    assert config["server"]["fileWatcherType"] == "none"  # no polling of the source tree mid-workshop either
