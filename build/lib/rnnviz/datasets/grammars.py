"""Formal languages for next-symbol prediction: the embedded Reber grammar and a^n b^n counting.

A sample is a stream of whole strings written back to back from its first step, cut at
T + 1 symbols (x = the first T, y = the next symbol at each step), so nothing is padded.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnviz.datasets import DatasetError, Param, SequenceData, constant_token_baseline, register

REBER = ("B", "T", "P", "S", "X", "V", "E")
B, T_, P, S, X, V, E = range(7)
# the Reber graph: state -> ((symbol, next state), ...); state 5 is the end
REBER_GRAPH = {0: ((T_, 1), (P, 2)), 1: ((S, 1), (X, 3)), 2: ((T_, 2), (V, 4)), 3: ((X, 2), (S, 5)),
               4: ((P, 3), (V, 5))}


def _reber_string(rng: np.random.Generator) -> tuple[list[int], list[set[int]], list[bool]]:
    """One embedded Reber string: symbols, the legal successors of each, and which symbol needs long memory."""
    outer = (T_, P)[rng.integers(2)]
    syms, legal = [B, outer, B], [{T_, P}, {B}, {T_, P}]
    state = 0
    while state != 5:
        options = REBER_GRAPH[state]
        sym, state = options[rng.integers(len(options))]
        syms.append(sym)
        legal.append({E} if state == 5 else {s for s, _ in REBER_GRAPH[state]})
    syms += [E, outer, E]
    legal += [{outer}, {E}, {B}]  # the inner E is followed by the outer symbol seen at step 2
    return syms, legal, [False] * (len(syms) - 2) + [True, False]


def _stream(make_string, n: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n samples of `length` symbols, each whole strings back to back; returns ids, legal-next, flags."""
    ids = np.zeros((n, length), dtype=np.int64)
    legal = np.zeros((n, length, 7), dtype=bool)
    flags = np.zeros((n, length), dtype=bool)
    for i in range(n):
        s, allowed, flag = [], [], []
        while len(s) < length:
            a, b, c = make_string()
            s, allowed, flag = s + a, allowed + b, flag + c
        ids[i] = s[:length]
        flags[i] = flag[:length]
        for t, nxt in enumerate(allowed[:length]):
            legal[i, t, list(nxt)] = True
    return ids, legal, flags


@register(
    "embedded_reber",
    "Embedded Reber grammar (next symbol)",
    params=(Param("n_train", 2000, 16, 50_000, help="training sequences"),
            Param("n_val", 256, 8, 5000, help="validation sequences")),
    summary="the classic LSTM benchmark: predict the next symbol of grammar strings",
)
def embedded_reber(config, rng, n_train, n_val) -> SequenceData:
    T = config.seq_len
    ids_t, _, _ = _stream(lambda: _reber_string(rng), n_train, T + 1)
    ids_v, legal, flags = _stream(lambda: _reber_string(rng), n_val, T + 1)
    extras = {
        "valid": torch.ones(n_val, T, dtype=torch.bool),
        "masks": {"long_memory": torch.as_tensor(flags[:, 1:])},  # steps whose target is the remembered T/P
        "legal": torch.as_tensor(legal[:, :T]),  # (N_val, T, V): symbols the grammar allows next
    }
    return _next_token(ids_t, ids_v, list(REBER), extras, (
        "Strings of the embedded Reber grammar (B, then T or P, a Reber string, the same T or P again, E) are "
        f"written back to back in {T}-step windows; at every step the model predicts the next symbol. Most "
        "steps are a coin toss between two legal symbols, so 'legal' accuracy is the fair score; the "
        "second-to-last symbol of each string repeats the second and is the one that needs long memory."
    ))


A_, B_, S_, E_ = range(4)
COUNTING = ("a", "b", "S", "E")


def _anbn(n: int) -> tuple[list[int], list[set[int]], list[bool]]:
    """S a^n b^n E with its legal successors and the deterministic targets flagged (on the target symbol)."""
    syms = [S_] + [A_] * n + [B_] * n + [E_]
    legal = [{A_}] + [{A_, B_}] * n + [{B_}] * (n - 1) + [{E_}, {S_}]
    flags = [False] * (n + 2) + [True] * (n - 1) + [True]  # the b's after the first, and E
    return syms, legal, flags


@register(
    "counting",
    "Counting aⁿbⁿ (next symbol)",
    params=(
        Param("train_max_n", 10, 1, 50, help="training strings have n from 1 to this"),
        Param("val_max_n", 20, 2, 200, help="validation strings have n above train_max_n up to this"),
        Param("n_train", 2000, 16, 50_000, help="training sequences"),
        Param("n_val", 256, 8, 5000, help="validation sequences"),
    ),
    summary="predict a^n b^n: count the a's, then generalise to longer strings than in training",
)
def counting(config, rng, train_max_n, val_max_n, n_train, n_val) -> SequenceData:
    T = config.seq_len
    if val_max_n <= train_max_n:
        raise DatasetError(f"counting needs val_max_n ({val_max_n}) above train_max_n ({train_max_n})")
    if T < 2 * val_max_n + 1:
        raise DatasetError(f"counting with val_max_n={val_max_n} needs seq_len of at least {2 * val_max_n + 1} "
                           f"so a whole validation string fits; seq_len is {T}")
    ids_t, _, _ = _stream(lambda: _anbn(int(rng.integers(1, train_max_n + 1))), n_train, T + 1)
    ids_v, legal, flags = _stream(lambda: _anbn(int(rng.integers(train_max_n + 1, val_max_n + 1))), n_val, T + 1)
    extras = {
        "valid": torch.ones(n_val, T, dtype=torch.bool),
        "masks": {"deterministic": torch.as_tensor(flags[:, 1:])},  # steps whose target is forced by n
        "legal": torch.as_tensor(legal[:, :T, :4]),
    }
    return _next_token(ids_t, ids_v, list(COUNTING), extras, (
        f"Strings S aⁿbⁿ E are written back to back in {T}-step windows and the model predicts the next "
        f"symbol. It trains on n up to {train_max_n} and is validated on n from {train_max_n + 1} to "
        f"{val_max_n}: once the first b appears, every following b and the E are forced, which takes a counter "
        "that generalises past the training lengths (LSTMs tend to learn one, GRUs and vanilla RNNs do not)."
    ))


def _next_token(ids_t: np.ndarray, ids_v: np.ndarray, vocab: list[str], extras: dict, description: str):
    x_train, y_train = torch.as_tensor(ids_t[:, :-1]), torch.as_tensor(ids_t[:, 1:])
    x_val, y_val = torch.as_tensor(ids_v[:, :-1]), torch.as_tensor(ids_v[:, 1:])
    return SequenceData(
        task="next_token",
        x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
        input_size=len(vocab), output_size=len(vocab), vocab=vocab,
        baseline=constant_token_baseline(y_train, y_val, len(vocab)),
        description=description, extras=extras,
    )
