"""Benchmark: gradseg's cache loader against a GazeMedSeg-style loader, side by side.

Both loaders serve the same training samples (the same images, in the same seeded order, in
batches of the same size, through a torch DataLoader with the same number of workers) with the
same content: the image, one gaze map per level and the pseudo-mask, at the model's side
(``--size``, default 224), randomly flipped.

- **cache** (gradseg's training path): the workers read the stored uint8 rows of a batch from
  the Zarr cache (one request per array, LZ4, CRC32C checked) and draw each sample's flips; the
  float conversion and the flips run on the training device (:meth:`gradseg.train.Data.prepare`).
- **cache + CPU device step**: the same, with that device step run on the CPU in the main
  process (what it costs where there is no GPU).
- **jpeg-per-step** (built here after GazeMedSeg's data module): every step decodes the
  full-resolution JPEG image and one pseudo-label image per level (JPEG, plus the pseudo-mask as
  PNG, written once at each image's own size from the cache), converts them to float32 and
  resizes them to ``--size`` on the CPU (bilinear, as MONAI's ``Resized``), then flips.

Reported per loader: samples/s (wall clock, after the first batch), CPU seconds of the whole
process tree (the main process and its workers, from ``getrusage``) per sample, and samples per
CPU-second, i.e. per core; then the ratios cache / jpeg-per-step. Run::

    .venv/bin/gazeprep ingest ../shared/data/gazemedseg/kvasir_fixation.csv \\
        --images ../shared/data/kvasir-seg/images --out /tmp/kv_gaze
    .venv/bin/gazeprep render --levels 4 --gaze /tmp/kv_gaze --size 224 --out /tmp/kv224.zarr \\
        --images ../shared/data/kvasir-seg/images --masks ../shared/data/kvasir-seg/masks
    .venv/bin/python pipelines/bench_loader.py /tmp/kv224.zarr \\
        --images ../shared/data/kvasir-seg/images --workers 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its finished children."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def find_images(folder: Path, ids: list[str]) -> dict[str, Path]:
    """The image file of each id (any extension PIL reads)."""
    files = {p.stem: p for p in folder.iterdir() if p.is_file()}
    missing = [i for i in ids if i not in files]
    if missing:
        raise SystemExit(f"bench_loader: {len(missing)} cache ids have no image in {folder}, "
                         f"e.g. {missing[:3]}")
    return {i: files[i] for i in ids}


def write_label_images(cache: str, ids: list[str], images: dict[str, Path], out: Path) -> int:
    """GazeMedSeg-style pseudo-label files at each image's own size, from the cache: one JPEG
    per map level (``<id>_<k>.jpg``) and the pseudo-mask (``<id>_pseudo.png``). Returns L."""
    import zarr
    from PIL import Image

    from gazeprep.contract.cache import read_sample_table

    g = zarr.open_group(cache, mode="r")
    pos = {str(k): i for i, k in enumerate(read_sample_table(cache, g)["sample"])}
    levels = int(g["maps"].shape[1])
    out.mkdir(parents=True, exist_ok=True)
    for key in ids:
        size = Image.open(images[key]).size
        maps, pseudo = g["maps"][pos[key]], g["pseudo"][pos[key]]
        for k in range(levels):
            Image.fromarray(maps[k]).resize(size, Image.BILINEAR).save(
                out / f"{key}_{k}.jpg", quality=95)
        Image.fromarray(pseudo[0] * 255).resize(size, Image.NEAREST).save(out / f"{key}_pseudo.png")
    return levels


class JpegPerStep(Dataset):
    """The comparison loader: decode, convert and resize every file of a sample at each step.

    Items are (index, seed) keys, as the cache loader's; returns ``image`` (3, s, s),
    ``maps`` (L, s, s) and ``pseudo`` (1, s, s), float32, flipped by the seed.
    """

    def __init__(self, ids: list[str], images: dict[str, Path], labels: Path, levels: int,
                 size: int):
        self.ids, self.images, self.labels = ids, images, labels
        self.levels, self.size = levels, size

    def __len__(self) -> int:
        return len(self.ids)

    def _resize(self, a: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(a)[None]
        return torch.nn.functional.interpolate(t, size=(self.size, self.size), mode="bilinear",
                                               align_corners=False)[0]

    def __getitem__(self, key):
        from PIL import Image

        i, seed = key
        name = self.ids[i]
        image = np.asarray(Image.open(self.images[name]).convert("RGB"), dtype=np.float32) / 255
        maps = [np.asarray(Image.open(self.labels / f"{name}_{k}.jpg").convert("L"),
                           dtype=np.float32) / 255 for k in range(self.levels)]
        pseudo = np.asarray(Image.open(self.labels / f"{name}_pseudo.png"), dtype=np.float32)
        out = {"image": self._resize(np.ascontiguousarray(image.transpose(2, 0, 1))),
               "maps": self._resize(np.stack(maps)),
               "pseudo": (self._resize(pseudo[None] / 255) >= 0.5).float()}
        gen = np.random.default_rng(seed)
        flips = [d for d, p in ((-1, gen.random()), (-2, gen.random())) if p < 0.5]
        return {k: v.flip(flips) if flips else v for k, v in out.items()}


def keys(n: int, batches: int, batch_size: int, seed: int = 0) -> list[list[tuple[int, int]]]:
    """The same batches of (index, seed) keys for every loader: seeded permutations of n."""
    rng = np.random.default_rng(seed)
    flat = []
    while len(flat) < batches * batch_size:
        flat += [(int(i), int(rng.integers(2**31))) for i in rng.permutation(n)]
    return [flat[b * batch_size:(b + 1) * batch_size] for b in range(batches)]


def measure(dataset, batches: list, workers: int, after=None) -> dict:
    """Run one loader over ``batches``; wall and whole-process-tree CPU figures."""
    c0 = cpu_seconds()
    loader = DataLoader(dataset, batch_sampler=batches, num_workers=workers)
    it = iter(loader)
    first = next(it)
    if after is not None:
        after(first)
    t0, n = time.perf_counter(), 0
    for batch in it:
        if after is not None:
            after(batch)
        n += len(batch["image"])
    wall = time.perf_counter() - t0
    del it, loader  # workers exit and are reaped, so getrusage counts them
    cpu = cpu_seconds() - c0
    total = n + len(first["image"])
    return {"samples_s": n / wall, "cpu_s_per_sample": cpu / total,
            "samples_per_cpu_s": total / cpu, "samples": total, "workers": workers}


def cache_step(size: int):
    """The training device's step, run here on the CPU: float conversion and flips."""
    from gazeprep.contract.cache import BINARY, UNIT, UNIT_SCALE
    from gradseg.data.augment import to_float, transform_batch

    def step(batch: dict) -> None:
        fields = {k: batch[k] for k in ("image", "maps", "pseudo")}
        transform_batch(to_float(fields, UNIT, float(UNIT_SCALE)), batch["theta"], size,
                        BINARY, flips_only=True)
    return step


