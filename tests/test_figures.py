"""figures.py: the promised traces, log axes and reference lines, the point budget, and real runs."""

import inspect

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from rnnviz import RunConfig, load_dataset, train_run
from rnnviz.views import analysis as A
from rnnviz.views import dynamics, metrics
from rnnviz.views import figures as F
from rnnviz.views.connectivity import run_connectivity

BUILDERS = [name for name, fn in inspect.getmembers(F, inspect.isfunction)
            if fn.__module__ == F.__name__ and not name.startswith("_") and name not in F.OVERLAYS]


def points(fig: go.Figure) -> int:
    """x, y and z entries over all traces; a heatmap's z counts every cell."""
    total = 0
    for trace in fig.data:
        for key in ("x", "y", "z"):
            value = getattr(trace, key, None) if key in trace else None
            if value is not None:
                total += np.asarray(value, dtype=object).size
    return total


def animation_points(fig: go.Figure) -> int:
    """points plus every animation frame's values: what an animated figure ships."""
    return points(fig) + sum(points(go.Figure(data=f.data)) for f in fig.frames)


def names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data]


def history(n: int, n_params: int = 3, clipped_every: int = 7) -> pd.DataFrame:
    steps = np.arange(n)
    df = pd.DataFrame({
        "step": steps, "loss": 1 / (1 + steps), "val_loss": np.where(steps % 10 == 0, 1 / (2 + steps), np.nan),
        "grad_norm": 1 + steps % 5, "clipped": steps % clipped_every == 0, "diverged": False, "seconds": steps * 0.01,
    })
    for i in range(n_params):
        df[f"grad/rnn.p{i}"] = 0.1 * (i + 1) + 0 * steps
    return df


def check_style(fig: go.Figure):
    assert fig.layout.template == pio.templates[pio.templates.default]  # the host's theme, or plotly_white
    assert fig.layout.title.text
    for axis in "xy":  # some axis of each direction carries a title (subplots: the bottom one)
        titles = [fig.layout[k].title.text for k in fig.layout if k.startswith(f"{axis}axis")]
        assert any(titles) or fig.layout.scene[f"{axis}axis"].title.text, axis
    if any(a.yanchor == "bottom" and a.y >= 0.99 for a in fig.layout.annotations):  # a subplot title on top:
        assert fig.layout.margin.t >= 60  # the figure's title has a line of its own above it


# ---------------------------------------------------------------- behaviour per builder


def test_captions_cover_every_builder():
    assert len(BUILDERS) >= 15
    assert set(BUILDERS) == set(F.CAPTIONS) - set(F.SHARED_CAPTIONS)
    assert set(F.SHARED_CAPTIONS.values()) <= set(BUILDERS) | set(F.OVERLAYS)  # each names the builder it captions
    assert all(caption.strip().endswith(".") for caption in F.CAPTIONS.values())


def test_loss_curves_lines_baseline_log_axis_and_divergence():
    h = history(100)
    h.loc[99, ["loss", "diverged"]] = [np.inf, True]
    fig = F.loss_curves(h, {"mse": 0.167}, log_y=True)
    assert names(fig) == ["training loss", "validation loss", "baseline (learned nothing)"]
    base = fig.data[2]
    assert list(base.y) == [0.167, 0.167] and base.line.dash == "dash"
    assert len(fig.data[1].x) == 10  # only the evaluated steps
    assert np.isnan(fig.data[0].y[-1])  # the diverged loss is a gap, not an inf
    assert fig.layout.yaxis.type == "log"
    assert any(s.x0 == 99 for s in fig.layout.shapes)
    check_style(fig)
    assert F.loss_curves(history(5), {"accuracy": 0.5}).layout.yaxis.type == "linear"
    assert len(F.loss_curves(history(5), {"accuracy": 0.5}).data) == 2  # no loss level to draw


def test_loss_chart_of_the_adding_problem_draws_only_levels_in_loss_units():
    """The adding problem is solved by MAE < 0.04, a number the loss (MSE) axis cannot show: only the baseline."""
    data = load_dataset(RunConfig(dataset="adding", seq_len=20))
    assert data.solved == {"mae": 0.04} and "mse" in data.baseline
    fig = F.loss_curves(history(50), data.baseline)
    assert names(fig) == ["training loss", "validation loss", "baseline (learned nothing)"]
    assert list(fig.data[2].y) == pytest.approx([data.baseline["mse"]] * 2)


