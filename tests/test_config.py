"""RunConfig: bounds with clear errors, exact dict / URL round trips."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnviz import DATASETS, ConfigError, RunConfig
from rnnviz.engine.config import parse_query, to_query

NAN, INF = float("nan"), float("inf")

# (field, bad value, text the message must show as the allowed range)
BAD = [
    ("hidden_size", 0, "1 to 512"), ("hidden_size", 513, "1 to 512"), ("hidden_size", 32.0, "1 to 512"),
    ("hidden_size", "32", "1 to 512"), ("hidden_size", True, "1 to 512"),
    ("num_layers", 0, "1 to 4"), ("num_layers", 5, "1 to 4"),
    ("seq_len", 1, "2 to 2000"), ("seq_len", 2001, "2 to 2000"),
    ("batch_size", 0, "1 to 1024"), ("batch_size", 1025, "1 to 1024"),
    ("steps", 0, "1 to 100000"), ("steps", 100_001, "1 to 100000"),
    ("lr", 0.0, "greater than 0 and at most 10"), ("lr", -1e-3, "greater than 0 and at most 10"),
    ("lr", 10.5, "greater than 0 and at most 10"), ("lr", NAN, "greater than 0 and at most 10"),
    ("lr", INF, "greater than 0 and at most 10"), ("lr", "fast", "greater than 0"),
    ("clip", 0.0, "greater than 0"), ("clip", -1.0, "greater than 0"), ("clip", NAN, "greater than 0"),
    ("clip", INF, "greater than 0"),
    ("probe_size", 0, "1 to 64"), ("probe_size", 65, "1 to 64"),
    ("probe_every", 0, "1 to"), ("eval_every", 0, "1 to"),
    ("optimizer", "adamw", "adam, sgd, rmsprop"), ("cell", "lstm2", "rnn_tanh, rnn_relu, lstm, gru"),
    ("recurrent_radius", 0.0, "greater than 0"), ("recurrent_radius", -0.5, "greater than 0"),
    ("recurrent_radius", NAN, "greater than 0"), ("recurrent_radius", INF, "greater than 0"),
    ("forget_bias", NAN, "-20 to 20"), ("forget_bias", INF, "-20 to 20"), ("forget_bias", 21.0, "-20 to 20"),
    ("seed", -1, "0 to"), ("dataset", "no_such_data", "sine"),
]


@pytest.mark.parametrize(("name", "value", "allowed"), BAD, ids=[f"{n}={v!r}" for n, v, _ in BAD])
def test_bad_values_raise_config_error_naming_field_value_and_range(name, value, allowed):
    with pytest.raises(ConfigError) as err:
        RunConfig(**{name: value})
    assert isinstance(err.value, ValueError)
    msg = str(err.value)
    assert name in msg and (repr(value) in msg or str(value) in msg) and allowed in msg, msg


GOOD = [
    ("hidden_size", 1), ("hidden_size", 512), ("num_layers", 4), ("seq_len", 2), ("seq_len", 2000),
    ("batch_size", 1), ("batch_size", 1024), ("steps", 1), ("steps", 100_000), ("lr", 10.0), ("lr", 1e-12),
    ("clip", None), ("clip", 1e-9), ("probe_size", 1), ("probe_size", 64), ("probe_every", 1),
    ("optimizer", "sgd"), ("optimizer", "rmsprop"), ("recurrent_radius", 1.5), ("forget_bias", -3.0),
]


@pytest.mark.parametrize(("name", "value"), GOOD)
def test_edge_values_are_accepted(name, value):
    assert getattr(RunConfig(**{name: value}), name) == value


def test_dataset_params_must_be_flat_finite_and_keyed_by_text():
    for bad in ({"noise": NAN}, {"noise": [1, 2]}, {1: 2}, [("noise", 0.1)]):
        with pytest.raises(ConfigError, match="dataset_params"):
            RunConfig(dataset_params=bad)


def test_config_is_frozen_hashable_and_owns_its_params():
    params = {"noise": 0.1}
    c = RunConfig(dataset_params=params)
    params["noise"] = 5.0  # the caller's dict is not the config's
    assert c.dataset_params == {"noise": 0.1}
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.lr = 1.0
    assert hash(c) == hash(RunConfig(dataset_params={"noise": 0.1})) and len({c, c.replace()}) == 1
    assert RunConfig(lr=1) == RunConfig(lr=1.0) and RunConfig(lr=1).key() == RunConfig(lr=1.0).key()


def test_from_dict_rejects_unknown_keys_and_non_dicts():
    with pytest.raises(ConfigError, match="hidden_sise"):
        RunConfig.from_dict({"hidden_sise": 32})
    with pytest.raises(ConfigError):
        RunConfig.from_dict([("cell", "gru")])
    assert RunConfig.from_dict({"cell": "gru"}) == RunConfig(cell="gru")  # missing keys take defaults


finite = dict(allow_nan=False, allow_infinity=False)
param_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.floats(**finite), st.text(max_size=8)
)
configs = st.builds(
    RunConfig,
    cell=st.sampled_from(["rnn_tanh", "rnn_relu", "lstm", "gru"]),
    hidden_size=st.integers(1, 512), num_layers=st.integers(1, 4), seq_len=st.integers(2, 2000),
    dataset=st.sampled_from(sorted(DATASETS)),
    dataset_params=st.dictionaries(st.text(max_size=8), param_values, max_size=4),
    # up to 2 keeps every combination within the server's memory limit (LSTM 512 x 4 layers x T 2000; tested separately)
    batch_size=st.integers(1, 2), steps=st.integers(1, 100_000),
    lr=st.one_of(st.floats(0, 10, exclude_min=True), st.integers(1, 10)),
    optimizer=st.sampled_from(["adam", "sgd", "rmsprop"]),
    clip=st.none() | st.floats(0, 1e6, exclude_min=True), seed=st.integers(0, 2**31 - 1),
    probe_every=st.integers(1, 100_000), probe_size=st.integers(1, 64), eval_every=st.integers(1, 100_000),
    embedding_size=st.integers(1, 256),
    recurrent_radius=st.none() | st.floats(0, 1e6, exclude_min=True),
    forget_bias=st.none() | st.floats(-20, 20),
)


@settings(max_examples=150, deadline=None)
@given(configs)
def test_dict_round_trip_is_exact(c):
    d = c.to_dict()
    assert RunConfig.from_dict(d) == c and RunConfig.from_dict(d).to_dict() == d
    assert RunConfig.from_dict(json.loads(json.dumps(d))) == c  # run files are JSON
    d["dataset_params"]["_mutated_"] = 1  # to_dict hands out a copy (keys above are at most 8 long)
    assert "_mutated_" not in c.dataset_params


@settings(max_examples=150, deadline=None)
@given(configs)
def test_query_round_trip_is_exact(c):
    q = to_query(c)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in q.items())
    assert parse_query(q) == c
    assert parse_query(q).key() == c.key()


def test_query_parses_text_and_leaves_out_defaults():
    assert to_query(RunConfig()) == {}
    c = parse_query(
        {"cell": "gru", "hidden_size": "64", "lr": "0.01", "clip": "none", "dataset_params": '{"noise": 0.5}'}
    )
    assert c == RunConfig(cell="gru", hidden_size=64, lr=0.01, clip=None, dataset_params={"noise": 0.5})
    assert parse_query({"recurrent_radius": "1.5"}).recurrent_radius == 1.5
    assert parse_query({"page": "train"}) == RunConfig()  # other URL keys belong to the app, not the config


@pytest.mark.parametrize(("key", "text"), [
    ("hidden_size", "100000"), ("hidden_size", "abc"), ("hidden_size", "3.5"), ("hidden_size", ""),
    ("lr", "nan"), ("lr", "inf"), ("lr", "fast"), ("lr", "none"), ("cell", "foo"), ("seed", "-1"),
    ("clip", "-1"), ("dataset_params", "{not json"), ("dataset_params", "[1, 2]"),
])
def test_bad_query_text_raises_config_error(key, text):
    with pytest.raises(ConfigError, match=key):
        parse_query({key: text})


def test_a_run_too_big_for_the_server_is_refused_with_what_to_lower():
    from rnnviz.engine.config import MAX_TRAIN_BYTES, training_bytes

    with pytest.raises(ConfigError, match=r"batch_size=1024 x seq_len=2000 .* lower one of them"):
        RunConfig(cell="lstm", hidden_size=512, num_layers=4, seq_len=2000, batch_size=1024)
    biggest = RunConfig(cell="lstm", hidden_size=512, num_layers=4, seq_len=2000, batch_size=4)
    assert training_bytes(biggest) <= MAX_TRAIN_BYTES
    assert training_bytes(RunConfig()) < 32 * 2**20  # the default is small, everything counted
