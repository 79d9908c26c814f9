"""Train the word-LSTM lesson (Embedding(5000, 64) -> LSTM(128) -> Dense(5000), seed 003) and save it as a run file.

    python bench/word_lesson.py --out word_lesson.zip
then `python bench/word_report.py word_lesson.zip` prints its next words and perplexities.
"""

import argparse
import time

import torch

from rnnviz.engine.train import Run, build_model, load_dataset, make_optimizer, train_model
from rnnviz.runs.runfile import save_run
from rnnviz.views.lessons import BY_KEY


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="word_lesson.zip")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-every", type=int, default=250, help="also save the unfinished run every so many steps")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    config = BY_KEY["word_lstm"].config
    data = load_dataset(config)
    model = build_model(config, data)
    run = Run(config, model, data, optimizer=make_optimizer(config, model))
    start = time.perf_counter()
    for event in train_model(config, data, model, optimizer=run.optimizer):
        run.record(event)
        if event.val_loss is not None:
            print(f"step {event.step:5d}  loss {event.loss:.3f}  val {event.val_loss:.3f}  "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
        if event.step and event.step % args.save_every == 0:
            with open(args.out, "wb") as f:
                f.write(save_run(run))
    with open(args.out, "wb") as f:
        f.write(save_run(run))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
