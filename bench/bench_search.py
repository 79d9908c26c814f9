"""Pattern search and connectivity at the issue's size: hidden 512 × 10,000 positions, against bare PyTorch in the
same run.

    python bench/bench_search.py [--quick]

Prints, best of 5 each:
- the select-and-match search (units_on + find_matches over 10,000 positions of 512 units; the bar: < 0.5 s);
- its values (rnnviz.views.connectivity.searchable, which unrolls the top layer for its gates), against a bare
  nn.LSTM forward over the same positions;
- one connectivity matrix of a T = 200 sequence against a bare forward and backward of 200 copies of it.
--quick: a tenth of the size (only proves the script runs).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from rnnviz import RunConfig, load_dataset
from rnnviz.engine.train import build_model
from rnnviz.views.connectivity import connectivity, find_matches, searchable, units_on


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    H, T = (64, 50) if args.quick else (512, 100)
    N = (1_000 if args.quick else 10_000) // T
    config = RunConfig(cell="lstm", hidden_size=H, seq_len=T, dataset="sine")
    data = load_dataset(config)
    model = build_model(config, data)
    x = data.x_val[:N]

    values = searchable(model, x)
    hidden = values["hidden"]
    t0, t1 = T // 2, T // 2 + 4
    threshold = float(np.quantile(hidden, 0.6))
    units = units_on(hidden[0], t0, t1, threshold)
    if not len(units):  # random weights rarely switch a unit on and off around a span: any units on over it
        units = np.flatnonzero((hidden[0, t0 : t1 + 1] >= threshold).all(0))[:8]

    def search():
        units_on(hidden[0], t0, t1, threshold)  # the selection's rule, then the matches
        return find_matches(hidden, units, threshold, t1 - t0 + 1)

    took, matches = best(search), search()
    bare = best(lambda: (hidden >= threshold).all(-1))
    print(f"search over {N * T:,} positions × {H} units ({len(units)} units in the set, {len(matches)} matches): "
          f"{took:.3f} s "
          f"(bar < 0.5 s); a bare numpy comparison of the same values: {bare:.3f} s")

    rnn = model.rnn
    with torch.no_grad():
        made = best(lambda: searchable(model, x), repeat=3)
        fused = best(lambda: rnn(x), repeat=3)
    print(f"the searched values (h, c and 4 gates, top layer): {made:.3f} s; a bare nn.LSTM forward: {fused:.3f} s; "
          f"ratio {made / fused:.2f}")

    one = data.x_val[:1]
    conn = best(lambda: connectivity(model, one), repeat=3)

    def bare_backward():
        copies = one.expand(len(np.unique(np.linspace(0, T - 1, min(T, 200)).round())), -1, -1).clone()
        copies.requires_grad_(True)
        out, _ = rnn(copies)
        torch.autograd.grad(out.sum(), copies)

    raw = best(bare_backward, repeat=3)
    print(f"connectivity of one T = {T} sequence: {conn:.3f} s; a bare forward+backward of its copies: {raw:.3f} s; "
          f"ratio {conn / raw:.2f}")


if __name__ == "__main__":
    main()
