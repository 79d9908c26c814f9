"""The command line: `python -m rnnviz train | open | inspect` for your own runs and models, and
`python -m rnnviz runs list | export DIR | prune` over the run store.

It works beside a running server (it never marks the server's playing runs interrupted) or with none.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import click

from rnnviz import server
from rnnviz.datasets import DatasetError, load_dataset, parse_npy, register_upload
from rnnviz.engine import changes as live
from rnnviz.engine.checkpoint import CheckpointError, build_module, detect, read_state_dict
from rnnviz.engine.config import FIELDS, ConfigError, RunConfig, parse_query
from rnnviz.engine.own import ModelError, checkpoint_run
from rnnviz.engine.train import Run, new_run
from rnnviz.runs import listing, runfile
from rnnviz.runs.registry import Registry
from rnnviz.runs.runfile import RunFileError
from rnnviz.runs.store import FINISHED, RunEntry, Store, StoreError
from rnnviz.views.inspection import inspect

PRUNABLE = ("paused", "interrupted", *FINISHED)  # a playing run is kept again at its next checkpoint anyway
INDEX = "index.json"  # what `export` writes beside the run files
SUFFIX = ".zip"  # a run file (rnnviz/runs/runfile.py), as the app's "Download this run" names it


class Group(click.Group):
    """Failures of the disk or the index end as one line and a nonzero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (OSError, sqlite3.Error) as err:
            raise click.ClickException(f"{type(err).__name__}: {err}".splitlines()[0]) from None


def data_dir_option(command):
    """--data-dir, taken before or after the command's name (`runs list --data-dir X` as `--data-dir X runs list`)."""

    def remember(ctx: click.Context, _param, value: Path | None) -> None:
        if value is not None:
            ctx.meta["data_dir"] = value  # meta is shared by every context of the command line

    return click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), expose_value=False,
                        callback=remember, help="The run store's folder. Default: RNNVIZ_DATA_DIR, else "
                        f"{server.data_dir({})}.")(command)


@click.group(cls=Group)
@data_dir_option
def main() -> None:
    """rnnviz: watch recurrent networks learn. `streamlit run app.py` starts the app; these commands look after
    the runs it keeps."""


@main.group(cls=Group)
@data_dir_option
def runs() -> None:
    """The runs kept on this server's disk."""


def open_store(ctx: click.Context) -> Store:
    """The store in --data-dir, closed when the command ends; a folder that holds none is an error (nothing is
    made there)."""
    root = Path(ctx.meta.get("data_dir") or server.data_dir())
    if not (root / "index.sqlite").is_file():
        raise click.ClickException(f"{root} holds no rnnviz run store (no index.sqlite): nothing has been kept "
                                   "there yet, or --data-dir / RNNVIZ_DATA_DIR points elsewhere")
    store = Store(root, recover=False)
    if not store.available:
        raise click.ClickException(f"the run store in {root} can't be opened ({store.why})")
    ctx.call_on_close(store.close)
    if store.problems:  # the index was damaged and has been made again: put the runs back from their sidecars
        for line in store.recover():
            click.echo(f"note: {line}", err=True)
    return store


@runs.command("list")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="A JSON list of the runs (without their secrets), for scripts.")
@click.pass_context
def list_runs(ctx: click.Context, as_json: bool) -> None:
    """Every run: id, name, owner, state, step, settings, latest loss, last checkpoint, size. An unreadable run
    says why under its row."""
    store = open_store(ctx)
    entries = store.entries()
    if as_json:
        click.echo(json.dumps([public(e) for e in entries], indent=1))
        return
    if not entries:
        click.echo(f"No runs in {store.root}.")
        return
    click.echo(f"{'id':<8}  {'name':<22} {'owner':<8}  {'state':<11} {'step':>15}  {'loss':>8}  "
               f"{'checkpoint':<16} {'size':>8}  settings")
    for e in entries:
        click.echo(row(e))
        if e.error:
            click.echo(f"{'':10}unreadable: {e.error}")
    click.echo(f"{len(entries)} runs, {_size(store.total_bytes())} in {store.root}")


