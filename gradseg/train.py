"""Training one run of any method, read top to bottom as its phases.

1. set-up: the process (device, DDP), the cache, the settings, the split, the method;
2. data: the training set and the validation loader (:mod:`gradseg.data.loader`);
3. model and resume: the method's network(s), and the state of an interrupted run;
4. optimizer: one optimizer and schedule per network (:mod:`gradseg.optim`);
5. loop: batches -> the method's loss -> optimizer steps, with checkpoints;
6. validation: Dice on the validation split, the best checkpoint, ``metrics.jsonl``.

Everything that differs between methods is asked of the method
(:class:`gradseg.methods.base.Method`). Determinism: see :mod:`gradseg.data.sampler`; a CPU
run is reproducible bit for bit, and ``--resume`` continues one identically.

Calling this module, ``gradseg.train(...)``, runs :func:`gradseg.api.train` (the Python
API).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from gazeprep.contract.cache import CacheLayout
from gazeprep.contract.progress import Progress
from gradseg.checkpoint import load_checkpoint, load_state, save_checkpoint
from gradseg.config import TrainConfig, check_memory, check_resume, resolve
from gradseg.data.cache import open_cache
from gradseg.data.loader import Data
from gradseg.data.split import make_split
from gradseg.device import Process, peak_memory, reset_peak_memory, start_process
from gradseg.errors import GradsegError
from gradseg.methods import Method, method_class
from gradseg.optim import Optimizers
from gradseg.outputs import append_line, atomic_write, check_run_folder, write_text
from gradseg.settings import VAL_TARGET_TEXT, val_key

__all__ = ["TrainConfig", "train"]

#: Steps between two reads of the loss on a GPU (each read waits for the device); on the CPU
#: the loss is read every step, at no cost.
LOG_EVERY_GPU = 25


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
        Report progress on stderr (rank 0 only): a bar on a terminal, else a line every 10 s
        (:mod:`gazeprep.contract.progress`).
    log : callable
        Receives one-line messages (rank 0 only).
    """
    run = set_up(cfg, resume)
    cfg = run.cfg  # completed from the cache
    data = Data(run)
    model = build_model(run)
    opts = make_optimizers(run, model)
    step, best = resume_state(run, model, opts) if resume else (0, -1.0)
    if run.proc.main:
        write_run_files(run, resume, log)
    if run.proc.main and progress:
        threads = torch.get_num_threads()
        log(f"train: {cfg.method} on {run.proc.device} ({threads} CPU thread"
            f"{'s' if threads > 1 else ''}), "
            f"{len(run.split['train'])} training and {len(run.split['val'])} validation "
            f"images, steps {step + 1}..{cfg.iterations} -> {run.out}")
        log(f"train: validation Dice against the {VAL_TARGET_TEXT[cfg.val_target]}; best.pt "
            f"is the step with the highest such Dice")
    validator = Validator(run, data.val_loader, best, log)
    end = cfg.iterations if stop_after is None else min(cfg.iterations, step + stop_after)
    reset_peak_memory(run.proc.device)
    t0 = time.time()
    losses, other = loop(run, data, model, opts, validator, step, end,
                         progress and run.proc.main)
    return finish(run, model, validator, losses, step + len(losses), time.time() - t0, other)


# --- 1. set-up -------------------------------------------------------------------------------
@dataclass
class Run:
    """What the set-up settles: the process, the cache, the resolved settings, the split."""

    cfg: TrainConfig
    proc: Process
    info: CacheLayout
    split: dict[str, list[str]]
    method: Method
    config: dict  # cfg as JSON-able dict: config.json and every checkpoint
    steps_per_epoch: int
    amp: bool
    channels_last: bool
    workers: int
    log_every: int  # steps between two reads of the loss from the device

    @property
    def out(self) -> Path:
        return Path(self.cfg.out)

    def autocast(self):
        """The autocast context of the run's steps (bf16 when AMP is on)."""
        return torch.autocast(self.proc.device.type, dtype=torch.bfloat16, enabled=self.amp)


