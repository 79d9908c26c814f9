"""Character models: sampling with temperature, per-character unit activations, interpretable units."""

from __future__ import annotations

import html

import numpy as np
import torch

from rnnviz.engine.cellspec import gate_range
from rnnviz.engine.model import SequenceModel
from rnnviz.engine.record import replay
from rnnviz.views.connectivity import searchable

SEARCH_CHARS = 10_000  # characters of validation text searched and tested against a hypothesis, when paused

def encode(text: str, vocab: list[str]) -> torch.Tensor:
    """Token ids of the characters the vocabulary knows (others are dropped)."""
    index = {ch: i for i, ch in enumerate(vocab)}
    return torch.tensor([index[ch] for ch in text if ch in index], dtype=torch.long)


@torch.no_grad()
def sample(model: SequenceModel, vocab: list[str], prime: str, n: int, temperature: float, seed: int = 0) -> str:
    """Continue `prime` by n characters; temperature < 1 is safer, > 1 wilder."""
    gen = torch.Generator().manual_seed(seed)
    ids = encode(prime, vocab)
    if len(ids) == 0:
        ids = torch.zeros(1, dtype=torch.long)
    states, hidden = model.rnn(model.rnn_input(ids[None]))
    out = []
    for _ in range(n):
        logits = model.head(states[:, -1])[0] / max(temperature, 1e-3)
        nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)
        out.append(vocab[int(nxt)])
        states, hidden = model.rnn(model.rnn_input(nxt[None]), hidden)
    return "".join(out)


def top_units(values: np.ndarray, feature: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """The k units (columns of values (T, H)) most correlated with `feature` (T,), with the correlation."""
    v = values - values.mean(0)
    f = feature - feature.mean()
    denom = np.sqrt((v**2).sum(0) * (f**2).sum()) + 1e-12
    corr = (v * f[:, None]).sum(0) / denom
    order = np.argsort(-np.abs(corr))[:k]
    return [(int(u), float(corr[u])) for u in order]


def colored_html(text: str, values: np.ndarray, marked: np.ndarray | None = None, mark: str = "underline") -> str:
    """Karpathy-style: each character's background from blue (-1) through white to red (+1); characters where
    `marked` is true are underlined (mark="underline") or boxed (mark="box")."""
    style = {"underline": "text-decoration:underline 2px;text-underline-offset:3px",
             "box": "outline:2px solid #222;outline-offset:-1px"}[mark]
    marked = np.zeros(len(values), bool) if marked is None else np.asarray(marked, bool)
    spans = []
    for ch, v, m in zip(text, np.clip(values, -1, 1), marked, strict=False):
        r, g, b = (255, int(255 * (1 - v)), int(255 * (1 - v))) if v > 0 else (int(255 * (1 + v)),) * 2 + (255,)
        shown = "↵<br>" if ch == "\n" else html.escape(ch).replace(" ", "&nbsp;")
        spans.append(f'<span style="background:rgb({r},{g},{b}){";" + style if m else ""}">{shown}</span>')
    return '<div style="font-family:monospace;line-height:1.6">' + "".join(spans) + "</div>"


def text_values(model: SequenceModel, text: str, vocab: list[str]) -> dict[str, np.ndarray]:
    """What can be coloured and searched for each character of `text` read as one stream from a zero state:
    h_t, the LSTM's c_t and every gate of the top layer, name -> (T, H)."""
    return {name: v[0] for name, v in searchable(model, encode(text, vocab)[None]).items()}


def run_text_values(run, n: int) -> tuple[str, dict[str, np.ndarray]]:
    """The first n characters of the validation text and text_values for them with the run's current weights;
    the last answer is kept on the run (one slot: it is SEARCH_CHARS x H per value)."""
    key, kept = (run.step, n), vars(run).get("_text_values")
    if kept is None or kept[0] != key:
        text = passage(run.data, n)
        kept = (key, text, text_values(run.current_model(), text, run.data.vocab))
        vars(run)["_text_values"] = kept
    return kept[1], kept[2]


def snippet(text: str, start: int, end: int, context: int = 24) -> str:
    """text[start..end] (inclusive) in ⟦ ⟧ with `context` characters either side, line ends shown as ↵."""
    lo, hi = max(0, start - context), min(len(text), end + 1 + context)
    out = ("…" if lo else "") + text[lo:start] + "⟦" + text[start : end + 1] + "⟧" + text[end + 1 : hi]
    return (out + ("…" if hi < len(text) else "")).replace("\n", "↵")


def match_context(text: str, values: np.ndarray, units, start: int, end: int, context: int = 120):
    """A match text[start..end] with `context` characters either side: (that text, the mean of the unit set on each
    character clipped to [-1, 1], which characters are the match)."""
    lo, hi = max(0, start - context), min(len(text), end + 1 + context)
    inside = np.zeros(hi - lo, bool)
    inside[start - lo : end - lo + 1] = True
    return text[lo:hi], np.clip(values[lo:hi, units].mean(1), -1, 1), inside


# ---------------------------------------------------------------- what the Text page shows


def is_char_model(data) -> bool:
    """True when `data` is a next-character task (every token one character): the Text page's requirement."""
    vocab = data.vocab if data is not None else None
    return bool(data is not None and data.task == "next_token" and vocab and all(len(t) == 1 for t in vocab))


def passage(data, n: int) -> str:
    """The first n characters of the held-out text as one stream (the validation windows are cut from it)."""
    return "".join(data.vocab[int(i)] for i in data.extras["held_out"][:n])


def signed(name: str, values: np.ndarray) -> np.ndarray:
    """Values mapped onto [-1, 1] for colouring: a gate's own range (sigmoid [0, 1]) stretched, others as they are."""
    lo, hi = gate_range(name) or (-1.0, 1.0)
    return 2 * (np.asarray(values) - lo) / (hi - lo) - 1


# ---- word models (the tutorial's Embedding -> LSTM -> Dense over words) ----------------------------------------

WORD_FEATURES = ("punctuation", "position in sentence", "after a comma")
NO_SPACE_BEFORE = set(",.;:!?)]}'%")


def is_word_model(data) -> bool:
    return data is not None and data.task == "next_token" and data.extras.get("tokens") == "words"


def encode_words(text: str, vocab: list[str]) -> tuple[torch.Tensor, list[str]]:
    """Token ids of `text` (words outside the vocabulary become <unk>) and the tokens as the model sees them."""
    from rnnviz.datasets.words import UNK, tokenize

    index = {w: i for i, w in enumerate(vocab)}
    ids = [index.get(w, index.get(UNK, 0)) for w in tokenize(text)]
    return torch.tensor(ids, dtype=torch.long), [vocab[i] for i in ids]


@torch.no_grad()
def next_word_probs(model: SequenceModel, ids: torch.Tensor) -> torch.Tensor:
    """The model's distribution over the next token after `ids` (T,): (V,)."""
    states, _ = model.rnn(model.rnn_input(ids[None]))  # (1, T, H)
    return torch.softmax(model.head(states[:, -1])[0], -1)


def next_words(model: SequenceModel, vocab: list[str], prompt: str, k: int = 10) -> list[tuple[str, float]]:
    """The k likeliest next words after `prompt`, with their probabilities (empty if no word is known)."""
    ids, _ = encode_words(prompt, vocab)
    if len(ids) == 0:
        return []
    probs = next_word_probs(model, ids)
    top = torch.topk(probs, min(k, len(vocab)))
    return [(vocab[int(i)], float(p)) for p, i in zip(top.values, top.indices, strict=True)]


@torch.no_grad()
def sample_words(model: SequenceModel, vocab: list[str], prompt: str, n: int, temperature: float,
                 seed: int = 0) -> list[str]:
    """Continue `prompt` by n words; <unk> is never drawn (it stands for thousands of rare words)."""
    from rnnviz.datasets.words import UNK

    gen = torch.Generator().manual_seed(seed)
    ids, _ = encode_words(prompt, vocab)
    ids = ids if len(ids) else torch.zeros(1, dtype=torch.long)
    states, hidden = model.rnn(model.rnn_input(ids[None]))
    banned = [i for i, w in enumerate(vocab) if w == UNK]
    out = []
    for _ in range(n):
        logits = model.head(states[:, -1])[0] / max(temperature, 1e-3)  # (V,)
        logits[banned] = -float("inf")
        nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)
        out.append(vocab[int(nxt)])
        states, hidden = model.rnn(model.rnn_input(nxt[None]), hidden)
    return out


