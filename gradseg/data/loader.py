"""The training loader and the step that puts its batches on the device.

The DataLoader workers read uint8 rows (:class:`gradseg.data.cache.CacheDataset` with ``raw``)
and each sample's transform; :meth:`Data.prepare` copies them to the training device and
converts, augments and resamples the whole batch there. ``run`` is the trainer's
:class:`gradseg.train.Run` (its settings, process, cache layout, split and method).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from gazeprep.contract.cache import BINARY, UNIT, UNIT_SCALE
from gradseg.data.augment import AugmentConfig, to_float, transform_batch
from gradseg.data.cache import CacheDataset
from gradseg.data.sampler import RunBatches


def loader_options(run) -> dict:
    """DataLoader settings of the run: workers kept for the run, batches prefetched, and pinned
    host memory (for asynchronous copies) when training on CUDA.

    Workers that decode the cache start from a fork server with torch and the cache reader
    imported (fast starts; spawned where there is none, or ``TMPDIR`` is too long for its
    socket); with ``in_memory`` they only slice arrays already read, and are forked from this
    process. Either way they ignore Ctrl-C and end with the command, whatever ends it
    (:mod:`gazeprep.contract.workers`).

    Not a plain fork for the cache readers: a process forked after this one decoded Zarr
    chunks through zarrs hangs at its first decode (zarrs' thread pool does not survive a fork).
    """
    from gazeprep.contract.workers import worker_context, worker_start

    opts = {"num_workers": run.workers, "pin_memory": run.proc.device.type == "cuda"}
    if run.workers > 0:
        opts.update(persistent_workers=True, prefetch_factor=run.cfg.prefetch,
                    worker_init_fn=worker_start)
        if not run.cfg.in_memory:
            opts["multiprocessing_context"] = worker_context(["torch", "gradseg.data.cache"])
    return opts


class Data:
    """The training set (the method's cache fields) and the validation loader (rank 0).

    Training batches leave the DataLoader workers as the stored uint8 rows and each sample's
    transform (:class:`CacheDataset` with ``raw``); :meth:`prepare` copies them to the device,
    converts them to float and augments and resamples the whole batch there.
    """

    def __init__(self, run):
        cfg, info = run.cfg, run.info
        self.run = run
        aug = AugmentConfig(kind=cfg.augmentation) if cfg.augment else None
        self.train = CacheDataset(info, info.positions(run.split["train"]), run.method.fields(),
                                  cfg.size, aug, cfg.in_memory, raw=True, labels=cfg.labels)
        self.val_loader = None
        if run.proc.main and run.split["val"]:
            fields = tuple(dict.fromkeys((cfg.val_target, "maps", "heatmap")))
            val = CacheDataset(info, info.positions(run.split["val"]), fields, cfg.size, None,
                               cfg.in_memory, labels=cfg.labels)
            self.val_loader = DataLoader(val, batch_size=max(1, cfg.batch_size),
                                         **loader_options(run))

    def loader(self, start: int, end: int) -> DataLoader:
        """This rank's host batches of steps ``start + 1 .. end`` (one loader for them all)."""
        run = self.run
        batches = RunBatches(len(self.train), run.cfg.batch_size, run.cfg.seed, run.proc.rank,
                             run.proc.world, start, end, run.steps_per_epoch)
        return DataLoader(self.train, batch_sampler=batches, **loader_options(run))

    def prepare(self, batch: dict) -> dict:
        """A loader batch on the device: float fields, augmented, at the run's size.

        Only asynchronous work is queued (copies from pinned memory, float conversion, one
        ``grid_sample``): nothing is read back to the host.
        """
        run, aug = self.run, self.train.augment
        dev = run.proc.device
        fields = {f: batch[f].to(dev, non_blocking=True) for f in self.train.fields}
        theta = None if aug is None else batch["theta"].to(dev, non_blocking=True)
        out = transform_batch(to_float(fields, UNIT, float(UNIT_SCALE)), theta, run.cfg.size,
                              BINARY, flips_only=aug is not None and aug.kind == "flips")
        if run.channels_last:
            out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
        out["index"] = batch["index"]
        return out
