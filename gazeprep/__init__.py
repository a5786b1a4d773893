"""gazeprep: raw eye-tracker logs -> fixations and gaze tracks (Parquet) -> track maps (Zarr).

The functions of :mod:`gazeprep.api` are importable from here; they are loaded on first use,
so ``import gazeprep`` stays cheap (the command line imports this package too).

>>> import gazeprep
>>> sorted(gazeprep.__all__)[:3]
['export', 'ingest', 'open_cache']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["ingest", "render", "score", "open_cache", "split", "export", "simulate"]

if TYPE_CHECKING:
    from gazeprep.api import export, ingest, open_cache, render, score, simulate, split


#: API names that are also modules of the package (callable: see gazeprep.contract.entry).
_MODULES = ("ingest", "render", "export", "simulate")


def __getattr__(name: str):
    if name in _MODULES:
        import importlib

        return importlib.import_module(f"gazeprep.{name}")
    if name in __all__:
        from gazeprep import api

        return getattr(api, name)
    raise AttributeError(f"module 'gazeprep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