def test_predictions_and_confusion():
    fig = F.predictions(np.arange(5.0)[:, None], np.arange(5.0)[:, None] + 1)
    assert names(fig) == ["validation samples", "perfect prediction"]
    assert list(fig.data[1].x) == list(fig.data[1].y) == [0.0, 5.0]
    cm = F.confusion(np.array([[3, 1], [0, 4]]), ["a", "b"])
    assert isinstance(cm.data[0], go.Heatmap) and np.asarray(cm.data[0].z).tolist() == [[3, 1], [0, 4]]
    check_style(fig)
    check_style(cm)


def test_pca_trajectories_2d_by_time():
    pts = np.random.default_rng(0).normal(size=(4, 9, 3))
    ranges = np.array([[-5, 5], [-4, 4], [-3, 3]])
    fig = F.pca_trajectories(pts, dims=2, explained=np.array([0.37, 0.2, 0.1]), ranges=ranges)
    assert len(fig.data) == 4 + 2 and all(isinstance(t, go.Scatter) for t in fig.data)
    assert names(fig)[-2:] == ["start (t = 0)", "end (t = 8)"]
    assert fig.layout.xaxis.title.text == "PC1 (37%)" and fig.layout.yaxis.title.text == "PC2 (20%)"
    assert list(fig.layout.xaxis.range) == [-5, 5] and list(fig.layout.yaxis.range) == [-4, 4]
    assert fig.data[0].marker.coloraxis == "coloraxis" and list(fig.data[0].marker.color) == list(range(9))
    assert np.allclose(fig.data[-1].x, pts[:, -1, 0])


def test_pca_trajectories_3d_by_class():
    pts = np.random.default_rng(1).normal(size=(6, 5, 3))
    fig = F.pca_trajectories(pts, dims=3, color=np.array([0, 1, 0, 1, 2, 2]), class_names=["a", "b", "c"])
    assert all(isinstance(t, go.Scatter3d) for t in fig.data) and len(fig.data) == 8
    shown = [t.name for t in fig.data[:6] if t.showlegend]
    assert shown == ["class a", "class b", "class c"]
    assert fig.data[0].line.color == fig.data[2].line.color != fig.data[1].line.color
    assert fig.layout.scene.zaxis.title.text == "PC3"


def test_state_and_gate_heatmaps_colour_scales():
    fig = F.state_heatmap(np.array([[-2.0, 1.0], [0.5, 0.0], [1.0, 1.0]]))  # (T=3, H=2)
    hm = fig.data[0]
    assert np.asarray(hm.z).shape == (2, 3)  # units on y, time on x
    assert hm.zmid == 0 and hm.zmin == -2 and hm.zmax == 2
    gates = {"input": np.full((5, 3), 0.5), "candidate": np.zeros((5, 3)), "forget": np.ones((5, 3))}
    fig = F.gate_heatmaps(gates)
    assert [t.name for t in fig.data] == ["input", "candidate", "forget"]
    axes = [t.coloraxis for t in fig.data]
    assert axes[0] == axes[2] != axes[1]
    assert (fig.layout[axes[0]].cmin, fig.layout[axes[0]].cmax) == (0, 1)
    assert (fig.layout[axes[1]].cmin, fig.layout[axes[1]].cmax) == (-1, 1)
    check_style(fig)


def test_gate_histograms_share_bins_and_sum_to_one():
    rng = np.random.default_rng(2)
    fig = F.gate_histograms({"input": rng.uniform(size=(2, 10, 4)), "forget": rng.uniform(0.5, 1, (2, 10, 4))})
    assert names(fig) == ["input", "forget"] and all(isinstance(t, go.Bar) for t in fig.data)
    assert list(fig.data[0].x) == list(fig.data[1].x)
    assert sum(fig.data[0].y) == pytest.approx(1.0) and sum(fig.data[1].y) == pytest.approx(1.0)