def set_up(cfg: TrainConfig, resume: bool) -> Run:
    """Start the process, check cache and settings, split the ids, pick the method."""
    proc = start_process(cfg.device, cfg.threads)
    info = open_cache(cfg.cache)
    kind = method_class(cfg.method)
    cfg = resolve(cfg, info, kind.uses_masks)
    check_memory(cfg, info, proc.device)
    split = make_split(info, exclude_ids=cfg.exclude_ids, val_ids=cfg.val_ids,
                       val_fraction=cfg.val_fraction,
                       seed=cfg.seed, val_target=cfg.val_target, masks_only=kind.uses_masks)
    cues = kind.settle(cfg, split["train"])
    n_train = len(split["train"])
    steps_per_epoch = n_train // proc.world // cfg.batch_size
    if steps_per_epoch < 1:
        raise GradsegError(f"{n_train} training images are too few for batch size "
                           f"{cfg.batch_size} x {proc.world} process(es)")
    if cfg.iterations is None:
        cfg.iterations = (cfg.epochs or 10) * steps_per_epoch
    if proc.main:
        check_run_folder(Path(cfg.out), resume)
    cuda = proc.device.type == "cuda"
    config = asdict(cfg)
    workers = cfg.workers if cfg.workers is not None else (
        min(8, (os.cpu_count() or 2) - 1) if cuda else 0)
    return Run(cfg, proc, info, split, kind(config, cues), config, steps_per_epoch,
               amp=cuda if cfg.amp is None else cfg.amp,
               channels_last=cuda if cfg.channels_last is None else cfg.channels_last,
               workers=workers, log_every=cfg.log_every or (LOG_EVERY_GPU if cuda else 1))


# --- 2. data: gradseg.data.loader (Data: the training loader and the device step) -------------


# --- 3. model and resume ---------------------------------------------------------------------
def build_model(run: Run) -> nn.Module:
    """The method's network(s), initialised from the run's seed, on the run's device."""
    torch.manual_seed(run.cfg.seed)
    model = run.method.build().to(run.proc.device)
    if run.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def make_optimizers(run: Run, model: nn.Module) -> Optimizers:
    """One optimizer and schedule per network of the method (:mod:`gradseg.optim`)."""
    cfg = run.cfg
    return Optimizers(run.method.networks(model), lr=cfg.lr, weight_decay=cfg.weight_decay,
                      warmup=cfg.warmup, total=cfg.iterations, grad_clip=cfg.grad_clip,
                      optimizer=cfg.optimizer, lr_min=cfg.lr_min)


