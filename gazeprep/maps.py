"""Gaze Track Map Generation (GTMG): parameters, track maps, heatmap baseline and pseudo-masks.

Works on plain arrays (one entry per track, grouped per image); the numba kernels live in
:mod:`gazeprep.kernels_render`, the cache in :mod:`gazeprep.cache`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gazeprep.contract.images import ImageOptions
from gazeprep.errors import GazeprepError

#: ``maps`` and ``heatmap`` are stored as uint8: a stored v stands for v / UNIT_SCALE.
UNIT_SCALE = 255

DURATION_LAWS = ("power", "const", "off")
COMBINES = ("mean", "max")
DIRECTIONS = ("reverse", "forward")
PSEUDO_SOURCES = ("level", "mean")
REFINES = ("none", "fill", "slic", "watershed")


def default_ratios(levels: int) -> tuple[float, ...]:
    """Kept fractions ``r_k = 1 - k / L`` (L = 4 gives 1, 0.75, 0.5, 0.25).

    Parameters
    ----------
    levels : int
        Number of levels L (>= 1).
    """
    return tuple(round(1.0 - k / levels, 6) for k in range(levels))


@dataclass(frozen=True)
class RenderParams:
    """Every parameter of the render (recorded in the cache attributes).

    Parameters
    ----------
    size : int
        Output side S in pixels.
    ratios : tuple of float
        Kept fraction of the track per level; index 0 = level 1 (whole track, 1.0).
    tau : float
        Fall-off distance as a fraction of S.
    gamma : float
        Fall-off exponent of ``max(0, 1 - d / tau) ** gamma``.
    duration_law : {'power', 'const', 'off'}
        Fixation disk radius: ``rho * (dur / median_dur) ** alpha`` (median over the track),
        ``rho`` for every fixation, or 0 (points).
    rho : float
        Disk radius scale as a fraction of S.
    alpha : float
        Exponent of the 'power' duration law.
    combine : {'mean', 'max'}
        How maps of several sessions on one image are combined.
    direction : {'reverse', 'forward'}
        Keep the tail (GTMG) or the head (ablation) of the track per level.
    segments : bool
        Include saccade segments (polyline) or only fixation disks.
    pseudo_source : {'level', 'mean'}
        Map the pseudo-mask thresholds: one level or the mean over levels.
    pseudo_level : int
        1-based level used when ``pseudo_source == 'level'``.
    pseudo_threshold : float
        Pixels with source value > threshold are foreground.
    refine : {'none', 'fill', 'slic', 'watershed'}
        Optional refinement against the image: fill holes, vote within SLIC superpixels, or
        marker watershed on the image's edges (foreground seeds: source > threshold; background
        seeds: heatmap <= ``bg_threshold``).
    bg_threshold : float
        Heatmap level at or below which pixels seed the background ('watershed').
    edge_sigma : float
        Gaussian smoothing (pixels at S = 256, scaled with S) of the lightness before the Sobel
        edges that the watershed follows.
    heatmap_sigma : float
        GazeMedSeg heatmap sigma in pixels of the heatmap canvas.
    heatmap_canvas : int
        GazeMedSeg heatmap canvas side in pixels.
    image : ImageOptions
        How the image and mask files are read (window, slicing, mask label); recorded with
        the other parameters so that changing them renders the images again.
    """

    size: int = 256
    ratios: tuple[float, ...] = field(default_factory=lambda: default_ratios(4))
    tau: float = 0.05
    gamma: float = 1.0
    duration_law: str = "off"
    rho: float = 0.0
    alpha: float = 0.5
    combine: str = "mean"
    direction: str = "reverse"
    segments: bool = True
    pseudo_source: str = "mean"
    pseudo_level: int = 1
    pseudo_threshold: float = 0.7
    refine: str = "watershed"
    bg_threshold: float = 0.2
    edge_sigma: float = 1.0
    heatmap_sigma: float = 70.0
    heatmap_canvas: int = 768
    image: ImageOptions = field(default_factory=ImageOptions)

    def __post_init__(self) -> None:
        numbers = (self.tau, self.gamma, self.rho, self.alpha, self.pseudo_threshold,
                   self.bg_threshold, self.edge_sigma, self.heatmap_sigma, *self.ratios)
        checks = [
            (all(math.isfinite(v) for v in numbers), "every number must be finite"),
            (8 <= self.size <= 32768, "size must lie in 8..32768 pixels"),
            (len(self.ratios) >= 1, "at least one level"),
            (all(0.0 < r <= 1.0 for r in self.ratios), "ratios must lie in (0, 1]"),
            (self.tau > 0, "tau must be > 0"),
            (self.gamma > 0, "gamma must be > 0"),
            (self.duration_law in DURATION_LAWS, f"duration law must be one of {DURATION_LAWS}"),
            (self.rho >= 0, "rho must be >= 0"),
            (self.edge_sigma >= 0, "edge sigma must be >= 0"),
            (self.combine in COMBINES, f"combine must be one of {COMBINES}"),
            (self.direction in DIRECTIONS, f"direction must be one of {DIRECTIONS}"),
            (self.pseudo_source in PSEUDO_SOURCES, f"pseudo source: one of {PSEUDO_SOURCES}"),
            (1 <= self.pseudo_level <= len(self.ratios), "pseudo level must be in 1..levels"),
            (0.0 <= self.pseudo_threshold < 1.0, "pseudo threshold must lie in [0, 1)"),
            (self.refine in REFINES, f"refine must be one of {REFINES}"),
            (self.heatmap_sigma > 0 and self.heatmap_canvas > 0, "heatmap sigma/canvas > 0"),
        ]
        for ok, msg in checks:
            if not ok:
                raise GazeprepError(f"invalid render parameter: {msg}")

    @property
    def levels(self) -> int:
        """Number of levels L."""
        return len(self.ratios)

    def to_dict(self) -> dict:
        """JSON-ready dict of every parameter."""
        d = dataclasses.asdict(self)
        d["ratios"] = list(self.ratios)
        d["image"] = self.image.to_dict()
        return d

    def digest(self) -> str:
        """Short stable hash of the parameters (part of every sample's render key)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class Track:
    """One ordered gaze track (one session on one image).

    Parameters
    ----------
    x, y : ndarray of float, shape (n,)
        Normalised fixation coordinates in temporal order.
    duration_ms : ndarray of float, shape (n,)
        Fixation durations in ms.
    """

    x: np.ndarray
    y: np.ndarray
    duration_ms: np.ndarray


def render_memory_bytes(params: RenderParams, batch: int, tracks: int, threads: int,
                        workers: int = 1) -> int:
    """Estimated peak memory (bytes) of rendering one batch (:func:`gazeprep.cache.render_samples`).

    With P = S^2 pixels, L levels, B images and T tracks (sessions) in the batch: decoded and
    stacked images (2 x 3 B P, uint8), masks (2 B P), the per-track float32 maps and heatmaps
    (4 (L + 1) T P) and, when several sessions are combined, the per-image ones (4 (L + 1) B P),
    their uint8 copies ((L + 1) B P), the pseudo-mask source, foreground and result (7 B P), the
    codec's copy of the largest array (max(3, L) B P), per numba thread a float64 distance and
    heatmap buffer (16 P), per refinement / decoding worker about 100 P (Lab colour, edges,
    watershed markers and heap, float64 resizing).

    Parameters
    ----------
    params : RenderParams
    batch, tracks : int
        Images and tracks rendered together (a shard of the cache).
    threads, workers : int
        numba threads and image worker threads.

    Example
    -------
    >>> render_memory_bytes(RenderParams(size=256), 32, 32, 2, 2) // 2**20
    102
    """
    p, lv = params.size**2, params.levels
    per_image = 6 + 2 + (lv + 1) + 7 + max(3, lv) + (4 * (lv + 1) if tracks > batch else 0)
    total = p * (batch * per_image + 4 * (lv + 1) * tracks + 16 * threads + 100 * workers)
    return int(total)


def fixation_radii(duration_ms: np.ndarray, params: RenderParams) -> np.ndarray:
    """Disk radius of each fixation of one track, in output pixels.

    Parameters
    ----------
    duration_ms : ndarray, shape (n,)
        Durations of the track's fixations (ms).
    params : RenderParams
        Uses ``duration_law``, ``rho`` (fraction of S), ``alpha`` and ``size``.
    """
    dur = np.asarray(duration_ms, dtype=np.float64)
    base = params.rho * params.size
    if params.duration_law == "off" or dur.size == 0:
        return np.zeros(dur.size)
    if params.duration_law == "const":
        return np.full(dur.size, base)
    med = float(np.median(dur))
    if not med > 0:
        return np.full(dur.size, base)
    return base * np.power(np.clip(dur, 0.0, None) / med, params.alpha)


def _pack(tracks: Sequence[Track], params: RenderParams):
    """Concatenate tracks into the kernels' CSR arrays."""
    lens = np.array([len(t.x) for t in tracks], dtype=np.int64)
    offsets = np.zeros(len(tracks) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])

    def cat(parts):
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)

    xs = cat([np.asarray(t.x) for t in tracks])
    ys = cat([np.asarray(t.y) for t in tracks])
    dur = cat([np.asarray(t.duration_ms) for t in tracks])
    radii = cat([fixation_radii(t.duration_ms, params) for t in tracks])
    return xs, ys, dur, radii, offsets


