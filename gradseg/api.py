"""gradseg from Python: train, evaluate and predict as the command line does.

:mod:`gradseg` exposes these lazily, so ``import gradseg`` does not import torch::

    import gradseg
    run = gradseg.train("maps.zarr", "runs/api", iterations=30, batch_size=4, base_channels=8)
    summary, rows = gradseg.evaluate("runs/api/best.pt", images="test/images",
                                     masks="test/masks")
    masks = gradseg.predict("runs/api/best.pt", "new/images")   # {id: bool mask}
    volumes = gradseg.predict_scans("runs/api/best.pt", "new/scans")  # {scan: NIfTI image}

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

__all__ = ["train", "evaluate", "predict", "predict_scans", "load_checkpoint", "open_cache"]

PathLike = str | Path


def train(cache: PathLike = "data/maps.zarr", out: PathLike | None = None, *,
          resume: bool = False, progress: bool = False, **settings: Any) -> dict:
    """Train one run on a gazeprep cache (``gradseg train``).

    Parameters
    ----------
    cache : path
        A render cache.
    out : path, optional
        The run folder: ``best.pt``, ``last.pt``, ``config.json``, ``metrics.jsonl``,
        ``summary.json`` and pictures; default ``runs/<method>``, as ``gradseg train``.
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

    if out is None:
        out = Path("runs") / settings.get("method", TrainConfig.method)
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


def predict_scans(checkpoint: PathLike, images: PathLike, *, ids: list[str] | None = None,
                  device: str = "cpu", threshold: float = 0.5, probabilities: bool = False
                  ) -> dict[str, Any]:
    """Masks of the radiology scans in ``images`` (NIfTI or NRRD volumes, DICOM series,
    multi-frame DICOM files), one per scan in the scan's own geometry, as ``gradseg predict``
    writes ``<scan>.nii.gz`` (nothing is written here).

    Returns
    -------
    dict
        Scan name -> ``nibabel.Nifti1Image`` with the scan's voxel grid and affine: uint8 0/1
        (probability >= ``threshold``), or float32 probabilities with ``probabilities=True``.
        Slices that ``ids`` leaves out are 0. Photographs, and DICOM files no scan places, are
        not here (:func:`predict` has every image).
    """
    import numpy as np

    from gradseg.predict import iter_probabilities, list_images, select_images
    from gradseg.predict_volumes import plan_outputs, scan_stack

    model, config = load_checkpoint(checkpoint, device)
    options = _image_options(config)
    folder = list_images(images, options)
    plan = plan_outputs(folder, select_images(folder, ids, images))
    probs: dict[str, dict[str, np.ndarray]] = {unit: {} for unit in plan.scans}
    unit_of = {k: unit for unit in plan.scans for k in plan.units[unit]}
    wanted = {k: folder[k] for k in unit_of}
    for key, _rgb, p in iter_probabilities(model, config, wanted, options=options):
        probs[unit_of[key]][key] = p
    out = {}
    for unit, scan in plan.scans.items():
        stack = scan_stack(scan, probs[unit])
        out[scan.name] = scan.to_nifti(stack if probabilities
                                       else (stack >= threshold).astype(np.uint8))
    return out


def _image_options(config: dict):
    """How the checkpoint's training images were read from their files (render's options)."""
    from gazeprep.contract.images import ImageOptions

    return ImageOptions.from_dict(config.get("image_options"))


def open_cache(path: PathLike = "data/maps.zarr") -> CacheLayout:
    """A gazeprep cache as gradseg reads it: ids, sizes, levels, which arrays it holds."""
    from gradseg.data.cache import open_cache as open_layout

    return open_layout(path)
