"""CPU training comparison: gradtrack vs gazesup vs full on real Kvasir-SEG gaze (DESIGN §4).

Protocol: a cache rendered at 128 px from the 880 Kvasir-SEG training images with the real
GazeMedSeg gaze; the fixed id split of ``pipelines/kvasir_split.py`` (100 test ids, the other
780 train: the split ``pipelines/tune_render.py`` tunes the render defaults on, so no test
image was used for tuning either);
a small U-Net; the same iterations, batch and seed for the three methods, trained one after
the other; test Dice/IoU/HD95 from ``gradseg eval`` on the 100 held-out ids only (the
trainer never sees them: they are passed with ``--test-ids``; model selection uses its own
validation split of the 780).

Run::

    .venv/bin/gazeprep ingest ../shared/data/gazemedseg/kvasir_fixation.csv --out /tmp/kv_gaze
    .venv/bin/gazeprep render --levels 4 --gaze /tmp/kv_gaze --size 128 --out /tmp/kv128.zarr \\
        --images ../shared/data/kvasir-seg/images --masks ../shared/data/kvasir-seg/masks
    .venv/bin/python pipelines/bench_train.py /tmp/kv128.zarr --iterations 1200
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import run
from kvasir_split import split_ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cache", help="Zarr cache rendered by gazeprep render (128 px)")
    ap.add_argument("--out", default="runs/bench_train", help="folder for the three runs")
    ap.add_argument("--iterations", type=int, default=1200)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--base-channels", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    ap.add_argument("--methods", default="gradtrack,gazesup,full")
    ap.add_argument("--extra", default="", help="extra options for every `gradseg train`")
    args = ap.parse_args()

    import zarr
    from rich.console import Console
    from rich.table import Table

    console = Console()
    attrs = dict(zarr.open_group(args.cache, mode="r").attrs)
    ids = [str(i) for i in attrs["ids"]]
    train_ids, test_ids = split_ids(ids)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    test_file = out / "test_ids.txt"
    test_file.write_text("\n".join(test_ids) + "\n")
    console.print(f"cache {args.cache}: {len(ids)} images, size {attrs['size']}, levels "
                  f"{attrs['levels']}; train {len(train_ids)}, test {len(test_ids)}; "
                  f"{args.iterations} iterations x batch {args.batch_size}, base channels "
                  f"{args.base_channels}, seed {args.seed}")
    results = {}
    for method in args.methods.split(","):
        run_dir = out / method
        if run_dir.exists():
            import shutil

            shutil.rmtree(run_dir)
        t0 = time.time()
        cmd = ["gradseg", "train", "--cache", args.cache, "--out", str(run_dir), "--method", method,
               "--iterations", str(args.iterations), "--batch-size", str(args.batch_size),
               "--base-channels", str(args.base_channels), "--seed", str(args.seed),
               "--threads", str(args.threads), "--test-ids", str(test_file), "--in-memory",
               "--eval-every", str(max(50, args.iterations // 6)), "--quiet",
               *args.extra.split()]
        run(cmd, label="bench_train")
        train_s = time.time() - t0
        r = json.loads(run(["gradseg", "eval", "--checkpoint", run_dir / "best.pt", "--cache",
                            args.cache, "--ids", test_file, "--json", "--device", "cpu"],
                           capture=True, echo=False, label="bench_train"))
        summary = json.loads((run_dir / "summary.json").read_text())
        r.update(train_s=train_s, best_val_dice=summary["best_val_dice"])
        results[method] = r
        console.print(f"{method}: test dice {r['dice']:.4f} iou {r['iou']:.4f} hd95 "
                      f"{r['hd95']:.2f} px (n={r['n_images']}), train {train_s:.0f} s")
    table = Table(title=f"bench_train: test Dice on {len(test_ids)} held-out images "
                  f"({args.iterations} iterations, 128 px, CPU)")
    for c in ("method", "test dice", "test iou", "test hd95 (px)", "best val dice", "train s"):
        table.add_column(c, justify="right")
    for m, r in results.items():
        table.add_row(m, f"{r['dice']:.4f}", f"{r['iou']:.4f}", f"{r['hd95']:.2f}",
                      f"{r['best_val_dice']:.4f}", f"{r['train_s']:.0f}")
    console.print(table)
    if {"gradtrack", "gazesup", "full"} <= set(results):
        g, z, f = (results[m]["dice"] for m in ("gradtrack", "gazesup", "full"))
        console.print(f"gradtrack - gazesup = {100 * (g - z):+.2f} Dice points (goal >= +3): "
                      f"{'met' if g - z >= 0.03 else 'NOT met'}")
        console.print(f"gradtrack / full = {g / f:.3f} (goal >= 0.9): "
                      f"{'met' if g >= 0.9 * f else 'NOT met'}")
    (out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
