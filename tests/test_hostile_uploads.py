"""Hostile uploads (issue 14 item 6 and messages, issue 11 bounded parsing): refused with a message that says why.

Times are measured by bench/bench_uploads.py, not asserted here.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnviz import DatasetError
from rnnviz.datasets.uploads import (
    MAX_COLUMNS,
    MAX_LINE_CHARS,
    MAX_LINES,
    parse_csv,
    parse_text,
    register_upload,
)
from tests.upload_shapes import CSV, LIMIT, TEXT


@pytest.mark.parametrize(("content", "message"), [
    (b"1,2\n3\n4,5\n6,7", "line 2 of the CSV has 1 values but line 1 has 2"),
    (b"a,b,c\n1,2\n3,4\n5,6", "line 2 of the CSV has 2 values but line 1 has 3"),
    (b"v\n1\n2\n3\n4,5\n", "line 5 of the CSV has 2 values but line 1 has 1.*decimal comma"),
    (b"# notes\n\n1;2\n3;4\n5\n", "line 5 of the CSV has 1 values but line 3 has 2; .*semicolon-separated"),
])
def test_ragged_rows_are_refused_with_the_line_number(content, message):
    with pytest.raises(DatasetError, match=message):
        parse_csv(content)


@pytest.mark.parametrize("parse", [parse_csv, parse_text])
@pytest.mark.parametrize("content", [
    "value\n1\n2\n3\n".encode("utf-16"), "value\n1\n2\n3\n".encode("utf-16-le"), "value\n1\n2\n".encode("utf-16-be"),
])
def test_utf16_files_are_told_to_save_as_utf8(parse, content):
    with pytest.raises(DatasetError, match="UTF-16 text; save it as UTF-8"):
        parse(content)


@pytest.mark.parametrize("parse", [parse_csv, parse_text])
@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\xef\xbb\xbf \n\n"])
def test_a_file_of_only_a_byte_order_mark_is_empty(parse, content):
    with pytest.raises(DatasetError, match="is empty"):
        parse(content)


def test_a_byte_order_mark_before_data_is_ignored():
    values, info = parse_csv(b"\xef\xbb\xbfvalue\n1\n2\n3\n")
    assert info["column"] == "value" and list(values) == [1, 2, 3]


@pytest.mark.parametrize(("content", "message"), [
    (b"date;value\n2000-01;1,5\n2000-02;2,5\n2000-03;3,5\n", r"line 2, column 'value': '1,5' is not a number; .*dot"),
    (b'value\n"1,000"\n"2,000"\n"3,000"\n', r"line 2, column 'value': '1,000' is not a number; .*thousands"),
    (b"a;b\n1;1.000,5\n2;2.000,5\n3;3.000,5\n", r"line 2, column 'b': '1.000,5' is not a number"),
    (b"value\n1\n2\nNA\n4\n5\n", r"line 4, column 'value': 'NA' is not a number; leave .* empty or write nan"),
    (b"t,value\n1,1\n2,n/a\n3,3\n4,4\n", r"line 3, column 'value': 'n/a' is not a number"),
    (b"value\n1\n2\n1_000\n", r"line 4, column 'value': '1_000' is not a number"),
    (b"value\n1\n2\n\xd9\xa1\xd9\xa2\n", r"line 4, column 'value': '١٢' is not a number"),
])
def test_cells_that_are_not_numbers_are_named(content, message):
    with pytest.raises(DatasetError, match=message):
        parse_csv(content)


@pytest.mark.parametrize("cell", ["1e309", "-1e400", "+1E309", "9" * 400, "-" + "9" * 400, "\u00a01e309\u00a0"])
def test_numbers_too_large_for_a_float_are_dropped_and_counted_as_infinite(cell):
    values, info = parse_csv(f"date,value\n2000-01,1\n2000-02,2\n2000-03,{cell}\n2000-04,3\n".encode())
    assert list(values) == [1, 2, 3] and info["column"] == "value" and info["dropped"] == 1
    values, info = parse_csv(f"a;b\n1;{cell}\n2;5\n3;inf\n4;6\n5;7\n".encode(), column="b")
    assert list(values) == [5, 6, 7] and info["dropped"] == 2


def test_too_large_numbers_count_towards_the_dropped_values_in_the_too_few_rows_message():
    with pytest.raises(DatasetError, match=r"has 2 usable rows \(after dropping 2 empty, NaN or infinite values\)"):
        parse_csv(b"v\n1\n1e309\n2\n-1e999\n")


@pytest.mark.parametrize("space", ["\u00a0", "\u2007", "\u202f", "\u3000", "\t", "\u00a0 \t\u3000"])
def test_numbers_between_unicode_spaces_are_numbers(space):
    s = space  # not in the first row: a tab there makes the file tab-separated
    values, info = parse_csv(f"date,value\n2000-01,{s}1.5{s}\n2000-02,{s}-2\n2000-03,3e2{s}\n2000-04,4\n".encode())
    assert list(values) == [1.5, -2, 300, 4] and info["column"] == "value" and info["dropped"] == 0
    values, info = parse_csv(f"t,value\n1,1\n2,{s}nan{s}\n3,{s}inf\n4,{s}\n5,2\n6,3\n".encode())
    assert list(values) == [1, 2, 3] and info["column"] == "value" and info["dropped"] == 3


INVISIBLE = "; delete it (text copied from a web page or a document often carries one)"


@pytest.mark.parametrize(("content", "message"), [
    ("value\n1\n2\n1\u200b\n4\n", r"line 4, column 'value': '1\u200b' contains an invisible character "
                                   "(U+200B ZERO WIDTH SPACE)"),
    ("value\n1\n\ufeff2\n3\n", r"line 3, column 'value': '\ufeff2' contains an invisible character "
                              "(U+FEFF ZERO WIDTH NO-BREAK SPACE)"),
    ("t;v\n1;1\n2;2\u20605\n3;3\n", r"line 3, column 'v': '2\u20605' contains an invisible character "
                                  "(U+2060 WORD JOINER)"),
    ("v\n1\n\u00a0\u200e-1.5\u00a0\n3\n", r"line 3, column 'v': '\u200e-1.5' contains an invisible character "
                                        "(U+200E LEFT-TO-RIGHT MARK)"),
    ("v\n1\n2\n1\xa05\n", r"line 4, column 'v': '1\xa05' contains an invisible character (U+00A0 NO-BREAK SPACE)"),
    ("v\n1\n2\n\u200b\n", r"line 4, column 'v': '\u200b' contains an invisible character (U+200B ZERO WIDTH SPACE)"),
    # every cell pasted with one: the column is still the series, not "no numeric column"
    ("date,value\n2000-01,1\u200b\n2000-02,2\u200b\n2000-03,3\u200b\n",
     r"line 2, column 'value': '1\u200b' contains an invisible character (U+200B ZERO WIDTH SPACE)"),
])
def test_an_invisible_character_in_a_cell_is_named(content, message):
    with pytest.raises(DatasetError) as e:
        parse_csv(content.encode())
    assert str(e.value) == message + INVISIBLE


def test_an_invisible_character_in_a_named_column_is_named():
    with pytest.raises(DatasetError) as e:
        parse_csv("a,b\n1,1\n2,\u200b2\n3,3\n".encode(), column="b")
    message = r"line 3, column 'b': '\u200b2' contains an invisible character (U+200B ZERO WIDTH SPACE)"
    assert str(e.value) == message + INVISIBLE


@pytest.mark.parametrize(("cell", "shown"), [("\u00a01_000\u00a0", "1_000"), ("\u3000\u0661\u0662", "\u0661\u0662"),
                                             ("1\u00a0000", "1\xa0000")])
def test_spaces_around_a_cell_do_not_make_other_writings_numbers(cell, shown):
    with pytest.raises(DatasetError, match=re.escape(f"line 4, column 'v': {shown!r} is not a number")):
        parse_csv(f"v\n1\n2\n{cell}\n".encode())


def test_a_text_upload_keeps_unicode_spaces_and_invisible_characters():
    text = "a\u00a0b\u3000c\u200bd\ufeffe 1e309\n"
    assert parse_text(text.encode()) == text
    assert len(register_upload(text.encode(), "notes.txt")) == 16


def test_a_named_column_with_a_stray_cell_names_it():
    content = b"a,b\n1,1\n2,x\n3,3\n4,4\n"
    with pytest.raises(DatasetError, match=r"line 3, column 'b': 'x'"):
        parse_csv(content, column="b")
    assert list(parse_csv(content, column="a")[0]) == [1, 2, 3, 4]


def test_missing_values_written_on_purpose_are_still_dropped_and_counted():
    values, info = parse_csv(b"value\n1\n nan \n\n2\n-NaN\n3\ninf\n")
    assert list(values) == [1, 2, 3] and info["dropped"] == 3


@pytest.mark.parametrize(("content", "message"), [
    (b"1\n" * (MAX_LINES + 1), f"at most {MAX_LINES:,} are allowed"),
    (b"v\n" + b"1\n" * (MAX_LINES - 1), None),  # exactly at the limit: read
    (b",".join([b"1"] * (MAX_COLUMNS + 1)) + b"\n" + b",".join([b"2"] * (MAX_COLUMNS + 1)), "at most 100 columns"),
    (b"1," * (MAX_LINE_CHARS // 2 + 1), "characters long"),
    (b"1,2\n" * 150_000, f"at most {MAX_LINES:,}"),
    (b",".join([b"1"] * 50) + b"\n" + (b",".join([b"1"] * 50) + b"\n") * 5000, "values in all"),
])
def test_the_shape_is_bounded_before_parsing(content, message):
    if message is None:
        assert len(parse_csv(content)[0]) == MAX_LINES - 1
        return
    with pytest.raises(DatasetError, match=message):
        parse_csv(content)


@pytest.mark.parametrize("name", CSV)
def test_worst_csv_shapes_at_the_size_limit_are_read_or_refused(name):
    content = CSV[name]
    assert len(content) <= LIMIT + 1
    try:
        values, info = parse_csv(content)
    except DatasetError as e:
        assert 20 < len(str(e)) < 400
        return
    assert np.isfinite(values).all() and len(values) == info["rows"] >= 3


@pytest.mark.parametrize("name", TEXT)
def test_worst_text_shapes_at_the_size_limit_are_read_or_refused(name):
    try:
        assert len(parse_text(TEXT[name])) > 0
    except DatasetError as e:
        assert 20 < len(str(e)) < 400


def test_the_worst_shapes_give_the_expected_verdicts():
    verdicts = {}
    for name, content in CSV.items():
        try:
            parse_csv(content)
            verdicts[name] = "read"
        except DatasetError as e:
            verdicts[name] = str(e)
    assert verdicts["100 columns at the cell limit, long numbers"] == "read"
    assert verdicts["date and value at the line limit"] == "read"
    assert "characters long" in verdicts["one line of 1,1,1,..."]
    assert "binary" in verdicts["NUL bytes"] and "UTF-16" in verdicts["UTF-16"]
    assert f"line {MAX_LINES}, column 'value': 'NA'" in verdicts["stray NA in the last row at the line limit"]
    assert "line 1, column 'column 1'" in verdicts["100 columns at the cell limit, decimal commas"]
