"""One picture per image to trust the maps: track, levels, heatmap, pseudo-mask, every labels
array (v1 and v2 side by side), ground truth.

Tiles are composed with numpy and skimage.draw; every word and number is drawn with Pillow's
scalable font (``ImageFont.load_default(size=...)``), sized to the tile. Fixation numbers are
placed first and last fixation first, then in time order wherever they do not overlap a
number already placed, so the picture stays readable at any density; a legend under the
tiles says what the marks mean.
"""

from __future__ import annotations

import numpy as np

from gazeprep.contract.colours import heat_colours
from gazeprep.errors import GazeprepError
from gazeprep.render.maps import from_uint8

_SESSION_COLOURS = [(255, 220, 0), (0, 220, 255), (255, 80, 255), (120, 255, 80)]
WHITE = (255, 255, 255)
GREEN = (0, 255, 0)
#: The colour of the pseudo-mask tint.
MAGENTA = (255, 0, 255)
#: Background of the legend strip.
LEGEND_BG = (24, 24, 24)


def font(size: int):
    """Pillow's scalable default font at ``size`` pixels (its bitmap font without FreeType)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def _overlaps(box, boxes) -> bool:
    return any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
               for b in boxes)


def number_fixations(draw, points: list[tuple[float, float]], radius: list[float], f,
                     taken: list, limit: tuple[int, int]) -> list[int]:
    """Write fixation numbers (1 = first) beside their disks where they do not overlap.

    The first and the last fixation are always numbered; the others in time order when their
    label overlaps no label already placed (``taken``, shared between tracks and extended
    here) and lies inside ``limit`` (width, height). Returns the indices numbered.
    """
    n = len(points)
    order = list(dict.fromkeys([0, n - 1, *range(1, n - 1)])) if n else []
    done = []
    for i in order:
        x, y = points[i]
        pos = (x + 0.7 * radius[i] + 2, y - 0.7 * radius[i] - 2)
        box = draw.textbbox(pos, str(i + 1), font=f, anchor="lb", stroke_width=2)
        forced = i in (0, n - 1)
        inside = box[0] >= 0 and box[1] >= 0 and box[2] <= limit[0] and box[3] <= limit[1]
        if forced or (inside and not _overlaps(box, taken)):
            draw.text(pos, str(i + 1), font=f, anchor="lb", fill=WHITE, stroke_width=2,
                      stroke_fill=(0, 0, 0))
            taken.append(box)
            done.append(i)
    return sorted(done)


def _label(draw, text: str, x: int, f) -> None:
    """A tile's name in its top-left corner, white on a dark box."""
    box = draw.textbbox((x + 6, 6), text, font=f)
    draw.rectangle((box[0] - 4, box[1] - 3, box[2] + 4, box[3] + 3), fill=(0, 0, 0))
    draw.text((x + 6, 6), text, font=f, fill=WHITE)


def _contour(canvas, mask, colour):
    # find_boundaries works on the mask itself; skimage's polygon tools would need matplotlib.
    from skimage.segmentation import find_boundaries

    canvas[find_boundaries(mask.astype(bool), mode="inner")] = colour


def _draw_track(canvas, x, y, dur, colour, scale) -> tuple[list, list]:
    """Saccade lines and fixation disks (area ~ duration) in place; returns the disk centres
    (x, y) in pixels and their radii."""
    from skimage.draw import circle_perimeter, disk, line_aa

    s = canvas.shape[0]
    px = np.clip(np.asarray(x) * s, 0, s - 1)
    py = np.clip(np.asarray(y) * s, 0, s - 1)
    for i in range(len(px) - 1):
        rr, cc, val = line_aa(int(py[i]), int(px[i]), int(py[i + 1]), int(px[i + 1]))
        ok = (rr >= 0) & (rr < s) & (cc >= 0) & (cc < s)
        blend = val[ok, None]
        canvas[rr[ok], cc[ok]] = (canvas[rr[ok], cc[ok]] * (1 - blend) + blend * colour).astype(
            np.uint8
        )
    med = float(np.median(dur)) if len(dur) else 1.0
    radii = []
    for i in range(len(px)):
        r = max(2.0, 3.0 * scale * np.sqrt(max(float(dur[i]), 1.0) / max(med, 1.0)))
        rr, cc = disk((py[i], px[i]), r, shape=canvas.shape[:2])
        canvas[rr, cc] = (0.6 * canvas[rr, cc] + 0.4 * np.asarray(colour)).astype(np.uint8)
        rr, cc = circle_perimeter(int(py[i]), int(px[i]), int(r), shape=canvas.shape[:2])
        canvas[rr, cc] = colour
        radii.append(r)
    return list(zip(px.tolist(), py.tolist(), strict=True)), radii


