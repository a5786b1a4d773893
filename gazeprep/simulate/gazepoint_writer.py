"""Write Gazepoint GP3 CSV exports (Gazepoint Analysis layout), one row per sample.

Columns ``MEDIA_ID, MEDIA_NAME, CNT, TIME(<date>), TIMETICK(f=10000000), FPOGX, FPOGY, FPOGS,
FPOGD, FPOGID, FPOGV, BPOGX, BPOGY, BPOGV, LPMM, LPMMV``. Inside a simulated fixation every
row repeats the fixation as Gazepoint writes it while it grows: its id, start (``FPOGS``, s),
its duration so far (``FPOGD``: up to this sample, inclusive) and its point (screen 0-1),
valid; between fixations (saccades, blinks) the rows carry the next fixation's id, ``FPOGD``
0 and ``FPOGV`` 0. ``TIME`` counts seconds from the session's first sample; rows come at the
simulation's rate (1000 Hz; a GP3 records at 60 or 150 Hz), so fixation times are exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.simulate.config import AscTrial, SimConfig

COLUMNS = ("MEDIA_ID", "MEDIA_NAME", "CNT", "TIME(2026/01/01 00:00:00.000)",
           "TIMETICK(f=10000000)", "FPOGX", "FPOGY", "FPOGS", "FPOGD", "FPOGID", "FPOGV",
           "BPOGX", "BPOGY", "BPOGV", "LPMM", "LPMMV")


def _trial_frame(tr: AscTrial, media: int, first_id: int, t_first: int, cfg: SimConfig):
    """The rows of one trial (a polars frame with :data:`COLUMNS`)."""
    import polars as pl

    sw, sh = cfg.screen
    t = np.asarray(tr.t, np.int64)
    fs, fe, fx, fy, _ = (np.asarray(a) for a in tr.fix)
    k = np.searchsorted(fs, t, side="right") - 1
    inside = (k >= 0) & (t <= fe[np.maximum(k, 0)])
    kk = np.maximum(k, 0)
    nxt = np.minimum(k + 1, fs.size - 1)
    lost = ~np.isfinite(tr.x)
    sec = (t - t_first) / 1000.0
    return pl.DataFrame({
        "MEDIA_ID": np.full(t.size, media), "MEDIA_NAME": f"{tr.image_id}.png",
        "CNT": t - t_first, COLUMNS[3]: sec, COLUMNS[4]: (t - t_first) * 10_000,
        "FPOGX": np.where(inside, fx[kk] / sw, np.nan_to_num(tr.x / sw)),
        "FPOGY": np.where(inside, fy[kk] / sh, np.nan_to_num(tr.y / sh)),
        "FPOGS": np.where(inside, (fs[kk] - t_first) / 1000.0, sec),
        "FPOGD": np.where(inside, (t - fs[kk] + 1) / 1000.0, 0.0),
        "FPOGID": first_id + np.where(inside, kk, nxt),
        "FPOGV": inside.astype(np.int64),
        "BPOGX": np.nan_to_num(tr.x / sw), "BPOGY": np.nan_to_num(tr.y / sh),
        "BPOGV": (~lost).astype(np.int64),
        "LPMM": np.where(lost, 0.0, tr.pupil / 250.0), "LPMMV": (~lost).astype(np.int64),
    })


def write_gazepoint(path: str | Path, trials: list[AscTrial], cfg: SimConfig,
                    session: str) -> int:
    """Write one session's trials as a Gazepoint CSV; return the rows written."""
    import polars as pl

    if not trials:
        Path(path).write_text(",".join(COLUMNS) + "\n")
        return 0
    t_first = int(trials[0].t[0])
    frames, next_id = [], 1
    for media, tr in enumerate(trials):
        frames.append(_trial_frame(tr, media, next_id, t_first, cfg))
        next_id += len(tr.fix[0])
    df = pl.concat(frames)
    df.write_csv(path, float_precision=5)
    return df.height
