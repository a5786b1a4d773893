"""Render speed against the GazeMedSeg heatmap recipe, side by side in one run, + cache reads.

Usage (from the project root)::

    .venv/bin/python pipelines/bench_render.py [--data $GAZE_DATA] [--gaze data/kvasir/gaze]
        [--size 256] [--levels 4] [--out data/bench/maps.zarr] [--anchor-n 880] [--reads 2000]
    .venv/bin/python pipelines/bench_render.py --whole --no-in-process --anchor-n 200 \
        --scales 1,4,16

What each side includes (all on the 880 Kvasir-SEG training images with their real gaze):

- ours, gaze -> cache: per shard of 32 images, the numba kernels for the L track maps and the
  heatmap (evaluated directly at S), session combination, the pseudo-mask threshold, the uint8
  storage conversion and the write of ``maps``/``heatmap``/``pseudo`` to a sharded Zarr v3
  group (the same writer as ``gazeprep render``). No image decoding: the anchor decodes none.
- ours, full render: ``gazeprep render`` as a library call (``update_cache(force=True)``):
  image + mask decode and resize, maps, heatmap, pseudo-mask with its default watershed
  refinement against the image, and the Zarr write of all five arrays.
- anchor, GazeMedSeg heatmap, as GazeMedSeg's own notebook runs it
  (``notebooks/gaze_annotation/generate_gaze_annotation_kvasir.ipynb`` of med-air/GazeMedSeg,
  commit 511824448fb2, cells 3-4, "Generate Heatmaps"): the fixation report read with pandas,
  grouped by image, each image's rows selected with ``.loc``; duration-weighted impulses at
  ``round(p * 768) - 1`` of a float32 768 x 768 canvas, ``scipy.ndimage.gaussian_filter``
  (sigma 70), min-max normalisation, ``cv2.resize(..., INTER_CUBIC)`` to the image's original
  size, float16. :func:`gazemedseg_notebook_heatmap` repeats those calls (their code is not
  copied here). Their cell then saves each heatmap as a JPEG; that save is left out, so the
  anchor does less work than the notebook. One map per image, no image decoding, no write.

Numba compile time is excluded (a warm-up call first; the kernels are ``cache=True``).

``--refine`` (default ``watershed``) is the render's pseudo-mask refiner in every timing of ours:
the comparison is of rendering the gaze; render's default refiner, GrabCut, adds its own time
(``docs/labels.md``).

Whole processes (``--whole``), as a user times them (numba's cache warm, masks given, a new
cache each time): ``gazeprep render --levels L --images ... --masks ...`` (every core,
and ``--jobs 1``) against one process running the anchor recipe above on ``--anchor-n`` images
(its imports and track loading included, as ``gazeprep``'s are), per image. Wall times, and
the ratio, come from unsampled runs (ours: the better of one before and one after the anchor;
the anchor: one); one more run of each, its process tree sampled, gives CPU seconds, cores used
and peak memory (summed PSS, see ``pipelines/_whole.py``). Then the scaling: the image and mask
folders tiled 4x and 16x (symlinks under new ids ``<id>_t<k>``, the GazeMedSeg report with the
same ids, ingested), each rendered as a whole process with the same figures and the main
process's peak memory. Every figure carries the machine's 1-minute load average.

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
import shutil
import sys
import tempfile
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


def gazemedseg_notebook_heatmap(points: np.ndarray, original_size: tuple[int, int],
                                canvas: int = 768, sigma: float = 70.0) -> np.ndarray:
    """GazeMedSeg's ``draw_heatmap`` as its notebook calls it (see the module notes).

    ``points``: (n, 3) normalised x, y and duration; ``original_size``: (height, width).
    Returns the float16 heatmap at the original size.
    """
    import cv2
    from scipy import ndimage

    heat = np.zeros((canvas, canvas), dtype=np.float32)
    for x, y, w in points:
        heat[round(y * canvas) - 1, round(x * canvas) - 1] += w
    heat = ndimage.gaussian_filter(heat, sigma)
    heat = (heat - heat.min()) / ((heat.max() - heat.min()) * 1.0)
    heat = cv2.resize(heat, dsize=(original_size[1], original_size[0]),
                      interpolation=cv2.INTER_CUBIC)
    return heat.astype(np.float16)


def anchor_process(report: Path, n: int) -> None:
    """The anchor as its notebook runs it: the report with pandas, one heatmap per image."""
    import pandas as pd

    df = pd.read_csv(report)
    for k, (_name, group) in enumerate(df.groupby("IMAGE")):
        if k == n:
            break
        image = group["IMAGE"].tolist()[0]
        size = (int(group["IMAGE_HEIGHT"].tolist()[0]), int(group["IMAGE_WIDTH"].tolist()[0]))
        points = np.array(df.loc[df["IMAGE"] == image,
                                 ["CURRENT_FIX_X", "CURRENT_FIX_Y", "CURRENT_FIX_DURATION"]])
        gazemedseg_notebook_heatmap(points, size)


def tiled_dataset(data: Path, root: Path, k: int) -> tuple[Path, Path, Path, int]:
    """Kvasir-SEG images and masks ``k`` times (symlinks ``<id>_t<j>``) and their gaze (the
    GazeMedSeg report with the same ids, ingested). Returns images, masks, gaze, count."""
    import polars as pl

    kv, report = data / "kvasir-seg", data / "gazemedseg" / "kvasir_fixation.csv"
    img, msk, gaze = root / "images", root / "masks", root / "gaze"
    ids = [f.stem for f in sorted((kv / "images").glob("*.jpg"))]
    for sub, folder in (("images", img), ("masks", msk)):
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(k):
            for i in ids:
                link = folder / f"{i}_t{j}.jpg"
                if not link.exists():
                    link.symlink_to((kv / sub / f"{i}.jpg").resolve())
    df = pl.read_csv(report, infer_schema_length=0)
    tiled = pl.concat([df.with_columns(pl.col("IMAGE").str.replace(r"\.jpg$", f"_t{j}.jpg"))
                       for j in range(k)])
    tiled.write_csv(root / "report.csv")
    run(["gazeprep", "ingest", root / "report.csv", "--out", gaze], echo=False)
    return img, msk, gaze, len(ids) * k


def whole(args, tmp: Path) -> dict:
    """Whole-process timings: ours vs the anchor per image, then the scaling."""
    from _whole import measure

    from gazeprep.jobs import cores

    img, msk = args.data / "kvasir-seg" / "images", args.data / "kvasir-seg" / "masks"
    n = len(list(img.glob("*.jpg")))
    base = ["gazeprep", "render", "--levels", str(args.levels), "--size", str(args.size),
            "--refine", args.refine, "--gaze", args.gaze, "--images", img, "--masks", msk,
            "--out", tmp / "w.zarr"]
    run(base, echo=False)  # numba's cache on disk

    def fresh() -> None:  # a new cache each time, as a first render makes it
        shutil.rmtree(tmp / "w.zarr", ignore_errors=True)

    def ours(*extra: str) -> dict:
        return measure([*base, *extra], plain=1, before=fresh)

    anchor = [sys.executable, __file__, "--anchor-process", "--anchor-n", str(args.anchor_n),
              "--data", args.data]
    first, first1 = ours(), ours("--jobs", "1")
    a = measure(anchor, plain=1)
    last, last1 = ours(), ours("--jobs", "1")
    r = {"images": n, "anchor_images": min(args.anchor_n, n), "cores": cores(),
         "ours": min(first, last, key=lambda m: m["wall_s"]),
         "ours_jobs1": min(first1, last1, key=lambda m: m["wall_s"]), "anchor": a}
    per_anchor = a["wall_s"] / r["anchor_images"]
    r["ratio"] = per_anchor / (r["ours"]["wall_s"] / n)
    r["ratio_jobs1"] = per_anchor / (r["ours_jobs1"]["wall_s"] / n)
    r["scaling"] = []
    for k in args.scales:
        ti, tm, tg, nk = tiled_dataset(args.data, tmp / f"x{k}", k)
        m = measure(["gazeprep", "render", "--levels", str(args.levels), "--size",
                     str(args.size), "--refine", args.refine, "--gaze", tg, "--images", ti,
                     "--masks", tm,
                     "--out", tmp / f"x{k}.zarr"], plain=1,
                    before=lambda k=k: shutil.rmtree(tmp / f"x{k}.zarr", ignore_errors=True))
        m.update(scale=k, images=nk)
        r["scaling"].append(m)
        shutil.rmtree(tmp / f"x{k}.zarr")
    return r


def show_whole(r: dict) -> None:
    """Markdown tables of :func:`whole`."""
    n, na = r["images"], r["anchor_images"]
    print(f"\n# whole processes: {n} images ({r['cores']} usable cores); anchor on {na}\n")
    print("| what | wall s | ms / image | wall s, sampled | CPU s | cores used | peak PSS MiB | "
          "load |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m, k in (("`gazeprep render` (all cores)", r["ours"], n),
                       ("`gazeprep render --jobs 1`", r["ours_jobs1"], n),
                       ("anchor: GazeMedSeg heatmap recipe, one process", r["anchor"], na)):
        print(f"| {name} | {m['wall_s']:.2f} | {m['wall_s'] / k * 1e3:.1f} | "
              f"{m['wall_s_sampled']:.2f} | {m['cpu_s']:.2f} | {m['cores_used']:.2f} | "
              f"{m['peak_pss_mib']:.0f} | {m['load']:.2f} |")
    print(f"\nwhole-process ratio per image: **{r['ratio']:.1f}x** the anchor (all cores), "
          f"{r['ratio_jobs1']:.1f}x with --jobs 1")
    print("\n| data | images | wall s | ms / image | CPU s | cores used | peak PSS MiB | "
          "main RSS MiB | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for m in r["scaling"]:
        print(f"| {m['scale']}x | {m['images']:,} | {m['wall_s']:.1f} | "
              f"{m['wall_s'] / m['images'] * 1e3:.1f} | {m['cpu_s']:.1f} | "
              f"{m['cores_used']:.2f} | {m['peak_pss_mib']:.0f} | "
              f"{m['peak_rss_main_mib']:.0f} | {m['load']:.2f} |")


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
    ap.add_argument("--refine", default="watershed",
                    help="render's pseudo-mask refiner (default watershed: the fast one; "
                         "grabcut_gaze, render's default, adds about 150-200 ms per image)")
    ap.add_argument("--out", type=Path, default=Path("data/bench/maps.zarr"))
    ap.add_argument("--anchor-n", type=int, default=880, help="images timed for the anchor")
    ap.add_argument("--reads", type=int, default=2000, help="random samples read per read path")
    ap.add_argument("--whole", action="store_true",
                    help="also time whole processes against the anchor, and the scaling")
    ap.add_argument("--scales", type=lambda t: [int(v) for v in t.split(",")], default=[1, 4, 16],
                    help="--whole: dataset sizes (x the Kvasir-SEG set)")
    ap.add_argument("--no-in-process", action="store_true", help="only the --whole figures")
    ap.add_argument("--anchor-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.anchor_process:
        anchor_process(args.data / "gazemedseg" / "kvasir_fixation.csv", args.anchor_n)
        return

    if not (args.gaze / "tracks.parquet").is_file():
        csv = args.data / "gazemedseg" / "kvasir_fixation.csv"
        run(["gazeprep", "ingest", csv, "--out", args.gaze], label="bench_render")
    if args.whole:
        with tempfile.TemporaryDirectory() as tmp:
            r = whole(args, Path(tmp))
        if args.no_in_process:
            show_whole(r)
            return
    by_id, _ = read_tracks(args.gaze)
    plan = plan_render(args.gaze, args.data / "kvasir-seg" / "images",
                       args.data / "kvasir-seg" / "masks")
    n = len(plan.samples)
    params = RenderParams(size=args.size, ratios=default_ratios(args.levels), refine=args.refine)
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

    # Anchor: GazeMedSeg's notebook heatmap, per image (the report's rows, as they read them).
    import pandas as pd

    ids = [smp.id for smp in plan.samples][: args.anchor_n]
    report_df = pd.read_csv(args.data / "gazemedseg" / "kvasir_fixation.csv")
    per_image = {name.rsplit(".", 1)[0]: (
        np.array(g[["CURRENT_FIX_X", "CURRENT_FIX_Y", "CURRENT_FIX_DURATION"]]),
        (int(g["IMAGE_HEIGHT"].iloc[0]), int(g["IMAGE_WIDTH"].iloc[0])))
        for name, g in report_df.groupby("IMAGE")}
    t0 = time.perf_counter()
    for i in ids:
        gazemedseg_notebook_heatmap(*per_image[i])
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
        ("anchor: GazeMedSeg's notebook heatmap (768 canvas, scipy sigma 70, cv2 cubic resize "
         "to the original size)", anchor_ms, "1x"),
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
    if args.whole:
        show_whole(r)


if __name__ == "__main__":
    main()
