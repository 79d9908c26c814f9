"""The dynamics blocks of the Hidden states and Gradients pages, through AppTest, and their figure builders."""

import numpy as np
import pytest

from rnnviz.runs import capacity
from rnnviz.ui.views import selected_times
from rnnviz.views import analysis, dynamics, figures
from tests.pagetools import decode, open_page, play_to_the_end, specs, state, widget
from tests.test_figures import animation_points, points

SHORT = {"steps": "40", "hidden_size": "16", "seq_len": "20", "probe_every": "10", "eval_every": "10"}


@pytest.fixture(autouse=True)
def empty_run_cache():
    capacity.RUN_CACHE.clear()


@pytest.fixture(scope="module")
def trained():
    """The Gradients page of a short LSTM run trained to the end (5 probes); pages switch from it."""
    capacity.RUN_CACHE.clear()
    at = open_page("pages/4_Gradients.py", **SHORT)
    return play_to_the_end(at)


def by_title(at, start: str) -> dict:
    found = [s for s in specs(at) if s["layout"].get("title", {}).get("text", "").startswith(start)]
    assert found, [s["layout"].get("title", {}).get("text") for s in specs(at)]
    return found[0]


def trace_named(spec: dict, name: str) -> dict:
    found = [t for t in spec["data"] if (t.get("name") or "").startswith(name)]
    assert found, [t.get("name") for t in spec["data"]]
    return found[0]


def test_gradients_page_shows_sigma_max_beside_the_gradient(trained):
    at = trained
    run = state(at).run
    step, trace = run.probes[-1]
    spec = by_title(at, "Step Jacobians")
    jac = dynamics.run_jacobians(run, step, (0,))
    np.testing.assert_allclose(decode(trace_named(spec, "σ_max")["y"]), jac.sigma_max[0], rtol=1e-6)
    np.testing.assert_allclose(decode(trace_named(spec, "‖∂L/∂h_t‖")["y"]), trace.grad_norms[-1, 0], rtol=1e-6)
    assert list(decode(trace_named(spec, "1: keeps")["y"])) == [1.0, 1.0]
    bound = decode(trace_named(spec, "bound")["y"])
    assert np.all(decode(trace_named(spec, "‖∂L/∂h_t‖")["y"]) <= bound * (1 + 1e-5))
    assert "(h, c)" in spec["layout"]["title"]["text"]  # the default run is an LSTM: the full state


def test_hidden_states_fixed_points_drawn_in_the_pca_axes(trained):
    at = trained
    at.switch_page("pages/2_Hidden_states.py").run()
    at.toggle(key="hs_fixed").set_value(True).run()
    assert not at.exception, at.exception
    run = state(at).run
    step = run.probes[-1][0]
    found = dynamics.run_fixed_points(run, step, 0.0)
    assert found.kind, "the trained LSTM has at least one fixed point for input 0"
    spec = by_title(at, "Hidden-state trajectories")
    points = [t for t in spec["data"] if (t.get("name") or "").split(" (")[0].endswith((" fixed point", " slow point"))]
    xy = np.concatenate([np.stack([decode(t["x"]), decode(t["y"])], 1) for t in points])
    expected = analysis.project(analysis.fit_pca(run.probes), found.hidden)[:, :2]
    np.testing.assert_allclose(np.sort(xy, 0), np.sort(expected, 0), rtol=1e-6, atol=1e-9)
    lo, hi = spec["layout"]["xaxis"]["range"]
    assert np.all((lo <= xy[:, 0]) & (xy[:, 0] <= hi))  # the axes cover the points


def test_time_cursor_marks_the_same_steps_on_every_view(trained):
    at = trained
    at.switch_page("pages/2_Hidden_states.py").run()
    state(at).view["time"] = (3, 5)
    at.run()
    run = state(at).run
    step, trace = run.probes[-1]
    traj = by_title(at, "Hidden-state trajectories")
    marks = trace_named(traj, "cursor t = 3–5")
    pts = analysis.project(analysis.fit_pca(run.probes), trace.hidden[-1])[:4, 3:6, :2].reshape(-1, 2)
    np.testing.assert_allclose(decode(marks["x"]), pts[:, 0], rtol=1e-6)
    heat = by_title(at, "h_t of sample")
    assert [(s["x0"], s["x1"]) for s in heat["layout"]["shapes"]] == [(2.5, 5.5)]
    at.switch_page("pages/4_Gradients.py").run()
    for title in ("Gradient norm through time", "Step Jacobians", "Input saliency"):
        shapes = by_title(at, title)["layout"]["shapes"]
        assert shapes and all((s["x0"], s["x1"]) == (2.5, 5.5) for s in shapes), title
    at.button(key="grad_cursor_clear").click().run()
    assert "time" not in state(at).view
    assert not by_title(at, "Step Jacobians")["layout"].get("shapes")


def test_selected_sample_carries_across_pages(trained):
    at = trained
    at.switch_page("pages/2_Hidden_states.py").run()
    widget(at, "number_input", "view_sample").set_value(2).run()
    assert state(at).view["sample"] == 2
    assert by_title(at, "h_t of sample 2")
    at.switch_page("pages/4_Gradients.py").run()
    assert widget(at, "number_input", "view_sample").value == 2
    assert "sample 2" in by_title(at, "Step Jacobians")["layout"]["title"]["text"]
    at.switch_page("pages/3_Gates.py").run()
    assert widget(at, "number_input", "view_sample").value == 2
    state(at).view["sample"] = 0


