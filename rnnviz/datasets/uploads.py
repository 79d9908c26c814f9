"""Uploaded files: a bounded in-memory store keyed by content hash, and strict parsers.

A RunConfig carries only the key (`dataset_params={"upload": key}`), so it stays small and
JSON-round-trippable; every way a file can be unusable ends in a DatasetError that says why.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnviz.datasets import DatasetError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # per file
# a CSV's shape, checked before any cell is parsed so every file within the size limit is read in about a second
MAX_LINES = 50_000  # a longer series than a run needs (and the biggest cost of parsing)
MAX_COLUMNS = 100
MAX_CELLS = 100_000  # rows x columns: e.g. a date and a value in 50,000 rows
SAMPLE = 200  # cells that decide whether a column is text
MAX_SCAN = 1000  # cells of a text column searched for a number written with a decimal comma
MAX_LINE_CHARS = 10_000
BOM = b"\xef\xbb\xbf"
CONTROLS = bytes(b for b in range(32) if b not in (9, 10, 13))  # not in text (tab, newline, return are)
MISSING_WORDS = ("", "nan", "+nan", "-nan")  # a cell that marks a missing value on purpose
# 1,5 / 1.000,5 / 1,000 / 1 000: numbers as some locales write them, which CSV readers take as text
LOCALE_NUMBER = re.compile(r"[+-]?[0-9]{1,3}([ ,.'’ ][0-9]{3})+([.,][0-9]+)?|[+-]?[0-9]+,[0-9]+")
# a cell pandas refuses that float() reads right: a number too large for a float (1e309 is inf); only these
# ASCII forms go to float(), which would also take 1_000 and ١٢
ASCII_NUMBER = re.compile(r"[+-]?((\.[0-9]+|[0-9]+\.?[0-9]*)(e[+-]?[0-9]+)?|inf|infinity)", re.IGNORECASE)
_SEP_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
STORE_BYTES = 64 * 1024 * 1024  # all uploads kept by this process; least recently used go first
MISSING = "the uploaded file is no longer on this server; upload it again"

_store: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
_lock = threading.Lock()  # streamlit serves sessions from several threads


def register_upload(content: bytes, filename: str) -> str:
    """Check `content` (.csv/.tsv as a series, .npy as sequences, anything else as text), keep it, return its key
    (sha256 prefix)."""
    if filename.lower().endswith((".csv", ".tsv")):
        parse_csv(content)
    elif filename.lower().endswith(".npy"):
        parse_npy(content)
    else:
        parse_text(content)
    key = hashlib.sha256(content).hexdigest()[:16]
    with _lock:
        _store[key] = (filename, bytes(content))
        _store.move_to_end(key)
        while sum(len(c) for _, c in _store.values()) > STORE_BYTES:
            _store.popitem(last=False)
    return key


NPY_MAGIC = b"\x93NUMPY"
MAX_FEATURES = 4096  # per step of an .npy of sequences (what a checkpoint's input layer may read)


def parse_npy(content: bytes) -> np.ndarray:
    """(N, L, F) float32 from an .npy of shape (N, L) or (N, L, F), any real dtype; DatasetError says why not."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise DatasetError(f"the file is {len(content) / 2**20:.1f} MB; uploads are limited to "
                           f"{MAX_UPLOAD_BYTES // 2**20} MB")
    if not content.startswith(NPY_MAGIC):
        raise DatasetError("this is not a NumPy .npy file (save one with numpy.save(path, array))")
    shape, dtype = _header(content)
    if len(shape) not in (2, 3):
        raise DatasetError(f"an array of shape {shape}: expected (sequences, steps) or (sequences, steps, features)")
    if dtype.kind not in "fiu":
        raise DatasetError(f"an array of {dtype}: expected real numbers (float or int)")
    try:
        array = np.load(io.BytesIO(content), allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DatasetError(f"the .npy file is damaged or truncated ({str(err)[:100]})") from None
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 2:
        array = array[:, :, None]
    bad = int((~np.isfinite(array)).sum())
    if bad:
        raise DatasetError(f"the array holds {bad:,} NaN or infinite values; rnnviz needs finite numbers")
    if array.shape[2] > MAX_FEATURES:
        raise DatasetError(f"{array.shape[2]} features per step; at most {MAX_FEATURES}")
    return array.astype(np.float32)


def _header(content: bytes) -> tuple[tuple[int, ...], np.dtype]:
    """The array's shape and dtype from its header, before numpy reads the data."""
    try:
        version = content[6]
        size = int.from_bytes(content[8:10] if version == 1 else content[8:12], "little")
        start = 10 if version == 1 else 12
        header = ast.literal_eval(content[start : start + size].decode("latin-1"))
        shape, dtype = tuple(header["shape"]), np.dtype(header["descr"])
    except (ValueError, SyntaxError, KeyError, TypeError, IndexError):
        raise DatasetError("the .npy header cannot be read: the file is not a NumPy array") from None
    if dtype.hasobject:
        raise DatasetError("an array of Python objects is not allowed (it would need pickle)")
    if len(content) < start + size + int(np.prod(shape)) * dtype.itemsize:
        raise DatasetError(f"the file is shorter than its header says (shape {shape}, {dtype}): it is truncated")
    return shape, dtype


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
    """One numeric column of a CSV as float64 values, plus what was found (columns, header, dropped rows).

    The file's shape is bounded before any cell is parsed, and cells are parsed column by column in
    vectorised code, so any file within MAX_UPLOAD_BYTES is read or refused in about a second.
    """
    cells, header, lines = _read_table(_decode(content, "CSV file"))
    numeric = [name for name, c in cells.items() if c.numeric]
    name = _choose_column(cells, numeric, column, lines)
    values = cells[name].values
    finite = np.isfinite(values)
    values = values[finite]
    if len(values) < min_rows:
        raise DatasetError(f"column {name!r} has {len(values)} usable rows (after dropping {int((~finite).sum())} "
                           f"empty, NaN or infinite values); at least {min_rows} are needed (seq_len + 1)")
    info = {"column": name, "columns": numeric, "header": header, "rows": len(values),
            "dropped": int((~finite).sum()), "date_column": _date_column(cells, numeric)}
    return values, info


def _check_size(content: bytes) -> None:
    if not isinstance(content, (bytes, bytearray)):
        raise DatasetError(f"an upload must be bytes, got {type(content).__name__}")
    if len(content) > MAX_UPLOAD_BYTES:
        raise DatasetError(f"the file is {len(content) / 2**20:.1f} MB; uploads are limited to "
                           f"{MAX_UPLOAD_BYTES // 2**20} MB")


def _decode(content: bytes, kind: str) -> str:
    _check_size(content)
    content = bytes(content).removeprefix(BOM)  # a byte-order mark alone is an empty file, not a binary one
    if not content.strip():
        raise DatasetError(f"the {kind} is empty; upload a non-empty UTF-8 {kind}")
    if _is_utf16(content):
        raise DatasetError(f"the {kind} is UTF-16 text; save it as UTF-8 (in most editors: Save as... > "
                           "encoding UTF-8) and upload it again")
    controls = len(content) - len(content.translate(None, CONTROLS))  # one pass, in C
    if b"\x00" in content or controls > len(content) // 20:
        raise DatasetError(f"this looks like a binary file, not a {kind}; only plain UTF-8 text is allowed")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DatasetError(f"the {kind} is not UTF-8 text (byte 0x{content[e.start]:02x} at position {e.start}); "
                           "save it as UTF-8 and upload it again") from None


def _is_utf16(content: bytes) -> bool:
    """A UTF-16 byte-order mark, or mostly-ASCII UTF-16: a zero byte in every other position."""
    if content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    half = len(content) // 2
    zeros = sorted((content[0::2].count(0), content[1::2].count(0)))
    return half >= 2 and zeros[1] > 0.9 * half and zeros[0] < 0.1 * half


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the rows with data: blank lines and #-comments left out; shape bounded first."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    n = text.count("\n") + (not text.endswith("\n"))
    if n > MAX_LINES:
        raise DatasetError(f"the CSV has {n:,} lines; at most {MAX_LINES:,} are allowed (a longer series than any "
                           "run can use): keep the most recent part")
    lines = text.split("\n")
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    longest = int(lengths.argmax())
    if lengths[longest] > MAX_LINE_CHARS:
        raise DatasetError(f"line {longest + 1} of the CSV is {lengths[longest]:,} characters long; at most "
                           f"{MAX_LINE_CHARS:,} are allowed (a series needs one column of numbers, not one long row)")
    kept = [(i, line) for i, line in enumerate(lines, 1) if line and not line.isspace() and line.lstrip()[0] != "#"]
    if not kept:
        raise DatasetError("the CSV file has no rows of data; it needs one column of numbers")
    return kept


def _split(kept: list[tuple[int, str]]) -> tuple[list[list[str]], str]:
    """Cells of every row, with the separator found in the first row; the table's size is bounded first."""
    first = kept[0][1]
    # a tab, else a semicolon (then commas are decimal commas), else a comma
    sep = next((s for s in "\t;" if s in first), ",")
    width = first.count(sep) + 1
    if width > MAX_COLUMNS or width * len(kept) > MAX_CELLS:
        raise DatasetError(f"the CSV has {width:,} columns in {len(kept):,} rows; at most {MAX_COLUMNS} columns and "
                           f"{MAX_CELLS:,} values in all are allowed: keep the date and the series you want")
    if not any('"' in line for _, line in kept):  # no quoting: a plain split is the same and 4x faster
        return [line.split(sep) for _, line in kept], sep
    reader = csv.reader([line for _, line in kept], delimiter=sep, skipinitialspace=True, strict=True)
    try:
        rows = list(reader)
    except csv.Error as e:
        raise DatasetError(f"line {kept[min(reader.line_num, len(kept)) - 1][0]} of the CSV could not be read ({e}); "
                           "quote marks must enclose whole values") from None
    if len(rows) != len(kept):
        raise DatasetError("the CSV has a quoted value that spans lines; every row must be on one line")
    return rows, sep


def _check_ragged(rows: list[list[str]], kept: list[tuple[int, str]], sep: str) -> None:
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    ragged = np.flatnonzero(lengths != lengths[0])
    if len(ragged):
        j = int(ragged[0])
        hint = ("; if your numbers have a decimal comma or a thousands separator, write 1.5 and 1000 instead"
                if sep == "," else "")
        raise DatasetError(f"line {kept[j][0]} of the CSV has {lengths[j]} values but line {kept[0][0]} has "
                           f"{lengths[0]}; every row needs the same number of {_SEP_NAMES[sep]}-separated "
                           f"values{hint}")


def _read_table(text: str) -> tuple[dict[str, _Column], bool, list[int]]:
    """Every column read at once, by name, and each data row's line number; the first row is a header when it
    has text where the column below has numbers."""
    kept = _lines(text)
    rows, sep = _split(kept)
    _check_ragged(rows, kept, sep)
    raw = pd.DataFrame(rows, dtype=object)
    columns = [_Column.read(raw[j]) for j in range(raw.shape[1])]  # each cell is parsed once, here
    header = len(raw) > 1 and any(
        c.bad[0] and not LOCALE_NUMBER.fullmatch(c.cells[0].strip())
        and (c.tail().mostly_numbers or c.tail().locale_numbers().mean() > 0.5) for c in columns)
    lines = [n for n, _ in kept]
    if not header:
        return {f"column {j + 1}": c for j, c in enumerate(columns)}, False, lines
    names = [c.cells[0].strip() or f"column {j + 1}" for j, c in enumerate(columns)]
    names = [n if names.count(n) == 1 else f"{n} ({j + 1})" for j, n in enumerate(names)]
    return {n: c.tail() for n, c in zip(names, columns, strict=True)}, True, lines[1:]


@dataclass
class _Column:
    """One column: its cells (stripped text), their values (NaN where empty, nan or not a number; inf where too
    large), which cells are not numbers at all, and which of those are numbers but for an invisible character."""

    cells: np.ndarray  # (rows,) object: the text as read (stripped when shown)
    values: np.ndarray  # (rows,) float64
    bad: np.ndarray  # (rows,) bool
    hidden: np.ndarray  # (rows,) bool: bad, and a number once its invisible characters are deleted

    @classmethod
    def read(cls, cells: pd.Series) -> _Column:
        """Parse a column; one whose first SAMPLE cells are mostly text (dates, labels) is text throughout:
        parsing text as numbers is the slow path, and such a column is never the series."""
        cells = cells.to_numpy(dtype=object)
        head = cls._parse(cells[:SAMPLE])
        if len(cells) > SAMPLE and not head.mostly_numbers:
            return cls(cells, np.full(len(cells), np.nan), np.ones(len(cells), dtype=bool), np.zeros(len(cells), bool))
        return head if len(cells) <= SAMPLE else cls._parse(cells)

    @classmethod
    def _parse(cls, cells: np.ndarray) -> _Column:
        values = pd.to_numeric(cells, errors="coerce").astype(np.float64)  # takes " 1 ", refuses "1_000", "1e309"
        unread = np.flatnonzero(np.isnan(values))  # empty, nan, too large or not a number: only these are read again
        words = [c.strip() for c in cells[unread]]  # str.strip takes unicode spaces too: no-break, U+3000, ...
        values[unread] = [_number(w) for w in words]
        bad, hidden = np.zeros(len(cells), dtype=bool), np.zeros(len(cells), dtype=bool)
        bad[unread] = np.isnan(values[unread]) & np.array([w.lower() not in MISSING_WORDS for w in words], bool)
        hidden[unread] = [not w.isprintable() and ASCII_NUMBER.fullmatch(_visible(w)) is not None for w in words]
        hidden &= bad
        return cls(cells, values, bad, hidden)

    def tail(self) -> _Column:
        """The column without its first cell (a header)."""
        return _Column(self.cells[1:], self.values[1:], self.bad[1:], self.hidden[1:])

    @property
    def finite(self) -> int:
        return int(np.isfinite(self.values).sum())

    @property
    def numeric(self) -> bool:
        """Every non-empty cell is a number and at least one is finite."""
        return self.finite > 0 and not self.bad.any()

    @property
    def mostly_numbers(self) -> bool:
        """Meant as numbers: finite numbers (and numbers with an invisible character, pasted from a web page)
        outnumber the cells that are not numbers."""
        meant = self.finite + int(self.hidden.sum())
        return meant > 0 and meant >= int(self.bad.sum()) - int(self.hidden.sum())

    def locale_numbers(self) -> np.ndarray:
        """Which of the first MAX_SCAN cells are numbers written with a decimal comma or thousands separators."""
        return np.fromiter((LOCALE_NUMBER.fullmatch(c.strip()) is not None for c in self.cells[:MAX_SCAN]), bool)

    def first_bad(self) -> int:
        return int(np.flatnonzero(self.bad)[0])


def _choose_column(cells: dict[str, _Column], numeric: list[str], column: str | None, lines: list[int]) -> str:
    if column:
        if column not in cells:
            raise DatasetError(f"the CSV has no column {column!r}; numeric columns: {', '.join(numeric) or 'none'}")
        if not cells[column].numeric:
            if cells[column].mostly_numbers:
                raise _bad_cell(cells, column, lines)
            raise DatasetError(f"column {column!r} is not numeric; choose one of {', '.join(numeric) or 'none'}")
        return column
    candidates = [name for name, c in cells.items() if c.mostly_numbers]
    if candidates and not cells[candidates[-1]].numeric:  # the series has a stray cell: say which
        raise _bad_cell(cells, candidates[-1], lines)
    for name in cells:  # numbers written with a decimal comma or thousands separators read as text
        looks = cells[name].locale_numbers() if name not in numeric else np.zeros(0, bool)
        if looks.any() and (not numeric or looks.mean() > 0.5):
            raise _bad_cell(cells, name, lines, int(np.flatnonzero(looks)[0]))
    if numeric:
        return numeric[-1]  # a date or index usually comes first, the measurement last
    raise DatasetError("the CSV has no numeric column; it needs one column of numbers (a header row and a "
                       "date column are allowed)")


def _bad_cell(cells: dict[str, _Column], name: str, lines: list[int], row: int | None = None) -> DatasetError:
    """The error naming a cell that is not a number: its line, its column, its text, and how to fix it."""
    row = cells[name].first_bad() if row is None else row
    text = cells[name].cells[row].strip()
    invisible = [ch for ch in text if not ch.isprintable()]
    if invisible and not LOCALE_NUMBER.fullmatch(text):
        return DatasetError(f"line {lines[row]}, column {name!r}: {text[:40]!r} contains an invisible character "
                            f"({_char_name(invisible[0])}); delete it (text copied from a web page or a document "
                            "often carries one)")
    fix = ("write numbers with a dot for decimals and no thousands separators (1.5, 1000)"
           if LOCALE_NUMBER.fullmatch(text) else "leave a missing value's cell empty or write nan (it is then "
           "dropped and counted)")
    return DatasetError(f"line {lines[row]}, column {name!r}: {text[:40]!r} is not a number; {fix}")


def _number(text: str) -> float:
    """A stripped cell pandas could not read, as a number (inf if too large for a float), else NaN."""
    return float(text) if ASCII_NUMBER.fullmatch(text) else np.nan


def _visible(text: str) -> str:
    return "".join(filter(str.isprintable, text)).strip()


def _char_name(ch: str) -> str:
    """U+200B ZERO WIDTH SPACE; control and private-use characters have no Unicode name."""
    name = unicodedata.name(ch, "control character" if unicodedata.category(ch) == "Cc" else "")
    return f"U+{ord(ch):04X} {name}".rstrip()


def _date_column(cells: dict[str, _Column], numeric: list[str]) -> str | None:
    """The first non-numeric column that reads as dates (used for labels only; rows keep file order)."""
    for name, column in cells.items():
        if name not in numeric:
            dates = pd.to_datetime(pd.Series(column.cells[:50]), errors="coerce", format="mixed")
            if dates.notna().mean() > 0.9:
                return name
    return None