def join_words(tokens: list[str], out: str = "") -> str:
    """Tokens back to readable text (appended to `out`): no space before punctuation, a capital after a sentence end."""
    capital = not out or out.rstrip().endswith((".", "!", "?"))
    out = out.rstrip()
    for w in tokens:
        shown = w[:1].upper() + w[1:] if capital and w[:1].isalpha() else w
        out += shown if not out or w in NO_SPACE_BEFORE or out.endswith(("(", "[")) else " " + shown
        capital = w in (".", "!", "?") or (capital and not w[:1].isalnum())
    return out


def word_activations(model: SequenceModel, ids: torch.Tensor, layer: int = -1) -> dict[str, np.ndarray]:
    """h_t and every gate for each word of `ids` (T,): name -> (T, H)."""
    trace = replay(model, ids[None], ids[None])  # targets only feed the (unused here) gradients
    out = {"hidden": trace.hidden[layer, 0]}
    out.update({name: g[layer, 0] for name, g in trace.gates.items()})
    return out


def word_features(tokens: list[str]) -> dict[str, np.ndarray]:
    """Per-word signals a unit might track: punctuation, position in the sentence, right after a comma."""
    punct = np.array([not w[:1].isalnum() for w in tokens], float)
    pos, after_comma, p = [], [], 0
    for i in range(len(tokens)):
        p = 0 if i and tokens[i - 1] in (".", "!", "?") else p + 1
        pos.append(p)
        after_comma.append(i > 0 and tokens[i - 1] == ",")
    return dict(zip(WORD_FEATURES, (punct, np.array(pos, float), np.array(after_comma, float)), strict=True))


def colored_words_html(tokens: list[str], values: np.ndarray) -> str:
    """colored_html for words: each word's background from blue (-1) through white to red (+1)."""
    spaced = [w if i == 0 or w in NO_SPACE_BEFORE else " " + w for i, w in enumerate(tokens)]
    return colored_html(spaced, values)  # type: ignore[arg-type]  (a list of words zips like a string)