def row(e: RunEntry) -> str:
    loss = final_loss(e)
    return (f"{e.key[:8]:<8}  {listing.label(e)[:22]:<22} {e.owner[:8] or '-':<8}  "
            f"{'damaged' if e.error else e.state:<11} {f'{e.step:,} / {e.steps:,}':>15}  "
            f"{'' if loss is None else f'{loss:.4g}':>8}  {_when(e.updated):<16} {_size(e.nbytes):>8}  "
            f"{listing.settings_line(listing.config_of(e))}")


@runs.command()
@data_dir_option
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--with-links", is_flag=True,
              help="Also write each run's link secrets (its id and view token) into index.json, so that the old "
                   "links can be given back: whoever has the file can then control the runs. Default: without.")
@click.pass_context
def export(ctx: click.Context, folder: Path, with_links: bool) -> None:
    """Write every readable run as a run file into FOLDER (made if missing; any rnnviz opens the files from its
    sidebar), with an index.json of their settings, states and scores. Exit 1 if a run had to be skipped."""
    store = open_store(ctx)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".rnnviz-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise click.ClickException(f"can't write to {folder}: {err.strerror or err}") from None
    index, skipped, taken = [], [], {INDEX}
    with click.progressbar(store.entries(), label="Exporting runs", file=sys.stderr,
                           item_show_func=lambda e: e and listing.label(e)) as bar:
        for e in bar:
            blob, why = readable(store, e)
            if blob is None:
                skipped.append(f"{e.key[:8]} {listing.label(e)}: {why}")
                continue
            name = file_name(e, taken)
            try:
                (folder / name).write_bytes(blob)
            except OSError as err:
                raise click.ClickException(f"writing {folder / name} failed: {err.strerror or err} "
                                           f"({len(index)} runs written so far)") from None
            links = {"run_id": e.run_id, "view_token": e.view_token} if with_links else {}
            index.append({**public(e), "file": name, **links})
    (folder / INDEX).write_text(json.dumps(index, indent=1))
    click.echo(f"Exported {len(index)} runs to {folder}" + (f"; skipped {len(skipped)}:" if skipped else "."))
    for line in skipped:
        click.echo(f"  {line}")
    if skipped:
        ctx.exit(1)


def readable(store: Store, e: RunEntry) -> tuple[bytes | None, str]:
    """The run's checkpoint, checked to be a whole run file (every entry's CRC); else None and why."""
    if e.error:
        return None, e.error
    try:
        blob = store.read(e.key)
        runfile.read_entries(blob)
    except (StoreError, RunFileError) as err:
        return None, f"{err}"
    return blob, ""


