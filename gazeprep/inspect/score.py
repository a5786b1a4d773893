"""Quality of a render cache against its ground-truth masks: Dice and IoU per image.

The metrics are the contract's (:mod:`gazeprep.contract.metrics`), the ones ``gradseg eval``
reports: an empty mask is never a perfect score (undefined where the prediction is empty
too, left out of the means and counted; 0 where it is not).
"""

from __future__ import annotations

from gazeprep.errors import GazeprepError

#: Level maps are foreground where their value is above this.
LEVEL_THRESHOLD = 0.5
#: The heatmap is foreground where its value is above this (GazeMedSeg's rule).
HEATMAP_THRESHOLD = 0.5


def score_cache(g, level_threshold: float = LEVEL_THRESHOLD,
                heatmap_threshold: float = HEATMAP_THRESHOLD, batch: int = 64,
                progress=None):
    """Per-image Dice/IoU of the pseudo-mask, each thresholded level and the heatmap.

    Parameters
    ----------
    g : zarr.Group
        An open render cache with a ``mask`` array.
    level_threshold : float
        Level maps are foreground where value > this.
    heatmap_threshold : float
        The heatmap is foreground where value > this (GazeMedSeg: 0.5).
    batch : int
        Samples read at a time.
    progress : callable(done, total), optional
        Called after each batch with the samples read so far.

    Returns
    -------
    polars.DataFrame
        One row per image with a mask: ``image``, ``n_fixations``, ``empty_mask`` (the mask has
        no foreground), ``pseudo_dice``, ``pseudo_iou``, ``level{k}_dice``, ``level{k}_iou``
        (k = 1..L), ``heatmap_dice``, ``heatmap_iou``, and ``labels/<name>_dice``,
        ``labels/<name>_iou`` for every labels array of the cache (:func:`labels_names`); NaN
        where mask and prediction are both empty.

    Raises
    ------
    GazeprepError
        No mask, or every mask empty (nothing to score against).
    """
    import numpy as np
    import polars as pl

    from gazeprep.contract.cache import ID_ARRAY
    from gazeprep.contract.metrics import dice_iou
    from gazeprep.inspect.load import read_checked, sample_values
    from gazeprep.render.maps import from_uint8

    if "mask" not in g:  # (listing members would warn about user files in the folder)
        raise GazeprepError("the cache has no ground-truth masks: render it with --masks DIR")
    values = sample_values(g)
    ids, has, n_fix = values[ID_ARRAY], values["has_mask"], values["n_fixations"]
    n = len(ids)
    levels = g["maps"].shape[1]
    names = [f"labels/{k}" for k in labels_names(g)]
    sums = _labels_checksums(g, names)  # each checked to fit the cache before it is opened
    extra = {name: g[name] for name in names}
    cols: dict[str, list] = {"image": [], "n_fixations": [], "empty_mask": []}
    for start in range(0, n, batch):
        sl = slice(start, min(n, start + batch))
        keep = np.asarray(has[sl], dtype=bool)
        if not keep.any():
            if progress is not None:
                progress(sl.stop, n)
            continue
        rows = {name: read_checked(g, name, sl, ids)
                for name in ("mask", "maps", "pseudo", "heatmap", *extra)}
        for name in extra:
            _check_labels_rows(g, name, rows[name], sl, sums[name], ids)
        rows = {name: v[keep] for name, v in rows.items()}
        truth, maps = rows["mask"][:, 0], from_uint8(rows["maps"])
        parts = {
            "pseudo": rows["pseudo"][:, 0] > 0,
            **{f"level{k + 1}": maps[:, k] > level_threshold for k in range(levels)},
            "heatmap": from_uint8(rows["heatmap"][:, 0]) > heatmap_threshold,
            **{name: rows[name][:, 0] > 0 for name in extra},
        }
        cols["image"] += [i for i, k in zip(ids[sl], keep, strict=True) if k]
        cols["n_fixations"] += [int(v) for v, k in zip(n_fix[sl], keep, strict=True) if k]
        cols["empty_mask"] += (~truth.any(axis=(-2, -1))).tolist()
        for name, pred in parts.items():
            d, j = dice_iou(pred, truth)
            cols.setdefault(f"{name}_dice", []).extend(d.tolist())
            cols.setdefault(f"{name}_iou", []).extend(j.tolist())
        if progress is not None:
            progress(sl.stop, n)
    if not cols["image"]:
        raise GazeprepError("no image in the cache has a ground-truth mask")
    if all(cols["empty_mask"]):
        raise GazeprepError(f"every ground-truth mask is empty ({len(cols['image'])} masks): "
                            "nothing to score against; was the cache rendered with a --label "
                            "that the masks do not hold?")
    return pl.DataFrame(cols)


