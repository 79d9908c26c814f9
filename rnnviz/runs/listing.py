"""The Runs page's table: one row per kept run, its settings in one line, and the colours of an overlay."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from rnnviz.engine.cellspec import SPECS
from rnnviz.engine.config import RunConfig
from rnnviz.runs.store import RunEntry
from rnnviz.views.palette import RUN_OVERLAY

MAX_OVERLAY = 8  # runs drawn on one chart at most: more lines than this no one can tell apart
RUN_COLORS = RUN_OVERLAY  # one colour per overlaid run (rnnviz/views/palette.py)
STATES = {"playing": "▶ playing", "paused": "⏸ paused", "finished": "✓ finished", "interrupted": "⚠ interrupted",
          "diverged": "✗ diverged"}


def config_of(entry: RunEntry) -> RunConfig | None:
    """The entry's settings; None when they no longer load (e.g. a dataset this version no longer has)."""
    try:
        return RunConfig.from_dict(json.loads(entry.config))
    except (ValueError, TypeError, KeyError):
        return None


def settings_line(config: RunConfig | None) -> str:
    """The settings that tell runs apart, in one line: "LSTM · adding · T=50 · 32×1 · adam lr 0.003 · seed 0"."""
    if config is None:
        return "settings this version cannot read"
    size = f"{config.hidden_size}" + (f"×{config.num_layers}" if config.num_layers > 1 else "")
    return (f"{SPECS[config.cell].label} · {config.dataset} · T={config.seq_len} · hidden {size} · "
            f"{config.optimizer} lr {config.lr:g} · {config.steps:,} steps · seed {config.seed}")


def label(entry: RunEntry) -> str:
    """How the run is named in pickers and legends: its name, else its cell, dataset and a short id."""
    if entry.name:
        return entry.name
    config = config_of(entry)
    what = f"{SPECS[config.cell].label} {config.dataset}" if config is not None else "run"
    return f"{what} #{entry.key[:6]}"


def labels(entries: list[RunEntry]) -> dict[str, str]:
    """Each entry's label by key, made unique (two runs named alike get their short ids)."""
    out, seen = {}, {}
    for e in entries:
        seen[label(e)] = seen.get(label(e), 0) + 1
    for e in entries:
        name = label(e)
        out[e.key] = name if seen[name] == 1 or name.endswith(e.key[:6]) else f"{name} #{e.key[:6]}"
    return out


def table(entries: list[RunEntry]) -> pd.DataFrame:
    """One row per run, newest first as given: what the Runs page lists."""
    rows = []
    for e in entries:
        metrics = json.loads(e.metrics or "{}")
        rows.append({
            "run": label(e),
            "settings": settings_line(config_of(e)),
            "step": f"{e.step:,} / {e.steps:,}",
            "state": "⚠ unreadable: " + e.error if e.error else STATES.get(e.state, e.state),
            "val loss": metrics.get("val_loss", metrics.get("loss")),
            "training s": metrics.get("seconds"),
            "from": e.origin,
            "changes": changes_line(e, entries),
            "started": _when(e.created),
        })
    return pd.DataFrame(rows, columns=["run", "settings", "step", "state", "val loss", "training s", "from",
                                       "changes", "started"])


def changes_line(entry: RunEntry, entries: list[RunEntry]) -> str:
    """ "fork of <parent> at step 120 · 2 live changes", or "" for a run trained as it started."""
    parts = []
    if entry.parent:
        parent = next((e for e in entries if e.key == entry.parent), None)
        parts.append(f"fork of {label(parent) if parent else 'a run'} at step {entry.fork_step:,}")
    n = len(json.loads(entry.changes or "[]"))
    if n:
        parts.append(f"{n} live change{'s' if n > 1 else ''}")
    return " · ".join(parts)


def colors(labels: list[str]) -> dict[str, str]:
    """Each overlaid run its own colour, in the order chosen."""
    return {name: RUN_COLORS[i % len(RUN_COLORS)] for i, name in enumerate(labels)}


def _when(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M") if t else ""
