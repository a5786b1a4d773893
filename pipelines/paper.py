"""Recipe: the published protocol for every method, side by side, in one table.

Every published number on Kvasir-SEG with GazeMedSeg gaze (GazeSup 77.80, FGI 80.78, GradTrack
81.01, the fully supervised U-Net 82.12 Dice) comes from one protocol (:data:`gradseg.protocol.
PAPER`): 224 px, a U-Net of 64..1024 channels with GroupNorm, 15,000 iterations of batch 8,
flips, SGD (Nesterov, weight decay 4e-4), lr 1e-2 -> 1e-4 cosine, Dice at each test image's own
resolution. This recipe trains, under that protocol, on the same cache, split, seeds and budget:

=================================  ============================================================
``gradtrack``                      Track Attention U-Net (decoder supervised by the track maps)
``gazesup``                        GazeMedSeg's multi-level heatmap supervision
``fgi``                            FGI as published: teacher of the protocol's width (64..1024),
                                   student half as wide (32..512); ramp-up 4,000 of 15,000 steps,
                                   scaled with ``--iterations``
``full``                           ground-truth masks (the upper bound)
``gradtrack-no-track-supervision`` ablation: gradtrack with ``--att-weight 0``
``gradtrack-heatmap-target``       ablation: gradtrack's final head on the heatmap pseudo-mask
                                   (heatmap >= 0.5) instead of the render's
=================================  ============================================================

and scores, on the test images at their own size (``gradseg eval --images --masks``), the
model chosen on the validation split (``best.pt``) and the last iterate (``last.pt``): Dice,
IoU and HD95, mean and spread (sample standard deviation) over the seeds, with the training
time and peak memory of each method. The table is written as ``paper.md`` and ``paper.json``
in ``--out``; each run keeps its folder (``runs/<variant>/seed<k>``) and its ``result.json``,
so an interrupted table continues where it stopped (finished runs are reused, unfinished ones
resumed from ``last.pt``).

Several runs share one GPU as concurrent processes (``--jobs``; ``auto``: as many as the GPU's
free memory holds, from :data:`MEMORY_GB`). On Kvasir-SEG with GazeMedSeg gaze (the 880
images here; the 100 test ids of ``pipelines/kvasir_split.py`` held out)::

    K=../shared/data/kvasir-seg
    gazeprep ingest ../shared/data/gazemedseg/kvasir_fixation.csv --images $K/images --out kv_gaze
    gazeprep render --levels 4 --size 224 --gaze kv_gaze --images $K/images --masks $K/masks \\
        --out kv224.zarr
    python pipelines/kvasir_split.py kv224.zarr > test_ids.txt
    python pipelines/paper.py --cache kv224.zarr --test-images $K/images --test-masks $K/masks \\
        --test-ids test_ids.txt --seeds 0,1,2 --jobs auto --out runs/paper

``--smoke`` runs the whole recipe on a synthetic dataset in about a minute on a CPU (the test
suite runs it); ``--seeds``, ``--iterations``, ``--size`` and ``--base-channels`` override the
protocol.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shlex
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

#: The table's rows: run settings on top of the protocol.
VARIANTS: dict[str, dict] = {
    "gradtrack": {"method": "gradtrack"},
    "gazesup": {"method": "gazesup"},
    "fgi": {"method": "fgi", "student_width": 0.5},
    "full": {"method": "full"},
    "gradtrack-no-track-supervision": {"method": "gradtrack", "att_weight": 0.0},
    "gradtrack-heatmap-target": {"method": "gradtrack", "seg_target": "heatmap"},
}
#: GPU memory one run of a method takes at the protocol's scale (224 px, 64 channels, batch 8,
#: bf16), GiB, for ``--jobs auto``: an estimate with margin (CUDA context included).
MEMORY_GB = {"gradtrack": 6.0, "gazesup": 6.0, "full": 6.0, "fgi": 12.0}
#: FGI's ramp-up length at its 15,000 iterations.
FGI_RAMPUP, FGI_ITERATIONS = 4000, 15_000
#: The smoke run: a synthetic dataset, tiny networks, two seeds, a few steps.
SMOKE = {"iterations": 12, "size": 32, "base_channels": 4, "batch_size": 4, "seeds": "0,1",
         "eval_every": 6, "jobs": "2", "device": "cpu"}


def run_config(args, variant: str, seed: int, out: Path, exclude: list[str]) -> dict:
    """The TrainConfig settings of one run of ``variant``: the protocol, the overrides, the
    variant's own settings."""
    from gradseg.protocol import PAPER

    spec = dict(VARIANTS[variant])
    width = spec.pop("student_width", 1.0)
    cfg = {**PAPER, **spec, "cache": str(args.cache), "out": str(out), "seed": seed,
           "iterations": args.iterations, "size": args.size, "batch_size": args.batch_size,
           "base_channels": max(1, int(args.base_channels * width)),
           "eval_every": args.eval_every, "checkpoint_every": args.checkpoint_every,
           "exclude_ids": exclude, "device": args.device, "compile": args.compile,
           "workers": args.workers, "threads": args.threads}
    if spec["method"] == "fgi":
        cfg["fgi"] = {"rampup_iters": round(FGI_RAMPUP * args.iterations / FGI_ITERATIONS)}
    return cfg


