"""Every parameter of the render (:class:`RenderParams`, recorded in the cache) and its choices.

Light on purpose: ``gazeprep render --help`` takes its option defaults from here
(:func:`defaults`) without importing numpy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING

from gazeprep.errors import GazeprepError

if TYPE_CHECKING:
    from gazeprep.contract.images import ImageOptions

#: Levels L of the default render (kept fractions 1, 0.75, 0.5, 0.25).
DEFAULT_LEVELS = 4

DURATION_LAWS = ("power", "const", "off")
COMBINES = ("mean", "max")
DIRECTIONS = ("reverse", "forward")
PSEUDO_SOURCES = ("level", "mean")
#: The names of gazeprep.render.refine.REFINERS (a test keeps them equal).
REFINES = ("none", "fill", "slic", "watershed", "grabcut", "grabcut_gaze", "grabcut_texture",
           "grabcut_filled", "grabcut_grown", "random_walker")


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
    refine : str
        One of :data:`REFINES`: refinement against the image
        (:data:`gazeprep.render.refine.REFINERS`): fill holes, vote within SLIC superpixels,
        marker watershed on the image's edges (v1), GrabCut started from the watershed
        (``grabcut``: +2.1 points Dice on the 100 held-out Kvasir images, docs/labels.md),
        GrabCut whose sure foreground is the dense inner track (``grabcut_gaze``: +0.4 more),
        that followed by a graph cut whose mixtures also see texture (``grabcut_texture``:
        +0.4 more, about 4x the time), that keeping only the components around the sure
        foreground, holes filled (``grabcut_filled``: +0.1 more), that with its outline one pixel
        out (the default, ``grabcut_grown``: +0.4 more, 0.853 held out; each chosen on the 780
        tuning images) or a random walker (foreground seeds: source > threshold; background
        seeds: heatmap <= ``bg_threshold``).
    bg_threshold : float
        Heatmap level at or below which pixels seed the background (the image refiners).
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
    ratios: tuple[float, ...] = field(default_factory=lambda: default_ratios(DEFAULT_LEVELS))
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
    refine: str = "grabcut_grown"
    bg_threshold: float = 0.2
    edge_sigma: float = 1.0
    heatmap_sigma: float = 70.0
    heatmap_canvas: int = 768
    image: ImageOptions = field(default_factory=lambda: _image_options())

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


def _image_options() -> ImageOptions:
    """The default :class:`~gazeprep.contract.images.ImageOptions` (imported when first needed:
    the image rules import numpy)."""
    from gazeprep.contract.images import ImageOptions

    return ImageOptions()


def defaults() -> SimpleNamespace:
    """The default of every :class:`RenderParams` field, plus ``levels``, without building one.

    Example
    -------
    >>> defaults().tau, defaults().levels
    (0.05, 4)
    """
    plain = {f.name: f.default for f in dataclasses.fields(RenderParams)
             if f.default is not dataclasses.MISSING}
    return SimpleNamespace(**plain, levels=DEFAULT_LEVELS)
