"""Every dataset: contract shapes and dtypes, determinism per seed, disjoint splits, baselines."""

import math

import numpy as np
import pytest
import torch

from rnnviz import DATASETS, DatasetError, RunConfig, load_dataset
from rnnviz.datasets.grammars import COUNTING, REBER
from rnnviz.datasets.real import load_co2, python_help_text
from rnnviz.datasets.uploads import register_upload

SMALL = {"n_train": 64, "n_val": 64}
CASES = {
    "sine": {},
    "sine_keras": {"layout": "keras_tutorial"},
    "white_noise": SMALL,
    "adding": SMALL,
    "memory": SMALL,
    "memory_hard": {"recall": 2, "length": "easy", **SMALL},
    "temporal_order": SMALL,
    "embedded_reber": SMALL,
    "counting": SMALL,
    "co2": {},
    "co2_diff": {"transform": "difference"},
    "text": SMALL,
}
SEEDLESS = {"sine_keras", "co2", "co2_diff"}  # fixed data: the seed has nothing to draw


def config(case: str, seed: int = 0, seq_len: int = 50) -> RunConfig:
    name = case.split("_keras")[0].split("_hard")[0].split("_diff")[0]
    return RunConfig(dataset=name, dataset_params=CASES[case], seed=seed, seq_len=seq_len)


def test_every_registered_dataset_has_a_case():
    assert set(DATASETS) - {config(c).dataset for c in CASES} == {"csv", "npy"}  # uploads: test_uploads, test_npy


@pytest.mark.parametrize("case", CASES)
def test_contract(case):
    d = load_dataset(config(case))
    assert d.task in ("regression", "classification", "next_token")
    assert len(d.x_train) == len(d.y_train) and len(d.x_val) == len(d.y_val) > 0
    if d.task == "next_token":
        assert d.x_train.dtype == d.y_train.dtype == torch.long and d.x_train.ndim == 2
        assert d.y_val.shape == d.x_val.shape
        assert int(d.x_train.max()) < d.input_size == d.output_size == len(d.vocab)
    else:
        assert d.x_train.dtype == torch.float32 and d.x_train.ndim == 3 and d.x_train.shape[2] == d.input_size
    if d.task == "classification":
        assert d.y_train.dtype == torch.long and d.y_train.ndim == 1 and len(d.vocab) == d.output_size
    if d.task == "regression":
        assert d.y_train.dtype == torch.float32 and d.y_train.shape[1] == d.output_size
    assert torch.isfinite(d.x_train.float()).all() and torch.isfinite(d.y_train.float()).all()
    assert d.baseline and all(math.isfinite(v) for v in d.baseline.values())
    assert 80 < len(d.description) < 700 and d.description.count(". ") >= 1