def score(checkpoint: Path, test: dict, device: str) -> dict:
    """Dice, IoU and HD95 of ``checkpoint`` on the test images at their own size."""
    import torch

    from gazeprep.contract.images import ImageOptions
    from gradseg.checkpoint import load_model
    from gradseg.device import pick_device
    from gradseg.evaluate import evaluate_folders, summarise

    model, config = load_model(checkpoint, pick_device(device))
    options = ImageOptions.from_dict(config.get("image_options"))
    with torch.no_grad():
        rows, extra = evaluate_folders(model, config, test["images"], test["masks"],
                                       test["ids"], options=options)
    return summarise(rows, extra)


def run_job(job: dict) -> dict:
    """Train one run (resuming an interrupted one) and score both checkpoints; the result is
    also written to ``<run>/result.json``, and reused when the same job is asked again."""
    import torch

    from gradseg.train import TrainConfig, train

    out = Path(job["config"]["out"])
    done = out / "result.json"
    if done.is_file():
        result = json.loads(done.read_text())
        if result.get("job") == job:
            return result
    summary = train(TrainConfig(**job["config"]), resume=(out / "last.pt").is_file(),
                    progress=False)
    result = {"job": job, "summary": summary,
              **{which: score(out / f"{which}.pt", job["test"], job["config"]["device"])
                 for which in ("best", "last")}}
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(done)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result


def test_set(args) -> dict:
    """The test images, masks and ids; the ids also held out of training when in the cache."""
    ids = None
    if args.test_ids:
        from gradseg.data.split import read_ids_file

        ids = read_ids_file(args.test_ids)
    return {"images": str(args.test_images), "masks": str(args.test_masks), "ids": ids}


def plan_jobs(args, cache_ids: list[str]) -> list[dict]:
    """Every (variant, seed) run, the costliest first (they pack better on a shared GPU)."""
    test = test_set(args)
    exclude = sorted(set(test["ids"] or []) & set(cache_ids))
    jobs = []
    for variant in args.methods.split(","):
        if variant not in VARIANTS:
            raise SystemExit(f"paper: unknown method {variant!r}; expected some of "
                             f"{', '.join(VARIANTS)}")
        for seed in (int(s) for s in args.seeds.split(",")):
            out = Path(args.out) / "runs" / variant / f"seed{seed}"
            jobs.append({"variant": variant, "seed": seed, "test": test,
                         "config": run_config(args, variant, seed, out, exclude)})
    jobs.sort(key=lambda j: -MEMORY_GB[j["config"]["method"]])
    return jobs


