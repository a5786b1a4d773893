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
