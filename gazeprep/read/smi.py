"""Reader for SMI BeGaze text exports (``--format smi-begaze``): event and sample exports.

Both start with a header block: ``[BeGaze]`` then ``Key:<TAB>value`` lines (``Sample Rate``,
``Subject``, ``Stimulus``, ``Calibration Area``), or, from the older IDF converter, the same
lines behind ``## ``.

**Event export** (``Table Header for Fixations:`` and its column line, likewise for saccades,
blinks and user events; then rows whose first field names the table: ``Fixation L``,
``Fixation R``, ``Saccade L``, ``Blink R``, ``UserEvent``). The fixations are BeGaze's own
(``source`` = the file; ``ingest.json`` notes ``detector: tracker``): ``Start`` and ``Duration``
in microseconds, ``Location X/Y`` in screen pixels, ``Avg. Pupil Size X`` as the pupil.
A user event ``# Message: <name>`` whose name is a file name (``image.jpg``: no spaces, an
extension) says which image is on screen from its time on: every later fixation falls on it
until the next such message (before the first one: the header's ``Stimulus``, else the file
stem). Other user events (mouse clicks, key presses) are counted in the notes.

**Sample export** (one header line ``Time, Type, Trial, L POR X [px], L POR Y [px], ...``,
``SMP`` and ``MSG`` rows, time in microseconds): the samples go to our I-VT / I-DT, the ``MSG``
rows name the image as above. A sample at exactly (0, 0) is SMI's lost-gaze value: missing.

Eyes (both exports): ``--eye auto`` reads the left eye when the file has it, else the right
(BeGaze writes every binocular event twice, ``Fixation L`` and ``Fixation R``, often identical);
``--eye L`` / ``R`` one eye; ``--eye both`` (event exports) each eye its own track, session
``<stem>:L`` / ``<stem>:R``.

Each run of events on one image is one viewing: its own trial (``1``, ``2``... in file order)
and track, onsets counted from the message that showed the image (else from its first
fixation). Screen pixels become image coordinates through ``--image-rect`` (default: the image
covers the screen, the header's ``Calibration Area``, else ``--screen-px``, else 1920 x 1080).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.limits import rect_problem
from gazeprep.read.delimited import decode_text, is_blank, read_bytes
from gazeprep.read.result import FileResult, image_id
from gazeprep.read.vendor import (
    candidates,
    check_order,
    check_samples,
    finish,
    numbers,
    pick_eye,
    screen_rect,
    session_of,
    shown_size,
    vendor_fixations,
)

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

#: Row type prefix -> the table whose header describes it.
TABLES = {"Fixation": "Fixations", "Saccade": "Saccades", "Blink": "Blinks",
          "UserEvent": "User Events"}
FIX_COLUMNS = {"trial": "Trial", "start": "Start", "duration": "Duration", "x": "Location X",
               "y": "Location Y", "pupil": "Avg. Pupil Size X"}
#: A message that names a stimulus file: one token ending in an extension.
STIMULUS = re.compile(r"^#?\s*Message:\s*(\S+\.[A-Za-z][A-Za-z0-9]{1,4})\s*$")
_SAMPLE_HEADER = re.compile(r"(^|\t|,)Time(\t|,)Type(\t|,)")
EXPECTED = ("an SMI BeGaze export: a [BeGaze] or '##' header block, then 'Table Header for "
            "Fixations:' lines and Fixation L/R rows (event export) or a 'Time, Type, Trial, "
            "L POR X [px], ...' header and SMP rows (sample export)")


def sniff(probe: Probe) -> bool:
    """A ``[BeGaze]`` or ``##`` header block, or a sample header with ``POR X [px]``."""
    first = probe.first_line
    if first.startswith("[BeGaze]") or first.startswith("##"):
        return True
    return bool(_SAMPLE_HEADER.search(first)) and "POR X" in first


