"""Sweep: success rate against sequence length per cell, over seeds — where does each cell stop remembering?"""

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from rnnviz import ConfigError, DatasetError
from rnnviz.engine.config import CELLS, to_query
from rnnviz.runs import cluster, sweep
from rnnviz.runs.registry import registry
from rnnviz.ui import chart, page
from rnnviz.ui.control import session_connected
from rnnviz.ui.views import view_widget
from rnnviz.views import figures

state = page("Sweep", icon="📈", control=False)
st.caption("One run shows one case; this shows the curve. Every cell trains on every sequence length with "
           "several seeds, each run to the step budget or until it solves the task (the dataset's threshold). "
           "A sweep keeps what finished if you stop it; finished runs open in the other pages from the table.")


def use_preset(name: str) -> None:
    """The choices live in state.view (sw_preset, sw_task, ...), so they survive page switches like every view
    setting; a preset sets them all."""
    state.view.update(sw_preset=name, **{f"sw_{k}": v for k, v in sweep.preset_form(name).items()})


def load_preset(key: str) -> None:
    use_preset(st.session_state[key])
    state.form += 1  # every widget redraws from the preset's values


if "sw_preset" not in state.view:
    use_preset("adding")


preset_key = state.key("view_sw_preset")
st.selectbox("Preset", list(sweep.PRESETS), index=list(sweep.PRESETS).index(state.view["sw_preset"]),
             format_func=lambda k: sweep.PRESETS[k].title, key=preset_key, on_change=load_preset, args=(preset_key,),
             help="Loads the preset's task, cells, lengths, seeds and budget.")
c = st.columns([1, 2, 2, 1, 1])
with c[0]:
    view_widget(state, "sw_task", "adding", st.selectbox, "Task", sweep.SWEEP_TASKS)
with c[1]:
    view_widget(state, "sw_cells", [], st.multiselect, "Cells", list(CELLS))
with c[2]:
    view_widget(state, "sw_lengths", "", st.text_input, "Sequence lengths T", help="Comma-separated, each 2 to 2000.")
with c[3]:
    view_widget(state, "sw_seeds", 3, st.number_input, "Seeds", min_value=1, max_value=20)
with c[4]:
    view_widget(state, "sw_budget", 3000, st.number_input, "Step budget", min_value=10, max_value=100_000, step=500)
preset = sweep.PRESETS[state.view["sw_preset"]]
st.caption(f"Other settings from the preset: {preset.grid.base.hidden_size} units, {preset.grid.base.optimizer} lr "
           f"{preset.grid.base.lr:g}, clip {preset.grid.base.clip}, batch {preset.grid.base.batch_size}; solved is "
           f"checked every {preset.grid.check_every} steps. {preset.why}")

if not cluster.ray_available():
    address = None
    st.caption(f"Runs use this server's cores. To run sweeps on a Ray cluster: `pip install -r requirements-ray.txt`"
               f", then set {cluster.RAY_ADDRESS_ENV} (e.g. `auto` or `ray://head:10001`) or the address here.")
elif cluster.ray_address():  # the server's operator chose the cluster: attendees can't point sweeps elsewhere
    address = cluster.ray_address()
    st.text_input("Ray cluster address", value=address, disabled=True, key=state.key("sw_ray"),
                  help=f"Set by the server ({cluster.RAY_ADDRESS_ENV}); sweeps run on that cluster.")
else:
    address = view_widget(state, "sw_ray", "", st.text_input, "Ray cluster address",
                          help="Empty: this server's cores (a process pool). Or e.g. `auto`, `ray://head:10001`.")

reg = registry()
if state.view.get("sweep") is None and (kept := reg.latest_sweep(state.browser)) is not None:
    state.view["sweep"] = kept  # after a reload (or a restart): this browser's latest sweep, under way or kept
current = state.view.get("sweep")
go_col, stop_col = st.columns([1, 5])
if go_col.button("▶ Run sweep", type="primary", disabled=bool(current and current.running), key="sw_start"):
    v = state.view
    try:
        grid = sweep.grid_for(v["sw_preset"], v["sw_task"], v["sw_cells"], v["sw_lengths"], v["sw_seeds"],
                              v["sw_budget"])
        state.view["sweep"] = reg.start_sweep(grid, state.browser, address or None)
        st.rerun()  # draw the page again with the sweep under way, so its progress ticks
    except (ConfigError, DatasetError) as err:
        st.error(f"{err}")
if current is not None and current.running and stop_col.button("⏹ Stop (keeps finished runs)", key="sw_stop"):
    current.stop()
if current is not None and not current.running and current.unfinished and current.done:
    why = "the server restarted while it ran" if current.interrupted else "it was stopped"
    st.info(f"This sweep has {current.done} of {current.total} runs done ({why}). Its finished runs are kept; "
            "resuming trains only the others.", icon=":material/pending:")
    if st.button(f"▶ Resume the {current.unfinished} runs that did not finish", key="sw_resume"):
        state.view["sweep"] = reg.resume_sweep(current, state.browser, address or None)
        st.rerun()


def links(results: pd.DataFrame) -> list[str]:
    """Each run's settings as a link to the Train page (the pages read their config from the URL)."""
    return ["Train?" + urlencode(to_query(c)) for c in results["config"]]


TICKING = current is not None and current.running


@st.fragment(run_every=1.0 if TICKING else None)
def progress() -> None:
    s = state.view.get("sweep")
    if s is not None:
        s.touch()  # someone is watching: the sweep keeps going (an unwatched one stops by itself)
        s.connected = s.connected or session_connected()
    if TICKING and not s.running:
        st.rerun()  # the sweep ended: redraw the whole page once, which stops this timer
    if s is None:
        st.info("Pick a preset (or your own grid) and press ▶ Run sweep.")
        return
    left = s.seconds_left
    st.progress(s.done / s.total, text=f"{s.done} / {s.total} runs done" + (
        f", about {left:,.0f} s left" if left and s.running else "" if s.running else
        " (stopped)" if s.stopped else " (finished)"))
    if s.error:
        st.error(f"The sweep stopped: {s.error}")
    results = s.results
    if results.empty:
        return
    chart(figures.sweep_success(sweep.summary(results)), figures.CAPTIONS["sweep_success"], key="sw_success")
    chart(figures.sweep_steps(results), figures.CAPTIONS["sweep_steps"], key="sw_steps")
    table = results.drop(columns="config").assign(open=links(results))
    st.dataframe(table, hide_index=True,
                 column_config={"open": st.column_config.LinkColumn("open", display_text="open in Train")})


progress()
