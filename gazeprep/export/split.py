"""Seeded train / validation / test splits of image ids, written as id files.

The split: the ids sorted, then permuted with ``numpy.random.default_rng(seed)``; the first
``n_test`` of the permutation are the test set, the next ``n_val`` the validation set, the rest
the training set; each written sorted. The same ids and seed give the same split on any machine
(NumPy's PCG64 stream is stable across versions), whatever order the ids were listed in.

``pipelines/kvasir_split.py``'s split (100 held out of the 880 Kvasir-SEG ids, seed 20240601)
is this split with counts (780, 0, 100): ``gazeprep split CACHE --counts 780,0,100 --seed
20240601``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.export.owned import check_outputs, file_sums

#: The parts of a split, in the order the id files are written.
PARTS = ("train", "val", "test")
#: The record ``gazeprep split`` leaves beside its id files (the commit record).
RECORD = "split.json"
WRITER = "gazeprep split"


def counts_from_fractions(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """(train, val, test) counts of ``n`` ids: ``round(f * n)`` for val and test, the rest
    for training.

    Raises
    ------
    ValueError
        Not three finite fractions >= 0 summing to 1 (within 1e-6), or nothing left to train.

    Examples
    --------
    >>> counts_from_fractions(880, (0.8, 0.1, 0.1))
    (704, 88, 88)
    """
    f = [float(v) for v in fractions]
    if len(f) != 3 or not all(np.isfinite(v) and v >= 0 for v in f) or abs(sum(f) - 1) > 1e-6:
        raise ValueError(f"fractions must be three numbers >= 0 that sum to 1, got {fractions}")
    val, test = round(f[1] * n), round(f[2] * n)
    if val + test > n:
        raise ValueError(f"fractions {fractions} ask for more than the {n} ids")
    return n - val - test, val, test


def split_ids(ids: Sequence[str], counts: Sequence[int], seed: int) -> dict[str, list[str]]:
    """Split ``ids`` into ``train``, ``val`` and ``test`` of the given sizes (module notes).

    Parameters
    ----------
    ids : sequence of str
        Distinct ids, any order.
    counts : (int, int, int)
        Sizes of train, val and test; they sum to ``len(ids)``.
    seed : int

    Returns
    -------
    dict of str to list of str
        Each part sorted.

    Examples
    --------
    >>> split_ids(["a", "b", "c", "d"], (2, 1, 1), 0)
    {'train': ['b', 'd'], 'val': ['a'], 'test': ['c']}
    """
    order = sorted(ids)
    if len(set(order)) != len(order):
        raise ValueError("ids are not distinct")
    n_train, n_val, n_test = (int(c) for c in counts)
    if min(n_train, n_val, n_test) < 0 or n_train + n_val + n_test != len(order):
        raise ValueError(f"counts {tuple(counts)} do not add up to the {len(order)} ids")
    perm = np.random.default_rng(seed).permutation(len(order))
    test, val, train = np.split(perm, [n_test, n_test + n_val])
    return {"train": sorted(order[i] for i in train), "val": sorted(order[i] for i in val),
            "test": sorted(order[i] for i in test)}


def ids_of(source: str | Path, options=None) -> tuple[list[str], str]:
    """The image ids of a render cache, an ingest output folder or an image folder.

    Returns
    -------
    (ids, kind) : (list of str, str)
        ``kind`` is ``cache``, ``gaze`` or ``images``.

    Raises
    ------
    GazeprepError
        ``source`` is none of them, or holds no id.
    """
    from gazeprep.contract.errors import InputError

    src = Path(source)
    try:
        if (src / "zarr.json").is_file():
            from gazeprep.inspect.load import load_layout

            return load_layout(src).ids, "cache"
        if (src / "tracks.parquet").is_file():
            from gazeprep.tracks import read_tracks

            return sorted(read_tracks(src)[0]), "gaze"
        if src.is_dir():
            from gazeprep.contract.images import index_folder

            ids = sorted(index_folder(src, options))
            if ids:
                return ids, "images"
    except InputError as exc:
        raise GazeprepError(exc.message, file=exc.file, line=exc.line) from exc
    raise GazeprepError("expected a render cache (zarr.json), an ingest output "
                        "(tracks.parquet) or a folder of images", file=src)


def write_split(out: str | Path, parts: dict[str, list[str]], meta: dict,
                overwrite: bool = False, notes: list[str] | None = None) -> list[Path]:
    """Write ``train.txt``, ``val.txt``, ``test.txt`` and ``split.json`` into ``out`` at once.

    Only these four names are ever written; one that ``gazeprep split`` did not write (or that
    changed since) is refused unless ``overwrite``. ``split.json`` records ``meta`` (source,
    seed, counts), the ids' counts and the sha256 of every id file; it is renamed in last.

    Returns
    -------
    list of Path
        The id files, in the order of :data:`PARTS`.
    """
    from gazeprep.contract.ids import ids_text
    from gazeprep.outputs import transaction

    out = Path(out)
    names = [f"{p}.txt" for p in PARTS]
    check_outputs(out, RECORD, names, WRITER, overwrite)
    total = sum(len(v) for v in parts.values())
    with transaction(out, lambda n: n in (*names, RECORD), notes) as st:
        for part, name in zip(PARTS, names, strict=True):
            note = f"{WRITER}: {part}, {len(parts[part])} of {total} ids (see {RECORD})"
            st.file(name).write_text(ids_text(parts[part], note), encoding="utf-8")
            st.add(name)
        record = {"written_by": WRITER, **meta,
                  "counts": {p: len(parts[p]) for p in PARTS},
                  "files": file_sums(st.path, names)}
        st.file(RECORD).write_text(json.dumps(record, indent=1) + "\n")
        st.add(RECORD)
        st.commit(RECORD)
    return [out / n for n in names]
