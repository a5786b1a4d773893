"""How far outside a refiner's border the ground-truth outline lies: Dice of the refiner's
pseudo-masks grown by 0, 1, 1.5, 2, ... pixels (Euclidean) on the tuning ids.

Usage (from the project root; a cache rendered with masks, as for ``compare_refiners.py``)::

    OMP_NUM_THREADS=1 .venv/bin/python pipelines/margin_scan.py /tmp/kv256.zarr \\
        [--refiner grabcut_filled] [--margins 0,1,1.5,2,2.5,3] [--tune-subset 0] [--jobs 2]

Only the tuning ids of ``pipelines/kvasir_split.py`` are scored (``--tune-subset 0``: all 780);
the held-out 100 are never read. Chose ``grabcut_grown``'s one-pixel margin (docs/labels.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from multiprocessing import Pool

import numpy as np
from compare_refiners import load, render_params
from kvasir_split import split_ids

from gazeprep.contract.metrics import dice_iou
from gazeprep.render.refine import REFINERS

_WORK: dict = {}


def _refine(i: int) -> np.ndarray:
    d, p = _WORK["data"], _WORK["params"]
    return REFINERS[p.refine].fn(d["image"][i], d["src"][i], d["heat"][i], p)


def main() -> None:
    from scipy import ndimage as ndi

    from gazeprep.contract.cache import validate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cache")
    ap.add_argument("--refiner", default="grabcut_filled")
    ap.add_argument("--margins", default="0,1,1.5,2,2.5,3")
    ap.add_argument("--tune-subset", type=int, default=200,
                    help="tuning ids scored (seeded subset; 0: all 780)")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()

    layout = validate(args.cache)
    params = dataclasses.replace(render_params(layout), refine=args.refiner)
    tune, _ = split_ids(layout.ids)
    if args.tune_subset:
        tune = sorted(np.random.default_rng(0).permutation(tune)[:args.tune_subset].tolist())
    _WORK.update(data=load(args.cache, layout.positions(tune)), params=params)
    with Pool(args.jobs) as pool:  # fork: the workers share _WORK
        pred = np.stack(pool.map(_refine, range(len(tune)), chunksize=4))
    mask = _WORK["data"]["mask"]
    base, _ = dice_iou(pred, mask)
    print(f"{args.refiner} on {len(tune)} tuning ids at S={layout.size}, load "
          f"{os.getloadavg()[0]:.1f}")
    print("| margin (px) | Dice | images better / worse |\n|---|---|---|")
    for margin in (float(m) for m in args.margins.split(",")):
        grown = np.stack([ndi.distance_transform_edt(~m) <= margin if m.any() else m
                          for m in pred])
        d, _ = dice_iou(grown, mask)
        print(f"| {margin:g} | {d.mean():.4f} | {(d > base + 1e-9).sum()} / "
              f"{(d < base - 1e-9).sum()} |", flush=True)


if __name__ == "__main__":
    main()
