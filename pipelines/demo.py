"""The one-command demo (`make demo`): simulated gaze -> track maps -> trained model -> Dice.

Simulates a training set (``data/sim``) and a held-out test set with another seed
(``data/sim-test``), then runs exactly the user-facing commands, each echoed before it runs::

    gazeprep simulate data/sim --images 96 --seed 0
    gazeprep simulate data/sim-test --images 24 --seed 1
    gazeprep ingest data/sim/raw --images data/sim/images --out data/gaze
    gazeprep render --levels 4 --gaze data/gaze --images data/sim/images --masks data/sim/masks \
        --size 128 --out data/maps.zarr
    gazeprep score --cache data/maps.zarr --json
    gradseg train --cache data/maps.zarr --out runs/demo ...
    gradseg eval --checkpoint runs/demo/best.pt --images data/sim-test/images \
        --masks data/sim-test/masks --json
    gradseg predict --checkpoint runs/demo/best.pt --images data/sim-test/images \
        --out data/demo/predictions
    gazeprep show <id> --cache data/maps.zarr --gaze data/gaze --out data/demo/show_<id>.png

and prints the Dice table and the pictures it wrote under ``data/demo/``. About 5 minutes on
2 CPU cores with the defaults; ``--images/--iterations/--size`` shrink it (the test does).
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

run = partial(_common.run, label="demo")
last_json = partial(_common.last_json, label="demo")


def _num(d: dict, *keys: str) -> float | None:
    for k in keys:
        if k in d and isinstance(d[k], int | float):
            return float(d[k])
    return None


def main(argv: list[str] | None = None) -> dict:
    """Run the demo; returns the numbers of its Dice table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=ROOT,
                    help="folder holding data/ and runs/ (default: the project root)")
    ap.add_argument("--images", type=int, default=96, help="training images to simulate")
    ap.add_argument("--test-images", type=int, default=24, help="held-out images (other seed)")
    ap.add_argument("--size", type=int, default=128, help="render/model side in pixels")
    ap.add_argument("--iterations", type=int, default=300, help="training steps")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--base-channels", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--shows", type=int, default=2, help="`gazeprep show` pictures to draw")
    args = ap.parse_args(argv)

    root = args.root.resolve()
    t_start = time.perf_counter()
    # Generated content only: the demo is re-runnable and never mixes two runs.
    for p in ("data/sim", "data/sim-test", "data/gaze", "data/maps.zarr", "data/demo",
              "runs/demo"):
        shutil.rmtree(root / p, ignore_errors=True)
    (root / "data/demo").mkdir(parents=True, exist_ok=True)

    run(["gazeprep", "simulate", "data/sim", "--images", str(args.images), "--seed", "0"], root)
    run(["gazeprep", "simulate", "data/sim-test", "--images", str(args.test_images),
         "--seed", "1"], root)
    run(["gazeprep", "ingest", "data/sim/raw", "--images", "data/sim/images",
         "--out", "data/gaze"], root)
    run(["gazeprep", "render", "--levels", "4", "--gaze", "data/gaze", "--images",
         "data/sim/images", "--masks", "data/sim/masks", "--size", str(args.size),
         "--out", "data/maps.zarr"], root)
    score = last_json(run(["gazeprep", "score", "--cache", "data/maps.zarr", "--json"], root,
                          capture=True))
    eval_every = max(1, args.iterations // 3)
    run(["gradseg", "train", "--cache", "data/maps.zarr", "--out", "runs/demo",
         "--iterations", str(args.iterations), "--batch-size", str(args.batch_size),
         "--base-channels", str(args.base_channels), "--threads", str(args.threads),
         "--eval-every", str(eval_every), "--checkpoint-every", str(eval_every),
         "--device", "cpu"], root)
    ev = last_json(run(["gradseg", "eval", "--checkpoint", "runs/demo/best.pt", "--images",
                        "data/sim-test/images", "--masks", "data/sim-test/masks",
                        "--device", "cpu", "--json"], root, capture=True))
    run(["gradseg", "predict", "--checkpoint", "runs/demo/best.pt", "--images",
         "data/sim-test/images", "--out", "data/demo/predictions", "--device", "cpu"], root)
    ids = sorted(p.stem for p in (root / "data/sim/images").glob("*.png"))[: args.shows]
    for i in ids:
        run(["gazeprep", "show", i, "--cache", "data/maps.zarr", "--gaze", "data/gaze",
             "--out", f"data/demo/show_{i}.png"], root)

    rows = {
        "pseudo-mask vs truth (training images, `gazeprep score`)":
            _num(score, "pseudo_dice", "pseudo"),
        "GazeMedSeg heatmap > 0.5 vs truth (training images)":
            _num(score, "heatmap_dice", "heatmap"),
        "trained gradtrack model, held-out images (`gradseg eval`)":
            _num(ev, "dice", "mean_dice", "dice_mean"),
    }
    print("\n| what | Dice |\n|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {'n/a' if v is None else f'{v:.3f}'} |")
    for k in ("iou", "mean_iou", "hd95", "mean_hd95"):
        if k in ev:
            print(f"(held-out {k}: {ev[k]:.3f})")
    pictures = sorted(p.relative_to(root).as_posix() for p in (root / "data/demo").rglob("*.png"))
    print(f"\npictures under data/demo/ ({len(pictures)}):")
    for p in pictures[:12]:
        print(f"  {p}")
    if len(pictures) > 12:
        print(f"  ... and {len(pictures) - 12} more")
    print(f"\ndemo finished in {time.perf_counter() - t_start:.0f} s")
    return {"score": score, "eval": ev, "pictures": pictures,
            "dice": rows["trained gradtrack model, held-out images (`gradseg eval`)"]}


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
