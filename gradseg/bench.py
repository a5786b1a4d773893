"""``gradseg bench``: how fast the data path and the training step run, apart and together.

Three timings of the same run settings (:class:`gradseg.config.TrainConfig`), each after a few
warm-up steps (``torch.compile``, worker start-up, cuDNN autotuning) and each ended by a device
synchronisation, so that the GPU's queued work is counted:

1. the training step alone, on one synthetic batch (random tensors of the real batch's shapes)
   already on the device: what the model, the loss and the optimizer can do;
2. the loader alone: DataLoader workers -> pinned memory -> device -> float conversion and
   augmentation (:meth:`gradseg.train.Data.prepare`), no model;
3. both, as the trainer runs them (:func:`gradseg.train.steps`), with the time the host spends
   waiting for the next batch: its share of the wall time is the share of step time spent
   waiting on data.

Nothing is written to disk. Example::

    gradseg bench --cache data/maps.zarr --size 224 --base-channels 64 --batch-size 8
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from gazeprep.contract.cache import BINARY
from gradseg.config import TrainConfig
from gradseg.device import peak_memory, reset_peak_memory


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def synthetic_batch(batch: dict) -> dict:
    """Random tensors of the shapes, dtypes, devices and memory formats of a prepared batch;
    0/1 fields stay 0/1."""
    out = {}
    for k, v in batch.items():
        if not isinstance(v, torch.Tensor) or not v.is_floating_point():
            out[k] = v
            continue
        r = torch.rand_like(v)  # keeps channels-last strides
        out[k] = (r >= 0.5).to(v.dtype) if k in BINARY else r
    return out


def _time_step(run, nets, opts, batch: dict, warmup: int, n: int) -> float:
    from gradseg.train import train_step

    dev = run.proc.device
    for k in range(warmup):
        train_step(run, nets, opts, batch, k)
    _sync(dev)
    t0 = time.perf_counter()
    for k in range(warmup, warmup + n):
        train_step(run, nets, opts, batch, k)
    _sync(dev)
    return time.perf_counter() - t0


def _time_loader(run, data, warmup: int, n: int) -> float:
    dev = run.proc.device
    it = iter(data.loader(0, warmup + n))
    for _ in range(warmup):
        data.prepare(next(it))
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(n):
        data.prepare(next(it))
    _sync(dev)
    return time.perf_counter() - t0


def _time_both(run, data, nets, opts, warmup: int, n: int) -> tuple[float, float]:
    """(wall seconds of ``n`` training steps, seconds of it spent waiting for batches)."""
    from gradseg.train import train_step

    dev = run.proc.device
    it = iter(data.loader(0, warmup + n))
    t0 = wait = 0.0
    for k in range(warmup + n):
        if k == warmup:
            _sync(dev)
            t0, wait = time.perf_counter(), 0.0
        t = time.perf_counter()
        host = next(it)
        wait += time.perf_counter() - t
        ids = [run.info.ids[i] for i in host["index"].tolist()]
        batch = run.method.inputs(data.prepare(host), ids, dev)
        train_step(run, nets, opts, batch, k)
    _sync(dev)
    return time.perf_counter() - t0, wait


def bench(cfg: TrainConfig, steps: int = 20, warmup: int = 3) -> dict:
    """Time the loader, the training step and both for the run ``cfg`` describes.

    Parameters
    ----------
    cfg : TrainConfig
        The run's settings; ``out`` is ignored (nothing is written) and every cache sample is
        used for training (no validation split).
    steps, warmup : int
        Timed steps and untimed warm-up steps of each of the three timings.

    Returns
    -------
    dict
        ``loader_images_s``, ``step_images_s``, ``train_images_s`` (images per second of each
        timing), ``step_ms`` and ``train_step_ms`` (one step alone, one step with its data),
        ``data_wait_share`` (share of the training wall time spent waiting for a batch),
        ``peak_memory_mb`` and what it counts, and the settings that matter for speed.
    """
    from gradseg.train import Data, build_model, make_optimizers, set_up, wrap

    with tempfile.TemporaryDirectory() as tmp:
        cfg = replace(cfg, out=str(Path(tmp) / "bench"), val_fraction=0.0,
                      iterations=cfg.iterations or 2 * (warmup + steps))
        run = set_up(cfg, resume=False)
    data = Data(run)
    model = build_model(run)
    model.train()
    opts = make_optimizers(run, model)
    nets = wrap(run, model)
    dev, bs = run.proc.device, run.cfg.batch_size
    reset_peak_memory(dev)
    sample = synthetic_batch(data.prepare(next(iter(data.loader(0, 1)))))
    t_step = _time_step(run, nets, opts, sample, warmup, steps)
    t_loader = _time_loader(run, data, warmup, steps)
    t_both, wait = _time_both(run, data, nets, opts, warmup, steps)
    images = steps * bs

    def sig(x: float) -> float:  # 4 significant digits: a CPU step takes seconds, a GPU's ms
        return float(f"{x:.4g}")

    return {
        "loader_images_s": sig(images / t_loader),
        "step_images_s": sig(images / t_step),
        "train_images_s": sig(images / t_both),
        "step_ms": sig(1000 * t_step / steps),
        "train_step_ms": sig(1000 * t_both / steps),
        "data_wait_share": round(wait / t_both, 4),
        **peak_memory(dev),
        "method": run.cfg.method, "device": str(dev), "size": run.cfg.size,
        "cache_size": run.info.size, "base_channels": run.cfg.base_channels,
        "batch_size": bs, "workers": run.workers, "amp": run.amp,
        "channels_last": run.channels_last, "compile": run.cfg.compile,
        "augmentation": run.cfg.augmentation if run.cfg.augment else "none",
        "steps": steps, "warmup": warmup, "threads": torch.get_num_threads(),
    }