def resume_state(run: Run, model: nn.Module, opts: Optimizers) -> tuple[int, float]:
    """Load ``last.pt`` into the model, optimizers and RNG; returns (step, best val Dice)."""
    path = run.out / "last.pt"
    if not path.is_file():
        raise GradsegError("--resume: no last.pt in the run folder", file=run.out)
    ckpt = load_checkpoint(path)
    check_resume(run.cfg, ckpt["config"], path)
    load_state(model, ckpt["model"], path)
    opts.load(ckpt["optimizer"], ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng"])
    best = float(ckpt["best_dice"])
    return int(ckpt["step"]), -1.0 if math.isnan(best) else best


def write_run_files(run: Run, resume: bool, log) -> None:
    """``config.json`` and ``split.json`` of the run folder (rank 0)."""
    out = run.out
    out.mkdir(parents=True, exist_ok=True)
    if not resume:  # a previous attempt of this run that left no checkpoint
        (out / "metrics.jsonl").unlink(missing_ok=True)
    write_text(out / "config.json", json.dumps(run.config, indent=2))
    write_text(out / "split.json", json.dumps(run.split))
    if run.split["no_mask"] and run.method.uses_masks:
        log(f"note: {len(run.split['no_mask'])} images without a mask left out "
            f"(method {run.cfg.method})")


def wrap(run: Run, model: nn.Module) -> dict[str, nn.Module]:
    """The method's networks as the loop runs them: in DDP and/or ``torch.compile``."""
    nets = {}
    for name, net in run.method.networks(model).items():
        if run.proc.world > 1:
            dev = run.proc.device
            net = nn.parallel.DistributedDataParallel(
                net, device_ids=[dev.index] if dev.type == "cuda" else None)
        nets[name] = torch.compile(net) if run.cfg.compile else net
    return nets


# --- 5. loop ---------------------------------------------------------------------------------
def train_step(run: Run, nets: dict[str, nn.Module], opts: Optimizers, batch: dict,
               step: int) -> torch.Tensor:
    """One optimizer step on a prepared batch; returns the loss, detached, on the device.

    ``step``: optimizer steps done before this one. Nothing is read back to the host.
    """
    loss, _ = run.method.loss(nets, batch, step=step, rank=run.proc.rank, autocast=run.autocast)
    opts.step(loss)
    return loss.detach()


def steps(run: Run, data: Data, nets: dict[str, nn.Module], opts: Optimizers, start: int,
          end: int):
    """Run optimizer steps ``start + 1 .. end``; yields (step, loss tensor) after each."""
    dev = run.proc.device
    for step, host in enumerate(data.loader(start, end), start + 1):
        ids = [run.info.ids[i] for i in host["index"].tolist()]
        batch = run.method.inputs(data.prepare(host), ids, dev)
        yield step, train_step(run, nets, opts, batch, step - 1)


def read_losses(pending: list[torch.Tensor], step: int) -> list[float]:
    """The losses of the steps up to ``step`` as floats: one read from the device.

    Raises GradsegError naming the first step whose loss is not finite.
    """
    values = torch.stack(pending).float().cpu().tolist()
    for k, v in enumerate(values):
        if not math.isfinite(v):
            raise GradsegError(f"loss became {v} at step {step - len(values) + 1 + k}; "
                               "lower --lr")
    return values


def loop(run: Run, data: Data, model: nn.Module, opts: Optimizers, validator: Validator,
         start: int, end: int, progress: bool) -> tuple[list[float], float]:
    """Train from step ``start`` to ``end``, validating and checkpointing on rank 0.

    The losses are read from the device every ``log_every`` steps and at each validation and
    checkpoint, not every step, so the host never waits for the device in between.
    Returns the loss of every step and the seconds spent validating and checkpointing.
    """
    cfg = run.cfg
    nets = wrap(run, model)
    losses: list[float] = []
    pending: list[torch.Tensor] = []
    other = 0.0
    bar = Progress("train", end, unit="steps", done=start, enabled=progress)
    model.train()
    for step, loss in steps(run, data, nets, opts, start, end):
        pending.append(loss)
        evaluate = step % cfg.eval_every == 0 or step == cfg.iterations
        checkpoint = step % cfg.checkpoint_every == 0 or step == end
        if not (evaluate or checkpoint or step % run.log_every == 0):
            continue
        values = read_losses(pending, step)
        losses += values
        pending = []
        if not run.proc.main:
            continue
        t = time.perf_counter()
        for k, value in enumerate(values):
            validator.add(value, step - len(values) + 1 + k, opts.lr)
        if evaluate:
            validator(model, step, opts.lr)
        if checkpoint:
            optimizer, scheduler = opts.state()
            save_checkpoint(run.out / "last.pt", model=model, config=run.config, step=step,
                            optimizer=optimizer, scheduler=scheduler, best_dice=validator.best,
                            val_dice=validator.last)
        bar.update(step, info={"loss": values[-1], "lr": f"{opts.lr:.2e}",
                               f"val Dice vs {run.cfg.val_target}": validator.last})
        other += time.perf_counter() - t
    bar.close()
    validator.close()
    return losses, other


# --- 6. validation ---------------------------------------------------------------------------
class Validator:
    """Validation Dice every ``eval_every`` steps: ``metrics.jsonl``, ``val.png``, ``best.pt``,
    and the run's curves (``curves.png``, TensorBoard: :class:`gradseg.runlog.RunLog`).

    ``add(loss, step, lr)`` accumulates the training loss between two validations; ``best`` and
    ``last`` are the best and the latest validation Dice (``best`` -1 and ``last`` NaN before
    any). Rank 0 only.
    """

    def __init__(self, run: Run, loader: DataLoader | None, best: float, log=print):
        from gradseg.runlog import RunLog

        self.run, self.loader, self.best = run, loader, best
        self.last = float("nan")
        self.t0 = time.time()
        self.loss_sum, self.loss_n = 0.0, 0
        self.runlog = RunLog(run.out, log) if run.proc.main else None

    def add(self, loss: float, step: int, lr: float) -> None:
        self.loss_sum, self.loss_n = self.loss_sum + loss, self.loss_n + 1
        self.runlog.step(step, loss, lr)

    def close(self) -> None:
        if self.runlog is not None:
            self.runlog.close()

    def __call__(self, model: nn.Module, step: int, lr: float) -> None:
        from gradseg.evaluate import validation_scores
        from gradseg.pictures import validation_panel

        run = self.run
        rec = {"step": step, "epoch": _epochs(step, run.steps_per_epoch),
               "val_target": run.cfg.val_target,
               "loss": self.loss_sum / self.loss_n, "lr": lr,
               "time_s": round(time.time() - self.t0, 2)}
        self.loss_sum, self.loss_n = 0.0, 0
        self.last = float("nan")
        if self.loader is not None:
            scores, rows = validation_scores(model, self.loader, run.proc.device, run.amp,
                                             run.channels_last, run.cfg.val_target)
            rec.update(scores)
            self.last = scores["val_dice"]
            atomic_write(run.out / "val.png",
                         lambda tmp: validation_panel(rows, tmp, run.cfg.val_target))
            if self.last > self.best:
                self.best = self.last
                save_checkpoint(run.out / "best.pt", model=model, config=run.config, step=step,
                                best_dice=self.best, val_dice=self.last)
        append_line(run.out / "metrics.jsonl", json.dumps(rec))
        self.runlog.validation(rec)


def finish(run: Run, model: nn.Module, validator: Validator, losses: list[float], step: int,
           seconds: float, other: float) -> dict:
    """The run summary (``summary.json``); without validation, the final weights as best.pt.

    ``seconds``: the loop's wall time; ``other``: its part spent validating and checkpointing,
    so ``step_seconds`` is the mean time of one training step (data, forward, backward, update).
    """
    cfg = run.cfg
    if run.proc.main and validator.loader is None and step == cfg.iterations:
        save_checkpoint(run.out / "best.pt", model=model, config=run.config, step=step)
    best_val = None if validator.best < 0 else validator.best
    summary = {"method": cfg.method, "steps": step, "iterations": cfg.iterations,
               "epochs": _epochs(step, run.steps_per_epoch), "n_train": len(run.split["train"]),
               "n_val": len(run.split["val"]), "n_held_out": len(run.split["held_out"]),
               "val_target": cfg.val_target, val_key(cfg.val_target): best_val,
               "best_val_dice": best_val,  # the same number, for scripts of earlier versions
               "final_loss": losses[-1] if losses else None,
               "first_loss": losses[0] if losses else None, "seconds": round(seconds, 2),
               "step_seconds": round((seconds - other) / len(losses), 4) if losses else None,
               "world_size": run.proc.world, "device": str(run.proc.device), "out": str(run.out),
               **peak_memory(run.proc.device), **run.method.summary()}
    if run.proc.main:
        write_text(run.out / "summary.json", json.dumps(summary, indent=2))
    if run.proc.world > 1:
        torch.distributed.barrier()
    return summary


def _epochs(step: int, steps_per_epoch: int) -> int | float:
    """Epochs done: a whole number when whole (``25``, not ``25.0``), else two decimals."""
    epochs = step / steps_per_epoch
    return int(epochs) if epochs == int(epochs) else round(epochs, 2)


from gazeprep.contract.entry import make_callable  # noqa: E402

make_callable(__name__, "gradseg.api:train")
