"""Variants around the GrabCut refiners on real gaze, for choosing ``grabcut_gaze``'s seeds.

Usage (from the project root; the 256 px cache of ``compare_refiners.py``)::

    OMP_NUM_THREADS=1 .venv/bin/python pipelines/refiner_variants.py /tmp/kv256.zarr \\
        --variants "gc:0.7/0/1/0.2;gc:0.7/0.5/0.5/0.2" [--part tune|held_out] \\
        [--tune-subset 200] [--json out.json]

A variant is one of (``;`` between variants):

- ``gc:A/B/C/G``: GrabCut (:func:`gazeprep.render.refine.grabcut.cut`) with sure foreground
  ``src > A`` where also ``heat > B``, probable foreground the watershed pseudo-mask or
  ``src > C``, sure background ``heat <= G``. ``gc:0.7/0/1/0.2`` is ``--refine grabcut``,
  ``gc:0.7/0.5/0.5/0.2`` is ``--refine grabcut_gaze``.
- ``vote:V1,V2,...``: the pixel-wise majority of ``gc:`` variants (their specs without ``gc:``).
- ``and`` / ``or``: ``grabcut`` and ``watershed`` intersected / united; ``clip:T``: ``grabcut``
  where ``heat > T`` only.
- ``crf:U/SXY/SRGB/WB/WG``: a dense CRF (``pydensecrf2``) over the image, 5 mean-field steps,
  with a Gaussian kernel (3 px, weight WG) and a bilateral one (SXY px, SRGB colour levels,
  weight WB); unary U = ``gaze`` (0.9 on ``src > 0.7``, 0.1 on ``heat <= 0.2``, 0.6 on the
  watershed result, 0.4 elsewhere) or ``grabcut`` (0.95 / 0.05 on the seeds, 0.6 on the
  GrabCut result, 0.4 elsewhere).

Mean Dice on ``--part`` (the seeded tuning subset of ``compare_refiners.py`` or the 100
held-out ids) and ms per image of the variant alone, one per line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from compare_refiners import load
from kvasir_split import split_ids

from gazeprep.contract.metrics import dice_iou
from gazeprep.render.params import RenderParams
from gazeprep.render.refine import grabcut, watershed


def gc_variant(spec: str, params):
    a, b, c, g = (float(x) for x in spec.split("/"))

    def fn(image, src, heat):
        fg = (src > a) & (heat > b)
        if not fg.any():
            return fg
        probable = watershed.refine(image, src, heat, params) | (src > c)
        return grabcut.cut(image, fg, heat <= g, probable, params)
    return fn


def crf_variant(spec: str, params):
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_softmax

    unary, sxy, srgb, wb, wg = spec.split("/")

    def fn(image, src, heat):
        fg, bg = src > params.pseudo_threshold, heat <= params.bg_threshold
        if unary == "gaze":
            mid, hi, lo = watershed.refine(image, src, heat, params), 0.9, 0.1
        else:
            mid, hi, lo = grabcut.refine(image, src, heat, params), 0.95, 0.05
        p = np.where(fg, hi, np.where(bg, lo, np.where(mid, 0.6, 0.4))).astype(np.float32)
        s = src.shape[0]
        d = dcrf.DenseCRF2D(s, s, 2)
        d.setUnaryEnergy(np.ascontiguousarray(unary_from_softmax(np.stack([1 - p, p]))))
        d.addPairwiseGaussian(sxy=3, compat=float(wg))
        d.addPairwiseBilateral(sxy=float(sxy), srgb=float(srgb), compat=float(wb),
                               rgbim=np.ascontiguousarray(np.moveaxis(image, 0, -1)))
        q = np.array(d.inference(5)).reshape(2, s, s)
        return q[1] > q[0]
    return fn


def variant(spec: str, params):
    """fn(image, src, heat) -> (S, S) bool of one variant spec (see the module docstring)."""
    kind, _, rest = spec.partition(":")

    def gcut(im, s, h):
        return grabcut.refine(im, s, h, params)

    if kind == "gc":
        return gc_variant(rest, params)
    if kind == "vote":
        fns = [gc_variant(x, params) for x in rest.split(",")]
        return lambda im, s, h: 2 * np.sum([f(im, s, h) for f in fns], axis=0) > len(fns)
    if kind in ("and", "or"):
        op = np.logical_and if kind == "and" else np.logical_or
        return lambda im, s, h: op(gcut(im, s, h), watershed.refine(im, s, h, params))
    if kind == "clip":
        return lambda im, s, h: gcut(im, s, h) & (h > float(rest))
    if kind == "crf":
        return crf_variant(rest, params)
    raise SystemExit(f"unknown variant {spec!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cache")
    ap.add_argument("--variants", required=True)
    ap.add_argument("--part", choices=("tune", "held_out"), default="tune")
    ap.add_argument("--tune-subset", type=int, default=200,
                    help="tuning ids scored (seeded subset as compare_refiners.py; 0: all 780)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from gazeprep.contract.cache import validate

    layout = validate(args.cache)
    attrs = layout.attrs["params"]
    params = RenderParams(**{k: v for k, v in attrs.items() if k not in ("ratios", "image")},
                          ratios=tuple(attrs["ratios"]))
    tune, held = split_ids(layout.ids)
    if args.tune_subset:
        tune = sorted(np.random.default_rng(0).permutation(tune)[:args.tune_subset].tolist())
    ids = tune if args.part == "tune" else held
    data = load(args.cache, layout.positions(ids))
    print(f"cache {args.cache}: {args.part} {len(ids)} images; load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    rows = {}
    for spec in args.variants.split(";"):
        fn = variant(spec, params)
        t0 = time.perf_counter()
        pred = np.stack([fn(im, s, h) for im, s, h in
                         zip(data["image"], data["src"], data["heat"], strict=True)])
        ms = 1000 * (time.perf_counter() - t0) / len(pred)
        d, _ = dice_iou(pred, data["mask"])
        rows[spec] = {"dice": float(d.mean()), "ms_per_image": ms}
        print(f"| {spec} | {d.mean():.4f} | {ms:.0f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cache": args.cache, "part": args.part, "n": len(ids), "rows": rows,
                       "load": os.getloadavg()[0]}, f, indent=2)


if __name__ == "__main__":
    main()
