"""Where an ASC file's fixations go: candidates -> image coordinates, trials and image sizes.

Candidates are the tracker's EFIX events (:func:`place_events`) or the fixations a detector
found in the samples (:class:`AscRecording`, whose series ingest hands to the detector). Each
candidate belongs to the parser state at its line (file order): a fixation inside a recording
block before the block's first ``TRIALID`` belongs to that trial; one in a trial before its
first ``IMGLOAD`` to that first image. Screen coordinates become image coordinates through the
image's on-screen rectangle (``!V IMGLOAD``, else ``--image-rect``, else the screen); those
outside the image, shorter than ``--min-duration``, without a position or on an image that
cannot be placed are dropped and counted.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.limits import rect_problem
from gazeprep.read.asc.state import EYES
from gazeprep.read.result import (
    LATIN1_NAME,
    FileResult,
    Recording,
    Series,
    conform,
    image_id,
    images_lookup,
    sample_interval,
)

if TYPE_CHECKING:
    from gazeprep.read.asc.parse import AscLog
    from gazeprep.read.options import IngestOptions

#: ``!V TRIAL_VAR`` names whose value names the image on screen (case-insensitive).
IMAGE_VARS = ("image", "image_id", "imagefile", "image_file", "stimulus", "img")
#: The screen assumed when the file has no ``GAZE_COORDS`` (for degree thresholds).
DEFAULT_SCREEN = (1920.0, 1080.0)


class AscRecording(Recording):
    """The samples of a parsed ASC file, one :class:`Series` per recorded eye, for I-VT/I-DT.

    All blocks go to the detector in one series per eye: the time between recording blocks is
    widened beyond ``max_gap`` so that no fixation spans two blocks (differences inside a block
    are unchanged). A fixation's duration is ``t[last] - t[first]`` plus its block's sample
    interval (``1000 / RATE``, else the file's median step).
    """

    def __init__(self, log: AscLog, opts: IngestOptions, res: FileResult, detector: str):
        self.log, self.opts, self.result, self.detector = log, opts, res, detector
        self.screen_px = tuple(log.screens[0][2:]) if log.screens else DEFAULT_SCREEN
        rate_dt = np.array([1000.0 / b.rate if b.rate else np.nan for b in log.blocks])
        self.block_dt = np.where(np.isfinite(rate_dt), rate_dt, sample_interval(log.t))
        tk = log.t + log.block * (opts.max_gap + 1.0)
        self.eyes = [eye for e, eye in enumerate(EYES) if np.isfinite(log.x[e]).any()]
        self.series = [Series(tk, log.x[e], log.y[e], log.pupil[e], float(np.median(self.block_dt)))
                       for e, eye in enumerate(EYES) if eye in self.eyes]

    def place(self, found: list[dict[str, np.ndarray]]) -> FileResult:
        """The file's fixations from the detections of each eye's series."""
        log = self.log
        out: dict[str, list] = {k: [] for k in ("eye", "start", "end", "duration", "x", "y",
                                                "pupil", "line")}
        for eye, s in zip(self.eyes, found, strict=True):
            first, last = s["first"], s["last"]
            out["eye"].append(np.full(first.size, eye))
            out["line"].append(log.line[first])
            out["start"].append(log.t[first])
            out["end"].append(log.t[last])
            out["duration"].append(log.t[last] - log.t[first] + self.block_dt[log.block[first]])
            for k in ("x", "y", "pupil"):
                out[k].append(s[k])
        cand = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in out.items()}
        cand["eye"] = cand["eye"].astype(str)
        cand["line"] = cand["line"].astype(np.int64)
        order = np.lexsort((cand["eye"], cand["start"]))
        cand = {k: v[order] for k, v in cand.items()}
        cand["state"] = log.state_at(cand["line"])
        return finish(log, self.opts, self.result, cand)


def place_events(log: AscLog, opts: IngestOptions, res: FileResult) -> FileResult:
    """The file's fixations from the tracker's EFIX events."""
    cand = dict(log.efix)
    cand["state"] = log.state_at(cand["line"])
    return finish(log, opts, res, cand)


def finish(log: AscLog, opts: IngestOptions, res: FileResult,
           cand: dict[str, np.ndarray]) -> FileResult:
    """Place the candidates (arrays ``eye, start, duration, x, y, pupil, line, state``) and
    fill ``res``: its fixations (:data:`~gazeprep.read.result.READER_SCHEMA`), drops, notes."""
    import polars as pl

    res.rows_read = len(cand["eye"])
    eyes = _chosen_eyes(log, opts, cand["eye"], res)
    rows = _place(log, cand, eyes, opts, res)
    stem = Path(log.path).stem
    df = pl.DataFrame(rows, schema={
        "image": pl.String, "trial": pl.String, "eye": pl.String, "x": pl.Float64,
        "y": pl.Float64, "onset_ms": pl.Float64, "duration_ms": pl.Float64,
        "pupil": pl.Float64, "width": pl.Int32, "height": pl.Int32, "order": pl.Float64,
        "line": pl.Int64,
    }, orient="row")
    session = (pl.lit(stem) + ":" + pl.col("eye")) if opts.eye == "both" else pl.lit(stem)
    df = df.with_columns(session.alias("session"), pl.lit(Path(log.path).name).alias("source"))
    res.fixations = conform(df)
    res.notes["events"] = log.events
    res.notes["blocks"] = len(log.blocks)
    res.notes["trials"] = len(log.trials)
    res.check_balance()
    return res


def _chosen_eyes(log: AscLog, opts: IngestOptions, cand_eyes: np.ndarray,
                 res: FileResult) -> set[str]:
    """Which eye(s) make the tracks (see ``--eye``)."""
    present = sorted(set(cand_eyes.tolist()))
    if opts.eye == "both":
        return set(EYES)
    if opts.eye in EYES:
        return {opts.eye}
    if len(present) <= 1:
        return set(present) or {"L"}
    eye = log.eye_used if log.eye_used in EYES else "L"
    why = "eye_used message" if log.eye_used else "default"
    res.notes["eye"] = f"binocular: kept {eye} ({why})"
    return {eye}


def _resolve(log: AscLog, state: int) -> tuple[int, int, int]:
    """(trial, imgload, screen) for a state, applying the 'before first TRIALID/IMGLOAD' rules."""
    block, trial, img, screen = log.states[state]
    if trial < 0 and block >= 0 and log.trials:
        # the next TRIALID, if it lies in the same recording block
        nxt = bisect.bisect_right(log.trial_lines, log.state_lines[state])
        if nxt < len(log.trials) and log.trials[nxt].block == block:
            trial = nxt
    if img < 0 and trial >= 0:
        img = log.trials[trial].first_img
    if screen < 0 and log.screens:
        screen = 0
    return trial, img, screen


def _place(log: AscLog, cand, eyes: set[str], opts: IngestOptions, res: FileResult) -> list:
    """Map candidates to image coordinates, dropping (and counting) the unusable ones; every
    candidate is also counted per (trial, eye) for gaze quality."""
    rows = []
    cache: dict[int, Placement] = {}
    labels: dict[int, str | None] = {}  # the trial label of each parser state
    stem = Path(log.path).stem
    counts = res.quality_input.fixations if res.quality_input is not None else Counter()
    cand = {k: v.tolist() for k, v in cand.items()}  # Python scalars: fast per-item access
    for i in range(len(cand["eye"])):
        ln = int(cand["line"][i])
        eye = str(cand["eye"][i])
        st = int(cand["state"][i])
        if eye not in eyes:
            res.drop("other_eye", ln, f"eye {eye}")
            if st not in labels:
                labels[st] = _label(log, st)
            counts[(labels[st], eye, "other_eye")] += 1
            continue
        if st not in cache:
            cache[st] = where = _image_for(log, st, opts, stem)
            if not where.problem:
                res.image(where.image, where.size, where.size_from, where.name_problems)
        image, trial_id, t0, rect, size, _, problem, _, from_trial = cache[st]
        if from_trial:
            res.trial_image_ids.add(image)
        why, detail = _unusable(cand, i, rect, problem, opts)
        if why is not None:
            if problem and not opts.lenient:
                raise GazeprepError(problem, file=log.path, line=ln)
            res.drop(why, ln, detail)
            counts[(trial_id, eye, why)] += 1
            continue
        sx, sy = cand["x"][i], cand["y"][i]
        nx, ny = (sx - rect[0]) / rect[2], (sy - rect[1]) / rect[3]
        pupil = cand["pupil"][i]
        rows.append((image, trial_id, eye, nx, ny, cand["start"][i] - t0, cand["duration"][i],
                     None if not math.isfinite(pupil) else pupil,
                     size[0] if size else None, size[1] if size else None,
                     cand["start"][i], ln))
        counts[(trial_id, eye, "kept")] += 1
    return rows


def _unusable(cand, i: int, rect, problem: str | None,
              opts: IngestOptions) -> tuple[str | None, str | None]:
    """Why candidate ``i`` is dropped (reason, detail), or ``(None, None)`` to keep it."""
    if problem:
        return "unknown_image_rect", problem
    sx, sy = cand["x"][i], cand["y"][i]
    if not (math.isfinite(sx) and math.isfinite(sy)):
        return "no_position", None
    nx, ny = (sx - rect[0]) / rect[2], (sy - rect[1]) / rect[3]
    if not (0.0 <= nx <= 1.0 and 0.0 <= ny <= 1.0):
        return "outside_image", f"screen ({sx:g}, {sy:g})"
    if cand["duration"][i] < opts.min_duration:
        return "short", f"{cand['duration'][i]:g} ms"
    return None, None


def _label(log: AscLog, state: int) -> str | None:
    """The trial label of fixations in parser state ``state`` (as :func:`_image_for` gives)."""
    trial, _, _ = _resolve(log, state)
    return log.trial_label(trial, log.states[state][0])


class Placement(NamedTuple):
    """Where fixations in one parser state go: image id, trial, time origin (ms), on-screen
    rectangle (x, y, w, h screen px), pixel size and its source, or why they cannot be placed."""

    image: str
    trial: str | None
    t0: float
    rect: tuple[float, float, float, float] | None
    size: tuple[int, int] | None
    size_from: str
    problem: str | None
    name_problems: list[str]
    #: The id is the trial's TRIALID text (no IMGLOAD, no image TRIAL_VAR): see ingest.
    from_trial: bool = False


def _pixel_size(log: AscLog, image: str, opts: IngestOptions,
                shown: tuple[float, float] | None, shown_from: str):
    """``(size, size_from, problems)`` of ``image``: its ``--images`` file; with ``--images``
    lacking it, unknown (and a problem); without ``--images``, the size it was ``shown`` at."""
    size, problems = images_lookup(opts, image)
    if image in log.latin1_names:
        problems.append(LATIN1_NAME)
    if size is not None:
        return size, "--images file", problems
    if opts.images is not None or shown is None:
        return None, "unknown", problems
    return (max(1, round(shown[0])), max(1, round(shown[1]))), shown_from, problems


def _image_for(log: AscLog, state: int, opts: IngestOptions, stem: str) -> Placement:
    """The :class:`Placement` of the fixations in parser state ``state``."""
    trial, img, screen = _resolve(log, state)
    block = log.states[state][0]
    tr = log.trials[trial] if trial >= 0 else None
    label = log.trial_label(trial, block)
    t0 = tr.time if tr else (log.blocks[block].time if block >= 0 else 0.0)
    scr = log.screens[screen] if screen >= 0 else None
    if img >= 0:
        il = log.imgloads[img]
        if il.problem:
            return Placement(il.image, label, t0, None, None, "unknown", il.problem, [])
        found = opts.image_size(il.image)
        if il.mode == "FILL":
            size, src, probs = _pixel_size(log, il.image, opts, scr and scr[2:], "screen")
            if scr is None:
                return Placement(il.image, label, t0, None, size, src, "IMGLOAD FILL but no "
                                 "GAZE_COORDS line; expected GAZE_COORDS before the image (or "
                                 "--image-rect)", probs)
            return Placement(il.image, label, t0, scr, size, src, None, probs)
        w = il.w if il.w is not None else (found[0] if found else None)
        h = il.h if il.h is not None else (found[1] if found else None)
        shown = (il.w, il.h) if il.w is not None and il.h is not None else None
        size, src, probs = _pixel_size(log, il.image, opts, shown, "IMGLOAD w h")
        if w is None or h is None:
            return Placement(il.image, label, t0, None, size, src,
                             f"IMGLOAD {il.mode} {il.image} (line {il.line}) has no width/height; "
                             "expected them in the message or the image in --images", probs)
        x0, y0 = (il.x - w / 2.0, il.y - h / 2.0) if il.mode == "CENTER" else (il.x, il.y)
        return Placement(il.image, label, t0, (x0, y0, w, h), size, src, None, probs)
    name = ""
    if tr:
        for k, v in tr.vars.items():
            if k.lower() in IMAGE_VARS and image_id(v):
                name = image_id(v)
                break
    from_trial = bool(tr) and not name and bool(image_id(tr.id))
    name = name or (image_id(tr.id) if tr else "") or stem
    if opts.image_rect is not None:
        rect, src = tuple(float(v) for v in opts.image_rect), "--image-rect"
        problem = rect_problem(rect)
        if problem:
            return Placement(name, label, t0, None, None, "unknown",
                             f"--image-rect X Y W H: {problem}", [], from_trial)
    else:
        rect, src = scr, "screen"
    size, src, probs = _pixel_size(log, name, opts, rect and rect[2:], src)
    if rect is None:
        return Placement(name, label, t0, None, size, src, "no IMGLOAD and no GAZE_COORDS to "
                         "place the image; expected --image-rect X Y W H", probs, from_trial)
    return Placement(name, label, t0, rect, size, src, None, probs, from_trial)
