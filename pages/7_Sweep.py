"""Sweep: success rate against sequence length per cell, over seeds — where does each cell stop remembering?"""

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from rnnviz import ConfigError, DatasetError, figures, sweep
from rnnviz.config import CELLS, to_query
from rnnviz.ui import chart, page

TASKS = ("adding", "memory", "temporal_order")
state = page("Sweep", icon="📈", control=False)
st.caption("One run shows one case; this shows the curve. Every cell trains on every sequence length with "
           "several seeds, each run to the step budget or until it solves the task (the dataset's threshold). "
           "A sweep keeps what finished if you stop it; finished runs open in the other pages from the table.")


def load_preset() -> None:
    grid = sweep.PRESETS[st.session_state.sw_preset].grid
    st.session_state.update(sw_task=grid.base.dataset, sw_cells=list(grid.cells), sw_budget=grid.budget,
                            sw_lengths=", ".join(map(str, grid.seq_lens)), sw_seeds=len(grid.seeds))


if "sw_preset" not in st.session_state:
    st.session_state.sw_preset = "adding"
    load_preset()
st.selectbox("Preset", list(sweep.PRESETS), format_func=lambda k: sweep.PRESETS[k].title, key="sw_preset",
             on_change=load_preset, help="Loads the preset's task, cells, lengths, seeds and budget.")
c = st.columns([1, 2, 2, 1, 1])
c[0].selectbox("Task", TASKS, key="sw_task")
c[1].multiselect("Cells", list(CELLS), key="sw_cells")
c[2].text_input("Sequence lengths T", key="sw_lengths", help="Comma-separated, each 2 to 2000.")
c[3].number_input("Seeds", 1, 20, key="sw_seeds")
c[4].number_input("Step budget", 10, 100_000, step=500, key="sw_budget")
base = sweep.PRESETS[st.session_state.sw_preset].grid.base
st.caption(f"Other settings from the preset: {base.hidden_size} units, {base.optimizer} lr {base.lr:g}, clip "
           f"{base.clip}, batch {base.batch_size}; solved is checked every "
           f"{sweep.PRESETS[st.session_state.sw_preset].grid.check_every} steps.")

if sweep.ray_available():
    address = st.text_input("Ray cluster address", value=sweep.ray_address() or "", key="sw_ray",
                            help=f"Empty: this server's cores (a process pool). Default from {sweep.RAY_ADDRESS_ENV}.")
else:
    address = None
    st.caption(f"Runs use this server's cores. To run sweeps on a Ray cluster: `pip install -r requirements-ray.txt`"
               f", then set {sweep.RAY_ADDRESS_ENV} (e.g. `auto` or `ray://head:10001`) or the address here.")

current = state.view.get("sweep")
go_col, stop_col = st.columns([1, 5])
if go_col.button("▶ Run sweep", type="primary", disabled=bool(current and current.running), key="sw_start"):
    try:
        grid = sweep.grid_for(st.session_state.sw_preset, st.session_state.sw_task, st.session_state.sw_cells,
                              st.session_state.sw_lengths, st.session_state.sw_seeds, st.session_state.sw_budget)
        state.view["sweep"] = sweep.start_sweep(grid, address or None)
    except (ConfigError, DatasetError) as err:
        st.error(f"{err}")
if current is not None and current.running and stop_col.button("⏹ Stop (keeps finished runs)", key="sw_stop"):
    current.stop()


def links(results: pd.DataFrame) -> list[str]:
    """Each run's settings as a link to the Train page (the pages read their config from the URL)."""
    return ["Train?" + urlencode(to_query(c)) for c in results["config"]]


TICKING = current is not None and current.running


@st.fragment(run_every=1.0 if TICKING else None)
def progress() -> None:
    s = state.view.get("sweep")
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
