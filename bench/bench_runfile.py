"""Time opening the worst run files at the size limit: every one is parsed or refused, and how fast.

    PYTHONPATH=. python bench/bench_runfile.py [--rounds 3]
Prints, per shape, the median seconds of load_run and what happened (loaded, or the start of the refusal).
"""

import argparse
import io
import statistics
import time
import zipfile

import numpy as np
import torch

from rnnviz import RunConfig, train_run
from rnnviz.runfile import (
    HISTORY,
    MANIFEST,
    MAX_FILE_BYTES,
    PROBES,
    RunFileError,
    load_run,
    read_entries,
    save_run,
)

MB = 2**20


def rezip(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
    return buf.getvalue()


def many_entries() -> bytes:
    """As many empty entries as fit in the size limit (a zip64 archive past 65,535)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        i = 0
        while buf.tell() < MAX_FILE_BYTES // 2 - 4 * MB:  # the central directory repeats every header
            zf.writestr(f"{i}", b"")
            i += 1
    return buf.getvalue()


def largest_run() -> bytes:
    """A real run whose probes fill the file: LSTM 512 units, T 200, a probe at every step (thinned to fit)."""
    config = RunConfig(cell="lstm", hidden_size=512, seq_len=200, steps=4, probe_every=1, probe_size=64,
                       batch_size=4, eval_every=1)
    return save_run(train_run(config))


def longest_history() -> bytes:
    """A run with the most history rows a config allows (100,000 steps + step 0)."""
    run = train_run(RunConfig(steps=1, hidden_size=8, seq_len=10))
    config = run.config.replace(steps=100_000)
    run.config = config
    row = run.rows[-1]
    run.restore_rows([dict(row, step=i) for i in range(100_001)])
    return save_run(run)


def shapes(small: bytes) -> dict[str, bytes]:
    entries = read_entries(small)
    rng = np.random.default_rng(0)
    line = ",".join(map(str, rng.integers(0, 10**6, 8_000_000))).encode()[: MAX_FILE_BYTES - MB]
    return {
        "random bytes at the limit": rng.bytes(MAX_FILE_BYTES),
        "zip header + random bytes": b"PK\x03\x04" + rng.bytes(MAX_FILE_BYTES - 4),
        "zip bomb (512 MB of zeros)": rezip({MANIFEST: b"{}", "bomb": bytes(512 * MB)}),
        "nested bomb in probes.npz": rezip({**entries, PROBES: rezip({"steps.npy": bytes(512 * MB)})}),
        f"{MAX_FILE_BYTES // MB} MB one-line history CSV": rezip({**entries, HISTORY: line}, zipfile.ZIP_STORED),
        "empty entries filling the limit": many_entries(),
        "truncated largest run": (largest := largest_run())[: len(largest) // 2],
        "largest run (probes fill the limit)": largest,
        "longest history (100,001 rows)": longest_history(),
        "a valid small run": small,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    small = save_run(train_run(RunConfig(steps=20, hidden_size=16, seq_len=20, probe_every=5)))
    for name, blob in shapes(small).items():
        times, outcome = [], ""
        for _ in range(args.rounds):
            start = time.perf_counter()
            try:
                run = load_run(blob)
                outcome = f"loaded: step {run.step}, {len(run.probes)} probes"
            except RunFileError as err:
                outcome = f"refused: {str(err)[:70]}"
            times.append(time.perf_counter() - start)
        print(f"{name:40s} {len(blob) / MB:6.1f} MB  {statistics.median(times):6.2f} s  {outcome}", flush=True)


if __name__ == "__main__":
    main()
