"""One-click lessons: each reproduces a set-up or a claim of the tutorials rnnviz grew from."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnviz.engine.changes import Change, Changes
from rnnviz.engine.config import RunConfig


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    claim: str  # what the lesson shows, in one or two sentences
    look: str  # where to look and what to see
    page: str  # the page that shows it best
    config: RunConfig
    compare: tuple[str, ...] = ()  # cells to run side by side on the Compare page
    changes: Changes = field(default=(), hash=False)  # live changes the run makes at their steps
    fork: tuple[int, dict] | None = field(default=None, hash=False)  # train the config to its end, then fork
    # it at this step with these live settings: the fork is the lesson's run, its parent beside it on Compare


ADDING = dict(dataset="adding", seq_len=50, hidden_size=64, batch_size=64, lr=3e-3, clip=1.0)
# the explosion pair: radius 1.5, plain SGD; T = 10 so that, once clipped, the RNN can learn (at T = 50 it cannot)
EXPLODING = dict(ADDING, seq_len=10, recurrent_radius=1.5, lr=0.05, optimizer="sgd", steps=600)

LESSONS = (
    Lesson(
        "sine", "Forecast a sine wave",
        "A small vanilla RNN learns to predict the next value of a sine wave from the last 20.",
        "Train: the loss drops far below the baseline and predictions sit on the targets. "
        "Hidden states: the trajectories close into loops — the network has learnt a rhythm.",
        "pages/1_Train.py",
        RunConfig(cell="rnn_tanh", hidden_size=32, seq_len=20, dataset="sine", steps=300),
    ),
    Lesson(
        "vanish", "Watch gradients vanish",
        "In a vanilla tanh RNN the gradient of the last step's loss shrinks geometrically as it flows back "
        "in time, so early inputs cannot be learnt from (the adding problem at T = 50).",
        "Gradients: ||dL/dh_t|| falls by orders of magnitude from t = 50 back to t = 1; the fitted factor per "
        "step is below 1. Train: the loss stays at the baseline 0.167.",
        "pages/4_Gradients.py",
        RunConfig(cell="rnn_tanh", steps=600, **ADDING),
    ),
    Lesson(
        "lstm_remembers", "An LSTM remembers what an RNN forgets",
        "On the adding problem at T = 50 an LSTM's gradient reaches the first steps, and it solves the task "
        "(mean absolute error below 0.04) where the vanilla RNN stays at the baseline.",
        "Compare: the LSTM's loss leaves the baseline; its gradient curve is flat where the RNN's falls. "
        "Gates: forget gates near 1 carry the marked values.",
        "pages/5_Compare.py",
        RunConfig(cell="lstm", steps=2000, probe_every=100, eval_every=50, **ADDING),
        compare=("rnn_tanh", "lstm", "gru"),
    ),
    Lesson(
        "explode", "Make gradients explode (W_hh radius 1.5, no clipping)",
        "When the recurrent weights' spectral radius is above 1, gradients can grow as they flow back in time "
        "and training becomes unstable (the adding problem at T = 10, plain SGD).",
        "Gradients: ||dL/dh_t|| grows going back in time; the spectral radius starts at 1.5; the parameter "
        "gradient norms spike until the run diverges. Try the next lesson to see clipping tame it.",
        "pages/4_Gradients.py",
        RunConfig(cell="rnn_tanh", **EXPLODING | {"clip": None}),
    ),
    Lesson(
        "clip", "Clipping tames the explosion",
        "The same exploding set-up with the global gradient norm clipped to 1: updates stay bounded, and the "
        "network learns instead of diverging.",
        "Gradients: clipping events are marked on the parameter-gradient plot. Train: the loss falls well "
        "below the baseline (about 0.17) instead of blowing up.",
        "pages/4_Gradients.py",
        RunConfig(cell="rnn_tanh", **EXPLODING | {"clip": 1.0}),
    ),
    Lesson(
        "radius_small", "W_hh radius 0.5: the gradient dies within a few steps",
        "With the recurrent weights' spectral radius below 1 every step back in time multiplies the gradient "
        "by less than 1.",
        "Gradients: a steep straight line on the log axis; the fitted factor per step is well below 1.",
        "pages/4_Gradients.py",
        RunConfig(cell="rnn_tanh", recurrent_radius=0.5, steps=300, **ADDING),
    ),
    Lesson(
        "keras_noise", "The Keras SimpleRNN example (white noise)",
        "The first tutorial's set-up: SimpleRNN(50) on 1000 random sequences of 10 steps with random targets, "
        "batch 32, 10 epochs (320 steps). There is nothing to learn.",
        "Train: the validation loss stays at the baseline 1/12 whatever the cell.",
        "pages/1_Train.py",
        RunConfig(cell="rnn_tanh", hidden_size=50, seq_len=10, dataset="white_noise",
                  dataset_params={"n_train": 1000}, batch_size=32, steps=320, lr=1e-3, clip=None),
    ),
    Lesson(
        "keras_sine", "The Keras SimpleRNN example (sine, one step per sample)",
        "The third tutorial's set-up: SimpleRNN(32) on 100 points of a sine over [0, 10π], one time step per "
        "sample, target the curve shifted by 0.1; 10 epochs at batch 32.",
        "Train: with one step per sample the 'recurrence' never runs — the RNN acts as a small feed-forward net.",
        "pages/1_Train.py",
        RunConfig(cell="rnn_tanh", hidden_size=32, seq_len=2, dataset="sine",
                  dataset_params={"layout": "keras_tutorial"}, batch_size=32, steps=40, lr=1e-3, clip=None),
    ),
    Lesson(
        "text_lstm", "A character LSTM reads Python's help text",
        "The fourth tutorial's Embedding + LSTM text model (embedding 64, 128 units, windows of 50), trained on "
        "text that ships with Python.",
        "Train: the loss falls below the unigram baseline. Gates and Hidden states: units that track spaces "
        "and line ends.",
        "pages/1_Train.py",
        RunConfig(cell="lstm", hidden_size=128, embedding_size=64, seq_len=50, dataset="text", steps=400,
                  batch_size=32, lr=3e-3),
    ),
    Lesson(
        "reach", "Which inputs does the prediction read? Connectivity on the adding problem",
        "The trained LSTM's last output reads the two marked numbers: their connectivity ‖∂ŷ_T/∂x_s‖ is 19 times "
        "the other inputs' (median over 64 validation samples; the GRU's 19 too), and the first mark, up to 49 "
        "steps back, reaches it as strongly as the strongest input (0.99 of it). The tanh RNN's connectivity "
        "fades by a factor of 0.70 per step: its first input reaches the output 3e-8 as strongly as its last, so "
        "the first mark (1.5e-6 of the strongest) is lost.",
        "Compare, paused: the connectivity by cell (log scale, the sample's marks dotted) — the LSTM's and GRU's "
        "lines peak at the marks, the RNN's falls steeply to the left; the table under it gives the three "
        "figures per cell. Gradients: each run's whole t × s map.",
        "pages/5_Compare.py",
        RunConfig(cell="lstm", steps=2000, probe_every=100, eval_every=50, **ADDING),
        compare=("rnn_tanh", "lstm", "gru"),
    ),
    Lesson(
        "gru_lighter", "GRU: nearly the memory of an LSTM with 3/4 of the weights",
        "A GRU has three gate blocks where an LSTM has four, so 25% fewer recurrent parameters; on the adding "
        "problem it learns as well.",
        "Compare: the parameter counts and time per step side by side; both solve the task.",
        "pages/5_Compare.py",
        RunConfig(cell="gru", steps=2000, probe_every=100, eval_every=50, **ADDING),
        compare=("lstm", "gru"),
    ),
)

# ---- changing a run while it learns (live settings and forks) ----
EXPLODE_CONFIG = RunConfig(cell="rnn_tanh", **EXPLODING | {"clip": None})
RESCUE_STEP = 10  # the explode run's loss is already 10^5 here, 22 steps before its NaN at step 32
# Adam at lr 0.05 on the sine: its loss stops improving and bounces; a tenth of the rate from step 501 settles it
PLATEAU = RunConfig(cell="rnn_tanh", hidden_size=32, seq_len=20, dataset="sine", lr=0.05, steps=1000, eval_every=10,
                    probe_every=50)
PLATEAU_STEP = 500
LESSONS = (*LESSONS,
    Lesson(
        "rescue", "Rescue an exploding run: fork it with clipping",
        "The explode lesson's run diverges at step 32 (its loss is already 10^5 at step 10). Forked at step 10 with "
        "the gradient norm clipped to 1, it trains all 600 steps without diverging and its validation loss comes "
        "back from 10^5 to a few tenths (0.2–0.3: an exploding run magnifies the CPU's float rounding), near the "
        "baseline 0.17; forked at step 15 it is too late (it stays above 10^12).",
        "Train: the loss, marked “fork: clip off → 1” at step 10, comes back down from 10^5. Compare: “This run "
        "and its forks” shows the parent blowing up beside it. Try Fork from step 15 yourself (Gradients page).",
        "pages/1_Train.py",
        EXPLODE_CONFIG, fork=(RESCUE_STEP, {"clip": 1.0}),
    ),
    Lesson(
        "plateau", "Lower the learning rate on a plateau",
        "Adam at lr 0.05 stops improving on the sine: from step 500 to 1,000 its validation loss gets no lower "
        "(it bounces). Lowered live to 0.005 at step 501, the same run's loss falls over 100× lower (measured: "
        "1,400× at seed 0, 470× and 200× at seeds 1 and 2, mean over the last 100 steps).",
        "Train: the loss curve, marked “lr 0.05 → 0.005” at step 501, drops once the rate is lowered. To see the "
        "future without the change, fork at step 500 with lr 0.05 and compare both on Compare.",
        "pages/1_Train.py",
        PLATEAU, changes=(Change(PLATEAU_STEP + 1, {"lr": 0.005}),),
    ),
)

# ---- the tutorial's word-level model (seed 003) ----
WORD_LSTM = Lesson(
    "word_lstm", "The tutorial's word LSTM: what comes after \"Stock market sees sharp rise in\"?",
    "The fourth tutorial's exact model, Embedding(5000, 64) → LSTM(128) → Dense(5000) over windows of 50 words, "
    "trained to predict the next word of the US State of the Union addresses (1790–2026).",
    "Text: type a prompt (the tutorial's is the default) and see the ten likeliest next words with their "
    "probabilities. Train: the validation loss falls well below the unigram baseline.",
    "pages/6_Text.py",
    RunConfig(cell="lstm", hidden_size=128, embedding_size=64, seq_len=50, dataset="text",
              dataset_params={"tokens": "words", "n_train": 50_000, "n_val": 64}, steps=1500, batch_size=32,
              lr=3e-3, probe_every=100, probe_size=4, eval_every=50),
)
# 50,000 training windows (the whole corpus, overlapping) so the model does not memorise a few; 64 validation
# windows because the Train page scores all of them, 5,000 words at every position
LESSONS = (*LESSONS, WORD_LSTM)

BY_KEY = {lesson.key: lesson for lesson in LESSONS}
