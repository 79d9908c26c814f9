"""Run files in the sidebar (download this run, open one) and CSV / HTML downloads beside every chart."""

from __future__ import annotations

import hashlib

import streamlit as st

from rnnviz.datasets import DATASETS
from rnnviz.engine.train import Run
from rnnviz.runs import runfile
from rnnviz.runs.registry import registry
from rnnviz.runs.runfile import RunFileError
from rnnviz.runs.trainer import Trainer
from rnnviz.ui.state import use_run
from rnnviz.views import exports

UPLOAD_KEY = "runfile_upload"


def run_file_panel(state) -> None:
    """One sidebar expander: download the current run as a file, or open a run file into this session."""
    error = state.view.pop("runfile_error", None)
    with st.sidebar.expander("Run file", expanded=error is not None):
        run = state.run
        if run is not None and run.model is not None:
            st.download_button(
                "Download this run", data=lambda: run_file_bytes(state.trainer), file_name=run_file_name(run),
                mime="application/zip", key="runfile_download", on_click="ignore", icon=":material/download:",
                help="Settings, per-step history, probe traces and weights in one .zip: open it here later (or on "
                     "another rnnviz) to see every page as it is now, and continue training.",
            )
        st.file_uploader(
            "Open a run file", type=["zip"], key=UPLOAD_KEY, max_upload_size=runfile.MAX_FILE_BYTES // 2**20,
            on_change=_opened, args=(state,),
        )
        if error:
            st.error(error)


def run_file_bytes(trainer: Trainer) -> bytes:
    """The run as a file, taken between two training steps (the worker may be training it). Streamlit builds it
    when the button is clicked, outside the page, where an exception would only break the download: a run too
    large to save gives a .zip holding a note that says why instead."""
    try:
        with trainer.between_steps():
            return runfile.save_run(trainer.run)
    except RunFileError as err:
        return runfile.not_saved(err)


def run_file_name(run: Run) -> str:
    c = run.config
    return f"rnnviz-{c.cell}-{c.dataset}-h{c.hidden_size}-step{max(run.step, 0)}.zip"


def _opened(state) -> None:
    """Uploader callback (runs before the page, so the sidebar's widgets may still be set)."""
    file = st.session_state.get(UPLOAD_KEY)
    if file is None:
        return
    try:
        run = runfile.load_run(file.getvalue())
    except RunFileError as err:
        state.view["runfile_error"] = f"{file.name} was not opened: {err}. The current run stays."
        return
    open_run(state, run)
    state.notice = f"Opened {file.name}: {state.notice}"


def open_run(state, run: Run) -> None:
    """Make `run` this session's run, as if it had just been trained here (its settings go to the sidebar).
    It is registered (and kept) as a new run of this browser; it is not shared through the run cache, as it may
    not be the run its settings would train."""
    run.config = canonical(run.config)
    use_run(state, registry().adopt(run, owner=state.browser, origin="file"))
    state.lesson = None
    left = "" if run.finished else f" Press ▶ Play to continue training to step {run.config.steps:,}."
    state.notice = f"a run at step {max(run.step, 0):,} of {run.config.steps:,}.{left}"


def canonical(config):
    """The config without dataset options at their defaults, as the sidebar builds it (else it would differ from
    what the sidebar's widgets give back, and the opened run would be reset at the next rerun)."""
    defaults = {p.name: p.default for p in DATASETS[config.dataset].params}
    return config.replace(dataset_params={k: v for k, v in config.dataset_params.items() if defaults.get(k) != v})


def chart_downloads(fig, caption: str, key: str | None, data=None) -> None:
    """Small CSV and HTML download buttons under a chart; the files are built only when clicked."""
    stem = exports.file_stem(caption, fig)
    base = key or hashlib.sha1(f"{caption}|{stem}".encode()).hexdigest()[:12]
    table = (lambda: data) if data is not None else (lambda: exports.figure_table(fig))
    c1, c2, _ = st.columns([1, 1, 6])
    with c1:
        csv_download(table, stem, key=f"dl_csv_{base}")
    c2.download_button("HTML", data=lambda: exports.figure_html(fig), file_name=f"{stem}.html", mime="text/html",
                       key=f"dl_html_{base}", on_click="ignore", icon=":material/code:", type="tertiary",
                       help="This figure as a standalone interactive HTML file (works offline).")


def csv_download(table, name: str, key: str, label: str = "CSV") -> None:
    """One CSV download button for a view's table (a DataFrame, or a callable returning one: built on click)."""
    build = table if callable(table) else (lambda: table)
    st.download_button(label, data=lambda: exports.table_csv(build()), file_name=f"{name}.csv", mime="text/csv",
                       key=key, on_click="ignore", icon=":material/table:", type="tertiary",
                       help="This view's data as a CSV file.")
