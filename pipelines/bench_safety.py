"""What the safety checks cost on a real cache: damage check, one-image update, checked reads.

Usage (from the project root; the cache is rendered first when missing)::

    .venv/bin/python pipelines/bench_safety.py [--data $GAZE_DATA] [--work data/bench-safety]
        [--size 256] [--repeat 3] [--reads 2000]

On the 880 Kvasir-SEG training images with their real gaze (GazeMedSeg), it times, in one run:

- render's "up to date" path (``update_cache`` with nothing to do), with the damage check
  (every shard decoded, every row compared with its CRC32C) and with the check switched off;
- an incremental update after one image's track changed: one shard of every array is staged
  (its unchanged rows copied) and swapped in, against a full rebuild with new parameters;
- random reads of ``image`` + ``maps`` + ``pseudo`` in batches of 64 with ``read_rows``, with
  and without the CRC32C comparison of every row.

Medians of ``--repeat`` runs; the machine is shared, so compare figures of the same run only.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
from _common import data_dir


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _gaze_copy(gaze: Path, dst: Path, scale_image: str | None) -> Path:
    """tracks.parquet of ``gaze`` (no ingest.json), one image's x scaled when asked."""
    import polars as pl

    dst.mkdir(parents=True, exist_ok=True)
    tr = pl.read_parquet(gaze / "tracks.parquet")
    if scale_image is not None:
        tr = tr.with_columns(
            pl.when(pl.col("image") == scale_image).then(pl.col("x").list.eval(pl.element() * 0.9))
            .otherwise(pl.col("x")).alias("x"))
    tr.write_parquet(dst / "tracks.parquet")
    return dst


def main() -> None:
    from gazeprep.contract.zarr_io import open_arrays, read_rows
    from gazeprep.ingest import run_ingest
    from gazeprep.inspect.load import load_cache
    from gazeprep.read.options import IngestOptions
    from gazeprep.render import writer
    from gazeprep.render.params import RenderParams
    from gazeprep.render.plan import plan_render
    from gazeprep.render.writer import update_cache

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=data_dir())
    ap.add_argument("--work", type=Path, default=Path("data/bench-safety"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reads", type=int, default=2000)
    args = ap.parse_args()
    images, masks = args.data / "kvasir-seg" / "images", args.data / "kvasir-seg" / "masks"
    gaze, out = args.work / "gaze", args.work / "maps.zarr"
    if not (gaze / "tracks.parquet").is_file():
        run_ingest([args.data / "gazemedseg" / "kvasir_fixation.csv"], gaze, IngestOptions())
    params = RenderParams(size=args.size)
    plan = plan_render(gaze, images, masks)
    t0 = time.perf_counter()
    update_cache(plan, params, out)
    print(f"cache: {len(plan.samples)} images at {args.size} px ({time.perf_counter() - t0:.1f} s "
          "to bring up to date)")

    checked = _median_time(lambda: update_cache(plan, params, out), args.repeat)
    real = writer.find_damaged
    writer.find_damaged = lambda *a: set()
    try:
        unchecked = _median_time(lambda: update_cache(plan, params, out), args.repeat)
    finally:
        writer.find_damaged = real
    attrs = dict(load_cache(out).attrs)
    names = ["image", "maps", "heatmap", "pseudo", "mask"]
    check = _median_time(lambda: real(out, attrs, names), args.repeat)
    print(f"up-to-date render: {checked:.2f} s with the damage check, {unchecked:.2f} s without; "
          f"the check alone {check:.2f} s")

    # one image's track changes: a copy of the cache, updated incrementally
    work = args.work / "copy.zarr"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(out, work)
    base = _gaze_copy(gaze, args.work / "gaze-a", None)
    update_cache(plan_render(base, images, masks), params, work)  # ingest identity only
    warm = _gaze_copy(gaze, args.work / "gaze-w", plan.samples[500].id)
    update_cache(plan_render(warm, images, masks), params, work)  # numba, skimage warm-up
    update_cache(plan_render(base, images, masks), params, work)
    changed = _gaze_copy(gaze, args.work / "gaze-b", plan.samples[100].id)
    p2 = plan_render(changed, images, masks)
    t0 = time.perf_counter()
    rep = update_cache(p2, params, work)
    t_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    update_cache(p2, RenderParams(size=args.size, tau=0.06), work)
    t_all = time.perf_counter() - t0
    print(f"one image changed: {t_one:.2f} s including the damage check (rendered "
          f"{len(rep.rendered)}, one shard of each array swapped in); a rebuild with new "
          f"parameters: {t_all:.2f} s")
    shutil.rmtree(work)

    arrays = open_arrays(out, ["image", "maps", "pseudo"])
    sums = [attrs["row_crc32c"][k] for k in ("image", "maps", "pseudo")]
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, len(plan.samples), 64) for _ in range(max(1, args.reads // 64))]

    def reads(with_sums: bool) -> None:
        for b in batches:
            read_rows(list(arrays.values()), b, checksums=sums if with_sums else None)

    n = 64 * len(batches)
    a = _median_time(lambda: reads(True), args.repeat)
    b = _median_time(lambda: reads(False), args.repeat)
    print(f"random reads, batches of 64: {n / a:,.0f} samples/s with the CRC32C check, "
          f"{n / b:,.0f} without")


if __name__ == "__main__":
    main()
