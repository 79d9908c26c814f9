"""Memory a run will need, estimated from the shapes its dataset and model will have, before anything is built.

RunConfig refuses a run whose estimate exceeds the server's limit (rnnviz.engine.config.MAX_TRAIN_BYTES), naming what to
lower. tests/test_memory_estimate.py checks the parts against measured tensor sizes.
"""

from __future__ import annotations

from rnnviz.datasets import DatasetError, Shape, dataset_shape
from rnnviz.engine.cellspec import spec

BACKWARD = 1.1  # the backward pass's working share on top of what the forward saves (CellSpec.saved_floats)
PROBE_BYTES_PER_RUN = 64 * 2**20  # stored probes past this are thinned (step 0 and the latest always kept)
PROBE_BYTES_EACH = 16 * 2**20  # a probe replays at most as many samples as fit in this (at least one)
WEIGHT_BYTES_PER_RUN = 32 * 2**20  # probes' weight copies past this are thinned too (Jacobians then need a kept one)
RESUME_BYTES_PER_RUN = 32 * 2**20  # the optimizer states kept with them (what a fork goes on from), thinned alike
PREDICT_BYTES = 32 * 2**20  # activations of one batch when the whole validation set is scored (metrics.predict)


def parameters(config, shape: Shape) -> int:
    """Parameters of the SequenceModel the config builds on data of this shape."""
    G, H = spec(config.cell).gate_count, config.hidden_size
    inp = config.embedding_size if shape.task == "next_token" else shape.features
    embed = shape.output_size * config.embedding_size if shape.task == "next_token" else 0
    rnn = sum(G * H * ((inp if k == 0 else H) + H + 2) for k in range(config.num_layers))
    return embed + rnn + (H + 1) * shape.output_size


def step_bytes(config, shape: Shape, batch: int | None = None) -> int:
    """One training step's activations, kept for backward and the gradients flowing through them."""
    B = min(batch or config.batch_size, max(1, shape.n_train))
    per_step = config.num_layers * config.hidden_size * spec(config.cell).saved_floats * 4 * BACKWARD
    if shape.task == "next_token":  # embedding out and its gradient; logits, log-softmax and their gradients
        per_step += config.embedding_size * 4 * 3 + shape.output_size * 4 * 4 + 16
    else:
        per_step += shape.features * 4 * 2
    return int(B * shape.T * per_step)


def forward_bytes(config, shape: Shape, samples: int) -> int:
    """A no-grad forward pass of `samples` samples: each layer's states and gates, the logits."""
    per_step = config.num_layers * config.hidden_size * 4 * (spec(config.cell).gate_count + 2)
    if shape.task == "next_token":
        per_step += config.embedding_size * 4 + shape.output_size * 4 * 3
    return int(samples * shape.T * per_step)


def validation_bytes(config, shape: Shape) -> int:
    """Scoring the whole validation set in batches (metrics.predict): one batch's activations plus all outputs."""
    per_sample = forward_bytes(config, shape, 1) or 1
    batch = max(1, min(shape.n_val, PREDICT_BYTES // per_sample))
    outputs = shape.T * shape.output_size * 4 + 32 * shape.T if shape.task == "next_token" else shape.output_size * 4
    return forward_bytes(config, shape, batch) + shape.n_val * outputs


def probe_samples(config) -> int:
    """probe_size, capped so one probe's states and gates (float32) stay within PROBE_BYTES_EACH."""
    per_sample = spec(config.cell).probe_arrays * config.num_layers * config.seq_len * config.hidden_size * 4
    return max(1, min(config.probe_size, PROBE_BYTES_EACH // per_sample))


def probe_bytes(config, shape: Shape) -> tuple[int, int]:
    """(stored probes, one replay's working memory): probes are capped per probe and thinned per run."""
    n = min(probe_samples(config), max(1, shape.n_val))
    arrays = spec(config.cell).probe_arrays * config.num_layers * config.hidden_size
    outputs = shape.output_size * (shape.T if shape.task == "next_token" else 1)
    each = n * (shape.T * arrays + outputs) * 4
    count = config.steps // config.probe_every + 2
    replay = n * shape.T * (3 * arrays + config.num_layers * config.hidden_size * 8 + 4 * outputs // shape.T) * 4
    return min(count * each, PROBE_BYTES_PER_RUN + each), replay


def kept_bytes(config, shape: Shape) -> int:
    """The weights each kept probe saw and the optimizer state with them (Adam's two moments: twice the weights),
    each thinned past its budget (the first and the latest always kept)."""
    weights = parameters(config, shape) * 4
    count = config.steps // config.probe_every + 2
    return (min(count * weights, WEIGHT_BYTES_PER_RUN + weights)
            + min(count * 2 * weights, RESUME_BYTES_PER_RUN + 2 * weights))


def estimate(config) -> dict[str, int]:
    """Bytes by part: generating the data, keeping it, the weights (with gradients and optimizer state), one
    training step, validation, probes and the states kept with them; `total` is the peak (generation happens
    before the model exists)."""
    try:
        shape = dataset_shape(config)
    except DatasetError:  # bad options: loading the dataset will refuse them with its own message
        shape = Shape("regression", 0, 0, config.seq_len, 1, 1)
    stored, replay = probe_bytes(config, shape)
    parts = {
        "generation": shape.generation_bytes(), "data": shape.data_bytes(),
        "weights": parameters(config, shape) * 4 * 4,  # the weights, their gradients and Adam's two moments
        "step": step_bytes(config, shape), "validation": validation_bytes(config, shape),
        "probes": stored, "replay": replay, "kept": kept_bytes(config, shape),
    }
    running = (parts["data"] + parts["weights"] + stored + parts["kept"]
               + max(parts["step"], parts["validation"], replay))
    parts["total"] = max(parts["generation"], running)
    return parts


def advice(config, parts: dict[str, int]) -> str:
    """What makes the estimate large and what to lower, for the refusal message."""
    shape = _shape_or_none(config)
    T = shape.T if shape else config.seq_len
    worst = max(("generation", "data", "step", "validation", "probes", "replay", "weights", "kept"),
                key=lambda k: parts[k])
    if worst in ("generation", "data") and shape is not None:
        t = f"T={T}" + ("" if T == config.seq_len else f" (set by the length option, not seq_len={config.seq_len})")
        return (f"the data ({shape.n_train} training + {shape.n_val} validation samples x {t}) would need about "
                f"{size(parts[worst])}; lower n_train or n_val" + (" or seq_len" if T == config.seq_len else ""))
    if worst == "step":
        tokens = (f" (the vocabulary has {shape.output_size} tokens; embedding_size={config.embedding_size})"
                  if shape is not None and shape.task == "next_token" else "")
        return (f"batch_size={config.batch_size} x seq_len={T} x num_layers={config.num_layers} x "
                f"hidden_size={config.hidden_size}{tokens} would need about {size(parts['step'])} to train one step; "
                "lower one of them")
    if worst == "validation":
        return f"scoring the validation set would need about {size(parts[worst])}; lower n_val or seq_len"
    if worst in ("weights", "kept"):
        return f"the model's weights would need about {size(parts[worst])}; lower hidden_size or num_layers"
    return f"the probes would need about {size(parts[worst])}; lower probe_size, hidden_size or seq_len"


def _shape_or_none(config) -> Shape | None:
    try:
        return dataset_shape(config)
    except DatasetError:
        return None


def size(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"
