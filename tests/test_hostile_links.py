"""Hostile links and API values (issue 14, item 1): every parse of user text ends in a ConfigError/DatasetError."""

from __future__ import annotations

import copy
import json
import pickle
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnviz import ConfigError, DatasetError, RunConfig
from rnnviz.datasets import resolve_params
from rnnviz.engine.config import FIELDS, SETTINGS, parse_query

HOSTILE_LINKS = [  # (query, text the message must contain)
    ({"dataset_params": '{"frequency": 100000000000000000000}'}, "too large"),
    ({"dataset_params": "[" * 1000 + "]" * 1000}, "flat JSON object"),
    ({"dataset_params": '{"a": ' + "[" * 900 + "]" * 900 + "}"}, "flat JSON object"),
    ({"dataset_params": '{"n_train": ' + "9" * 5000 + "}"}, "longer than"),
    ({"dataset_params": '{"n_train": ' + "9" * 1900 + "}"}, "too large"),
    ({"dataset_params": '{"n_train": 1'}, "not valid JSON"),
    ({"dataset_params": '{"noise": 1e400}'}, "finite"),
    ({"steps": "1_000"}, "digits 0-9"),
    ({"hidden_size": "١٢"}, "digits 0-9"),  # Arabic-Indic digits: int() would read 12
    ({"lr": "٠.١"}, "digits 0-9"),
    ({"lr": "1_0e-3"}, "digits 0-9"),
    ({"seed": "9" * 5000}, "longer than"),
    ({"lr": "1" + "0" * 400}, "out of range"),
]


@pytest.mark.parametrize(("query", "message"), HOSTILE_LINKS, ids=range(len(HOSTILE_LINKS)))
def test_hostile_link_values_raise_config_error_with_a_message(query, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_query(query)
    key = next(iter(query))
    assert key in str(err.value) and len(str(err.value)) < 400  # names the setting, stays readable


def test_a_deeply_nested_link_is_refused_before_decoding(monkeypatch):
    """The depth check runs before json.loads: the decoder is never handed a nested document."""
    calls = []
    monkeypatch.setattr(json, "loads", lambda text: calls.append(text))
    with pytest.raises(ConfigError):
        parse_query({"dataset_params": "[" * 1000 + "]" * 1000})
    assert calls == []


@pytest.mark.parametrize("name", ["lr", "clip", "forget_bias", "recurrent_radius"])
@pytest.mark.parametrize("value", [10**400, -(10**400), 2**64 * 10**300])
def test_huge_integers_for_float_settings_raise_config_error(name, value):
    with pytest.raises(ConfigError, match=f"{name}=.*digits.*out of range"):
        RunConfig(**{name: value})


@pytest.mark.parametrize("name", ["seed", "hidden_size", "steps"])
def test_huge_integers_for_int_settings_give_a_short_message(name):
    with pytest.raises(ConfigError, match="out of range") as err:
        RunConfig(**{name: 10**5000})  # str() of this int raises ValueError in Python 3.11
    assert len(str(err.value)) < 200


@pytest.mark.parametrize("value", [2**64, 10**400, -(2**70)])
def test_dataset_options_that_do_not_fit_are_refused(value):
    with pytest.raises(ConfigError, match="too large"):
        RunConfig(dataset_params={"frequency": value})
    with pytest.raises(DatasetError, match="frequency"):  # the registry's own check, without numpy's TypeError
        resolve_params("sine", {"frequency": value})


def test_frozen_configs_dataset_params_are_read_only_and_still_round_trip():
    c = RunConfig(dataset="adding", dataset_params={"n_train": 100})
    with pytest.raises(TypeError):
        c.dataset_params["n_train"] = 10**9
    with pytest.raises(AttributeError):
        c.dataset_params.clear()
    assert c.to_dict()["dataset_params"] == {"n_train": 100} and type(c.to_dict()["dataset_params"]) is dict
    assert RunConfig.from_dict(c.to_dict()) == c and RunConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert json.loads(c.key())["dataset_params"] == {"n_train": 100}
    for other in (pickle.loads(pickle.dumps(c)), copy.deepcopy(c), copy.copy(c), c.replace(), c.replace(seed=0)):
        assert other == c and other.key() == c.key() and hash(other) == hash(c)
    assert c.replace(dataset_params={"n_train": 200}).dataset_params["n_train"] == 200


# link values: anything, numbers in every notation, and JSON-ish text for dataset_params
digits = st.text(alphabet=string.digits + "_+-.eE٠١٢३", max_size=12)
json_ish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
).map(lambda v: json.dumps(v))
values = st.one_of(st.text(max_size=30), digits, json_ish, st.sampled_from(["none", "off", "", "nan", "-inf"]),
                   st.integers().map(str), st.floats().map(repr))
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=10))
PROPERTY_EXAMPLES = 400


@settings(max_examples=PROPERTY_EXAMPLES, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_any_query_gives_a_config_or_a_config_error(query):
    try:
        config = parse_query(query)
    except ConfigError as e:
        assert str(e) and len(str(e)) < 1000
        return
    assert isinstance(config, RunConfig)
    for key, setting in SETTINGS.items():  # what was accepted obeys the table
        setting.check(getattr(config, key))
    assert RunConfig.from_dict(config.to_dict()) == config
