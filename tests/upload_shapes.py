"""The worst upload shapes we could think of, each just under the 5 MB limit (shared by tests and the bench)."""

from __future__ import annotations

from rnnviz.datasets.uploads import MAX_CELLS, MAX_COLUMNS, MAX_LINES, MAX_UPLOAD_BYTES

LIMIT = MAX_UPLOAD_BYTES - 1024  # just under the size limit


def fill(unit: bytes, head: bytes = b"") -> bytes:
    """`head` then `unit` repeated up to the size limit."""
    return head + unit * ((LIMIT - len(head)) // len(unit))


def rows(n: int, row: bytes, head: bytes = b"") -> bytes:
    return head + row * n


NUMBER = b"0." + b"1234567890" * 4 + b"123"  # 45 characters: 100 columns x 1,000 rows fill 4.6 MB
CSV = {  # name -> content; each is read or refused with a DatasetError
    "one line of 1,1,1,...": fill(b"1,")[:-1],
    "one line of 2.6M columns, semicolons": fill(b"1;"),
    "wide rows, 100 columns, 26k rows": fill(b",".join([b"1"] * MAX_COLUMNS) + b"\n"),
    "100 columns at the cell limit, long numbers": rows(MAX_CELLS // MAX_COLUMNS,
                                                        b",".join([NUMBER] * MAX_COLUMNS) + b"\n"),
    "100 columns at the cell limit, all NA": rows(MAX_CELLS // MAX_COLUMNS,
                                                  b",".join([b"NA" * 22] * MAX_COLUMNS) + b"\n"),
    "100 columns at the cell limit, decimal commas": rows(MAX_CELLS // MAX_COLUMNS,
                                                          b";".join([b"0," + b"1234567890" * 4] * MAX_COLUMNS) + b"\n"),
    "2.6M tiny rows": fill(b"1\n"),
    "rows at the line limit, long numbers": rows(MAX_LINES - 1, b"-1." + b"1234567890" * 9 + b"e-05\n",
                                                 b"value\n"),
    "date and value at the line limit": rows(MAX_LINES - 1, b"2001-01-01T00:00:00," + b"0." + b"1234567890" * 7 + b"\n",
                                             b"date,value\n"),
    "ragged at the last line": rows(MAX_LINES - 2, b"1,2\n") + b"3\n",
    "blank lines": fill(b"\n"),
    "carriage returns": fill(b"\r"),
    "unicode line separators": fill("\u2028".encode()),
    "comment lines": fill(b"#\n"),
    "only separators": fill(b",,,,,,,,,\n"),
    "deeply quoted field": fill(b'"'),
    "quoted fields in 100 columns": rows(MAX_CELLS // MAX_COLUMNS,
                                         b",".join([b'"""""""1"""""""'] * MAX_COLUMNS) + b"\n"),
    "stray NA in the last row at the line limit": rows(MAX_LINES - 2, b"2001-01-01,0." + b"1234567890" * 8 + b"\n",
                                                 b"date,value\n") + b"2001-01-02,NA\n",
    "unclosed quote": b'"' + fill(b"1\n"),
    "NUL bytes": fill(b"\x00"),
    "NUL bytes after a header": fill(b"1\x00\n", b"value\n"),
    "UTF-16": fill("1\n".encode("utf-16-le"), b"\xff\xfe"),
    "emoji": fill("😀,".encode()),
    "invalid UTF-8 at the end": fill(b"1\n") + b"\xff",
    "control characters under 5%": fill(b"1\n" * 19 + b"\x01\n"),
}
TEXT = {
    "ASCII": fill(b"a"),
    "one long line of emoji": fill("😀".encode()),
    "983,040 distinct characters": "".join(map(chr, range(0x10000, 0x110000))).encode(),
    "blank lines": fill(b"\n"),
    "NUL bytes": fill(b"\x00"),
    "invalid UTF-8 at the end": fill(b"a") + b"\xff",
    "UTF-16": fill("ab".encode("utf-16-le"), b"\xff\xfe"),
}
