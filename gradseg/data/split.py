"""Which images train and which validate: id files, the seeded split, held-out and unmasked ids."""

from __future__ import annotations

import random
from pathlib import Path

from gazeprep.contract.cache import CacheLayout
from gradseg.errors import GradsegError, usage_error


def read_ids_file(path: str | Path) -> list[str]:
    """Image ids from an id file (:func:`gazeprep.contract.ids.read_ids_file`: one a line,
    blank lines and ``#`` comments ignored, ``a.png`` gives ``a``), as a gradseg error."""
    from gazeprep.contract.errors import InputError
    from gazeprep.contract.ids import read_ids_file as read

    try:
        return read(path)
    except InputError as exc:
        raise GradsegError(exc.message, file=exc.file) from exc


def split_ids(ids: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded id-based split: ``random.Random(seed).shuffle(sorted(ids))``, first part = val.

    Returns
    -------
    (train_ids, val_ids)

    Examples
    --------
    >>> split_ids(["a", "b", "c", "d"], 0.25, 0)
    (['a', 'b', 'd'], ['c'])
    """
    order = sorted(ids)
    random.Random(seed).shuffle(order)
    n_val = 0 if val_fraction <= 0 else max(1, round(val_fraction * len(order)))
    return order[n_val:], order[:n_val]


def make_split(info: CacheLayout, *, exclude_ids: list[str], val_fraction: float, seed: int,
               val_target: str, masks_only: bool,
               val_ids: list[str] | None = None) -> dict[str, list[str]]:
    """Train/val ids after removing held-out ids (and, where masks are needed, unmasked ids).

    Parameters
    ----------
    info : CacheLayout
    exclude_ids : list of str
        Held out (a test set): never trained or validated on.
    val_fraction, seed : float, int
        See :func:`split_ids`.
    val_target : {'mask', 'pseudo'}
        With ``mask``, validation images without a mask go back to training.
    masks_only : bool
        Train only on images with a mask (the fully supervised method).
    val_ids : list of str, optional
        The validation images (e.g. a split's ``val.txt``) instead of a seeded draw.

    Returns
    -------
    dict
        ``train``, ``val``, ``held_out`` and ``no_mask`` (images of the pool without a mask).
    """
    held = set(exclude_ids)
    unknown = held - set(info.ids)
    if unknown:
        raise GradsegError(f"{len(unknown)} held-out id(s) not in the cache, e.g. "
                           f"{sorted(unknown)[:5]}", file=info.path)
    has = dict(zip(info.ids, info.has_mask, strict=True))
    pool = [i for i in info.ids if i not in held]
    no_mask = [i for i in pool if not has[i]]
    if masks_only:
        pool = [i for i in pool if has[i]]
    if val_ids:
        _check_val_ids(info, set(val_ids), held)
        train, val = [i for i in pool if i not in set(val_ids)], sorted(set(val_ids) & set(pool))
    else:
        train, val = split_ids(pool, val_fraction, seed)
    if val_target == "mask":
        # Validation images without a mask cannot be scored; they go back to training.
        train = sorted(train + [i for i in val if not has[i]])
        if val and not any(has[i] for i in val):
            raise usage_error("--val-target", f"mask: no validation image has a mask ({len(val)}"
                              f" drawn, seed {seed}); use --val-target pseudo or a larger "
                              "--val-fraction")
        val = [i for i in val if has[i]]
    return {"train": train, "val": val, "held_out": sorted(held),
            "no_mask": sorted(no_mask)}


def _check_val_ids(info: CacheLayout, val: set[str], held: set[str]) -> None:
    """Validation ids must be in the cache and not held out."""
    unknown, both = val - set(info.ids), val & held
    if unknown:
        raise GradsegError(f"{len(unknown)} validation id(s) not in the cache, e.g. "
                           f"{sorted(unknown)[:5]}", file=info.path)
    if both:
        raise GradsegError(f"{len(both)} id(s) are both validation and held-out (test) ids, "
                           f"e.g. {sorted(both)[:5]}", file=info.path)
