"""rnnviz's colours and figure templates: colours that stay apart for colour-blind viewers, and the check.

The cells' colours and the palette every other chart cycles through are Okabe and Ito's colour-blind safe set
(without its black, lost on the dark theme). `separation` simulates protanopia and deuteranopia (Machado, Oliveira
and Fernandes 2009, full severity) and measures how far apart colours stay (CIE76 ΔE in CIELAB: about 2 is just
noticeable, over 20 is read at a glance); tests/test_palette.py holds the cells to MIN_SEPARATION.
"""

from __future__ import annotations

import itertools

import numpy as np

EXPORT_TEMPLATE = "plotly_white"  # a figure outside Streamlit: a notebook, the CLI, an HTML download
HOST_TEMPLATES = ("streamlit",)  # a host's theme that follows its light / dark switch, kept as plotly's default

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
# the three cells the tutorials compare get the three colours furthest apart; the ReLU RNN a lighter blue, the
# tanh RNN's family; a cell rnnviz does not know (your own model) OTHER_CELL
CELL_COLORS = {"rnn_tanh": PALETTE[0], "lstm": PALETTE[1], "gru": PALETTE[2], "rnn_relu": PALETTE[4]}
OTHER_CELL = "#DDCC77"  # Paul Tol's sand: apart from all four cells in every vision
MIN_SEPARATION = {"compared": 50.0, "all": 20.0, "runs": 20.0}  # ΔE kept in every vision simulated
# the Runs page's overlay, one colour per ticked run (at most 8): Paul Tol's "muted" set without its rose, the eight
# that stay furthest apart in every vision (ΔE 22.8 / 22.3 / 21.4), none of them a cell's colour
RUN_OVERLAY = ("#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499")

# linear-RGB transforms (Machado et al. 2009, severity 1.0)
VISIONS = {
    "typical": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
}
_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = np.array([0.95047, 1.0, 1.08883])


def cell_color(cell: str) -> str:
    """One colour per cell kind, the same on every chart (Compare, Sweep, Runs) whichever cells are shown."""
    return CELL_COLORS.get(cell, OTHER_CELL)


def lab(color: str, vision: str = "typical") -> np.ndarray:
    """CIELAB (D65) of a '#rrggbb' colour as a viewer with `vision` sees it."""
    srgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    t = _XYZ @ np.clip(VISIONS[vision] @ linear, 0, 1) / _WHITE
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def separation(colors, vision: str = "typical") -> float:
    """The smallest ΔE between any two of `colors` as seen with `vision`."""
    return min(float(np.linalg.norm(lab(a, vision) - lab(b, vision))) for a, b in itertools.combinations(colors, 2))
