"""Evaluation of a trained checkpoint: per-image Dice, IoU and HD95 against ground truth.

The metrics are the cache contract's (:mod:`gazeprep.contract.metrics`, the ones ``gazeprep
score`` reports). HD95 is always in the original image's pixels (``hd95``): on a cache the
distances between the S x S masks are measured with the pitch (H / S, W / S) of the original
H x W image (:func:`gazeprep.contract.metrics.original_spacing`); and in millimetres
(``hd95_mm``) when the image file gives its pixel spacing (DICOM, NIfTI, NRRD), else null.

An empty ground-truth mask is never a perfect score: where the prediction is empty too, the
image's metrics are undefined (NaN), left out of the means and counted (``n_empty_mask``,
``n_scored``); where it is not, Dice and IoU are 0. With ``--label``, a label that no mask
holds is an error (:func:`gazeprep.contract.images.check_label`).

Calling this module, ``gradseg.evaluate(...)``, runs :func:`gradseg.api.evaluate` (the Python
API).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gazeprep.contract.metrics import all_metrics, mean_defined, original_spacing
from gradseg.errors import GradsegError


def evaluate_cache(model, config: dict, cache: str | Path, ids: list[str] | None = None,
                   batch_size: int = 16, amp: bool = False,
                   advance: Callable[[int], None] | None = None,
                   cues=None) -> tuple[list[dict], dict]:
    """Score a model on cache samples that have a mask, at the cache's resolution.

    Parameters
    ----------
    model : torch.nn.Module
    config : dict
        The checkpoint's run configuration (``size``).
    cache : str or Path
    ids : list of str, optional
        Restrict to these ids (default: every sample with a mask).
    batch_size : int
    amp : bool
    advance : callable, optional
        Called with the number of images done after each batch (progress).
    cues : gradseg.data.text.TextCues, optional
        Text cues, for a network that reads them (:func:`gradseg.predict.choose_network`).

    Returns
    -------
    (rows, info): one dict per image (``image`` (the id), ``dice``, ``iou``, ``hd95`` in the
    original image's pixels, ``hd95_mm`` (None without a spacing), ``height``, ``width``: the
    original image's size) and counts of what was skipped.
    """
    from gradseg.data.cache import CacheDataset, open_cache
    from gradseg.predict import probabilities

    info = open_cache(cache)
    if not info.mask_available:
        raise GradsegError("the cache has no ground-truth masks to evaluate against",
                           file=info.path)
    wanted = info.ids if ids is None else ids
    pos = info.positions(wanted)
    has = [p for p in pos if info.has_mask[p]]
    if cues is not None:
        cues.check([info.ids[p] for p in has])
    ds = CacheDataset(info, has, ("mask",), size=None)
    rows = []
    size = int(config["size"])
    for start in range(0, len(ds), batch_size):
        items = ds.__getitems__(list(range(start, min(len(ds), start + batch_size))))
        x = torch.stack([it["image"] for it in items])
        if size != info.size:
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                                antialias=True, align_corners=False)
        cue = None if cues is None else cues.batch([info.ids[it["index"]] for it in items])
        p = probabilities(model, x, amp, cue)
        if size != info.size:
            p = torch.nn.functional.interpolate(p, size=(info.size, info.size),
                                                mode="bilinear", align_corners=False)
        pred = (p[:, 0] >= 0.5).numpy()
        for it, pm in zip(items, pred, strict=True):
            rows.append(_cache_row(info, it["index"], pm, it["mask"][0].numpy() > 0.5))
        if advance:
            advance(len(items))
    return rows, {"n_without_mask": len(pos) - len(has), "source": str(info.path)}


def _cache_row(info, i: int, pred: np.ndarray, ref: np.ndarray) -> dict:
    """Metrics of cache sample ``i``, distances in its original image's pixels (and mm)."""
    h, w = info.orig_size[i] if info.orig_size and min(info.orig_size[i]) > 0 else pred.shape
    mm = info.spacing[i] if info.spacing else None
    px = original_spacing(pred.shape, (h, w))
    scaled = None if mm is None else original_spacing(pred.shape, (h, w), mm)
    return {"image": info.ids[i], **all_metrics(pred, ref, px, scaled), "height": int(h),
            "width": int(w), "empty_mask": not ref.any()}


def evaluate_folders(model, config: dict, images: str | Path, masks: str | Path,
                     ids: list[str] | None = None, amp: bool = False,
                     advance: Callable[[int], None] | None = None,
                     options=None, cues=None) -> tuple[list[dict], dict]:
    """Score a model on image/mask folders, at each image's original size.

    Masks are matched to images by id; images without a mask are counted, not scored. Both
    are read by ``options`` (:class:`gazeprep.contract.images.ImageOptions`); a mask whose
    size or slice count differs from its image's is an error naming both files. ``cues``: as
    for :func:`evaluate_cache`.
    """
    from gazeprep.contract.errors import InputError
    from gazeprep.contract.images import check_label, check_pair, image_size
    from gazeprep.contract.spacing import pixel_spacing
    from gradseg.predict import list_images, predict_image, read_mask, select_images

    imgs, msks = list_images(images, options), list_images(masks, options)
    keys = sorted(imgs) if ids is None else list(select_images(imgs, ids, images))
    scored = [k for k in keys if k in msks]
    try:
        n_without_label = len(check_label([msks[k] for k in scored], options))
    except InputError as exc:
        raise GradsegError(exc.message, file=exc.file) from exc
    if cues is not None:
        cues.check(scored)
    rows = []
    for k in scored:
        ref = read_mask(msks[k], options)
        check_pair(imgs[k], msks[k], image_size(imgs[k]), ref.shape)
        pred = predict_image(model, config, imgs[k], options, amp, cues, k) >= 0.5
        rows.append({"image": k, **all_metrics(pred, ref, None, pixel_spacing(imgs[k])),
                     "height": ref.shape[0], "width": ref.shape[1], "empty_mask": not ref.any()})
        if advance:
            advance(1)
    extra = {"n_without_mask": len(keys) - len(scored), "source": str(images)}
    if options is not None and options.label is not None:
        extra["n_without_label"] = n_without_label
    return rows, extra


def summarise(rows: list[dict], extra: dict) -> dict:
    """Means of the per-image metrics plus counts: keys dice, iou, hd95 (original pixels),
    n_images, n_empty_mask (images whose mask is empty), n_scored (the images the means are
    over: the others have an empty mask and an empty prediction), ...; hd95_mm and n_hd95_mm
    (the images with a spacing) when any has one.

    Raises
    ------
    GradsegError
        No image, or every mask and prediction empty (no defined score).
    """
    if not rows:
        raise GradsegError("no image with a ground-truth mask to evaluate")
    out = {k: mean_defined([r[k] for r in rows])[0] for k in ("dice", "iou", "hd95")}
    n = mean_defined([r["dice"] for r in rows])[1]
    if n == 0:
        raise GradsegError(f"every ground-truth mask is empty ({len(rows)} images) and the "
                           "model predicts nothing on them: no score is defined; check the "
                           "masks (and --label)")
    dice = np.array([r["dice"] for r in rows], dtype=np.float64)
    out["dice_std"] = float(np.nanstd(dice))
    out["hd95_median"] = float(np.nanmedian([r["hd95"] for r in rows]))
    mm = [r["hd95_mm"] for r in rows if r.get("hd95_mm") is not None]
    if mm and not np.isnan(mm).all():
        out["hd95_mm"], out["n_hd95_mm"] = mean_defined(mm)
    out["n_images"] = len(rows)
    out["n_empty_mask"] = sum(bool(r.get("empty_mask")) for r in rows)
    out["n_scored"] = n
    out.update(extra)
    return out


def write_parquet(rows: list[dict], path: str | Path) -> None:
    """Per-image metrics table (image, dice, iou, hd95, hd95_mm, height, width, empty_mask) as
    zstd Parquet; NaN where mask and prediction are both empty."""
    import polars as pl

    from gradseg.outputs import atomic_write

    df = pl.DataFrame(rows, schema_overrides={"hd95_mm": pl.Float64})
    atomic_write(Path(path), lambda tmp: df.write_parquet(str(tmp), compression="zstd"))


#: Columns that mark a Parquet table as an eval output (replaceable without --overwrite); the
#: id column, ``image`` now, was ``id`` in earlier versions, so it is not among them.
EVAL_COLUMNS = {"dice", "iou", "hd95"}


@torch.no_grad()
def validation_scores(model, loader, device: torch.device, amp: bool, channels_last: bool,
                      target: str, keep: int = 4) -> tuple[dict[str, float], list[dict]]:
    """Mean Dice and IoU of thresholded predictions against ``target`` on the validation set.

    Returns the means (``val_dice``, ``val_iou``, over the images whose score is defined: an
    empty target with an empty prediction is left out, never a perfect score), their count
    ``val_n_scored``, and up to ``keep`` samples (image, gaze map, target, prediction) for the
    validation picture.
    """
    from gazeprep.contract.metrics import dice_iou
    from gradseg.device import to_device
    from gradseg.models.unet import predict_logits

    was_training = model.training
    model.eval()
    dices, ious, rows = [], [], []
    for batch in loader:
        b = to_device(batch, device, channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = predict_logits(model(b["image"]))
        pred = (logits.float() > 0).cpu().numpy()[:, 0]
        tgt = batch[target].numpy()[:, 0] > 0.5
        d, j_ = dice_iou(pred, tgt)
        dices += d.tolist()
        ious += j_.tolist()
        for j in range(pred.shape[0]):
            if len(rows) < keep:
                gaze = batch["maps"][j].max(0).values if "maps" in batch else batch["heatmap"][j, 0]
                rows.append({"image": batch["image"][j].permute(1, 2, 0).numpy(),
                             "gaze": gaze.numpy(), "target": tgt[j], "pred": pred[j]})
    model.train(was_training)
    (val_dice, n), (val_iou, _) = mean_defined(dices), mean_defined(ious)
    return {"val_dice": val_dice, "val_iou": val_iou, "val_n_scored": n}, rows


from gazeprep.contract.entry import make_callable  # noqa: E402

make_callable(__name__, "gradseg.api:evaluate")
