"""Word-level text: tokens, a capped vocabulary with <unk>, the tutorial's model shapes, next words and sampling."""

import json

import numpy as np
import pytest
import torch

from rnnviz import RunConfig, load_dataset
from rnnviz.datasets import DatasetError, register_upload
from rnnviz.datasets.words import UNK, build_vocab, corpus_ids, encode, sotu_text, tokenize
from rnnviz.engine.train import build_model, train_run
from rnnviz.views import textviz
from rnnviz.views.lessons import BY_KEY
from tests.pagetools import open_page, press, specs, state, texts

STORY = ("The market rose. The market fell, and the market rose again! Prices rose in the spring; "
         "prices fell in the fall. ") * 30


def test_tokens_are_lower_cased_words_and_punctuation():
    assert tokenize("Stock market sees sharp rise in") == ["stock", "market", "sees", "sharp", "rise", "in"]
    assert tokenize("Don't stop: 1,000 (now)!") == ["don't", "stop", ":", "1", ",", "000", "(", "now", ")", "!"]


def test_the_vocabulary_is_capped_with_an_unknown_token():
    tokens = tokenize("a a a b b c d")
    vocab = build_vocab(tokens, 3)
    assert vocab == [UNK, "a", "b"]
    assert encode(tokens, vocab).tolist() == [1, 1, 1, 2, 2, 0, 0]


def test_corpus_ids_equal_the_plain_definition_and_use_training_words_only():
    text = STORY + " zebra zebra zebra zebra"  # only in the last 10%: not in the vocabulary
    vocab, ids, split = corpus_ids(text, 12)
    tokens = tokenize(text)
    assert list(vocab) == build_vocab(tokens[:split], 12) and "zebra" not in vocab
    assert np.array_equal(ids, encode(tokens, list(vocab)))


def word_data(**params):
    key = register_upload(STORY.encode(), "story.txt")
    return RunConfig(dataset="text", seq_len=8, hidden_size=16, steps=20, probe_every=10, eval_every=5,
                     dataset_params={"upload": key, "tokens": "words", **params})


def test_word_windows_predict_the_next_word():
    data = load_dataset(word_data())
    assert data.task == "next_token" and data.vocab[0] == UNK and data.extras["tokens"] == "words"
    assert torch.equal(data.y_train[:, :-1], data.x_train[:, 1:])  # the target is the next word
    assert data.input_size == data.output_size == len(data.vocab) <= 5000
    assert data.baseline["loss"] > 0


def test_too_short_a_text_for_the_window_is_refused():
    key = register_upload(b"just a few words here, and no more, really, " * 3, "short.txt")
    with pytest.raises(DatasetError, match="too few for seq_len"):
        load_dataset(RunConfig(dataset="text", seq_len=40, dataset_params={"upload": key, "tokens": "words"}))


def test_the_lesson_has_the_tutorials_exact_shapes():
    config = BY_KEY["word_lstm"].config
    data = load_dataset(config)
    model = build_model(config, data)
    assert data.vocab[0] == UNK and len(data.vocab) == 5000 and data.seq_len == 50
    assert tuple(model.embed.weight.shape) == (5000, 64)  # Embedding(5000, 64)
    assert isinstance(model.rnn, torch.nn.LSTM) and (model.rnn.input_size, model.rnn.hidden_size) == (64, 128)
    assert (model.head.in_features, model.head.out_features) == (128, 5000)  # Dense(5000), softmax in the loss
    assert "State of the Union" in data.description


def test_the_corpus_ships_offline():
    text = sotu_text()
    assert len(tokenize(text[:200_000])) > 30_000 and "Union" in text


@pytest.fixture(scope="module")
def word_run():
    return train_run(word_data())


def test_next_words_are_the_models_own_softmax(word_run):
    vocab, model = word_run.data.vocab, word_run.model
    top = textviz.next_words(model, vocab, "the market", k=5)
    ids, _ = textviz.encode_words("the market", vocab)
    with torch.no_grad():
        logits, _ = model(ids[None])  # (1, T, V): torch is the oracle
    probs = torch.softmax(logits[0, -1], -1)
    expected = torch.topk(probs, 5)
    assert [w for w, _ in top] == [vocab[int(i)] for i in expected.indices]
    assert np.allclose([p for _, p in top], expected.values.numpy(), atol=1e-6)
    assert textviz.next_words(model, vocab, "") == []


def test_sampling_is_seeded_and_never_draws_unknown(word_run):
    vocab, model = word_run.data.vocab, word_run.model
    a = textviz.sample_words(model, vocab, "prices", 50, temperature=2.0, seed=3)
    assert a == textviz.sample_words(model, vocab, "prices", 50, temperature=2.0, seed=3)
    assert len(a) == 50 and UNK not in a and set(a) <= set(vocab)


def test_words_join_back_into_text():
    assert textviz.join_words(["the", "market", "rose", ",", "then", "fell", ".", "prices", "rose"]) == \
        "The market rose, then fell. Prices rose"
    assert textviz.join_words([",", "and", "prices", "."], out="Stock market sees sharp rise in ") == \
        "Stock market sees sharp rise in, and prices."


def test_the_text_page_in_word_mode():
    key = register_upload(STORY.encode(), "story.txt")
    params = json.dumps({"upload": key, "tokens": "words"})
    at = open_page("pages/6_Text.py", dataset="text", dataset_params=params, seq_len="8", hidden_size="16",
                   steps="10")
    press(at, "ctl_step", times=2)
    assert not at.exception, at.exception
    assert at.text_input(key="words_prompt").value == "Stock market sees sharp rise in"
    bars = [t for s in specs(at) for t in s["data"] if t.get("type") == "bar"]
    assert bars and len(bars[0]["y"]) == 10
    run = state(at).run
    expected = textviz.next_words(run.model, run.data.vocab, "Stock market sees sharp rise in")
    assert list(bars[0]["y"])[::-1] == [w for w, _ in expected]
    assert at.code[0].value.startswith("Stock market sees sharp rise in")  # as typed, then the sample
    assert any("background:rgb(" in m.value for m in at.markdown)
    assert "Units most correlated" in texts(at, "caption")