def file_name(e: RunEntry, taken: set[str]) -> str:
    """`<name>.zip`, or `<short id>.zip` for a run without a name; the id is added when two runs share a name."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", e.name).strip("-.")[:60] or e.key[:8]
    name = next(n for n in (f"{stem}{SUFFIX}", f"{stem}-{e.key[:8]}{SUFFIX}", f"{e.key}{SUFFIX}") if n not in taken)
    taken.add(name)
    return name


@runs.command()
@data_dir_option
@click.option("--state", "states", multiple=True, type=click.Choice(PRUNABLE),
              help="Only runs in this state (repeatable).")
@click.option("--older-than", type=click.FloatRange(min=0), default=None, metavar="DAYS",
              help="Only runs nobody opened for more than DAYS days.")
@click.option("--all", "everything", is_flag=True, help="Every run (wipe the store).")
@click.option("--dry-run", is_flag=True, help="Say what would go; delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def prune(ctx: click.Context, states: tuple[str, ...], older_than: float | None, everything: bool, dry_run: bool,
          yes: bool) -> None:
    """Delete runs: those matching every filter given (--state, --older-than), or --all. A run playing on a running
    server is kept again at its next checkpoint: pause it, or stop the server, first."""
    if not (states or older_than is not None or everything):
        raise click.UsageError("say which runs to delete: --state STATE (one of " + ", ".join(PRUNABLE) +
                               "; repeatable), --older-than DAYS, or --all")
    if everything and (states or older_than is not None):
        raise click.UsageError("--all deletes every run: give it alone, or filters without it")
    store = open_store(ctx)
    now = time.time()
    chosen = [e for e in store.entries()
              if (not states or e.state in states)
              and (older_than is None or now - (e.opened or e.created) > older_than * 86400)]
    if not chosen:
        click.echo("No run matches.")
        return
    for e in chosen:
        click.echo(f"{'would delete' if dry_run else 'delete'} {e.key[:8]}  {listing.label(e)}  ({e.state}, "
                   f"step {e.step:,}, {_size(e.nbytes)})")
    if dry_run:
        click.echo(f"{len(chosen)} runs would be deleted (dry run: nothing deleted).")
        return
    if not yes:
        click.confirm(f"Delete these {len(chosen)} runs?", abort=True)
    for e in chosen:
        store.delete(e.key)
    click.echo(f"Deleted {len(chosen)} runs; {len(store.entries())} left.")


def public(e: RunEntry) -> dict:
    """An entry without its secrets."""
    config = listing.config_of(e)
    return {"key": e.key, "name": e.name, "owner": e.owner, "origin": e.origin, "state": e.state, "step": e.step,
            "steps": e.steps, "settings": config.to_dict() if config is not None else None,
            "metrics": _json(e.metrics), "created": e.created, "updated": e.updated, "opened": e.opened,
            "bytes": e.nbytes, "error": e.error}


def final_loss(e: RunEntry) -> float | None:
    metrics = _json(e.metrics)
    return metrics.get("val_loss", metrics.get("loss"))


def _json(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _when(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M") if t else "-"


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


# ---- your own runs and models: train headless, open in the app, inspect a checkpoint ----------------------------


class Refused(click.ClickException):
    """Your settings or your file refused, with the app's own message: exit 2, as click's usage errors."""

    exit_code = 2


def read_settings(source: str) -> tuple[RunConfig, live.Changes]:
    """Settings from a JSON file ({"cell": "lstm", ..., "changes": [[step, {...}], ...]}) or from a link or its
    query string (`http://host/Train?cell=gru&hidden_size=24`); the app's own checks and messages."""
    try:
        if Path(source).suffix.lower() == ".json":
            return json_settings(Path(source))
        query = urlparse(source).query if "://" in source or source.startswith("/") else source.lstrip("?")
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if not any(k in FIELDS or k == "changes" for k in params):
            raise Refused(f"{source!r} is neither a .json file nor a link with settings "
                          "(e.g. 'cell=gru&hidden_size=24')")
        config = parse_query(params)  # keys that are not settings (run=, view=) are left out, as the app does
        return config, live.from_json(config, params["changes"]) if "changes" in params else ()
    except (ConfigError, DatasetError) as err:
        raise Refused(f"settings refused: {err}") from None


def json_settings(path: Path) -> tuple[RunConfig, live.Changes]:
    if not path.is_file():
        raise Refused(f"{path}: no such file")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise Refused(f"{path} is not a JSON object of settings ({f'{err}'.splitlines()[0]})") from None
    if not isinstance(settings, dict):
        raise Refused(f"{path} must hold a JSON object of settings, e.g. {{\"cell\": \"gru\", \"steps\": 500}}")
    items = settings.pop("changes", [])
    config = RunConfig.from_dict(settings)
    return config, live.from_list(config, items)


@main.command("train")
@data_dir_option
@click.argument("source")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The run file to write (.zip; open it in the app's sidebar or with `python -m rnnviz open`).")
@click.option("--keep", is_flag=True, help="Also keep the run in the run store (--data-dir) and print its link.")
@click.pass_context
def train_command(ctx: click.Context, source: str, out: Path, keep: bool) -> None:
    """Train a run headless from SOURCE (a JSON file of settings, or an app link) and write its run file: a
    workshop's runs trained before it starts. Ctrl-C stops after the step under way and writes the run so far."""
    config, changes = read_settings(source)
    if not out.absolute().parent.is_dir():
        raise Refused(f"--out {out}: there is no folder {out.absolute().parent} to write it in")
    try:
        run = new_run(config, changes=changes)
    except (ConfigError, DatasetError) as err:
        raise Refused(f"settings refused: {err}") from None
    started = time.perf_counter()
    with stop_on_ctrl_c() as stopped:
        train_with_bar(run, stopped)
    if run.step < 0:
        raise click.ClickException(f"stopped before the first step: nothing to write to {out}")
    write_atomically(out, runfile.save_run(run))
    click.echo(summary(run, stopped(), time.perf_counter() - started, out))
    if keep:
        root, secret = keep_in_store(ctx, run, origin="cli", name=out.name)
        click.echo(f"kept in {root}: /Train?run={secret} on a server with that data folder")


@contextlib.contextmanager
def stop_on_ctrl_c() -> Iterator[Callable[[], bool]]:
    """A first Ctrl-C asks training to stop after the step under way (so the run is whole); a second one quits
    at once, writing nothing. Where no handler can be set (not the main thread) Ctrl-C just quits."""
    asked: list[bool] = []

    def ask(_signum, _frame) -> None:
        asked.append(True)
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
        click.echo("\nstopping after this step, then writing the run so far (Ctrl-C again: quit, write nothing)",
                   err=True)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, ask) if main_thread else None
    try:
        yield lambda: bool(asked)
    finally:
        if main_thread and signal.getsignal(signal.SIGINT) is ask:
            signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)


