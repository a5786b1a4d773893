"""The training methods, by name: each knows its cache arrays, its network(s) and its loss.

=================  ==========================================================================
``gradtrack``      Track Attention U-Net on the track maps and the pseudo-mask (default)
``gazesup``        GazeMedSeg's multi-level heatmap supervision (baseline)
``full``           ground-truth masks (upper bound)
``fgi``            FGI's teacher (with optional text cues) and student, two pseudo-masks
``gradtrack+fgi``  FGI with Track Attention in both networks, pseudo-masks from the tracks
=================  ==========================================================================
"""

from __future__ import annotations

from torch import nn

from gradseg.errors import GradsegError
from gradseg.methods.base import Method
from gradseg.methods.fgi.method import FGI, GradTrackFGI
from gradseg.methods.full import Full
from gradseg.methods.gazesup import GazeSup
from gradseg.methods.gradtrack import GradTrack

#: Every method, by its ``--method`` name.
METHODS: dict[str, type[Method]] = {m.name: m for m in (GradTrack, GazeSup, Full, FGI,
                                                        GradTrackFGI)}


def method_class(name: str) -> type[Method]:
    """The method called ``name``; an unknown name is an error listing the known ones."""
    if name not in METHODS:
        raise GradsegError(f"method must be one of {', '.join(METHODS)}, got {name!r}")
    return METHODS[name]


def get_method(config: dict, cues=None) -> Method:
    """The method of a run configuration (``config["method"]``)."""
    return method_class(config["method"])(config, cues)


def build_model(config: dict) -> nn.Module:
    """The network(s) a run configuration describes, freshly initialised."""
    return get_method(config).build()
