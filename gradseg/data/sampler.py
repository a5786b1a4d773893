"""The order of training samples: seeded per epoch, shared out between DDP ranks, resumable.

The sample order of epoch e is a permutation seeded by (seed, e); each sample's augmentation is
seeded by (seed, e, index). Neither depends on the worker count or the process, so a run resumed
at step s sees exactly the batches a straight run would have seen.
"""

from __future__ import annotations

import numpy as np
import torch


def aug_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of sample ``index`` in ``epoch`` of a run seeded ``seed``."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class EpochSampler(torch.utils.data.Sampler):
    """This rank's share of epoch ``epoch``, from batch ``start_batch`` on, as (index, seed).

    Parameters
    ----------
    n : int
        Samples in the dataset.
    batch_size, seed, epoch : int
    rank, world : int
        This process's rank and the number of processes.
    start_batch : int
        Batches of this epoch already done (a resumed run).
    """

    def __init__(self, n: int, batch_size: int, seed: int, epoch: int, rank: int, world: int,
                 start_batch: int = 0):
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        mine = perm[rank::world].tolist()
        # Every rank runs the same number of batches (n // world // batch), else ranks would
        # drift apart in epoch and order when n is not a multiple of world.
        n_batches = n // world // batch_size
        mine = mine[start_batch * batch_size: n_batches * batch_size]
        self.items = [(i, aug_seed(seed, epoch, i)) for i in mine]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class RunBatches(torch.utils.data.Sampler):
    """This rank's batches of steps ``start + 1 .. end`` of a run, across epochs, in one stream.

    Batch s (counted from 0) is batch ``s % steps_per_epoch`` of epoch
    ``s // steps_per_epoch`` of :class:`EpochSampler`, so a run read through one DataLoader
    (its workers kept for the whole run) sees the batches an epoch-by-epoch run would, and a
    run resumed at step ``start`` continues them. Each batch is a list of (index, seed) keys
    (a ``batch_sampler``).

    Parameters
    ----------
    n, batch_size, seed, rank, world : int
        As for :class:`EpochSampler`.
    start, end : int
        Optimizer steps done before, and the last step to run.
    steps_per_epoch : int
        ``n // world // batch_size``.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int, world: int, start: int,
                 end: int, steps_per_epoch: int):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world = rank, world
        self.start, self.end, self.spe = start, max(start, end), steps_per_epoch

    def __iter__(self):
        step = self.start
        while step < self.end:
            epoch, first = divmod(step, self.spe)
            items = EpochSampler(self.n, self.batch_size, self.seed, epoch, self.rank,
                                 self.world, first).items
            for i in range(0, len(items), self.batch_size):
                yield items[i:i + self.batch_size]
                step += 1
                if step >= self.end:
                    return

    def __len__(self) -> int:
        return self.end - self.start
