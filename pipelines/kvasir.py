"""Recipe: a fixation report + an image folder + a mask folder (Kvasir-SEG with GazeMedSeg gaze).

One command, four stages, each a user-facing command echoed before it runs::

    gazeprep ingest <fixations.csv> --images <images> --out <out>/gaze
    gazeprep render --levels 4 --gaze <out>/gaze --images <images> --masks <masks> \
        --size 128 --out <out>/maps.zarr
    gazeprep score --cache <out>/maps.zarr --json
    python pipelines/bench_train.py <out>/maps.zarr --out <out>/runs ...   # gradtrack, gazesup,
                                                                          # full; 100 test ids

Training and evaluation are delegated to ``pipelines/bench_train.py`` (the DESIGN's CPU
protocol: 128 px, small U-Net, fixed iterations, the methods side by side on the same seeded
split; the 100 test ids are never trained or validated on). The parameters and a results table
(pseudo-mask and heatmap Dice on all images, test Dice/IoU/HD95 per method) are printed and
written to ``<out>/results.md`` and ``<out>/results.json``.

Defaults point at the real data: ``$GAZE_DATA``, else ``../shared/data`` beside the project::

    .venv/bin/python pipelines/kvasir.py                      # full protocol (long on CPU)
    .venv/bin/python pipelines/kvasir.py --iterations 100 --methods gradtrack   # a quick look
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from functools import partial
from pathlib import Path

import _common
from _common import ROOT, data_dir

run = partial(_common.run, label="kvasir")


def main(argv: list[str] | None = None) -> dict:
    """Run the recipe; returns the results written to ``<out>/results.json``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixations", type=Path,
                    default=data_dir() / "gazemedseg" / "kvasir_fixation.csv",
                    help="fixation report (Data Viewer style; GazeMedSeg's CSV)")
    ap.add_argument("--images", type=Path, default=data_dir() / "kvasir-seg" / "images")
    ap.add_argument("--masks", type=Path, default=data_dir() / "kvasir-seg" / "masks")
    ap.add_argument("--out", type=Path, default=Path("data/kvasir"),
                    help="folder for gaze/, maps.zarr, runs/ and the results (relative to the "
                         "project root)")
    ap.add_argument("--size", type=int, default=128, help="render/model side in pixels")
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=1200, help="training steps per method")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--base-channels", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads per run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="gradtrack,gazesup,full")
    ap.add_argument("--render-args", default="",
                    help="extra `gazeprep render` options, e.g. '--tau 0.1'")
    args = ap.parse_args(argv)

    for p, what in ((args.fixations, "fixation report"), (args.images, "image folder"),
                    (args.masks, "mask folder")):
        if not p.exists():
            raise SystemExit(f"kvasir: {what} not found: {p} (see --help for the options)")
    out = args.out
    params = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    print("parameters:\n" + "\n".join(f"  {k} = {v}" for k, v in params.items()))
    t_start = time.perf_counter()

    run(["gazeprep", "ingest", str(args.fixations), "--images", str(args.images),
         "--out", str(out / "gaze")])
    run(["gazeprep", "render", "--levels", str(args.levels), "--gaze", str(out / "gaze"),
         "--images", str(args.images), "--masks", str(args.masks), "--size", str(args.size),
         "--out", str(out / "maps.zarr"), *shlex.split(args.render_args)])
    score_text = run(["gazeprep", "score", "--cache", str(out / "maps.zarr"), "--json"],
                     capture=True)
    score = _common.last_json(score_text, label="kvasir")
    run(["python", str(ROOT / "pipelines" / "bench_train.py"), str(out / "maps.zarr"),
         "--out", str(out / "runs"), "--iterations", str(args.iterations),
         "--batch-size", str(args.batch_size), "--base-channels", str(args.base_channels),
         "--threads", str(args.threads), "--seed", str(args.seed), "--methods", args.methods])
    trained = json.loads((ROOT / out / "runs" / "results.json").read_text())
    ingest = json.loads((ROOT / out / "gaze" / "ingest.json").read_text())

    lines = [
        f"# Kvasir-SEG + GazeMedSeg gaze ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        "Parameters: " + ", ".join(f"`{k}={v}`" for k, v in params.items()),
        "",
        f"Ingest totals: `{json.dumps(ingest.get('totals', {}))}`",
        "",
        "| what | images | Dice | IoU | HD95 (px) |",
        "|---|---|---|---|---|",
        f"| pseudo-mask vs mask (all images, `gazeprep score`) | {score.get('n_images')} | "
        f"{score['pseudo_dice']:.4f} | {score.get('pseudo_iou', float('nan')):.4f} | |",
        f"| GazeMedSeg heatmap > 0.5 vs mask (all images) | {score.get('n_images')} | "
        f"{score['heatmap_dice']:.4f} | {score.get('heatmap_iou', float('nan')):.4f} | |",
    ]
    for method, r in trained.items():
        lines.append(f"| `{method}` model, held-out test ids | {r['n_images']} | "
                     f"{r['dice']:.4f} | {r['iou']:.4f} | {r['hd95']:.2f} |")
    table = "\n".join(lines)
    print("\n" + table)
    (ROOT / out / "results.md").write_text(table + "\n")
    result = {"params": params, "score": score, "trained": trained,
              "seconds": time.perf_counter() - t_start}
    (ROOT / out / "results.json").write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out / 'results.md'} and {out / 'results.json'} "
          f"({result['seconds']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