def render_tracks(tracks: Sequence[Track], params: RenderParams) -> tuple[np.ndarray, np.ndarray]:
    """Track maps and GazeMedSeg heatmap of each track (sessions not yet combined).

    Parameters
    ----------
    tracks : sequence of Track
    params : RenderParams

    Returns
    -------
    maps : ndarray of float32, shape (T, L, S, S)
    heatmap : ndarray of float32, shape (T, S, S)
    """
    from gazeprep.kernels_render import gaussian_heatmaps, track_maps

    xs, ys, dur, radii, offsets = _pack(tracks, params)
    s = params.size
    maps = track_maps(
        xs, ys, radii, offsets, s, np.asarray(params.ratios, dtype=np.float64),
        params.tau * s, params.gamma, params.direction == "reverse", params.segments,
    )
    heat = gaussian_heatmaps(
        xs, ys, dur, offsets, s, params.heatmap_canvas, float(params.heatmap_sigma)
    )
    return maps, heat


def combine_sessions(per_track: np.ndarray, counts: Sequence[int], how: str) -> np.ndarray:
    """Combine the maps of the tracks of each image (numba, parallel over images).

    Parameters
    ----------
    per_track : ndarray, shape (T, ...)
        One map stack per track, the tracks of each image consecutive.
    counts : sequence of int
        Number of tracks of each image, in order (sum = T); 0 gives zeros.
    how : {'mean', 'max'}

    Returns
    -------
    ndarray of float32, shape (len(counts), ...)
    """
    from gazeprep.kernels_render import combine_tracks

    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(np.asarray(counts, dtype=np.int64), out=offsets[1:])
    if offsets[-1] != len(per_track):
        raise ValueError(f"counts sum to {offsets[-1]}, not the {len(per_track)} tracks")
    n_px = int(np.prod(per_track.shape[1:]))
    flat = np.ascontiguousarray(per_track, dtype=np.float32).reshape(len(per_track), n_px)
    out = combine_tracks(flat, offsets, how == "max")
    return out.reshape((len(counts), *per_track.shape[1:]))


