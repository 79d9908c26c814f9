"""Generated regression tasks: sine forecasting and white noise (nothing to learn)."""

from __future__ import annotations

import numpy as np

from rnnviz.datasets import Param, SequenceData, register, regression_data

N_TRAIN = Param("n_train", 2000, 16, 100_000, help="training samples")
N_VAL = Param("n_val", 256, 8, 10_000, help="validation samples")


@register(
    "sine",
    "Sine wave (forecast the next value)",
    params=(
        Param("frequency", 0.1, 0.001, 3.0, help="radians per time step"),
        Param("amplitude", 1.0, 0.01, 100.0),
        Param("noise", 0.0, 0.0, 10.0, help="std of Gaussian noise added to inputs"),
        N_TRAIN,
        N_VAL,
        Param("layout", "windows", choices=("windows", "keras_tutorial"),
              help="windows: random-phase windows of seq_len; keras_tutorial: the tutorial's 100 points, T=1"),
    ),
    summary="next-value forecasting of a noisy sine wave",
)
def sine(config, rng, frequency, amplitude, noise, n_train, n_val, layout) -> SequenceData:
    if layout == "keras_tutorial":
        return keras_sine()
    T = config.seq_len

    def windows(n: int) -> tuple[np.ndarray, np.ndarray]:
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
        t = np.arange(T + 1)[None, :] * frequency + phase  # (n, T+1)
        clean = amplitude * np.sin(t)
        x = clean[:, :T] + noise * rng.standard_normal((n, T))
        return x[..., None], clean[:, T:]  # (n, T, 1), (n, 1)

    return regression_data(
        *windows(n_train), *windows(n_val),
        description=(
            f"Each sample is {T} values of a sine wave (frequency {frequency:g} rad/step) starting at a "
            "random phase; the model predicts the next value. A sine is predictable from its last two "
            "values, so every cell should beat the baseline quickly: the test is whether it learns the rhythm."
        ),
    )


def keras_sine() -> SequenceData:
    """The Keras tutorial exactly: 100 points of sin on [0, 10pi], one step each, target shifted by 0.1."""
    x = np.sin(np.linspace(0, 10 * np.pi, 100))
    y = np.sin(np.linspace(0.1, 10 * np.pi + 0.1, 100))
    val = np.arange(100) % 5 == 4  # every 5th point: validation spread over the whole curve
    return regression_data(
        x[~val, None, None], y[~val, None], x[val, None, None], y[val, None],  # (n, 1, 1), (n, 1)
        description=(
            "The Keras tutorial's set-up: 100 points of sin(t) for t in [0, 10pi], each a sample of one time "
            "step (T=1 whatever seq_len says), and the target is sin(t + 0.1); every 5th point is kept for "
            "validation. With one step there is no recurrence to use: the model only learns a curve mapping "
            "sin(t) to sin(t + 0.1), which is ambiguous where the wave rises and falls through the same value."
        ),
    )


@register(
    "white_noise",
    "White noise (nothing to learn)",
    params=(N_TRAIN, N_VAL),
    summary="random inputs and random targets: the loss must stay at the baseline",
)
def white_noise(config, rng, n_train, n_val) -> SequenceData:
    T = config.seq_len
    xt, yt = rng.random((n_train, T, 1)), rng.random((n_train, 1))
    xv, yv = rng.random((n_val, T, 1)), rng.random((n_val, 1))
    return regression_data(
        xt, yt, xv, yv,
        baseline={"mse": 1 / 12},
        description=(
            f"Inputs are {T} uniform random numbers and the target is another, unrelated one, as in the "
            "Keras tutorial's dummy data. There is nothing to learn: the validation loss should stay at the "
            "baseline 1/12 (the variance of U(0,1)); a falling training loss here is memorisation."
        ),
    )