def job_slots(args, jobs: list[dict]) -> int:
    """Concurrent runs: ``--jobs N``, or ``auto``: as many as the free GPU memory holds (one
    on a CPU)."""
    if args.jobs != "auto":
        return max(1, int(args.jobs))
    import torch

    if args.device == "cpu" or not torch.cuda.is_available():
        return 1
    free = torch.cuda.mem_get_info()[0] / 2**30
    need = max(MEMORY_GB[j["config"]["method"]] for j in jobs)
    return max(1, min(len(jobs), int(free // need)))


def share_machine(jobs: list[dict], slots: int) -> None:
    """Give each run its share of the machine: a GPU (round robin), CPU threads, and
    DataLoader workers (one core each) when they were not given."""
    import torch

    cores = os.cpu_count() or 1
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    for k, job in enumerate(jobs):
        cfg = job["config"]
        on_gpu = gpus > 0 and cfg["device"] in ("auto", "cuda")
        if on_gpu:
            cfg["device"] = f"cuda:{k % gpus}"
        if cfg["threads"] is None:
            cfg["threads"] = max(1, cores // slots // (2 if on_gpu else 1))
        if cfg["workers"] is None:
            cfg["workers"] = max(1, min(8, cores // slots - 1)) if on_gpu else 0


def run_all(jobs: list[dict], slots: int, fresh: bool = True) -> list[dict]:
    """Run the jobs, ``slots`` at a time, in spawned processes (CUDA-safe): with ``fresh`` a
    new process per run, so that its peak memory is its own; else the processes are reused
    (``--smoke``: torch is imported once per process, not once per run)."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=slots, mp_context=ctx,
                             max_tasks_per_child=1 if fresh else None) as pool:
        futures = [pool.submit(run_job, j) for j in jobs]
        results = []
        for job, fut in zip(jobs, futures, strict=True):
            r = fut.result()
            b = r["best"]
            print(f"{job['variant']} seed {job['seed']}: test Dice {b['dice']:.4f} (best), "
                  f"{r['last']['dice']:.4f} (last); {r['summary']['seconds']:.0f} s", flush=True)
            results.append(r)
    return results


def _spread(values: list[float]) -> dict:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else None
    return {"mean": mean, "sd": sd, "values": values}


def aggregate(results: list[dict]) -> dict:
    """Per variant: metrics of both checkpoints over the seeds, time and peak memory."""
    table: dict[str, dict] = {}
    for variant in dict.fromkeys(r["job"]["variant"] for r in results):
        rs = sorted((r for r in results if r["job"]["variant"] == variant),
                    key=lambda r: r["job"]["seed"])
        row = {"seeds": [r["job"]["seed"] for r in rs], "method": rs[0]["job"]["config"]["method"],
               "n_test": rs[0]["best"]["n_images"]}
        for which in ("best", "last"):
            row[which] = {m: _spread([r[which][m] for r in rs]) for m in ("dice", "iou", "hd95")}
        s = [r["summary"] for r in rs]
        row["train_seconds"] = _spread([x["seconds"] for x in s])
        row["step_seconds"] = _spread([x["step_seconds"] for x in s])
        row["peak_memory_mb"] = max(x.get("peak_memory_mb") or 0.0 for x in s)
        row["peak_memory"] = s[0].get("peak_memory", "")
        row["best_val_dice"] = _spread([x["best_val_dice"] or float("nan") for x in s])
        table[variant] = row
    return table


def _cell(spread: dict, scale: float = 1.0, digits: int = 2) -> str:
    text = f"{spread['mean'] * scale:.{digits}f}"
    return text if spread["sd"] is None else f"{text} ± {spread['sd'] * scale:.{digits}f}"


def markdown(table: dict, header: str) -> str:
    """The table as Markdown: Dice and IoU in percent, HD95 in pixels of the test images."""
    lines = [header, "",
             "| method | seeds | Dice (val-chosen) | IoU | HD95 px | Dice (last) | IoU | HD95 px "
             "| train min | s/step | peak MB |", "|---" * 11 + "|"]
    for name, r in table.items():
        b, last = r["best"], r["last"]
        lines.append(
            f"| {name} | {len(r['seeds'])} | {_cell(b['dice'], 100)} | {_cell(b['iou'], 100)} | "
            f"{_cell(b['hd95'])} | {_cell(last['dice'], 100)} | {_cell(last['iou'], 100)} | "
            f"{_cell(last['hd95'])} | {r['train_seconds']['mean'] / 60:.1f} | "
            f"{r['step_seconds']['mean']:.3f} | {r['peak_memory_mb']:.0f} |")
    return "\n".join(lines)


def smoke_data(root: Path) -> dict:
    """A synthetic training cache and a test set of 40 x 48 PNGs (not square: the masks'
    own size differs from the model's) for ``--smoke``."""
    import numpy as np
    from PIL import Image

    from gradseg.toydata import make_sample, write_toy_cache

    root.mkdir(parents=True, exist_ok=True)
    write_toy_cache(root / "train.zarr", n=24, size=32, levels=3, seed=1)
    for sub in ("images", "masks"):
        (root / sub).mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    for k in range(6):
        s = make_sample(rng, 48, 3)
        Image.fromarray(s["image"].transpose(1, 2, 0)[4:44]).save(root / "images" / f"t{k}.png")
        Image.fromarray(s["mask"][0, 4:44] * 255).save(root / "masks" / f"t{k}.png")
    return {"cache": root / "train.zarr", "test_images": root / "images",
            "test_masks": root / "masks"}


def parse(argv: list[str] | None) -> argparse.Namespace:
    from gradseg.protocol import PAPER

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, help="training cache (gazeprep render)")
    ap.add_argument("--test-images", type=Path, help="test images (their own size)")
    ap.add_argument("--test-masks", type=Path, help="test masks, same ids")
    ap.add_argument("--test-ids", type=Path, help="ids to test on (default: every image with "
                    "a mask); those in the cache are never trained or validated on")
    ap.add_argument("--out", type=Path, default=Path("runs/paper"))
    ap.add_argument("--methods", default=",".join(VARIANTS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--iterations", type=int, default=PAPER["iterations"])
    ap.add_argument("--size", type=int, default=PAPER["size"])
    ap.add_argument("--base-channels", type=int, default=PAPER["base_channels"])
    ap.add_argument("--batch-size", type=int, default=PAPER["batch_size"])
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--checkpoint-every", type=int, default=1000)
    ap.add_argument("--jobs", default="1", help="runs at a time, or auto (GPU memory)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers per run")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads per run")
    ap.add_argument("--compile", action="store_true", help="torch.compile every network")
    ap.add_argument("--smoke", action="store_true", help="the whole recipe in a minute on CPU")
    args = ap.parse_args(argv)
    if args.smoke:
        for k, v in {**SMOKE, "threads": 1}.items():
            setattr(args, k, v)
        for k, v in smoke_data(args.out / "smoke_data").items():
            setattr(args, k, v)
    if not (args.cache and args.test_images and args.test_masks):
        ap.error("give --cache, --test-images and --test-masks (or --smoke)")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run the recipe; returns what ``paper.json`` holds."""
    args = parse(argv)
    from gazeprep.contract.cache import read_sample_table

    cache_ids = [str(i) for i in read_sample_table(args.cache)["sample"]]
    jobs = plan_jobs(args, cache_ids)
    slots = job_slots(args, jobs)
    share_machine(jobs, slots)
    command = shlex.join(["python", "pipelines/paper.py", *(sys.argv[1:] if argv is None
                                                            else argv)])
    print(f"$ {command}\n{len(jobs)} runs, {slots} at a time", flush=True)
    t0 = time.perf_counter()
    table = aggregate(run_all(jobs, slots, fresh=not args.smoke))
    wall = time.perf_counter() - t0
    settings = {k: v for k, v in jobs[0]["config"].items()
                if k not in ("out", "seed", "method", "exclude_ids", "fgi")}
    header = (f"Test set: {table[next(iter(table))]['n_test']} images at their own size; "
              f"{args.iterations} iterations x batch {args.batch_size}, {args.size} px, base "
              f"channels {args.base_channels}, seeds {args.seeds}; {len(jobs)} runs, {slots} "
              f"at a time, {wall / 60:.1f} min wall. Mean ± sd over seeds; Dice and IoU in %.")
    text = markdown(table, header) + f"\n\nCommand: `{command}`\n"
    result = {"command": command, "settings": settings, "wall_seconds": wall, "slots": slots,
              "cpu_count": os.cpu_count(), "table": table}
    out = Path(args.out)
    (out / "paper.md").write_text(text)
    (out / "paper.json").write_text(json.dumps(result, indent=2))
    print("\n" + text, flush=True)
    return result


if __name__ == "__main__":
    main()
