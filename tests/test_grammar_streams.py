"""The vectorised grammar generators (issue 14 item 5) against reference automata written symbol by symbol."""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz import RunConfig, load_dataset
from rnnviz.datasets.grammars import COUNTING, REBER, REBER_GRAPH

B, T_, P, S, X, V, E = range(7)


def reber_reference(stream: list[int]) -> tuple[list[set[int]], list[bool]]:
    """Legal next symbols and long-memory flags of embedded Reber strings written back to back from the start,
    read one symbol at a time (the last string may be cut)."""
    legal, flags, phase, outer, state = [], [], 0, None, 0
    for sym in stream:
        flags.append(phase == 5)
        if phase == 3:  # inside the inner Reber string
            state = dict(REBER_GRAPH[state])[sym]  # KeyError on a symbol the grammar does not allow
            legal.append({E} if state == 5 else {s for s, _ in REBER_GRAPH[state]})
            phase = 4 if state == 5 else 3
            continue
        expected = [B, None, B, None, E, outer, E][phase]
        assert sym == expected if expected is not None else sym in (T_, P)
        outer = sym if phase == 1 else outer
        legal.append([{T_, P}, {B}, {T_, P}, None, {outer}, {E}, {B}][phase])
        phase, state = (phase + 1) % 7, 0
    return legal, flags


def counting_reference(stream: list[int]) -> tuple[list[set[int]], list[bool], list[int]]:
    a, b, s, e = range(4)
    legal, flags, ns, i = [], [], [], 0
    while i < len(stream):
        assert stream[i] == s
        n = 0
        while i + 1 + n < len(stream) and stream[i + 1 + n] == a:
            n += 1
        string = [s] + [a] * n + [b] * n + [e]
        assert stream[i:i + len(string)] == string[:len(stream) - i]
        legal += [{a}] + [{a, b}] * n + [{b}] * (n - 1) + [{e}, {s}]
        flags += [False] * (n + 2) + [True] * n
        ns.append(n)
        i += len(string)
    return legal[:len(stream)], flags[:len(stream)], ns


def as_sets(legal_row: np.ndarray) -> list[set[int]]:
    return [set(np.flatnonzero(row).tolist()) for row in legal_row]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reber_windows_match_the_reference_grammar(seed):
    d = load_dataset(RunConfig(dataset="embedded_reber", seq_len=60, seed=seed, dataset_params={"n_val": 40}))
    for i in range(len(d.x_val)):
        stream = d.x_val[i].tolist() + [int(d.y_val[i, -1])]
        legal, flags = reber_reference(stream)
        assert as_sets(d.extras["legal"][i].numpy()) == legal[:-1]
        assert d.extras["masks"]["long_memory"][i].tolist() == flags[1:]
    for row in d.x_train[:200].tolist():  # training windows are whole strings from their first step, too
        reber_reference(row)


@pytest.mark.parametrize(("lo_hi", "seq_len"), [((3, 7), 20), ((10, 20), 41), ((1, 2), 5)])
def test_counting_windows_match_the_reference_grammar(lo_hi, seq_len):
    tmax, vmax = lo_hi
    d = load_dataset(RunConfig(dataset="counting", seq_len=seq_len, dataset_params={
        "train_max_n": tmax, "val_max_n": vmax, "n_val": 40, "n_train": 300}))
    for i in range(len(d.x_val)):
        stream = d.x_val[i].tolist() + [int(d.y_val[i, -1])]
        legal, flags, ns = counting_reference(stream)
        assert as_sets(d.extras["legal"][i].numpy()) == legal[:-1]
        assert d.extras["masks"]["deterministic"][i].tolist() == flags[1:]
        assert all(tmax < n <= vmax for n in ns[:-1]) and ns[0] > tmax
    train_ns = [n for row in d.x_train.tolist() for n in counting_reference(row)[2][:-1]]
    assert set(train_ns) == set(range(1, tmax + 1))  # every n is drawn, and none above train_max_n


def test_samples_are_not_copies_of_each_other():
    d = load_dataset(RunConfig(dataset="embedded_reber", seq_len=100, dataset_params={"n_train": 500}))
    assert len({tuple(r) for r in d.x_train.tolist()}) == 500
    assert REBER[int(d.x_train[0, 0])] == "B" and COUNTING[2] == "S"