@pytest.mark.parametrize("case", CASES)
def test_deterministic_per_seed(case):
    a, b, c = load_dataset(config(case, 3)), load_dataset(config(case, 3)), load_dataset(config(case, 4))
    for field in ("x_train", "y_train", "x_val", "y_val"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    if case not in SEEDLESS:
        assert not torch.equal(a.x_train, c.x_train)


def _rows(t: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in t.flatten(1)}


@pytest.mark.parametrize("case", [c for c in CASES if c != "text"])  # text: see test_text_split_is_disjoint
def test_validation_disjoint_from_training(case):
    d = load_dataset(config(case))
    assert not _rows(d.x_val) & _rows(d.x_train)


def test_seq_len_sets_T_unless_the_dataset_says_otherwise():
    assert load_dataset(config("adding", seq_len=17)).x_train.shape[1] == 17
    assert load_dataset(config("sine_keras", seq_len=17)).x_train.shape == (80, 1, 1)
    assert load_dataset(config("memory_hard", seq_len=17)).x_train.shape[1] == 10  # "easy" preset


def test_keras_sine_is_the_tutorial_exactly():
    d = load_dataset(config("sine_keras"))
    x = np.sin(np.linspace(0, 10 * np.pi, 100))
    y = np.sin(np.linspace(0.1, 10 * np.pi + 0.1, 100))
    xs = torch.cat([d.x_train, d.x_val]).flatten().double().sort().values
    ys = torch.cat([d.y_train, d.y_val]).flatten().double().sort().values
    assert torch.allclose(xs, torch.as_tensor(np.sort(x)), atol=1e-6)
    assert torch.allclose(ys, torch.as_tensor(np.sort(y)), atol=1e-6)
    assert len(d.x_val) == 20 and torch.allclose(d.x_val.flatten().double(), torch.as_tensor(x[4::5]), atol=1e-6)


def test_adding_constant_predictor_scores_the_baseline():
    d = load_dataset(RunConfig(dataset="adding", dataset_params={"n_train": 10_000, "n_val": 10_000}))
    mse = float(((d.y_val - d.y_train.mean()) ** 2).mean())
    assert abs(mse - 0.167) < 0.01 and abs(d.baseline["mse"] - 1 / 6) < 0.01
    assert d.solved == {"mae": 0.04}
    x = d.x_train
    assert torch.equal(x[..., 1].sum(1), torch.full((len(x),), 2.0))  # two markers
    assert (x[:, :25, 1].sum(1) == 1).all() and (x[:, 25:, 1].sum(1) == 1).all()  # one in each half
    assert torch.allclose((x[..., 0] * x[..., 1]).sum(1, keepdim=True), d.y_train)


def test_white_noise_constant_predictor_scores_one_twelfth():
    d = load_dataset(RunConfig(dataset="white_noise", dataset_params={"n_train": 10_000, "n_val": 10_000}))
    mse = float(((d.y_val - d.y_train.mean()) ** 2).mean())
    assert abs(mse - 1 / 12) < 0.01 and d.baseline["mse"] == pytest.approx(1 / 12)


@pytest.mark.parametrize("params,classes", [({}, 4), ({"symbols": 3, "recall": 2}, 9)])
def test_memory_chance_is_known_exactly(params, classes):
    d = load_dataset(RunConfig(dataset="memory", dataset_params={**params, "n_train": 4000, "n_val": 4000}))
    assert d.output_size == classes and d.baseline["accuracy"] == pytest.approx(1 / classes)
    counts = torch.bincount(d.y_val, minlength=classes).double() / len(d.y_val)
    assert counts.max() - counts.min() < 0.05  # uniform classes: any constant guess scores 1/C
    shown = d.x_val[:, 0].argmax(-1)  # the label is a function of the first symbols
    if params.get("recall", 1) == 1:
        assert torch.equal(shown, d.y_val)


def test_temporal_order_labels_follow_the_x_y_order():
    d = load_dataset(config("temporal_order"))
    ids = d.x_val.argmax(-1)  # (N, T)
    for row, label in zip(ids[:20], d.y_val[:20], strict=True):
        relevant = [int(s) - 4 for s in row if s in (4, 5)]
        assert len(relevant) == 2 and 2 * relevant[0] + relevant[1] == label


def test_reber_strings_follow_the_grammar():
    d = load_dataset(config("embedded_reber"))
    legal = d.extras["legal"]
    assert legal.gather(2, d.y_val[..., None]).all()  # every target is a legal successor
    mask = d.extras["masks"]["long_memory"]
    assert mask.any() and set(d.y_val[mask].tolist()) <= {REBER.index("T"), REBER.index("P")}
    text = "".join(REBER[i] for i in d.x_val[0])
    assert text.startswith("B") and text[2] == "B"


def test_counting_trains_short_and_validates_long():
    d = load_dataset(RunConfig(dataset="counting", dataset_params={"train_max_n": 5, "val_max_n": 9}, seq_len=30))
    a = COUNTING.index("a")

    def first_n(x):
        return (x[:, 1:] == a).int().cumprod(1).sum(1)  # a's right after the leading S

    assert first_n(d.x_train).max() <= 5 and first_n(d.x_val).min() >= 6 and first_n(d.x_val).max() <= 9
    det = d.extras["masks"]["deterministic"]
    assert set(d.y_val[det].tolist()) <= {COUNTING.index("b"), COUNTING.index("E")}
    n = int(first_n(d.x_val[:1]))
    assert int(det[0, : 2 * n + 1].sum()) == n  # n-1 forced b's and the E of the first string


def test_counting_rejects_windows_too_short_for_validation():
    with pytest.raises(DatasetError, match="seq_len of at least 41"):
        load_dataset(RunConfig(dataset="counting", seq_len=30))


def test_co2_ships_with_its_source_and_splits_in_time():
    header = (load_co2.__globals__["DATA"] / "co2_monthly.csv").read_text().splitlines()[0]
    assert header.startswith("#") and "public domain" in header.lower() and "gml.noaa.gov" in header
    months, ppm = load_co2()
    assert len(months) == len(ppm) > 500 and 300 < ppm.min() < ppm.max() < 400
    d = load_dataset(config("co2"))
    z, split, T = d.extras["series"], d.extras["split"], 50
    assert np.allclose(d.y_train.flatten(), z[T:split]) and np.allclose(d.y_val.flatten(), z[split:])
    train_mean = (ppm[:split] - d.extras["mean"]) / d.extras["std"]
    assert abs(train_mean.mean()) < 1e-9  # scaled by the training part only


def test_text_uses_python_help_and_a_disjoint_tail():
    d = load_dataset(config("text"))
    corpus = python_help_text()
    assert len(corpus) > 100_000 and d.vocab == sorted(set(corpus))
    split = int(len(corpus) * 0.9)
    val_text = corpus[split:]
    sample = "".join(d.vocab[i] for i in d.x_val[0])
    assert sample in val_text


def test_text_split_is_disjoint():
    rng = np.random.default_rng(0)
    content = "".join(rng.choice(list("abcdefgh "), 20_000)).encode()
    key = register_upload(content, "letters.txt")
    d = load_dataset(RunConfig(dataset="text", dataset_params={"upload": key, **SMALL}))
    assert not _rows(d.x_val) & _rows(d.x_train) and d.vocab == sorted(set("abcdefgh "))


def test_bad_options_are_rejected_with_the_allowed_values():
    with pytest.raises(DatasetError, match="windows, keras_tutorial"):
        load_dataset(RunConfig(dataset="sine", dataset_params={"layout": "grid"}))
    with pytest.raises(DatasetError, match="at least 10 steps"):
        load_dataset(RunConfig(dataset="temporal_order", seq_len=5))
