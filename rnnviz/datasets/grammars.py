"""Formal languages for next-symbol prediction: the embedded Reber grammar and a^n b^n counting.

A sample is a stream of whole strings written back to back from its first step, cut at
T + 1 symbols (x = the first T, y = the next symbol at each step), so nothing is padded.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from rnnviz.datasets import DatasetError, Param, SequenceData, Shape, constant_token_baseline, register

REBER = ("B", "T", "P", "S", "X", "V", "E")
B, T_, P, S, X, V, E = range(7)
# the Reber graph: state -> ((symbol, next state), ...); state 5 is the end
REBER_GRAPH = {0: ((T_, 1), (P, 2)), 1: ((S, 1), (X, 3)), 2: ((T_, 2), (V, 4)), 3: ((X, 2), (S, 5)),
               4: ((P, 3), (V, 5))}


def _reber_strings(rng: np.random.Generator, budget: int, details: bool) -> tuple[np.ndarray, ...]:
    """About `budget` symbols of embedded Reber strings, back to back: (symbols, legal-next bit masks,
    long-memory flags, string lengths)."""
    m = budget // 14 + 1  # a string has about 14 symbols
    outer = np.where(rng.integers(2, size=m) == 0, T_, P)
    inner, inner_legal = _reber_walks(rng, m)  # (m, k), padded with -1
    walked = inner >= 0
    lengths = walked.sum(1) + 6  # B, outer, B, the walk, E, outer, E
    ends = np.cumsum(lengths)
    fixed = np.stack([ends - lengths + i for i in (0, 1, 2)] + [ends - i for i in (3, 2, 1)])  # (6, m) positions
    syms = np.empty(int(ends[-1]), dtype=np.int8)
    syms[fixed.ravel()] = np.stack([np.full(m, B), outer, np.full(m, B), np.full(m, E), outer, np.full(m, E)]).ravel()
    in_walk = np.ones(len(syms), dtype=bool)
    in_walk[fixed.ravel()] = False
    syms[in_walk] = inner[walked]  # row-major: each string's walk in order
    if not details:
        return syms, None, None, lengths
    legal = np.empty(len(syms), dtype=np.uint8)
    after = [bits(T_, P), bits(B), bits(T_, P), 1 << outer, bits(E), bits(B)]  # the next symbol's options
    legal[fixed.ravel()] = np.stack([np.broadcast_to(a, m) for a in after]).ravel()
    legal[in_walk] = inner_legal[walked]
    flags = np.zeros(len(syms), dtype=bool)
    flags[fixed[4]] = True  # the outer symbol repeated before the last E needs long memory
    return syms, legal, flags, lengths


def bits(*syms: int) -> int:
    return sum(1 << s for s in syms)


def _reber_walks(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
    """m inner Reber strings, (m, L) padded with -1, and the legal-next bits after each symbol.

    All walks take a step at once; ended walks drop out, so the work is the total length, not m x the longest.
    """
    active, state, steps = np.arange(m), np.zeros(m, dtype=np.int64), []
    while len(active):
        choice = state * 2 + rng.integers(2, size=len(active))
        nxt = _REBER_NEXT[choice]
        steps.append((active, _REBER_SYM[choice], _REBER_LEGAL[nxt]))
        going = nxt != 5  # state 5 is the end
        active, state = active[going], nxt[going]
    inner = np.full((m, len(steps)), -1, dtype=np.int8)
    legal = np.zeros((m, len(steps)), dtype=np.uint8)
    for t, (who, sym, bits) in enumerate(steps):
        inner[who, t], legal[who, t] = sym, bits
    return inner, legal


# the Reber graph as flat tables indexed by state * 2 + choice, and each state's legal next symbols as bits
_REBER_SYM = np.array([REBER_GRAPH[q][c][0] for q in range(5) for c in range(2)], dtype=np.int8)
_REBER_NEXT = np.array([REBER_GRAPH[q][c][1] for q in range(5) for c in range(2)], dtype=np.int64)
_REBER_LEGAL = np.array([sum(1 << s for s, _ in REBER_GRAPH[q]) for q in range(5)] + [1 << E], dtype=np.uint8)


def _anbn_strings(rng: np.random.Generator, budget: int, lo: int, hi: int, details: bool) -> tuple[np.ndarray, ...]:
    """About `budget` symbols of strings S a^n b^n E (n uniform in lo..hi) back to back: symbols, legal-next
    bits, forced-target flags, string lengths. Built from each symbol's position in its string."""
    m = budget // (lo + hi + 2) + 1  # a string has lo + hi + 2 symbols on average
    n = rng.integers(lo, hi + 1, size=m).astype(np.int16)
    lengths = 2 * n.astype(np.int64) + 2
    starts, ends = np.cumsum(lengths) - lengths, np.cumsum(lengths) - 1
    pos = np.ones(int(lengths.sum()), dtype=np.int16)  # position within the string, by a cumsum that restarts
    pos[0], pos[starts[1:]] = 0, 1 - lengths[:-1]
    pos = np.cumsum(pos, dtype=np.int16)
    n_at = np.repeat(n, lengths)
    syms = (pos > n_at).astype(np.int8) * (B_ - A_) + A_  # a's then b's
    syms[starts], syms[ends] = S_, E_
    if not details:
        return syms, None, None, lengths
    legal = np.where(pos < n_at + 1, (1 << A_) | (1 << B_), 1 << B_).astype(np.uint8)
    legal[pos == 2 * n_at] = 1 << E_
    legal[starts], legal[ends] = 1 << A_, 1 << S_
    forced = pos >= n_at + 2  # the b's after the first, and E
    return syms, legal, forced, lengths


