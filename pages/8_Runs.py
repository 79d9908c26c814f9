"""Runs: every run this browser trained (kept on the server's disk), to open, rename, delete, download or overlay."""

import streamlit as st

from rnnviz.runs import listing
from rnnviz.runs.registry import registry
from rnnviz.ui import chart, page
from rnnviz.ui.runfiles import run_file_bytes, run_file_name
from rnnviz.ui.state import apply_config, run_link, use_run
from rnnviz.ui.views import view_widget
from rnnviz.views import compare, figures

state = page("Runs", icon="🗂️", control=False)
reg = registry()
entries = reg.entries(state.browser)
st.caption("Every run this browser trained on this server, newest first — on the Train page, from a lesson, a "
           "sweep, Compare or a run file — kept on disk until the store needs room for newer ones (finished runs "
           "opened least recently go first). Another browser sees none of them without a run's link.")
if not entries:
    st.info("No runs yet: press ▶ Play on the Train page (or start a lesson on Home) and your runs appear here.")
    st.stop()

names = listing.labels(entries)  # key -> a unique label: what pickers show and store
by_name = {names[e.key]: e for e in entries}
st.dataframe(listing.table(entries), hide_index=True, width="stretch")

st.subheader("One run")
labels = list(by_name)
own = names.get(state.access.held.key) if state.access is not None else None
if state.view.get("runs_pick") not in by_name:
    state.view["runs_pick"] = own or labels[0]
pick = view_widget(state, "runs_pick", labels[0], st.selectbox, "Run", labels)
entry = by_name[pick]
access = reg.open(entry.run_id)
if access is None:
    st.error(f"This run's checkpoint can't be read ({entry.error or 'it is missing'}): it is skipped. Delete it "
             "to tidy the list.")
else:
    st.caption(listing.settings_line(access.trainer.config))
    cols = st.columns(4)
    if cols[0].button("Open", icon=":material/open_in_new:", type="primary", key=state.key("runs_open")):
        use_run(state, access)
        st.switch_page("pages/1_Train.py")
    cols[1].download_button("Download", data=lambda: run_file_bytes(access.trainer),
                            file_name=run_file_name(access.run), mime="application/zip", on_click="ignore",
                            icon=":material/download:",
                            key=state.key("runs_download"))
    confirm = cols[3].checkbox("Really delete", key=state.key("runs_confirm"))
    if cols[2].button("Delete", icon=":material/delete:", disabled=not confirm, key=state.key("runs_delete")):
        mine = state.access is not None and state.access.held is access.held
        reg.delete(access)
        state.view.pop("runs_pick", None)
        if mine:  # the session's own run is gone: a fresh one of its settings takes its place
            apply_config(state, access.trainer.config, force=True, use_cache=False)
        state.notice = f"Deleted {pick}."
        st.rerun()
    new_name = st.text_input("Name", value=entry.name, max_chars=80, key=state.key(f"runs_name_{entry.key}"),
                             placeholder=pick, help="Shown here and in the overlay's legend.")
    if new_name.strip() != entry.name:
        reg.rename(access, new_name)
        state.view["runs_pick"] = listing.labels([entry])[entry.key]
        st.rerun()
    with st.expander("Links to this run"):
        st.markdown("**Its link** (opens it with Play, Pause, Step and Reset — give it to no one you would not "
                    "hand the run to):")
        st.code(run_link(access.secret, access.trainer.config, changes=access.run.changes), language=None)
        st.markdown("**A view-only link** (others watch it train; they cannot play, pause, reset or delete it):")
        st.code(run_link(access.held.entry.view_token, access.trainer.config, changes=access.run.changes),
                language=None)

st.subheader("Overlay")
state.view["runs_overlay"] = [n for n in state.view.get("runs_overlay", labels[:2]) if n in by_name]
chosen = view_widget(state, "runs_overlay", state.view["runs_overlay"], st.multiselect, "Runs to overlay", labels,
                     max_selections=listing.MAX_OVERLAY, help=f"Up to {listing.MAX_OVERLAY} runs, each in its own "
                     "colour.")
runs = {n: a.run for n in chosen if (a := reg.open(by_name[n].run_id)) is not None and a.run.step >= 1}
if not runs:
    st.info("Tick runs above to overlay their loss and gradient-decay curves.")
else:
    colors = listing.colors(list(runs))
    losses = figures.compare_losses({n: compare.own_history(r) for n, r in runs.items()}, None, colors=colors)
    chart(figures.change_marks(losses, compare.fork_marks(runs)), figures.CAPTIONS["runs_losses"], key="runs_losses")
    chart(figures.compare_grad_curves(compare.last_grad_curves(runs), colors=colors),
          figures.CAPTIONS["runs_grad_curves"], key="runs_grads")
