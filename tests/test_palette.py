"""The cells' colours stay apart for colour-blind viewers (simulated), and every chart takes them from one place."""

import numpy as np
import pytest

from rnnviz.engine.cellspec import COMPARED, KINDS
from rnnviz.views import figures, palette


@pytest.mark.parametrize("vision", list(palette.VISIONS))
def test_the_cells_colours_stay_apart_in_every_vision_simulated(vision):
    compared = [palette.cell_color(c) for c in COMPARED]
    everyone = [palette.cell_color(c) for c in KINDS] + [palette.OTHER_CELL]
    assert len(set(everyone)) == len(everyone)
    assert palette.separation(compared, vision) >= palette.MIN_SEPARATION["compared"]
    assert palette.separation(everyone, vision) >= palette.MIN_SEPARATION["all"]


@pytest.mark.parametrize("vision", list(palette.VISIONS))
def test_the_runs_overlay_colours_stay_apart_and_are_no_cells(vision):
    from rnnviz.runs.listing import MAX_OVERLAY, RUN_COLORS
    assert len(set(RUN_COLORS)) == len(RUN_COLORS) >= MAX_OVERLAY
    assert not set(RUN_COLORS) & set(palette.CELL_COLORS.values())
    assert palette.separation(RUN_COLORS, vision) >= palette.MIN_SEPARATION["runs"]


def test_the_simulation_is_the_published_one():
    # pure red and green, which deuteranopes confuse, come out near each other; black and white stay put
    assert palette.separation(["#ff0000", "#00ff00"], "typical") > 150
    assert palette.separation(["#ff0000", "#00ff00"], "deuteranopia") < 60
    assert palette.separation(["#ff0000", "#00ff00"], "protanopia") < 80
    np.testing.assert_allclose(palette.lab("#ffffff", "protanopia"), [100, 0, 0], atol=0.5)
    np.testing.assert_allclose(palette.lab("#000000", "deuteranopia"), [0, 0, 0], atol=1e-6)


def test_plotly_default_red_and_green_would_fail_the_check():
    # what rnnviz drew before: plotly's qualitative blue, red, green (the check has teeth)
    assert palette.separation(["#636EFA", "#EF553B", "#00CC96"], "protanopia") < palette.MIN_SEPARATION["compared"]


def test_compare_charts_draw_each_cell_in_its_colour():
    import pandas as pd
    hist = pd.DataFrame({"step": [0, 1], "loss": [1.0, 0.5], "val_loss": [1.0, 0.6]})
    fig = figures.compare_losses({c: hist for c in COMPARED}, None)
    drawn = {t.name: t.line.color for t in fig.data}
    assert drawn == {f"{c} {kind}": palette.cell_color(c) for c in COMPARED for kind in ("training", "validation")}
