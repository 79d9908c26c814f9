"""Your sequences as an .npy upload: (N, L) or (N, L, F) real arrays become a forecasting dataset; anything else
is refused before numpy reads it, with a message."""

import io

import numpy as np
import pytest

from rnnviz import RunConfig, load_dataset
from rnnviz.datasets import DatasetError, register_upload
from rnnviz.datasets.uploads import parse_npy


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def test_sequences_of_three_features_forecast_their_last_step():
    array = np.random.default_rng(0).normal(size=(50, 30, 3))
    key = register_upload(npy(array), "seqs.npy")
    data = load_dataset(RunConfig(dataset="npy", dataset_params={"upload": key}, seq_len=20))
    assert data.input_size == 3 and data.output_size == 3 and data.task == "regression"
    assert tuple(data.x_train.shape) == (40, 20, 3) and tuple(data.x_val.shape) == (10, 20, 3)
    np.testing.assert_allclose(data.x_train[0].numpy(), array[0, 9:29], rtol=1e-6)  # the 20 steps before the last
    np.testing.assert_allclose(data.y_val[-1].numpy(), array[-1, 29], rtol=1e-6)
    want = ((array[40:, 29] - array[:40, 29].mean(0)) ** 2).mean()
    assert data.baseline["mse"] == pytest.approx(want, rel=1e-4)  # the best constant: the training mean


def test_a_two_dimensional_array_is_one_feature_and_ints_are_numbers():
    key = register_upload(npy(np.arange(200).reshape(10, 20)), "ints.npy")
    data = load_dataset(RunConfig(dataset="npy", dataset_params={"upload": key}, seq_len=5))
    assert data.input_size == 1 and float(data.y_train[0, 0]) == 19.0


def test_sequences_too_short_for_seq_len_name_both():
    key = register_upload(npy(np.zeros((10, 8, 2))), "short.npy")
    with pytest.raises(DatasetError, match="your sequences have 8 steps; seq_len=20 needs at least 21"):
        load_dataset(RunConfig(dataset="npy", dataset_params={"upload": key}, seq_len=20))


@pytest.mark.parametrize("content, message", [
    (npy(np.array([{"a": 1}, None], dtype=object)), "an array of Python objects is not allowed"),
    (npy(np.zeros(5)), "expected (sequences, steps) or (sequences, steps, features)"),
    (npy(np.zeros((2, 2, 2, 2))), "expected (sequences, steps) or (sequences, steps, features)"),
    (npy(np.array([[1.0, np.nan], [np.inf, 2.0]])), "holds 2 NaN or infinite values"),
    (npy(np.array([["a", "b"]])), "expected real numbers"),
    (npy(np.zeros((100, 50)))[:-100], "shorter than its header says"),
    (b"\x93NUMPY\x01\x00\xff\xffgarbage", "header cannot be read"),
    (b"PK\x03\x04 a zip renamed", "this is not a NumPy .npy file"),
    (npy(np.zeros((10, 10, 5000))), "5000 features per step; at most 4096"),
])
def test_a_bad_array_is_refused_with_its_reason(content, message):
    with pytest.raises(DatasetError) as err:
        parse_npy(content)
    assert message in str(err.value)
