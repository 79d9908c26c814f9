"""Build time of every dataset at its largest allowed settings (target: a few seconds each).

Run: python bench/bench_datasets.py [--quick] [--rounds 3]
"Largest allowed": seq_len 2000, every option at its maximum (n_val, symbols, val_max_n...), and the largest n_train
the server's memory limit admits (RNNVIZ_MAX_TRAIN_MB; batch_size 1 so the data decides). --quick uses seq_len 200
and a tenth of the samples. Prints the median build time of each and the slowest. No PyTorch baseline applies here:
the numbers are the time before step 0 that a session waits.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np

from rnnviz import DATASETS, ConfigError, DatasetError, RunConfig, load_dataset
from rnnviz.datasets import register_upload
from rnnviz.datasets.uploads import MAX_LINES, MAX_UPLOAD_BYTES
from rnnviz.engine.memory import estimate, size


def largest_options(name: str) -> dict:
    """Every numeric option at its maximum (n_train is then lowered to fit), text options at their default."""
    out = {}
    for p in DATASETS[name].params:
        if p.choices is None and isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
            out[p.name] = type(p.default)(p.hi)
    if name == "memory":
        out["recall"] = 3  # 16**3 classes
    if name in ("co2", "csv"):
        out["val_fraction"] = 0.05  # the most training windows
    return out


def upload_series() -> str:
    values = np.sin(np.arange(MAX_LINES - 1) / 7.0)
    return register_upload(("value\n" + "\n".join(f"{v:.6f}" for v in values)).encode(), "bench.csv")


def upload_sequences(seq_len: int) -> str:
    """The largest .npy of (sequences, seq_len + 1) float32 an upload may be."""
    rows = int(MAX_UPLOAD_BYTES * 0.95) // (4 * (seq_len + 1))
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(0).standard_normal((rows, seq_len + 1)).astype(np.float32))
    return register_upload(buffer.getvalue(), "bench.npy")


def largest_config(name: str, seq_len: int, shrink: int, upload: str) -> RunConfig:
    uploads = {"csv": lambda: upload, "npy": lambda: upload_sequences(seq_len)}
    params = largest_options(name) | ({"upload": uploads[name]()} if name in uploads else {})
    if "n_train" in params:
        params["n_train"] //= shrink
    if "n_val" in params:
        params["n_val"] //= shrink
    if name == "counting":
        params["val_max_n"] = min(params["val_max_n"], (seq_len - 1) // 2)  # a whole validation string must fit
    while True:
        try:
            return RunConfig(dataset=name, seq_len=seq_len, batch_size=1, dataset_params=params)
        except ConfigError:
            key = "n_train" if params.get("n_train", 0) > 16 else "n_val"  # the memory limit decides
            if params.get(key, 0) <= 8:
                raise
            params[key] = max(16 if key == "n_train" else 8, int(params[key] * 0.8))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    seq_len, shrink = (200, 10) if args.quick else (2000, 1)
    upload = upload_series()
    results = []
    for name in DATASETS:
        T = seq_len
        while True:  # co2's 526 months and a csv with no n_train option: a shorter T is their largest
            times = []
            try:
                config = largest_config(name, T, shrink, upload)
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    data = load_dataset(config)
                    times.append(time.perf_counter() - t0)
                    del data
                break
            except (ConfigError, DatasetError):
                if T < 4:
                    raise
                T //= 2
        median = statistics.median(times)
        results.append((median, name))
        opts = ", ".join(f"{k}={v}" for k, v in config.dataset_params.items() if k != "upload")
        print(f"{name:15s} {median:7.2f} s  seq_len={T} {opts}  (estimate {size(estimate(config)['total'])})")
    worst = max(results)
    print(f"slowest: {worst[1]} {worst[0]:.2f} s (median of {args.rounds})")


if __name__ == "__main__":
    main()
