"""Grey images in the cache: 3 replicated channels (the format) against 1 channel, side by side.

Usage (from the project root)::

    .venv/bin/python pipelines/bench_gray.py [--images $GAZE_DATA/kvasir-seg/images]
        [--n 200] [--size 256] [--reads 3000] [--repeats 3] [--out data/bench/gray]

The ``n`` images of ``--images`` (any folder gazeprep reads: PNG/JPEG, a DICOM series, NIfTI
volumes) are read by the render rule (``gazeprep.contract.images.read_image`` at ``size``) and
made grey (PIL's luminance for colour inputs). The same grey pixels are written twice with the
cache's own writer settings (``gazeprep.contract.zarr_io.create_rows_array``: one sample per
chunk, 32 per shard, Blosc LZ4 with byte shuffle): as ``image`` (N, 3, S, S), the channel
repeated as the cache stores grey images today, and as (N, 1, S, S). Reported: bytes on disk,
write time, and random reads of ``read_rows`` in batches of 64 uniformly random samples
(samples/s, best of ``--repeats`` alternating runs, so both sides see the same machine load).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
from _common import data_dir


def grey_stack(folder: Path, n: int, size: int) -> np.ndarray:
    """(n, S, S) uint8 grey images, the first ``n`` ids of ``folder`` by the render rule."""
    from PIL import Image

    from gazeprep.contract.images import index_folder, read_image

    refs = index_folder(folder)
    ids = sorted(refs)[:n]
    return np.stack([np.asarray(Image.fromarray(read_image(refs[i], size)).convert("L"))
                     for i in ids])


def write(out: Path, images: np.ndarray) -> tuple[float, int]:
    """Write ``images`` (N, C, S, S) as the cache's ``image`` array; (seconds, bytes on disk)."""
    import zarr

    from gazeprep.contract.zarr_io import create_rows_array

    if out.exists():
        shutil.rmtree(out)
    t = time.perf_counter()
    g = zarr.create_group(store=str(out), overwrite=True, zarr_format=3)
    a = create_rows_array(g, "image", images.shape[0], images.shape[1:], "uint8", 32)
    a[:] = images
    seconds = time.perf_counter() - t
    size = sum(p.stat().st_size for p in (out / "image").rglob("*") if p.is_file())
    return seconds, size


def read_rate(out: Path, n: int, reads: int, seed: int) -> float:
    """Samples/s of ``read_rows`` on random batches of 64."""
    from gazeprep.contract.zarr_io import open_arrays, read_rows

    arr = open_arrays(out, ["image"])["image"]
    rng = np.random.default_rng(seed)
    batches = [rng.integers(0, n, 64) for _ in range(max(1, reads // 64))]
    read_rows([arr], batches[0])  # warm-up: open shards once
    t = time.perf_counter()
    for b in batches:
        read_rows([arr], b)
    return len(batches) * 64 / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=Path, default=data_dir() / "kvasir-seg" / "images")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--reads", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("data/bench/gray"))
    args = ap.parse_args()

    grey = grey_stack(args.images, args.n, args.size)
    n = grey.shape[0]
    sides = {"3 channels (replicated)": np.repeat(grey[:, None], 3, axis=1),
             "1 channel": grey[:, None]}
    paths = {name: args.out / f"c{arr.shape[1]}.zarr" for name, arr in sides.items()}
    rows = {name: {"write_s": [], "read": []} for name in sides}
    for rep in range(args.repeats):
        for name, arr in sides.items():
            sec, size = write(paths[name], arr)
            rows[name]["write_s"].append(sec)
            rows[name]["bytes"] = size
            rows[name]["read"].append(read_rate(paths[name], n, args.reads, seed=rep))
    raw = grey.size
    print(f"{n} grey images from {args.images}, {args.size} px; raw grey bytes {raw:,}")
    print("| cache image array | bytes on disk | vs raw grey | write s (best) | "
          "random reads, samples/s (best) |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['bytes']:,} | {r['bytes'] / raw:.2f} | {min(r['write_s']):.3f} "
              f"| {max(r['read']):,.0f} |")
    a, b = rows.values()
    print(f"3 channels / 1 channel: bytes {a['bytes'] / b['bytes']:.2f}x, "
          f"read rate {max(a['read']) / max(b['read']):.2f}x")


if __name__ == "__main__":
    main()
