"""Side-by-side runs: the same data and seed, one run per cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnviz.engine.cellspec import spec
from rnnviz.engine.config import RunConfig
from rnnviz.engine.model import parameter_count
from rnnviz.engine.train import Run
from rnnviz.views import metrics

MAX_CELLS = 4


def variants(config: RunConfig, cells: list[str]) -> dict[str, RunConfig]:
    """One config per cell, everything else equal (forget_bias only applies to a cell with a forget gate)."""
    return {cell: config.replace(cell=cell, forget_bias=config.forget_bias if "forget" in spec(cell).blocks else None)
            for cell in cells[:MAX_CELLS]}


def summary(runs: dict[str, Run]) -> pd.DataFrame:
    """One row per cell: parameters, steps, time per step, final losses and the dataset's metrics."""
    rows = []
    for cell, run in runs.items():
        steps = max(run.step, 0)
        model = run.current_model()  # the group may still be training
        row = {"cell": cell, "parameters": parameter_count(model), "steps": steps,
               "ms/step": 1000 * run.seconds / steps if steps else np.nan,
               "final val loss": run.history.val_loss.dropna().iloc[-1] if run.rows else np.nan}
        row.update(metrics.evaluate_metrics(model, run.data))
        if run.diverged_at is not None:
            row["diverged at"] = run.diverged_at
        rows.append(row)
    return pd.DataFrame(rows)


def own_history(run: Run) -> pd.DataFrame:
    """The steps a run trained itself: a fork's from its fork step on (before it, they are its parent's)."""
    history = run.history
    return history if run.fork_step is None else history[history.step >= run.fork_step]


def fork_marks(runs: dict[str, Run]) -> list[tuple[int, str]]:
    """(step, "<name> forks here") for each fork among `runs`: what an overlay marks."""
    return [(run.fork_step, f"{name} forks") for name, run in runs.items() if run.fork_step is not None]


def last_grad_curves(runs: dict[str, Run]) -> dict[str, np.ndarray]:
    """Batch-mean ||dL/dh_t|| (top layer) of each run's latest probe."""
    return {cell: run.probes[-1][1].grad_norms[-1].mean(0) for cell, run in runs.items() if run.probes}


def reach_table(reach: dict) -> pd.DataFrame:
    """One row per cell of connectivity.MarkedReach: how its last output reads the inputs the task marks."""
    return pd.DataFrame([{"cell": cell, "marked ÷ others": round(m.ratio, 2),
                          "first mark ÷ strongest": f"{m.first:.2g}", "first input ÷ last": f"{m.fade:.2g}",
                          "per step": round(m.per_step, 3)}
                         for cell, m in reach.items()])