def train_with_bar(run: Run, stopped: Callable[[], bool]) -> None:
    """Train to the end, divergence or `stopped`, with a progress bar (step, steps/s, time left) drawn at most
    every 0.5 s: a tiny run takes thousands of steps a second."""
    t0 = last = time.perf_counter()

    def speed(_) -> str:
        return f"{run.step / max(time.perf_counter() - t0, 1e-9):,.0f} steps/s" if run.step > 0 else ""

    with click.progressbar(length=run.config.steps + 1, label="training", show_pos=True, item_show_func=speed,
                           file=sys.stderr) as bar:
        done = 0
        for event in run.events(stop=stopped):
            run.record(event)
            if (now := time.perf_counter()) - last >= 0.5 or run.finished:
                bar.update(run.step + 1 - done)
                done, last = run.step + 1, now


def summary(run: Run, stopped: bool, seconds: float, out: Path) -> str:
    val = run.latest_losses().get("val_loss")
    ending = (f"diverged at step {run.diverged_at:,}" if run.diverged_at is not None
              else "stopped (Ctrl-C), the run so far written" if stopped else "finished, did not diverge")
    return (f"{ending}: {max(run.step, 0):,} / {run.config.steps:,} steps in {seconds:,.1f} s"
            + ("" if val is None else f", validation loss {val:.4g}") + f" -> {out}")


def write_atomically(path: Path, blob: bytes) -> None:
    """A reader (or a Ctrl-C) never finds half a file: the whole one is written beside it, then renamed."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_bytes(blob)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def keep_in_store(ctx: click.Context, run: Run, origin: str, name: str) -> tuple[Path, str]:
    """Register the run in --data-dir's store (made if missing) and write its checkpoint; its root and link id."""
    root = Path(ctx.meta.get("data_dir") or server.data_dir())
    store = Store(root, recover=False)
    if not store.available:
        raise click.ClickException(store.why)
    try:
        registry = Registry(store, cache=None)
        access = registry.adopt(run, origin=origin, name=name)
        if not registry.checkpoint(access.held):
            raise click.ClickException(f"{name} was not kept in {root}: "
                                       f"{registry.why or 'an untrained run is made again from its settings'}")
    finally:
        store.close()
    return root, access.secret


@main.command("open")
@data_dir_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True, help="The app's port.")
@click.option("--data", "data_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="For a checkpoint: your sequences (.npy), when the checkpoint does not read 1 feature (sine).")
@click.option("--nonlinearity", type=click.Choice(["tanh", "relu"]), default="tanh", show_default=True,
              help="For an nn.RNN checkpoint: its nonlinearity (shapes do not tell).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser (none is opened when stdout is not a "
              "terminal either).")
@click.option("--dry-run", is_flag=True, help="Keep the run and print its link; do not start the app.")
@click.pass_context
def open_command(ctx: click.Context, file: Path, port: int, data_file: Path | None, nonlinearity: str,
                 no_browser: bool, dry_run: bool) -> None:
    """Open FILE in the app: a run file (.zip) or a checkpoint of your own model (.pt, .safetensors). It is kept in
    the run store like any run and the app starts on it."""
    run = load_any(file, data_file, nonlinearity)
    origin = "file" if file.suffix.lower() == SUFFIX else "checkpoint"
    root, secret = keep_in_store(ctx, run, origin=origin, name=file.name)
    link = f"http://localhost:{port}/Train?run={secret}"
    click.echo(f"{file.name}: a run at step {max(run.step, 0):,} of {run.config.steps:,}, kept in {root}\n{link}")
    if dry_run:
        return
    ctx.exit(serve(root, port, link if not no_browser and sys.stdout.isatty() else None))


def serve(root: Path, port: int, browse: str | None) -> int:
    """`streamlit run app.py` on the store in `root` until it ends (Ctrl-C); opens `browse` once it answers."""
    app = Path(__file__).resolve().parents[1] / "app.py"
    env = {**os.environ, "RNNVIZ_DATA_DIR": str(root)}
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
               "--server.headless", "true"]
    with subprocess.Popen(command, cwd=app.parent, env=env) as app_server:
        try:
            if browse is not None and answers(app_server, port):
                webbrowser.open(browse)
            return app_server.wait()
        except KeyboardInterrupt:  # the terminal sent it to streamlit too: let it shut down
            try:
                return app_server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                app_server.terminate()
                return app_server.wait()


