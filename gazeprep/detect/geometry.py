"""Screen geometry for the detectors: pixels per degree, and the thresholds of the ingest options
in the detectors' units (px, px/ms).

The typical sample interval of a series is :func:`gazeprep.read.result.sample_interval`: the
ASC reader needs it too (per recording block), before any detector runs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gazeprep.errors import GazeprepError

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions


def px_per_degree(screen_px: tuple[float, float], screen_cm: tuple[float, float],
                  distance_cm: float) -> float:
    """Pixels per degree of visual angle at the screen centre.

    Parameters
    ----------
    screen_px : (width, height)
        Screen resolution (px).
    screen_cm : (width, height)
        Physical screen size (cm).
    distance_cm : float
        Eye-screen distance (cm).

    Returns
    -------
    float
        Mean of the horizontal and vertical px/deg (square pixels assumed).
    """
    cm_per_deg = 2.0 * distance_cm * math.tan(math.radians(0.5))
    px_per_cm = 0.5 * (screen_px[0] / screen_cm[0] + screen_px[1] / screen_cm[1])
    return px_per_cm * cm_per_deg


def thresholds(opts: IngestOptions, screen_px: tuple[float, float]) -> dict[str, float]:
    """I-VT speed (px/ms), I-DT dispersion and merge distance (px) from the options' units.

    Parameters
    ----------
    opts : IngestOptions
        ``units``, ``ivt_velocity`` (deg/s or px/s), ``idt_dispersion`` and ``merge_distance``
        (deg or px), ``screen_px``, ``screen_size_cm``, ``distance_cm``.
    screen_px : (width, height)
        The screen resolution the file states (used when ``opts.screen_px`` is None).

    Returns
    -------
    dict
        ``velocity`` (px/ms), ``dispersion``, ``merge_distance`` (px) and ``px_per_deg``.

    Raises
    ------
    GazeprepError
        Degree thresholds without the screen's physical size.
    """
    if opts.units == "px":
        ppd = 1.0
    else:
        if opts.screen_size_cm is None:
            raise GazeprepError("degree thresholds need --screen-size-cm W H (or --units px)")
        ppd = px_per_degree(opts.screen_px or screen_px, opts.screen_size_cm, opts.distance_cm)
    return {"velocity": opts.ivt_velocity * ppd / 1000.0, "dispersion": opts.idt_dispersion * ppd,
            "merge_distance": opts.merge_distance * ppd, "px_per_deg": ppd}
