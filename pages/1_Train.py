"""Train: loss against the baseline, predictions or accuracy, and the run's summary."""

import pandas as pd
import streamlit as st

from rnnviz.engine.config import training_bytes
from rnnviz.engine.model import parameter_count
from rnnviz.ui import chart, live, page
from rnnviz.views import figures, metrics

state = page("Train", icon="📉")


def draw(state) -> None:
    run, data = state.run, state.run.data
    model = run.current_model()  # a copy between two steps: training goes on beside the page
    st.caption(data.description if data is not None else "")
    out = metrics.predict(model, data)  # one validation pass feeds the scores, the verdict and both plots
    scores = metrics.evaluate_metrics(model, data, out)
    head = metrics.headline(scores, data)
    cols = st.columns(4)
    cols[0].metric("Parameters", f"{parameter_count(model):,}")
    cols[1].metric("Step", f"{max(run.step, 0):,} / {state.config.steps:,}")
    cols[2].metric("Training time", f"{run.seconds:,.1f} s")
    if head is not None:
        cols[3].metric(head.title, f"{head.value:.4g}", help=None if head.baseline is None else
                       f"Baseline (a model that learned nothing): {head.baseline:.4g}")
    if (verdict := metrics.solved_verdict(scores, data)) is not None:
        (st.success if verdict.solved else st.caption)(verdict.text)
    marks = run.change_labels()
    chart(figures.change_marks(figures.loss_curves(run.history, data.baseline), marks), figures.CAPTIONS["loss_curves"])
    if marks:
        st.subheader("Changes")
        st.dataframe(pd.DataFrame(marks, columns=["step", "change"]), hide_index=True,
                     column_config={"step": st.column_config.NumberColumn(format="%d")})
        st.caption("Live changes apply from the step shown; a run's link and run file carry them, so either "
                   "trains the same numbers again.")
    if data.task == "regression":
        chart(figures.predictions(out[:200], data.y_val[:200]), figures.CAPTIONS["predictions"])
    elif data.task == "classification":
        labels = data.vocab or [str(i) for i in range(data.output_size)]
        chart(figures.confusion(metrics.confusion_matrix(model, data, out), labels), figures.CAPTIONS["confusion"])
    extra = {k: v for k, v in scores.items() if head is None or k != head.name}
    if extra:
        st.dataframe({k: [round(v, 4)] for k, v in extra.items()}, hide_index=True)

    # --- speed and memory: the run's time per step beside its memory estimate, and why probes are spaced out
    cost = st.columns(2)
    per_step = run.seconds_per_step
    cost[0].metric("Time per step", "not measured yet" if per_step is None else f"{1000 * per_step:,.1f} ms",
                   help="Training compute time so far divided by the steps trained (probes and validation included)")
    cost[1].metric("Training memory (estimate)", f"{training_bytes(run.config) / 2**20:,.1f} MB",
                   help="What one training step keeps for backpropagation through time")
    if run.probe_note:
        st.caption(run.probe_note)


live(draw, state)
