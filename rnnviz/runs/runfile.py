"""Run files: a whole run (config, history, probe traces, weights) as one .zip, saved and opened safely.

Opening never executes code from the file (JSON, `np.load(allow_pickle=False)`, `torch.load(weights_only=True)`, the
CSV of older files) and every size is bounded before anything is decompressed, so a hostile file is refused quickly.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib

import numpy as np
import pandas as pd
import torch

from rnnviz.datasets import DatasetError, load_dataset
from rnnviz.engine import changes as live
from rnnviz.engine.cellspec import spec
from rnnviz.engine.config import ConfigError, RunConfig
from rnnviz.engine.record import Trace
from rnnviz.engine.train import Run, make_optimizer, new_run, probe_samples

FORMAT, VERSION = "rnnviz-run", 1
MAX_FILE_BYTES = 64 * 2**20  # the .zip as uploaded
MAX_UNCOMPRESSED_BYTES = 256 * 2**20  # all entries together, nested archives included
MAX_ENTRIES = 16  # in the run file and in its probes .npz
MAX_TORCH_ENTRIES = 512  # in a torch.save archive inside it (one record per tensor: weights, Adam's moments)
DIRECTORY_BYTES_PER_ENTRY = 1024  # the central directory: a 46-byte record, name and extras per entry (ours: < 120)
MAX_RATIO = 200  # uncompressed / compressed per entry, for entries above RATIO_FLOOR
RATIO_FLOOR = 2**20  # small entries may compress well (a JSON of defaults) without looking like a bomb

MANIFEST, CONFIG, HISTORY, HISTORY_NPZ, PROBES, WEIGHTS, OPTIMIZER, SAMPLER = (
    "rnnviz.json", "config.json", "history.csv", "history.npz", "probes.npz", "model.pt", "optimizer.pt",
    "sampler.pt")
HISTORY_CSV_ROWS = 20_000  # history.csv, for people, only up to this many steps: history.npz is what is read back
STORED = (PROBES, WEIGHTS, OPTIMIZER)  # float arrays deflate by about a tenth, and inflating them cost most of an open
UPLOAD_DIR = "upload/"  # the uploaded file a run trained on, if any, so the run opens on another server
TRACE_FIELDS = ("hidden", "cell_state", "grad_norms", "input_saliency", "outputs", "spectral_radius")
OLD_NAMES = {"cell": "cell_state", "gate.cell": "gate.candidate"}  # what run files written before the rename hold
HISTORY_BASE = ("step", "loss", "val_loss", "grad_norm", "clipped", "diverged", "seconds")
HISTORY_DTYPES = {"step": np.int64, "clipped": np.bool_, "diverged": np.bool_}  # every other column is float64


class RunFileError(ValueError):
    """A run file that cannot be opened (or a run that cannot be saved); the message says why."""


# ---- saving -------------------------------------------------------------------------------------------------


def save_run(run: Run) -> bytes:
    """The run as a .zip (see docs/runs.md, "Run files"); raises RunFileError if even a thinned run does not fit.

    A run too big for MAX_FILE_BYTES first loses its optimizer state (it still continues, with a fresh one),
    then every other probe between the first and the latest, as Run thins them in memory.
    """
    if run.model is None:
        raise RunFileError("this run has no model to save")
    history = run.history  # one snapshot: training may go on in another thread while this is saved
    entries = {
        CONFIG: json.dumps(run.config.to_dict(), sort_keys=True, indent=1).encode(),
        HISTORY_NPZ: _history_npz(history),
        **({HISTORY: history.to_csv(index=False).encode()} if len(history) <= HISTORY_CSV_ROWS else {}),
        WEIGHTS: _torch_bytes(run.model.state_dict()),
        **_upload_entry(run.config),
    }
    if run.optimizer is not None:
        entries[OPTIMIZER] = _torch_bytes(run.optimizer.state_dict())
    if run.sampler is not None:
        entries[SAMPLER] = _torch_bytes({"state": run.sampler})
    if _size(entries) > MAX_FILE_BYTES // 2:
        entries.pop(OPTIMIZER, None)
    probes = _fit_probes(list(run.probes), MAX_FILE_BYTES - _size(entries) - 2**20)
    step = int(history.step.iloc[-1]) if len(history) else -1
    entries[PROBES] = _probes_npz([(s, t) for s, t in probes if s <= step])
    entries[MANIFEST] = json.dumps({"format": FORMAT, "version": VERSION, "step": step, "seconds": run.seconds,
                                    "diverged_at": run.diverged_at, "changes": [c.to_list() for c in run.changes],
                                    "fork_step": run.fork_step,
                                    "probes_dropped": len(run.probes) - len(probes)}).encode()
    data = _zip(entries)
    if len(data) > MAX_FILE_BYTES or _size(entries) > MAX_UNCOMPRESSED_BYTES:
        raise RunFileError(f"this run is too large for a run file ({len(data) / 2**20:.0f} MB; the limit is "
                           f"{MAX_FILE_BYTES // 2**20} MB): fewer units, layers or probe samples make it smaller")
    return data


NOT_SAVED = "NOT_SAVED.txt"


def not_saved(err: RunFileError) -> bytes:
    """What a download gives when the run could not be saved: a .zip with one note saying why (opening it here
    says it is not a run file)."""
    return _zip({NOT_SAVED: f"This run could not be saved as a run file: {err}.\n".encode()})


def _size(entries: dict[str, bytes]) -> int:
    return sum(len(blob) for blob in entries.values())


def _fit_probes(probes: list[tuple[int, Trace]], room: int) -> list[tuple[int, Trace]]:
    """Drop every other probe between the first and the latest until their arrays fit in `room` bytes."""
    while len(probes) > 2 and sum(t.nbytes for _, t in probes) > room:
        first, *middle, last = probes
        probes = [first, *middle[1::2], last]
    return probes


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in entries.items():
            # an entry that would compress past MAX_RATIO (all zeros) is stored as is, so our own files always open
            deflate = name not in STORED and (len(blob) < RATIO_FLOOR or _ratio_ok(blob))
            packed = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            zf.writestr(name, blob, compress_type=packed)
    return buf.getvalue()


def _ratio_ok(blob: bytes) -> bool:
    return len(blob) <= MAX_RATIO * len(zlib.compress(blob, 1))


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _history_npz(history: pd.DataFrame) -> bytes:
    """One array per column, in the history's own dtypes (exact: no number goes through text)."""
    arrays = {c: np.asarray(history[c].to_numpy(), dtype=HISTORY_DTYPES.get(c, np.float64)) for c in history.columns}
    return _npz(arrays)


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # uncompressed inside; the run file's own zip compresses it if that pays
    return buf.getvalue()


