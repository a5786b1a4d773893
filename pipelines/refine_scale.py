"""Refining at a larger size than the cache's: Dice at the cache's S of a refiner run at S'.

Usage (from the project root; two caches of the same images and gaze, rendered at S = 256
and at S' = 384 or 512, e.g. ``gazeprep render ... --size 512 --refine none``)::

    OMP_NUM_THREADS=1 .venv/bin/python pipelines/refine_scale.py /tmp/kv256.zarr \\
        --at /tmp/kv512.zarr [--refiners grabcut_texture] [--part tune|held_out] \\
        [--tune-subset 200]

Each refiner runs on the image, track maps and heatmap of the ``--at`` cache with that cache's
render parameters (pixel settings scale with its size), and its pseudo-mask is shrunk to the
first cache's S (area average, > 0.5) and scored against the first cache's masks: the same
ground truth as ``compare_refiners.py``. The Dice at S' against the ``--at`` cache's own masks
and the ms per image of the refiner alone (one thread) are printed beside it. Ids as
``compare_refiners.py`` (seeded subset of the 780 tuning ids, or the 100 held out).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
from compare_refiners import load
from kvasir_split import split_ids
from texture_variants import params_of

from gazeprep.contract.metrics import dice_iou
from gazeprep.render.refine import REFINERS


def shrink(mask: np.ndarray, size: int) -> np.ndarray:
    """(S', S') bool -> (size, size) bool by area average > 0.5."""
    import cv2

    return cv2.resize(mask.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) > 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cache")
    ap.add_argument("--at", required=True)
    ap.add_argument("--refiners", default="grabcut_texture")
    ap.add_argument("--part", choices=("tune", "held_out"), default="tune")
    ap.add_argument("--tune-subset", type=int, default=200)
    ap.add_argument("--texture-pairwise-scaled", action="store_true",
                    help="grabcut_texture's unary weight times 256 / S' (its pairwise term "
                         "then weighs as at 256 px: boundaries grow with S', areas with S'^2)")
    args = ap.parse_args()

    from gazeprep.contract.cache import validate

    ref, big = validate(args.cache), validate(args.at)
    if sorted(ref.ids) != sorted(big.ids):
        raise SystemExit("the two caches hold different ids")
    tune, held = split_ids(ref.ids)
    if args.tune_subset:
        tune = sorted(np.random.default_rng(0).permutation(tune)[:args.tune_subset].tolist())
    ids = tune if args.part == "tune" else held
    truth = load(args.cache, ref.positions(ids))["mask"]
    data = load(args.at, big.positions(ids))
    params = params_of(big)
    if args.texture_pairwise_scaled:
        from gazeprep.render.refine import grabcut_texture

        grabcut_texture.UNARY_WEIGHT *= 256 / big.size
    print(f"{args.part} {len(ids)} images, refined at {big.size}, scored at {ref.size}; load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    for name in args.refiners.split(","):
        fn, p = REFINERS[name].fn, dataclasses.replace(params, refine=name)
        t0 = time.perf_counter()
        pred = np.stack([fn(im, s, h, p) for im, s, h in
                         zip(data["image"], data["src"], data["heat"], strict=True)])
        ms = 1000 * (time.perf_counter() - t0) / len(pred)
        at_ref, _ = dice_iou(np.stack([shrink(m, ref.size) for m in pred]), truth)
        at_big, _ = dice_iou(pred, data["mask"])
        print(f"| {name} at {big.size} | {at_ref.mean():.4f} (at {ref.size}) | "
              f"{at_big.mean():.4f} (at {big.size}) | {ms:.0f} ms |", flush=True)


if __name__ == "__main__":
    main()