def read(path: str, opts: IngestOptions):
    """Read an SMI export: its fixations (event export) or samples (sample export).

    Returns
    -------
    FileResult or SampleRecording
        The event export's fixations, or the sample export's samples for the detector.

    Raises
    ------
    GazeprepError
        No header block, a table without its header, a missing column, text where a number
        must be, times going backwards, an eye the file lacks.
    """
    raw = read_bytes(path, "SMI BeGaze text export")
    text = decode_text(raw, path, what="an SMI BeGaze text export").data
    meta, tables, body_at, body_line = _header(text, path)
    res = FileResult(path=str(path), format="smi-begaze")
    if tables:
        return _events(res, meta, tables, text[body_at:], body_line, opts)
    return _samples(res, meta, text[body_at:], body_line, opts)


def _is_row(s: str) -> bool:
    """Whether a line is an event row (its first field names a table: ``Fixation L``...)."""
    return re.split(r"[\t, ]", s, maxsplit=1)[0] in TABLES


def _header(text: bytes, path: str) -> tuple[dict, dict, int, int]:
    """Key/values of the header block, the event tables' column lists, and where the rows
    (or the sample export's column line) start: byte offset, 1-based line."""
    meta: dict[str, str] = {}
    tables: dict[str, list[str]] = {}
    pos, line, pending = 0, 1, None
    while pos < len(text):
        end = text.find(b"\n", pos)
        end = len(text) if end < 0 else end
        s = text[pos:end].decode("utf-8", "replace").rstrip("\r")
        body = s[2:].strip() if s.startswith("##") else s
        if pending is not None:
            tables[pending] = [c.strip() for c in re.split(r"\t|,", body)]
            pending = None
        elif body.startswith("Table Header for "):
            pending = body[len("Table Header for "):].strip().rstrip(":")
        elif _is_row(s) or _SAMPLE_HEADER.search(s):
            return meta, tables, pos, line
        elif ":" in body:
            k, v = body.split(":", 1)
            meta[k.strip()], meta[f"_line:{k.strip()}"] = v.strip(), line
        elif s.strip() and not s.startswith(("[BeGaze]", "##")):
            raise GazeprepError(f"unexpected line {s[:60]!r}; expected {EXPECTED}",
                                file=path, line=line)
        pos, line = end + 1, line + 1
    if pending is not None:
        raise GazeprepError(f"'Table Header for {pending}:' is the last line; expected its "
                            "column line after it (truncated file?)", file=path, line=line - 1)
    if not tables:
        raise GazeprepError(f"no table header and no rows; expected {EXPECTED}", file=path,
                            line=max(line - 1, 1))
    return meta, tables, pos, line


def _screen(meta: dict, path: str) -> tuple[float, float] | None:
    """The header's ``Calibration Area: W H`` (px), if any.

    Raises
    ------
    GazeprepError
        A calibration area that is not two sizes in pixels (naming its line).
    """
    given = meta.get("Calibration Area")
    if not given:
        return None
    try:
        w, h = (float(v) for v in given.split())
        problem = rect_problem((0.0, 0.0, w, h))
    except ValueError:
        problem = "not two numbers"
    if problem:
        raise GazeprepError(f"Calibration Area {given!r}: {problem}; expected the screen's width "
                            "and height in pixels (or pass --screen-px)", file=path,
                            line=meta["_line:Calibration Area"])
    return w, h


def _cut_row(body: bytes, first: int, fields: int, sep: str, path: str) -> None:
    """Refuse a last line without a line end and with fewer than ``fields`` fields: the file
    was cut in the middle of a row, whose last number may be cut too."""
    if body.endswith(b"\n") or is_blank(body):
        return
    last = body[body.rfind(b"\n") + 1:]
    got = last.count(sep.encode()) + 1
    if got < fields:
        raise GazeprepError(f"the file ends in the middle of a row ({got} of {fields} fields); "
                            "expected the whole export (copy it again)", file=path,
                            line=first + body.count(b"\n"))


