"""The one-command demo (`make demo`): simulated gaze -> track maps -> trained model -> Dice.

Simulates a training set (``data/sim``) and a held-out test set with another seed
(``data/sim-test``), then runs exactly the user-facing commands, each announced with what it
does and how long it should take, then echoed before it runs::

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

and ends with the Dice table and its pictures (the ``show`` strips first). The expected times
(:data:`EXPECTED_S`) are for the defaults on 2 free CPU cores, first run included (the kernels
compile once); ``--images/--iterations/--size`` shrink it (the test does). Thread counts are
the commands' own defaults (the free CPUs), never set here.
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

#: Seconds each stage takes with the defaults on 2 free cores, from a fresh clone (kernels
#: compiled on first use included); scaled by the work asked (:func:`expected`).
EXPECTED_S = {"simulate": 25, "simulate-test": 8, "ingest": 15, "render": 35, "score": 4,
              "train": 200, "eval": 8, "predict": 8, "show": 6}
#: The defaults the figures above are for.
DEFAULTS = {"images": 96, "test_images": 24, "size": 128, "iterations": 250, "batch_size": 8}


def expected(stage: str, args: argparse.Namespace) -> float:
    """Expected seconds of ``stage`` for these arguments (the defaults' time, scaled)."""
    d = DEFAULTS
    area = (args.size / d["size"]) ** 2
    work = {"simulate": args.images / d["images"],
            "simulate-test": args.test_images / d["test_images"],
            "render": args.images / d["images"] * area,
            "train": args.iterations / d["iterations"] * args.batch_size / d["batch_size"] * area,
            "show": args.shows / 2}.get(stage, 1.0)
    return EXPECTED_S[stage] * work


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


class Stages:
    """Announces each stage: its number, what it does and the time it should take."""

    def __init__(self, args: argparse.Namespace, n: int):
        self.args, self.n, self.k = args, n, 0

    def __call__(self, stage: str, what: str) -> None:
        self.k += 1
        print(f"\n[{self.k}/{self.n}] {what} (expect ~{_seconds(expected(stage, self.args))})",
              flush=True)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=ROOT,
                    help="folder holding data/ and runs/ (default: the project root)")
    d = DEFAULTS
    ap.add_argument("--images", type=int, default=d["images"], help="training images to simulate")
    ap.add_argument("--test-images", type=int, default=d["test_images"],
                    help="held-out images (other seed)")
    ap.add_argument("--size", type=int, default=d["size"], help="render/model side in pixels")
    ap.add_argument("--iterations", type=int, default=d["iterations"], help="training steps")
    ap.add_argument("--batch-size", type=int, default=d["batch_size"])
    ap.add_argument("--base-channels", type=int, default=16)
    ap.add_argument("--shows", type=int, default=2, help="`gazeprep show` pictures to draw")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the demo; returns the numbers of its Dice table and its pictures."""
    args = _arguments(argv)
    root = args.root.resolve()
    t_start = time.perf_counter()
    # Generated content only: the demo is re-runnable and never mixes two runs.
    for p in ("data/sim", "data/sim-test", "data/gaze", "data/maps.zarr", "data/demo",
              "runs/demo"):
        shutil.rmtree(root / p, ignore_errors=True)
    (root / "data/demo").mkdir(parents=True, exist_ok=True)
    total = sum(expected(s, args) for s in EXPECTED_S)
    print(f"demo: 9 steps, about {_seconds(total)} on 2 free CPU cores the first time (the "
          "kernels compile once); outputs under data/ and runs/demo/", flush=True)
    stage = Stages(args, 9)
    score = _gaze_stages(stage, args, root)
    ev = _model_stages(stage, args, root)
    ids = sorted(p.stem for p in (root / "data/sim/images").glob("*.png"))[: args.shows]
    stage("show", f"Draw {len(ids)} images with their gaze, track maps, heatmap and "
          "pseudo-mask (gazeprep show)")
    for i in ids:
        run(["gazeprep", "show", i, "--cache", "data/maps.zarr", "--gaze", "data/gaze",
             "--out", f"data/demo/show_{i}.png"], root)
    rows = _table(score, ev)
    pictures = _pictures(root)
    print(f"\ndemo finished in {_seconds(time.perf_counter() - t_start)}")
    return {"score": score, "eval": ev, "pictures": pictures,
            "dice": rows["trained gradtrack model, held-out images (`gradseg eval`)"]}


def _gaze_stages(stage: Stages, args: argparse.Namespace, root: Path) -> dict:
    """simulate, ingest, render, score: gaze -> track maps and pseudo-masks; the scores."""
    stage("simulate", f"Simulate {args.images} lesion images, their masks and an observer's "
          "EyeLink recording (gazeprep simulate)")
    run(["gazeprep", "simulate", "data/sim", "--images", str(args.images), "--seed", "0"], root)
    stage("simulate-test", f"Simulate {args.test_images} held-out test images (another seed)")
    run(["gazeprep", "simulate", "data/sim-test", "--images", str(args.test_images),
         "--seed", "1"], root)
    stage("ingest", "Read the EyeLink recording into fixations and gaze tracks (gazeprep "
          "ingest)")
    run(["gazeprep", "ingest", "data/sim/raw", "--images", "data/sim/images",
         "--out", "data/gaze"], root)
    stage("render", f"Render 4 levels of track maps, heatmaps and pseudo-masks at "
          f"{args.size} px into a Zarr cache (gazeprep render)")
    run(["gazeprep", "render", "--levels", "4", "--gaze", "data/gaze", "--images",
         "data/sim/images", "--masks", "data/sim/masks", "--size", str(args.size),
         "--out", "data/maps.zarr"], root)
    stage("score", "Score the pseudo-masks against the true masks (gazeprep score)")
    return last_json(run(["gazeprep", "score", "--cache", "data/maps.zarr", "--json"], root,
                         capture=True))


def _model_stages(stage: Stages, args: argparse.Namespace, root: Path) -> dict:
    """train, eval, predict: track maps -> a model -> predicted masks; the held-out scores."""
    eval_every = max(1, args.iterations // 5)
    stage("train", f"Train a Track Attention U-Net for {args.iterations} steps on the gaze "
          "alone, no mask (gradseg train)")
    run(["gradseg", "train", "--cache", "data/maps.zarr", "--out", "runs/demo",
         "--iterations", str(args.iterations), "--batch-size", str(args.batch_size),
         "--base-channels", str(args.base_channels),
         "--eval-every", str(eval_every), "--checkpoint-every", str(eval_every),
         "--device", "cpu"], root)
    stage("eval", "Dice, IoU and HD95 on the held-out images (gradseg eval)")
    ev = last_json(run(["gradseg", "eval", "--checkpoint", "runs/demo/best.pt", "--images",
                        "data/sim-test/images", "--masks", "data/sim-test/masks",
                        "--device", "cpu", "--json"], root, capture=True))
    stage("predict", "Predict masks of the held-out images (gradseg predict)")
    run(["gradseg", "predict", "--checkpoint", "runs/demo/best.pt", "--images",
         "data/sim-test/images", "--out", "data/demo/predictions", "--device", "cpu"], root)
    return ev


def _num(d: dict, *keys: str) -> float | None:
    for k in keys:
        if k in d and isinstance(d[k], int | float):
            return float(d[k])
    return None


def _table(score: dict, ev: dict) -> dict:
    """Print the Dice table; returns its numbers."""
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
    for k in ("iou", "hd95"):
        if isinstance(ev.get(k), int | float):
            print(f"(held-out {k}: {ev[k]:.3f})")
    return rows


def _pictures(root: Path) -> list[str]:
    """Print the pictures to look at, best first: the show strips, the run's curves and
    validation panel, a few prediction overlays; returns every picture written."""
    def rel(paths) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in paths)

    shows = rel((root / "data/demo").glob("show_*.png"))
    run_pics = [p for p in ("runs/demo/curves.png", "runs/demo/val.png") if (root / p).exists()]
    preds = rel((root / "data/demo/predictions").glob("*.png"))
    overlays = [p for p in preds if p.endswith("_overlay.png")]
    print("\npictures to look at:")
    for p in shows:
        print(f"  {p}    one image: gaze, track maps, heatmap, pseudo-mask")
    print(f"  {run_pics[0] if run_pics else 'runs/demo/curves.png'}    training loss and "
          "validation Dice by step")
    for p in run_pics[1:]:
        print(f"  {p}    validation images: gaze, target, prediction")
    for p in overlays[:3]:
        print(f"  {p}    a held-out prediction")
    if len(preds) > 3:
        print(f"  ... {len(preds)} files in data/demo/predictions/ (masks and overlays)")
    return shows + run_pics + preds


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