def test_saturation_scatter_and_over_training():
    sat = A.gate_saturation("gru", "new", np.array([[-0.95, 0.95], [0.0, 0.95], [0.5, 0.5], [0.0, 0.5]]))
    fig = F.saturation_scatter(sat, "new")
    assert names(fig) == ["x + y = 1 (always saturated)", "units"]
    assert list(fig.data[1].x) == [0.25, 0.0] and list(fig.data[1].y) == [0.0, 0.5]
    assert list(fig.data[1].text) == [0, 1] and "candidate n" in fig.layout.title.text
    # the axes name analysis' thresholds: a tanh gate saturates below -0.9, not below 0.1
    assert fig.layout.xaxis.title.text == "fraction of time new < -0.9"
    assert fig.layout.yaxis.title.text == "fraction of time new > 0.9"
    df = pd.DataFrame({"step": [0, 10, 0, 10], "gate": ["input", "input", "forget", "forget"],
                       "mean_low": [0.1, 0.2, 0.3, 0.4], "mean_high": [0.0, 0.1, 0.2, 0.3],
                       "low_label": ["input < 0.1"] * 2 + ["forget < 0.1"] * 2,
                       "high_label": ["input > 0.9"] * 2 + ["forget > 0.9"] * 2})
    fig = F.saturation_over_training(df)
    assert names(fig) == ["input < 0.1", "input > 0.9", "forget < 0.1", "forget > 0.9"]
    check_style(fig)


def test_grad_norms_over_time_log_axis_latest_bold_and_fit():
    T = 20
    curves = [(s, 0.7 ** (T - 1 - np.arange(T)) * (1 + s / 100)) for s in (0, 25, 50)]
    decay = A.decay_rate(curves[-1][1])
    fig = F.grad_norms_over_time(curves, decay)
    assert fig.layout.yaxis.type == "log"
    lines = fig.data[:3]
    assert lines[-1].line.width == 3 and lines[-1].opacity == 1.0
    assert lines[0].opacity < lines[1].opacity < lines[2].opacity
    fit = fig.data[3]
    assert fit.line.dash == "dash" and "0.7" in fit.name and "vanishing" in fit.name
    assert np.allclose(fit.y, curves[-1][1])


def test_grad_heatmap_and_saliency_are_log10():
    fig = F.grad_heatmap(np.array([0, 10]), np.array([[1.0, 10.0, 0.0], [100.0, 1.0, 1.0]]))
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z[0, 1] == pytest.approx(1.0) and np.isnan(z[0, 2]) and z[1, 0] == pytest.approx(2.0)
    assert list(fig.data[0].y) == [0, 10]
    sal = F.saliency(np.array([[1.0, 1000.0]]))
    assert np.asarray(sal.data[0].z, dtype=float).tolist() == [[0.0, 3.0]]
    check_style(fig)


def test_param_grad_norms_marks_clipping_on_log_axis():
    h = history(30)
    fig = F.param_grad_norms(h, clip=1.0)
    assert fig.layout.yaxis.type == "log"
    assert names(fig)[:4] == ["p0", "p1", "p2", "total"]
    clipped = next(t for t in fig.data if t.name.startswith("clipped"))
    assert list(clipped.x) == [0, 7, 14, 21, 28] and clipped.name == "clipped (5 steps)"
    assert "clip threshold" in names(fig)


def test_spectral_radius_lines_and_unit_line():
    df = pd.DataFrame({"step": [0, 10] * 2, "layer": 0, "gate": ["input"] * 2 + ["forget"] * 2,
                       "radius": [0.5, 0.6, 1.1, 1.2]})
    fig = F.spectral_radius(df)
    assert names(fig) == ["input", "forget", "radius 1: vanish below, explode above"]
    assert list(fig.data[-1].y) == [1.0, 1.0] and fig.data[-1].line.dash == "dash"
    two = F.spectral_radius(pd.concat([df, df.assign(layer=1)]))
    assert "layer 1 forget" in names(two)



# ---------------------------------------------------------------- the point budget