def render_images(
    tracks: Sequence[Sequence[Track]], params: RenderParams
) -> tuple[np.ndarray, np.ndarray]:
    """Track maps and heatmap of each image, its sessions combined (``params.combine``).

    Parameters
    ----------
    tracks : sequence of sequence of Track
        The tracks (sessions) of each image; an image without tracks gets zeros.
    params : RenderParams

    Returns
    -------
    maps : ndarray of float32, shape (B, L, S, S)
    heatmap : ndarray of float32, shape (B, 1, S, S)
    """
    flat = [t for ts in tracks for t in ts]
    counts = [len(ts) for ts in tracks]
    per_maps, per_heat = render_tracks(flat, params)
    if len(flat) == len(tracks) and all(c == 1 for c in counts):
        return per_maps, per_heat[:, None]  # one session per image: nothing to combine
    maps = combine_sessions(per_maps, counts, params.combine)
    return maps, combine_sessions(per_heat, counts, params.combine)[:, None]


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Store values in [0, 1] as uint8 (``round(255 x)``; numba, parallel). Any shape."""
    from gazeprep.kernels_render import unit_to_uint8

    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(x.shape[0] if x.ndim else 1, -1)
    return unit_to_uint8(flat).reshape(x.shape)


def from_uint8(q: np.ndarray) -> np.ndarray:
    """Stored uint8 maps back to float32 values in [0, 1]."""
    return np.asarray(q, dtype=np.float32) / np.float32(UNIT_SCALE)


def pseudo_source(maps: np.ndarray, params: RenderParams) -> np.ndarray:
    """The map the pseudo-mask thresholds, shape (B, S, S), from maps (B, L, S, S)."""
    if params.pseudo_source == "mean":
        return maps.mean(axis=1)
    return maps[:, params.pseudo_level - 1]


def pseudo_masks(
    maps: np.ndarray,
    params: RenderParams,
    images: np.ndarray | None = None,
    heatmap: np.ndarray | None = None,
    workers: int = 1,
) -> np.ndarray:
    """0/1 pseudo-masks from combined track maps.

    Parameters
    ----------
    maps : ndarray of float, shape (B, L, S, S)
    params : RenderParams
        Uses ``pseudo_source``, ``pseudo_level``, ``pseudo_threshold`` and ``refine``.
    images : ndarray of uint8, shape (B, 3, S, S), optional
        Needed for ``refine`` 'slic' and 'watershed'.
    heatmap : ndarray of float, shape (B, S, S) or (B, 1, S, S), optional
        Needed for ``refine='watershed'`` (background seeds).
    workers : int
        Threads refining images side by side (scikit-image releases the GIL).

    Returns
    -------
    ndarray of uint8, shape (B, 1, S, S)
    """
    from concurrent.futures import ThreadPoolExecutor

    src = pseudo_source(maps, params)
    fg = src > params.pseudo_threshold
    if params.refine == "none" or len(src) == 0:
        return fg[:, None].astype(np.uint8)
    if params.refine in ("slic", "watershed") and images is None:
        raise GazeprepError(f"refine={params.refine!r} needs the images")
    if params.refine == "watershed" and heatmap is None:
        raise GazeprepError("refine='watershed' needs the heatmap")

    def one(i: int) -> np.ndarray:
        if params.refine == "fill":
            from skimage.morphology import remove_small_holes

            return remove_small_holes(fg[i], max_size=int(0.05 * params.size**2))
        if params.refine == "slic":
            return _slic_vote(images[i], src[i], params)
        heat = heatmap[i].reshape(src.shape[1:])
        return watershed_refine(edges(images[i], params), src[i], heat, params)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        refined = list(ex.map(one, range(len(src))))
    return np.stack(refined)[:, None].astype(np.uint8)


def edges(image: np.ndarray, params: RenderParams) -> np.ndarray:
    """Sobel edge strength of the smoothed lightness (CIE L*) of one image (3, S, S) uint8."""
    from skimage.color import rgb2lab
    from skimage.filters import gaussian, sobel

    # float32 in: skimage keeps float32 (half the work of its float64 default), same L* to 1e-4.
    rgb = np.moveaxis(image, 0, -1).astype(np.float32) / np.float32(255.0)
    light = rgb2lab(rgb)[..., 0]
    return sobel(gaussian(light, params.edge_sigma * params.size / 256))


def watershed_refine(
    edge: np.ndarray, src: np.ndarray, heat: np.ndarray, params: RenderParams
) -> np.ndarray:
    """Marker watershed: track seeds grow until they meet background seeds along image edges.

    Parameters
    ----------
    edge : ndarray, shape (S, S)
        Edge strength (see :func:`edges`).
    src : ndarray, shape (S, S)
        Pseudo-mask source map; > ``pseudo_threshold`` seeds the foreground.
    heat : ndarray, shape (S, S)
        Heatmap; <= ``bg_threshold`` seeds the background.
    params : RenderParams

    Returns
    -------
    ndarray of bool, shape (S, S)
    """
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    fg = src > params.pseudo_threshold
    if not fg.any():
        return fg
    bg = heat <= params.bg_threshold
    if not bg.any():
        return fg
    markers = np.zeros(src.shape, dtype=np.int32)
    markers[bg] = 1
    markers[fg] = 2
    # Flood only where labels can change: the unseeded band, the foreground seeds and the
    # background seeds touching them. Seeds deeper in the background never push a pixel, so the
    # result is the unrestricted watershed (tested; pixels of equal edge value may be flooded in
    # another order) at a fraction of the heap work.
    region = ndi.binary_dilation(markers != 1)
    return watershed(edge, markers, mask=region) == 2


def _slic_vote(image: np.ndarray, src: np.ndarray, params: RenderParams) -> np.ndarray:
    """Superpixels whose mean source value exceeds the threshold become foreground."""
    from skimage.segmentation import slic

    if not src.any():
        return np.zeros(src.shape, dtype=bool)
    labels = slic(np.moveaxis(image, 0, -1), n_segments=200, compactness=10, start_label=0)
    sums = np.bincount(labels.ravel(), weights=src.ravel())
    cnts = np.bincount(labels.ravel())
    return (sums / np.maximum(cnts, 1) > params.pseudo_threshold)[labels]


def gazemedseg_heatmap(
    x: np.ndarray,
    y: np.ndarray,
    duration_ms: np.ndarray,
    size: int,
    canvas: int = 768,
    sigma: float = 70.0,
) -> np.ndarray:
    """The literal GazeMedSeg heatmap recipe (the speed and agreement anchor, not used by render).

    Duration-weighted impulses at pixels ``floor(x * canvas)`` of a ``canvas`` square, Gaussian
    filter (sigma in canvas pixels, reflect borders, truncated at 4 sigma), min-max normalised,
    cubic resize to ``size``.

    Parameters
    ----------
    x, y : ndarray, shape (n,)
        Normalised fixation coordinates.
    duration_ms : ndarray, shape (n,)
        Impulse weights (fixation durations, ms).
    size : int
        Output side in pixels.
    canvas : int
        Canvas side in pixels.
    sigma : float
        Gaussian sigma in canvas pixels.

    Returns
    -------
    ndarray of float32, shape (size, size), values in [0, 1]
    """
    from skimage.filters import gaussian
    from skimage.transform import resize

    img = np.zeros((canvas, canvas))
    x, y, w = (np.asarray(v, dtype=np.float64) for v in (x, y, duration_ms))
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(w)  # as the kernel: others skipped
    # clip before the integer cast: casting 1e30 (or NaN) to int is undefined
    cols = np.clip(np.floor(x[keep] * canvas), 0, canvas - 1).astype(int)
    rows = np.clip(np.floor(y[keep] * canvas), 0, canvas - 1).astype(int)
    np.add.at(img, (rows, cols), w[keep])
    img = gaussian(img, sigma=sigma, mode="reflect", truncate=4.0, preserve_range=True)
    lo, hi = img.min(), img.max()
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    if size != canvas:
        img = resize(img, (size, size), order=3)
    return np.clip(img, 0.0, 1.0).astype(np.float32)
