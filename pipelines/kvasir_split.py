"""The one fixed split of the 880 Kvasir-SEG training images used by every recipe here.

``tune_render.py`` chooses the render defaults on the 780 tuning ids and ``bench_train.py`` trains
on the same 780 and tests on the same 100, so no recipe ever tunes or selects on a test image.
"""

from __future__ import annotations

import numpy as np

SEED = 20240601
N_HELD_OUT = 100


def split_ids(ids: list[str]) -> tuple[list[str], list[str]]:
    """Split image ids into (tune/train, confirm/test), both sorted.

    Parameters
    ----------
    ids : list of str
        Image ids (file stems); their order does not matter.

    Returns
    -------
    (list of str, list of str)
        The ids left for tuning/training, and the 100 held-out ids: the first 100 of a
        permutation of the sorted ids drawn with ``numpy.random.default_rng(20240601)``.
    """
    ids = sorted(ids)
    perm = np.random.default_rng(SEED).permutation(len(ids))
    held_out = sorted(ids[i] for i in perm[:N_HELD_OUT])
    kept = sorted(ids[i] for i in perm[N_HELD_OUT:])
    return kept, held_out


if __name__ == "__main__":  # python pipelines/kvasir_split.py CACHE > test_ids.txt
    import sys

    import zarr

    cache_ids = [str(i) for i in zarr.open_group(sys.argv[1], mode="r").attrs["ids"]]
    print("\n".join(split_ids(cache_ids)[1]))