def answers(process: subprocess.Popen, port: int, seconds: float = 30) -> bool:
    """Whether the server listens on `port` within `seconds` (False once it has exited)."""
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("localhost", port), timeout=0.5):
            return True
        time.sleep(0.2)
    return False


def load_any(file: Path, data_file: Path | None, nonlinearity: str):
    """A run from a run file, or from a checkpoint on your .npy sequences (else on the sine wave)."""
    blob = file.read_bytes()
    if file.suffix.lower() == SUFFIX or blob.startswith(b"PK\x03\x04") and b"rnnviz.json" in blob[-4096:]:
        try:
            return runfile.load_run(blob)
        except RunFileError as err:
            raise Refused(f"{file.name} was not opened: {err}") from None
    det, weights = read_checkpoint(file)
    try:
        config = RunConfig(cell=det.kind if det.kind != "rnn" else f"rnn_{nonlinearity}", hidden_size=det.hidden_size,
                           num_layers=det.num_layers, **data_settings(data_file))
        return checkpoint_run(config, det.recurrent_state(weights), det.head_state(weights))
    except (ConfigError, DatasetError, ModelError) as err:
        raise Refused(f"{file.name} does not fit: {err}") from None


def read_checkpoint(file: Path):
    try:
        weights = read_state_dict(file.read_bytes(), file.name)
        return detect(weights), weights
    except CheckpointError as err:
        raise Refused(f"{file.name} was not opened: {err}") from None


def data_settings(data_file: Path | None) -> dict:
    """The dataset settings for your .npy sequences (uploaded as the app would), or the sine wave's."""
    if data_file is None:
        return {"dataset": "sine"}
    try:
        key = register_upload(data_file.read_bytes(), data_file.name)
        steps = parse_npy(data_file.read_bytes()).shape[1]
    except DatasetError as err:
        raise Refused(f"{data_file.name} was not used: {err}") from None
    return {"dataset": "npy", "dataset_params": {"upload": key}, "seq_len": min(steps - 1, 2000)}


@main.command("inspect")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--data", "data_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your sequences (.npy, (sequences, steps[, features])); default: rnnviz's sine wave.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The report to write: every figure in one standalone HTML file.")
@click.option("--samples", default=16, show_default=True, help="Sequences to replay.")
@click.option("--nonlinearity", type=click.Choice(["tanh", "relu"]), default="tanh", show_default=True)
def inspect_command(checkpoint: Path, data_file: Path | None, html_file: Path, samples: int,
                    nonlinearity: str) -> None:
    """Write CHECKPOINT's figures (trajectories, gates, saturation, ||dL/dh_t|| and its decay, step Jacobians)
    on your data as one HTML report, as rnnviz.inspect draws them."""
    det, weights = read_checkpoint(checkpoint)
    module, head = build_module(det, weights, nonlinearity)
    if data_file is not None:
        try:
            x = parse_npy(data_file.read_bytes())[:samples]
        except DatasetError as err:
            raise Refused(f"{data_file.name} was not used: {err}") from None
    else:
        x = load_dataset(RunConfig(dataset="sine")).x_val[:samples].numpy()
    try:
        view = inspect(module, x, head=head)
    except ModelError as err:
        raise Refused(f"{checkpoint.name} does not fit the data: {err}") from None
    write_atomically(html_file, view.html().encode())
    decay = view.decay()
    click.echo(f"{det.kind.upper()} {det.num_layers}×{det.hidden_size} on {x.shape[0]} sequences of {x.shape[1]} "
               f"steps: gradient kept per step back {decay.factor_per_step:.3f}× ({decay.verdict}) -> {html_file}")
