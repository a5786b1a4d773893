"""The training loop: split, data, model, optimisation, validation, checkpoints, DDP.

Determinism: the sample order of epoch e is a permutation seeded by (seed, e); each sample's
augmentation is seeded by (seed, e, index). Neither depends on worker count, so ``--resume``
from step s replays exactly the batches a straight run would have seen, and a CPU run is
reproducible bit for bit.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from gradseg.augment import AugmentConfig
from gradseg.cache import CacheDataset, CacheInfo, open_cache
from gradseg.checkpoint import load_checkpoint, load_state, save_checkpoint
from gradseg.errors import GradsegError
from gradseg.methods import MAP_ORDERS, METHODS, TRAIN_FIELDS, compute_loss
from gradseg.model import build_model, predict_logits


@dataclass
class TrainConfig:
    """Every setting of a run; stored as JSON in ``config.json`` and in each checkpoint.

    Sizes are pixels, ``lr`` is the peak AdamW learning rate, ``*_weight`` are loss weights,
    ``threads`` the CPU intra-op threads (default: torch's), ``val_target`` what validation
    Dice is computed against (``auto``: the ground-truth mask when the cache has masks, else
    the pseudo-mask).
    """

    cache: str
    out: str = "runs/gradtrack"
    method: str = "gradtrack"
    size: int | None = None
    iterations: int | None = None
    epochs: int | None = None
    batch_size: int = 8
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    amp: bool | None = None
    compile: bool = False
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    grad_clip: float = 1.0
    base_channels: int = 32
    workers: int | None = None
    in_memory: bool = False
    augment: bool = True
    seg_weight: float = 1.0
    att_weight: float = 0.5
    consistency_weight: float = 1.0
    thresholds: list[float] = field(default_factory=lambda: [0.5, 0.3])
    map_order: str = "whole-first"
    val_target: str = "auto"
    eval_every: int = 200
    checkpoint_every: int = 200
    exclude_ids: list[str] = field(default_factory=list)
    threads: int | None = None
    levels: int = 0  # filled from the cache
    cache_size: int = 0  # filled from the cache: the side S its images were rendered at
    image_options: dict | None = None  # filled from the cache: how render read its files


#: Settings that may differ when resuming (they do not change the result on CPU).
#: Files train writes into its run folder (--out); other files there are left alone.
RUN_FILES = ("config.json", "split.json", "metrics.jsonl", "summary.json", "val.png", "best.pt",
             "last.pt")
_RESUME_FREE = {"device", "amp", "compile", "workers", "in_memory", "eval_every",
                "checkpoint_every", "out", "threads"}


def _dist_env() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> this process's CUDA device when there is one, else CPU."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GradsegError(f"device {name!r} requested but CUDA is not available")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local_rank}")
    return dev


def split_ids(ids: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded id-based split: ``random.Random(seed).shuffle(sorted(ids))``, first part = val.

    Returns
    -------
    (train_ids, val_ids)
    """
    order = sorted(ids)
    random.Random(seed).shuffle(order)
    n_val = 0 if val_fraction <= 0 else max(1, round(val_fraction * len(order)))
    return order[n_val:], order[:n_val]


#: What validation Dice is computed against (``auto``: mask when the cache has masks).
VAL_TARGETS = ("auto", "mask", "pseudo")


def _check_numbers(cfg: TrainConfig) -> None:
    """The option limits of ``gradseg train`` again, for TrainConfig used from Python."""
    def bad(ok: bool, what: str) -> None:
        if not ok:
            raise GradsegError(f"invalid setting: {what}")

    bad(cfg.batch_size >= 1, f"batch_size {cfg.batch_size} must be >= 1")
    bad(cfg.iterations is None or cfg.iterations >= 1,
        f"iterations {cfg.iterations} must be >= 1")
    bad(cfg.epochs is None or cfg.epochs >= 1, f"epochs {cfg.epochs} must be >= 1")
    bad(cfg.eval_every >= 1, f"eval_every {cfg.eval_every} must be >= 1")
    bad(cfg.checkpoint_every >= 1, f"checkpoint_every {cfg.checkpoint_every} must be >= 1")
    bad(math.isfinite(cfg.val_fraction) and 0 <= cfg.val_fraction < 1,
        f"val_fraction {cfg.val_fraction} must lie in [0, 1)")
    bad(math.isfinite(cfg.lr) and 0 < cfg.lr <= 10, f"lr {cfg.lr} must be a finite number in "
        "(0, 10]")
    bad(cfg.warmup >= 0 and cfg.base_channels >= 1, "warmup must be >= 0, base_channels >= 1")
    bad(cfg.size is None or 8 <= cfg.size <= 16384, f"size {cfg.size} must lie in 8..16384")
    weights = (cfg.seg_weight, cfg.att_weight, cfg.consistency_weight, cfg.weight_decay,
               cfg.grad_clip)
    bad(all(math.isfinite(w) and w >= 0 for w in weights),
        "loss weights, weight_decay and grad_clip must be finite numbers >= 0")
    bad(bool(cfg.thresholds) and all(0 < t < 1 for t in cfg.thresholds),
        f"thresholds {cfg.thresholds} must be numbers in (0, 1)")


def _check_memory(cfg: TrainConfig, info: CacheInfo, device: torch.device) -> None:
    """Refuse a --size / --batch-size whose smallest possible working set does not fit.

    Lower bound of one step: the float32 batch (image, L maps, heatmap, pseudo-mask, mask) and
    the first layer's activations and their gradients (2 x base_channels maps), all S x S. The
    real need is several times larger, so a refusal here is never wrong.
    """
    need = cfg.batch_size * cfg.size**2 * 4 * (3 + info.levels + 3 + 2 * cfg.base_channels)
    if device.type == "cuda":
        have, where = torch.cuda.get_device_properties(device).total_memory, f"{device} memory"
    else:
        have, where = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "RAM"
    if need > have:
        raise GradsegError(
            f"--size {cfg.size} with --batch-size {cfg.batch_size} needs at least "
            f"{need / 2**30:.1f} GiB of memory per step (the batch and the first layer's "
            f"activations) but this machine has {have / 2**30:.1f} GiB of {where}; expected a "
            "smaller --size or --batch-size", file=info.path)


def _resolve(cfg: TrainConfig, info: CacheInfo) -> TrainConfig:
    """Check the settings against the cache and fill in the defaults that depend on it.

    Raises
    ------
    typer.BadParameter
        (exit code 2 on the command line) for a setting the cache cannot serve: validation
        against masks, or ``--method full``, on a cache without masks.
    """
    _check_numbers(cfg)
    if cfg.method not in METHODS:
        raise GradsegError(f"method must be one of {', '.join(METHODS)}, got {cfg.method!r}")
    if cfg.map_order not in MAP_ORDERS:
        raise GradsegError(f"map order must be one of {', '.join(MAP_ORDERS)}")
    cfg.levels = info.levels
    cfg.cache_size = info.size
    cfg.image_options = (info.attrs.get("params") or {}).get("image")
    cfg.size = cfg.size or info.size
    if cfg.size % (2**info.levels):
        raise GradsegError(
            f"--size {cfg.size} must be divisible by 2**levels = {2**info.levels} "
            f"(the U-Net has one decoder stage per cache level, L = {info.levels})"
        )
    if cfg.val_target not in VAL_TARGETS:
        raise usage_error("--val-target", f"{cfg.val_target!r} is not one of "
                          f"{', '.join(VAL_TARGETS)}")
    if not info.mask_available:
        why = (f"the cache {info.path} has no ground-truth masks (render it with --masks "
               "to get them)")
        if cfg.val_target == "mask":
            raise usage_error("--val-target", f"mask: {why}; use --val-target pseudo (or auto)")
        if cfg.method == "full":
            raise usage_error("--method", f"full trains on masks but {why}; use gradtrack or "
                              "gazesup")
    if cfg.val_target == "auto":
        cfg.val_target = "mask" if info.mask_available else "pseudo"
    return cfg


def usage_error(option: str, message: str) -> Exception:
    """A usage error about ``option``: the command line exits with code 2 and says why."""
    import typer

    return typer.BadParameter(message, param_hint=f"'{option}'")


def make_split(cfg: TrainConfig, info: CacheInfo) -> dict[str, list[str]]:
    """Train/val ids after removing held-out ids (and, where masks are needed, unmasked ids)."""
    held = set(cfg.exclude_ids)
    unknown = held - set(info.ids)
    if unknown:
        raise GradsegError(f"{len(unknown)} held-out id(s) not in the cache, e.g. "
                           f"{sorted(unknown)[:5]}", file=info.path)
    has = dict(zip(info.ids, info.has_mask, strict=True))
    pool = [i for i in info.ids if i not in held]
    no_mask = [i for i in pool if not has[i]]
    if cfg.method == "full":
        pool = [i for i in pool if has[i]]
    train, val = split_ids(pool, cfg.val_fraction, cfg.seed)
    if cfg.val_target == "mask":
        # Validation images without a mask cannot be scored; they go back to training.
        train = sorted(train + [i for i in val if not has[i]])
        if val and not any(has[i] for i in val):
            raise usage_error("--val-target", f"mask: no validation image has a mask ({len(val)}"
                              f" drawn, seed {cfg.seed}); use --val-target pseudo or a larger "
                              "--val-fraction")
        val = [i for i in val if has[i]]
    return {"train": train, "val": val, "held_out": sorted(held),
            "no_mask": sorted(no_mask)}


class _EpochSampler(torch.utils.data.Sampler):
    """This rank's share of epoch ``epoch``, from batch ``start_batch`` on, as (index, seed)."""

    def __init__(self, n: int, batch_size: int, seed: int, epoch: int, rank: int, world: int,
                 start_batch: int = 0):
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        mine = perm[rank::world].tolist()
        # Every rank runs the same number of batches (n // world // batch), else ranks would
        # drift apart in epoch and order when n is not a multiple of world.
        n_batches = n // world // batch_size
        mine = mine[start_batch * batch_size: n_batches * batch_size]
        self.items = [(i, _aug_seed(seed, epoch, i)) for i in mine]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _aug_seed(seed: int, epoch: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


def _lr_lambda(warmup: int, total: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    return f


def _to(batch: dict, device: torch.device, channels_last: bool) -> dict:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            if k == "image" and channels_last:
                v = v.contiguous(memory_format=torch.channels_last)
        out[k] = v
    return out


@torch.no_grad()
def validate(model, loader, device, amp: bool, channels_last: bool, target: str,
             keep: int = 4) -> tuple[dict[str, float], list[dict]]:
    """Mean Dice and IoU of thresholded predictions against ``target`` on the validation set.

    Returns the means and up to ``keep`` samples (image, gaze map, target, prediction) for the
    validation picture.
    """
    from gradseg.metrics import dice, iou

    was_training = model.training
    model.eval()
    dices, ious, rows = [], [], []
    for batch in loader:
        b = _to(batch, device, channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = predict_logits(model(b["image"]))
        pred = (logits.float() > 0).cpu().numpy()[:, 0]
        tgt = batch[target].numpy()[:, 0] > 0.5
        for j in range(pred.shape[0]):
            dices.append(dice(pred[j], tgt[j]))
            ious.append(iou(pred[j], tgt[j]))
            if len(rows) < keep:
                gaze = batch["maps"][j].max(0).values if "maps" in batch else batch["heatmap"][j, 0]
                rows.append({"image": batch["image"][j].permute(1, 2, 0).numpy(),
                             "gaze": gaze.numpy(), "target": tgt[j], "pred": pred[j]})
    model.train(was_training)
    return {"val_dice": float(np.mean(dices)), "val_iou": float(np.mean(ious))}, rows


def _check_resume(cfg: TrainConfig, saved: dict, path: Path) -> TrainConfig:
    mine = asdict(cfg)
    diffs = [k for k, v in saved.items() if k not in _RESUME_FREE and mine.get(k) != v]
    if diffs:
        show = ", ".join(f"{k}: run={saved[k]!r} now={mine.get(k)!r}" for k in diffs[:4])
        raise GradsegError(f"--resume with different settings ({show}); use the run's "
                           f"settings (see config.json) or a new --out", file=path)
    return cfg


def _is_run_config(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(doc, dict) and {"cache", "method", "iterations", "seed"} <= set(doc)


def check_run_folder(out: Path, resume: bool) -> None:
    """Refuse a run folder whose files train would replace but did not write.

    Files named like train's outputs (:data:`RUN_FILES`) are replaced only when ``config.json``
    says the folder is a gradseg run; its checkpoints only with ``--resume``.
    """
    if out.exists() and not out.is_dir():
        raise GradsegError("--out exists and is not a folder", file=out)
    present = [n for n in RUN_FILES if os.path.lexists(out / n)]
    if present and not _is_run_config(out / "config.json"):
        raise GradsegError(f"holds {', '.join(present)} not written by gradseg train (no "
                           "config.json of a gradseg run); refusing to replace them: choose "
                           "another --out", file=out)
    if not resume and any(n in present for n in ("best.pt", "last.pt")):
        raise GradsegError("run folder already holds checkpoints; pass --resume to continue "
                           "or choose another --out", file=out)


def _write_text(path: Path, text: str) -> None:
    from gradseg.outputs import atomic_write

    atomic_write(path, lambda tmp: tmp.write_text(text))


def train(cfg: TrainConfig, *, resume: bool = False, stop_after: int | None = None,
          progress: bool = True, log=print) -> dict:
    """Train one run; returns a summary dict (also written to ``summary.json`` by rank 0).

    Parameters
    ----------
    cfg : TrainConfig
    resume : bool
        Continue from ``<out>/last.pt`` at the same step with the same optimizer, scheduler
        and RNG state.
    stop_after : int, optional
        Stop after this many iterations in this invocation (time-sliced jobs); the run can be
        continued with ``resume``.
    progress : bool
        Show a rich progress bar (rank 0 only).
    log : callable
        Receives one-line messages (rank 0 only).
    """
    rank, world, local_rank = _dist_env()
    if cfg.threads:
        # On a shared CPU, OpenMP threads that spin-wait for busy cores can be several times
        # slower than one thread; let the user pin the count.
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device, local_rank)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    main = rank == 0
    info = open_cache(cfg.cache)
    cfg = _resolve(cfg, info)
    _check_memory(cfg, info, device)
    split = make_split(cfg, info)
    n_train = len(split["train"])
    steps_per_epoch = n_train // world // cfg.batch_size
    if steps_per_epoch < 1:
        raise GradsegError(f"{n_train} training images are too few for batch size "
                           f"{cfg.batch_size} x {world} process(es)")
    if cfg.iterations is None:
        cfg.iterations = (cfg.epochs or 10) * steps_per_epoch
    amp = device.type == "cuda" if cfg.amp is None else cfg.amp
    channels_last = device.type == "cuda"
    workers = cfg.workers if cfg.workers is not None else (
        min(8, (os.cpu_count() or 2) - 1) if device.type == "cuda" else 0)
    out = Path(cfg.out)
    config = asdict(cfg)

    torch.manual_seed(cfg.seed)
    model = build_model(config).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg.warmup, cfg.iterations))
    step, best = 0, -1.0
    last_path = out / "last.pt"
    if resume:
        if not last_path.is_file():
            raise GradsegError("--resume: no last.pt in the run folder", file=out)
        ckpt = load_checkpoint(last_path)
        _check_resume(cfg, ckpt["config"], last_path)
        load_state(model, ckpt["model"], last_path)
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng"])
        step, best = int(ckpt["step"]), float(ckpt["best_dice"])
        if math.isnan(best):
            best = -1.0
    if main:
        check_run_folder(out, resume)
        out.mkdir(parents=True, exist_ok=True)
        if not resume:  # a previous attempt of this run that left no checkpoint
            (out / "metrics.jsonl").unlink(missing_ok=True)
        _write_text(out / "config.json", json.dumps(config, indent=2))
        _write_text(out / "split.json", json.dumps(split))
        if split["no_mask"] and cfg.method == "full":
            log(f"note: {len(split['no_mask'])} images without a mask left out (method full)")

    fwd = model
    if world > 1:
        fwd = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        fwd = torch.compile(fwd)

    fields = TRAIN_FIELDS[cfg.method]
    aug = AugmentConfig() if cfg.augment else None
    train_ds = CacheDataset(info, info.positions(split["train"]), fields, cfg.size, aug,
                            cfg.in_memory)
    val_loader = None
    if main and split["val"]:
        val_fields = tuple(dict.fromkeys((cfg.val_target, "maps", "heatmap")))
        val_ds = CacheDataset(info, info.positions(split["val"]), val_fields, cfg.size, None,
                              cfg.in_memory)
        val_loader = DataLoader(val_ds, batch_size=max(1, cfg.batch_size), num_workers=workers)

    def evaluate(at: int, loss: float) -> float:
        nonlocal best
        rec = {"step": at, "epoch": at / steps_per_epoch, "loss": loss,
               "lr": sched.get_last_lr()[0], "time_s": round(time.time() - t0, 2)}
        vd = float("nan")
        if val_loader is not None:
            from gradseg.pictures import validation_panel

            scores, rows = validate(model, val_loader, device, amp, channels_last,
                                    cfg.val_target)
            rec.update(scores)
            vd = scores["val_dice"]
            validation_panel(rows, out / "val.png")
            if vd > best:
                best = vd
                save_checkpoint(out / "best.pt", model=model, config=config, step=at,
                                best_dice=best, val_dice=vd)
        with open(out / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        return vd

    end = cfg.iterations if stop_after is None else min(cfg.iterations, step + stop_after)
    t0 = time.time()
    run_loss, run_n, last_val, losses = 0.0, 0, float("nan"), []
    bar = _Progress(progress and main, end, step)
    model.train()
    while step < end:
        epoch, start_batch = divmod(step, steps_per_epoch)
        sampler = _EpochSampler(len(train_ds), cfg.batch_size, cfg.seed, epoch, rank, world,
                                start_batch)
        loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler,
                            num_workers=workers, pin_memory=device.type == "cuda",
                            drop_last=True)
        for batch in loader:
            b = _to(batch, device, channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                outputs = fwd(b["image"])
            loss, parts = compute_loss(config, outputs, b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            step += 1
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise GradsegError(f"loss became {lv} at step {step}; lower --lr")
            run_loss, run_n = run_loss + lv, run_n + 1
            losses.append(lv)
            if main:
                if step % cfg.eval_every == 0 or step == cfg.iterations:
                    last_val = evaluate(step, run_loss / run_n)
                    run_loss, run_n = 0.0, 0
                if step % cfg.checkpoint_every == 0 or step == end:
                    save_checkpoint(last_path, model=model, config=config, step=step,
                                    optimizer=opt, scheduler=sched, best_dice=best,
                                    val_dice=last_val)
                bar.update(step, lv, sched.get_last_lr()[0], last_val)
            if step >= end:
                break
    bar.close()
    if main and val_loader is None and step == cfg.iterations:
        # Without a validation split the final weights are the selected ones.
        save_checkpoint(out / "best.pt", model=model, config=config, step=step)
    summary = {"method": cfg.method, "steps": step, "iterations": cfg.iterations,
               "epochs": round(step / steps_per_epoch, 2), "n_train": n_train,
               "n_val": len(split["val"]), "n_held_out": len(split["held_out"]),
               "best_val_dice": None if best < 0 else best, "final_loss": losses[-1] if losses
               else None, "first_loss": losses[0] if losses else None,
               "seconds": round(time.time() - t0, 2), "world_size": world,
               "device": str(device), "out": str(out)}
    if main:
        _write_text(out / "summary.json", json.dumps(summary, indent=2))
    if world > 1:
        torch.distributed.barrier()
    return summary


class _Progress:
    """A rich progress bar showing loss, lr and the latest validation Dice (or nothing)."""

    def __init__(self, enabled: bool, total: int, start: int):
        self.bar = None
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("train"), BarColumn(), TextColumn("{task.completed}/"
                            "{task.total}"), TextColumn("{task.fields[info]}"),
                            TimeRemainingColumn())
        self.bar.start()
        self.task = self.bar.add_task("train", total=total, completed=start, info="")

    def update(self, step: int, loss: float, lr: float, val: float) -> None:
        if self.bar is not None:
            vd = "-" if math.isnan(val) else f"{val:.3f}"
            self.bar.update(self.task, completed=step,
                            info=f"loss {loss:.4f} lr {lr:.2e} val dice {vd}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
