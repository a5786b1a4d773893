"""A radiology example end to end: MR-like volumes with gaze -> track maps -> model -> Dice.

Simulates a training set of MR-like 16-bit volumes (NIfTI by default, or multi-frame DICOM;
masks in the same format) with one observer's EyeLink recording over their slices, and a
held-out set with another seed, then runs exactly the user-facing commands, each echoed::

    gazeprep simulate data/radiology/sim --format nifti --images 96 --slices 8 --seed 0
    gazeprep simulate data/radiology/sim-test --format nifti --images 24 --slices 8 --seed 1
    gazeprep ingest data/radiology/sim/raw --images data/radiology/sim/images \\
        --out data/radiology/gaze
    gazeprep qc data/radiology/gaze --json
    gazeprep render --levels 4 --gaze data/radiology/gaze --images data/radiology/sim/images \\
        --masks data/radiology/sim/masks --size 128 --exclude-flagged \\
        --out data/radiology/maps.zarr
    gazeprep score --cache data/radiology/maps.zarr --json
    gradseg train --cache data/radiology/maps.zarr --out runs/radiology ...
    gradseg eval --checkpoint runs/radiology/best.pt --images data/radiology/sim-test/images \\
        --masks data/radiology/sim-test/masks --json

Image ids are the slices, ``<volume stem>_<k>``: what the recording names in ``!V IMGLOAD`` and
what gazeprep and gradseg index the volumes by. Prints the Dice table. A few minutes on 2 CPU
cores with the defaults; ``--images/--iterations/--size`` shrink it (the test does).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from functools import partial
from pathlib import Path

import _common
from _common import ROOT

run = partial(_common.run, label="radiology")
last_json = partial(_common.last_json, label="radiology")
#: Everything the recipe writes, under --root (removed first: the recipe is re-runnable).
OUTPUTS = ("data/radiology", "runs/radiology")


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=ROOT,
                    help="folder holding data/ and runs/ (default: the project root)")
    ap.add_argument("--format", choices=("nifti", "dicom"), default="nifti",
                    help="how the volumes and masks are written")
    ap.add_argument("--images", type=int, default=96, help="training slices to simulate")
    ap.add_argument("--test-images", type=int, default=24, help="held-out slices (other seed)")
    ap.add_argument("--slices", type=int, default=8, help="slices per volume")
    ap.add_argument("--size", type=int, default=128, help="slice, render and model side (px)")
    ap.add_argument("--iterations", type=int, default=300, help="training steps")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--base-channels", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the recipe; returns its numbers (score, eval, qc summary, seconds)."""
    args = _args(argv)
    root = args.root.resolve()
    t_start = time.perf_counter()
    for p in OUTPUTS:
        shutil.rmtree(root / p, ignore_errors=True)
    d = "data/radiology"
    for name, n, seed in (("sim", args.images, 0), ("sim-test", args.test_images, 1)):
        run(["gazeprep", "simulate", f"{d}/{name}", "--format", args.format, "--images", str(n),
             "--slices", str(args.slices), "--size", str(args.size), "--seed", str(seed)], root)
    run(["gazeprep", "ingest", f"{d}/sim/raw", "--images", f"{d}/sim/images",
         "--out", f"{d}/gaze"], root)
    qc = last_json(run(["gazeprep", "qc", f"{d}/gaze", "--json"], root, capture=True,
                       echo=False))
    print(f"\n$ gazeprep qc {d}/gaze --json\n  {len(qc['rows'])} trial x eye rows, "
          f"{sum(r['flagged'] for r in qc['rows'])} flagged")
    run(["gazeprep", "render", "--levels", "4", "--gaze", f"{d}/gaze", "--images",
         f"{d}/sim/images", "--masks", f"{d}/sim/masks", "--size", str(args.size),
         "--exclude-flagged", "--out", f"{d}/maps.zarr"], root)
    score = last_json(run(["gazeprep", "score", "--cache", f"{d}/maps.zarr", "--json"], root,
                          capture=True))
    every = max(1, args.iterations // 3)
    run(["gradseg", "train", "--cache", f"{d}/maps.zarr", "--out", "runs/radiology",
         "--iterations", str(args.iterations), "--batch-size", str(args.batch_size),
         "--base-channels", str(args.base_channels), "--threads", str(args.threads),
         "--eval-every", str(every), "--checkpoint-every", str(every), "--device", "cpu"], root)
    ev = last_json(run(["gradseg", "eval", "--checkpoint", "runs/radiology/best.pt", "--images",
                        f"{d}/sim-test/images", "--masks", f"{d}/sim-test/masks",
                        "--device", "cpu", "--json"], root, capture=True))
    seconds = time.perf_counter() - t_start
    _print_table(args, score, ev, seconds)
    return {"score": score, "eval": ev, "qc": qc["sessions"], "seconds": seconds}


def _print_table(args: argparse.Namespace, score: dict, ev: dict, seconds: float) -> None:
    rows = {
        "pseudo-mask vs truth (training slices, `gazeprep score`)": score.get("pseudo_dice"),
        "GazeMedSeg heatmap > 0.5 vs truth (training slices)": score.get("heatmap_dice"),
        "trained gradtrack model, held-out volumes (`gradseg eval`)": ev.get("dice"),
    }
    print(f"\n{args.format}: {args.images} training slices, {args.test_images} held-out, "
          f"{args.slices} per volume, {args.size} px, {args.iterations} iterations")
    print("\n| what | Dice |\n|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {'n/a' if v is None else f'{v:.3f}'} |")
    print(f"\nradiology recipe finished in {seconds:.0f} s")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
