"""Pseudo-mask refiners side by side on real gaze: Dice on the 780 tune / 100 held-out split.

Usage (from the project root; a cache rendered with masks, e.g. at 256 px)::

    .venv/bin/gazeprep ingest ../shared/data/gazemedseg/kvasir_fixation.csv --out /tmp/kv_gaze
    .venv/bin/gazeprep render --gaze /tmp/kv_gaze --images ../shared/data/kvasir-seg/images \\
        --masks ../shared/data/kvasir-seg/masks --size 256 --out /tmp/kv256.zarr
    OMP_NUM_THREADS=1 .venv/bin/python pipelines/compare_refiners.py /tmp/kv256.zarr \\
        [--refiners watershed,grabcut,random_walker] [--tune-subset 200] [--json out.json]
        [--set pseudo_threshold=0.6]

Every refiner of :data:`gazeprep.render.refine.REFINERS` runs on the cache's stored track maps,
heatmap and image with the render parameters the cache records (only ``refine`` changes); the
Dice against the ground-truth masks is reported on a seeded subset of the tuning ids and on the
100 held-out ids of ``pipelines/kvasir_split.py``; ms per image is the mean single-thread time
of the refiner alone (maps already rendered), measured on the held-out images.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import numpy as np
from kvasir_split import split_ids

from gazeprep.contract.metrics import dice_iou
from gazeprep.render.maps import from_uint8
from gazeprep.render.params import RenderParams
from gazeprep.render.refine import REFINERS


def load(cache: str, positions: list[int]) -> dict[str, np.ndarray]:
    """image (uint8), src (mean of the levels), heat and mask of the given samples."""
    import zarr

    g = zarr.open_group(cache, mode="r")
    idx = np.asarray(positions)
    maps = from_uint8(g["maps"].get_orthogonal_selection((idx,)))
    return {"image": g["image"].get_orthogonal_selection((idx,)),
            "src": maps.mean(axis=1),
            "heat": from_uint8(g["heatmap"].get_orthogonal_selection((idx,)))[:, 0],
            "mask": g["mask"].get_orthogonal_selection((idx,))[:, 0] > 0}


def render_params(layout) -> RenderParams:
    """The render parameters a cache records (its ``refine`` as rendered)."""
    attrs = layout.attrs["params"]
    return RenderParams(**{k: v for k, v in attrs.items() if k not in ("ratios", "image")},
                        ratios=tuple(attrs["ratios"]))


def score(name: str, data: dict, params: RenderParams) -> tuple[float, float]:
    """(mean Dice, ms per image) of refiner ``name`` on ``data``."""
    fn = REFINERS[name].fn
    p = dataclasses.replace(params, refine=name)
    t0 = time.perf_counter()
    pred = np.stack([fn(im, s, h, p) for im, s, h in
                     zip(data["image"], data["src"], data["heat"], strict=True)])
    ms = 1000 * (time.perf_counter() - t0) / len(pred)
    d, _ = dice_iou(pred, data["mask"])
    return float(d.mean()), ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cache")
    ap.add_argument("--refiners", default=",".join(REFINERS))
    ap.add_argument("--tune-subset", type=int, default=200,
                    help="tuning ids scored (seeded subset; 0: all 780)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a render parameter, e.g. pseudo_threshold=0.6 (repeatable)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from gazeprep.contract.cache import validate

    layout = validate(args.cache)
    params = render_params(layout)
    for item in args.set:
        name, value = item.split("=", 1)
        params = dataclasses.replace(params, **{name: type(getattr(params, name))(value)})
    tune, held = split_ids(layout.ids)
    if args.tune_subset:
        tune = sorted(np.random.default_rng(0).permutation(tune)[:args.tune_subset].tolist())
    sets = {"tune": load(args.cache, layout.positions(tune)),
            "held_out": load(args.cache, layout.positions(held))}
    print(f"cache {args.cache}: S={layout.size}; tune {len(tune)}, held out {len(held)}; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    rows = {}
    for name in args.refiners.split(","):
        d_tune, _ = score(name, sets["tune"], params)
        d_held, ms = score(name, sets["held_out"], params)
        rows[name] = {"tune_dice": d_tune, "held_out_dice": d_held, "ms_per_image": ms}
        print(f"| {name} | {d_tune:.4f} | {d_held:.4f} | {ms:.1f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cache": args.cache, "size": layout.size, "n_tune": len(tune),
                       "rows": rows, "load": os.getloadavg()[0]}, f, indent=2)


if __name__ == "__main__":
    main()
