"""Render speed against the GazeMedSeg heatmap recipe, side by side in one run, + cache reads.

Usage (from the project root)::

    .venv/bin/python pipelines/bench_render.py [--data $GAZE_DATA] [--gaze data/kvasir/gaze]
        [--size 256] [--levels 4] [--out data/bench/maps.zarr] [--anchor-n 880] [--reads 2000]

What each side includes (all on the 880 Kvasir-SEG training images with their real gaze):

- ours, gaze -> cache: per shard of 32 images, the numba kernels for the L track maps and the
  heatmap (evaluated directly at S), session combination, the pseudo-mask threshold, the uint8
  storage conversion and the write of ``maps``/``heatmap``/``pseudo`` to a sharded Zarr v3
  group (the same writer as ``gazeprep render``). No image decoding: the anchor decodes none.
- ours, full render: ``gazeprep render`` as a library call (``update_cache(force=True)``):
  image + mask decode and resize, maps, heatmap, pseudo-mask with its default watershed
  refinement against the image, and the Zarr write of all five arrays.
- anchor, GazeMedSeg heatmap: per image, duration-weighted impulses on a 768 x 768 canvas,
  Gaussian sigma 70 px (skimage.filters.gaussian, reflect, truncate 4), min-max normalisation,
  cubic resize to S (skimage.transform.resize order=3). One map per image, no image decoding,
  no write.

Numba compile time is excluded (a warm-up call first; the kernels are ``cache=True``).

Cache reads, one process, of ``image`` + ``maps`` + ``pseudo`` of uniformly random samples
(with replacement): (a) one sample per call, ``array[i]`` per array, zarr's default codec
pipeline; (b) the same through the zarrs pipeline; (c)
``gazeprep.contract.zarr_io.read_rows`` on random
batches of 64 samples; (d) ``gradseg.data.cache.CacheDataset.__getitems__`` on random batches of 64
(what a DataLoader worker does per batch: the read plus the float tensors, no augmentation).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
from _common import data_dir, run


def write_gaze_arrays(samples, params, out: Path, shard: int) -> tuple[float, float]:
    """Render maps, heatmap and thresholded pseudo-mask of every sample into ``out``.

    Returns the seconds spent in the render (kernels + session combination) and in the rest
    (threshold, uint8 conversion, Zarr writes).
    """
    import zarr

    from gazeprep.contract.zarr_io import create_rows_array
    from gazeprep.render.maps import render_images, to_uint8
    from gazeprep.render.pseudo import pseudo_masks

    n, s, levels = len(samples), params.size, params.levels
    g = zarr.create_group(store=str(out), overwrite=True, zarr_format=3)
    arrays = {name: create_rows_array(g, name, n, (c, s, s), dtype, shard)
              for name, c, dtype in (("maps", levels, "uint8"), ("heatmap", 1, "uint8"),
                                     ("pseudo", 1, "uint8"))}
    threshold_only = dataclasses.replace(params, refine="none")
    t_render = t_rest = 0.0
    for a in range(0, n, shard):
        b = min(n, a + shard)
        t0 = time.perf_counter()
        maps, heat = render_images([smp.tracks for smp in samples[a:b]], params)
        t1 = time.perf_counter()
        arrays["pseudo"][a:b] = pseudo_masks(maps, threshold_only)
        arrays["maps"][a:b] = to_uint8(maps)
        arrays["heatmap"][a:b] = to_uint8(heat)
        t_render += t1 - t0
        t_rest += time.perf_counter() - t1
    return t_render, t_rest


def read_rates(out: Path, n: int, reads: int, seed: int = 0) -> dict[str, float]:
    """Samples per second of the four read paths (see the module docstring)."""
    import zarr

    from gazeprep.contract.zarr_io import open_arrays, read_rows
    from gradseg.data.cache import CacheDataset, open_cache

    names = ("image", "maps", "pseudo")
    rng = np.random.default_rng(seed)
    rates = {}
    plain = zarr.open_group(str(out), mode="r")
    for label, arrays in (("one per call, zarr default pipeline", [plain[k] for k in names]),
                          ("one per call, zarrs pipeline", list(open_arrays(out, names).values()))):
        rows = rng.integers(0, n, max(1, reads // 4))
        t0 = time.perf_counter()
        for i in rows:
            for a in arrays:
                a[int(i)]
        rates[label] = len(rows) / (time.perf_counter() - t0)
    arrays = list(open_arrays(out, names).values())
    batches = [rng.integers(0, n, 64) for _ in range(max(1, reads // 64))]
    t0 = time.perf_counter()
    for rows in batches:
        read_rows(arrays, rows)
    rates["read_rows, random batches of 64"] = 64 * len(batches) / (time.perf_counter() - t0)
    info = open_cache(out)
    ds = CacheDataset(info, list(range(n)), ("maps", "pseudo"))
    t0 = time.perf_counter()
    for rows in batches:
        ds.__getitems__([int(i) for i in rows])
    rates["CacheDataset batches of 64 (float tensors)"] = (
        64 * len(batches) / (time.perf_counter() - t0))
    return rates


def main() -> None:
    from gazeprep.render.heatmap import gazemedseg_heatmap
    from gazeprep.render.maps import render_images
    from gazeprep.render.params import RenderParams, default_ratios
    from gazeprep.render.plan import plan_render
    from gazeprep.render.writer import update_cache
    from gazeprep.tracks import read_tracks

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=data_dir())
    ap.add_argument("--gaze", type=Path, default=Path("data/kvasir/gaze"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path("data/bench/maps.zarr"))
    ap.add_argument("--anchor-n", type=int, default=880, help="images timed for the anchor")
    ap.add_argument("--reads", type=int, default=2000, help="random samples read per read path")
    args = ap.parse_args()

    if not (args.gaze / "tracks.parquet").is_file():
        csv = args.data / "gazemedseg" / "kvasir_fixation.csv"
        run(["gazeprep", "ingest", csv, "--out", args.gaze], label="bench_render")
    by_id, _ = read_tracks(args.gaze)
    plan = plan_render(args.gaze, args.data / "kvasir-seg" / "images",
                       args.data / "kvasir-seg" / "masks")
    n = len(plan.samples)
    params = RenderParams(size=args.size, ratios=default_ratios(args.levels))
    s = params.size
    args.out.parent.mkdir(parents=True, exist_ok=True)

    # Warm-up: load the numba kernels (compiled once, cached on disk) outside the timings.
    render_images([plan.samples[0].tracks, plan.samples[1].tracks * 2], params)

    gz = args.out.with_name(args.out.stem + "_gazeonly.zarr")
    t0 = time.perf_counter()
    t_render, t_rest = write_gaze_arrays(plan.samples, params, gz, 32)
    t_maps = time.perf_counter() - t0

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

    # Agreement of our direct heatmap with the literal recipe (first 50 images, one session).
    import zarr

    from gazeprep.render.maps import from_uint8

    heat = zarr.open_group(str(gz), mode="r")["heatmap"]
    diffs = []
    for k, i in enumerate(ids[:50]):
        t = by_id[i][0]
        ref = gazemedseg_heatmap(t.x, t.y, t.duration_ms, s)
        diffs.append(np.abs(ref - from_uint8(heat[k, 0])).max())

    rates = read_rates(args.out, n, args.reads)

    per = {k: v / n * 1e3 for k, v in
           (("render", t_render), ("maps", t_maps), ("full", t_full))}
    anchor_ms = t_anchor / na * 1e3
    rows = [
        ("ours: gaze -> L maps + heatmap, sessions combined (numba kernels)", per["render"],
         f"{anchor_ms / per['render']:.0f}x"),
        ("ours: gaze -> maps + heatmap + pseudo (threshold), uint8, Zarr write", per["maps"],
         f"{anchor_ms / per['maps']:.0f}x"),
        ("ours: full `gazeprep render` (decode + resize image & mask, watershed, Zarr)",
         per["full"], f"{anchor_ms / per['full']:.1f}x"),
        ("anchor: GazeMedSeg heatmap (768 canvas, sigma 70, cubic resize)", anchor_ms, "1x"),
    ]
    print(f"# pipelines/bench_render.py: {n} images, S = {s}, L = {params.levels}, "
          f"anchor on {na} images")
    print()
    print("| what | ms / image | anchor / ours |")
    print("|---|---|---|")
    for name, ms, ratio in rows:
        print(f"| {name} | {ms:.2f} | {ratio} |")
    print()
    print(f"max |ours heatmap (stored uint8) - literal recipe| over 50 images: {max(diffs):.4f} "
          f"(median {np.median(diffs):.4f})")
    print()
    print("| random reads, 1 process, image + maps + pseudo | samples / s |")
    print("|---|---|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.0f} |")
    print()
    mib = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file()) / 2**20
    print(f"cache: {args.out} ({mib:.0f} MiB)")


if __name__ == "__main__":
    main()
