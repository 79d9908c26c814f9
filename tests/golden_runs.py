"""Golden runs: every number a few small runs record, saved once from the engine before it was sped up.

`python -m tests.golden_runs` rewrites tests/data/golden_runs.npz (only when the recorded numbers are
meant to change); tests/test_golden.py asserts that today's engine records exactly the saved numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnviz import RunConfig, train
from tests.conftest import _tiny_data

PATH = Path(__file__).parent / "data" / "golden_runs.npz"
SMALL = dict(hidden_size=6, seq_len=7, embedding_size=4, batch_size=8, steps=12, eval_every=3, probe_every=4)
# (name, task, config): clipping that bites, every optimizer, every cell and task, two layers
RUNS = (
    ("lstm_clip", "regression", RunConfig(cell="lstm", clip=0.05, optimizer="adam", lr=0.05, **SMALL)),
    ("gru_2l", "classification", RunConfig(cell="gru", num_layers=2, clip=0.5, optimizer="sgd", lr=0.3, **SMALL)),
    ("tanh_tokens", "next_token", RunConfig(cell="rnn_tanh", clip=None, optimizer="rmsprop", lr=0.01, **SMALL)),
    ("relu_clip", "regression", RunConfig(cell="rnn_relu", clip=0.2, optimizer="adam", lr=0.02, **SMALL)),
)
TRACE_ARRAYS = ("hidden", "cell_state", "grad_norms", "input_saliency", "outputs", "spectral_radius")


def record(task: str, config: RunConfig) -> dict[str, np.ndarray]:
    """Every number the run's events carry, as arrays keyed by what they are."""
    events = list(train(config, _tiny_data(task)))
    out = {
        "step": np.array([e.step for e in events]),
        "loss": np.array([e.loss for e in events]),
        "val_loss": np.array([np.nan if e.val_loss is None else e.val_loss for e in events]),
        "grad_norm": np.array([e.grad_norm for e in events]),
        "param_grad_norms": np.array([list(e.param_grad_norms.values()) for e in events]),
        "param_names": np.array(list(events[0].param_grad_norms)),
        "clipped": np.array([e.clipped for e in events]),
        "probe_steps": np.array([e.step for e in events if e.probe is not None]),
    }
    for step, trace in ((e.step, e.probe) for e in events if e.probe is not None):
        for name in TRACE_ARRAYS:
            if getattr(trace, name) is not None:
                out[f"probe{step}/{name}"] = getattr(trace, name)
        for gate, values in trace.gates.items():
            out[f"probe{step}/gate/{gate}"] = values
        out[f"probe{step}/loss"] = np.array(trace.loss)
    return out


def main() -> None:
    arrays = {f"{name}:{key}": v for name, task, config in RUNS for key, v in record(task, config).items()}
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {len(arrays)} arrays to {PATH}")


if __name__ == "__main__":
    main()
