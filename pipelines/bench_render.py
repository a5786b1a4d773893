"""Render speed against the GazeMedSeg heatmap recipe, side by side in one run, + cache reads.

Usage (from the project root)::

    .venv/bin/python pipelines/bench_render.py [--data ../shared/data] [--gaze data/kvasir/gaze]
        [--size 256] [--levels 4] [--out data/bench/maps.zarr] [--anchor-n 880] [--reads 4000]

What each side includes (all on the 880 Kvasir-SEG training images with their real gaze):

- ours, gaze -> maps: the numba kernels for the L track maps + the heatmap of every image
  (the heatmap evaluated directly at S), session combination, the pseudo-mask threshold, and
  the write of ``maps``/``heatmap``/``pseudo`` to a sharded Zarr v3 group. No image decoding.
- ours, full render: ``gazeprep render`` as a library call (``update_cache(force=True)``):
  image + mask decode and resize (skimage), maps, heatmap, pseudo-mask with its image
  refinement, and the Zarr write of all five arrays.
- anchor, GazeMedSeg heatmap: per image, duration-weighted impulses on a 768 x 768 canvas,
  Gaussian sigma 70 px (skimage.filters.gaussian, reflect, truncate 4), min-max normalisation,
  cubic resize to S (skimage.transform.resize order=3). One map per image, no image decoding,
  no write.

Numba compile time is excluded (a warm-up call first; the kernels are ``cache=True``).
Cache reads: random order over all samples, one process, (a) one sample per call (``image``,
``maps``, ``pseudo``, each ``arr[i]``) and (b) batches of 64 random samples per call
(``arr.oindex[sorted idx]``), (c) whole shards in random shard order (a shuffle buffer's
access pattern).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import zarr

    from gazeprep.cache import plan_render, read_tracks, update_cache
    from gazeprep.maps import (
        RenderParams,
        combine_sessions,
        default_ratios,
        gazemedseg_heatmap,
        pseudo_masks,
        render_tracks,
    )

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--gaze", type=Path, default=Path("data/kvasir/gaze"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path("data/bench/maps.zarr"))
    ap.add_argument("--anchor-n", type=int, default=880, help="images timed for the anchor")
    ap.add_argument("--reads", type=int, default=4000, help="random single-sample reads")
    args = ap.parse_args()

    if not (args.gaze / "tracks.parquet").is_file():
        csv = args.data / "gazemedseg" / "kvasir_fixation.csv"
        exe = str(Path(sys.executable).with_name("gazeprep"))
        subprocess.run([exe, "ingest", str(csv), "--out", str(args.gaze)], check=True)
    by_id, _ = read_tracks(args.gaze)
    plan = plan_render(args.gaze, args.data / "kvasir-seg" / "images",
                       args.data / "kvasir-seg" / "masks")
    n = len(plan.samples)
    params = RenderParams(size=args.size, ratios=default_ratios(args.levels))
    s = params.size

    # Warm-up: load the numba kernels (compiled once, cached on disk) outside the timings.
    render_tracks(plan.samples[0].tracks, params)

    # Ours, gaze -> maps (+ heatmap, pseudo threshold, Zarr write of those three arrays).
    t0 = time.perf_counter()
    flat, groups = [], []
    for smp in plan.samples:
        groups.append(list(range(len(flat), len(flat) + len(smp.tracks))))
        flat.extend(smp.tracks)
    per_m, per_h = render_tracks(flat, params)
    maps = combine_sessions(per_m, groups, params.combine)
    heat = combine_sessions(per_h, groups, params.combine)[:, None]
    pseudo = pseudo_masks(maps, RenderParams(**{**params.to_dict(), "ratios": params.ratios,
                                                "refine": "none"}))
    t_kernels = time.perf_counter() - t0
    gz = args.out.with_name(args.out.stem + "_mapsonly.zarr")
    g = zarr.create_group(store=str(gz), overwrite=True, zarr_format=3)
    for name, arr in (("maps", maps.astype(np.float16)), ("heatmap", heat.astype(np.float16)),
                      ("pseudo", pseudo)):
        c = arr.shape[1]
        a = g.create_array(name, shape=arr.shape, dtype=arr.dtype, chunks=(1, c, s, s),
                           shards=(32, c, s, s), fill_value=0)
        a[:] = arr
    t_maps = time.perf_counter() - t0

    # Ours, full render (image/mask decode + resize, refinement, all arrays written).
    t0 = time.perf_counter()
    report = update_cache(plan, params, args.out, force=True)
    t_full = time.perf_counter() - t0
    assert len(report.rendered) == n

    # Anchor: the literal GazeMedSeg recipe, per image.
    ids = [smp.id for smp in plan.samples][: args.anchor_n]
    t0 = time.perf_counter()
    for i in ids:
        for t in by_id.get(i, []):
            gazemedseg_heatmap(t.x, t.y, t.duration_ms, s)
    t_anchor = time.perf_counter() - t0
    na = len(ids)

    # Agreement of our direct heatmap with the literal recipe (first 50 images).
    diffs = []
    for k, i in enumerate(ids[:50]):
        t = by_id[i][0]
        diffs.append(np.abs(gazemedseg_heatmap(t.x, t.y, t.duration_ms, s) - heat[k, 0]).max())

    # Random-access reads, one process.
    rng = np.random.default_rng(0)
    g = zarr.open_group(str(args.out), mode="r")
    order = rng.integers(0, n, args.reads)
    t0 = time.perf_counter()
    for i in order:
        g["image"][i], g["maps"][i], g["pseudo"][i]
    t_read1 = time.perf_counter() - t0
    arrs = [g["image"], g["maps"], g["pseudo"]]
    t0 = time.perf_counter()
    nb = 0
    for _ in range(max(1, args.reads // 64)):
        idx = np.sort(rng.choice(n, 64, replace=False))
        for a in arrs:
            a.oindex[idx]
        nb += 64
    t_readb = time.perf_counter() - t0
    shard_n = g["image"].shards[0]
    t0 = time.perf_counter()
    for k in rng.permutation((n + shard_n - 1) // shard_n):
        sl = slice(k * shard_n, min(n, (k + 1) * shard_n))
        for a in arrs:
            a[sl]
    t_reads = time.perf_counter() - t0

    per = {k: v / n * 1e3 for k, v in (("maps", t_maps), ("kern", t_kernels), ("full", t_full))}
    anchor_ms = t_anchor / na * 1e3
    rows = [
        ("ours: gaze -> L maps + heatmap (numba kernels only)", per["kern"], ""),
        ("ours: gaze -> maps + heatmap + pseudo + Zarr write", per["maps"],
         f"{anchor_ms / per['maps']:.0f}x"),
        ("ours: full render (decode+resize image & mask, refine, Zarr)", per["full"],
         f"{anchor_ms / per['full']:.1f}x"),
        ("anchor: GazeMedSeg heatmap (768 canvas, sigma 70, cubic resize)", anchor_ms, "1x"),
    ]
    print(f"# pipelines/bench_render.py — {n} images, S = {s}, L = {params.levels}, "
          f"anchor on {na} images")
    print()
    print("| what | ms / image | anchor / ours |")
    print("|---|---|---|")
    for name, ms, ratio in rows:
        print(f"| {name} | {ms:.2f} | {ratio} |")
    print()
    print(f"max |ours heatmap - literal recipe| over 50 images: {max(diffs):.4f} "
          f"(median {np.median(diffs):.4f})")
    print(f"random reads, 1 process, image+maps+pseudo per sample: "
          f"{args.reads / t_read1:.0f} samples/s one per call; "
          f"{nb / t_readb:.0f} samples/s in random batches of 64; "
          f"{n / t_reads:.0f} samples/s reading whole shards ({shard_n} samples) in random order")
    mib = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file()) / 2**20
    print(f"cache: {args.out} ({mib:.0f} MiB)")


if __name__ == "__main__":
    main()