BATCH_AXIS = {"hidden": 1, "cell_state": 1, "grad_norms": 1, "input_saliency": 0, "outputs": 0, "gate": 1}


def _probes_npz(probes: list[tuple[int, Trace]]) -> bytes:
    """Every probe's arrays stacked per field (P, ...): a fixed, small number of entries however many probes.
    Probes of different sample counts (probe_size changed live) are padded with NaN to the largest, and
    `samples` says how many each had."""
    arrays = {"steps": np.array([s for s, _ in probes], dtype=np.int64),
              "loss": np.array([t.loss for _, t in probes], dtype=np.float64)}
    if probes:
        samples = [t.hidden.shape[1] for _, t in probes]
        most = max(samples)
        if min(samples) != most:
            arrays["samples"] = np.array(samples, dtype=np.int64)
        first = probes[0][1]
        for name in TRACE_FIELDS:
            if getattr(first, name) is not None:
                arrays[name] = np.stack([_padded(getattr(t, name), BATCH_AXIS.get(name), most) for _, t in probes])
        for gate in first.gates:
            arrays[f"gate.{gate}"] = np.stack([_padded(t.gates[gate], BATCH_AXIS["gate"], most) for _, t in probes])
    return _npz(arrays)


def _padded(a: np.ndarray, axis: int | None, size: int) -> np.ndarray:
    if axis is None or a.shape[axis] == size:
        return a
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, size - a.shape[axis])
    return np.pad(a.astype(np.result_type(a.dtype, np.float32)), pad, constant_values=np.nan)


def _upload_entry(config: RunConfig) -> dict[str, bytes]:
    key = config.dataset_params.get("upload")
    if not key:
        return {}
    from rnnviz.datasets import get_upload

    try:
        filename, content = get_upload(key)
    except DatasetError:
        return {}  # the run can still be viewed; opening it will ask for the file again
    return {UPLOAD_DIR + _safe_name(filename): content}


def _safe_name(filename: str) -> str:
    name = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in filename.rsplit("/", 1)[-1])
    return name[:100] or "upload.txt"


# ---- opening ------------------------------------------------------------------------------------------------


