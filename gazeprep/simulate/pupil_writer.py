"""Write Pupil Player surface exports (Pupil Core), one surface per image.

A session becomes ``<session>/exports/000/`` with, per trial, ``surfaces/
fixations_on_surface_<id>.csv`` (each fixation on two rows, as Player lists a fixation once per
world frame it spans) and ``surfaces/gaze_positions_on_surface_<id>.csv`` (every sample;
samples lost in a blink at confidence 0), and ``blinks.csv``: the layout a folder walk must
sort out (fixations read, gaze and blinks skipped with their reason). Positions are ``x_norm,
y_norm`` on the image with Pupil's origin bottom-left; times are Pupil seconds (the session's
first sample at 100 s), durations ms; ``on_surf`` False where the gaze leaves the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.simulate.config import AscTrial, SimConfig

#: Pupil clock (s) at the session's first sample.
PUPIL_T0 = 100.0


def export_dir(session: str) -> str:
    """The export folder of a session, relative to ``raw/``."""
    return f"{session}/exports/000"


def names(session: str, image_ids: list[str]) -> list[str]:
    """The files one session's export holds, relative to ``raw/``."""
    out = [f"{export_dir(session)}/blinks.csv"]
    for i in image_ids:
        out += [f"{export_dir(session)}/surfaces/fixations_on_surface_{i}.csv",
                f"{export_dir(session)}/surfaces/gaze_positions_on_surface_{i}.csv"]
    return out


def _norm(tr: AscTrial, x, y):
    left, top, w, h = tr.rect
    return (np.asarray(x) - left) / w, 1.0 - (np.asarray(y) - top) / h


def _fixations(tr: AscTrial, first_id: int, t_first: int):
    import polars as pl

    fs, fe, fx, fy, _ = (np.asarray(a) for a in tr.fix)
    xn, yn = _norm(tr, fx, fy)
    rep = np.repeat(np.arange(fs.size), 2)
    start = PUPIL_T0 + (fs - t_first) / 1000.0
    world = start[rep] + np.tile([0.0, 0.033], fs.size)
    on = (xn >= 0) & (xn <= 1) & (yn >= 0) & (yn <= 1)
    return pl.DataFrame({
        "world_timestamp": world, "world_index": np.round(world * 30).astype(np.int64),
        "fixation_id": first_id + rep, "start_timestamp": start[rep],
        "duration": (fe - fs + 1).astype(np.float64)[rep], "dispersion": np.full(rep.size, 0.3),
        "norm_pos_x": xn[rep], "norm_pos_y": yn[rep], "x_norm": xn[rep], "y_norm": yn[rep],
        "x_scaled": xn[rep], "y_scaled": yn[rep],
        "on_surf": np.where(on[rep], "True", "False")})


def _gaze(tr: AscTrial, t_first: int):
    import polars as pl

    t = PUPIL_T0 + (np.asarray(tr.t) - t_first) / 1000.0
    xn, yn = _norm(tr, tr.x, tr.y)
    ok = np.isfinite(xn) & np.isfinite(yn)
    xn, yn = np.where(ok, xn, 0.0), np.where(ok, yn, 0.0)
    on = ok & (xn >= 0) & (xn <= 1) & (yn >= 0) & (yn <= 1)
    return pl.DataFrame({
        "world_timestamp": t, "world_index": np.round(t * 30).astype(np.int64),
        "gaze_timestamp": t, "x_norm": xn, "y_norm": yn, "x_scaled": xn, "y_scaled": yn,
        "on_surf": np.where(on, "True", "False"), "confidence": np.where(ok, 0.95, 0.0)})


def _blinks(trials: list[AscTrial], t_first: int):
    import polars as pl

    s = np.concatenate([np.asarray(tr.blink[0]) for tr in trials]) if trials else np.zeros(0)
    e = np.concatenate([np.asarray(tr.blink[1]) for tr in trials]) if trials else np.zeros(0)
    start = PUPIL_T0 + (s - t_first) / 1000.0
    return pl.DataFrame({
        "id": np.arange(s.size), "start_timestamp": start, "duration": (e - s + 1) / 1000.0,
        "end_timestamp": PUPIL_T0 + (e + 1 - t_first) / 1000.0, "confidence": 0.9})


def write_pupil(raw: str | Path, trials: list[AscTrial], cfg: SimConfig, session: str) -> int:
    """Write one session's export under ``raw/<session>/exports/000``; return files written."""
    base = Path(raw) / export_dir(session)
    (base / "surfaces").mkdir(parents=True, exist_ok=True)
    t_first = int(trials[0].t[0]) if trials else 0
    _blinks(trials, t_first).write_csv(base / "blinks.csv", float_precision=6)
    next_id = 1
    for tr in trials:
        _fixations(tr, next_id, t_first).write_csv(
            base / "surfaces" / f"fixations_on_surface_{tr.image_id}.csv", float_precision=6)
        _gaze(tr, t_first).write_csv(
            base / "surfaces" / f"gaze_positions_on_surface_{tr.image_id}.csv",
            float_precision=6)
        next_id += len(tr.fix[0])
    return 1 + 2 * len(trials)
