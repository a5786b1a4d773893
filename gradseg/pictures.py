"""Pictures for people: validation panels, training curves and prediction overlays.

Drawn with Pillow (its scalable font for every label) and numpy; no plotting library is
needed: a run's two curves (loss, validation Dice) are simple line charts, and Pillow is
already a dependency. TensorBoard (:mod:`gradseg.runlog`) gives interactive curves when it
is installed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gazeprep.contract.colours import heat_colours

#: Smallest side a validation cell is shown at (small models are enlarged, nearest).
MIN_CELL = 128
INK, GRID, LIGHT = (30, 30, 30), (225, 225, 225), (170, 190, 215)
BLUE, ORANGE, GREEN = (31, 119, 180), (255, 127, 14), (44, 160, 44)


def font(size: int):
    """Pillow's scalable default font at ``size`` pixels (its bitmap font without FreeType)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def to_uint8_rgb(a: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) array in [0, 1] -> uint8 RGB (grey maps are replicated)."""
    a = np.clip(np.asarray(a, dtype=np.float32), 0, 1)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return (a * 255 + 0.5).astype(np.uint8)


def overlay(image: np.ndarray, mask: np.ndarray, color=(0, 230, 255), alpha: float = 0.35):
    """Tint ``mask`` pixels of a uint8 RGB image and draw the mask outline in full colour.

    Parameters
    ----------
    image : ndarray uint8 (H, W, 3)
    mask : ndarray bool (H, W)
    color : RGB triple
        Tint and outline colour; cyan by default because it stands out on reddish tissue.
    alpha : float
        Opacity of the tint inside the mask.
    """
    from skimage.segmentation import find_boundaries

    out = image.astype(np.float32).copy()
    c = np.asarray(color, dtype=np.float32)
    m = mask.astype(bool)
    out[m] = (1 - alpha) * out[m] + alpha * c
    out[find_boundaries(m, mode="inner")] = c
    return out.astype(np.uint8)


def dice_label(pred: np.ndarray, target: np.ndarray) -> str:
    """A panel's Dice caption; "n/a" when both are empty (never a perfect score)."""
    from gazeprep.contract.metrics import dice

    d = dice(pred, target)
    return "Dice n/a (empty target)" if math.isnan(d) else f"Dice {d:.2f}"


