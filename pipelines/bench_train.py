"""CPU training comparison on real Kvasir-SEG gaze: gradtrack, gazesup, full, fgi, gradtrack+fgi.

Protocol (DESIGN §4): a cache rendered at 128 px from the 880 Kvasir-SEG training images with
the real GazeMedSeg gaze; the fixed id split of ``pipelines/kvasir_split.py`` (100 test ids, the
other 780 train: the split ``pipelines/tune_render.py`` tunes the render defaults on, so no test
image was used for tuning either); a small U-Net (FGI: its student; the teacher is twice as
wide); the same iterations, batch and seed for every method, trained one after the other; test
Dice/IoU/HD95 from ``gradseg eval`` on the 100 held-out ids only (the trainer never sees them:
they are passed with ``--test-ids``; model selection uses its own validation split of the 780).
FGI's methods are scored by their student (what FGI reports; no text cues here, so the teacher
is image-only); their teacher and ensemble are scored too, for information. FGI's ramp-up
(4,000 of its 15,000 steps) is scaled to the budget as ``pipelines/paper.py`` does
(``--fgi-rampup-iters`` 320 at 1,200 iterations; ``--fgi-unscaled`` keeps 4,000, which a
1,200-step run never reaches). ``s/step`` is the mean time of one training step (data,
forward, backward, update), without validation.

Run::

    .venv/bin/gazeprep ingest ../shared/data/gazemedseg/kvasir_fixation.csv --out /tmp/kv_gaze
    .venv/bin/gazeprep render --levels 4 --gaze /tmp/kv_gaze --size 128 --out /tmp/kv128.zarr \\
        --images ../shared/data/kvasir-seg/images --masks ../shared/data/kvasir-seg/masks
    .venv/bin/python pipelines/bench_train.py /tmp/kv128.zarr --iterations 1200
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from _common import run
from kvasir_split import split_ids

METHODS = "gradtrack,gazesup,full,fgi,gradtrack+fgi"
FGI = ("fgi", "gradtrack+fgi")


def fgi_rampup(iterations: int) -> int:
    """FGI's ramp-up for a run of ``iterations`` steps: its 4,000 of 15,000, scaled."""
    from paper import FGI_ITERATIONS, FGI_RAMPUP

    return round(FGI_RAMPUP * iterations / FGI_ITERATIONS)


def evaluate(checkpoint: Path, cache: str, test_file: Path, model: str = "student") -> dict:
    """``gradseg eval --json`` of ``checkpoint`` on the held-out ids."""
    return json.loads(run(["gradseg", "eval", "--checkpoint", checkpoint, "--cache", cache,
                           "--ids", test_file, "--json", "--device", "cpu", "--model", model,
                           "--out", checkpoint.parent / f"eval_{model}.parquet"],
                          capture=True, echo=False, label="bench_train"))


def train_one(args, method: str, out: Path, test_file: Path) -> dict:
    """Train ``method`` from scratch, then score it; returns the eval result plus timings."""
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
    if method in FGI and not args.fgi_unscaled:
        cmd += ["--fgi-rampup-iters", str(fgi_rampup(args.iterations))]
    run(cmd, label="bench_train")
    train_s = time.time() - t0
    r = evaluate(run_dir / "best.pt", args.cache, test_file)
    summary = json.loads((run_dir / "summary.json").read_text())
    r.update(train_s=train_s, best_val_dice=summary["best_val_dice"],
             step_s=summary["step_seconds"])
    if method in FGI:
        for model in ("teacher", "ensemble"):
            r[f"{model}_dice"] = evaluate(run_dir / "best.pt", args.cache, test_file,
                                          model)["dice"]
    return r


def table(results: dict, args, n_test: int) -> str:
    """The results as a Markdown table (the README's rows)."""
    anchor = results.get("gradtrack", {}).get("step_s")
    lines = [f"Test Dice on the {n_test} held-out images, {args.iterations} iterations x batch "
             f"{args.batch_size}, 128 px, base channels {args.base_channels}, seed "
             f"{args.seed}, {args.threads} thread(s), CPU.", "",
             "| method | test Dice | test IoU | HD95 (px) | best val Dice | s/step | x gradtrack "
             "step | train s |", "|---|---|---|---|---|---|---|---|"]
    for m, r in results.items():
        ratio = f"{r['step_s'] / anchor:.1f}" if anchor else "-"
        lines.append(f"| {m} | {r['dice']:.4f} | {r['iou']:.4f} | {r['hd95']:.2f} | "
                     f"{r['best_val_dice']:.4f} | {r['step_s']:.3f} | {ratio} | "
                     f"{r['train_s']:.0f} |")
    notes = [f"{m}: teacher {r['teacher_dice']:.4f}, ensemble {r['ensemble_dice']:.4f} "
             "(image-only teacher)" for m, r in results.items() if "teacher_dice" in r]
    if notes:
        lines += ["", "FGI's other predictors (test Dice): " + "; ".join(notes) + "."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cache", help="Zarr cache rendered by gazeprep render (128 px)")
    ap.add_argument("--out", default="runs/bench_train", help="folder for the runs")
    ap.add_argument("--iterations", type=int, default=1200)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--base-channels", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--fgi-unscaled", action="store_true",
                    help="keep FGI's ramp-up at its 4,000 steps whatever --iterations")
    ap.add_argument("--extra", default="", help="extra options for every `gradseg train`")
    args = ap.parse_args()

    from rich.console import Console

    from gazeprep.contract.cache import validate

    console = Console()
    layout = validate(args.cache)
    attrs, ids = layout.attrs, layout.ids
    train_ids, test_ids = split_ids(ids)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    test_file = out / "test_ids.txt"
    test_file.write_text("\n".join(test_ids) + "\n")
    command = shlex.join(["python", "pipelines/bench_train.py", *sys.argv[1:]])
    console.print(f"$ {command}\ncache {args.cache}: {len(ids)} images, size {attrs['size']}, "
                  f"levels {attrs['levels']}; train {len(train_ids)}, test {len(test_ids)}")
    results = {}
    for method in args.methods.split(","):
        results[method] = r = train_one(args, method, out, test_file)
        console.print(f"{method}: test dice {r['dice']:.4f} iou {r['iou']:.4f} hd95 "
                      f"{r['hd95']:.2f} original px (n={r['n_images']}), {r['step_s']:.3f} s/step, "
                      f"train {r['train_s']:.0f} s", markup=False)
        # after each method, so an interrupted comparison keeps what it measured
        (out / "results.json").write_text(json.dumps(results, indent=2))
        (out / "results.md").write_text(table(results, args, len(test_ids))
                                        + f"\n\nCommand: `{command}`\n")
    print(table(results, args, len(test_ids)))


if __name__ == "__main__":
    main()
