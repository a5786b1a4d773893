"""Write EyeLink ASC files the way ``edf2asc`` does (monocular, left eye, 1000 Hz).

The syntax follows real recordings line for line: ``**`` header, ``MSG<TAB>t text``,
``START``/``END`` blocks with ``PRESCALER``/``EVENTS``/``SAMPLES`` lines, sample lines
``t<TAB>  x<TAB>  y<TAB>  pupil<TAB>...`` with ``   .`` for missing coordinates and pupil
``0.0`` during blinks, and the tracker's events ``SFIX/EFIX``, ``SSACC/ESACC``,
``SBLINK/EBLINK`` with EyeLink's duration convention (``end - start + 1`` samples).

Each trial is ``MSG t TRIALID n`` ... ``START`` ... ``MSG t !V IMGLOAD CENTER <id>.png cx cy w h``
(the image drawn scaled to ``w x h`` screen pixels, centred on ``(cx, cy)``) ... samples and
events ... ``END`` ... ``MSG t !V TRIAL_VAR image <id>`` and ``MSG t TRIAL_RESULT 0``.

Sample lines (the bulk of the file) are formatted by polars in one vectorised pass, then all
lines are merged by (timestamp, kind) so that start events precede their sample and end events
follow it, as in ``edf2asc`` output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.simulate.config import AscTrial, SimConfig

# Sort keys of lines that share a timestamp.
_PRE = 0  # trial preamble (TRIALID, START, ...), kept in writing order
_START_EVENT = 1  # SFIX / SSACC / SBLINK precede the sample they start on
_SAMPLE = 2
_END_EVENT = 3  # EFIX / ESACC / EBLINK follow the sample they end on
_POST = 4


def _header(session: str) -> list[str]:
    """The ``**`` preamble edf2asc writes (fixed date: output is deterministic)."""
    return [
        f"** CONVERTED FROM {session}.edf using gazeprep simulate (synthetic recording)",
        "** DATE: Thu Jan  1 00:00:00 2026",
        "** TYPE: EDF_FILE BINARY EVENT SAMPLE TAGGED",
        "** VERSION: EYELINK II 1",
        "** SOURCE: EYELINK CL",
        "** EYELINK II CL v6.14 Mar  6 2020 (simulated by gazeprep)",
        "** CAMERA: EyeLink USBCAM Version 1.01",
        "** SERIAL NUMBER: SIM-00000",
        "** CAMERA_CONFIG: SIM00000.SCD",
        "**",
        "",
    ]


def _event_lines(tr: AscTrial) -> list[tuple[int, int, str]]:
    """(timestamp, kind, line) of every event of a trial, in edf2asc's column layout."""
    out: list[tuple[int, int, str]] = []
    fs, fe, fx, fy, fp = tr.fix
    for s, e, x, y, p in zip(fs.tolist(), fe.tolist(), fx.tolist(), fy.tolist(), fp.tolist(),
                             strict=True):
        out.append((s, _START_EVENT, f"SFIX L   {s}"))
        out.append((e, _END_EVENT, f"EFIX L   {s}\t{e}\t{e - s + 1}\t{x:7.1f}\t{y:7.1f}\t"
                                   f"{round(p):7d}"))
    ss, se, x0, y0, x1, y1, amp, pv = (np.asarray(a).tolist() for a in tr.sacc)
    for s, e, a, b, c, d, am, v in zip(ss, se, x0, y0, x1, y1, amp, pv, strict=True):
        out.append((s, _START_EVENT, f"SSACC L  {s}"))
        out.append((e, _END_EVENT, f"ESACC L  {s}\t{e}\t{e - s + 1}\t{a:7.1f}\t{b:7.1f}\t"
                                   f"{c:7.1f}\t{d:7.1f}\t{am:7.2f}\t{round(v):7d}"))
    for s, e in zip(np.asarray(tr.blink[0]).tolist(), np.asarray(tr.blink[1]).tolist(),
                    strict=True):
        # A blink lies inside its saccade: SSACC precedes SBLINK, EBLINK precedes ESACC.
        out.append((s, _START_EVENT, f"SBLINK L {s}"))
        out.append((e, _END_EVENT, f"EBLINK L {s}\t{e}\t{e - s + 1}"))
    return out