def load_run(data: bytes) -> Run:
    """A Run from run-file bytes: data rebuilt from the config, model restored; RunFileError if unusable."""
    entries = read_entries(data)
    _check_manifest(entries)
    _restore_upload(entries)  # first: the settings' memory check measures the dataset the upload makes
    config = _config(entries[CONFIG])
    try:
        dataset = load_dataset(config)
    except (DatasetError, ConfigError) as err:
        raise RunFileError(f"the run's data cannot be rebuilt: {err}") from None
    manifest = json.loads(entries[MANIFEST])
    run = new_run(config, dataset, _changes(config, manifest))
    run.restore_columns(_history(entries, [n for n, _ in run.model.named_parameters()], config))
    most = max(probe_samples(c) for c in (config, *(run.config_at(ch.step) for ch in run.changes)))
    run.probes = _probes(entries[PROBES], config, most)
    run.diverged_at, run.seconds = manifest.get("diverged_at"), manifest.get("seconds", 0.0)
    run.fork_step = _fork_step(manifest)
    _load_weights(run.model, entries[WEIGHTS])
    run.optimizer = _optimizer(run.config_at(run.step), run.model, entries.get(OPTIMIZER))
    run.sampler = _sampler(entries.get(SAMPLER))
    _check_consistent(run, manifest)
    return run


def read_entries(data: bytes) -> dict[str, bytes]:
    """Every entry of the run file, its sizes checked before decompressing (zip bombs, oversized files)."""
    if not isinstance(data, (bytes, bytearray)):
        raise RunFileError("a run file must be bytes")
    if len(data) > MAX_FILE_BYTES:
        raise RunFileError(f"the file is {len(data) / 2**20:.1f} MB; run files are at most "
                           f"{MAX_FILE_BYTES // 2**20} MB")
    if not data.startswith(b"PK\x03\x04"):
        raise RunFileError("this is not a run file: a run file is a .zip saved by rnnviz (this file is not a zip)")
    return _read_zip(bytes(data), "the run file", MAX_UNCOMPRESSED_BYTES)


def _read_zip(data: bytes, what: str, budget: int, max_entries: int = MAX_ENTRIES, read: bool = True) -> dict:
    _check_entry_count(data, what, max_entries)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            _check_sizes(infos, what, budget, max_entries)
            return {info.filename: _read_member(zf, info) for info in infos} if read else {}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError) as err:
        raise RunFileError(f"{what} is damaged or truncated ({err}); save the run again") from None