def _line_numbers(body: bytes, first: int, rows: int) -> np.ndarray:
    """1-based file line of each of the ``rows`` rows polars read from ``body`` (whose first
    line is ``first``): the non-blank lines; consecutive lines when their count differs.

    When ``body`` has exactly ``rows`` lines, the answer is consecutive lines either way (none
    is blank, or the count differs): counting the line ends is then enough."""
    lines = body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)
    if lines == rows:
        return np.arange(first, first + rows, dtype=np.int64)
    a = np.frombuffer(body, np.uint8)
    nl = np.flatnonzero(a == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [a.size]))
    length = ends - starts
    cr = (length == 1) & (a[np.minimum(starts, max(a.size - 1, 0))] == 13) if a.size else length
    keep = (length > 0) & ~cr
    found = (np.flatnonzero(keep) + first).astype(np.int64)
    return found if found.size == rows else np.arange(first, first + rows, dtype=np.int64)


def _rows(body: bytes, first: int, sep: str, width: int) -> pl.DataFrame:
    """The event rows as ``width`` string columns ``c0..``, plus their file ``line``."""
    if is_blank(body):
        return pl.DataFrame({**{f"c{i}": [] for i in range(width)}, "line": []},
                            schema={**{f"c{i}": pl.String for i in range(width)},
                                    "line": pl.Int64})
    # A header line as wide as the widest table: polars takes the width from the first line.
    head = sep.join(f"c{i}" for i in range(width)).encode() + b"\n"
    df = pl.read_csv(head + body, separator=sep, infer_schema=False,
                     truncate_ragged_lines=True, quote_char=None)
    return df.with_columns(pl.Series("line", _line_numbers(body, first, df.height), pl.Int64))


def _events(res: FileResult, meta: dict, tables: dict, body: bytes, first: int,
            opts: IngestOptions) -> FileResult:
    """The fixations of an event export (see the module notes)."""
    fix_cols = tables.get("Fixations")
    if fix_cols is None:
        raise GazeprepError("no 'Table Header for Fixations:'; expected the fixation table's "
                            "header in the header block", file=res.path)
    row = body.split(b"\n", 1)[0]
    sep = "\t" if row.count(b"\t") > row.count(b",") else ","
    width = max(len(c) for c in tables.values())
    last = body.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].decode("utf-8", "replace")
    last_table = tables.get(TABLES.get(re.split(r"[\t, ]", last, maxsplit=1)[0], ""), [])
    _cut_row(body, first, len(last_table), sep, res.path)
    rows = _rows(body, first, sep, width)
    kind = rows["c0"].str.strip_chars()
    known = kind.str.split(" ").list.first().is_in(list(TABLES))
    if not known.all():
        i = int(np.flatnonzero(~known.to_numpy())[0])
        raise GazeprepError(f"row type {rows['c0'][i]!r}; expected one of Fixation L/R, "
                            "Saccade L/R, Blink L/R, UserEvent", file=res.path,
                            line=int(rows["line"][i]))
    images = _stimuli(res, rows.filter(kind == "UserEvent"), tables, meta)
    fix = rows.filter(kind.str.starts_with("Fixation"))
    idx = {}
    for key, name in FIX_COLUMNS.items():
        if name not in fix_cols:
            if key == "pupil":
                continue
            raise GazeprepError(f"the fixation table lacks column {name!r}; expected "
                                f"{', '.join(FIX_COLUMNS.values())}", file=res.path)
        idx[key] = name
    named = fix.select(*[pl.col(f"c{fix_cols.index(n)}").alias(n) for n in idx.values()])
    vals = numbers(named, idx, fix["line"].to_numpy(), res.path,
                   required=("trial", "start", "duration"))
    eye = fix["c0"].str.strip_chars().str.slice(-1)
    vendor_fixations(res, opts, "SMI BeGaze's fixations (Fixation L/R rows)",
                     "export the samples from BeGaze for our detectors")
    eyes = pick_eye(res, [e for e in ("L", "R") if (eye == e).any()], opts)
    screen, rect = screen_rect(res, opts, None if opts.screen_px else _screen(meta, res.path),
                               note_whole_screen=True)
    frames = []
    for e in eyes:
        sel = (eye == e).to_numpy()
        v = vals.filter(sel)
        check_order(v["start"].to_numpy(), v["line"].to_numpy(), res.path,
                    f"Fixation {e} start")
        frames.append(_place(res, v, images, e, eyes, rect, opts))
    cand = pl.concat(frames) if frames else candidates()
    return finish(res, cand, opts, {"duration_ms": "column Duration", "onset_ms": "column Start",
                                    "pupil": "column Avg. Pupil Size X"})


