"""Self-training across images (``gradseg refine``): better labels from the same gaze.

Each round trains a network on the current labels of the training images (round 1: the
render's ``pseudo``), predicts every image of the cache, fuses each prediction with that image's
gaze evidence and writes the fused labels as a new labels array of the cache
(``labels/<prefix>-r<k>``, :mod:`gazeprep.contract.labels`); the next round trains on those.

Fusion (per pixel, :func:`fuse`): the gaze bounds where the object can be (the whole-track map
above ``bound``: within the render's fall-off distance of the track), the innermost track
(mean of the levels above the render's ``pseudo_threshold``) is always foreground, and in
between the network's probability ``p`` and the current label ``y`` vote,
``weight * p + (1 - weight) * y >= 0.5``; holes are filled. Ground-truth masks are never read:
the trainer validates on nothing (``val_fraction`` 0) and keeps its last weights.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from gradseg.errors import GradsegError


@dataclass(frozen=True)
class RefineConfig:
    """Settings of ``gradseg refine`` (see the module docstring).

    Attributes
    ----------
    cache : str
    out : str
        Folder of each round's training run (``round1``, ...).
    rounds : int
    prefix : str
        Labels names ``<prefix>-r<k>``.
    start : str
        Labels of round 1's training: ``pseudo`` (the render's) or a labels name.
    method : str
        gradseg training method (a method that trains on the labels: gradtrack, gazesup).
    weight, bound : float
        Fusion (:func:`fuse`).
    exclude_ids : list of str
        Never trained on (predicted and labelled like every image).
    train : dict
        Further TrainConfig settings (iterations, batch_size, base_channels, seed, threads...).
    overwrite : bool
        Replace labels of the same names.
    """

    cache: str
    out: str = "runs/refine"
    rounds: int = 1
    prefix: str = "st"
    start: str = "pseudo"
    method: str = "gradtrack"
    weight: float = 0.75
    bound: float = 0.0
    exclude_ids: tuple[str, ...] = ()
    train: dict | None = None
    overwrite: bool = False


def fuse(prob: np.ndarray, labels: np.ndarray, maps: np.ndarray, pseudo_threshold: float,
         weight: float = 0.75, bound: float = 0.0) -> np.ndarray:
    """Fused labels of a batch.

    Parameters
    ----------
    prob : ndarray of float, shape (N, S, S)
        Network foreground probability.
    labels : ndarray, shape (N, S, S)
        Current 0/1 labels.
    maps : ndarray of float, shape (N, L, S, S)
        Track maps in [0, 1] (level 0: whole track).
    pseudo_threshold : float
        Mean-of-levels value above which a pixel is always foreground.
    weight : float
        Weight of the network against the current labels.
    bound : float
        The whole-track map must exceed this for a pixel to be foreground.

    Returns
    -------
    ndarray of uint8, shape (N, S, S)
    """
    from scipy.ndimage import binary_fill_holes

    vote = weight * prob + (1.0 - weight) * labels.astype(np.float32) >= 0.5
    out = (vote & (maps[:, 0] > bound)) | (maps.mean(axis=1) > pseudo_threshold)
    return np.stack([binary_fill_holes(m) for m in out]).astype(np.uint8)


def predict_cache(model, cache: str, batch: int = 32) -> np.ndarray:
    """Foreground probability of every cache sample at the cache size, (N, S, S) float32."""
    from gazeprep.contract.zarr_io import open_arrays
    from gradseg.predict import probabilities

    a = open_arrays(cache, ["image"])["image"]
    out = []
    for s in range(0, a.shape[0], batch):
        x = torch.from_numpy(np.asarray(a[s:s + batch])).float() / 255.0
        out.append(probabilities(model, x)[:, 0].numpy())
    return np.concatenate(out) if out else np.zeros((0, *a.shape[2:]), np.float32)


def refine(rc: RefineConfig, log=print) -> list[dict]:
    """Run ``rc.rounds`` rounds; returns one record per round (name, minutes, settings)."""
    from gazeprep.contract.cache import validate
    from gazeprep.contract.labels import check_name, list_labels, read_labels, write_labels
    from gazeprep.contract.zarr_io import open_arrays
    from gradseg.checkpoint import load_model
    from gradseg.train import TrainConfig
    from gradseg.train import train as run_training

    layout = validate(rc.cache)
    names = [check_name(f"{rc.prefix}-r{k}") for k in range(1, rc.rounds + 1)]
    taken = sorted(set(names) & set(list_labels(rc.cache)))
    if taken and not rc.overwrite:  # before hours of training, not after
        raise GradsegError(f"labels {taken} exist already in the cache (another --prefix, or "
                           "--overwrite)", file=rc.cache)
    threshold = float((layout.attrs.get("params") or {}).get("pseudo_threshold", 0.7))
    maps = open_arrays(rc.cache, ["maps"])["maps"][...].astype(np.float32) / 255.0
    current, records = rc.start, []
    for k, name in enumerate(names, start=1):
        t0 = time.time()
        run_dir = Path(rc.out) / f"round{k}"
        cfg = TrainConfig(cache=rc.cache, out=str(run_dir), method=rc.method,
                          labels=None if current == "pseudo" else current, val_fraction=0.0,
                          val_target="pseudo", exclude_ids=list(rc.exclude_ids),
                          in_memory=True)
        cfg = replace(cfg, **(rc.train or {}))
        run_training(cfg, progress=False, log=log)
        model, _ = load_model(run_dir / "best.pt")
        prob = predict_cache(model, rc.cache)
        before = read_labels(rc.cache, current)[:, 0] if current != "pseudo" else \
            open_arrays(rc.cache, ["pseudo"])["pseudo"][...][:, 0]
        fused = fuse(prob, before, maps, threshold, rc.weight, rc.bound)
        np.save(run_dir / "probabilities.npy", prob.astype(np.float16))
        record = {"command": "gradseg refine", "round": k, "trained_on": current,
                  "method": rc.method, "weight": rc.weight, "bound": rc.bound,
                  "excluded_ids": len(rc.exclude_ids), "run": str(run_dir),
                  "train": {k2: v for k2, v in (rc.train or {}).items()}}
        write_labels(rc.cache, name, fused[:, None], record, overwrite=rc.overwrite)
        record.update(name=name, minutes=round((time.time() - t0) / 60, 2))
        (run_dir / "refine.json").write_text(json.dumps(record, indent=2))
        log(f"refine: round {k} -> labels {name!r} in {record['minutes']:.1f} min")
        records.append(record)
        current = name
    if not records:
        raise GradsegError("refine: --rounds must be at least 1")
    return records
