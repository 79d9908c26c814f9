"""Text: a character model's units and gates over real text, interpretable units, and sampling."""

import pandas as pd
import streamlit as st

from rnnviz.engine.cellspec import gate_label
from rnnviz.ui import chart, live, page
from rnnviz.ui.state import start_lesson
from rnnviz.views import figures, textviz
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
    n = st.slider("Characters to show", 50, 600, 300, step=50, key="text_len")
    vocab = run.data.vocab
    text = textviz.passage(run.data, n)
    model = run.current_model()  # a copy between two steps: training goes on beside the page
    acts = textviz.activations(model, text, vocab)
    c1, c2 = st.columns([1, 1])
    what = c1.selectbox("Colour by", list(acts), format_func=gate_label, key="text_what")
    feature = c2.radio("Find units tied to", textviz.FEATURES, horizontal=True, key="text_feature")
    top = textviz.top_units(acts[what], textviz.text_features(text)[feature])
    st.caption("Units most correlated with that feature (correlation in brackets): "
               + ", ".join(f"{u} ({r:+.2f})" for u, r in top))
    unit = st.number_input("Unit", 0, acts[what].shape[1] - 1, top[0][0], key=f"text_unit_{what}")
    values = textviz.signed(what, acts[what][:, unit])  # each gate's own range onto [-1, 1]
    st.markdown(textviz.colored_html(text, values), unsafe_allow_html=True)
    st.caption("Each character is coloured by the chosen unit's value after reading it: red high, blue low. "
               "Look for units that switch on inside quotes or brackets, or ramp along a line.")
    st.subheader("Sample from the model")
    c1, c2, c3 = st.columns([2, 1, 1])
    prime = c1.text_input("Start with", "The ", key="text_prime")
    temperature = c2.slider("Temperature", 0.1, 2.0, 0.8, 0.1, key="text_temp")
    length = c3.number_input("Length", 10, 1000, 200, key="text_n")
    st.code(prime + textviz.sample(model, vocab, prime, int(length), temperature), language=None)
    st.caption("Low temperature picks the likeliest characters; high temperature takes risks.")


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