def _stimuli(res: FileResult, events: pl.DataFrame, tables: dict,
             meta: dict) -> tuple[np.ndarray, list[str]]:
    """Times (us) at which a message names a new image, and the image ids (the first, at
    -inf, is the header's ``Stimulus`` or the file stem)."""
    cols = tables.get("User Events", ["Event Type", "Trial", "Number", "Start", "Description"])
    si = cols.index("Start") if "Start" in cols else 3
    di = cols.index("Description") if "Description" in cols else 4
    width = len(events.columns) - 1
    desc = events.select(pl.concat_str([pl.col(f"c{i}") for i in range(di, width)],
                                       separator=",", ignore_nulls=True)).to_series()
    start = numbers(events.select(pl.col(f"c{si}").alias("Start")), {"start": "Start"},
                    events["line"].to_numpy(), res.path,
                    required=("start",))["start"].to_numpy() if events.height else np.zeros(0)
    first = meta.get("Stimulus") or Path(res.path).name
    times, ids, other = [-np.inf], [image_id(first) or Path(res.path).stem], 0
    for t, d in zip(start.tolist(), desc.to_list(), strict=True):
        m = STIMULUS.match((d or "").strip())
        if m and image_id(m.group(1)):
            times.append(t)
            ids.append(image_id(m.group(1)))
        else:
            other += 1
    res.notes["user_events"] = {"stimulus_messages": len(ids) - 1, "other": other}
    return np.asarray(times), ids


def _place(res: FileResult, v: pl.DataFrame, images: tuple, eye: str, eyes: list[str],
           rect: tuple, opts: IngestOptions) -> pl.DataFrame:
    """Candidates of one eye: image, viewing (trial) and onset of each fixation."""
    times, ids = images
    start = v["start"].to_numpy()
    seg = np.searchsorted(times, start, side="right") - 1
    trial_no = v["trial"].to_numpy()
    change = np.ones(start.size, bool)
    change[1:] = (seg[1:] != seg[:-1]) | (trial_no[1:] != trial_no[:-1])
    opened = np.ones(start.size, bool)  # the viewing begins with its image's message
    opened[1:] = seg[1:] != seg[:-1]
    view = np.cumsum(change)
    vi = np.flatnonzero(change)[view - 1] if start.size else np.zeros(0, np.int64)
    msg_t = times[seg]
    t0 = np.where(opened[vi] & np.isfinite(msg_t), msg_t, start[vi])
    names = [ids[s] for s in seg.tolist()]
    sizes = {}
    for name in dict.fromkeys(names):
        sizes[name] = shown_size(res, name, rect, opts, []) or (None, None)
    return candidates(
        image=names, session=session_of(Path(res.path).stem, eye, eyes),
        trial=[str(k) for k in view.tolist()], eye=eye,
        x=(v["x"].to_numpy() - rect[0]) / rect[2], y=(v["y"].to_numpy() - rect[1]) / rect[3],
        onset_ms=(start - t0) / 1000.0, duration_ms=v["duration"].to_numpy() / 1000.0,
        pupil=v["pupil"].to_numpy() if "pupil" in v.columns else None,
        width=[sizes[n][0] for n in names], height=[sizes[n][1] for n in names],
        order=start / 1000.0, line=v["line"].to_numpy())


