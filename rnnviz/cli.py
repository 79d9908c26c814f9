"""The instructor's command line over the run store: `python -m rnnviz runs list | export DIR | prune`.

It works beside a running server (it never marks the server's playing runs interrupted) or with none.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import sys
import time
from pathlib import Path

import click

from rnnviz import server
from rnnviz.runs import listing, runfile
from rnnviz.runs.runfile import RunFileError
from rnnviz.runs.store import FINISHED, RunEntry, Store, StoreError

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
