"""Your own hypothesis about a unit, on text: a regular expression or a predicate marks characters, and every unit
is ranked by how well it follows the marks (correlation; precision and recall at its best threshold).

Regular expressions run on RE2, a linear-time engine: no pattern can backtrack catastrophically (`(a+)+$` on a
long run of a's takes microseconds), patterns are bounded in length and RE2's memory, and what RE2 does not
support (backreferences, lookaround) is refused with its own message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import re2

MAX_PATTERN = 200  # characters of a regular expression
MAX_MEMORY = 8 * 2**20  # bytes RE2 may use to compile one pattern
TOP = 10  # units listed

REGEX = "matches a regular expression"
AFTER_WORD = "after a given word"
PREDICATES = ("inside quotes", "inside brackets", "nesting depth", "position in line", AFTER_WORD)
KINDS = (REGEX, *PREDICATES)
BINARY = {REGEX, "inside quotes", "inside brackets", AFTER_WORD}  # the rest are counts: correlation only


class HypothesisError(ValueError):
    """A hypothesis that cannot be tested; the message says what was wrong and what is allowed."""


def compile_pattern(pattern: str) -> re2._Regexp:
    if not pattern:
        raise HypothesisError("Type a regular expression, e.g. \"[^\"]*\" for text inside quotes.")
    if len(pattern) > MAX_PATTERN:
        raise HypothesisError(f"The regular expression is {len(pattern)} characters long; at most {MAX_PATTERN}.")
    options = re2.Options()
    options.max_mem = MAX_MEMORY
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as err:
        why = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else str(err)
        raise HypothesisError(f"Not a regular expression rnnviz can run: {why}. RE2's syntax (linear time): no "
                              "backreferences (\\1) or lookaround ((?=…), (?<=…)).") from None


def marks(text: str, kind: str, arg: str = "") -> np.ndarray:
    """The hypothesis as one value per character of `text`: 1/0 for a yes-or-no one, a count for depth and
    position. `arg` is the regular expression or the word."""
    if kind == REGEX:
        out = np.zeros(len(text))
        for m in compile_pattern(arg).finditer(text):
            out[m.start() : m.end()] = 1.0
        return out
    if kind == AFTER_WORD:
        return after_word(text, arg)
    if kind not in PREDICATES:
        raise HypothesisError(f"Unknown hypothesis {kind!r}; allowed: {', '.join(KINDS)}")
    return predicates(text)[kind]


def predicates(text: str) -> dict[str, np.ndarray]:
    """Per-character signals a unit might track: inside quotes, inside brackets and how deep, position in line."""
    quote, depth, col = [], [], []
    in_q, d, c = False, 0, 0
    for ch in text:
        if ch == '"':
            in_q = not in_q
        d = d + 1 if ch in "([{" else max(d - 1, 0) if ch in ")]}" else d
        c = 0 if ch == "\n" else c + 1
        quote.append(in_q)
        depth.append(d)
        col.append(c)
    depth_ = np.array(depth, float)
    return {"inside quotes": np.array(quote, float), "inside brackets": (depth_ > 0).astype(float),
            "nesting depth": depth_, "position in line": np.array(col, float)}


def after_word(text: str, word: str) -> np.ndarray:
    """1 over the word that follows each whole-word occurrence of `word` (and the space before it)."""
    word = word.strip()
    if not word or any(ch.isspace() for ch in word) or len(word) > MAX_PATTERN:
        raise HypothesisError(f"Type one word (no spaces, at most {MAX_PATTERN} characters), e.g. the.")
    out = np.zeros(len(text))
    for m in compile_pattern(rf"\b{re2.escape(word)}\b(\W+\w+)").finditer(text):
        out[m.start(1) : m.end(1)] = 1.0
    return out


@dataclass
class Ranking:
    table: pd.DataFrame  # unit, correlation, and for a yes-or-no hypothesis: threshold, direction, precision, recall
    marked: int  # characters the hypothesis marks (non-zero)

    @property
    def best(self) -> int:
        return int(self.table.unit.iloc[0])


def rank_units(values: np.ndarray, feature: np.ndarray, binary: bool, top: int = TOP) -> Ranking:
    """Units (columns of values (T, H)) ranked by |correlation| with `feature` (T,); for a yes-or-no feature also
    the threshold on the unit that best separates marked from unmarked characters (highest F1, on the side the
    correlation points to), with its precision and recall."""
    feature = np.asarray(feature, float)
    marked = int((feature != 0).sum())
    if marked == 0:
        raise HypothesisError("The hypothesis marks no character of this text: nothing to compare the units with.")
    if marked == len(feature) and binary:
        raise HypothesisError("The hypothesis marks every character of this text: nothing to tell apart.")
    v = values - values.mean(0)
    f = feature - feature.mean()
    corr = (v * f[:, None]).sum(0) / (np.sqrt((v**2).sum(0) * (f**2).sum()) + 1e-12)
    order = np.argsort(-np.abs(corr), kind="stable")[:top]
    table = pd.DataFrame({"unit": order, "correlation": corr[order].round(3)})
    if binary:
        stats = [best_threshold(values[:, u] * (1 if corr[u] >= 0 else -1), feature > 0) for u in order]
        table["on when"] = ["≥" if corr[u] >= 0 else "≤" for u in order]
        table["threshold"] = [round(s[0] * (1 if corr[u] >= 0 else -1), 3) for s, u in zip(stats, order, strict=True)]
        table["precision"] = [round(s[1], 3) for s in stats]
        table["recall"] = [round(s[2], 3) for s in stats]
    return Ranking(table, marked)


def best_threshold(values: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """The threshold τ for which "values ≥ τ" best finds `truth` (highest F1): (τ, precision, recall)."""
    order = np.argsort(-values, kind="stable")
    v, t = values[order], truth[order]
    tp = np.cumsum(t)
    predicted = np.arange(1, len(v) + 1)
    last = np.r_[v[1:] != v[:-1], True]  # a threshold takes every tied value: cut only after the last of a tie
    precision, recall = tp / predicted, tp / max(int(truth.sum()), 1)
    f1 = np.where(last, 2 * precision * recall / np.maximum(precision + recall, 1e-12), -1.0)
    i = int(f1.argmax())
    return float(v[i]), float(precision[i]), float(recall[i])
