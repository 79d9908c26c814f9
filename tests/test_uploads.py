"""Uploads: the bounded store, the CSV and text parsers, and a message for every malformed file."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnviz import DatasetError, RunConfig, load_dataset
from rnnviz.datasets import uploads
from rnnviz.datasets.uploads import MAX_UPLOAD_BYTES, get_upload, parse_csv, parse_text, register_upload


def series_csv(n: int = 120, header: str | None = "date,value") -> bytes:
    rows = [f"2000-{1 + i % 12:02d}-01,{np.sin(i / 3):.4f}" for i in range(n)]
    return "\n".join(([header] if header else []) + rows).encode()


def test_csv_with_header_and_date_column():
    values, info = parse_csv(series_csv())
    assert len(values) == 120 and values[3] == pytest.approx(np.sin(1.0), abs=1e-4)
    assert info["header"] and info["column"] == "value" and info["date_column"] == "date" and info["dropped"] == 0


def test_csv_without_header_semicolons_and_column_choice():
    values, info = parse_csv(b"1;10\n2;20\n3;30\n4;40\n")
    assert not info["header"] and info["column"] == "column 2" and list(values) == [10, 20, 30, 40]
    values, _ = parse_csv(b"1;10\n2;20\n3;30\n4;40\n", column="column 1")
    assert list(values) == [1, 2, 3, 4]
    values, info = parse_csv(b"x,y,label\n1,5,a\n2,6,b\n3,7,c\n", column="x")
    assert list(values) == [1, 2, 3] and info["columns"] == ["x", "y"]


def test_nan_and_inf_are_dropped_and_counted():
    values, info = parse_csv(b"v\n1\nnan\n2\n\n3\ninf\n4\n-inf\n5\n")
    assert list(values) == [1, 2, 3, 4, 5] and info["dropped"] == 3  # the blank line is no row


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"  \n\n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    (b"value\n1.0\n\xff\xfe2.0\n", "not UTF-8"),
    (b"name,city\nann,paris\nbob,rome\n", "no numeric column"),
    (b"v\nnan\ninf\n", "no numeric column"),
    (b"v\n1\nnan\n2\n", r"2 usable rows \(after dropping 1 "),
    (b"a,b\n1,2\n3,4,5,6\n", "line 3 of the CSV has 4 values but line 1 has 2"),
])
def test_malformed_csv_messages(content, message):
    with pytest.raises(DatasetError, match=message):
        parse_csv(content)


def test_csv_column_errors_name_the_allowed_columns():
    with pytest.raises(DatasetError, match="no column 'z'; numeric columns: x, y"):
        parse_csv(b"x,y,label\n1,5,a\n2,6,b\n3,7,c\n", column="z")
    with pytest.raises(DatasetError, match="'label' is not numeric; choose one of x, y"):
        parse_csv(b"x,y,label\n1,5,a\n2,6,b\n3,7,c\n", column="label")


def test_size_cap_is_in_the_message():
    big = b"1\n" * (MAX_UPLOAD_BYTES // 2 + 1)
    for parse in (parse_csv, parse_text):
        with pytest.raises(DatasetError, match="limited to 5 MB"):
            parse(big)
    with pytest.raises(DatasetError, match="limited to 5 MB"):
        register_upload(big, "big.csv")


def test_text_parser_messages():
    assert parse_text("héllo wörld".encode()) == "héllo wörld"
    for content, message in [(b"", "empty"), (b"\x00\x01\x02abc", "binary"), (b"abc\xc3", "not UTF-8"),
                             (b"abc", "3 characters; at least 10")]:
        with pytest.raises(DatasetError, match=message):
            parse_text(content, min_chars=10)


def test_too_few_rows_for_seq_len_through_load_dataset():
    key = register_upload(series_csv(30), "short.csv")
    with pytest.raises(DatasetError, match="at least 51 are needed"):
        load_dataset(RunConfig(dataset="csv", dataset_params={"upload": key}, seq_len=50))
    with pytest.raises(DatasetError, match="too few for seq_len=25"):
        load_dataset(RunConfig(dataset="csv", dataset_params={"upload": key}, seq_len=25))


def test_short_text_upload_through_load_dataset():
    key = register_upload(b"too short", "a.txt")
    with pytest.raises(DatasetError, match="9 characters; at least 102"):
        load_dataset(RunConfig(dataset="text", dataset_params={"upload": key}, seq_len=50))


def test_csv_dataset_round_trips_through_the_config():
    key = register_upload(series_csv(), "mine.csv")
    config = RunConfig.from_dict(RunConfig(dataset="csv", seq_len=12,
                                           dataset_params={"upload": key, "column": "value"}).to_dict())
    d = load_dataset(config)
    assert d.task == "regression" and d.x_train.shape[1:] == (12, 1) and len(d.x_val) == 24
    assert "mine.csv" in d.description and d.extras["csv"]["column"] == "value"


def test_too_large_and_spaced_numbers_through_load_dataset():
    rows = series_csv().decode().split("\n")
    rows[5], rows[9] = "2000-05-01,1e309", "2000-09-01," + "9" * 400
    rows[20] = "2000-08-01,\u00a00.25\u00a0"
    key = register_upload("\n".join(rows).encode(), "pasted.csv")
    d = load_dataset(RunConfig(dataset="csv", seq_len=12, dataset_params={"upload": key}))
    assert d.extras["csv"]["rows"] == 118 and d.extras["csv"]["dropped"] == 2
    assert d.description.endswith(" 2 empty, NaN or infinite values were dropped.")


def test_missing_upload_says_upload_again():
    with pytest.raises(DatasetError, match="no longer on this server; upload it again"):
        load_dataset(RunConfig(dataset="csv", dataset_params={"upload": "0123456789abcdef"}))
    with pytest.raises(DatasetError, match="no CSV uploaded yet"):
        load_dataset(RunConfig(dataset="csv"))


def test_store_is_content_keyed_and_evicts_least_recently_used(monkeypatch):
    monkeypatch.setattr(uploads, "STORE_BYTES", 25)
    a = register_upload(b"a" * 10, "a.txt")
    assert register_upload(b"a" * 10, "again.txt") == a and len(a) == 16
    b = register_upload(b"b" * 10, "b.txt")
    get_upload(a)  # a is now the most recently used
    register_upload(b"c" * 10, "c.txt")
    assert get_upload(a)[1] == b"a" * 10
    with pytest.raises(DatasetError, match="upload it again"):
        get_upload(b)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.one_of(st.none(), st.text(max_size=5)))
def test_csv_parser_raises_only_dataset_errors(content, column):
    try:
        values, info = parse_csv(content, column)
    except DatasetError:
        return
    assert np.isfinite(values).all() and len(values) >= 3 and info["rows"] == len(values)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=200).map(str.encode)))
def test_text_parser_raises_only_dataset_errors(content):
    try:
        assert isinstance(parse_text(content), str)
    except DatasetError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=4)), min_size=1, max_size=3),
                max_size=12))
def test_csv_parser_on_csv_shaped_input(rows):
    content = "\n".join(",".join(map(str, r)) for r in rows).encode()
    try:
        values, _ = parse_csv(content)
    except DatasetError:
        return
    assert np.isfinite(values).all()


def test_register_upload_validates_by_file_type():
    from rnnviz import datasets

    assert datasets.register_upload is register_upload and datasets.MAX_UPLOAD_BYTES == 5 * 2**20
    with pytest.raises(DatasetError, match="no numeric column"):
        register_upload(b"name\nann\nbob\n", "people.csv")
    with pytest.raises(DatasetError, match="not UTF-8"):
        register_upload(b"caf\xe9 au lait", "notes.txt")