def test_huge_inputs_are_downsampled_to_the_budget():
    rng = np.random.default_rng(3)
    big = rng.uniform(size=(2000, 512)).astype(np.float32)  # (T, H)
    gates = {name: big for name in ("input", "forget", "candidate", "output")}
    figs = {
        "loss_curves": F.loss_curves(history(200_000, n_params=0), {"mse": 0.1}),
        "predictions": F.predictions(rng.normal(size=(100_000, 1)), rng.normal(size=(100_000, 1))),
        "confusion": F.confusion(rng.integers(0, 9, (300, 300))),
        "pca_trajectories": F.pca_trajectories(rng.normal(size=(64, 2000, 3)), dims=3),
        "pca_2d": F.pca_trajectories(rng.normal(size=(64, 2000, 3)), dims=2, color=np.arange(64) % 4),
        "state_heatmap": F.state_heatmap(big),
        "gate_heatmaps": F.gate_heatmaps(gates),
        "gate_histograms": F.gate_histograms({k: rng.uniform(size=(64, 2000, 64)) for k in ("a", "b")}),
        "saturation_scatter": F.saturation_scatter(A.gate_saturation("lstm", "input", rng.uniform(size=(9, 512))),
                                                   "input"),
        "grad_norms_over_time": F.grad_norms_over_time([(s, rng.uniform(size=2000)) for s in range(200)],
                                                       A.decay_rate(rng.uniform(size=2000))),
        "grad_heatmap": F.grad_heatmap(np.arange(400), rng.uniform(size=(400, 2000))),
        "param_grad_norms": F.param_grad_norms(history(200_000, n_params=20, clipped_every=2), clip=1.0),
        "saliency": F.saliency(rng.uniform(size=(64, 2000))),
        "compare_losses": F.compare_losses({c: history(200_000, n_params=0) for c in "abcd"}, {"mse": 1}),
        "compare_grad_curves": F.compare_grad_curves({c: rng.uniform(size=100_000) for c in "abcd"}),
    }
    for name, fig in figs.items():
        assert 0 < points(fig) <= F.MAX_POINTS, name
    assert points(figs["state_heatmap"]) > 40_000  # downsampled, not starved


# ---------------------------------------------------------------- real runs


def all_figures(run, layer: int = -1) -> dict[str, go.Figure]:
    """Every builder fed the way the pages feed it, from a real run."""
    cell, (_, last) = run.config.cell, run.probes[-1]
    pca = A.fit_pca(run.probes, layer)
    pts = A.project(pca, last.hidden[layer])
    gates = A.gate_values(cell, last, layer)
    name = list(gates)[-1]
    sat = A.gate_saturation(cell, name, gates[name])
    decay = A.decay_rate(last.grad_norms[layer])
    curves = [(s, t.grad_norms[layer].mean(0)) for s, t in run.probes]
    jac = dynamics.run_jacobians(run, run.probes[-1][0], (0,))
    conn = run_connectivity(run, run.probes[-1][0], 0)
    return {
        "loss_curves": F.loss_curves(run.history, run.data.baseline, log_y=True),
        "predictions": F.predictions(metrics.predict(run.model, run.data), run.data.y_val.numpy()),
        "confusion": F.confusion(np.array([[3, 1, 0], [0, 2, 2], [0, 0, 4]]), ["a", "b", "c"]),
        "pca_trajectories": F.pca_trajectories(pts, 3, explained=pca.explained,
                                               ranges=A.pca_ranges(pca, run.probes, layer)),
        "state_heatmap": F.state_heatmap(last.hidden[layer, 0]),
        "gate_heatmaps": F.gate_heatmaps({k: v[0] for k, v in gates.items()}),
        "gate_histograms": F.gate_histograms(gates),
        "saturation_scatter": F.saturation_scatter(sat, name),
        "saturation_over_training": F.saturation_over_training(A.saturation_history(run.probes, cell, layer)),
        "grad_norms_over_time": F.grad_norms_over_time(curves, decay),
        "grad_heatmap": F.grad_heatmap(*A.grad_heatmap(run.probes)),
        "param_grad_norms": F.param_grad_norms(run.history, run.config.clip),
        "spectral_radius": F.spectral_radius(A.radius_history(run.probes)),
        "saliency": F.saliency(last.input_saliency),
        "compare_losses": F.compare_losses({cell: run.history, "copy": run.history}, run.data.baseline),
        "compare_grad_curves": F.compare_grad_curves({cell: curves[-1][1], "copy": curves[0][1]}),
        "jacobian_spectrum": F.jacobian_spectrum(jac.sigma_max[0], last.grad_norms[-1, 0],
                                                 jac.product_norm[0] * last.grad_norms[-1, 0, -1], jac.radius[0]),
        "pca_replay": F.pca_replay([s for s, _ in run.probes], [A.project(pca, t.hidden[layer]) for _, t in
                                                                 run.probes], A.pca_ranges(pca, run.probes, layer)),
        "grad_replay": F.grad_replay([s for s, _ in run.probes], [t.grad_norms[-1, 0] for _, t in run.probes]),
        "next_word_bars": F.next_word_bars([("prices", 0.2), ("the", 0.1), ("<unk>", 0.05)]),
        "connectivity_map": F.connectivity_map(conn.matrix, conn.steps, 5),
        "connectivity_rows": F.connectivity_rows({cell: conn.row(11), "copy": conn.row(5)}, 11),
        "search_match": F.search_match(last.hidden[layer, 0], np.array([0, 2]), 3, 6, "match"),
        **sweep_figures(run),
    }