def compose(
    image: np.ndarray,
    maps: np.ndarray,
    heatmap: np.ndarray,
    pseudo: np.ndarray,
    mask: np.ndarray | None,
    tracks: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    tile: int = 256,
    labels: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Build the panel: image + track, one tile per level, heatmap, pseudo-mask; a legend below.

    Parameters
    ----------
    image : ndarray of uint8, shape (3, S, S)
    maps : ndarray, shape (L, S, S), values in [0, 1]
    heatmap : ndarray, shape (S, S)
    pseudo : ndarray, shape (S, S), 0/1
    mask : ndarray, shape (S, S), 0/1, or None
        Ground truth; its contour (green) is drawn on every tile.
    tracks : list of (x, y, duration_ms)
        One per session, normalised coordinates in temporal order.
    tile : int
        Minimum tile side in pixels (small caches are enlarged by an integer factor).
    labels : dict of str to ndarray (S, S) 0/1, optional
        Further labels (the cache's labels arrays, e.g. ``gradseg refine``'s), one tile each
        beside the pseudo-mask, tinted like it.

    Returns
    -------
    ndarray of uint8, shape (T + legend, T * (L + 3 + len(labels)) + gaps, 3), T the tile side
    """
    from PIL import Image, ImageDraw

    s = image.shape[-1]
    k = max(1, int(np.ceil(tile / s)))
    t = s * k
    scale = max(2, t // 128)

    def up(a):
        return np.repeat(np.repeat(a, k, axis=0), k, axis=1)

    rgb = up(np.moveaxis(image, 0, -1)).copy()
    first = rgb.copy()
    marks = [_draw_track(first, x, y, d, np.asarray(_SESSION_COLOURS[n % 4], np.float32), scale)
             for n, (x, y, d) in enumerate(tracks)]
    dim = (rgb.astype(np.float32) * 0.35).astype(np.uint8)
    tiles = [(first, "image + gaze")]
    tiles += [(np.maximum(dim, heat_colours(up(maps[lv]).astype(np.float32))),
               f"level {lv + 1}" + (" (whole track)" if lv == 0 else "")) for lv in
              range(maps.shape[0])]
    tiles.append((np.maximum(dim, heat_colours(up(heatmap).astype(np.float32))), "heatmap"))
    for name, m in {"pseudo-mask": pseudo, **(labels or {})}.items():
        ps = dim.copy()
        inside = up(m) > 0
        ps[inside] = (0.5 * rgb[inside] + 0.5 * np.array(MAGENTA)).astype(np.uint8)
        tiles.append((ps, name))
    gap = 2 * scale
    strip = []
    for img, _ in tiles:
        img = img.copy()
        if mask is not None:
            _contour(img, up(mask), GREEN)
        strip += [img, np.full((t, gap, 3), 40, np.uint8)]
    strip = np.concatenate(strip[:-1], axis=1)
    label_font, small = font(max(12, t // 16)), font(max(11, t // 20))
    legend_h = 2 * (small.size if hasattr(small, "size") else 11) + 24
    canvas = Image.new("RGB", (strip.shape[1], t + legend_h), LEGEND_BG)
    canvas.paste(Image.fromarray(strip), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for n, (_, name) in enumerate(tiles):
        _label(draw, name, n * (t + gap), label_font)
    taken: list = []
    for points, radii in marks:
        number_fixations(draw, points, radii, small, taken, (t, t))
    draw_legend(draw, (0, t, strip.shape[1], t + legend_h), len(tracks), mask is not None,
                small)
    return np.asarray(canvas)


def draw_legend(draw, box, n_tracks: int, with_mask: bool, f) -> None:
    """The legend strip: track colours, what disks, lines and numbers mean, the contour and
    the colour ramp of the maps."""
    x0, y0, x1, y1 = box
    line_h = (y1 - y0 - 12) // 2
    x, y = x0 + 8, y0 + 6
    for n in range(n_tracks):
        colour = _SESSION_COLOURS[n % 4]
        draw.ellipse((x, y + 2, x + line_h - 4, y + line_h - 2), outline=colour, width=2)
        x += line_h + 2
        draw.text((x, y), f"track {n + 1}", font=f, fill=WHITE)
        x += int(draw.textlength(f"track {n + 1}", font=f)) + 16
    if with_mask:
        draw.line((x, y + line_h // 2, x + 24, y + line_h // 2), fill=GREEN, width=3)
        draw.text((x + 30, y), "ground-truth contour", font=f, fill=WHITE)
        x += 30 + int(draw.textlength("ground-truth contour", font=f)) + 16
    draw.rectangle((x, y + 2, x + line_h - 4, y + line_h - 2), fill=MAGENTA)
    draw.text((x + line_h + 2, y), "pseudo-mask", font=f, fill=WHITE)
    ramp_w = 160
    ramp = heat_colours(np.linspace(0, 1, ramp_w))
    rx = x1 - ramp_w - 70
    for i, c in enumerate(ramp):
        draw.line((rx + i, y + 2, rx + i, y + line_h - 2), fill=tuple(int(v) for v in c))
    draw.text((rx - 6, y), "map 0", font=f, fill=WHITE, anchor="ra")
    draw.text((rx + ramp_w + 6, y), "1", font=f, fill=WHITE)
    draw.text((x0 + 8, y + line_h + 2),
              "disk area ~ fixation duration; lines: saccades in time order; numbers: "
              "fixation order (1 = first; the last is always numbered, labels that would "
              "overlap are left out)", font=f, fill=WHITE)


def render_show(g, image_id: str, tracks) -> np.ndarray:
    """Panel of one cached image (see :func:`compose`); ``tracks`` as in ``compose``."""
    from gazeprep.contract.cache import ID_ARRAY
    from gazeprep.inspect.load import sample_values
    from gazeprep.inspect.score import labels_rows

    values = sample_values(g)
    ids = values[ID_ARRAY]
    if image_id not in ids:
        near = [i for i in ids if i.startswith(image_id[:4])][:3]
        raise GazeprepError(f"image id {image_id!r} is not in the cache (e.g. {near or ids[:3]})")
    i = ids.index(image_id)
    has_mask = "mask" in set(g.array_keys()) and values["has_mask"][i]
    return compose(
        g["image"][i],
        from_uint8(g["maps"][i]),
        from_uint8(g["heatmap"][i, 0]),
        g["pseudo"][i, 0],
        g["mask"][i, 0] if has_mask else None,
        tracks,
        labels={f"labels {k[len('labels/'):]}": v[0, 0]
                for k, v in labels_rows(g, slice(i, i + 1), ids).items()},
    )


#: The PNG text chunk that marks a picture written by ``gazeprep show`` (replaceable by it).
SOFTWARE = "gazeprep show"


def save_png(path, panel: np.ndarray) -> None:
    """Write ``panel`` as a PNG tagged ``Software: gazeprep show``, whole or not at all."""
    from PIL import Image, PngImagePlugin

    from gazeprep.outputs import atomic_write

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", SOFTWARE)
    image = Image.fromarray(np.ascontiguousarray(panel))
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=info))


def is_show_png(path) -> bool:
    """Whether ``path`` is a PNG that ``gazeprep show`` wrote."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.format == "PNG" and im.info.get("Software") == SOFTWARE
    except Exception:  # noqa: BLE001 - unreadable: not ours
        return False