def _check_entry_count(data: bytes, what: str, max_entries: int) -> None:
    """The entry count from the end-of-archive record, before zipfile parses every entry's header (a file of a
    million empty entries would otherwise take seconds to refuse)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if end < 0 or len(data) < end + 22:
        raise RunFileError(f"{what} is damaged or truncated (its end-of-archive record is missing); save the run again")
    count = int.from_bytes(data[end + 10 : end + 12], "little")  # 0xFFFF: a zip64 archive, far too many anyway
    if count > max_entries:
        raise RunFileError(f"{what} has {count if count < 0xFFFF else 'over 65,535'} entries; at most {max_entries} "
                           "are allowed")
    directory = int.from_bytes(data[end + 12 : end + 16], "little")  # zipfile parses all of it, whatever the count
    if directory > max_entries * DIRECTORY_BYTES_PER_ENTRY:
        raise RunFileError(f"{what}'s directory of entries is {directory:,} bytes; at most "
                           f"{max_entries * DIRECTORY_BYTES_PER_ENTRY:,} are allowed for {max_entries} entries")


def _check_sizes(infos: list[zipfile.ZipInfo], what: str, budget: int, max_entries: int) -> None:
    if len(infos) > max_entries:
        raise RunFileError(f"{what} has {len(infos)} entries; at most {max_entries} are allowed")
    total = sum(info.file_size for info in infos)
    if total > budget:
        raise RunFileError(f"{what} would unpack to {total / 2**20:.0f} MB; the limit is "
                           f"{MAX_UNCOMPRESSED_BYTES // 2**20} MB uncompressed")
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise RunFileError(f"{what}: entry {info.filename!r} unpacks {info.file_size // max(info.compress_size, 1)}"
                               f" times larger than it is packed (a zip bomb?); the limit is {MAX_RATIO} times")
        if info.flag_bits & 0x1:
            raise RunFileError(f"{what}: entry {info.filename!r} is encrypted")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    # zipfile stops at the declared size and checks the CRC, so a header that lies about the size fails here
    with zf.open(info) as f:
        blob = f.read(info.file_size + 1)
    if len(blob) != info.file_size:
        raise zipfile.BadZipFile(f"entry {info.filename!r} is not the size its header declares")
    return blob


def _check_manifest(entries: dict[str, bytes]) -> None:
    if MANIFEST not in entries:
        names = ", ".join(sorted(entries)[:5]) or "nothing"
        raise RunFileError(f"this zip is not a run file saved by rnnviz (it holds {names}; a run file holds "
                           f"{MANIFEST}, {CONFIG}, {HISTORY_NPZ}, {PROBES} and {WEIGHTS})")
    manifest = _json(entries[MANIFEST], MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RunFileError(f"{MANIFEST} does not describe an rnnviz run file")
    if manifest.get("version") != VERSION:
        raise RunFileError(f"run file version {manifest.get('version')!r} is not supported; this rnnviz reads "
                           f"version {VERSION}")
    missing = [name for name in (CONFIG, PROBES, WEIGHTS) if name not in entries]
    if HISTORY_NPZ not in entries and HISTORY not in entries:  # files saved before history.npz have only the CSV
        missing.insert(1, HISTORY_NPZ)
    if missing:
        raise RunFileError(f"the run file lacks {', '.join(missing)}")


def _json(blob: bytes, name: str):
    try:
        return json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise RunFileError(f"{name} is not valid JSON ({err})") from None


def _config(blob: bytes) -> RunConfig:
    try:
        return RunConfig.from_dict(_json(blob, CONFIG))
    except (ConfigError, DatasetError, TypeError) as err:
        raise RunFileError(f"the run's settings were refused: {err}") from None


def _restore_upload(entries: dict[str, bytes]) -> None:
    """Put the file the run trained on back into this server's upload store (checked like any upload)."""
    from rnnviz.datasets import register_upload

    for name, content in entries.items():
        if name.startswith(UPLOAD_DIR):
            try:
                register_upload(content, name[len(UPLOAD_DIR):])
            except DatasetError as err:
                raise RunFileError(f"the uploaded file inside the run file was refused: {err}") from None


def _history(entries: dict[str, bytes], param_names: list[str], config: RunConfig) -> dict[str, np.ndarray]:
    """The per-step history, one array per column: from history.npz, or from history.csv in files saved before it."""
    expected = [*HISTORY_BASE, *(f"grad/{n}" for n in param_names)]
    if HISTORY_NPZ in entries:
        table = _history_arrays(entries[HISTORY_NPZ], expected)
    else:
        table = _history_csv(entries[HISTORY], expected, config.steps + 1)
    steps = table["step"]
    if len(steps) > config.steps + 1 or (len(steps) and (steps[0] != 0 or (np.diff(steps) != 1).any())):
        raise RunFileError(f"the history must have one row per step 0, 1, 2, ... up to steps={config.steps}")
    return table


def _columns_error(name: str, expected: list[str]) -> RunFileError:
    return RunFileError(f"{name} does not have the columns this run's model needs ({', '.join(expected[:7])}, "
                        "one grad/ column per parameter)")


def _history_arrays(blob: bytes, expected: list[str]) -> dict[str, np.ndarray]:
    """history.npz: exactly the expected columns, each a 1-D array of its own number kind, all of one length."""
    arrays = _npz_arrays(blob, HISTORY_NPZ, max_entries=len(expected), names=expected)
    n = len(arrays["step"]) if arrays["step"].ndim == 1 else -1
    kinds = {np.int64: "iu", np.bool_: "b", np.float64: "f"}
    for c in expected:
        a, dtype = arrays[c], HISTORY_DTYPES.get(c, np.float64)
        if a.shape != (n,) or a.dtype.kind not in kinds[dtype]:
            raise RunFileError(f"{HISTORY_NPZ}: column {c!r} must be {n if n >= 0 else 'N'} values of type "
                               f"{np.dtype(dtype).name} (it holds {a.dtype.name}, shape {a.shape})")
    return {c: arrays[c].astype(HISTORY_DTYPES.get(c, np.float64), copy=False) for c in expected}


