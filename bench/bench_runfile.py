"""Time opening the worst run files at the size limit: every one is parsed or refused, and how fast.

    python bench/bench_runfile.py [--rounds 3] [--quick]
Prints, per shape, the median seconds of load_run and what happened (loaded, or the start of the refusal), then the
seconds save_run took for the two largest valid runs. --quick: a smaller "largest" run and a 1,001-step history,
one round: only proves the script runs.
"""

import argparse
import io
import statistics
import time
import zipfile

import numpy as np
import torch

from rnnviz import RunConfig, train_run
from rnnviz.runs.runfile import (
    HISTORY,
    HISTORY_DTYPES,
    HISTORY_NPZ,
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


def many_entries(size: int = MAX_FILE_BYTES // 2 - 4 * MB) -> bytes:
    """As many empty entries as fit in `size` (half the size limit: a zip64 archive past 65,535 entries)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        i = 0
        while buf.tell() < size:  # the central directory repeats every header
            zf.writestr(f"{i}", b"")
            i += 1
    return buf.getvalue()


SAVED: dict[str, float] = {}  # seconds save_run took, by shape


def timed_save(name: str, run) -> bytes:
    start = time.perf_counter()
    blob = save_run(run)
    SAVED[name] = time.perf_counter() - start
    return blob


def largest_run(quick: bool) -> bytes:
    """A real run whose probes fill the file: LSTM 512 units, T 200, a probe at every step (thinned to fit)."""
    size = dict(hidden_size=64, seq_len=50) if quick else dict(hidden_size=512, seq_len=200)
    config = RunConfig(cell="lstm", steps=4, probe_every=1, probe_size=64, batch_size=4, eval_every=1, **size)
    return timed_save("largest run", train_run(config))


def longest_run(steps: int):
    """A run with the most history rows a config allows (100,000 steps + step 0), its numbers all different."""
    run = train_run(RunConfig(steps=1, hidden_size=8, seq_len=10))
    run.config = run.config.replace(steps=steps)
    rng = np.random.default_rng(0)
    table = {c: rng.random(steps + 1) for c in run.columns}  # random floats: the CSV is as long as it gets
    val = np.where(np.arange(steps + 1) % 25 == 0, table["val_loss"], np.nan)
    run.restore_columns(table | {"step": np.arange(steps + 1), "val_loss": val, "clipped": table["clipped"] < 0.5,
                                 "diverged": np.zeros(steps + 1, bool), "seconds": np.cumsum(table["seconds"])})
    return run


def shapes(small: bytes, quick: bool) -> dict[str, bytes]:
    entries = read_entries(small)
    old = {k: v for k, v in entries.items() if k != HISTORY_NPZ}  # as saved before history.npz: the CSV only
    rng = np.random.default_rng(0)
    limit = 4 * MB if quick else MAX_FILE_BYTES  # --quick: the same shapes, smaller (they are refused alike)
    line = ",".join(map(str, rng.integers(0, 10**6, limit // 8))).encode()[: limit - MB]
    bomb = 32 * MB if quick else 512 * MB
    columns = {n[:-4] for n in zipfile.ZipFile(io.BytesIO(entries[HISTORY_NPZ])).namelist()}
    rows = (limit - 2 * MB) // (8 * len(columns))
    long_npz = io.BytesIO()
    np.savez(long_npz, **{c: np.zeros(rows, HISTORY_DTYPES.get(c, float)) for c in columns})
    longest = longest_run(1_000 if quick else 100_000)
    longest_blob = timed_save("longest history", longest)
    longest_old = {k: v for k, v in read_entries(longest_blob).items() if k != HISTORY_NPZ}
    longest_old[HISTORY] = longest.history.to_csv(index=False).encode()
    return {
        "random bytes at the limit": rng.bytes(limit),
        "zip header + random bytes": b"PK\x03\x04" + rng.bytes(limit - 4),
        f"zip bomb ({bomb // MB} MB of zeros)": rezip({MANIFEST: b"{}", "bomb": bytes(bomb)}),
        "nested bomb in probes.npz": rezip({**entries, PROBES: rezip({"steps.npy": bytes(bomb)})}),
        f"{limit // MB} MB one-line history.csv, old format": rezip({**old, HISTORY: line}, zipfile.ZIP_STORED),
        f"history.npz of {rows:,} rows": rezip({**entries, HISTORY_NPZ: long_npz.getvalue()}, zipfile.ZIP_STORED),
        "empty entries filling the limit": many_entries(MB) if quick else many_entries(),
        "truncated largest run": (largest := largest_run(quick))[: len(largest) // 2],
        "largest run (probes fill the limit)": largest,
        f"longest history ({longest.step + 1:,} rows)": longest_blob,
        f"longest history ({longest.step + 1:,} rows), old format": rezip(longest_old),
        "a valid small run": small,
        "a valid small run, old format": rezip(old),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller valid runs, one round: proves the script runs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    small = save_run(train_run(RunConfig(steps=20, hidden_size=16, seq_len=20, probe_every=5)))
    for name, blob in shapes(small, args.quick).items():
        times, outcome = [], ""
        for _ in range(1 if args.quick else args.rounds):
            start = time.perf_counter()
            try:
                run = load_run(blob)
                outcome = f"loaded: step {run.step}, {len(run.probes)} probes"
            except RunFileError as err:
                outcome = f"refused: {str(err)[:70]}"
            times.append(time.perf_counter() - start)
        print(f"{name:46s} {len(blob) / MB:6.1f} MB  {statistics.median(times):6.2f} s  {outcome}", flush=True)
    for name, seconds in SAVED.items():
        print(f"save_run, {name}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
