"""View exports: a figure's points as a table, the figure as offline HTML, and the buttons under every chart."""

import io
import json

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from rnnviz.views import exports, figures
from tests.pagetools import open_page


def test_a_line_figure_exports_every_point():
    curves = [(0, np.array([1.0, 0.5, 0.25])), (10, np.array([1.0, 0.9, 0.8]))]
    fig = figures.grad_norms_over_time(curves)
    table = exports.figure_table(fig)
    lines = [t for t in fig.data if t.y is not None and len(t.y) == 3]
    assert len(lines) >= 2 and table.trace.nunique() >= 2
    for values in (c for _, c in curves):
        assert any(np.allclose(g.y.to_numpy(dtype=float), values) for _, g in table.groupby("trace", sort=False))


def test_a_heatmap_exports_one_row_per_cell():
    values = np.arange(12, dtype=float).reshape(3, 4)  # (T, H)
    fig = figures.state_heatmap(values)
    table = exports.figure_table(fig)
    heat = next(t for t in fig.data if t.type == "heatmap")
    z = np.asarray(heat.z, dtype=float)
    assert len(table) == z.size and sorted(table.z.tolist()) == sorted(z.ravel().tolist())


def test_a_replay_exports_every_frame_not_only_the_one_shown():
    grads = [np.array([1.0, 0.5, 0.25]), np.array([1.0, 0.8, 0.6]), np.array([1.0, 0.9, 0.85])]
    table = exports.figure_table(figures.grad_replay([0, 10, 20], grads))
    assert list(table.columns[:2]) == ["frame", "trace"] and list(table.frame.unique()) == ["0", "10", "20"]
    for step, g in zip(("0", "10", "20"), grads, strict=True):
        shown = table[(table.frame == step) & (table.trace == "‖∂L/∂h_t‖")]
        assert np.allclose(shown.y.to_numpy(dtype=float), g)


def test_csv_reads_back_as_the_same_table():
    table = pd.DataFrame({"trace": ["a", "a"], "x": [0, 1], "y": [0.1, 1e-12]})
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(exports.table_csv(table))), table)


def test_html_is_standalone_and_offline():
    html = exports.figure_html(figures.saliency(np.ones((2, 5)))).decode()
    assert "<html>" in html and "Plotly.newPlot" in html
    assert "<script src=" not in html  # plotly.js is inside the file, no CDN
    assert len(html) > 1_000_000


@pytest.mark.parametrize("path", ["app.py", "pages/1_Train.py", "pages/4_Gradients.py"])
def test_every_chart_has_csv_and_html_downloads(path):
    at = open_page(path, steps="10", hidden_size="8", seq_len="10", probe_every="5")
    charts = at.get("plotly_chart")
    keys = [el.proto.id for el in at.get("download_button")]
    assert charts and len(keys) == 2 * len(charts) + 1  # + the run file's
    assert len(set(keys)) == len(keys)


def test_html_has_its_own_light_template_whatever_the_page_theme():
    import streamlit.elements.plotly_chart  # noqa: F401  registers Streamlit's theme as plotly's default

    assert pio.templates.default == "streamlit"
    fig = figures.saliency(np.ones((2, 5)))
    assert "#000001" in json.dumps(fig.to_dict()["layout"]["template"])  # the browser puts the theme's colours in
    html = exports.figure_html(fig).decode()
    white = pio.templates["plotly_white"].layout
    assert json.dumps(white.paper_bgcolor) in html and '"#000001"' not in html  # no theme placeholder colours