def _history_csv(blob: bytes, expected: list[str], max_rows: int) -> dict[str, np.ndarray]:
    """history.csv of older files; its header and its number of lines are checked before parsing."""
    head = blob[: 64 * 1024]  # the header line is short: a file whose first line is not is refused unparsed
    header = head[: head.find(b"\n")] if b"\n" in head else b""
    if header.decode("utf-8", "replace").strip().split(",") != expected:
        raise _columns_error(HISTORY, expected)
    if blob.count(b"\n", len(header) + 1) > max_rows:  # a few ms, where parsing a 60 MB CSV takes seconds
        raise RunFileError(f"{HISTORY} has more rows than the run has steps (at most {max_rows:,}, one per step)")
    dtypes = {c: "float64" for c in expected} | {"step": "int64", "clipped": "bool", "diverged": "bool"}
    try:
        df = pd.read_csv(io.BytesIO(blob), engine="c", float_precision="round_trip", dtype=dtypes)
    except (ValueError, pd.errors.ParserError) as err:
        raise RunFileError(f"{HISTORY} is malformed ({str(err)[:200]})") from None
    return {c: df[c].to_numpy() for c in expected}


def _probes(blob: bytes, config: RunConfig, most: int) -> list[tuple[int, Trace]]:
    """The probes, each with its own sample count (at most `most`, the most any of the run's settings asked)."""
    arrays = {OLD_NAMES.get(k, k): v for k, v in _npz_arrays(blob, PROBES).items()}
    steps, loss = arrays.get("steps"), arrays.get("loss")
    if steps is None or loss is None or steps.ndim != 1 or loss.shape != steps.shape:
        raise RunFileError(f"{PROBES} lacks the probe steps and losses")
    P = len(steps)
    if P == 0:
        return []
    _check_probe_shapes(arrays, config, P, most)
    samples = _samples(arrays.pop("samples", None), P, arrays["hidden"].shape[2])

    def get(name: str, i: int) -> np.ndarray | None:
        """Probe i's array, cut to its own samples; in its own (aligned) memory, as replay gave it: numpy's
        float32 reductions can round differently on a view at an odd offset, and the views must draw exactly
        what they drew before."""
        if name not in arrays:
            return None
        axis = BATCH_AXIS.get(name.split(".")[0])
        a = arrays[name][i]
        return (a if axis is None else a.take(range(samples[i]), axis=axis)).copy()

    return [(int(steps[i]), Trace(
        hidden=get("hidden", i), cell_state=get("cell_state", i),
        gates={g: get(f"gate.{g}", i) for g in spec(config.cell).gate_names},
        grad_norms=get("grad_norms", i), input_saliency=get("input_saliency", i), outputs=get("outputs", i),
        loss=float(loss[i]), spectral_radius=get("spectral_radius", i),
    )) for i in range(P)]


def _samples(samples: np.ndarray | None, P: int, most: int) -> list[int]:
    if samples is None:
        return [most] * P
    if samples.shape != (P,) or samples.dtype.kind != "i" or samples.min() < 1 or samples.max() > most:
        raise RunFileError(f"{PROBES}: samples must give each probe's sample count, from 1 to {most}")
    return samples.tolist()


def _check_probe_shapes(arrays: dict[str, np.ndarray], config: RunConfig, P: int, most: int) -> None:
    L, T, H = config.num_layers, config.seq_len, config.hidden_size
    hidden = arrays.get("hidden")
    B = hidden.shape[2] if hidden is not None and hidden.ndim == 5 else -1
    want = {"hidden": (P, L, B, T, H), "grad_norms": (P, L, B, T), "input_saliency": (P, B, T)}
    want |= {f"gate.{g}": (P, L, B, T, H) for g in spec(config.cell).gate_names}
    if spec(config.cell).has_cell_state:
        want["cell_state"] = (P, L, B, T, H)
    bad = [k for k, shape in want.items() if k not in arrays or arrays[k].shape != shape]
    bad += [k for k in ("outputs", "spectral_radius") if k in arrays and arrays[k].shape[:1] != (P,)]
    if "outputs" not in arrays:
        bad.append("outputs")
    if bad or not 1 <= B <= most:
        raise RunFileError(f"{PROBES}: the probe arrays {', '.join(bad) or 'hidden'} do not match the run's settings "
                           f"(layers {L}, sequence length {T}, units {H}, at most {most} samples)")
    if any(a.dtype.kind != "f" for k, a in arrays.items() if k not in ("steps", "samples")):
        raise RunFileError(f"{PROBES}: probe arrays must hold floating-point numbers")


