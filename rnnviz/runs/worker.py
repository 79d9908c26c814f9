"""Worker: trains a session's run (or a group of runs) in a thread beside the page while Play is on.

The page never trains: it asks the worker to play, pause or step, and redraws when the runs have news.
Only the worker's thread advances a trainer while playing; Step and close first stop that thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rnnviz.runs import capacity
from rnnviz.runs.trainer import Trainer

IDLE_SECONDS = 30.0  # a playing session whose page stops asking for news is paused (tab closed)
SLICE_SECONDS = 0.2  # training per hold of a slot before queueing again, so waiting sessions get turns
SLOT_WAIT = 0.25  # seconds to wait for a slot before re-checking pause, idleness and close
DRAW_SHARE = 0.1  # while sessions play, redrawing their pages may take at most this share of the server's time

_playing: set[int] = set()  # ids of workers whose thread is training or queueing for a slot


def playing_workers() -> int:
    """How many sessions play on this server right now."""
    return len(_playing)


def redraw_gap(base: float, draw_seconds: float = 0.0) -> float:
    """Shortest time between two redraws of a playing page.

    `base`, stretched so that redrawing every playing session's page takes at most DRAW_SHARE of the server's
    time (a page's redraw costs `draw_seconds` of CPU in its script thread, which holds the interpreter while it
    builds figures), and when more sessions play than there are training slots. Drawing then never starves
    training, however many sessions play; the browsers, which render every redraw, are spared in proportion.
    """
    playing = max(playing_workers(), 1)
    return max(base * max(1.0, playing / capacity.SLOTS.n), playing * draw_seconds / DRAW_SHARE)


class Worker:
    """Play / Pause / Step / close for a group of trainers, trained in turn one step each."""

    def __init__(self, trainers: list[Trainer], on_event: Callable[[Trainer, str], None] | None = None,
                 slots: capacity.Slots | None = None, idle_seconds: float = IDLE_SECONDS, borrowed: list[Trainer] = ()):
        """`on_event(trainer, what)` hears, between steps: "progress" after each slice of training or Step,
        "paused" once Pause (or nobody watching) stopped it, "finished" once, when it trained its last step."""
        self.trainers = list(trainers)
        self.borrowed = list(borrowed)  # trained here but owned elsewhere (the session's run in the Compare group)
        self.on_event = on_event or (lambda trainer, what: None)
        # runs trained on a Ray cluster (RayTrainer.remote) take no training slot here: the cluster schedules them
        remote = all(t.remote for t in trainers)
        self.slots = slots or (capacity.UNLIMITED if remote else capacity.SLOTS)
        self.idle_seconds = idle_seconds
        self.waiting = False  # Play is on but no training slot is free
        self.paused_idle = False  # paused because nobody was watching
        self.error: str | None = None  # an unexpected failure in the thread, said on the page
        self._want = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._control = threading.Lock()  # play / pause / step / close one at a time
        self._seen = time.monotonic()
        self._ended: set[int] = set()  # trainers whose end was told
        self.connected: Callable[[], bool] | None = None  # the page's session still has its browser (ui sets it)

    @property
    def finished(self) -> bool:
        return all(t.finished for t in self.trainers)

    @property
    def playing(self) -> bool:
        return self._want and not self.finished and not self._closed

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def seen(self) -> float:
        """When a page last said it shows this worker (time.monotonic())."""
        return self._seen

    def touch(self) -> None:
        """The page is still open (called on every refresh)."""
        self._seen = time.monotonic()

    def play(self) -> None:
        with self._control:
            if self._closed or self.finished:
                return
            self._want, self.paused_idle, self.error = True, False, None
            self.touch()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="rnnviz-worker", daemon=True)
                self._thread.start()

    def pause(self) -> None:
        """Stop training after the step under way (returns once it has stopped)."""
        with self._control:
            was = self._want
            self._stop_thread()
            if was:
                self._tell("paused")

    def step(self, timeout: float = 5.0) -> int:
        """Pause, then apply one update to each unfinished run; returns how many runs stepped."""
        with self._control:
            self._stop_thread()
            if self._closed:
                return 0
            with self.slots.hold(timeout) as got:
                done = sum(t.step() for t in self.trainers if not t.finished) if got else 0
            self._after_steps()
            return done

    def close(self) -> None:
        """For good (Reset, new settings, session gone): stop the thread, then close the trainers it owns."""
        with self._control:
            self._closed = True
            self._stop_thread()
            for t in self.trainers:
                if not any(t is b for b in self.borrowed):
                    t.close()

    def news(self) -> tuple:
        """Changes whenever a run has something new to draw (a validation loss, a probe, the end)."""
        return tuple((id(t.run), _version(t.run)) for t in self.trainers)

    def _stop_thread(self) -> None:
        self._want = False
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.waiting = False

    def _loop(self) -> None:
        _playing.add(id(self))
        try:
            while self._want and not self.finished:
                if self._idle():
                    self._want, self.paused_idle = False, True
                    self._tell("paused")
                    break
                with self.slots.hold(SLOT_WAIT) as got:
                    self.waiting = not got
                    if got:
                        self._train_slice()
                self._after_steps()
        except Exception as err:  # never let a thread die silently: the page says what happened
            self.error = f"Training stopped: {type(err).__name__}: {err}"
            self._want = False
        finally:
            self.waiting = False
            _playing.discard(id(self))

    def _idle(self) -> bool:
        """Nobody is watching: no refresh for idle_seconds, and (where known) the browser has gone.

        A background tab's timers are throttled, so a quiet page alone is not enough while its session is
        still connected; a closed tab disconnects, and then the quiet page pauses the run."""
        quiet = time.monotonic() - self._seen > self.idle_seconds
        return quiet and (self.connected is None or not self.connected())

    def _train_slice(self) -> None:
        end = time.perf_counter() + SLICE_SECONDS
        while self._want and time.perf_counter() < end:
            todo = [t for t in self.trainers if not t.finished]
            if not todo:
                return
            for t in todo:
                t.step()

    def _after_steps(self) -> None:
        self._tell("progress")
        for t in self.trainers:
            if t.finished and id(t) not in self._ended:
                self._ended.add(id(t))
                self.on_event(t, "finished")

    def _tell(self, what: str) -> None:
        for t in self.trainers:
            if what != "progress" or not t.finished:
                self.on_event(t, what)


def _version(run) -> tuple:
    """What the views draw from; `Run.version` where the engine counts it."""
    version = getattr(run, "version", None)
    if version is not None:
        return (version,)
    last_probe = run.probes[-1][0] if run.probes else -1
    return (last_probe, run.step // max(run.config.eval_every, 1), run.diverged_at, run.finished)
