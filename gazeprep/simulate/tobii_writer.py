"""Write the simulator's recording as a Tobii Pro Lab "Data export" TSV.

The same trials :func:`gazeprep.simulate.asc_writer.write_asc` writes as EyeLink ASC, in Pro
Lab's layout (see ``TRACKERS.md``): bracketed units, a decimal comma (a European locale, as
Pro Lab writes there) or point, ``Eyetracker timestamp [μs]``, both eyes (the simulated eye's
gaze for each) and their average, ``Validity left/right``, the media shown
(``Presented Media name``, its position and size on screen, the original image size) and
Tobii-style labels: ``Eye movement type`` (``Fixation``, ``Saccade``, ``EyesNotFound``,
``Unclassified``) with its per-type ``Eye movement type index``, ``Eye movement event duration
[ms]`` and ``Fixation point X/Y [DACS px]`` (whole pixels, as Pro Lab writes them) from the
simulator's fixation events. A ``RecordingStart`` row opens the file; ``ImageStimulusStart`` /
``ImageStimulusEnd`` event rows and one mouse row per trial (``Sensor`` ``Mouse``) are
interleaved with the samples, as in real exports.

Read back with ``gazeprep ingest`` (``--format auto`` finds ``tobii-prolab``), Tobii's
fixations give the table the ASC's EFIX events give, within a pixel of position.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.simulate.config import AscTrial, SimConfig

#: The columns written, in order.
COLUMNS = (
    "Recording timestamp [ms]", "Sensor", "Participant name", "Recording name",
    "Recording resolution height [px]", "Recording resolution width [px]",
    "Recording Fixation filter name", "Eyetracker timestamp [\u03bcs]", "Event", "Event value",
    "Gaze point X [DACS px]", "Gaze point Y [DACS px]", "Gaze point left X [DACS px]",
    "Gaze point left Y [DACS px]", "Gaze point right X [DACS px]",
    "Gaze point right Y [DACS px]", "Pupil diameter left [mm]", "Pupil diameter right [mm]",
    "Validity left", "Validity right", "Presented Stimulus name", "Presented Media name",
    "Presented Media width [px]", "Presented Media height [px]",
    "Presented Media position X [DACS px]", "Presented Media position Y [DACS px]",
    "Original Media width [px]", "Original Media height [px]", "Eye movement type",
    "Eye movement event duration [ms]", "Eye movement type index", "Fixation point X [DACS px]",
    "Fixation point Y [DACS px]",
)


def _labels(tr: AscTrial, counters: dict[str, int]) -> dict[str, np.ndarray]:
    """Per sample: Tobii's label, its index (per type, counted over the session), the event
    duration (ms) and, for fixations, the fixation point (whole pixels)."""
    n = tr.t.size
    kind = np.where(np.isnan(tr.x), "EyesNotFound", "Unclassified").astype(object)
    index, dur = np.full(n, np.nan), np.full(n, np.nan)
    fx, fy = np.full(n, np.nan), np.full(n, np.nan)
    t0 = int(tr.t[0])
    fs, fe, px, py, _ = tr.fix
    ss, se = np.asarray(tr.sacc[0]), np.asarray(tr.sacc[1])
    events = sorted([(int(s), int(e), "Saccade", np.nan, np.nan) for s, e in zip(ss, se,
                                                                            strict=True)]
                    + [(int(s), int(e), "Fixation", float(x), float(y)) for s, e, x, y in zip(
                        fs, fe, px, py, strict=True)])
    for s, e, what, x, y in events:
        a, b = s - t0, e - t0 + 1
        counters[what] += 1
        kind[a:b], index[a:b], dur[a:b] = what, counters[what], e - s + 1
        if what == "Fixation":
            fx[a:b], fy[a:b] = round(x), round(y)
    lost = np.isnan(tr.x)
    kind[lost & (kind == "Saccade")] = "EyesNotFound"
    return {"kind": kind, "index": index, "dur": dur, "fx": fx, "fy": fy}


def _trial_frame(tr: AscTrial, cfg: SimConfig, session: str, counters: dict[str, int]):
    """The sample rows of one trial, plus its event and mouse rows (all text, unformatted
    numbers as floats), with a sort key."""
    import polars as pl

    lab = _labels(tr, counters)
    left, top, w, h = tr.rect
    name = f"{tr.image_id}.png"
    n = tr.t.size
    lost = np.isnan(tr.x)
    pupil = np.where(lost, np.nan, np.sqrt(np.maximum(tr.pupil, 0.0)) / 10.0)
    samples = pl.DataFrame({
        "t": tr.t.astype(np.int64), "order": np.ones(n, np.int8), "sensor": "Eye Tracker",
        "event": "", "event_value": "", "x": tr.x, "y": tr.y, "pupil": pupil,
        "valid": np.where(lost, "Invalid", "Valid"), "stimulus": tr.image_id, "media": name,
        "mw": float(w), "mh": float(h), "mx": float(left), "my": float(top),
        "iw": float(cfg.size), "ih": float(cfg.size), "kind": lab["kind"].astype(str),
        "dur": lab["dur"], "index": lab["index"], "fx": lab["fx"], "fy": lab["fy"]})
    t0, t1 = int(tr.t[0]), int(tr.t[-1])
    extra = pl.DataFrame({
        "t": [t0, t1, (t0 + t1) // 2], "order": np.array([0, 2, 1], np.int8),
        "sensor": ["", "", "Mouse"], "event": ["ImageStimulusStart", "ImageStimulusEnd",
                                               "MouseEvent"],
        "event_value": [name, name, "Left; Down"]})
    return pl.concat([samples, extra], how="diagonal_relaxed")


def write_tobii(path: str | Path, trials: list[AscTrial], cfg: SimConfig, session: str,
                 decimal: str = ",") -> int:
    """Write one session's trials as a Tobii Pro Lab data export (TSV).

    Parameters
    ----------
    path : str or Path
        Output file (overwritten).
    trials : list of AscTrial
        Trials in recording order (increasing timestamps).
    cfg : SimConfig
        Screen size and image size written in the file.
    session : str
        Participant and recording name written on every row.
    decimal : str
        Decimal separator of the numbers: ``","`` (default) or ``"."``.

    Returns
    -------
    int
        Number of lines written (header included).
    """
    import polars as pl

    counters = {"Fixation": 0, "Saccade": 0}
    frames = [_trial_frame(tr, cfg, session, counters) for tr in trials]
    t_first = int(trials[0].t[0]) if trials else 0
    start = pl.DataFrame({"t": [t_first], "order": np.array([0], np.int8), "sensor": [""],
                          "event": ["RecordingStart"], "event_value": [""]})
    df = pl.concat([start, *frames], how="diagonal_relaxed").with_row_index("seq")
    df = df.sort("t", "order", "seq")

    def num(col: str, digits: int) -> pl.Expr:
        text = pl.col(col).round(digits).cast(pl.String)
        if decimal != ".":
            text = text.str.replace(".", decimal, literal=True)
        return pl.when(pl.col(col).is_nan() | pl.col(col).is_null()).then(pl.lit("")) \
            .otherwise(text)

    def whole(col: str) -> pl.Expr:
        return pl.when(pl.col(col).is_nan() | pl.col(col).is_null()).then(pl.lit("")) \
            .otherwise(pl.col(col).round(0).cast(pl.Int64).cast(pl.String))

    sw, sh = cfg.screen
    gaze = pl.col("sensor") == "Eye Tracker"
    exprs = (
        (pl.col("t") - t_first).cast(pl.String), "sensor", pl.lit(session), pl.lit(session),
        pl.lit(str(sh)), pl.lit(str(sw)), pl.lit("Tobii I-VT (Fixation)"),
        pl.when(gaze).then((pl.col("t") * 1000).cast(pl.String)).otherwise(pl.lit("")),
        "event", "event_value", *(whole(c) for c in ("x", "y", "x", "y", "x", "y")),
        num("pupil", 2), num("pupil", 2), pl.col("valid").fill_null(""),
        pl.col("valid").fill_null(""), pl.col("stimulus").fill_null(""),
        pl.col("media").fill_null(""), *(whole(c) for c in ("mw", "mh", "mx", "my", "iw",
                                                            "ih")),
        pl.col("kind").fill_null(""), whole("dur"), whole("index"), whole("fx"), whole("fy"))
    out = df.select((pl.col(e) if isinstance(e, str) else e).alias(c)
                    for e, c in zip(exprs, COLUMNS, strict=True))
    out.write_csv(path, separator="\t", quote_style="never")
    return out.height + 1
