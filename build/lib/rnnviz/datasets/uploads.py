"""Uploaded files: a bounded in-memory store keyed by content hash, and strict parsers.

A RunConfig carries only the key (`dataset_params={"upload": key}`), so it stays small and
JSON-round-trippable; every way a file can be unusable ends in a DatasetError that says why.
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from rnnviz.datasets import DatasetError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # per file
STORE_BYTES = 64 * 1024 * 1024  # all uploads kept by this process; least recently used go first
MISSING = "the uploaded file is no longer on this server; upload it again"

_store: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
_lock = threading.Lock()  # streamlit serves sessions from several threads


def register_upload(content: bytes, filename: str) -> str:
    """Check `content` (.csv/.tsv as a series, anything else as text), keep it, return its key (sha256 prefix)."""
    if filename.lower().endswith((".csv", ".tsv")):
        parse_csv(content)
    else:
        parse_text(content)
    key = hashlib.sha256(content).hexdigest()[:16]
    with _lock:
        _store[key] = (filename, bytes(content))
        _store.move_to_end(key)
        while sum(len(c) for _, c in _store.values()) > STORE_BYTES:
            _store.popitem(last=False)
    return key


def get_upload(key: str) -> tuple[str, bytes]:
    """(filename, content) of an upload, or DatasetError if it was never here or was evicted."""
    with _lock:
        if key not in _store:
            raise DatasetError(MISSING)
        _store.move_to_end(key)
        return _store[key]


def clear_uploads() -> None:
    with _lock:
        _store.clear()


def parse_text(content: bytes, min_chars: int = 2) -> str:
    """UTF-8 text of an uploaded .txt, checked for size, binary content and length."""
    text = _decode(content, "text file")
    if len(text) < min_chars:
        raise DatasetError(f"the text has {len(text)} characters; at least {min_chars} are needed "
                           "(one training window and one validation window of seq_len + 1 characters)")
    return text


def parse_csv(content: bytes, column: str | None = None, min_rows: int = 3) -> tuple[np.ndarray, dict]:
    """One numeric column of a CSV as float64 values, plus what was found (columns, header, dropped rows)."""
    table, header = _read_table(_decode(content, "CSV file"))
    numeric = [c for c in table.columns if _is_numeric(table[c])]
    if not numeric:
        raise DatasetError("the CSV has no numeric column; it needs one column of numbers (a header row and a "
                           "date column are allowed)")
    name = _choose_column(table, numeric, column)
    values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    values = values[finite]
    if len(values) < min_rows:
        raise DatasetError(f"column {name!r} has {len(values)} usable rows (after dropping {int((~finite).sum())} "
                           f"empty, NaN or infinite values); at least {min_rows} are needed (seq_len + 1)")
    info = {"column": name, "columns": numeric, "header": header, "rows": len(values),
            "dropped": int((~finite).sum()), "date_column": _date_column(table, numeric)}
    return values, info


def _check_size(content: bytes) -> None:
    if not isinstance(content, (bytes, bytearray)):
        raise DatasetError(f"an upload must be bytes, got {type(content).__name__}")
    if len(content) > MAX_UPLOAD_BYTES:
        raise DatasetError(f"the file is {len(content) / 2**20:.1f} MB; uploads are limited to "
                           f"{MAX_UPLOAD_BYTES // 2**20} MB")


def _decode(content: bytes, kind: str) -> str:
    _check_size(content)
    if not content.strip():
        raise DatasetError(f"the {kind} is empty; upload a non-empty UTF-8 {kind}")
    controls = sum(content.count(bytes([b])) for b in range(32) if b not in (9, 10, 13))
    if b"\x00" in content or controls > len(content) // 20:
        raise DatasetError(f"this looks like a binary file, not a {kind}; only plain UTF-8 text is allowed")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DatasetError(f"the {kind} is not UTF-8 text (byte 0x{content[e.start]:02x} at position {e.start}); "
                           "save it as UTF-8 and upload it again") from None


def _read_table(text: str) -> tuple[pd.DataFrame, bool]:
    """All cells as text; the first row is a header when it has text where the column below has numbers."""
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    sep = max(",;\t", key=first.count) if any(s in first for s in ",;\t") else ","
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str, comment="#",
                          skip_blank_lines=True, keep_default_na=False, skipinitialspace=True)
    except (ValueError, csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DatasetError(f"the CSV could not be read ({msg}); every row needs the same number of "
                           "comma-, semicolon- or tab-separated values") from None
    if raw.empty:
        raise DatasetError("the CSV file has no rows of data; it needs one column of numbers")
    raw = raw.map(str.strip)
    header = len(raw) > 1 and any(
        not _is_number(raw.iat[0, j]) and _is_numeric(raw.iloc[1:, j]) for j in range(raw.shape[1]))
    if header:
        names = [str(v) or f"column {j + 1}" for j, v in enumerate(raw.iloc[0])]
        names = [n if names.count(n) == 1 else f"{n} ({j + 1})" for j, n in enumerate(names)]
        table = raw.iloc[1:].reset_index(drop=True)
        table.columns = names
    else:
        table = raw.set_axis([f"column {j + 1}" for j in range(raw.shape[1])], axis=1)
    return table, bool(header)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _is_numeric(cells: pd.Series) -> bool:
    """Every non-empty cell is a number and at least one is finite."""
    filled = cells[cells != ""]
    values = pd.to_numeric(filled, errors="coerce")
    return len(filled) > 0 and all(map(_is_number, filled)) and bool(np.isfinite(values.to_numpy(float)).any())


def _choose_column(table: pd.DataFrame, numeric: list[str], column: str | None) -> str:
    if column is None or column == "":
        return numeric[-1]  # a date or index usually comes first, the measurement last
    if column not in table.columns:
        raise DatasetError(f"the CSV has no column {column!r}; numeric columns: {', '.join(numeric)}")
    if column not in numeric:
        raise DatasetError(f"column {column!r} is not numeric; choose one of {', '.join(numeric)}")
    return column


def _date_column(table: pd.DataFrame, numeric: list[str]) -> str | None:
    """The first non-numeric column that reads as dates (used for labels only; rows keep file order)."""
    for name in table.columns:
        if name not in numeric:
            dates = pd.to_datetime(table[name].head(50), errors="coerce", format="mixed")
            if dates.notna().mean() > 0.9:
                return name
    return None