def sweep_figures(run) -> dict[str, go.Figure]:
    """The Sweep page's figures from result rows (one solved and one unsolved seed per length)."""
    from rnnviz.runs.sweep import frame, summary

    rows = [{"cell": run.config.cell, "seq_len": T, "seed": seed, "solved": seed == 0,
             "steps_to_solve": 10 * T if seed == 0 else None} for T in (10, 20) for seed in (0, 1)]
    results = frame(rows)
    return {"sweep_success": F.sweep_success(summary(results)), "sweep_steps": F.sweep_steps(results)}




@pytest.mark.parametrize("cell", ["lstm", "rnn_tanh", "gru"])
def test_every_figure_builds_from_a_real_run(cell, one_thread):
    config = RunConfig(cell=cell, seq_len=12, hidden_size=6, batch_size=8, steps=6, probe_every=3, eval_every=3,
                       probe_size=4, num_layers=2 if cell == "gru" else 1)
    run = train_run(config)
    figs = all_figures(run)
    assert set(figs) == set(BUILDERS)
    for name, fig in figs.items():
        check_style(fig)
        fig.to_json()  # serialisable as plotly will ship it
        assert points(fig) <= F.MAX_POINTS, name
    n_gates = len(run.probes[-1][1].gates)
    assert len(figs["gate_heatmaps"].data) == (1 if cell == "rnn_tanh" else n_gates)
    assert len(A.radius_history(run.probes)) == len(run.probes) * config.num_layers * (1 if cell == "rnn_tanh" else
                                                                                         n_gates)


def test_classification_run_colours_trajectories_by_class(one_thread):
    config = RunConfig(cell="gru", dataset="memory", seq_len=12, hidden_size=6, batch_size=8, steps=3,
                       probe_every=3, eval_every=3, probe_size=6)
    run = train_run(config)
    _, trace = run.probes[-1]
    labels = A.class_labels(run.data, trace.hidden.shape[1])
    assert labels.tolist() == run.data.y_val[:6].tolist()
    pca = A.fit_pca(run.probes)
    fig = F.pca_trajectories(A.project(pca, trace.hidden[-1])[[0, 2, 4]], color=labels[[0, 2, 4]],
                             explained=pca.explained, class_names=run.data.vocab)
    assert {t.name for t in fig.data[:3]} <= {f"class {v}" for v in run.data.vocab}
    loss = F.loss_curves(run.history, run.data.baseline)
    assert list(loss.data[2].y) == pytest.approx([run.data.baseline["loss"]] * 2)  # chance cross-entropy
    cm = F.confusion(metrics.confusion_matrix(run.model, run.data), run.data.vocab)
    assert np.asarray(cm.data[0].z).sum() == len(run.data.y_val)


def test_a_cell_keeps_its_colour_whichever_cells_are_shown():
    from rnnviz.runs.sweep import summary

    def colours(fig):
        return {t.name.split(" ")[0].rstrip(":"): t.line.color for t in fig.data}

    curve = np.array([1.0, 0.5])
    two, three = (F.compare_grad_curves({c: curve for c in cells}) for cells in (("lstm", "gru"),
                                                                                 ("rnn_tanh", "lstm", "gru")))
    assert colours(two)["gru"] == colours(three)["gru"] and colours(two)["lstm"] == colours(three)["lstm"]
    rows = pd.DataFrame({"cell": ["gru", "gru"], "seq_len": [10, 20], "solved": [True, False],
                         "steps_to_solve": [100.0, np.nan]})
    assert colours(F.sweep_success(summary(rows)))["gru"] == colours(three)["gru"]
    assert len(set(colours(three).values())) == 3
