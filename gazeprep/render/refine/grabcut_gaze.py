"""GrabCut from seeds that read the gaze more closely than :mod:`.grabcut`'s.

Where the plain GrabCut fails, its sure foreground (the inner track, ``src >
pseudo_threshold``) already lies partly on the background: an observer who sweeps from a
small object's centre out past its border leaves a revisited track off the object. Those
passes are brief; the fixations pile up on the object. So the sure foreground here is the
inner track only where the fixations are dense too (GazeMedSeg heatmap > :data:`DENSE`, half
its peak); the rest of the inner track, the outer track (``src >`` :data:`PROBABLE`) and the
watershed pseudo-mask are probable foreground, for the colour models to decide; the sure
background is :mod:`.grabcut`'s (``heat <= bg_threshold``). The cut itself is
:func:`.grabcut.cut`. Chosen on the Kvasir-SEG tuning images (docs/labels.md).
"""

from __future__ import annotations

import numpy as np

from gazeprep.render.refine.grabcut import cut
from gazeprep.render.refine.watershed import refine as watershed_refine

#: Sure foreground also needs heatmap > DENSE (the heatmap peaks at 1 in every image).
DENSE = 0.5
#: Source values above PROBABLE are probable foreground (with the watershed pseudo-mask).
PROBABLE = 0.5


def seeds(src: np.ndarray, heat: np.ndarray, params) -> tuple[np.ndarray, np.ndarray]:
    """(sure foreground, sure background), each (S, S) bool: the dense inner track, and
    ``heat <= bg_threshold``. The sure foreground is empty only where the inner track is."""
    inner = src > params.pseudo_threshold
    fg = inner & (heat > DENSE)
    if not fg.any():  # an inner track with no dense part (not from a peak-1 heatmap)
        fg = inner
    return fg, heat <= params.bg_threshold


def refine(image: np.ndarray, src: np.ndarray, heat: np.ndarray, params) -> np.ndarray:
    """GrabCut pseudo-mask of one image from the gaze's dense inner track, (S, S) bool."""
    fg, bg = seeds(src, heat, params)
    if not fg.any() or not bg.any():
        return src > params.pseudo_threshold
    probable = watershed_refine(image, src, heat, params) | (src > PROBABLE)
    return cut(image, fg, bg, probable, params)