def _npz_arrays(blob: bytes, what: str, max_entries: int = MAX_ENTRIES, names: list[str] | None = None
                ) -> dict[str, np.ndarray]:
    """The arrays of an .npz, each .npy header checked against its byte count before numpy allocates (and the
    array names against `names`, if given, before any is parsed)."""
    members = _read_zip(blob, what, MAX_UNCOMPRESSED_BYTES, max_entries)
    if names is not None and sorted(members) != sorted(f"{n}.npy" for n in names):
        raise _columns_error(what, names)
    out = {}
    for name, raw in members.items():
        if not name.endswith(".npy"):
            raise RunFileError(f"{what} holds {name!r}, which is not an array")
        out[name[:-4]] = _npy(raw, name, what)
    return out


def _npy(raw: bytes, name: str, what: str) -> np.ndarray:
    f = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"format version {version} is not supported")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(f)
        if dtype.hasobject or dtype.kind not in "fiub":
            raise ValueError(f"dtype {dtype} is not a number type")
        if math.prod(shape) * dtype.itemsize != len(raw) - f.tell():
            raise ValueError("its header does not match its size")
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError, SyntaxError) as err:
        raise RunFileError(f"{what}: array {name!r} is malformed ({err})") from None


def _torch_load(blob: bytes, name: str):
    if not blob.startswith(b"PK\x03\x04"):
        raise RunFileError(f"{name} is not a weights file rnnviz can read (torch.save writes a zip)")
    # torch.save writes a zip: bound it like the run file before torch reads it
    _read_zip(blob, name, MAX_UNCOMPRESSED_BYTES, MAX_TORCH_ENTRIES, read=False)
    try:
        return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many kinds for a bad archive; none may escape)
        raise RunFileError(f"{name} is not a weights file rnnviz can read ({str(err)[:200]})") from None


def _load_weights(model, blob: bytes) -> None:
    state = _torch_load(blob, WEIGHTS)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RunFileError(f"{WEIGHTS} must hold a state_dict of tensors")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as err:
        raise RunFileError(f"{WEIGHTS} does not fit the run's model: {str(err)[:300]}") from None


def _changes(config: RunConfig, manifest: dict) -> live.Changes:
    try:
        return live.from_list(config, manifest.get("changes", []))
    except ConfigError as err:
        raise RunFileError(f"its live changes are not usable: {err}") from None


def _fork_step(manifest: dict) -> int | None:
    step = manifest.get("fork_step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise RunFileError(f"fork_step={str(step)[:30]} in {MANIFEST} must be a step (a whole number from 0)")
    return step


def _sampler(blob: bytes | None) -> torch.Tensor | None:
    """The batch sampler's state, if the file has a usable one (else training draws the batches done again)."""
    if blob is None:
        return None
    state = _torch_load(blob, SAMPLER).get("state")
    if not isinstance(state, torch.Tensor) or state.dtype != torch.uint8 or state.numel() != _SAMPLER_BYTES:
        raise RunFileError(f"{SAMPLER} is not a batch sampler's state")
    return state


_SAMPLER_BYTES = torch.Generator().get_state().numel()


def _optimizer(config: RunConfig, model, blob: bytes | None):
    """The optimizer with its saved state (Adam's moments), or a fresh one if the file has none."""
    optimizer = make_optimizer(config, model)
    if blob is not None:
        try:
            optimizer.load_state_dict(_torch_load(blob, OPTIMIZER))
        except (ValueError, KeyError, TypeError, RuntimeError, AttributeError) as err:
            raise RunFileError(f"{OPTIMIZER} does not fit the run's optimizer ({str(err)[:200]})") from None
    return optimizer


def _check_consistent(run: Run, manifest: dict) -> None:
    if manifest.get("step") != run.step:
        raise RunFileError(f"{MANIFEST} says step {manifest.get('step')!r} but the history ends at step {run.step}")
    steps = [s for s, _ in run.probes]
    if any(s < 0 or s > run.step for s in steps) or any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise RunFileError(f"{PROBES}: probe steps must increase and lie within the run's steps 0 to {run.step}")
    if run.diverged_at is not None and (not isinstance(run.diverged_at, int) or run.diverged_at != run.step):
        raise RunFileError(f"{MANIFEST}: diverged_at={run.diverged_at!r} must be the run's last step or null")
    if isinstance(run.seconds, bool) or not isinstance(run.seconds, (int, float)) or not run.seconds >= 0:
        raise RunFileError(f"{MANIFEST}: seconds={run.seconds!r} must be a number of seconds")
    if run.fork_step is not None and run.fork_step > run.step:
        raise RunFileError(f"{MANIFEST}: fork_step={run.fork_step} is after the run's last step {run.step}")
    run.seconds = float(run.seconds)
