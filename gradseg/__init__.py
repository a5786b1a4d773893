"""gradseg: segmentation networks trained on gaze track maps read from a gazeprep cache.

gradseg meets gazeprep at the cache format and takes nothing from gazeprep but its contract
package (:mod:`gazeprep.contract`: the cache format and its ``validate``, the batched row
reads, the rule that turns an image file into pixels, the input error). The layout:
:mod:`gradseg.data` (what the trainer reads), :mod:`gradseg.models` (the networks),
:mod:`gradseg.methods` (each method's fields, networks and loss), :mod:`gradseg.train`
(the trainer's phases), :mod:`gradseg.evaluate` and :mod:`gradseg.predict`.

The functions of :mod:`gradseg.api` and :class:`~gradseg.config.TrainConfig` are importable
from here, loaded on first use (``import gradseg`` does not import torch).

>>> import gradseg
>>> "train" in gradseg.__all__
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gradseg._version import __version__ as __version__

__all__ = ["train", "evaluate", "predict", "predict_scans", "load_checkpoint", "open_cache",
           "TrainConfig"]

if TYPE_CHECKING:
    from gradseg.api import evaluate, load_checkpoint, open_cache, predict, predict_scans, train
    from gradseg.config import TrainConfig


#: API names that are also modules of the package (callable: see gazeprep.contract.entry).
_MODULES = ("train", "evaluate", "predict")


def __getattr__(name: str):
    if name in _MODULES:
        import importlib

        return importlib.import_module(f"gradseg.{name}")
    if name == "TrainConfig":
        from gradseg.config import TrainConfig

        return TrainConfig
    if name in __all__:
        from gradseg import api

        return getattr(api, name)
    raise AttributeError(f"module 'gradseg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
