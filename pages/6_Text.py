"""Text: a character model's units and gates over real text, interpretable units, and sampling."""

import pandas as pd
import streamlit as st

from rnnviz.ui import chart, live, page
from rnnviz.ui.state import start_lesson
from rnnviz.ui.views import view_widget
from rnnviz.views import connectivity, figures, hypotheses, textviz
from rnnviz.views.lessons import BY_KEY

state = page("Text", icon="✍️")


def draw(state) -> None:
    run = state.run
    # ---- word mode: the tutorial's word-level model (next words, sampling, units over words) ----
    if textviz.is_word_model(run.data):
        draw_words(run)
        return
    if not textviz.is_char_model(run.data):
        st.info("This page needs a character-level text model: choose the dataset 'text' in the sidebar.")
        st.button("Start the character-LSTM lesson", key="text_lesson", on_click=start_lesson,
                  args=(state, BY_KEY["text_lstm"]))
        st.button("Start the word-LSTM lesson (the tutorial's model)", key="text_word_lesson", on_click=start_lesson,
                  args=(state, BY_KEY["word_lstm"]))
        return
    c1, c2 = st.columns([1, 1])
    with c1:
        n = view_widget(state, "text_len", 300, st.slider, "Characters to show", min_value=50, max_value=600,
                        step=50)
    # paused, the search and the hypotheses read SEARCH_CHARS of validation text; playing, only what is shown
    text, values = textviz.run_text_values(run, n if state.playing else textviz.SEARCH_CHARS)
    names = list(values)
    state.view["text_what"] = state.view.get("text_what") if state.view.get("text_what") in names else names[0]
    with c2:
        what = view_widget(state, "text_what", names[0], st.selectbox, "Colour by", names,
                           format_func=connectivity.value_label)
    unit, marked = hypothesis_block(state, text, what, values[what], n)
    shown = textviz.signed(what, values[what][:n, unit])  # each gate's own range onto [-1, 1]
    st.markdown(textviz.colored_html(text[:n], shown, marked), unsafe_allow_html=True)
    st.caption(f"Each character is coloured by unit {unit}'s {connectivity.value_label(what)} after reading it: red "
               "high, blue low; the characters the hypothesis marks are underlined.")
    search_block(state, text, values[what], n)
    st.subheader("Sample from the model")
    c1, c2, c3 = st.columns([2, 1, 1])
    prime = c1.text_input("Start with", "The ", key="text_prime")
    temperature = c2.slider("Temperature", 0.1, 2.0, 0.8, 0.1, key="text_temp")
    length = c3.number_input("Length", 10, 1000, 200, key="text_n")
    st.code(prime + textviz.sample(run.current_model(), run.data.vocab, prime, int(length), temperature),
            language=None)
    st.caption("Low temperature picks the likeliest characters; high temperature takes risks.")


def hypothesis_block(state, text: str, what: str, values, n: int) -> tuple[int, object]:
    """Your own hypothesis: a regular expression or a predicate marks characters; the units that follow it best,
    ranked. Returns the unit to colour the text by (the best one unless another is picked) and the marks shown."""
    st.subheader("Test a hypothesis")
    c1, c2 = st.columns([2, 1])
    with c1:
        kind = view_widget(state, "hyp_kind", "inside quotes", st.selectbox, "Which units follow…",
                           hypotheses.KINDS)
    arg = ""
    with c2:
        if kind == hypotheses.REGEX:
            arg = view_widget(state, "hyp_regex", r'"[^"]*"', st.text_input, "Regular expression",
                              max_chars=hypotheses.MAX_PATTERN, help="RE2 syntax (linear time, no backreferences "
                              "or lookaround); the characters of each match are marked.")
        elif kind == hypotheses.AFTER_WORD:
            arg = view_widget(state, "hyp_word", "the", st.text_input, "Word", max_chars=hypotheses.MAX_PATTERN,
                              help="The word that follows each whole-word occurrence of it is marked.")
    try:
        feature = hypotheses.marks(text, kind, arg)
        ranking = hypotheses.rank_units(values, feature, binary=kind in hypotheses.BINARY)
    except hypotheses.HypothesisError as err:
        st.warning(str(err))
        return 0, None
    st.dataframe(ranking.table, hide_index=True, width="stretch", key=state.key("hyp_table"))
    binary = kind in hypotheses.BINARY
    st.caption(f"The hypothesis marks {ranking.marked:,} of {len(text):,} characters of validation text. Units "
               "ranked by |correlation| with it" + (
                   "; precision and recall: how well \"the unit ≥ (or ≤) its threshold\" finds the marked "
                   "characters, at the threshold with the best F1." if binary else "."))
    pick = view_widget(state, f"hyp_unit_{what}_{kind}_{arg}", ranking.best, st.number_input, "Colour by unit",
                       min_value=0, max_value=values.shape[1] - 1)
    return int(pick), feature[:n] > 0


