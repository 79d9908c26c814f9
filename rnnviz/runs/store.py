"""The run store: an SQLite index (WAL) and one checkpoint file per run, in a data folder, kept like a database.

Every write is atomic (temporary file, fsync, rename, fsync the folder; one transaction per index change), so a
`kill -9` at any moment loses at most the write under way. Each checkpoint has a JSON sidecar with its index row,
from which a lost or damaged index is rebuilt. A folder that can't be written never raises: the store says why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from rnnviz import server

SCHEMA = 1
FINISHED = ("finished", "diverged")  # the states eviction may take
TEMP = ".tmp-"  # prefix of files being written


class StoreError(Exception):
    """A run's checkpoint can't be read; the message names the run and why."""


@dataclass
class RunEntry:
    """One row of the index: what the Runs page lists without opening the checkpoint."""

    key: str  # sha256 of run_id: the primary key (lookups never compare the secret itself)
    run_id: str  # the secret control id carried by ?run=
    view_token: str  # the secret of view-only links
    owner: str = ""  # sha256 of the browser token that made it ("" = none, e.g. the command line)
    name: str = ""
    config: str = "{}"  # JSON of the run's settings
    origin: str = "train"  # train, lesson, compare, sweep, file, cli
    group: str = ""  # the sweep it belongs to
    state: str = "paused"  # playing, paused, finished, diverged, interrupted
    step: int = 0
    steps: int = 0
    metrics: str = "{}"  # JSON of the latest scores
    created: float = 0.0
    updated: float = 0.0  # the last checkpoint
    opened: float = 0.0  # last opened by someone (least recently opened finished runs are evicted first)
    nbytes: int = 0
    error: str = ""  # why its checkpoint can't be read
    row: str = ""  # JSON of a sweep run's result row (what the Sweep page shows again after a restart)
    changes: str = "[]"  # JSON of its live changes, [[step, {setting: value}], ...] (rnnviz.engine.changes)
    parent: str = ""  # the key of the run it was forked from ("" = not a fork)
    fork_step: int = 0  # the parent's step it was forked at

    @property
    def view_key(self) -> str:
        return key_of(self.view_token)


FIELDS = [f.name for f in dataclasses.fields(RunEntry)]
COLUMNS = ", ".join("grp" if n == "group" else n for n in FIELDS)  # GROUP is an SQL keyword
TYPES = {"step": "INTEGER", "steps": "INTEGER", "fork_step": "INTEGER", "nbytes": "INTEGER", "created": "REAL",
         "updated": "REAL", "opened": "REAL"}


def new_secret() -> str:
    """192 random bits, URL-safe."""
    import secrets

    return secrets.token_urlsafe(24)


def key_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


class Store:
    def __init__(self, root: str | os.PathLike | None = None, max_bytes: int | None = None, recover: bool = True):
        """`recover=False` for a second program beside a running server (the command line): it leaves the rows of
        playing runs as they are."""
        self.root = Path(root if root is not None else server.data_dir())
        self.max_bytes = server.STORE_BYTES if max_bytes is None else max(0, int(max_bytes))
        self.why: str | None = None
        self.available = False
        self._lock = threading.RLock()  # one connection, used by one thread at a time
        self._db: sqlite3.Connection | None = None
        self.problems: list[str] = []
        try:
            self._open()
            self.available = True
            if recover:
                self.problems = self.recover()
        except (OSError, sqlite3.Error) as err:
            self.why = f"runs are not being kept: {self.root} is not a writable folder ({_err(err)})"

    # ---- opening and recovery ----------------------------------------------------------------------------

    def _open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.root / "runs").mkdir(exist_ok=True, mode=0o700)
        probe = self.root / f"{TEMP}probe"
        probe.write_bytes(b"")  # a read-only folder fails here, not at the first checkpoint
        probe.unlink()
        path = self.root / "index.sqlite"
        try:
            self._db = self._connect(path)
        except sqlite3.DatabaseError as err:
            aside = path.with_name(f"index.sqlite.damaged-{int(time.time())}")
            os.replace(path, aside)
            for extra in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{path}{extra}")
            self.problems.append(f"the index was damaged ({_err(err)}): kept aside as {aside.name}, rebuilt")
            self._db = self._connect(path)

    def _connect(self, path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            cols = ", ".join(f"{c} {TYPES.get(c, 'TEXT')}" for c in COLUMNS.split(", ")[1:])
            db.execute(f"CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, {cols}, view_key TEXT)")
            have = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
            for c in COLUMNS.split(", ")[1:]:
                if c not in have:  # an index written by a version with fewer fields
                    kind = TYPES.get(c, "TEXT")
                    db.execute(f"ALTER TABLE runs ADD COLUMN {c} {kind} DEFAULT {0 if kind != 'TEXT' else repr('')}")
            db.execute("CREATE INDEX IF NOT EXISTS runs_view ON runs (view_key)")
            db.execute("CREATE TABLE IF NOT EXISTS groups_ (id TEXT PRIMARY KEY, owner TEXT, kind TEXT, spec TEXT, "
                       "state TEXT, created REAL)")
            db.execute(f"PRAGMA user_version={SCHEMA}")
            db.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
        return db

    def recover(self) -> list[str]:
        """After a start: runs that were training are interrupted, half-written files go, rows are checked against
        files, and checkpoints the index lost are put back from their sidecars. One line per problem."""
        lines = list(self.problems)
        with self._lock:
            self._sql("UPDATE runs SET state='interrupted' WHERE state='playing'")
            self._sql("UPDATE groups_ SET state='interrupted' WHERE state='running'")
            known = {r[0] for r in self._sql("SELECT key FROM runs").fetchall()}
        for folder in (self.root / "runs").iterdir() if (self.root / "runs").is_dir() else ():
            for f in folder.iterdir() if folder.is_dir() else ():
                if f.name.startswith(TEMP):
                    f.unlink(missing_ok=True)
                elif f.suffix == ".json" and f.stem not in known:
                    lines += self._from_sidecar(f)
        for entry in self.entries():
            if not self._file(entry.key).exists() and not entry.error:
                self.update(entry.key, error="its checkpoint file is missing")
                lines.append(f"run {entry.key[:8]}: its checkpoint file is missing")
        return lines

    def _from_sidecar(self, path: Path) -> list[str]:
        try:
            entry = RunEntry(**{k: v for k, v in json.loads(path.read_text()).items() if k in FIELDS})
            if entry.key != path.stem or key_of(entry.run_id) != entry.key:
                raise ValueError("the sidecar does not match its file name")
            if entry.state == "playing":
                entry.state = "interrupted"
            self._row(entry)
            return [f"run {entry.key[:8]}: put back into the index from its sidecar"]
        except (OSError, ValueError, TypeError) as err:
            return [f"{path.name}: skipped ({_err(err)})"]

    # ---- writing -------------------------------------------------------------------------------------------

    def put(self, entry: RunEntry, blob: bytes | None = None) -> bool:
        """Keep `entry` (and its checkpoint `blob`); False, with `why` set, when it could not be kept."""
        if not self.available:
            return False
        if blob is not None and self.max_bytes == 0:
            self.why = "runs are not being kept: the store's size is 0 (RNNVIZ_STORE_GB=0)"
            return False
        try:
            with self._lock:
                if blob is not None:
                    old = self.get(entry.key)
                    need = len(blob) - (old.nbytes if old else 0)
                    self.evict(need, protect=(entry.key,))
                    if self.total_bytes() + need > self.max_bytes:
                        self.why = (f"runs are not being kept: the store is full ({_gb(self.total_bytes())} of "
                                    f"{_gb(self.max_bytes)}, RNNVIZ_STORE_GB) and holds no finished run to make room")
                        return False
                    entry.nbytes, entry.updated, entry.error = len(blob), time.time(), ""
                    _atomic_write(self._file(entry.key), blob)
                _atomic_write(self._sidecar(entry.key), json.dumps(dataclasses.asdict(entry)).encode())
                self._row(entry)
        except (OSError, sqlite3.Error) as err:
            full = isinstance(err, OSError) and err.errno in (28, 122)  # ENOSPC, EDQUOT
            self.why = ("runs are not being kept: the disk is full" if full else
                        f"runs are not being kept: writing to {self.root} failed") + f" ({_err(err)})"
            return False
        self.why = None
        return True

    def _row(self, entry: RunEntry) -> None:
        values = [getattr(entry, n) for n in FIELDS] + [entry.view_key]
        with self._lock:
            self._sql(f"INSERT OR REPLACE INTO runs ({COLUMNS}, view_key) VALUES "
                      f"({', '.join('?' * (len(FIELDS) + 1))})", values)

    def update(self, key: str, **fields) -> None:
        """Change index fields of a run (state, name, opened, ...), its sidecar too."""
        unknown = set(fields) - set(FIELDS) - {"key"}
        if unknown or not self.available:
            if unknown:
                raise ValueError(f"unknown run fields {sorted(unknown)}")
            return
        with self._lock:
            entry = self.get(key)
            if entry is None:
                return
            entry = dataclasses.replace(entry, **fields)
            try:
                _atomic_write(self._sidecar(key), json.dumps(dataclasses.asdict(entry)).encode())
                self._row(entry)
            except (OSError, sqlite3.Error) as err:
                self.why = f"runs are not being kept: writing to {self.root} failed ({_err(err)})"

    def delete(self, key: str) -> None:
        with self._lock:
            for path in (self._file(key), self._sidecar(key)):
                with contextlib.suppress(OSError):
                    path.unlink()
            with contextlib.suppress(sqlite3.Error):
                self._sql("DELETE FROM runs WHERE key=?", (key,))

    def evict(self, need: int = 0, protect: Collection[str] = ()) -> list[str]:
        """Delete finished runs, least recently opened first (never one in `protect`), until `need` more bytes
        fit in max_bytes. Paused and interrupted runs are never evicted; nor is any run when deleting every
        finished one would still not make room."""
        gone: list[str] = []
        with self._lock:
            total = self.total_bytes()
            rows = self._sql("SELECT key, nbytes FROM runs WHERE state IN (?, ?) ORDER BY opened, created",
                             FINISHED).fetchall()
            if total - sum(n or 0 for k, n in rows if k not in protect) + need > self.max_bytes:
                return gone  # the write will be refused anyway: keep them
            for key, nbytes in rows:
                if total + need <= self.max_bytes:
                    break
                if key in protect:
                    continue
                self.delete(key)
                total -= nbytes or 0
                gone.append(key)
        return gone

    # ---- reading -------------------------------------------------------------------------------------------

    def get(self, key: str) -> RunEntry | None:
        if not self.available:
            return None
        with self._lock:
            row = self._sql(f"SELECT {COLUMNS} FROM runs WHERE key=?", (key,)).fetchone()
        return None if row is None else RunEntry(*row)

    def find(self, secret: str) -> tuple[RunEntry, bool] | None:
        """The run whose control id or view token is `secret`, and whether it grants control; else None."""
        if not isinstance(secret, str) or not 16 <= len(secret) <= 128 or not self.available:
            return None
        k = key_of(secret)
        with self._lock:
            row = self._sql(f"SELECT {COLUMNS} FROM runs WHERE key=? OR view_key=?", (k, k)).fetchone()
        if row is None:
            return None
        entry = RunEntry(*row)
        if hmac.compare_digest(entry.run_id.encode(), secret.encode()):
            return entry, True
        if hmac.compare_digest(entry.view_token.encode(), secret.encode()):
            return entry, False
        return None

    def read(self, key: str) -> bytes:
        """The run's checkpoint; StoreError (and the entry's `error` set) when it can't be read."""
        try:
            return self._file(key).read_bytes()
        except OSError as err:
            why = f"the checkpoint of run {key[:8]} can't be read ({_err(err)})"
            self.update(key, error=why)
            raise StoreError(why) from None

    def mark_damaged(self, key: str, why: str) -> None:
        self.update(key, error=why)

    def entries(self, owner: str | None = None, group: str | None = None) -> list[RunEntry]:
        """Runs, newest first; only `owner`'s or `group`'s when given."""
        if not self.available:
            return []
        where = [(c, v) for c, v in (("owner", owner), ("grp", group)) if v is not None]
        clause = (" WHERE " + " AND ".join(f"{c}=?" for c, _ in where)) if where else ""
        args = [v for _, v in where]
        with self._lock:
            rows = self._sql(f"SELECT {COLUMNS} FROM runs{clause} ORDER BY created DESC", args).fetchall()
        return [RunEntry(*r) for r in rows]

    def total_bytes(self) -> int:
        if not self.available:
            return 0
        with self._lock:
            return int(self._sql("SELECT coalesce(sum(nbytes), 0) FROM runs").fetchone()[0])

    # ---- groups (sweeps) -------------------------------------------------------------------------------------

    def put_group(self, group_id: str, owner: str, kind: str, spec: str, state: str) -> None:
        if self.available:
            with self._lock, contextlib.suppress(sqlite3.Error):
                self._sql("INSERT OR REPLACE INTO groups_ VALUES (?, ?, ?, ?, ?, ?)",
                          (group_id, owner, kind, spec, state, time.time()))

    def groups(self, owner: str | None = None, kind: str | None = None) -> list[dict]:
        if not self.available:
            return []
        with self._lock:
            rows = self._sql("SELECT id, owner, kind, spec, state, created FROM groups_ ORDER BY created DESC")
            out = [dict(zip(("id", "owner", "kind", "spec", "state", "created"), r, strict=True)) for r in rows]
        return [g for g in out if (owner is None or g["owner"] == owner) and (kind is None or g["kind"] == kind)]

    def update_group(self, group_id: str, **fields) -> None:
        if self.available and fields:
            sets = ", ".join(f"{k}=?" for k in fields if k in ("state", "spec"))
            with self._lock, contextlib.suppress(sqlite3.Error):
                self._sql(f"UPDATE groups_ SET {sets} WHERE id=?", (*fields.values(), group_id))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self.available = False

    # ---- helpers ---------------------------------------------------------------------------------------------

    def _sql(self, sql: str, args=()) -> sqlite3.Cursor:
        return self._db.execute(sql, args)

    def _file(self, key: str) -> Path:
        return self.root / "runs" / key[:2] / f"{key}.zip"

    def _sidecar(self, key: str) -> Path:
        return self.root / "runs" / key[:2] / f"{key}.json"


def _atomic_write(path: Path, blob: bytes) -> None:
    """Write `blob` to `path` so that a crash leaves either the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f"{TEMP}{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)


def _err(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0][:200]


def _gb(n: int) -> str:
    return f"{n / 2**30:.2f} GB"