def _labels_checksums(g, extra: list[str]) -> dict[str, list[int]]:
    """Each labels array's row CRC32C, once it is checked to fit the cache (shape, dtype,
    one checksum per row: :mod:`gazeprep.contract.labels`)."""
    from gazeprep.contract.errors import InputError
    from gazeprep.contract.labels import labels_info

    root = getattr(g.store, "root", None)
    try:
        return {name: labels_info(root, name[len("labels/"):])["row_crc32c"] for name in extra}
    except InputError as exc:
        raise GazeprepError(exc.message, file=root) from exc


def labels_rows(g, rows: slice, ids) -> dict[str, object]:
    """Rows ``rows`` of every labels array (``labels/<name>`` -> uint8 (n, 1, S, S)), each
    array checked to fit the cache and each row against its CRC32C and for values 0/1."""
    from gazeprep.inspect.load import read_checked

    names = [f"labels/{k}" for k in labels_names(g)]
    sums = _labels_checksums(g, names)
    out = {}
    for name in names:
        out[name] = read_checked(g, name, rows, ids)
        _check_labels_rows(g, name, out[name], rows, sums[name], ids)
    return out


def _check_labels_rows(g, name: str, block, sl: slice, sums: list[int], ids) -> None:
    """A labels array's rows ``sl`` checked against their CRC32C and for values 0/1."""
    from gazeprep.contract.errors import InputError
    from gazeprep.contract.labels import check_rows

    root = getattr(g.store, "root", None)
    try:
        check_rows(name[len("labels/"):], block, range(sl.start, sl.start + len(block)), sums,
                   root, ids)
    except InputError as exc:
        raise GazeprepError(exc.message, file=root) from exc


def labels_names(g) -> list[str]:
    """Names of the labels arrays (``gradseg refine``'s) of an open cache, sorted: every
    ``labels/<name>`` with metadata, so that one which is no array is refused by name, not
    left out (:func:`_labels_checksums`)."""
    from gazeprep.contract.labels import GROUP, list_labels

    root = getattr(g.store, "root", None)
    if root is not None:
        return list_labels(root)
    if GROUP not in g:
        return []
    return sorted(k for k in g[GROUP].array_keys() if not k.startswith("."))


def summarise(df) -> dict[str, float]:
    """Mean of every metric column over its defined values, plus counts.

    ``n_images``: images with a mask; ``n_empty_mask``: those whose mask is empty;
    ``n_<name>_scored``: the images each prediction's mean is over (the others have an empty
    mask and an empty prediction: undefined, see :mod:`gazeprep.contract.metrics`).
    """
    from gazeprep.contract.metrics import mean_defined

    out: dict[str, float] = {"n_images": int(df.height),
                             "n_empty_mask": int(df["empty_mask"].sum())}
    for c in df.columns:
        if c.endswith("_dice") or c.endswith("_iou"):
            out[c], n = mean_defined(df[c].to_numpy())
            if c.endswith("_dice"):
                out[f"n_{c[:-5]}_scored"] = n
    return out


def is_score_table(path) -> bool:
    """Whether ``path`` is a per-image table that ``gazeprep score`` wrote."""
    import polars as pl

    try:
        cols = set(pl.read_parquet_schema(path))
    except Exception:  # noqa: BLE001 - unreadable: not ours
        return False
    return {"image", "n_fixations", "pseudo_dice", "pseudo_iou", "heatmap_dice"} <= cols
