"""Pseudo-mask refiners, registered by name (``gazeprep render --refine NAME``).

Every refiner turns one image's gaze evidence into a 0/1 pseudo-mask::

    refiner.fn(image, src, heat, params) -> ndarray of bool, shape (S, S)

with ``image`` (3, S, S) uint8 RGB, ``src`` (S, S) the pseudo-mask source map in [0, 1] (mean of
the track-map levels by default), ``heat`` (S, S) the GazeMedSeg heatmap in [0, 1] and
``params`` the :class:`~gazeprep.render.params.RenderParams`. The seeds are shared: sure
foreground where ``src > pseudo_threshold`` (the inner, most-revisited part of the track), sure
background where ``heat <= bg_threshold`` (far from every fixation). An empty foreground seed
gives an empty mask. The names are :data:`gazeprep.render.params.REFINES` (kept light there for
``--help``); held-out Dice and time per image of each are in ``docs/labels.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gazeprep.render.refine import (
    basic,
    grabcut,
    grabcut_filled,
    grabcut_gaze,
    grabcut_grown,
    grabcut_texture,
    random_walker,
    watershed,
)


@dataclass(frozen=True)
class Refiner:
    """One registered refinement method.

    Attributes
    ----------
    fn : callable(image, src, heat, params) -> ndarray of bool (S, S)
    summary : str
        One line for ``--help`` and the docs.
    needs_image : bool
        Whether ``fn`` reads the image (and the heatmap).
    defaults : dict
        The method's own fixed settings (recorded with the docs' figures).
    """

    fn: Callable
    summary: str
    needs_image: bool = True
    defaults: dict = field(default_factory=dict)


REFINERS: dict[str, Refiner] = {
    "none": Refiner(basic.threshold, "threshold of the source map only", needs_image=False),
    "fill": Refiner(basic.fill, "threshold, then holes under 5 % of the image filled",
                    needs_image=False, defaults={"max_hole": basic.MAX_HOLE}),
    "slic": Refiner(basic.slic_vote, "SLIC superpixels whose mean source exceeds the threshold",
                    defaults={"n_segments": basic.N_SEGMENTS,
                              "compactness": basic.COMPACTNESS}),
    "watershed": Refiner(watershed.refine, "marker watershed along the image's edges (v1)"),
    "grabcut": Refiner(grabcut.refine, "OpenCV GrabCut colour model seeded by the gaze; the "
                       "watershed result is its probable foreground",
                       defaults={"iterations": grabcut.ITERATIONS}),
    "grabcut_gaze": Refiner(grabcut_gaze.refine, "GrabCut whose sure foreground is the inner "
                            "track where the fixations are dense; the rest of the track and the "
                            "watershed result are its probable foreground",
                            defaults={"iterations": grabcut.ITERATIONS,
                                      "dense": grabcut_gaze.DENSE,
                                      "probable": grabcut_gaze.PROBABLE}),
    "grabcut_texture": Refiner(grabcut_texture.refine, "grabcut_gaze, then one more graph cut "
                               "whose mixtures see colour and texture",
                               defaults={"components": grabcut_texture.COMPONENTS,
                                         "em_steps": grabcut_texture.EM_STEPS,
                                         "unary_weight": grabcut_texture.UNARY_WEIGHT,
                                         "std_sigma": grabcut_texture.STD_SIGMA,
                                         "grad_sigma": grabcut_texture.GRAD_SIGMA,
                                         "gamma": grabcut_texture.GAMMA}),
    "grabcut_filled": Refiner(grabcut_filled.refine, "grabcut_texture, then only its components "
                              "holding sure foreground, holes filled"),
    "grabcut_grown": Refiner(grabcut_grown.refine, "grabcut_filled, its outline moved out by "
                             "one pixel (the cut's border sits inside the object's)",
                             defaults={"margin": grabcut_grown.MARGIN}),
    "random_walker": Refiner(random_walker.refine, "random walker on CIE Lab seeded by the gaze",
                             defaults={"beta": random_walker.BETA}),
}