def search_block(state, text: str, values, n: int) -> None:
    """LSTMVis's search on text: the units on over the selected characters and off around them, then every place
    in the searched text where that set is on together, ranked; a row shows it in its context."""
    st.subheader("Find what a unit does")
    c1, c2, c3 = st.columns([2, 1, 1])
    with c2:
        typed = view_widget(state, "span_text", "", st.text_input, "…or find this text",
                            help="Selects the first place this text appears in the characters shown.")
    found = text[:n].find(typed) if typed else -1
    if typed != state.view.get("span_typed"):  # newly typed: it moves the selection
        state.view["span_typed"] = typed
        if found >= 0:
            state.view["span"] = (found, found + len(typed) - 1)
            state.view["span_moves"] = state.view.get("span_moves", 0) + 1
    t0, t1 = state.view.get("span", (0, 0))
    state.view["span"] = (min(t0, n - 1), min(t1, n - 1))
    with c1:
        t0, t1 = view_widget(state, "span", (0, 0), st.slider, "Select characters", min_value=0, max_value=n - 1,
                             token=f"{state.view.get('span_moves', 0)}_{n}")
    with c3:
        threshold = view_widget(state, "text_threshold", 0.5, st.number_input, "Threshold", step=0.05, format="%g")
    if typed and found < 0:
        st.caption(f"{typed!r} is not in the characters shown.")
    st.markdown("Selected: `" + text[t0 : t1 + 1].replace("\n", "↵").replace("`", "ˋ") + "`")
    units = connectivity.units_on(values, t0, t1, float(threshold))
    st.caption(f"The rule (LSTMVis): a unit is in the set if it is at or above {threshold:g} on every selected "
               f"character and below it just before and just after; then every stretch of the {len(text):,} "
               "characters searched where the whole set is on together, ranked by how close its length is to the "
               "selection's.")
    if not len(units):
        st.info("No unit is on over the whole selection and off around it: lower the threshold or change the "
                "selection.")
        return
    matches = connectivity.find_matches(values[None], units, float(threshold), t1 - t0 + 1)
    st.markdown(f"**{len(units)} unit(s):** {', '.join(map(str, units[:40]))}" + (" …" if len(units) > 40 else ""))
    table = pd.DataFrame({"at": [m.start for m in matches], "length": [m.end - m.start + 1 for m in matches],
                          "score": [round(m.score, 3) for m in matches],
                          "text": [textviz.snippet(text, m.start, m.end) for m in matches]})
    picked = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                          key=state.key("text_matches"))
    rows = picked.selection.rows if picked is not None else []
    if not rows:
        st.caption("Click a row to see that match in its context.")
        return
    m = matches[rows[0]]
    around, shown, inside = textviz.match_context(text, values, units, m.start, m.end)
    st.markdown(textviz.colored_html(around, shown, inside, mark="box"), unsafe_allow_html=True)
    st.caption(f"The match at character {m.start:,} (boxed) in its context, coloured by the mean of the unit set.")


def draw_words(run) -> None:
    """Word mode: the next words after a prompt, a sampled continuation, and units coloured over words."""
    vocab, model = run.data.vocab, run.current_model()  # a copy between two steps: training goes on
    st.subheader("What comes next?")
    prompt = st.text_input("Prompt", "Stock market sees sharp rise in", key="words_prompt")
    ids, seen = textviz.encode_words(prompt, vocab)
    st.caption("The model reads: " + " ".join(seen) + "  (words outside its vocabulary are <unk>)")
    top = textviz.next_words(model, vocab, prompt, k=10)
    if top:
        chart(figures.next_word_bars(top), figures.CAPTIONS["next_word_bars"],
              data=pd.DataFrame(top, columns=["word", "probability"]))
    c1, c2, c3 = st.columns([1, 1, 1])
    temperature = c1.slider("Temperature", 0.1, 2.0, 0.8, 0.1, key="words_temp")
    length = c2.number_input("Words", 5, 300, 40, key="words_n")
    seed = c3.number_input("Sample seed", 0, 10_000, 0, key="words_seed")
    words = textviz.sample_words(model, vocab, prompt, int(length), temperature, int(seed))
    st.code(textviz.join_words(words, out=prompt), language=None, wrap_lines=True)
    st.caption("Low temperature picks the likeliest words; high temperature takes risks. <unk> is never drawn.")
    st.subheader("Units over words")
    n = st.slider("Words to show", 20, 300, 120, step=20, key="words_len")
    ids = run.data.x_val.flatten()[:n]
    tokens = [vocab[int(i)] for i in ids]
    acts = textviz.word_activations(model, ids)
    c1, c2 = st.columns([1, 1])
    what = c1.selectbox("Colour by", list(acts), key="words_what")
    feature = c2.radio("Find units tied to", textviz.WORD_FEATURES, horizontal=True, key="words_feature")
    top_units = textviz.top_units(acts[what], textviz.word_features(tokens)[feature])
    st.caption("Units most correlated with that feature (correlation in brackets): "
               + ", ".join(f"{u} ({r:+.2f})" for u, r in top_units))
    unit = st.number_input("Unit", 0, acts[what].shape[1] - 1, top_units[0][0], key=f"words_unit_{what}")
    values = textviz.signed(what, acts[what][:, unit])  # each gate's own range onto [-1, 1]
    st.markdown(textviz.colored_words_html(tokens, values), unsafe_allow_html=True)
    st.caption("Each word is coloured by the chosen unit's value after reading it: red high, blue low.")


live(draw, state)
