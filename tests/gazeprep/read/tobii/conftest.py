"""Small Tobii exports written from ``TRACKERS.md``, with known fixations.

Each writer lays out the same plan: per image, fixations at known positions (0-1 of the
image), ``FIX`` samples each at ``RATE`` Hz, joined by ``SACC``-sample saccades; the image is
shown at ``RECT`` (screen px) on a 1920 x 1080 screen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

RATE = 120.0
FIX, SACC = 24, 3
RECT = {"a.png": (160.0, 90.0, 800.0, 600.0), "b.png": (960.0, 240.0, 640.0, 480.0)}
PLAN = {"a.png": [(0.25, 0.25), (0.75, 0.5), (0.5, 0.8)], "b.png": [(0.2, 0.3), (0.6, 0.6)]}


def samples(plan=PLAN, rect=RECT, t0=1000.0, gap_ms=500.0):
    """One dict per sample: t (ms), image, screen x/y, label, index, fixation point, duration.

    Between images, ``gap_ms`` of samples on no image (label ``Saccade``, no fixation)."""
    rows, t, fix_index, sac_index = [], t0, 0, 0
    rng = np.random.default_rng(0)
    dt = 1000.0 / RATE
    for k, (image, fixes) in enumerate(plan.items()):
        if k:
            for _ in range(int(gap_ms / dt)):
                sac_index += 1
                rows.append(dict(t=t, image="", x=1900.0, y=1000.0, kind="Saccade",
                                 index=sac_index, fx=None, fy=None, dur=None))
                t += dt
        mx, my, mw, mh = rect[image]
        prev = None
        for fxn, fyn in fixes:
            sx, sy = mx + fxn * mw, my + fyn * mh
            if prev is not None:
                sac_index += 1
                for j in range(1, SACC + 1):
                    w = j / (SACC + 1)
                    rows.append(dict(t=t, image=image, x=prev[0] + w * (sx - prev[0]),
                                     y=prev[1] + w * (sy - prev[1]), kind="Saccade",
                                     index=sac_index, fx=None, fy=None, dur=SACC * dt))
                    t += dt
            fix_index += 1
            for _ in range(FIX):
                rows.append(dict(t=t, image=image, x=sx + rng.normal(0, 0.3),
                                 y=sy + rng.normal(0, 0.3), kind="Fixation", index=fix_index,
                                 fx=round(sx), fy=round(sy), dur=FIX * dt))
                t += dt
            prev = (sx, sy)
    return rows


def _num(v, decimal: str, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return f"{v:.{digits}f}".replace(".", decimal)


def write_prolab(path: Path, *, decimal: str = ",", us: str = "\u03bcs", rows=None,
                 drop: tuple[str, ...] = ()) -> Path:
    """A Pro Lab data export: event, mouse and sample rows, both eyes, media columns."""
    cols = ["Recording timestamp [ms]", f"Eyetracker timestamp [{us}]", "Sensor",
            "Recording name", "Recording resolution width [px]",
            "Recording resolution height [px]", "Recording Fixation filter name", "Event",
            "Event value", "Gaze point X [DACS px]", "Gaze point Y [DACS px]",
            "Gaze point left X [DACS px]", "Gaze point left Y [DACS px]",
            "Gaze point right X [DACS px]", "Gaze point right Y [DACS px]", "Validity left",
            "Validity right", "Pupil diameter left [mm]", "Pupil diameter right [mm]",
            "Eye movement type", "Gaze event duration [ms]", "Eye movement type index",
            "Fixation point X [DACS px]", "Fixation point Y [DACS px]",
            "Presented Stimulus name", "Presented Media name", "Presented Media width [px]",
            "Presented Media height [px]", "Presented Media position X [DACS px]",
            "Presented Media position Y [DACS px]"]
    head = ["Rec 1", "1920", "1080", "Tobii I-VT (Fixation)"]
    lines = ["\t".join(cols), "\t".join(["0", "", "", *head, "RecordingStart", ""]
                                        + [""] * (len(cols) - 9))]
    shown = None
    for i, r in enumerate(rows or samples()):
        if r["image"] and r["image"] != shown:
            lines.append("\t".join([_num(r["t"] - 1000, decimal, 0), "", "", *head,
                                    "ImageStimulusStart", r["image"]] + [""] * (len(cols) - 9)))
        shown = r["image"] or None
        if i % 50 == 7:
            lines.append("\t".join([_num(r["t"] - 1000, decimal, 0), "", "Mouse", *head, "", ""]
                                   + [""] * (len(cols) - 9)))
        m = RECT.get(r["image"], (None,) * 4)
        x, y = _num(r["x"], decimal, 1), _num(r["y"], decimal, 1)
        lines.append("\t".join([
            _num(r["t"] - 1000, decimal, 0), str(int(round(r["t"] * 1000))), "Eye Tracker",
            *head, "", "", x, y, x, y, x, y, "Valid", "Valid", _num(3.1, decimal),
            _num(3.2, decimal), r["kind"], _num(r["dur"], decimal, 0),
            str(r["index"]), _num(r["fx"], decimal, 0), _num(r["fy"], decimal, 0),
            r["image"].removesuffix(".png"), r["image"],
            *(_num(v, decimal, 0) for v in (m[2], m[3], m[0], m[1]))]))
    if drop:
        keep = [i for i, c in enumerate(cols) if c not in drop]
        lines = ["\t".join(ln.split("\t")[i] for i in keep) for ln in lines]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def prolab(tmp_path):
    """``prolab(**kw)``: a Pro Lab export in ``tmp_path`` (see :func:`write_prolab`)."""
    return lambda name="rec.tsv", **kw: write_prolab(tmp_path / name, **kw)


def write_studio(path: Path, rows=None) -> Path:
    """A Tobii Studio 3.x export: BOM, old headers, RecordingResolution, MCS fixation points."""
    cols = ["ParticipantName", "RecordingName", "RecordingResolution", "FixationFilter",
            "MediaName", "MediaPosX (ADCSpx)", "MediaPosY (ADCSpx)", "MediaWidth",
            "MediaHeight", "RecordingTimestamp", "StudioEvent", "StudioEventData",
            "FixationIndex", "SaccadeIndex", "GazeEventType", "GazeEventDuration",
            "FixationPointX (MCSpx)", "FixationPointY (MCSpx)", "GazePointLeftX (ADCSpx)",
            "GazePointLeftY (ADCSpx)", "GazePointRightX (ADCSpx)", "GazePointRightY (ADCSpx)",
            "GazePointX (ADCSpx)", "GazePointY (ADCSpx)", "ValidityLeft", "ValidityRight",
            "PupilLeft", "PupilRight"]
    head = ["P01", "Rec 01", "1920 x 1080", "I-VT filter"]
    lines = ["\t".join(cols)]
    shown = None
    for r in rows or samples():
        m = RECT.get(r["image"], (None,) * 4)
        if r["image"] and r["image"] != shown:
            lines.append("\t".join([*head, r["image"], *(_num(v, ",", 0) for v in m),
                                    str(int(r["t"] - 1000)), "MovieStart", r["image"]]
                                   + [""] * (len(cols) - 12)))
        shown = r["image"] or None
        fix = r["kind"] == "Fixation"
        mcs = [_num(r["fx"] - m[0], ",", 0), _num(r["fy"] - m[1], ",", 0)] if fix else ["", ""]
        x, y = _num(r["x"], ",", 0), _num(r["y"], ",", 0)
        lines.append("\t".join([
            *head, r["image"], *(_num(v, ",", 0) for v in m), str(int(r["t"] - 1000)), "", "",
            str(r["index"]) if fix else "", "" if fix else str(r["index"]), r["kind"],
            _num(r["dur"], ",", 0), *mcs, x, y, x, y, x, y, "0", "0", "3,10", "3,20"]))
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode())
    return path


def write_sdk(path: Path, sep: str = ";", index_col: bool = False, rows=None,
              screen=(1920, 1080)) -> Path:
    """A Tobii Pro SDK dump: tuple cells, ``(nan, nan)`` for a lost eye, 0-1 of the screen."""
    cols = ["device_time_stamp", "system_time_stamp", "left_gaze_point_on_display_area",
            "left_gaze_point_validity", "right_gaze_point_on_display_area",
            "right_gaze_point_validity", "left_pupil_diameter", "right_pupil_diameter",
            "left_gaze_point_in_user_coordinate_system",
            "right_gaze_point_in_user_coordinate_system",
            "left_gaze_origin_in_user_coordinate_system",
            "right_gaze_origin_in_user_coordinate_system"]
    lines = [sep.join(([""] if index_col else []) + cols)]
    for i, r in enumerate(rows or samples(plan={"a.png": PLAN["a.png"]},
                                          rect={"a.png": (0, 0, 1920, 1080)})):
        dx, dy = r["x"] / screen[0], r["y"] / screen[1]
        lost = i % 40 == 39
        disp = "(nan, nan)" if lost else f"({dx!r}, {dy!r})"
        # 530 x 300 mm screen, eye 600 mm in front of its centre (UCS: origin at the centre).
        g = f"({(dx - 0.5) * 530!r}, {(0.5 - dy) * 300!r}, 0.0)"
        e = "(0.0, 0.0, 600.0)"
        cells = [str(int(round(r["t"] * 1000))), str(int(round(r["t"] * 1000)) + 5),
                 disp, "0" if lost else "1", f"({dx!r}, {dy!r})", "1", "nan" if lost else "3.1",
                 "3.2", "(nan, nan, nan)" if lost else g, g, "(nan, nan, nan)" if lost else e, e]
        if sep == ",":  # as pandas writes a CSV: cells holding the separator quoted
            cells = [f'"{c}"' if "," in c else c for c in cells]
        lines.append(sep.join(([str(i)] if index_col else []) + cells))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def studio(tmp_path):
    """``studio(**kw)``: a Studio 3.x export in ``tmp_path`` (see :func:`write_studio`)."""
    return lambda name="rec.tsv", **kw: write_studio(tmp_path / name, **kw)


@pytest.fixture()
def sdk(tmp_path):
    """``sdk(**kw)``: a Pro SDK dump in ``tmp_path`` (see :func:`write_sdk`)."""
    return lambda name="dump.csv", **kw: write_sdk(tmp_path / name, **kw)


@pytest.fixture()
def plan():
    """The fixtures' plan: ``(PLAN, RECT, samples)``."""
    return PLAN, RECT, samples