def _stream(make_strings, n: int, length: int, legal_too: bool = False):
    """n samples of `length` symbols, each starting at a string boundary of one long stream of whole strings
    (windows never overlap, so samples are independent); returns ids, legal-next (n, length, 7) and flags.

    Strings are made in chunks of at most CHUNK symbols with one-byte dtypes until the windows fit, so the
    stream costs about as much memory as the samples it is cut into.
    """
    parts, total, strings, begin = [], 0, 0, None
    budget = min(CHUNK, int(1.3 * n * length) + 256)
    while begin is None:
        chunk = make_strings(budget, legal_too)  # training needs the symbols only
        parts.append(chunk)
        total, strings = total + len(chunk[0]), strings + len(chunk[3])
        if total >= n * (length + total / strings):  # a window wastes about one string's length at its end
            starts = np.cumsum(np.concatenate([[0], *[p[3] for p in parts]]))[:-1]
            begin = _window_starts(starts, n, length, total)
    cut = lambda i: sliding_window_view(np.concatenate([p[i] for p in parts]), length)[begin]  # noqa: E731
    ids = cut(0).astype(np.int64)  # (n, length): windows copied straight from the stream, no index array
    if not legal_too:
        return ids, None, None
    bits = (cut(1)[..., None] >> np.arange(7, dtype=np.uint8)) & 1  # (n, length, 7)
    return ids, bits.astype(bool), cut(2)


def _window_starts(starts: np.ndarray, n: int, length: int, total: int) -> np.ndarray | None:
    """Each window begins at the first string start after the previous window ends; None if the stream is short."""
    after = np.searchsorted(starts, starts + length).tolist()  # for each string: the first one past its window
    j, begin = 0, []
    for _ in range(n):
        if j >= len(starts) or starts[j] + length > total:
            return None
        begin.append(j)
        j = after[j]
    return starts[begin]


CHUNK = 2_000_000  # symbols made per numpy pass


def _chunk_bytes(n: int, T: int) -> int:
    """Working memory of one chunk of strings (padded walks, positions, masks: about 16 bytes a symbol)."""
    return 16 * min(CHUNK, int(1.3 * n * (T + 1)) + 256)


@register(
    "embedded_reber",
    "Embedded Reber grammar (next symbol)",
    params=(Param("n_train", 2000, 16, 50_000, help="training sequences"),
            Param("n_val", 256, 8, 5000, help="validation sequences")),
    summary="the classic LSTM benchmark: predict the next symbol of grammar strings",
    # ids (int64) and the one-byte stream they are cut from; validation keeps (T, 7) legal masks
    shape=lambda config, n_train, n_val: Shape("next_token", n_train, n_val, config.seq_len, 0, len(REBER),
                                               work=12, fixed=_chunk_bytes(n_train, config.seq_len), val_extra=7 * 3),
)
def embedded_reber(config, rng, n_train, n_val) -> SequenceData:
    T = config.seq_len
    ids_t, _, _ = _stream(lambda m, d: _reber_strings(rng, m, d), n_train, T + 1)
    ids_v, legal, flags = _stream(lambda m, d: _reber_strings(rng, m, d), n_val, T + 1, legal_too=True)
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
    shape=lambda config, n_train, n_val, **_: Shape(
        "next_token", n_train, n_val, config.seq_len, 0, len(COUNTING), work=12,
        fixed=_chunk_bytes(n_train, config.seq_len), val_extra=4 * 3),
)
def counting(config, rng, train_max_n, val_max_n, n_train, n_val) -> SequenceData:
    T = config.seq_len
    if val_max_n <= train_max_n:
        raise DatasetError(f"counting needs val_max_n ({val_max_n}) above train_max_n ({train_max_n})")
    if T < 2 * val_max_n + 1:
        raise DatasetError(f"counting with val_max_n={val_max_n} needs seq_len of at least {2 * val_max_n + 1} "
                           f"so a whole validation string fits; seq_len is {T}")
    ids_t, _, _ = _stream(lambda m, d: _anbn_strings(rng, m, 1, train_max_n, d), n_train, T + 1)
    ids_v, legal, flags = _stream(lambda m, d: _anbn_strings(rng, m, train_max_n + 1, val_max_n, d), n_val, T + 1,
                                  legal_too=True)
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