def test_replay_training_animates_every_probe_on_fixed_axes(trained):
    at = trained
    at.switch_page("pages/2_Hidden_states.py").run()
    at.toggle(key="hs_replay").set_value(True).run()
    run = state(at).run
    spec = by_title(at, "Training replay: hidden-state")
    assert [f["name"] for f in spec["frames"]] == [str(s) for s, _ in run.probes]
    pca = analysis.fit_pca(run.probes)
    first = analysis.project(pca, run.probes[0][1].hidden[-1])
    T = first.shape[1]
    np.testing.assert_allclose(decode(spec["frames"][0]["data"][0]["x"])[:T], first[0, :, 0], rtol=1e-6)
    np.testing.assert_allclose(spec["layout"]["xaxis"]["range"], analysis.pca_ranges(pca, run.probes)[0])
    at.switch_page("pages/4_Gradients.py").run()
    at.toggle(key="grad_replay").set_value(True).run()
    spec = by_title(at, "Training replay: gradient")
    assert len(spec["frames"]) == len(run.probes)
    np.testing.assert_allclose(decode(spec["frames"][0]["data"][0]["y"]), run.probes[0][1].grad_norms[-1, 0],
                               rtol=1e-6)
    np.testing.assert_allclose(decode(spec["frames"][-1]["data"][1]["y"]),
                               dynamics.run_jacobians(run, run.probes[-1][0], (0,)).sigma_max[0], rtol=1e-6)


# ---------------------------------------------------------------- selections and figure budgets


@pytest.mark.parametrize("selection, time_axis, expected", [
    ({"points": [{"x": 0.3, "y": 1, "customdata": 7}, {"x": 2, "customdata": [4]}]}, False, (4, 7)),
    ({"points": [{"x": 12, "y": 0.5}]}, True, (12, 12)),
    ({"points": [{"x": 12, "y": 0.5}]}, False, None),  # PCA coordinates are not times
    ({"points": [], "box": [{"x": [7.8, 3.2], "y": [0, 1]}]}, True, (3, 8)),
    ({"points": [], "box": [], "lasso": [{"x": [1.0, 4.4, 2.0], "y": [0, 1, 2]}]}, True, (1, 4)),
    ({"points": [], "box": [], "lasso": []}, True, None),
    (None, True, None),
])
def test_selected_times(selection, time_axis, expected):
    assert selected_times(selection, time_axis) == expected


def test_dynamics_figures_stay_under_the_point_budget():
    rng = np.random.default_rng(0)
    T = 5000
    fig = figures.jacobian_spectrum(rng.random(T), rng.random(T), rng.random(T), rng.random(T))
    assert points(fig) <= figures.MAX_POINTS
    steps = list(range(0, 8000, 100))
    fig = figures.pca_replay(steps, [rng.random((64, 2000, 3)) for _ in steps], np.array([[0, 1]] * 3))
    assert len(fig.frames) == figures.REPLAY_FRAMES and animation_points(fig) <= figures.MAX_POINTS
    fig = figures.grad_replay(steps, [rng.random(2000) for _ in steps], [rng.random(2000) for _ in steps])
    assert animation_points(fig) <= figures.MAX_POINTS
    traj = figures.pca_trajectories(rng.random((8, 50, 3)))
    figures.add_fixed_points(traj, rng.random((10_000, 3)), ["stable"] * 10_000, np.ones(10_000, bool))
    figures.trajectory_cursor(traj, rng.random((64, 2000, 3)), 0, 1999)
    assert points(traj) <= figures.MAX_POINTS


def test_a_selection_on_any_chart_moves_the_cursor_once(monkeypatch):
    from types import SimpleNamespace

    from rnnviz import RunConfig
    from rnnviz.ui import views
    from rnnviz.ui.state import AppState

    events = {"traj_sel": None, "grad_sel": {"selection": {"points": [{"x": 7}, {"x": 4}]}}}
    monkeypatch.setattr(views, "st", SimpleNamespace(session_state=events))  # what Streamlit keeps per chart key
    state, keys = AppState(RunConfig()), {"traj_sel": False, "grad_sel": True}
    assert views.time_cursor(state, keys, T=10) == (4, 7) and state.view["time"] == (4, 7)
    state.view.pop("time")  # "Clear cursor"; the chart still holds its old selection, which is not news
    assert views.time_cursor(state, keys, T=10) is None
    events["traj_sel"] = {"selection": {"points": [{"customdata": [12]}]}}  # a trajectory point: its time step
    assert views.time_cursor(state, keys, T=10) is None  # t = 12 is past this run's T
    assert views.time_cursor(state, keys, T=20) == (12, 12)
    events["grad_sel"] = {"selection": {"box": [{"x": [-3.2, 30.4]}]}}  # a box wider than the sequence
    assert views.time_cursor(state, keys, T=20) == (0, 19)
