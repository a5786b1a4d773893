"""Inputs of the refiner tests: a few real Kvasir-SEG images with their real expert gaze, made
small, and hostile inputs (empty track, one fixation, a track outside the object, a uniform
image), all as (image, src, heat, mask) for ``refiner.fn(image, src, heat, params)``."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from refine_inputs import S, evidence, object_image, params, track

from gazeprep.tracks import Track

#: Three Kvasir-SEG images (file stems) with gaze in GazeMedSeg's kvasir_fixation.csv.
IDS = ("cju88y1mwoln50871emyfny1g", "cju0qkwl35piu0993l0dewei2", "cju0qoxqj9q6s0835b43399p4")


@pytest.fixture(scope="module")
def kvasir_small(shared_data):
    """[(image (3,S,S) uint8, src, heat, mask (S,S) bool)] of :data:`IDS` at S = 64 px."""
    from gazeprep.render.images import index_folder, load_image, load_mask

    fix_csv = shared_data("gazemedseg", "kvasir_fixation.csv")
    root = shared_data("kvasir-seg")
    points: dict[str, list] = {k: [] for k in IDS}
    with open(fix_csv, newline="") as f:
        for row in csv.DictReader(f):
            stem = row["IMAGE"].rsplit(".", 1)[0]
            if stem in points:
                points[stem].append((int(row["CURRENT_FIX_INDEX"]), float(row["CURRENT_FIX_X"]),
                                     float(row["CURRENT_FIX_Y"])))
    images, masks = index_folder(root / "images"), index_folder(root / "masks")
    p = params()
    out = []
    for k in IDS:
        pts = sorted(points[k])
        src, heat = evidence([track([x for _, x, _ in pts], [y for _, _, y in pts])], p)
        image, _ = load_image(images[k], S)
        mask = load_mask(masks[k], S)[0].astype(bool)
        out.append((image, src, heat, mask.reshape(S, S)))
    return out


@pytest.fixture(scope="module")
def generated():
    """(image, src, heat, mask): gaze scanning the disk of :func:`refine_inputs.object_image`."""
    img, mask = object_image()
    t = np.linspace(0, 2 * np.pi, 12)
    src, heat = evidence([track(34 / S + 0.1 * np.cos(t), 30 / S + 0.1 * np.sin(t))], params())
    return img, src, heat, mask


@pytest.fixture(scope="module")
def hostile():
    """name -> (image, src, heat): inputs a refiner must survive."""
    img, _ = object_image()
    p = params()
    empty = evidence([Track(np.zeros(0), np.zeros(0), np.zeros(0))], p)
    one = evidence([track([0.5], [0.5])], p)
    outside = evidence([track([0.05, 0.1, 0.08], [0.9, 0.92, 0.95])], p)
    t = np.linspace(0, 2 * np.pi, 12)
    circle = evidence([track(0.5 + 0.1 * np.cos(t), 0.5 + 0.1 * np.sin(t))], p)
    uniform = np.full((3, S, S), 128, np.uint8)
    return {"empty track": (img, *empty), "one fixation": (img, *one),
            "track outside the object": (img, *outside), "uniform image": (uniform, *circle),
            "black image": (np.zeros_like(uniform), *circle)}
