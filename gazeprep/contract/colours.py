"""The colour ramp of gaze maps, shared by every picture of both packages (``gazeprep show``,
gradseg's ``val.png``), so a map value looks the same wherever it is drawn.

>>> heat_colours(np.array([0.0, 0.5, 1.0])).tolist()
[[0, 0, 0], [255, 127, 0], [255, 255, 255]]
"""

from __future__ import annotations

import numpy as np


def heat_colours(v: np.ndarray) -> np.ndarray:
    """Black -> red -> yellow -> white colour ramp of values in [0, 1], uint8 (..., 3)."""
    v = np.clip(np.asarray(v, dtype=np.float32), 0, 1)
    rgb = np.stack([np.clip(3 * v, 0, 1), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1)], -1)
    return (rgb * 255).astype(np.uint8)
