"""Text: a character model's units and gates over real text, interpretable units, and sampling."""

import streamlit as st

from rnnviz import textviz
from rnnviz.cellspec import gate_label
from rnnviz.lessons import BY_KEY
from rnnviz.ui import live, page
from rnnviz.ui.state import start_lesson

state = page("Text", icon="✍️")


def draw(state) -> None:
    run = state.run
    if not textviz.is_char_model(run.data):
        st.info("This page needs a character-level text model: choose the dataset 'text' in the sidebar.")
        st.button("Start the character-LSTM lesson", key="text_lesson", on_click=start_lesson,
                  args=(state, BY_KEY["text_lstm"]))
        return
    n = st.slider("Characters to show", 50, 600, 300, step=50, key="text_len")
    vocab = run.data.vocab
    text = textviz.passage(run.data, n)
    acts = textviz.activations(run.model, text, vocab)
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
    st.code(prime + textviz.sample(run.model, vocab, prime, int(length), temperature), language=None)
    st.caption("Low temperature picks the likeliest characters; high temperature takes risks.")


live(draw, state)
