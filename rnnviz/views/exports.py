"""Exports of a view: its data as CSV (from a DataFrame or read off the figure) and the figure as offline HTML."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from rnnviz.views.palette import EXPORT_TEMPLATE

AXES = ("x", "y", "z")


def figure_table(fig: go.Figure) -> pd.DataFrame:
    """Every trace's points in long form: trace, x, y (and z); a heatmap gives one row per cell. An animated
    figure (the replays) gives every frame's points, with a `frame` column (its name: the training step)."""
    if fig.frames:
        tables = [_data_table(frame.data).assign(frame=frame.name) for frame in fig.frames]
        tables = [t for t in tables if len(t)]
        if tables:
            table = pd.concat(tables, ignore_index=True)
            return table[["frame", *[c for c in table.columns if c != "frame"]]]
    return _data_table(fig.data)


def _data_table(traces) -> pd.DataFrame:
    tables = [_trace_table(i, trace) for i, trace in enumerate(traces)]
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["trace", *AXES])


def _trace_table(i: int, trace) -> pd.DataFrame:
    name = trace.name if getattr(trace, "name", None) else f"trace {i}"
    values = {a: getattr(trace, a, None) for a in AXES if getattr(trace, a, None) is not None}
    if trace.type == "heatmap" and "z" in values:
        return _grid_table(name, trace)
    cols = {a: np.asarray(v).ravel() for a, v in values.items() if np.ndim(v) >= 1}
    n = max((len(v) for v in cols.values()), default=0)
    cols = {a: v for a, v in cols.items() if len(v) == n}  # e.g. a histogram has x only
    return pd.DataFrame({"trace": [name] * n, **cols})


def _grid_table(name: str, trace) -> pd.DataFrame:
    z = np.asarray(trace.z, dtype=float)  # (rows, cols)
    ys = np.asarray(trace.y) if trace.y is not None else np.arange(z.shape[0])
    xs = np.asarray(trace.x) if trace.x is not None else np.arange(z.shape[1])
    yy, xx = np.meshgrid(ys[: z.shape[0]], xs[: z.shape[1]], indexing="ij")
    return pd.DataFrame({"trace": name, "x": xx.ravel(), "y": yy.ravel(), "z": z.ravel()})


def table_csv(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False).encode()


def figure_html(fig: go.Figure) -> bytes:
    """A standalone, interactive HTML file with plotly.js inside: it opens offline, no CDN."""
    spec = fig.to_dict()  # on the page it takes the viewer's theme; the file has its own, light one
    spec["layout"]["template"] = pio.templates[EXPORT_TEMPLATE].to_plotly_json()
    return pio.to_html(spec, include_plotlyjs=True, full_html=True, validate=False).encode()


def file_stem(caption: str, fig: go.Figure | None = None) -> str:
    """A short file name from the figure's title (or the caption): 'gradient-norms-over-time'."""
    title = fig.layout.title.text if fig is not None and fig.layout.title.text else caption
    words = re.findall(r"[a-z0-9]+", (title or "figure").lower())[:6]
    return "-".join(words) or "figure"