def validation_panel(rows: list[dict], path: str | Path, target: str = "mask") -> None:
    """Save a grid with titled columns: image | gaze map | target | prediction (with its Dice).

    Parameters
    ----------
    rows : list of dict
        Each with ``image`` (H, W, 3) in [0, 1], ``gaze`` (H, W) in [0, 1], ``target`` and
        ``pred`` (H, W) bool.
    path : str or Path
        PNG file to write.
    target : str
        What the target is (``mask`` or ``pseudo``), for its column title.
    """
    from PIL import Image, ImageDraw

    s = rows[0]["image"].shape[0]
    k = max(1, math.ceil(MIN_CELL / s))
    cell, gap = s * k, 4
    f = font(max(12, cell // 10))
    title_h = f.size + 10 if hasattr(f, "size") else 20
    head = title_h + 10  # the titles, then the gaze column's colour bar
    titles = ["image", "gaze (track map, 0-1)",
              "ground-truth mask" if target == "mask" else "pseudo-mask (target)", "prediction"]
    canvas = Image.new("RGB", (4 * cell + 3 * gap, head + len(rows) * (cell + gap) - gap),
                       "white")
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(titles):
        draw.text((c * (cell + gap) + cell / 2, title_h / 2), title, fill=INK, font=f,
                  anchor="mm")
    _colour_bar(canvas, (cell + gap, title_h, 2 * cell + gap, title_h + 7))
    for r, row in enumerate(rows):
        img = to_uint8_rgb(row["image"])
        g = row["gaze"]
        cells = [img, heat_colours(g),
                 to_uint8_rgb(row["target"].astype(np.float32)), overlay(img, row["pred"])]
        y = head + r * (cell + gap)
        for c, a in enumerate(cells):
            big = np.repeat(np.repeat(a, k, axis=0), k, axis=1)
            canvas.paste(Image.fromarray(big), (c * (cell + gap), y))
        label = dice_label(row["pred"], row["target"])
        x0 = 3 * (cell + gap)
        box = draw.textbbox((x0 + 4, y + 4), label, font=f)
        draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=(0, 0, 0))
        draw.text((x0 + 4, y + 4), label, fill=(255, 255, 255), font=f)
    canvas.save(str(path), format="PNG")


def _colour_bar(canvas, box: tuple[int, int, int, int]) -> None:
    """The gaze map's colour ramp (0 at the left, 1 at the right) under its column title."""
    from PIL import Image

    x0, y0, x1, y1 = box
    ramp = heat_colours(np.linspace(0, 1, x1 - x0))[None].repeat(y1 - y0, axis=0)
    canvas.paste(Image.fromarray(ramp), (x0, y0))


# --- training curves -------------------------------------------------------------------------
def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _chart(draw, box, title: str, series: list, xlim, ylim, f, small,
           legend_top: bool = True) -> None:
    """A line chart in ``box`` (x0, y0, x1, y1): title, axes with ticks, lines, legend.

    ``series``: (label or None, [(x, y), ...], colour, width, with dots). The legend sits in
    the upper right corner, or the lower right (``legend_top=False``: rising curves).
    """
    x0, y0, x1, y1 = box
    left, top, right, bottom = x0 + 58, y0 + 34, x1 - 12, y1 - 40
    draw.text(((x0 + x1) / 2, y0 + 14), title, fill=INK, font=f, anchor="mm")

    def px(x: float, y: float) -> tuple[float, float]:
        fx = (x - xlim[0]) / ((xlim[1] - xlim[0]) or 1)
        fy = (y - ylim[0]) / ((ylim[1] - ylim[0]) or 1)
        return left + fx * (right - left), bottom - fy * (bottom - top)

    for t in _ticks(*ylim):
        _, y = px(xlim[0], t)
        draw.line((left, y, right, y), fill=GRID)
        draw.text((left - 6, y), f"{t:.3g}", fill=INK, font=small, anchor="rm")
    for t in _ticks(*xlim):
        x, _ = px(t, ylim[0])
        draw.line((x, bottom, x, bottom + 4), fill=INK)
        draw.text((x, bottom + 6), f"{t:,.0f}", fill=INK, font=small, anchor="mt")
    draw.rectangle((left, top, right, bottom), outline=INK)
    draw.text(((left + right) / 2, y1 - 6), "step", fill=INK, font=small, anchor="ms")
    labels = [s for s in series if s[0]]
    legend_y = top + 6 if legend_top else bottom - 6 - 18 * len(labels)
    widest = max((draw.textlength(s[0], font=small) for s in series if s[0]), default=0)
    lx = right - widest - 40  # the legend's left edge: upper right, inside the axes
    for label, pts, colour, width, dots in series:
        xy = [px(x, y) for x, y in pts if math.isfinite(y)]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=width, joint="curve")
        for x, y in xy if dots else []:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
        if label:
            draw.line((lx, legend_y + 7, lx + 20, legend_y + 7), fill=colour, width=3)
            draw.text((lx + 26, legend_y), label, fill=INK, font=small)
            legend_y += 18


def curves(records: list[dict], path: str | Path,
           step_losses: list[tuple[int, float]] | None = None) -> None:
    """Save ``curves.png``: training loss (left) and validation Dice / IoU (right) by step.

    Parameters
    ----------
    records : list of dict
        The lines of ``metrics.jsonl``: ``step``, ``loss`` (mean since the previous record),
        optionally ``val_dice``, ``val_iou``.
    path : str or Path
        PNG file to write.
    step_losses : list of (step, loss), optional
        Every step's loss (drawn light behind the means).
    """
    from PIL import Image, ImageDraw

    steps = step_losses or []
    xs = [r["step"] for r in records] + [s for s, _ in steps]
    xlim = (0, max(xs, default=1))
    losses = [v for v in [r.get("loss") for r in records] + [v for _, v in steps]
              if v is not None and math.isfinite(v)]
    lo, hi = (min(losses, default=0.0), max(losses, default=1.0))
    ylim = (min(0.0, lo), hi * 1.05 if hi > 0 else 1.0)
    canvas = Image.new("RGB", (1000, 380), "white")
    draw = ImageDraw.Draw(canvas)
    f, small = font(16), font(12)
    mean = [(r["step"], r["loss"]) for r in records if r.get("loss") is not None]
    _chart(draw, (0, 0, 500, 380), "training loss", [
        ("every step" if steps else None, steps, LIGHT, 1, False),
        ("mean between validations", mean, BLUE, 2, True)], xlim, ylim, f, small)
    val = [("Dice", "val_dice", ORANGE), ("IoU", "val_iou", GREEN)]
    series = [(label, [(r["step"], r[key]) for r in records
                       if r.get(key) is not None and math.isfinite(r[key])],
               colour, 2, True) for label, key, colour in val]
    target = next((r["val_target"] for r in records if r.get("val_target")), None)
    title = {"mask": "validation vs ground-truth masks",
             "pseudo": "validation vs gaze pseudo-masks (no masks)"}.get(target, "validation")
    if not any(s[1] for s in series):
        title = "validation (none in this run)"
    _chart(draw, (500, 0, 1000, 380), title, series, xlim, (0.0, 1.0), f, small,
           legend_top=False)
    canvas.save(str(path), format="PNG")