def _trial_lines(tr: AscTrial, cfg: SimConfig) -> list[tuple[int, int, str]]:
    """Preamble and closing lines of one trial (messages, START/END blocks)."""
    t0, te = int(tr.t[0]), int(tr.t[-1]) + 1
    sw, sh = cfg.screen
    left, top, w, h = tr.rect
    cx, cy = left + w / 2, top + h / 2
    rate = f"{cfg.rate:.2f}"
    # A plausible drift-check residual that varies by trial (deterministic).
    off = 0.1 + (tr.trial_no * 37 % 40) / 100
    pre = [
        f"MSG\t{t0} TRIALID {tr.trial_no}",
        f"MSG\t{t0} DRIFTCORRECT L LEFT  at {sw // 2},{sh // 2}  OFFSET {off:.2f} deg.  "
        f"{off * cfg.px_per_deg * 0.6:.1f},{-off * cfg.px_per_deg * 0.8:.1f} pix.",
        f"MSG\t{t0} RECCFG CR {cfg.rate:.0f} 2 1 L",
        f"MSG\t{t0} ELCLCFG BTABLER",
        f"MSG\t{t0} GAZE_COORDS 0.00 0.00 {sw - 1:.2f} {sh - 1:.2f}",
        f"MSG\t{t0} THRESHOLDS L 102 242",
        f"START\t{t0} \tLEFT\tSAMPLES\tEVENTS",
        "PRESCALER\t1",
        "VPRESCALER\t1",
        "PUPIL\tAREA",
        f"EVENTS\tGAZE\tLEFT\tRATE\t{rate}\tTRACKING\tCR\tFILTER\t2",
        f"SAMPLES\tGAZE\tLEFT\tRATE\t{rate}\tTRACKING\tCR\tFILTER\t2",
        f"MSG\t{t0} !MODE RECORD CR {cfg.rate:.0f} 2 1 L",
        f"MSG\t{t0} !V IMGLOAD CENTER {tr.image_id}.png {cx:.0f} {cy:.0f} {w:.0f} {h:.0f}",
        f"MSG\t{t0} SYNCTIME",
    ]
    res = f"{cfg.px_per_deg:7.2f}"
    post = [
        f"END\t{te} \tSAMPLES\tEVENTS\tRES\t{res}\t{res}",
        f"MSG\t{te + 1} !V TRIAL_VAR image {tr.image_id}",
        f"MSG\t{te + 2} TRIAL_RESULT 0",
    ]
    return [(t0, _PRE, s) for s in pre] + [(te, _POST, s) for s in post]


def _sample_frame(trials: list[AscTrial]):
    """All sample lines of a file as a polars frame (t, kind, seq, line), formatted in Rust."""
    import polars as pl

    t = np.concatenate([tr.t for tr in trials])
    df = pl.DataFrame({
        "t": t,
        "x": np.concatenate([tr.x for tr in trials]),
        "y": np.concatenate([tr.y for tr in trials]),
        "p": np.concatenate([tr.pupil for tr in trials]),
    })

    def col(name: str, missing: str) -> pl.Expr:
        # One decimal, right-aligned in 7 characters like edf2asc; '.' where the eye was lost.
        text = pl.col(name).round(1).cast(pl.String)
        text = pl.when(text.str.contains(r"\.")).then(text).otherwise(text + ".0")
        return pl.when(pl.col(name).is_nan()).then(pl.lit(missing)).otherwise(
            text.str.pad_start(7)
        )

    line = pl.format("{}\t{}\t{}\t{}\t...", pl.col("t"), col("x", "   ."), col("y", "   ."),
                     col("p", "    0.0"))
    return df.select(
        pl.col("t").cast(pl.Int64),
        pl.lit(_SAMPLE, pl.Int8).alias("kind"),
        pl.lit(0, pl.Int64).alias("seq"),
        line.alias("line"),
    )


def write_asc(path: str | Path, trials: list[AscTrial], cfg: SimConfig, session: str) -> int:
    """Write one session's trials as an EyeLink ASC file.

    Parameters
    ----------
    path : str or Path
        Output file (overwritten).
    trials : list of AscTrial
        Trials in recording order (increasing timestamps).
    cfg : SimConfig
        Screen size, sampling rate and resolution written in the file.
    session : str
        Session name written in the header.

    Returns
    -------
    int
        Number of lines written.
    """
    import polars as pl

    extra: list[tuple[int, int, str]] = []
    t_first = int(trials[0].t[0]) if trials else 0
    sw, sh = cfg.screen
    for s in (
        f"MSG\t{t_first - 200} DISPLAY_COORDS 0 0 {sw - 1} {sh - 1}",
        f"MSG\t{t_first - 200} RETRACE_INTERVAL  16.666666667",
        f"MSG\t{t_first - 200} ENVIRONMENT   gazeprep simulate",
    ):
        extra.append((t_first - 200, _PRE, s))
    for tr in trials:
        extra.extend(_trial_lines(tr, cfg))
        extra.extend(_event_lines(tr))
    ev = pl.DataFrame(
        {
            "t": [e[0] for e in extra],
            "kind": [e[1] for e in extra],
            "seq": list(range(1, len(extra) + 1)),
            "line": [e[2] for e in extra],
        },
        schema={"t": pl.Int64, "kind": pl.Int8, "seq": pl.Int64, "line": pl.String},
    )
    body = pl.concat([_sample_frame(trials), ev]).sort(["t", "kind", "seq"]) if trials else ev
    header = pl.DataFrame({"line": _header(session)})
    lines = pl.concat([header, body.select("line")])
    lines.write_csv(path, include_header=False, quote_style="never")
    return lines.height
