"""One picture per image to trust the maps: track, levels, heatmap, pseudo-mask, ground truth.

Drawn with numpy + skimage.draw only (no plotting library); labels use a 3x5 bitmap font.
"""

from __future__ import annotations

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.render.maps import from_uint8

# 3x5 glyphs, rows top to bottom, '#' = ink; only the characters the labels need.
_GLYPHS = {
    "0": ["###", "#.#", "#.#", "#.#", "###"],
    "1": [".#.", "##.", ".#.", ".#.", "###"],
    "2": ["###", "..#", "###", "#..", "###"],
    "3": ["###", "..#", "###", "..#", "###"],
    "4": ["#.#", "#.#", "###", "..#", "..#"],
    "5": ["###", "#..", "###", "..#", "###"],
    "6": ["###", "#..", "###", "#.#", "###"],
    "7": ["###", "..#", "..#", "..#", "..#"],
    "8": ["###", "#.#", "###", "#.#", "###"],
    "9": ["###", "#.#", "###", "..#", "###"],
    "A": [".#.", "#.#", "###", "#.#", "#.#"],
    "D": ["##.", "#.#", "#.#", "#.#", "##."],
    "E": ["###", "#..", "##.", "#..", "###"],
    "G": ["###", "#..", "#.#", "#.#", "###"],
    "H": ["#.#", "#.#", "###", "#.#", "#.#"],
    "I": ["###", ".#.", ".#.", ".#.", "###"],
    "L": ["#..", "#..", "#..", "#..", "###"],
    "M": ["#.#", "###", "###", "#.#", "#.#"],
    "O": ["###", "#.#", "#.#", "#.#", "###"],
    "P": ["###", "#.#", "###", "#..", "#.."],
    "S": ["###", "#..", "###", "..#", "###"],
    "T": ["###", ".#.", ".#.", ".#.", ".#."],
    "U": ["#.#", "#.#", "#.#", "#.#", "###"],
    " ": ["...", "...", "...", "...", "..."],
    "+": ["...", ".#.", "###", ".#.", "..."],
}
_SESSION_COLOURS = [(255, 220, 0), (0, 220, 255), (255, 80, 255), (120, 255, 80)]
WHITE = (255, 255, 255)
GREEN = (0, 255, 0)


def draw_text(canvas: np.ndarray, text: str, row: int, col: int, scale: int, colour) -> None:
    """Stamp ``text`` (characters of the 3x5 font) with its top-left at (row, col), in place.

    Parameters
    ----------
    canvas : ndarray of uint8, shape (H, W, 3)
    text : str
        Digits, spaces, '+' and the capitals of the labels; others are drawn as blanks.
    row, col : int
        Top-left corner in pixels.
    scale : int
        Pixels per font dot.
    colour : tuple of 3 int
    """
    h, w = canvas.shape[:2]
    for n, ch in enumerate(text.upper()):
        glyph = _GLYPHS.get(ch, _GLYPHS[" "])
        for gy, line in enumerate(glyph):
            for gx, dot in enumerate(line):
                if dot != "#":
                    continue
                r0, c0 = row + gy * scale, col + (n * 4 + gx) * scale
                canvas[max(r0, 0):min(r0 + scale, h), max(c0, 0):min(c0 + scale, w)] = colour


def _label(canvas, text, scale):
    """Label in the top-left corner on a dark box."""
    width = (4 * len(text) + 1) * scale
    canvas[: 7 * scale, :width] //= 4
    draw_text(canvas, text, scale, scale, scale, WHITE)


def heat_colours(v: np.ndarray) -> np.ndarray:
    """Black -> red -> yellow -> white colour ramp of values in [0, 1], uint8 (H, W, 3)."""
    v = np.clip(np.asarray(v, dtype=np.float32), 0, 1)
    rgb = np.stack([np.clip(3 * v, 0, 1), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1)], -1)
    return (rgb * 255).astype(np.uint8)


def _contour(canvas, mask, colour):
    # find_boundaries works on the mask itself; skimage's polygon tools would need matplotlib.
    from skimage.segmentation import find_boundaries

    canvas[find_boundaries(mask.astype(bool), mode="inner")] = colour


def _draw_track(canvas, x, y, dur, colour, scale):
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
    for i in range(len(px)):
        r = max(2.0, 3.0 * scale * np.sqrt(max(float(dur[i]), 1.0) / max(med, 1.0)))
        rr, cc = disk((py[i], px[i]), r, shape=canvas.shape[:2])
        canvas[rr, cc] = (0.6 * canvas[rr, cc] + 0.4 * np.asarray(colour)).astype(np.uint8)
        rr, cc = circle_perimeter(int(py[i]), int(px[i]), int(r), shape=canvas.shape[:2])
        canvas[rr, cc] = colour
    for i in range(len(px)):
        draw_text(canvas, str(i + 1), int(py[i]) - 2 * scale, int(px[i]) + 3 * scale, scale,
                  WHITE)


def compose(
    image: np.ndarray,
    maps: np.ndarray,
    heatmap: np.ndarray,
    pseudo: np.ndarray,
    mask: np.ndarray | None,
    tracks: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    tile: int = 256,
) -> np.ndarray:
    """Build the panel: image + track, one tile per level, heatmap, pseudo-mask.

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

    Returns
    -------
    ndarray of uint8, shape (T, T * (L + 3), 3)
    """
    s = image.shape[-1]
    k = max(1, int(np.ceil(tile / s)))
    font = max(2, (s * k) // 128)

    def up(a):
        return np.repeat(np.repeat(a, k, axis=0), k, axis=1)

    rgb = up(np.moveaxis(image, 0, -1)).copy()
    big_mask = None if mask is None else up(mask)
    tiles = []
    t0 = rgb.copy()
    for n, (x, y, d) in enumerate(tracks):
        _draw_track(t0, x, y, d, np.asarray(_SESSION_COLOURS[n % 4], np.float32), font)
    tiles.append((t0, "IMAGE"))
    dim = (rgb.astype(np.float32) * 0.35).astype(np.uint8)
    for lv in range(maps.shape[0]):
        col = heat_colours(up(maps[lv]).astype(np.float32))
        tiles.append((np.maximum(dim, col), f"L{lv + 1}"))
    tiles.append((np.maximum(dim, heat_colours(up(heatmap).astype(np.float32))), "HEAT"))
    ps = dim.copy()
    ps[up(pseudo) > 0] = (0.5 * rgb[up(pseudo) > 0] + 0.5 * np.array([255, 0, 255])).astype(
        np.uint8
    )
    tiles.append((ps, "PSEUDO"))
    out = []
    for img, name in tiles:
        img = img.copy()
        if big_mask is not None:
            _contour(img, big_mask, GREEN)
        _label(img, name + (" + GT" if big_mask is not None and name == "PSEUDO" else ""), font)
        out.append(img)
        out.append(np.full((img.shape[0], 2 * font, 3), 40, np.uint8))
    return np.concatenate(out[:-1], axis=1)


def render_show(g, image_id: str, tracks) -> np.ndarray:
    """Panel of one cached image (see :func:`compose`); ``tracks`` as in ``compose``."""
    from gazeprep.contract.cache import ID_ARRAY
    from gazeprep.inspect.load import sample_values

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
