"""What a trained word model predicts after the tutorial's prompt; its validation perplexity vs a unigram baseline.

    python bench/word_lesson.py --out word_lesson.zip
    python bench/word_report.py word_lesson.zip
"""

import argparse
import math

import torch

from rnnviz import load_dataset
from rnnviz.runs.runfile import load_run
from rnnviz.views import textviz

PROMPT = "Stock market sees sharp rise in"


@torch.no_grad()
def perplexity(model, x: torch.Tensor, y: torch.Tensor, chunk: int = 64) -> float:
    """exp of the mean next-word cross-entropy over every position of every window."""
    total, n = 0.0, 0
    for i in range(0, len(x), chunk):
        _, loss = model(x[i : i + chunk], y[i : i + chunk])
        total, n = total + float(loss) * y[i : i + chunk].numel(), n + y[i : i + chunk].numel()
    return math.exp(total / n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runfile")
    ap.add_argument("--n-val", type=int, default=2000, help="validation windows of 50 words to score")
    args = ap.parse_args()
    with open(args.runfile, "rb") as f:
        run = load_run(f.read())
    model, vocab = run.model.eval(), run.data.vocab
    config = run.config.replace(dataset_params=run.config.dataset_params | {"n_val": args.n_val})
    data = load_dataset(config)  # the same training windows and vocabulary, more validation windows
    print(f"run: step {run.step}, {config.cell} {config.hidden_size} units, vocabulary {len(vocab)}")
    print(f"after {PROMPT!r}:")
    for word, p in textviz.next_words(model, vocab, PROMPT, k=10):
        print(f"  {word:>12s}  {p:.3f}")
    ids, _ = textviz.encode_words(PROMPT, vocab)
    probs = textviz.next_word_probs(model, ids)
    for word in ("prices", "shares"):  # the tutorial's expected answers
        if word in vocab:
            p = probs[vocab.index(word)]
            print(f"  {word!r}: probability {float(p):.4f}, rank {int((probs > p).sum()) + 1} of {len(vocab)}")
    ppl = perplexity(model, data.x_val, data.y_val)
    base = math.exp(data.baseline["loss"])
    print(f"validation perplexity {ppl:.1f} over {data.y_val.numel():,} words (last 10% of the corpus); "
          f"unigram baseline {base:.1f}")
    print("sample (temperature 0.8):", textviz.join_words(textviz.sample_words(model, vocab, PROMPT, 30, 0.8),
                                                          out=PROMPT))


if __name__ == "__main__":
    main()
