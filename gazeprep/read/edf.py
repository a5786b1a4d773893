"""EyeLink EDF files, read with SR Research's EDF access library and written as ``edf2asc`` text.

An EDF is turned into the bytes ``edf2asc`` (default options) would write, so the ASC parser
reads samples, events and messages through exactly the code it uses for ASC files::

    >>> from gazeprep.read.edf_asc import edf_to_asc                     # doctest: +SKIP
    >>> edf_to_asc("raw/sub_1.edf")[:40]                         # doctest: +SKIP
    b'** CONVERTED FROM sub_1.edf using edfapi'

This module reads (:func:`read_edf` -> :class:`EdfRecording`, plain arrays);
:mod:`gazeprep.read.edf_asc` writes the text (what it reproduces and what not is listed there).

Reading needs ``eyelinkio`` (``pip install 'gazeprep-gradseg[eyelink]'``), whose wheel ships
``libedfapi``. Its high-level ``eyelinkio.read_edf`` cannot serve here: it renumbers sample
times as ``index / rate`` seconds (the time between recording blocks vanishes), maps event and
message times onto that axis by interpolation (every message before the first sample gets time
0), drops START/END blocks, event durations and pupil, keeps only the ASCII characters of
messages and cuts them at 260 characters. So the items are read with the library's own calls
(``edf_get_next_data`` / ``edf_get_float_data``, through eyelinkio's ctypes bindings), in the
order the file stores them, which is the order ``edf2asc`` writes them in: an event or message
read between two samples is written between their lines.

What the library gives: sample time (integer ms, +0.5 when the sample's ``SAMPLE_ADD_OFFSET``
flag is set), gaze x, y (screen px, float32; ``1e8`` = missing, ``-32768`` = eye not recorded),
pupil (area or diameter, arbitrary units; 0 while the eye is lost), resolution (px/deg) and an
error word per sample; events with integer-ms start/end times, eye 0 = left, 1 = right, float32
positions; messages as bytes with an integer-ms time; ``RECORDING_INFO`` items opening
(state 1) and closing (state 0) each recording block with rate, eyes, pupil type, filter.

The library runs in a child process: on some truncated files it crashes the process
(segmentation fault), which then becomes a one-line error naming the file. What the library
prints (``loadEvents = 1`` on every file, its complaints) is captured, never shown; its
complaint goes into that line. Speed: ~2-3 us per sample on one core, the library's own
decoding ~0.25 us of it (``pipelines/bench_edf.py``).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazeprep.errors import GazeprepError

INSTALL_HINT = "reading .edf needs eyelinkio: pip install 'gazeprep-gradseg[eyelink]'"
#: edfapi item types (edf.h).
SAMPLE, MESSAGE, RECORDING_INFO, BUTTON, INPUT = 200, 24, 30, 25, 28
STARTBLINK, ENDBLINK, STARTSACC, ENDSACC, STARTFIX, ENDFIX = 3, 4, 5, 6, 7, 8
#: Items kept besides samples (control items, FIXUPDATE and lost-data marks are not written).
KEPT_ITEMS = (MESSAGE, RECORDING_INFO, BUTTON, INPUT, STARTBLINK, ENDBLINK, STARTSACC, ENDSACC,
              STARTFIX, ENDFIX)
#: A float sample or event value at or above this, or equal to -32768, is missing.
MISSING_FLOAT = 1e8 - 1
MISSING_INT = -32768
#: Sample error-word bits behind the flag characters (edf.h).
INTERP_PUPIL, CR_LOST = 0x8000, (0x0100, 0x0200)
CR_RECOV = (0x0400, 0x0800)
SAMPLE_ADD_OFFSET, SAMPLE_GAZEXY = 0x0002, 0x0400
#: Event fields kept (FEVENT names) and the RECORDING_INFO fields (RECORDINGS names).
EVENT_FIELDS = ("sttime", "entime", "eye", "gstx", "gsty", "genx", "geny", "gavx", "gavy",
                "ava", "pvel", "supd_x", "eupd_x", "supd_y", "eupd_y", "input", "buttons")
REC_FIELDS = ("sample_rate", "sflags", "state", "record_type", "pupil_type", "recording_mode",
              "filter_type", "pos_type", "eye")
#: Words in the library's printed output that mean it met damage in the file.
COMPLAINTS = ("error", "corrupt", "exception", "bad ")
_CHUNK = 1 << 16
_CHILD_TAG = "GAZEPREP-EDF-ERROR: "
#: Time limit of the child process: this many seconds plus :data:`TIMEOUT_S_PER_MB` per MB of
#: file. Reading takes ~3 us per sample (~0.1 s per MB); a file that makes the library loop
#: is stopped (killed) at the limit and reported, never left to hang ingest.
TIMEOUT_S = 60.0
TIMEOUT_S_PER_MB = 2.0


@dataclass
class EdfRecording:
    """Everything read from one EDF, as plain arrays.

    Samples (n of them, file order): ``t`` float64 (n,) ms; ``gx, gy, pa`` float32 (2, n),
    left/right, raw library values (missing = ``>= 1e8`` or ``-32768``); ``rx, ry`` float32
    (n,) resolution px/deg; ``errors`` uint16 (n,) error word.

    Other items (m of them, file order): ``item_type`` int16 (m,) edfapi type; ``item_before``
    int64 (m,): how many samples were read before the item (it is written just before sample
    ``item_before``); ``events``: arrays (m,) of :data:`EVENT_FIELDS` and, for
    ``RECORDING_INFO`` items, :data:`REC_FIELDS` (``rec_`` prefix); ``texts``: the message
    bytes (None for other items).
    """

    preamble: str
    library: str
    t: np.ndarray
    gx: np.ndarray
    gy: np.ndarray
    pa: np.ndarray
    rx: np.ndarray
    ry: np.ndarray
    errors: np.ndarray
    item_type: np.ndarray
    item_before: np.ndarray
    events: dict[str, np.ndarray] = field(default_factory=dict)
    texts: list[bytes | None] = field(default_factory=list)


def read_edf(path: str | Path, timeout: float | None = None) -> EdfRecording:
    """Read an EDF with the EDF access library, in a child process (a crash becomes an error).

    Parameters
    ----------
    path : str or Path
    timeout : float, optional
        Seconds the child may take before it is killed (an error naming the file); default
        :data:`TIMEOUT_S` + :data:`TIMEOUT_S_PER_MB` per MB of the file.
    """
    path = Path(path)
    _require_eyelinkio(path)
    if not path.is_file():
        raise GazeprepError("no such file; expected an EyeLink EDF", file=path)
    if timeout is None:
        timeout = TIMEOUT_S + TIMEOUT_S_PER_MB * path.stat().st_size / 1e6
    depth = __name__.count(".")  # the package root, whatever this module's place in it
    root = str(Path(__file__).resolve().parents[depth])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    code = f"import sys; from {__name__} import _child_main; sys.exit(_child_main())"
    with tempfile.TemporaryDirectory(prefix="gazeprep-edf-") as tmp:
        out = Path(tmp) / "rec.pickle"
        try:
            proc = subprocess.run([sys.executable, "-c", code, str(path), str(out)],
                                  capture_output=True, env=env, check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise GazeprepError(f"the EDF library did not finish reading this file within "
                                f"{timeout:.3g} s (stopped); expected an intact EyeLink EDF "
                                "(damaged file?)", file=path) from None
        complaint = _library_lines((proc.stdout + proc.stderr).decode("utf-8", "replace"))
        if proc.returncode == 0 and out.is_file():
            if complaint:
                # the library read on past damage: what it returned is not the whole file
                raise GazeprepError(f"the EDF library reported '{complaint}'; expected an "
                                    "intact EyeLink EDF (truncated or corrupt file?)", file=path)
            with open(out, "rb") as fh:
                rec = pickle.load(fh)  # written just now by our own child process
            problem = stream_problem(rec)
            if problem:
                raise GazeprepError(f"{problem}; expected an intact EyeLink EDF (damaged "
                                    "file?)", file=path)
            return rec
    raise GazeprepError(_child_failure(proc), file=path)


def stream_problem(rec: EdfRecording) -> str | None:
    """What shows the library read a damaged file without saying so, or None.

    A file cut short is refused when opened, so a block that never ends, or sample times that
    go back, mean the library lost its way inside the file (it then stops early, or fills the
    gap with samples it invents).
    """
    state = rec.events["rec_state"][rec.item_type == RECORDING_INFO].astype(np.int64)
    times = rec.events["rec_time"][rec.item_type == RECORDING_INFO]
    if state.size and (state[0] != 1 or (np.diff(state) == 0).any() or state[-1] != 0):
        k = int(np.flatnonzero(np.r_[state[0] != 1, np.diff(state) == 0, state[-1] != 0])[0])
        k = min(k, state.size - 1)
        return (f"recording blocks do not alternate START/END (item {k + 1} of "
                f"{state.size}, time {int(times[k])} ms; the library read {rec.t.size} "
                "samples)")
    back = np.flatnonzero(np.diff(rec.t) <= 0)
    if back.size:
        i = int(back[0])
        return (f"sample times go back from {rec.t[i]:.1f} to {rec.t[i + 1]:.1f} ms "
                f"(sample {i + 2})")
    return None


def _require_eyelinkio(path: Path) -> None:
    """The install hint when eyelinkio is missing, or why its library does not load."""
    import importlib

    try:
        import eyelinkio  # noqa: F401

        # the module, not the function of the same name that eyelinkio.edf exports
        loader = importlib.import_module("eyelinkio.edf.read_edf")
    except ImportError as exc:
        raise GazeprepError(INSTALL_HINT, file=path) from exc
    if not getattr(loader, "has_edfapi", True):
        raise GazeprepError(f"eyelinkio cannot load its EDF library ({loader.why_not}); "
                            "expected libedfapi for this platform", file=path)


def _child_failure(proc: subprocess.CompletedProcess) -> str:
    """One line saying why the child process gave no recording."""
    said = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    ours = [ln[len(_CHILD_TAG):] for ln in said.splitlines() if ln.startswith(_CHILD_TAG)]
    lib = _library_lines(said)
    if ours:
        return ours[-1] + (f" (the library said: {lib})" if lib else "")
    if proc.returncode < 0:
        return (f"the EDF library crashed reading this file (signal {-proc.returncode})"
                f"{'; it said: ' + lib if lib else ''}; expected an intact EyeLink EDF "
                "(truncated or corrupt file?)")
    last = said.strip().splitlines()[-1:] or ["no output"]
    return f"reading the EDF failed ({last[0][:200]}); expected an intact EyeLink EDF"


def _library_lines(text: str) -> str:
    """The EDF library's complaints in its output: lines holding one of :data:`COMPLAINTS`
    (it also prints ``loadEvents = 1`` and notes about samples it fills in)."""
    keep = [ln.strip() for ln in text.splitlines()
            if any(w in ln.lower() for w in COMPLAINTS) and not ln.startswith(_CHILD_TAG)]
    return " / ".join(dict.fromkeys(keep))[:200]


# ----------------------------------------------------------------------------------------------
# The child process: the library calls
# ----------------------------------------------------------------------------------------------


def _child_main() -> int:
    """Entry of the child process: ``argv`` = EDF path, output pickle path."""
    import io

    path, out = sys.argv[1], sys.argv[2]
    try:
        rec = _read_items(path)
    except _EdfError as exc:
        sys.stdout.flush()
        print(_CHILD_TAG + str(exc), file=sys.stderr, flush=True)
        return 3
    buf = io.BytesIO()
    pickle.dump(rec, buf, protocol=pickle.HIGHEST_PROTOCOL)
    Path(out).write_bytes(buf.getvalue())
    return 0


class _EdfError(Exception):
    """The library refused the file (message for the parent's one-line error)."""


def _bindings():
    """eyelinkio's ctypes view of libedfapi, with the prototypes this reader needs."""
    import ctypes as ct

    try:
        from eyelinkio.edf import _edf2py as api
    except (ImportError, OSError) as exc:
        raise _EdfError(f"eyelinkio's EDF library bindings did not load ({exc}); "
                        "expected eyelinkio >= 0.3") from exc
    lib = api.edfapi
    fns = {}
    for name, args, res in (
        ("edf_open_file", [ct.c_char_p, ct.c_int, ct.c_int, ct.c_int, ct.POINTER(ct.c_int)],
         ct.c_void_p),
        ("edf_close_file", [ct.c_void_p], ct.c_int),
        ("edf_get_next_data", [ct.c_void_p], ct.c_int),
        ("edf_get_float_data", [ct.c_void_p], ct.c_void_p),
        ("edf_get_preamble_text_length", [ct.c_void_p], ct.c_int),
        ("edf_get_preamble_text", [ct.c_void_p, ct.c_char_p, ct.c_int], ct.c_int),
        ("edf_get_version", [], ct.c_char_p),
    ):
        f = lib[name]  # a fresh function object: eyelinkio's own prototypes stay as they are
        f.argtypes, f.restype = args, res
        fns[name] = f
    return api, fns


def _struct_dtype(struct) -> np.dtype:
    """numpy dtype with the byte layout of a ctypes Structure (pointers as uintp)."""
    import ctypes as ct

    names, formats, offsets = [], [], []
    for name, ctype in struct._fields_:
        names.append(name)
        formats.append(np.uintp if issubclass(ctype, ct._Pointer) else np.dtype(ctype))
        offsets.append(getattr(struct, name).offset)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": ct.sizeof(struct)})


def _read_items(path: str) -> EdfRecording:
    """All samples and kept items of the EDF, in file order (runs in the child process)."""
    import ctypes as ct

    api, fn = _bindings()
    err = ct.c_int(0)
    h = fn["edf_open_file"](os.fsencode(path), 2, 1, 1, ct.byref(err))
    if not h or err.value:
        raise _EdfError(f"the EDF library could not open the file (error {err.value}); "
                        "expected an intact EyeLink EDF (truncated or corrupt file?)")
    try:
        n = fn["edf_get_preamble_text_length"](h)
        text = ct.create_string_buffer(max(n, 0) + 1)
        fn["edf_get_preamble_text"](h, text, max(n, 0) + 1)
        rec = _read_stream(api, fn, h, os.path.getsize(path))
    finally:
        fn["edf_close_file"](h)
    rec.preamble = text.value.decode("latin-1")
    rec.library = (fn["edf_get_version"]() or b"").decode("latin-1")
    return rec


def _read_stream(api, fn, h, size: int) -> EdfRecording:
    """The item loop: samples copied whole into a numpy buffer, other items kept raw."""
    import ctypes as ct

    sdt, edt = _struct_dtype(api.FSAMPLE), _struct_dtype(api.FEVENT)
    msg_off = api.FEVENT.message.offset
    nxt, data, memmove = fn["edf_get_next_data"], fn["edf_get_float_data"], ct.memmove
    kept = frozenset(KEPT_ITEMS)
    chunk = np.empty(_CHUNK, sdt)
    base, ss, k = chunk.ctypes.data, sdt.itemsize, 0
    parts: list[dict] = []
    raw, types, before, texts = bytearray(), [], [], []
    limit = 64 * size + 4096  # a file cannot hold more items than this: stop a runaway read
    while True:
        typ = nxt(h)
        if typ == 0:
            break
        p = data(h)
        if typ == SAMPLE:
            memmove(base + k * ss, p, ss)
            k += 1
            if k == _CHUNK:
                parts.append(_compact(chunk))
                k = 0
                if len(parts) * _CHUNK > limit:
                    raise _EdfError("the EDF library kept returning samples past the file's "
                                    "size; expected an intact EyeLink EDF")
            continue
        if typ not in kept or not p:
            continue
        raw += ct.string_at(p, edt.itemsize)
        types.append(typ)
        before.append(len(parts) * _CHUNK + k)
        texts.append(_message(p, msg_off) if typ == MESSAGE else None)
    parts.append(_compact(chunk[:k]))
    s = {key: np.concatenate([q[key] for q in parts], axis=-1) for key in parts[0]}
    ev = np.frombuffer(bytes(raw), edt) if raw else np.zeros(0, edt)
    events = {f: ev[f].copy() for f in EVENT_FIELDS}
    recs = np.frombuffer(bytes(raw), np.uint8).reshape(-1, edt.itemsize)
    recs = recs[:, :ct.sizeof(api.RECORDINGS)].copy().view(_struct_dtype(api.RECORDINGS))[:, 0]
    events.update({f"rec_{f}": recs[f].copy() for f in REC_FIELDS})
    events["rec_time"] = recs["time"].copy()
    return EdfRecording(preamble="", library="", item_type=np.asarray(types, np.int16),
                        item_before=np.asarray(before, np.int64), events=events, texts=texts,
                        **s)


def _message(p: int, offset: int) -> bytes:
    """The text of a message item (an LSTRING: int16 length, then the bytes)."""
    import ctypes as ct

    ptr = ct.c_void_p.from_address(p + offset).value
    if not ptr:
        return b""
    n = ct.c_short.from_address(ptr).value
    return ct.string_at(ptr + 2, max(n, 0)).split(b"\0", 1)[0]


def _compact(chunk: np.ndarray) -> dict[str, np.ndarray]:
    """The sample fields the ASC needs, from a block of FSAMPLE records."""
    t = chunk["time"].astype(np.float64)
    t += np.where(chunk["flags"] & SAMPLE_ADD_OFFSET, 0.5, 0.0)
    return {"t": t, "gx": chunk["gx"].T.copy(), "gy": chunk["gy"].T.copy(),
            "pa": chunk["pa"].T.copy(), "rx": chunk["rx"].copy(), "ry": chunk["ry"].copy(),
            "errors": chunk["errors"].copy()}
