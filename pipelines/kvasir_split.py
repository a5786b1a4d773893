"""The one fixed split of the 880 Kvasir-SEG training images used by every recipe here.

``tune_render.py`` chooses the render defaults on the 780 tuning ids and ``bench_train.py`` trains
on the same 780 and tests on the same 100, so no recipe ever tunes or selects on a test image.

It is ``gazeprep split`` with counts (n - 100, 0, 100) and seed 20240601: the same id files come
from ``gazeprep split CACHE --counts 780,0,100 --seed 20240601 --out split/`` (``train.txt``:
the 780, ``test.txt``: the 100 held out).
"""

from __future__ import annotations

from gazeprep.export.split import split_ids as split_parts

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
        permutation of the sorted ids drawn with ``numpy.random.default_rng(20240601)``
        (:func:`gazeprep.export.split.split_ids`).
    """
    parts = split_parts(ids, (len(ids) - N_HELD_OUT, 0, N_HELD_OUT), SEED)
    return parts["train"], parts["test"]


if __name__ == "__main__":  # python pipelines/kvasir_split.py CACHE > test_ids.txt
    import sys

    from gazeprep.contract.cache import read_sample_table

    cache_ids = [str(i) for i in read_sample_table(sys.argv[1])["sample"]]
    print("\n".join(split_ids(cache_ids)[1]))