def run(args) -> dict:
    """Build both loaders on the same samples and measure them one after the other."""
    from gradseg.data.augment import AugmentConfig
    from gradseg.data.cache import CacheDataset, open_cache

    info = open_cache(args.cache)
    n = min(args.n, len(info.ids))
    ids = info.ids[:n]
    images = find_images(Path(args.images), ids)
    labels = Path(args.labels or tempfile.mkdtemp(prefix="bench_loader_"))
    levels = write_label_images(str(args.cache), ids, images, labels)
    plan = keys(n, args.batches, args.batch_size)
    ours = CacheDataset(info, list(range(n)), ("maps", "pseudo"), args.size,
                        AugmentConfig(kind="flips"), raw=True)
    theirs = JpegPerStep(ids, images, labels, levels, args.size)
    rounds: dict[str, list[dict]] = {}
    for _ in range(args.repeat):  # interleaved, so that a change of machine load hits all
        for name, ds, after in (("cache", ours, None), ("jpeg-per-step", theirs, None),
                                ("cache + CPU device step", ours, cache_step(args.size))):
            r = measure(ds, plan, args.workers, after)
            rounds.setdefault(name, []).append(r)
            print(f"{name}: {r['samples_s']:.1f} samples/s, {r['samples_per_cpu_s']:.1f} "
                  "samples per CPU-second", flush=True)
    out = {name: {k: float(np.median([r[k] for r in rs])) for k in rs[0]}
           for name, rs in rounds.items()}
    return {"loaders": out, "rounds": rounds, "n_images": n, "levels": levels,
            "cache_size": info.size}


def table(result: dict, args, command: str) -> str:
    """The side-by-side table, ratios against the JPEG-per-step loader."""
    loaders, ref = result["loaders"], result["loaders"]["jpeg-per-step"]
    lines = [f"{result['n_images']} images, {args.batches} batches of {args.batch_size}, "
             f"{args.workers} worker(s), {args.size} px, {result['levels']} levels, cache "
             f"{result['cache_size']} px; medians of {args.repeat} interleaved rounds; load "
             f"average (1, 5, 15 min) {result['load']} before, {result['load_after']} after.",
             "",
             "| loader | samples/s (wall) | x jpeg | samples per CPU-second | x jpeg | "
             "CPU ms/sample |", "|---|---|---|---|---|---|"]
    for name, r in loaders.items():
        lines.append(f"| {name} | {r['samples_s']:.1f} | {r['samples_s'] / ref['samples_s']:.1f} "
                     f"| {r['samples_per_cpu_s']:.1f} | "
                     f"{r['samples_per_cpu_s'] / ref['samples_per_cpu_s']:.1f} | "
                     f"{1000 * r['cpu_s_per_sample']:.2f} |")
    return "\n".join(lines) + f"\n\nCommand: `{command}`\n"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cache", help="Zarr cache rendered from --images")
    ap.add_argument("--images", required=True, help="the full-resolution images it was "
                    "rendered from")
    ap.add_argument("--labels", help="folder for the pseudo-label images (default: a new "
                    "temporary folder)")
    ap.add_argument("--n", type=int, default=256, help="images to serve")
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (medians)")
    ap.add_argument("--out", type=Path, help="write the table (.md) and the figures (.json)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # the main process: one core, as each worker
    command = shlex.join(["python", "pipelines/bench_loader.py",
                          *(sys.argv[1:] if argv is None else argv)])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    result = run(args)
    load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    result.update(load=load, load_after=load_after, command=command, cpu_count=os.cpu_count())
    text = table(result, args, command)
    print("\n" + text)
    if args.out:
        args.out.with_suffix(".md").write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
