"""Run files: exact round trip, exact continuation, and every kind of bad file refused with a message."""

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rnnviz import RunConfig, load_dataset, train_run
from rnnviz.datasets import register_upload
from rnnviz.datasets.uploads import clear_uploads
from rnnviz.engine.train import Run, build_model, make_optimizer, train_model
from rnnviz.runs.runfile import (
    CONFIG,
    HISTORY,
    HISTORY_NPZ,
    MANIFEST,
    MAX_FILE_BYTES,
    OPTIMIZER,
    PROBES,
    WEIGHTS,
    RunFileError,
    load_run,
    read_entries,
    save_run,
)

SMALL = dict(steps=12, hidden_size=12, seq_len=16, probe_every=4, eval_every=3, batch_size=16)


@pytest.fixture(scope="module")
def lstm_run():
    return train_run(RunConfig(cell="lstm", **SMALL))


@pytest.fixture(scope="module")
def run_bytes(lstm_run):
    return save_run(lstm_run)


@pytest.fixture(scope="module")
def old_bytes(run_bytes):
    """The run as rnnviz saved it before history.npz: the history only as history.csv (the same CSV text)."""
    return edited(run_bytes, history_npz=None)


def rezip(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
    return buf.getvalue()


def edited(run_bytes: bytes, **changes: bytes | None) -> bytes:
    """The run file with some entries replaced (None removes one); keys use _ for the dot."""
    entries = read_entries(run_bytes)
    names = {n.replace(".", "_"): n for n in entries}
    for key, blob in changes.items():
        name = names.get(key, key)
        if blob is None:
            entries.pop(name)
        else:
            entries[name] = blob
    return rezip(entries)


def assert_runs_equal(a: Run, b: Run) -> None:
    assert a.config == b.config
    pd.testing.assert_frame_equal(a.history, b.history)
    assert [s for s, _ in a.probes] == [s for s, _ in b.probes]
    for (_, ta), (_, tb) in zip(a.probes, b.probes, strict=True):
        for name in ("hidden", "cell_state", "grad_norms", "input_saliency", "outputs", "spectral_radius"):
            x, y = getattr(ta, name), getattr(tb, name)
            assert (x is None and y is None) or np.array_equal(x, y, equal_nan=True), name
        assert ta.gates.keys() == tb.gates.keys()
        assert all(np.array_equal(ta.gates[g], tb.gates[g]) for g in ta.gates)
        assert ta.loss == tb.loss
    for (na, pa), (nb, pb) in zip(a.model.state_dict().items(), b.model.state_dict().items(), strict=True):
        assert na == nb and torch.equal(pa, pb)
    assert torch.equal(a.data.x_val, b.data.x_val) and torch.equal(a.data.y_train, b.data.y_train)
    assert a.diverged_at == b.diverged_at and a.step == b.step


@pytest.mark.parametrize("config", [
    RunConfig(cell="lstm", **SMALL),
    RunConfig(cell="gru", num_layers=2, dataset="memory", **SMALL),
    RunConfig(cell="rnn_tanh", dataset="text", embedding_size=8, **SMALL),
])
def test_round_trip_is_exact(config):
    run = train_run(config)
    assert_runs_equal(run, load_run(save_run(run)))


def test_diverged_run_round_trips():
    config = RunConfig(cell="rnn_relu", recurrent_radius=1.5, lr=1.0, optimizer="sgd", clip=None, steps=50,
                       probe_every=1)
    run = train_run(config)
    assert run.diverged_at is not None
    loaded = load_run(save_run(run))
    assert loaded.diverged_at == run.diverged_at and loaded.finished
    assert list(loaded.events()) == []  # nothing left to train


def test_a_saved_run_continues_exactly_as_if_never_interrupted(lstm_run):
    config = lstm_run.config
    data = load_dataset(config)
    model = build_model(config, data)
    part = Run(config, model, data, optimizer=make_optimizer(config, model))
    for event in train_model(config, data, model, optimizer=part.optimizer):
        part.record(event)
        if event.step == 7:
            break
    loaded = load_run(save_run(part))
    assert loaded.step == 7 and not loaded.finished
    for event in loaded.events():
        loaded.record(event)
    cols = [c for c in lstm_run.history.columns if c != "seconds"]
    pd.testing.assert_frame_equal(loaded.history[cols], lstm_run.history[cols])  # Adam's state came back too
    assert [s for s, _ in loaded.probes] == [s for s, _ in lstm_run.probes]
    assert np.array_equal(loaded.probes[-1][1].hidden, lstm_run.probes[-1][1].hidden)
    assert loaded.history["seconds"].is_monotonic_increasing  # the clock carries on from the file's


def test_without_optimizer_state_it_still_continues(run_bytes, lstm_run):
    config = lstm_run.config
    data = load_dataset(config)
    model = build_model(config, data)
    part = Run(config, model, data)
    for event in train_model(config, data, model):
        part.record(event)
        if event.step == 3:
            break
    blob = save_run(part)
    assert OPTIMIZER not in read_entries(blob)
    loaded = load_run(blob)
    for event in loaded.events():
        loaded.record(event)
    assert loaded.step == config.steps and loaded.finished


def test_the_uploaded_file_travels_with_the_run():
    clear_uploads()
    text = ("the quick brown fox jumps over the lazy dog. " * 40).encode()
    key = register_upload(text, "fox.txt")
    run = train_run(RunConfig(dataset="text", dataset_params={"upload": key}, **SMALL))
    blob = save_run(run)
    clear_uploads()  # another server, or this one after the upload was dropped
    assert_runs_equal(run, load_run(blob))


# ---- bad files: each refused with a message saying what is wrong -------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)


@pytest.mark.parametrize("blob, message", [
    (b"", "not a zip"),
    (PNG, "not a zip"),
    (b"PK\x03\x04" + bytes(100), "damaged or truncated"),
    (rezip({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<x/>"}), "not a run file saved by rnnviz"),
    (rezip({MANIFEST: b'{"format": "something-else"}'}), "does not describe an rnnviz run file"),
    (rezip({MANIFEST: b'{"format": "rnnviz-run", "version": 99}'}), "version 99 is not supported"),
    (rezip({MANIFEST: b"{not json"}), "not valid JSON"),
], ids=["empty", "png", "zip-header-only", "docx", "other-format", "version-99", "bad-json"])  # zips carry a date
def test_foreign_and_malformed_files_are_refused(blob, message):
    with pytest.raises(RunFileError, match=message):
        load_run(blob)


def test_every_truncation_is_refused(run_bytes):
    for cut in np.linspace(0, len(run_bytes) - 1, 60).astype(int):
        with pytest.raises(RunFileError):
            load_run(run_bytes[:cut])


def test_flipped_bytes_are_refused_or_load_a_valid_run(run_bytes):
    rng = np.random.default_rng(0)
    for _ in range(40):
        blob = bytearray(run_bytes)
        blob[int(rng.integers(len(blob)))] ^= 0xFF
        try:
            load_run(bytes(blob))
        except RunFileError:
            pass  # anything else escaping (a crash) fails the test


@pytest.mark.parametrize("entry, blob, message", [
    ("config_json", json.dumps(RunConfig(**SMALL).to_dict() | {"hidden_size": 100000}).encode(), "hidden_size"),
    ("config_json", json.dumps({"cell": "lstm", "evil": 1}).encode(), "unknown setting"),
    ("config_json", b"[1, 2]", "must be a dict"),
    ("model_pt", None, "lacks model.pt"),
    ("model_pt", b"not a torch file", "not a weights file"),
    ("probes_npz", b"PK\x03\x04junk", "damaged"),
])
def test_bad_entries_are_refused(run_bytes, entry, blob, message):
    with pytest.raises(RunFileError, match=message):
        load_run(edited(run_bytes, **{entry: blob}))


def history_npz(history: pd.DataFrame, **changes) -> bytes:
    """history.npz as save_run writes it, with some columns replaced (None removes one)."""
    arrays = {c: history[c].to_numpy() for c in history.columns} | changes
    buf = io.BytesIO()
    np.savez(buf, **{c: a for c, a in arrays.items() if a is not None})
    return buf.getvalue()


def test_a_history_without_csv_or_npz_is_refused(run_bytes):
    with pytest.raises(RunFileError, match="lacks history.npz"):
        load_run(edited(run_bytes, history_csv=None, history_npz=None))


def test_history_rows_must_match_the_steps(run_bytes, old_bytes, lstm_run):
    every_other = lstm_run.history.iloc[::2]
    with pytest.raises(RunFileError, match="one row per step"):
        load_run(edited(run_bytes, history_npz=history_npz(every_other)))
    with pytest.raises(RunFileError, match="one row per step"):
        load_run(edited(old_bytes, history_csv=every_other.to_csv(index=False).encode()))


@pytest.mark.parametrize("change, message", [
    ({"grad/rnn.weight_hh_l0": None}, "columns"),  # a parameter's column missing
    ({"extra": np.zeros(13)}, "entries; at most"),
    ({"loss": np.arange(13)}, "column 'loss' must be 13 values of type float64"),  # integers where floats belong
    ({"clipped": np.zeros(13)}, "column 'clipped'"),
    ({"step": np.arange(13.0)}, "column 'step'"),
    ({"seconds": np.zeros(12)}, "column 'seconds' must be 13 values"),
    ({"grad_norm": np.zeros((13, 2))}, "column 'grad_norm'"),
    ({"val_loss": np.array(["x"] * 13)}, "not a number type"),
])
def test_a_malformed_history_npz_is_refused(run_bytes, lstm_run, change, message):
    with pytest.raises(RunFileError, match=message):
        load_run(edited(run_bytes, history_npz=history_npz(lstm_run.history, **change)))


def test_a_history_npz_with_too_many_entries_is_refused_from_its_headers(run_bytes):
    with pytest.raises(RunFileError, match="entries"):
        load_run(edited(run_bytes, history_npz=rezip({f"c{i}.npy": b"" for i in range(1000)})))


def test_history_npz_is_what_is_read_and_the_csv_is_for_people(run_bytes, lstm_run):
    entries = read_entries(run_bytes)
    assert pd.read_csv(io.BytesIO(entries[HISTORY])).step.tolist() == lstm_run.history.step.tolist()
    loaded = load_run(edited(run_bytes, history_csv=b"edited by hand\n"))
    pd.testing.assert_frame_equal(loaded.history, lstm_run.history)


def test_a_long_history_is_saved_without_the_csv_and_comes_back_exactly(monkeypatch, lstm_run):
    monkeypatch.setattr("rnnviz.runs.runfile.HISTORY_CSV_ROWS", 5)  # as a run of more than 20,000 steps
    blob = save_run(lstm_run)
    assert HISTORY not in read_entries(blob)
    assert_runs_equal(lstm_run, load_run(blob))


def test_the_longest_history_a_run_can_have_comes_back_bit_for_bit():
    run = train_run(RunConfig(steps=1, hidden_size=8, seq_len=10))
    run.config = run.config.replace(steps=100_000)
    n, rng = 100_001, np.random.default_rng(0)
    table = {c: rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n) for c in run.columns}  # any float64
    table |= {"step": np.arange(n), "val_loss": np.where(np.arange(n) % 25 == 0, table["val_loss"], np.nan),
              "clipped": rng.random(n) < 0.5, "diverged": np.zeros(n, bool)}
    run.restore_columns(table)
    blob = save_run(run)
    assert HISTORY not in read_entries(blob)  # 100,001 rows: no CSV copy
    loaded = load_run(blob)
    pd.testing.assert_frame_equal(loaded.history, run.history, check_exact=True)
    assert loaded.rows[500] == run.rows[500] and loaded.step == 100_000


# ---- files saved before history.npz (the history only as CSV) ------------------------------------------------


def test_a_file_saved_the_old_way_opens_exactly(old_bytes, lstm_run):
    assert HISTORY_NPZ not in read_entries(old_bytes)
    assert_runs_equal(lstm_run, load_run(old_bytes))


def test_a_file_saved_by_the_version_before_history_npz_opens():
    """tests/data/run_v1_csv_history.zip was saved by rnnviz/runfile.py of commit 5406cd2 (GRU, 8 units, 30 steps)."""
    blob = (Path(__file__).parent / "data" / "run_v1_csv_history.zip").read_bytes()
    entries = read_entries(blob)
    assert HISTORY_NPZ not in entries
    run = load_run(blob)
    csv = pd.read_csv(io.BytesIO(entries[HISTORY]), float_precision="round_trip")
    assert run.config.cell == "gru" and run.step == 30 and len(run.probes) == 4
    pd.testing.assert_frame_equal(run.history, csv, check_dtype=False)
    assert run.history.dtypes["step"].kind == "i" and run.history.dtypes["clipped"].kind == "b"
    assert_runs_equal(run, load_run(save_run(run)))  # and saved again by this version, nothing changes


@pytest.mark.parametrize("csv, message", [
    (b"a,b\n1,2\n", "columns"),
    (",".join(map(str, np.random.default_rng(0).integers(0, 10**6, 1_000_000))).encode() + b"\n",  # 6.9 MB line
     "columns"),
], ids=["two columns", "a million columns on one line"])
def test_an_old_files_csv_is_refused_from_its_header(old_bytes, csv, message):
    with pytest.raises(RunFileError, match=message):
        load_run(edited(old_bytes, history_csv=csv))


def test_an_old_files_csv_with_more_lines_than_steps_is_refused_before_parsing(old_bytes, lstm_run):
    header, first_row = lstm_run.history.to_csv(index=False).encode().split(b"\n")[:2]
    with pytest.raises(RunFileError, match="more rows than the run has steps"):
        load_run(edited(old_bytes, history_csv=header + b"\n" + (first_row + b"\n") * 14))  # 13 steps: 0-12


def test_weights_of_another_model_are_refused(run_bytes):
    other = train_run(RunConfig(cell="gru", **SMALL)).model.state_dict()
    buf = io.BytesIO()
    torch.save(other, buf)
    with pytest.raises(RunFileError, match="does not fit"):
        load_run(edited(run_bytes, model_pt=buf.getvalue()))


class Boom:
    """Unpickling this would create a file: loading must never execute it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_code_is_never_executed(run_bytes, tmp_path):
    marker = tmp_path / "executed"
    buf = io.BytesIO()
    torch.save({"rnn.weight_ih_l0": Boom(str(marker))}, buf)
    with pytest.raises(RunFileError):
        load_run(edited(run_bytes, model_pt=buf.getvalue()))
    npz = io.BytesIO()
    np.savez(npz, steps=np.array([Boom(str(marker))], dtype=object), loss=np.zeros(1))
    with pytest.raises(RunFileError, match="not a number type"):
        load_run(edited(run_bytes, probes_npz=npz.getvalue()))
    with pytest.raises(RunFileError):
        load_run(edited(run_bytes, config_json=pickle.dumps(Boom(str(marker)))))
    assert not marker.exists()


def test_probe_arrays_must_fit_the_config(run_bytes):
    with zipfile.ZipFile(io.BytesIO(read_entries(run_bytes)[PROBES])) as zf:
        arrays = {n[:-4]: np.load(io.BytesIO(zf.read(n))) for n in zf.namelist()}
    arrays["hidden"] = arrays["hidden"][..., :5]  # 5 units where the config says 12
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(RunFileError, match="hidden"):
        load_run(edited(run_bytes, probes_npz=buf.getvalue()))


def test_files_saved_before_the_rename_still_open(run_bytes, lstm_run):
    """Run files written when c_t was stored as "cell" and the LSTM candidate as gate "cell" open unchanged."""
    with zipfile.ZipFile(io.BytesIO(read_entries(run_bytes)[PROBES])) as zf:
        arrays = {n[:-4]: np.load(io.BytesIO(zf.read(n))) for n in zf.namelist()}
    arrays["cell"], arrays["gate.cell"] = arrays.pop("cell_state"), arrays.pop("gate.candidate")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    assert_runs_equal(load_run(edited(run_bytes, probes_npz=buf.getvalue())), lstm_run)


def test_an_npy_header_claiming_a_huge_array_is_refused_before_allocating(run_bytes):
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000,), }"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(64)
    npz = rezip({"steps.npy": npy, "loss.npy": npy}, zipfile.ZIP_STORED)
    with pytest.raises(RunFileError, match="header does not match"):
        load_run(edited(run_bytes, probes_npz=npz))


# ---- bounds: oversized files and zip bombs ---------------------------------------------------------------


def test_an_oversized_file_is_refused_before_reading():
    with pytest.raises(RunFileError, match=f"at most {MAX_FILE_BYTES // 2**20} MB"):
        load_run(b"PK\x03\x04" + bytes(MAX_FILE_BYTES))


def test_a_zip_bomb_is_refused_from_its_headers():
    with pytest.raises(RunFileError, match="times larger than it is packed"):
        load_run(rezip({MANIFEST: b"{}", "bomb": bytes(50 * 2**20)}))


def test_total_uncompressed_size_is_bounded(monkeypatch):
    monkeypatch.setattr("rnnviz.runs.runfile.MAX_UNCOMPRESSED_BYTES", 2**20)
    incompressible = np.random.default_rng(0).bytes(2**20)  # so the ratio is fine and only the total is not
    with pytest.raises(RunFileError, match="would unpack to"):
        load_run(rezip({MANIFEST: b"{}", "a": incompressible, "b": incompressible}))


def test_a_nested_bomb_inside_the_probes_is_refused(run_bytes):
    inner = rezip({"steps.npy": bytes(100 * 2**20)})  # deflated: about 100 KB
    with pytest.raises(RunFileError, match="times larger than it is packed"):
        load_run(edited(run_bytes, probes_npz=inner))


def test_a_header_that_lies_about_the_size_is_caught():
    blob = bytearray(rezip({MANIFEST: bytes(10 * 2**20)}))
    central = blob.index(b"PK\x01\x02")
    blob[central + 24 : central + 28] = (10).to_bytes(4, "little")  # claims 10 bytes; the data inflates to 10 MB
    with pytest.raises(RunFileError, match="damaged"):
        load_run(bytes(blob))


def test_too_many_entries_are_refused():
    with pytest.raises(RunFileError, match="entries"):
        load_run(rezip({f"f{i}": b"" for i in range(10_000)}))


def test_a_directory_that_lies_about_its_entry_count_is_refused_before_parsing():
    blob = bytearray(rezip({f"f{i}": b"" for i in range(20_000)}))  # about 700 KB of directory records
    end = blob.rindex(b"PK\x05\x06")
    blob[end + 8 : end + 12] = (1).to_bytes(2, "little") * 2  # claims one entry, so the count check passes
    with pytest.raises(RunFileError, match="directory of entries is .* bytes; at most 16,384"):
        load_run(bytes(blob))  # refused from the end record (zipfile would parse all 20,000 headers first)


def test_a_run_too_big_for_a_file_is_thinned_to_fit(monkeypatch, lstm_run, run_bytes):
    full = read_entries(run_bytes)
    one_probe = lstm_run.probes[0][1].nbytes
    limit = len(run_bytes) - 2 * one_probe + 2**20 + 1  # room for all but about two probes
    monkeypatch.setattr("rnnviz.runs.runfile.MAX_FILE_BYTES", limit)
    loaded = load_run(save_run(lstm_run))
    steps = [s for s, _ in loaded.probes]
    assert steps[0] == 0 and steps[-1] == lstm_run.step and len(steps) < len(lstm_run.probes)
    assert OPTIMIZER in full
    pd.testing.assert_frame_equal(loaded.history, lstm_run.history)  # the history is never thinned


def test_a_run_too_big_even_thinned_cannot_be_saved(monkeypatch, lstm_run):
    monkeypatch.setattr("rnnviz.runs.runfile.MAX_FILE_BYTES", 10_000)
    with pytest.raises(RunFileError, match="too large for a run file"):
        save_run(lstm_run)


def test_a_download_of_a_run_too_big_to_save_is_a_note_saying_why(monkeypatch, lstm_run):
    from rnnviz.runs.trainer import LocalTrainer
    from rnnviz.ui.runfiles import run_file_bytes

    monkeypatch.setattr("rnnviz.runs.runfile.MAX_FILE_BYTES", 10_000)
    blob = run_file_bytes(LocalTrainer(lstm_run))  # what the sidebar's download button hands the browser
    note = read_entries(blob)["NOT_SAVED.txt"].decode()
    assert note.startswith("This run could not be saved as a run file:") and "too large for a run file" in note
    with pytest.raises(RunFileError, match="not a run file saved by rnnviz .it holds NOT_SAVED.txt"):
        load_run(blob)


def test_our_own_files_hold_what_the_readme_says(run_bytes):
    entries = read_entries(run_bytes)
    assert {MANIFEST, CONFIG, HISTORY, HISTORY_NPZ, PROBES, WEIGHTS, OPTIMIZER} <= set(entries)
    assert RunConfig.from_dict(json.loads(entries[CONFIG])) == RunConfig(cell="lstm", **SMALL)


@pytest.mark.parametrize("manifest", [
    {"diverged_at": "soon"},
    {"seconds": "many"},
    {"seconds": float("nan")},
    {"step": 3},
])
def test_a_manifest_that_contradicts_the_run_is_refused(run_bytes, manifest):
    current = json.loads(read_entries(run_bytes)[MANIFEST])
    with pytest.raises(RunFileError, match="rnnviz.json"):
        load_run(edited(run_bytes, rnnviz_json=json.dumps(current | manifest).encode()))
