"""One picture of a session's gaze quality: sample loss per trial and eye as bars, the loss
threshold as a line, the validation errors (average and maximum, degrees) as markers.

Drawn with matplotlib when it is installed (``pip install 'gazeprep-gradseg[plot]'``), else with
Pillow (ImageDraw, and Pillow's own TrueType font for the text). Bars of flagged trial x eye
rows are drawn in a strong colour, the others pale; a trial without samples shows no bar.

Example
-------
>>> frame, section = read_quality("data/gaze")                         # doctest: +SKIP
>>> rows = frame.filter(pl.col("session") == "s1")                      # doctest: +SKIP
>>> plot_session(rows, Thresholds(), "qc_s1.png")                       # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from gazeprep.quality import Thresholds

#: Bar colours per eye (flagged, not flagged); "" = a file that names no eye.
EYE_COLOURS = {"L": ("#1f5fbf", "#a9c4ee"), "R": ("#d9661f", "#f3c7a6"), "": ("#444444", "#bbbbbb")}
VALIDATION_COLOUR = "#2a9d3a"
THRESHOLD_COLOUR = "#c0392b"


@dataclass
class SessionBars:
    """What the picture shows, as plain lists (one entry per trial x eye, trials in order)."""

    session: str
    trials: list[str]
    eyes: list[str]
    loss: list[float | None]
    flagged: list[bool]
    val_avg: list[float | None]
    val_max: list[float | None]

    @classmethod
    def of(cls, rows) -> SessionBars:
        """From the ``quality.parquet`` rows of one session (a polars DataFrame)."""
        d = rows.to_dict(as_series=False)
        loss = [a if a is not None else b for a, b in zip(d["loss_pct"], d["missing_pct"],
                                                           strict=True)]
        return cls(session=str(d["session"][0]) if d["session"] else "",
                   trials=["-" if t is None else str(t) for t in d["trial"]],
                   eyes=[e or "" for e in d["eye"]], loss=[_finite(v) for v in loss],
                   flagged=[bool(f) for f in d["flagged"]],
                   val_avg=[_finite(v) for v in d["validation_avg_deg"]],
                   val_max=[_finite(v) for v in d["validation_max_deg"]])


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def plot_session(rows, thresholds: Thresholds, path: str | Path, *,
                 use_matplotlib: bool | None = None) -> Path:
    """Draw one session's quality picture into ``path`` (PNG).

    Parameters
    ----------
    rows : polars.DataFrame
        The session's ``quality.parquet`` rows (one session).
    thresholds : Thresholds
        Where the threshold lines go.
    path : str or Path
        The PNG to write (replaced if present: the caller checks).
    use_matplotlib : bool, optional
        Force (True) or refuse (False) matplotlib; default: when it is installed.
    """
    bars = SessionBars.of(rows)
    path = Path(path)
    if use_matplotlib is None:
        try:
            import matplotlib  # noqa: F401
            use_matplotlib = True
        except ImportError:
            use_matplotlib = False
    if use_matplotlib:
        _draw_matplotlib(bars, thresholds, path)
    else:
        _draw_pillow(bars, thresholds, path)
    return path


def _title(bars: SessionBars) -> str:
    n_trials = len(dict.fromkeys(bars.trials))
    n_flag = len({t for t, f in zip(bars.trials, bars.flagged, strict=True) if f})
    return f"{bars.session}: {n_trials} trials, {n_flag} flagged"


def _draw_matplotlib(bars: SessionBars, thr: Thresholds, path: Path) -> None:
    """The picture with matplotlib (Agg, no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = len(bars.trials)
    fig, ax = plt.subplots(figsize=(min(4.5 + 0.25 * max(n, 6), 15), 3.2), dpi=100,
                           layout="constrained")
    try:
        xs = range(n)
        heights = [v or 0.0 for v in bars.loss]
        colours = [EYE_COLOURS.get(e, EYE_COLOURS[""])[0 if f else 1]
                   for e, f in zip(bars.eyes, bars.flagged, strict=True)]
        ax.bar(xs, heights, color=colours, width=0.8)
        ax.axhline(thr.loss_pct, color=THRESHOLD_COLOUR, ls="--", lw=1)
        ax.set_ylim(0, 100)
        ax.set_ylabel("sample loss (%)")
        labels = [f"{t} {e}".strip() for t, e in zip(bars.trials, bars.eyes, strict=True)]
        upright = n > 12 or max(map(len, labels), default=0) > 6
        ax.set_xticks(list(xs), labels, rotation=90 if upright else 0, fontsize=7)
        ax.set_xlim(-0.6, max(n, 6) - 0.4)  # few trials: bars of the usual width
        ax2 = ax.twinx()
        top = max([thr.validation_max_deg * 1.3, *[v for v in bars.val_max if v is not None]])
        ax2.set_ylim(0, top)
        ax2.set_ylabel("validation error (deg)")
        for vals, marker in ((bars.val_avg, "o"), (bars.val_max, "^")):
            pts = [(i, v) for i, v in enumerate(vals) if v is not None]
            if pts:
                ax2.scatter(*zip(*pts, strict=True), marker=marker, color=VALIDATION_COLOUR,
                            zorder=3, s=18)
        ax2.axhline(thr.validation_avg_deg, color=VALIDATION_COLOUR, ls=":", lw=1)
        ax.set_title(_title(bars), fontsize=10)
        handles = []
        for e in dict.fromkeys(bars.eyes):
            strong, pale = EYE_COLOURS.get(e, EYE_COLOURS[""])
            name = f"loss, eye {e}" if e else "loss"
            handles.append(Patch(color=pale, label=name))
            if any(f for f, ee in zip(bars.flagged, bars.eyes, strict=True) if ee == e):
                handles.append(Patch(color=strong, label=f"{name}, flagged"))
        handles.append(Line2D([], [], color=THRESHOLD_COLOUR, ls="--",
                              label=f"loss threshold {thr.loss_pct:g} %"))
        if any(v is not None for v in bars.val_avg + bars.val_max):
            handles += [Line2D([], [], color=VALIDATION_COLOUR, marker="o", ls="",
                               label="validation avg (deg)"),
                        Line2D([], [], color=VALIDATION_COLOUR, marker="^", ls="",
                               label="validation max (deg)")]
        handles.append(Line2D([], [], color=VALIDATION_COLOUR, ls=":",
                              label=f"avg threshold {thr.validation_avg_deg:g} deg"))
        fig.legend(handles=handles, fontsize=7, loc="outside right upper", frameon=False)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def _draw_pillow(bars: SessionBars, thr: Thresholds, path: Path) -> None:
    """The same picture with Pillow: bars, threshold lines, markers, text in Pillow's font."""
    from PIL import Image, ImageDraw, ImageFont

    n = len(bars.trials)
    step = max(12, min(48, 900 // max(n, 6)))
    left, top, bottom = 60, 36, 70
    plot_w, plot_h = step * max(n, 6), 300 - top - bottom
    font, small = ImageFont.load_default(size=13), ImageFont.load_default(size=10)
    caption = (f"bars: sample loss % (strong = flagged); red line: {thr.loss_pct:g} %; green: "
               "validation avg (o) / max (^), deg")
    width = max(left + plot_w + 60, int(small.getlength(caption)) + left + 10)
    img = Image.new("RGB", (width, 300), "white")
    draw = ImageDraw.Draw(img)
    x_end = left + plot_w
    draw.rectangle([left, top, x_end, top + plot_h], outline="black")
    worst = max([thr.validation_max_deg * 1.3, *[v for v in bars.val_max if v is not None]])
    top_deg = math.ceil(worst * 2) / 2  # a multiple of 0.5 deg

    def y_of(value: float, full: float) -> float:
        return top + plot_h * (1.0 - min(max(value / full, 0.0), 1.0))

    for k in range(0, 101, 20):  # loss axis, left
        draw.text((left - 6, y_of(k, 100)), f"{k}", fill="black", font=small, anchor="rm")
    for k in range(int(top_deg * 2) + 1):  # validation axis, right, every 0.5 deg
        draw.text((x_end + 6, y_of(k / 2, top_deg)), f"{k / 2:g}", fill=VALIDATION_COLOUR,
                  font=small, anchor="lm")
    for i, (loss, eye, flag) in enumerate(zip(bars.loss, bars.eyes, bars.flagged, strict=True)):
        x0 = left + i * step + step * 0.1
        if loss is not None:
            colour = EYE_COLOURS.get(eye, EYE_COLOURS[""])[0 if flag else 1]
            draw.rectangle([x0, y_of(loss, 100), x0 + step * 0.8, top + plot_h], fill=colour)
        label = f"{bars.trials[i]} {eye}".strip()
        while len(label) > 1 and small.getlength(label) > step - 2:
            label = label[:-1]
        draw.text((x0 + step * 0.4, top + plot_h + 4), label, fill="black", font=small,
                  anchor="mt")
    y = y_of(thr.loss_pct, 100)
    draw.line([left, y, x_end, y], fill=THRESHOLD_COLOUR, width=1)
    y = y_of(thr.validation_avg_deg, top_deg)
    for x in range(left, x_end, 6):
        draw.line([x, y, x + 2, y], fill=VALIDATION_COLOUR)
    _pillow_markers(draw, bars, step, left, lambda v: y_of(v, top_deg))
    draw.text((left, 10), _title(bars), fill="black", font=font)
    draw.text((left, 300 - 22), caption, fill="black", font=small)
    img.save(path, format="PNG")


def _pillow_markers(draw, bars: SessionBars, step: int, left: int, y_of) -> None:
    """Validation average (disc) and maximum (triangle) of each bar."""
    for vals, shape in ((bars.val_avg, "o"), (bars.val_max, "^")):
        for i, v in enumerate(vals):
            if v is None:
                continue
            cx, cy = left + (i + 0.5) * step, y_of(v)
            if shape == "o":
                draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=VALIDATION_COLOUR)
            else:
                draw.polygon([(cx, cy - 4), (cx - 4, cy + 3), (cx + 4, cy + 3)],
                             fill=VALIDATION_COLOUR)