def _samples(res: FileResult, meta: dict, body: bytes, first: int, opts: IngestOptions):
    """The samples of a sample export, for the detector (see the module notes)."""
    from gazeprep.read.samples import SampleRecording

    head_end = body.find(b"\n")
    header = body[: head_end if head_end >= 0 else len(body)].decode("utf-8", "replace")
    sep = "\t" if header.count("\t") >= header.count(",") else ","
    names = [c.strip() for c in header.rstrip("\r").split(sep)]
    if not _SAMPLE_HEADER.search(header):
        raise GazeprepError(f"header {header[:60]!r}; expected {EXPECTED}", file=res.path,
                            line=first)
    detector = "ivt" if opts.detector == "auto" else opts.detector
    if detector == "tracker":
        raise GazeprepError("an SMI sample export carries no fixation events; expected "
                            "--detector ivt or idt (or BeGaze's event export)", file=res.path)
    eyes = [e for e in ("L", "R") if f"{e} POR X [px]" in names and f"{e} POR Y [px]" in names]
    if opts.eye == "both":
        raise GazeprepError("--eye both is for SMI event exports; expected --eye auto, L or R "
                            "for a sample export", file=res.path)
    eye = pick_eye(res, eyes, opts)
    if not eye:
        raise GazeprepError(f"sample header lacks 'L POR X [px]' / 'L POR Y [px]' (or R); "
                            f"found {names}", file=res.path, line=first)
    e = eye[0]
    _cut_row(body, first, len(names), sep, res.path)
    df = pl.read_csv(body, separator=sep, infer_schema=False, truncate_ragged_lines=True,
                     quote_char=None)
    lines = _line_numbers(body, first, df.height + 1)[1:]  # the header's line first
    df = df.with_columns(pl.Series("line", lines, pl.Int64))
    kind = df["Type"].str.strip_chars()
    msg = df.filter(kind == "MSG")
    smp = df.filter(kind == "SMP")
    pupil = next((c for c in (f"{e} Pupil Diameter [mm]", f"{e} Dia X [px]", f"{e} Mapped "
                              "Diameter [mm]") if c in names), None)
    cols = {"t": "Time", "x": f"{e} POR X [px]", "y": f"{e} POR Y [px]"}
    cols |= {"pupil": pupil} if pupil else {}
    v = numbers(smp, cols, smp["line"].to_numpy(), res.path, required=("t",))
    check_order(v["t"].to_numpy(), v["line"].to_numpy(), res.path, "Time")
    lost = ((v["x"] == 0) & (v["y"] == 0)).fill_null(False).to_numpy()
    res.notes["lost_samples_(0,0)"] = int(lost.sum())
    msg = msg.rename({c: f"c{i}" for i, c in enumerate(msg.columns[:-1])})
    times, ids = _stimuli(res, msg, {"User Events": ["Start", "Type", "Trial", "Description"]},
                          meta)
    t_us = v["t"].to_numpy()
    seg = np.searchsorted(times, t_us, side="right") - 1
    frame = pl.DataFrame({
        "t": t_us / 1000.0,
        "x": np.where(lost, np.nan, v["x"].fill_null(np.nan).to_numpy()),
        "y": np.where(lost, np.nan, v["y"].fill_null(np.nan).to_numpy()),
        "pupil": (v["pupil"].fill_null(np.nan).to_numpy() if pupil else np.full(v.height,
                                                                               np.nan)),
        "image": pl.Series(ids, dtype=pl.String).gather(seg), "line": v["line"]})
    check_samples(frame, res.path, "Time")
    res.n_samples = frame.height
    res.notes["detector"] = detector
    screen, rect = screen_rect(res, opts, None if opts.screen_px else _screen(meta, res.path),
                               note_whole_screen=True)
    return SampleRecording(res, detector, screen, frame, True, rect, opts, set())
