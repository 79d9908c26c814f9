"""Your own sequences as a NumPy array (.npy): N sequences of L steps and F features, for your own model.

Each sequence is one sample: the model reads the seq_len steps before its last and forecasts the last step's
features. The file is checked when uploaded (rnnviz.datasets.uploads.parse_npy: header, dtype, shape, size,
finite values).
"""

from __future__ import annotations

from functools import lru_cache

from rnnviz.datasets import DatasetError, Param, SequenceData, Shape, register, regression_data
from rnnviz.datasets.uploads import get_upload, parse_npy

VAL_SHARE = 0.2  # the last fifth of the sequences are held out


@lru_cache(maxsize=16)  # uploads are keyed by content: a key's array never changes
def _dims(upload: str) -> tuple[int, int, int]:
    """(sequences, features, bytes) of an uploaded array; zeros when it is not here (loading will say why)."""
    try:
        array = parse_npy(get_upload(upload)[1])
    except DatasetError:
        return 0, 1, 0
    return array.shape[0], array.shape[2], array.nbytes


def _shape(config, upload: str, **_) -> Shape:
    n, features, nbytes = _dims(upload) if upload else (0, 1, 0)
    n_val = max(1, int(round(n * VAL_SHARE))) if n else 0
    return Shape("regression", n - n_val, n_val, config.seq_len, features, features, fixed=nbytes)


@register(
    "npy",
    "Your sequences (.npy upload)",
    params=(Param("upload", "", help="key of an uploaded .npy (set by the upload widget)"),),
    summary="forecast the last step of each of your own sequences",
    shape=_shape,
)
def npy_sequences(config, rng, upload) -> SequenceData:
    if not upload:
        raise DatasetError("no .npy uploaded yet; upload an array of shape (sequences, steps[, features])")
    filename, content = get_upload(upload)
    array = parse_npy(content)
    N, L, F = array.shape
    T = config.seq_len
    if L < T + 1:
        raise DatasetError(f"your sequences have {L} steps; seq_len={T} needs at least {T + 1} (the last one is the "
                           f"target): set seq_len to at most {L - 1}")
    n_val = max(1, int(round(N * VAL_SHARE)))
    if N - n_val < 1:
        raise DatasetError(f"{N} sequence(s): at least 2 are needed (one to train on, one to validate)")
    windows = array[:, L - T - 1 :]  # (N, T + 1, F): the last T steps in, the step after them out
    x, y = windows[:, :T], windows[:, T]
    train, val = slice(0, N - n_val), slice(N - n_val, N)
    return regression_data(  # the baseline: the best constant, the training targets' mean
        x[train], y[train], x[val], y[val],
        description=(f"Your {N} sequences from {filename} ({L} steps, {F} feature(s) each). The model reads {T} steps "
                     f"and forecasts the one after them, the last of each sequence; the last {n_val} sequences "
                     "are held out."),
    )
