"""Long-dependency benchmarks: the adding problem, remembering early symbols, temporal order.

Each hides the information the target needs near the start of a long sequence, so a
cell that forgets (a vanilla RNN) stays at the baseline while an LSTM or GRU solves it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rnnviz.datasets import DatasetError, Param, SequenceData, Shape, as_float, register, regression_data

N_TRAIN = Param("n_train", 10_000, 16, 100_000, help="training sequences")
N_VAL = Param("n_val", 1000, 8, 10_000, help="validation sequences")
LENGTHS = {"easy": 10, "medium": 50, "hard": 200}
LENGTH = Param(
    "length", "from seq_len", choices=("from seq_len", *LENGTHS),
    help="sequence length: easy T=10, medium T=50, hard T=200, or the run's seq_len",
)


@register(
    "adding",
    "Adding problem (add the two marked numbers)",
    params=(N_TRAIN, N_VAL),
    summary="Hochreiter & Schmidhuber 1997: remember two marked numbers across the sequence",
    shape=lambda config, n_train, n_val: Shape("regression", n_train, n_val, config.seq_len, 2, 1, work=40),
)
def adding(config, rng, n_train, n_val) -> SequenceData:
    T = config.seq_len
    xt, yt = _adding_samples(rng, n_train, T)
    xv, yv = _adding_samples(rng, n_val, T)
    return regression_data(
        xt, yt, xv, yv,
        # the sum of two U(0,1) has variance 1/6; predicting 1 gives mean abs error 1/3
        baseline={"mae": 1 / 3},
        solved={"mae": 0.04},
        extras={"marker_feature": 1},  # the input feature that marks the two numbers to add (connectivity reads it)
        description=(
            f"Each step carries a random number and a marker (0 or 1); exactly two numbers are marked, one "
            f"in the first half of the {T} steps and one in the second. The target is their sum, read at the "
            "last step, so the model must store the first marked number for up to the whole sequence while "
            "ignoring the rest. Guessing 1 scores MSE 1/6 (MAE 1/3); it counts as solved below MAE 0.04."
        ),
    )


def _adding_samples(rng: np.random.Generator, n: int, T: int) -> tuple[np.ndarray, np.ndarray]:
    values = rng.random((n, T))
    first = rng.integers(0, T // 2, size=n)  # one marker in each half
    second = rng.integers(T // 2, T, size=n)
    marks = np.zeros((n, T))
    rows = np.arange(n)
    marks[rows, first] = marks[rows, second] = 1.0
    target = values[rows, first] + values[rows, second]
    return np.stack([values, marks], axis=-1), target[:, None]  # (n, T, 2), (n, 1)


@register(
    "memory",
    "Memory (recall the first symbols)",
    params=(
        Param("symbols", 4, 2, 16, help="how many different symbols can be shown"),
        Param("recall", 1, 1, 3, help="how many symbols at the start must be remembered, in order"),
        Param("distractors", 2, 1, 8, help="how many different distractor symbols fill the rest"),
        LENGTH,
        N_TRAIN,
        N_VAL,
    ),
    summary="classify the symbols shown at the start of a long run of distractors",
    shape=lambda config, symbols, recall, distractors, length, n_train, n_val: Shape(
        "classification", n_train, n_val, _steps(config, length), symbols + distractors, symbols**recall,
        work=12 + 4 * (symbols + distractors)),  # int64 ids, then the float32 one-hot
)
def memory(config, rng, symbols, recall, distractors, length, n_train, n_val) -> SequenceData:
    T = _length(config, length, minimum=recall + 1)
    K, D = symbols, distractors

    def samples(n: int) -> tuple[np.ndarray, np.ndarray]:
        shown = rng.integers(0, K, size=(n, recall))
        noise = K + rng.integers(0, D, size=(n, T - recall))  # distractor ids come after the symbols
        label = (shown * K ** np.arange(recall)[::-1]).sum(1)  # the shown tuple read as a base-K number
        return np.eye(K + D, dtype=np.float32)[np.concatenate([shown, noise], 1)], label  # float32: no copy later

    (xt, yt), (xv, yv) = samples(n_train), samples(n_val)
    classes = K**recall
    names = [str(i) for i in range(K)]
    vocab = ["".join(names[(c // K**p) % K] for p in reversed(range(recall))) for c in range(classes)]
    return _classification(
        xt, yt, xv, yv, vocab,
        f"The first {recall} of {T} steps show one of {K} symbols each (one-hot); the other {T - recall} steps "
        f"are random distractors. At the last step the model must name the symbol(s) shown first, so it has "
        f"to carry them across {T - recall} steps of noise. Guessing scores 1/{classes} exactly. It counts as "
        f"solved below an error rate of {MEMORY_SOLVED_ERROR} (accuracy above {1 - MEMORY_SOLVED_ERROR:.2f}).",
        solved={"error": MEMORY_SOLVED_ERROR},
    )


MEMORY_SOLVED_ERROR = 0.05  # solved: at most 5% of validation sequences named wrong

TEMPORAL_SYMBOLS = ("a", "b", "c", "d", "X", "Y", "B", "E")


@register(
    "temporal_order",
    "Temporal order (X/Y, which came first)",
    params=(LENGTH, N_TRAIN, N_VAL),
    summary="Hochreiter & Schmidhuber 1997: classify the order of two far-apart symbols",
    shape=lambda config, length, n_train, n_val: Shape(
        "classification", n_train, n_val, _steps(config, length), len(TEMPORAL_SYMBOLS), 4,
        work=12 + 4 * len(TEMPORAL_SYMBOLS)),
)
def temporal_order(config, rng, length, n_train, n_val) -> SequenceData:
    T = _length(config, length, minimum=10)

    def samples(n: int) -> tuple[np.ndarray, np.ndarray]:
        ids = rng.integers(0, 4, size=(n, T))  # distractors a-d
        ids[:, 0], ids[:, -1] = 6, 7  # B ... E
        rows = np.arange(n)
        t1 = rng.integers(max(1, T // 10), max(2, T // 5 + 1), size=n)  # early: 10-20% in
        t2 = rng.integers(T // 2, max(T // 2 + 1, 3 * T // 5 + 1), size=n)  # middle: 50-60% in
        first, second = rng.integers(0, 2, size=n), rng.integers(0, 2, size=n)
        ids[rows, t1], ids[rows, t2] = 4 + first, 4 + second
        return np.eye(len(TEMPORAL_SYMBOLS), dtype=np.float32)[ids], 2 * first + second

    (xt, yt), (xv, yv) = samples(n_train), samples(n_val)
    return _classification(
        xt, yt, xv, yv, ["XX", "XY", "YX", "YY"],
        f"A string of {T} random symbols a-d between B and E hides two relevant symbols, each X or Y: one "
        "10-20% of the way in, one 50-60% in. The class is their order (XX, XY, YX or YY), so the model must "
        "keep the first across the gap and ignore everything else. Guessing scores 1/4 exactly.",
    )


def _steps(config, length: str) -> int:
    return config.seq_len if length == "from seq_len" else LENGTHS[length]


def _length(config, length: str, minimum: int) -> int:
    T = _steps(config, length)
    if T < minimum:
        raise DatasetError(f"this task needs sequences of at least {minimum} steps; seq_len is {T}")
    return T


def _classification(xt, yt, xv, yv, vocab: list[str], description: str, solved: dict | None = None) -> SequenceData:
    C = len(vocab)
    return SequenceData(
        task="classification",
        x_train=as_float(xt), y_train=torch.as_tensor(yt, dtype=torch.long),
        x_val=as_float(xv), y_val=torch.as_tensor(yv, dtype=torch.long),
        input_size=xt.shape[-1], output_size=C, vocab=vocab,
        baseline={"accuracy": 1 / C, "loss": math.log(C)},  # classes are drawn uniformly
        description=description, solved=solved or {},
    )
