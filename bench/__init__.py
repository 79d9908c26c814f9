"""Benchmarks that print ratios against a bare baseline; the set-up they share."""

from __future__ import annotations

import argparse
import statistics

import torch


def quick_mode() -> bool:
    """Parse the one option every benchmark takes, `--quick` (CI's short run), and train on one torch thread
    as each session of the app does."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a short run that only proves the benchmark works")
    quick = ap.parse_args().quick
    torch.set_num_threads(1)
    return quick


def medians(rows: list[tuple[float, ...]]) -> list[float]:
    """The median of each column of per-round ratios (rounds interleave the contenders, so load hits all)."""
    return [statistics.median(col) for col in zip(*rows, strict=True)]
