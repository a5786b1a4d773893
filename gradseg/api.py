"""gradseg from Python: train, evaluate and predict as the command line does.

:mod:`gradseg` exposes these lazily, so ``import gradseg`` does not import torch::

    import gradseg
    run = gradseg.train("maps.zarr", "runs/api", iterations=30, batch_size=4, base_channels=8)
    summary, rows = gradseg.evaluate("runs/api/best.pt", images="test/images",
                                     masks="test/masks")
    masks = gradseg.predict("runs/api/best.pt", "new/images")   # {id: bool mask}

Settings are keywords named as the fields of :class:`gradseg.config.TrainConfig` (the keys of
a run's ``config.json``; defaults are the command line's).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

    from gradseg.data.cache import CacheLayout

__all__ = ["train", "evaluate", "predict", "load_checkpoint", "open_cache"]

PathLike = str | Path


def train(cache: PathLike = "data/maps.zarr", out: PathLike = "runs/gradtrack", *,
          resume: bool = False, progress: bool = False, **settings: Any) -> dict:
    """Train one run on a gazeprep cache (``gradseg train``).

    Parameters
    ----------
    cache : path
        A render cache.
    out : path
        The run folder: ``best.pt``, ``last.pt``, ``config.json``, ``metrics.jsonl``,
        ``summary.json`` and pictures.
    resume : bool
        Continue from ``<out>/last.pt``.
    progress : bool
        A progress bar (terminal) or lines (elsewhere) on stderr.
    **settings
        Fields of :class:`gradseg.config.TrainConfig` (``method``, ``iterations``,
        ``batch_size``, ``size``, ``base_channels``, ``lr``, ``seed``, ...).

    Returns
    -------
    dict
        The run summary (also ``<out>/summary.json``).
    """
    from gradseg.train import TrainConfig
    from gradseg.train import train as run_training

    cfg = TrainConfig(cache=str(cache), out=str(out), **settings)
    return run_training(cfg, resume=resume, progress=progress,
                        log=print if progress else (lambda *_: None))


def load_checkpoint(path: PathLike, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """The network of a checkpoint, checked (sha256) and ready for inference, and its run
    configuration."""
    from gradseg.checkpoint import load_model

    return load_model(path, device)


def evaluate(checkpoint: PathLike, *, cache: PathLike | None = None,
             images: PathLike | None = None, masks: PathLike | None = None,
             ids: list[str] | None = None, device: str = "cpu") -> tuple[dict, list[dict]]:
    """Per-image Dice, IoU and HD95 of a checkpoint against ground truth (``gradseg eval``):
    on a cache's masks, or on image and mask folders at each image's own size.

    Returns
    -------
    (summary, rows) : (dict, list of dict)
        The means and counts as ``gradseg eval --json`` prints them; one row per image.
    """
    from gradseg.errors import GradsegError
    from gradseg.evaluate import evaluate_cache, evaluate_folders, summarise

    if (cache is None) == (images is None) or (images is None) != (masks is None):
        raise GradsegError("give either cache or both images and masks")
    model, config = load_checkpoint(checkpoint, device)
    if cache is not None:
        rows, extra = evaluate_cache(model, config, cache, ids)
    else:
        rows, extra = evaluate_folders(model, config, images, masks, ids,
                                       options=_image_options(config))
    return summarise(rows, extra), rows


def predict(checkpoint: PathLike, images: PathLike, *, ids: list[str] | None = None,
            device: str = "cpu", threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Masks of every image in ``images`` at the image's own size, ``{id: bool array (H, W)}``:
    foreground where the probability is >= ``threshold`` (what ``gradseg predict`` writes;
    nothing is written here)."""
    from gradseg.predict import iter_predictions, list_images, select_images

    model, config = load_checkpoint(checkpoint, device)
    options = _image_options(config)
    files = select_images(list_images(images, options), ids, images)
    return {key: mask for key, _rgb, mask in iter_predictions(model, config, files,
                                                               options=options,
                                                               threshold=threshold)}


def _image_options(config: dict):
    """How the checkpoint's training images were read from their files (render's options)."""
    from gazeprep.contract.images import ImageOptions

    return ImageOptions.from_dict(config.get("image_options"))


def open_cache(path: PathLike = "data/maps.zarr") -> CacheLayout:
    """A gazeprep cache as gradseg reads it: ids, sizes, levels, which arrays it holds."""
    from gradseg.data.cache import open_cache as open_layout

    return open_layout(path)
