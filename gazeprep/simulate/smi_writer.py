"""Write SMI BeGaze event exports (BeGaze 3.5 layout, as ``data/vendors/emdat/`` holds one).

A ``[BeGaze]`` block of ``Key:<TAB>value`` lines, one ``Table Header for ...:`` line and its
column line per event type, then the rows in time order: ``UserEvent`` ``# Message: <id>.png``
when a trial's image appears, ``Fixation L``, ``Saccade L``, ``Blink L`` with times in
microseconds (``End`` one sample after the last sample, as BeGaze writes it) and locations in
screen pixels (two decimals). The events are the simulated tracker's, those the ASC writer
writes as ``EFIX`` / ``ESACC`` / ``EBLINK``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.simulate.config import AscTrial, SimConfig

FIX_HEADER = ("Event Type,Trial,Number,Start,End,Duration,Location X,Location Y,Dispersion X,"
              "Dispersion Y,AOI hit,Image,Plane,Avg. Pupil Size X,Avg. Pupil Size Y")
SACC_HEADER = ("Event Type,Trial,Number,Start,End,Duration,Start Loc.X,Start Loc.Y,End Loc.X,"
               "End Loc.Y,Amplitude,Peak Speed,Peak Speed At,Average Speed,Peak Accel.,"
               "Peak Decel.,Average Accel.")
BLINK_HEADER = "Event Type,Trial,Number,Start,End,Duration"
USER_HEADER = "Event Type,Trial,Number,Start,Description"


def _header(session: str, cfg: SimConfig) -> list[str]:
    sw, sh = cfg.screen
    return ["[BeGaze]", f"Converted from:\t{session}.idf (simulated by gazeprep)",
            "Date:\t01.01.2026 00:00:00", "Version:\tBeGaze 3.5.90 (gazeprep simulate)",
            f"Sample Rate:\t{cfg.rate:.0f}", f"Subject:\t{session}",
            "Description:\tgazeprep simulate", f"Calibration Area:\t{sw}\t{sh}", "",
            "Table Header for Fixations:", FIX_HEADER, "",
            "Table Header for Saccades:", SACC_HEADER, "",
            "Table Header for Blinks:", BLINK_HEADER, "",
            "Table Header for User Events:", USER_HEADER, ""]


def _trial_rows(tr: AscTrial, n: dict[str, int]) -> list[tuple[int, int, str]]:
    """(start us, order, row) of every event of one trial; ``n`` counts events per type."""
    us = 1000
    rows = []
    n["UserEvent"] += 1
    rows.append((int(tr.t[0]) * us, 0, f"UserEvent,{tr.trial_no},{n['UserEvent']},"
                                       f"{int(tr.t[0]) * us},# Message: {tr.image_id}.png"))
    fs, fe, fx, fy, fp = (np.asarray(a) for a in tr.fix)
    for s, e, x, y, p in zip(fs.tolist(), fe.tolist(), fx.tolist(), fy.tolist(), fp.tolist(),
                             strict=True):
        n["Fixation"] += 1
        rows.append((s * us, 2, f"Fixation L,{tr.trial_no},{n['Fixation']},{s * us},"
                                f"{(e + 1) * us},{(e - s + 1) * us},{x:.2f},{y:.2f},5,5,-,-,-1,"
                                f"{p:.2f},{p:.2f}"))
    ss, se, x0, y0, x1, y1, amp, pv = (np.asarray(a).tolist() for a in tr.sacc)
    for s, e, a, b, c, d, am, v in zip(ss, se, x0, y0, x1, y1, amp, pv, strict=True):
        n["Saccade"] += 1
        d_us = (e - s + 1) * us
        rows.append((s * us, 1, f"Saccade L,{tr.trial_no},{n['Saccade']},{s * us},{(e + 1) * us},"
                                f"{d_us},{a:.2f},{b:.2f},{c:.2f},{d:.2f},{am:.2f},{v:.2f},0.50,"
                                f"{am / max(d_us, 1) * 1e6:.2f},0.00,0.00,0.00"))
    for s, e in zip(np.asarray(tr.blink[0]).tolist(), np.asarray(tr.blink[1]).tolist(),
                    strict=True):
        n["Blink"] += 1
        rows.append((s * us, 3, f"Blink L,{tr.trial_no},{n['Blink']},{s * us},{(e + 1) * us},"
                                f"{(e - s + 1) * us}"))
    return rows


def write_smi(path: str | Path, trials: list[AscTrial], cfg: SimConfig, session: str) -> int:
    """Write one session's trials as an SMI BeGaze event export; return the lines written."""
    n = {"UserEvent": 0, "Fixation": 0, "Saccade": 0, "Blink": 0}
    rows = sorted((r for tr in trials for r in _trial_rows(tr, n)), key=lambda r: r[:2])
    lines = _header(session, cfg) + [r[2] for r in rows]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)
