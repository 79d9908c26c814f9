"""Sweeps: a grid of runs (cells x sequence lengths x seeds x other settings), each to a step budget with an
early stop once solved, on a local process pool or on Ray tasks; results stream into a DataFrame.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass

import pandas as pd
import torch

from rnnviz import server
from rnnviz.datasets import load_dataset
from rnnviz.engine.cellspec import COMPARED
from rnnviz.engine.config import FIELDS, ConfigError, RunConfig
from rnnviz.engine.record import replay
from rnnviz.engine.train import Run, build_model, probe_samples, train_model
from rnnviz.runs import capacity
from rnnviz.runs.cluster import ensure_ray, ray_address, ray_available
from rnnviz.views.metrics import evaluate_metrics

MAX_RUNS = 2000  # a grid larger than this is refused
GRID_AXES = ("cell", "seq_len", "seed", "steps")  # set by the grid itself, so not allowed as extra fields
COLUMNS = ["cell", "seq_len", "seed", "solved", "steps_to_solve", "metric", "final", "steps", "seconds",
           "diverged", "cached", "error"]
IDLE_SECONDS = 60.0  # a sweep whose page has not asked for news this long, and whose browser has gone, stops


@dataclass(frozen=True)
class Grid:
    """What a sweep runs: every combination of cells, lengths, extra field values and seeds on `base`."""

    base: RunConfig
    cells: tuple[str, ...] = COMPARED
    seq_lens: tuple[int, ...] = (10, 20, 50)
    seeds: tuple[int, ...] = (0,)
    budget: int = 3000  # steps per run unless solved earlier
    check_every: int = 50  # steps between checks of the dataset's "solved" threshold
    extra: tuple[tuple[str, tuple], ...] = ()  # other RunConfig fields to vary, e.g. (("clip", (None, 1.0)),)

    def configs(self) -> list[RunConfig]:
        """One RunConfig per run; bad axes raise ConfigError naming what is allowed."""
        self._check()
        names = [name for name, _ in self.extra]
        runs = []
        for cell, T, *values, seed in itertools.product(
            self.cells, self.seq_lens, *(v for _, v in self.extra), self.seeds
        ):
            runs.append(self.base.replace(
                cell=cell, seq_len=T, seed=seed, steps=self.budget, eval_every=self.check_every,
                probe_every=self.budget, **dict(zip(names, values, strict=True)),
            ))
        return runs

    def _check(self) -> None:
        for name in ("cells", "seq_lens", "seeds"):
            if not getattr(self, name):
                raise ConfigError(f"a sweep needs at least one value in {name}")
        for name, values in self.extra:
            if name not in FIELDS or name in GRID_AXES:
                allowed = ", ".join(f for f in FIELDS if f not in GRID_AXES)
                raise ConfigError(f"sweep field {name!r} is not allowed; choose one of {allowed}")
            if not values:
                raise ConfigError(f"a sweep needs at least one value for {name}")
        if not 1 <= self.check_every <= self.budget:
            raise ConfigError(f"check_every={self.check_every} is out of range; allowed: 1 to the budget")
        n = len(self.cells) * len(self.seq_lens) * len(self.seeds) * math.prod(len(v) for _, v in self.extra)
        if n > MAX_RUNS:
            raise ConfigError(f"this grid has {n} runs; a sweep allows at most {MAX_RUNS}: use fewer values")

    @property
    def extra_names(self) -> list[str]:
        return [name for name, _ in self.extra]

    def to_dict(self) -> dict:
        """Plain JSON values (the store keeps a sweep's grid, to resume it after a restart)."""
        return {"base": self.base.to_dict(), "cells": list(self.cells), "seq_lens": list(self.seq_lens),
                "seeds": list(self.seeds), "budget": self.budget, "check_every": self.check_every,
                "extra": [[name, list(values)] for name, values in self.extra]}

    @classmethod
    def from_dict(cls, d: dict) -> Grid:
        return cls(RunConfig.from_dict(d["base"]), tuple(d["cells"]), tuple(d["seq_lens"]), tuple(d["seeds"]),
                   d["budget"], d["check_every"], tuple((name, tuple(v)) for name, v in d["extra"]))


@dataclass(frozen=True)
class Preset:
    title: str
    grid: Grid
    why: str


_ADDING = RunConfig(dataset="adding", hidden_size=64, lr=3e-3, optimizer="adam", clip=1.0, batch_size=64)
_MEMORY = RunConfig(dataset="memory", hidden_size=64, lr=3e-3, optimizer="adam", clip=1.0, batch_size=64)
PRESETS = {
    "adding": Preset(
        "RNN vs LSTM vs GRU on adding, T = 10 … 200",
        Grid(_ADDING, COMPARED, (10, 20, 50, 100, 200), (0, 1, 2), budget=3000),
        "Hochreiter & Schmidhuber 1997: the tanh RNN stops solving as T grows (here from T = 20); LSTM and GRU "
        "keep solving to T = 100 within 3,000 steps. At T = 200 the GRU still does, while the LSTM needs 3,150 to "
        "4,500 steps: raise the budget to 5,000 to see it solve.",
    ),
    "memory": Preset(
        "memory task, T = 10 … 400",
        Grid(_MEMORY, COMPARED, (10, 50, 100, 200, 400), (0, 1, 2), budget=2000),
        "Name the symbol shown first after up to 399 steps of distractors.",
    ),
}


# ---- one run -----------------------------------------------------------------------------------------------

def run_one(config: RunConfig, stop: Callable[[], bool] | None = None) -> tuple[dict, Run] | None:
    """Train `config` until solved (checked every eval_every steps and at the last), diverged or at its budget.

    A run solved at step s is returned as the finished run of `config.replace(steps=s)` (the same rows and
    probes train_run would give), so it can be cached and opened in the other pages. None when stopped.
    """
    data = load_dataset(config)
    model = build_model(config, data)
    run = Run(config, model, data)
    scores, solved_at = None, None
    for event in train_model(config, data, model, stop):
        run.record(event)
        checked = event.step % config.eval_every == 0 or event.step == config.steps
        if event.step > 0 and checked and not event.diverged:
            scores = evaluate_metrics(model, data)
            if scores.get("solved"):
                solved_at = event.step
                break
    if not run.finished and solved_at is None:
        return None  # stopped from outside
    if solved_at is not None and solved_at < config.steps:
        run = _end_at(run, solved_at)
    if solved_at is None:  # the final scores (a diverged model has none)
        scores = evaluate_metrics(model, data) if run.diverged_at is None else {}
    return result_row(run, scores, solved_at), run


def _end_at(run: Run, step: int) -> Run:
    """The run as if its budget were `step`: the last step of a run always gets a probe."""
    config = run.config.replace(steps=step)
    if run.probes[-1][0] != step:
        n = probe_samples(config)
        run.probes.append((step, replay(run.model, run.data.x_val[:n], run.data.y_val[:n])))
    run.config = config
    return run


def result_row(run: Run, scores: dict[str, float], solved_at: int | None, cached: bool = False) -> dict:
    config, data = run.config, run.data
    metric = next(iter(data.solved), "mae" if data.task == "regression" else "accuracy")
    return {
        "cell": config.cell, "seq_len": config.seq_len, "seed": config.seed,
        "solved": solved_at is not None, "steps_to_solve": solved_at, "metric": metric,
        "final": scores.get(metric, float("nan")), "steps": run.step, "seconds": run.seconds,
        "diverged": run.diverged_at is not None, "cached": cached, "error": None, "config": config,
    }


def failed_row(config: RunConfig, err: BaseException) -> dict:
    """A run that raised (e.g. its worker process died): the sweep goes on without it, saying why."""
    return {"cell": config.cell, "seq_len": config.seq_len, "seed": config.seed, "solved": False,
            "steps_to_solve": None, "metric": None, "final": float("nan"), "steps": 0, "seconds": 0.0,
            "diverged": False, "cached": False, "error": f"{type(err).__name__}: {err}".splitlines()[0],
            "config": config}


def row_from_cache(run: Run) -> dict:
    """A cached finished run of the sweep's config: it reached its budget (or diverged) unsolved, or was
    solved exactly at its last step."""
    scores = evaluate_metrics(run.model, run.data) if run.diverged_at is None else {}
    return result_row(run, scores, run.step if scores.get("solved") else None, cached=True)


# ---- back-ends -----------------------------------------------------------------------------------------------

_STOP = None  # the pool's stop event, set in each worker process by _init_worker


def _init_worker(stop_event) -> None:
    """One torch thread per worker process: the pool has one process per core."""
    global _STOP
    _STOP = stop_event
    torch.set_num_threads(1)


def _pool_task(config: RunConfig):
    out = run_one(config, stop=_STOP.is_set)
    return None if out is None else (out[0], _strip(out[1]))


def _strip(run: Run) -> Run:
    """Ship a run back without its data (regenerated from the config on arrival, cheaper than pickling)."""
    run.data = None
    return run


class LocalPool:
    """Runs on a pool of `workers` processes (spawned: forking a threaded server is unsafe)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        import multiprocessing

        self.workers = max(1, workers or server.cores())
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                         initargs=(self._stop,))

    def submit(self, config: RunConfig) -> Future:
        return self._pool.submit(_pool_task, config)

    def close(self) -> None:
        """Stop the runs under way (they end at their next step) and drop those not started; a worker process
        that has not exited STOP_GRACE_S later (stuck, or still starting on a loaded machine) is terminated."""
        processes = list((self._pool._processes or {}).values())  # noqa: SLF001 (the executor names no other way)
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        threading.Thread(target=_reap, args=(processes,), name="rnnviz-sweep-reaper", daemon=True).start()


STOP_GRACE_S = 20.0


def _reap(processes: list, grace: float = STOP_GRACE_S) -> None:
    """Terminate the processes still running `grace` seconds from now. It watches their sentinels and never
    joins them: the executor joins them too, and of two threads reaping one child, one sees it still alive."""
    from multiprocessing.connection import wait as ready

    deadline = time.monotonic() + grace
    running = {p.sentinel: p for p in processes}
    while running and (left := deadline - time.monotonic()) > 0:
        for sentinel in ready(list(running), left):
            running.pop(sentinel)
    for p in running.values():
        p.terminate()


def _ray_task(config: RunConfig):
    torch.set_num_threads(1)
    out = run_one(config)
    return None if out is None else (out[0], _strip(out[1]))


class RayTasks:
    """Runs as Ray tasks (one CPU each) on the cluster at `address` (or an already initialised Ray)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        import ray

        why = ensure_ray(address)
        if why is not None:
            raise ConnectionError(f"Ray at {address or ray_address()}: {why}")
        self._ray = ray
        self._task = ray.remote(num_cpus=1)(_ray_task)
        self.workers = max(1, workers or int(ray.cluster_resources().get("CPU", 1)))
        self._refs: list = []

    def submit(self, config: RunConfig) -> Future:
        ref = self._task.remote(config)
        self._refs.append(ref)
        return ref.future()

    def close(self) -> None:
        for ref in self._refs:
            self._ray.cancel(ref, force=True)
        self._refs.clear()


def make_backend(kind: str = "auto", address: str | None = None, workers: int | None = None):
    """`local`, `ray`, or `auto` (Ray when an address is configured, else local)."""
    address = address or ray_address()
    if kind == "auto":
        kind = "ray" if address else "local"
    if kind == "local":
        return LocalPool(workers)
    if kind == "ray":
        if not ray_available():
            raise ConfigError("the Ray back-end needs ray: pip install -r requirements-ray.txt")
        return RayTasks(address, workers)
    raise ConfigError(f"back-end {kind!r} is not allowed; choose one of auto, local, ray")


# ---- the sweep -------------------------------------------------------------------------------------------------

OnRun = Callable[[RunConfig, dict, Run], None]  # (the config asked for, its result row, the finished run)


def sweep(grid: Grid, backend, cache: capacity.RunCache | None = None, slots=None,
          stop: Callable[[], bool] | None = None, slot_timeout: float = 0.2, configs: list[RunConfig] | None = None,
          on_run: OnRun | None = None) -> Iterator[dict]:
    """Yield one result row per run as runs finish (cache hits first). Every run under way holds one of each of
    `slots` (a Slots, or several: e.g. the sweeps' share and the server's training slots), so a sweep never trains
    more than the server allows. Closing the generator (or `stop()` turning true) stops the runs under way;
    rows yielded are kept. A run that raises gives a row with its `error` and the sweep goes on.

    `configs`: the grid's runs still to do (all of them by default); `on_run` is told of each finished run."""
    stop = stop or (lambda: False)
    slots = () if slots is None else (slots,) if isinstance(slots, capacity.Slots) else tuple(slots)
    todo = deque(grid.configs() if configs is None else configs)
    running: dict[Future, tuple[ExitStack, RunConfig]] = {}
    try:
        while (todo or running) and not stop():
            while todo and len(running) < backend.workers:
                hit = cached_run(cache, todo[0])
                if hit is not None:
                    row = row_from_cache(hit)
                    if on_run is not None:
                        on_run(todo[0], row, hit)
                    todo.popleft()
                    yield row
                    continue
                held = _take_slots(slots, slot_timeout)
                if held is None:
                    break
                config = todo.popleft()
                running[backend.submit(config)] = (held, config)
            yield from _collect(running, cache, slot_timeout, on_run)
    finally:
        backend.close()
        for held, _ in running.values():
            held.close()


_SOLVED: OrderedDict[str, str] = OrderedDict()  # a sweep run's key -> the key of the run it ended as, solved early
_SOLVED_MAX = 10_000


def cached_run(cache: capacity.RunCache | None, config: RunConfig) -> Run | None:
    """The finished run of a sweep's `config` from the run cache: itself, or the run it became when it was solved
    before its budget (cached under its own, shorter steps; training is deterministic, so it is the same)."""
    if cache is None:
        return None
    hit = cache.get(config.key())
    if hit is None and (alias := _SOLVED.get(config.key())) is not None:
        hit = cache.get(alias)
    return hit


def _remember_solved(asked: RunConfig, run: Run) -> None:
    if run.config != asked:
        _SOLVED[asked.key()] = run.config.key()
        _SOLVED.move_to_end(asked.key())
        while len(_SOLVED) > _SOLVED_MAX:
            _SOLVED.popitem(last=False)


def _take_slots(slots: tuple, timeout: float) -> ExitStack | None:
    """Hold one of each of `slots` (in order), or none of them if one is not free within `timeout`."""
    held = ExitStack()
    for s in slots:
        if not held.enter_context(s.hold(timeout)):
            held.close()
            return None
    return held


def _collect(running: dict, cache: capacity.RunCache | None, timeout: float, on_run: OnRun | None) -> Iterator[dict]:
    if not running:
        return
    done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
    for future in done:
        held, asked = running.pop(future)
        held.close()  # give the slots back
        try:
            out = future.result()
        except BrokenExecutor:
            raise  # the pool itself is gone: nothing more can run
        except Exception as err:
            yield failed_row(asked, err)
            continue
        if out is None:
            continue
        row, run = out
        if run.data is None:  # the pages look at the data of a run opened from the cache
            run.data = load_dataset(run.config)
        row["config"] = run.config
        if cache is not None:
            cache.put(run.config.key(), run)
            _remember_solved(asked, run)
        if on_run is not None:
            on_run(asked, row, run)
        yield row


def frame(rows: list[dict], extra: list[str] | tuple = ()) -> pd.DataFrame:
    """Result rows as a DataFrame (the RunConfig of each run in column `config`)."""
    df = pd.DataFrame(rows, columns=COLUMNS + ["config"])
    df["steps_to_solve"] = pd.to_numeric(df["steps_to_solve"]).astype("Float64")  # missing = never solved
    for name in extra:
        df.insert(3, name, [getattr(c, name) for c in df["config"]])
    return df


class Sweep:
    """A sweep under way: a background thread collects rows; read `results`, `done`, `total`, `seconds_left`.

    The page calls `touch()` whenever it draws; a sweep not touched for `idle_seconds` whose browser session has
    gone (`connected`, set by the page) stops by itself, keeping what finished, so an abandoned sweep frees its
    slots."""

    def __init__(self, grid: Grid, backend=None, cache: capacity.RunCache | None = None, slots=None,
                 idle_seconds: float = IDLE_SECONDS, rows: list[dict] = (), on_run: OnRun | None = None,
                 on_end: Callable[[Sweep], None] | None = None):
        """`rows`: runs of the grid already done (a resumed sweep runs only the others)."""
        self.grid, self.total = grid, len(grid.configs())
        self._backend, self._cache, self._slots = backend, cache, slots
        self._rows: list[dict] = list(rows)
        self._resumed = len(self._rows)  # rows done before this start: not part of its pace
        done = {r["asked"] for r in rows if "asked" in r}
        self.todo = [c for c in grid.configs() if c.key() not in done]
        self._on_run, self._on_end = on_run, on_end
        self.group = ""  # its id in the run store (the registry sets it)
        self.interrupted = False  # kept from before a restart, and it had not finished
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        self.started = self.ended = None
        self.idle_seconds, self.connected = idle_seconds, None
        self._seen = time.monotonic()
        self.abandoned = False  # stopped because nobody was watching

    def _make_backend(self):
        return self._backend() if callable(self._backend) else self._backend or make_backend()

    def start(self) -> Sweep:
        self.started = time.perf_counter()
        self._thread = threading.Thread(target=self._work, name="rnnviz-sweep", daemon=True)
        self._thread.start()
        return self

    def touch(self) -> None:
        self._seen = time.monotonic()

    def _should_stop(self) -> bool:
        if self._stop.is_set():
            return True
        if time.monotonic() - self._seen > self.idle_seconds and (self.connected is None or not self.connected()):
            self.abandoned = True
            self._stop.set()
        return self._stop.is_set()

    def _work(self) -> None:
        try:
            backend = self._make_backend()
            for row in sweep(self.grid, backend, self._cache, self._slots, stop=self._should_stop,
                             configs=self.todo, on_run=self._on_run):
                with self._lock:
                    self._rows.append(row)
        except Exception as err:  # shown on the page; the rows so far are kept
            self.error = f"{type(err).__name__}: {err}"
        finally:
            self.ended = time.perf_counter()
            if self._on_end is not None:
                self._on_end(self)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the sweep to end; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def done(self) -> int:
        return len(self._rows)

    @property
    def results(self) -> pd.DataFrame:
        with self._lock:
            rows = list(self._rows)
        return frame(rows, self.grid.extra_names)

    @property
    def seconds_left(self) -> float | None:
        """Elapsed time per run trained so far times the runs left (cache hits cost nothing; None before the
        first trained run)."""
        with self._lock:
            trained = sum(not r["cached"] for r in self._rows[self._resumed:])
        if not self.running:
            return 0.0
        if not trained or self.started is None:
            return None
        return (time.perf_counter() - self.started) / trained * (self.total - self.done)

    @property
    def rows(self) -> list[dict]:
        with self._lock:
            return list(self._rows)

    @property
    def unfinished(self) -> int:
        """Runs of the grid without a result (a stopped or interrupted sweep can resume them)."""
        return self.total - self.done


def summary(results: pd.DataFrame, by: tuple[str, ...] = ("cell", "seq_len")) -> pd.DataFrame:
    """Per cell and T: runs, success rate, its standard error over seeds, median steps to solve."""
    if results.empty:
        return pd.DataFrame(columns=[*by, "runs", "success", "success_se", "steps_median"])
    g = results.groupby(list(by), sort=True)
    out = g.agg(runs=("solved", "size"), success=("solved", "mean"),
                steps_median=("steps_to_solve", "median")).reset_index()
    p, n = out["success"], out["runs"]
    out["success_se"] = (p * (1 - p) / n).pow(0.5)
    return out


# ---- what the Sweep page asks for ---------------------------------------------------------------------------------

def parse_lengths(text: str) -> tuple[int, ...]:
    """ "10, 20, 50" -> (10, 20, 50); ConfigError naming the bad entry."""
    out = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if part:
            try:
                out.append(int(part))
            except ValueError:
                raise ConfigError(f"sequence length {part!r} must be a whole number from 2 to 2000") from None
    if not out:
        raise ConfigError("give at least one sequence length, e.g. 10, 20, 50")
    return tuple(sorted(set(out)))


SWEEP_TASKS = ("adding", "memory", "temporal_order")  # long-range tasks with a "solved" threshold


def preset_form(preset: str) -> dict:
    """The Sweep page's choices as a preset sets them: {task, cells, lengths, seeds, budget}."""
    grid = PRESETS[preset].grid
    return {"task": grid.base.dataset, "cells": list(grid.cells), "lengths": ", ".join(map(str, grid.seq_lens)),
            "seeds": len(grid.seeds), "budget": grid.budget}


def grid_for(preset: str, dataset: str, cells, lengths: str, seeds: int, budget: int) -> Grid:
    """The page's choices on top of a preset's base config; bad choices raise ConfigError."""
    base = PRESETS[preset].grid.base
    if dataset != base.dataset:
        base = base.replace(dataset=dataset, dataset_params={})
    grid = Grid(base, tuple(cells), parse_lengths(lengths), tuple(range(int(seeds))), budget=int(budget),
                check_every=min(PRESETS[preset].grid.check_every, int(budget)))
    grid.configs()  # validates every run now, not in the background thread
    return grid


def start_sweep(grid: Grid, address: str | None = None, **kwargs) -> Sweep:
    """Locally: a process pool whose runs each hold one of the sweeps' share of the server's training slots and one
    training slot, so all sweeps together leave at least one slot to live sessions (capacity.SWEEP_SLOTS). With a Ray
    address: Ray tasks on the cluster's CPUs (the web server's cores are not used)."""
    if address and not ray_available():
        raise ConfigError("a Ray address is set but ray is not installed: pip install -r requirements-ray.txt")
    if address:
        return Sweep(grid, lambda: make_backend("ray", address), capacity.RUN_CACHE, **kwargs).start()
    slots = (capacity.SWEEP_SLOTS, capacity.SLOTS)
    return Sweep(grid, lambda: LocalPool(capacity.SWEEP_SLOTS.n), capacity.RUN_CACHE, slots, **kwargs).start()
