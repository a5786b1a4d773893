"""Variants of ``grabcut_texture``'s second cut on real gaze, incl. a pooled appearance model.

Usage (from the project root; the 256 px cache of ``compare_refiners.py``)::

    OMP_NUM_THREADS=1 .venv/bin/python pipelines/texture_variants.py dump /tmp/kv256.zarr \\
        --out /tmp/texture_dumps [--shard 0/2]
    OMP_NUM_THREADS=1 .venv/bin/python pipelines/texture_variants.py score /tmp/kv256.zarr \\
        --dumps /tmp/texture_dumps --variants "w:1.5;z:16/0.5" [--part tune|held_out] \\
        [--tune-subset 200]

``dump`` runs ``grabcut_texture`` on every image of the cache and keeps, per image, its start
(``grabcut_gaze``'s result), its seeds, its result and its per-image unary terms (one ``.npz``
per image, the same result as the refiner). ``score`` cuts each image again (the same
contrast-sensitive pairwise term and max-flow) under one variant of the unary terms or seeds
(``;`` between variants):

- ``w:W``: the per-image unary weight W (1.5 is ``grabcut_texture`` itself);
- ``raw:K/W`` / ``z:K/W``: an appearance model pooled across images: one Gaussian mixture of
  K components per side, fitted on the confident pixels of *every* image's ``grabcut_texture``
  result (its foreground and its background eroded by 3 px, up to 300 pixels of each per
  image; no ground truth read) over the refiner's features (``raw``) or the same standardised
  per image (``z``); its -log likelihood times W is added to each side's unary term;
- ``seed:A``: the foreground mixture refitted on the sure foreground only, mixed in with
  weight A;
- ``erode:R``: both mixtures refitted on the start's two sides eroded by R px;
- ``ms:F``: both mixtures refitted with two more features (local std and gradient magnitude
  at F x the refiner's scales);
- ``bg:T``: sure background ``heat <= T`` in this cut (``grabcut_gaze``'s stays 0.2).

Mean Dice on ``--part`` (the seeded tuning subset of ``compare_refiners.py`` or the 100
held-out ids) and ms per image of the recut alone (the dump's work not counted), one per line.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from compare_refiners import load
from kvasir_split import split_ids

from gazeprep.contract.metrics import dice_iou
from gazeprep.render.params import RenderParams
from gazeprep.render.refine import grabcut_texture as gt
from gazeprep.render.refine.grabcut import _cv2, smoothed_bgr
from gazeprep.render.refine.grabcut_gaze import refine as grabcut_gaze_refine
from gazeprep.render.refine.grabcut_gaze import seeds

ERODE, PER_IMAGE = 3, 300


def params_of(layout) -> RenderParams:
    attrs = layout.attrs["params"]
    return RenderParams(**{k: v for k, v in attrs.items() if k not in ("ratios", "image")},
                        ratios=tuple(attrs["ratios"]))


def dump_one(image, src, heat, params) -> dict:
    """grabcut_texture.refine with its intermediates (same result)."""
    start = grabcut_gaze_refine(image, src, heat, params)
    fg, bg = seeds(src, heat, params)
    out = {"start": start, "fg": fg, "bg": bg, "result": start, "cut": np.array(False)}
    if not fg.any() or not bg.any() or not start.any() or start.all():
        return out
    cv2 = _cv2()
    bgr = smoothed_bgr(image, params, cv2)
    feats = gt.features(image, bgr, params.size / 256)
    nll = []
    for side in (start, ~start):
        model = gt.fit_mixture(feats[side.ravel()], cv2)
        if model is None:
            return out
        nll.append(gt.neg_log_likelihood(feats, *model).reshape(start.shape))
    pair = gt.contrast_weights(bgr.astype(np.float64))
    result = gt.cut(gt.UNARY_WEIGHT * nll[0], gt.UNARY_WEIGHT * nll[1], pair, fg, bg)
    return {**out, "result": result, "cut": np.array(True),
            "nll_fg": nll[0].astype(np.float32), "nll_bg": nll[1].astype(np.float32)}


def dump(args, layout, params) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    i, n = (int(x) for x in args.shard.split("/"))
    ids = [x for k, x in enumerate(sorted(layout.ids)) if k % n == i]
    t0 = time.perf_counter()
    for k in range(0, len(ids), 20):
        chunk = ids[k:k + 20]
        data = load(args.cache, layout.positions(chunk))
        for j, x in enumerate(chunk):
            d = dump_one(data["image"][j], data["src"][j], data["heat"][j], params)
            np.savez_compressed(out / f"{x}.npz", **d)
        print(f"{k + len(chunk)}/{len(ids)} {time.perf_counter() - t0:.0f} s", flush=True)


def image_features(image, params, norm: str) -> np.ndarray:
    cv2 = _cv2()
    f = gt.features(image, smoothed_bgr(image, params, cv2), params.size / 256)
    if norm == "z":
        f = (f - f.mean(axis=0)) / (f.std(axis=0) + 1e-6)
    return f


def coarse_texture(image, scale: float) -> np.ndarray:
    """(S * S, 2): the refiner's local std and gradient magnitude at ``scale`` x its scales."""
    rgb = np.moveaxis(image, 0, -1)
    return gt.features(image, rgb[..., ::-1], scale)[:, 3:]


