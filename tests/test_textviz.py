"""Text page helpers: sampling, activations per character, interpretable units, safe HTML."""

import numpy as np
import torch

from rnnviz import RunConfig, load_dataset
from rnnviz.datasets.real import HELD_OUT, python_help_text
from rnnviz.engine.train import build_model
from rnnviz.views.hypotheses import predicates
from rnnviz.views.textviz import (
    colored_html,
    encode,
    is_char_model,
    passage,
    sample,
    signed,
    snippet,
    text_values,
    top_units,
)

CFG = RunConfig(cell="lstm", hidden_size=12, seq_len=20, dataset="text", embedding_size=8,
                dataset_params={"n_train": 64, "n_val": 16})


def model_and_vocab():
    data = load_dataset(CFG)
    return build_model(CFG, data), data.vocab


def test_sampling_is_seeded_and_uses_the_vocabulary():
    model, vocab = model_and_vocab()
    a = sample(model, vocab, "The ", 40, temperature=1.0, seed=3)
    assert a == sample(model, vocab, "The ", 40, temperature=1.0, seed=3)
    assert a != sample(model, vocab, "The ", 40, temperature=1.0, seed=4)
    assert len(a) == 40 and set(a) <= set(vocab)


def test_text_values_have_one_row_per_character_and_match_the_fused_model():
    model, vocab = model_and_vocab()
    text = "def f(x):\n    return 'x'"
    acts = text_values(model, text, vocab)
    assert set(acts) == {"hidden", "cell_state", "input", "forget", "candidate", "output"}
    assert acts["hidden"].shape == (len(encode(text, vocab)), 12)
    with torch.no_grad():
        states, _ = model.rnn(model.rnn_input(encode(text, vocab)[None]))
    np.testing.assert_allclose(acts["hidden"], states[0].numpy(), atol=1e-5)
    lstm = torch.nn.LSTM(model.rnn.input_size, 12, batch_first=True)
    lstm.load_state_dict(model.rnn.state_dict())
    with torch.no_grad():
        _, (_, c_last) = lstm(model.rnn_input(encode(text, vocab)[None]))
    np.testing.assert_allclose(acts["cell_state"][-1], c_last[0, 0].numpy(), atol=1e-5)  # PyTorch's own c_T
    assert ((acts["forget"] > 0) & (acts["forget"] < 1)).all()


def test_top_units_finds_a_unit_that_tracks_quotes():
    text = 'say "hello there" and "bye" now' * 3
    inside = predicates(text)["inside quotes"]
    values = np.random.default_rng(0).normal(size=(len(text), 6)) * 0.1
    values[:, 4] += inside
    assert top_units(values, inside, k=1)[0][0] == 4
    assert top_units(values, inside, k=1)[0][1] > 0.9


def test_features_track_brackets_and_line_position():
    f = predicates("a((b)c\nx)y")
    assert f["inside brackets"].tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    assert f["nesting depth"].tolist() == [0, 1, 2, 2, 1, 1, 1, 1, 0, 0]
    assert f["position in line"].tolist() == [1, 2, 3, 4, 5, 6, 0, 1, 2, 3]


def test_snippet_marks_the_match_with_context():
    assert snippet("hello world\nagain", 6, 10, context=3) == "…lo ⟦world⟧↵ag…"
    assert snippet("abc", 0, 2) == "⟦abc⟧"


def test_colored_html_marks_characters():
    html = colored_html("ab", np.array([0.0, 0.0]), marked=np.array([False, True]), mark="box")
    first, second = html.split("</span>")[:2]
    assert "outline" not in first and "outline" in second


def test_colored_html_escapes_text():
    html = colored_html("<b>&", np.array([1.0, -1.0, 0.0, 0.5]))
    assert "<b>" not in html and "&lt;" in html and "&gt;" in html and "&amp;" in html
    assert "rgb(255,0,0)" in html and "rgb(0,0,255)" in html  # +1 red, -1 blue


def test_passage_is_the_validation_text_and_gates_colour_on_their_own_range():
    data = load_dataset(CFG)
    whole = passage(data, 10**6)
    assert passage(data, 50) == whole[:50] and len(whole) == len(data.extras["held_out"])
    raw = python_help_text()
    assert len(whole) == HELD_OUT and whole in raw[int(len(raw) * 0.9) - 1 :]  # one stream of the held-out 10%
    assert is_char_model(data) and not is_char_model(load_dataset(RunConfig(dataset="adding", seq_len=20)))
    assert signed("forget", np.array([0.0, 0.5, 1.0])).tolist() == [-1.0, 0.0, 1.0]  # sigmoid [0, 1] stretched
    assert signed("candidate", np.array([-0.5, 0.5])).tolist() == [-0.5, 0.5]  # the tanh candidate is already signed
    assert signed("hidden", np.array([0.25])).tolist() == [0.25]