def pooled_models(args, layout, params, norm: str, k: int):
    """One mixture per side over the confident pixels of every image's result."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(0)
    ids = sorted(layout.ids)
    sides = ([], [])
    for c in range(0, len(ids), 40):
        chunk = ids[c:c + 40]
        data = load(args.cache, layout.positions(chunk))
        for j, x in enumerate(chunk):
            d = np.load(Path(args.dumps) / f"{x}.npz")
            if not d["cut"]:
                continue
            f = image_features(data["image"][j], params, norm)
            for side, m in zip(sides, (d["result"], ~d["result"]), strict=True):
                conf = np.flatnonzero(ndi.binary_erosion(m, iterations=ERODE).ravel())
                if len(conf):
                    side.append(f[rng.choice(conf, min(PER_IMAGE, len(conf)), replace=False)])
    cv2 = _cv2()
    return [gt.fit_mixture(np.concatenate(s), cv2, components=k) for s in sides]


def refit(f: np.ndarray, sides, cv2) -> list[np.ndarray | None]:
    """Per side, UNARY_WEIGHT x -log p under a mixture fitted on that side's pixels of ``f``
    (None where too few pixels)."""
    out = []
    for m in sides:
        model = gt.fit_mixture(f[m.ravel()], cv2)
        out.append(None if model is None else
                   gt.UNARY_WEIGHT * gt.neg_log_likelihood(f, *model).reshape(m.shape))
    return out


def recut(kind: str, w: float, d, image, heat, params, pooled, cv2) -> np.ndarray:
    """One image's recut under variant ``kind:w`` (see the module docstring)."""
    from scipy import ndimage as ndi

    u = [gt.UNARY_WEIGHT * d["nll_fg"].astype(np.float64),
         gt.UNARY_WEIGHT * d["nll_bg"].astype(np.float64)]
    f = image_features(image, params, "z" if kind == "z" else "raw")
    start, bg = d["start"], d["bg"]
    if kind in ("raw", "z") and w > 0:
        u = [u[s] + w * gt.neg_log_likelihood(f, *pooled[s]).reshape(start.shape)
             for s in (0, 1)]
    elif kind == "w":
        u = [w / gt.UNARY_WEIGHT * x for x in u]
    elif kind == "seed" and d["fg"].sum() >= 4 * gt.COMPONENTS * f.shape[1]:
        u[0] = (1 - w) * u[0] + w * refit(f, [d["fg"]], cv2)[0]
    elif kind in ("ms", "erode"):
        if kind == "ms":
            f = np.column_stack([f, coarse_texture(image, w * params.size / 256)])
            sides = (start, ~start)
        else:
            sides = [ndi.binary_erosion(m, iterations=int(w)) for m in (start, ~start)]
        u = [x if y is None else y for x, y in zip(u, refit(f, sides, cv2), strict=True)]
    elif kind == "bg":
        bg = heat <= w
    bgr = smoothed_bgr(image, params, cv2).astype(np.float64)
    return gt.cut(u[0], u[1], gt.contrast_weights(bgr), d["fg"], bg)


def score(args, layout, params) -> None:
    tune, held = split_ids(layout.ids)
    if args.tune_subset:
        tune = sorted(np.random.default_rng(0).permutation(tune)[:args.tune_subset].tolist())
    ids = tune if args.part == "tune" else held
    data = load(args.cache, layout.positions(ids))
    dumps = [np.load(Path(args.dumps) / f"{x}.npz") for x in ids]
    print(f"cache {args.cache}: {args.part} {len(ids)} images; load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    cv2 = _cv2()
    models = {}
    for spec in args.variants.split(";"):
        kind, _, rest = spec.partition(":")
        k, w = (int(rest.split("/")[0]), float(rest.split("/")[1])) if "/" in rest else \
            (0, float(rest))
        if kind in ("raw", "z") and (kind, k) not in models and w > 0:
            models[kind, k] = pooled_models(args, layout, params, kind, k)
        t0 = time.perf_counter()
        pred = [recut(kind, w, d, data["image"][j], data["heat"][j], params,
                      models.get((kind, k)), cv2) if d["cut"] else d["result"]
                for j, d in enumerate(dumps)]
        ms = 1000 * (time.perf_counter() - t0) / len(pred)
        dice, _ = dice_iou(np.stack(pred), data["mask"])
        print(f"| {spec} | {dice.mean():.4f} | {ms:.0f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=("dump", "score"))
    ap.add_argument("cache")
    ap.add_argument("--out", default=None)
    ap.add_argument("--shard", default="0/1")
    ap.add_argument("--dumps", default=None)
    ap.add_argument("--variants", default="raw:16/0")
    ap.add_argument("--part", choices=("tune", "held_out"), default="tune")
    ap.add_argument("--tune-subset", type=int, default=200)
    args = ap.parse_args()

    from gazeprep.contract.cache import validate

    layout = validate(args.cache)
    (dump if args.stage == "dump" else score)(args, layout, params_of(layout))


if __name__ == "__main__":
    main()
