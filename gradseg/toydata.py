"""A tiny synthetic cache in the gazeprep cache format, for tests and quick trials.

The cache is written through the cache contract (:func:`gazeprep.contract.cache.write_cache`:
names, dimensions, scale, sample arrays, version and checksums), so it is a cache ``gazeprep
render`` could have written, and gradseg holds no copy of the format.

Each image holds one bright elliptic "lesion" on a textured background; the fake gaze track
searches the image, then sweeps the lesion from its centre outwards, so the level maps narrow
onto the lesion as the track is truncated, as real reading tracks do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.contract.cache import REQUIRED, UNIT_SCALE


def to_unit_uint8(x: np.ndarray) -> np.ndarray:
    """Values in [0, 1] as the cache stores them: ``floor(UNIT_SCALE * clip(x, 0, 1) + 0.5)``.

    NaN becomes 0. Example: ``to_unit_uint8(np.array([0.0, 0.5, 1.0]))`` -> ``[0, 128, 255]``.
    """
    x = np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0)
    v = np.clip(x, 0.0, 1.0).astype(np.float64)
    return np.floor(v * UNIT_SCALE + 0.5).astype(np.uint8)


def _disk(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _track_map(h: int, w: int, pts: np.ndarray, tau: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.full((h, w), np.inf, np.float32)
    for y, x in pts:
        d = np.minimum(d, np.hypot(yy - y, xx - x))
    return np.clip(1 - d / tau, 0, 1)


def make_sample(rng: np.random.Generator, size: int, levels: int) -> dict[str, np.ndarray]:
    """One synthetic sample: image (3,S,S) uint8, maps (L,S,S), heatmap, pseudo, mask."""
    s = size
    cy, cx = rng.uniform(0.3, 0.7, 2) * s
    ry, rx = rng.uniform(0.12, 0.22, 2) * s
    mask = _disk(s, s, cy, cx, ry, rx)
    base = rng.uniform(0.15, 0.35, 3)[:, None, None] + 0.08 * rng.standard_normal((3, s, s))
    lesion = np.array([0.85, 0.45, 0.35])[:, None, None]
    img = np.where(mask[None], lesion, base) + 0.04 * rng.standard_normal((3, s, s))
    search = rng.uniform(0.05, 0.95, (6, 2)) * s
    ang = np.linspace(0, 4 * np.pi, 12)
    rad = np.linspace(0.0, 0.9, 12)[:, None]
    on = np.stack([cy + rad[:, 0] * ry * np.sin(ang), cx + rad[:, 0] * rx * np.cos(ang)], 1)
    track = np.concatenate([search, on])
    fracs = [1.0 - k / levels for k in range(levels)]
    maps = []
    for f in fracs:
        kept = track[-max(1, int(np.ceil(f * len(track)))):]
        maps.append(_track_map(s, s, kept, 0.12 * s))
    maps = np.stack(maps)
    heat = _track_map(s, s, track[-12:], 0.3 * s) ** 2
    heat = heat / max(heat.max(), 1e-6)
    pseudo = maps[-1] > 0.5
    return {
        "image": (np.clip(img, 0, 1) * UNIT_SCALE).astype(np.uint8),
        "maps": to_unit_uint8(maps),
        "heatmap": to_unit_uint8(heat[None]),
        "pseudo": pseudo[None].astype(np.uint8),
        "mask": mask[None].astype(np.uint8),
    }


def write_toy_cache(path: str | Path, n: int = 12, size: int = 32, levels: int = 4,
                    seed: int = 0, with_mask: bool = True, complete: bool = True,
                    shard: int = 4) -> list[str]:
    """Write a synthetic cache following the gazeprep layout; returns the ids.

    Parameters
    ----------
    path : str or Path
        Zarr group folder to create (overwritten).
    n, size, levels : int
        Samples, side in pixels, track-map levels.
    seed : int
    with_mask : bool
        Write the ``mask`` array.
    complete : bool
        Value of ``attrs["complete"]`` (False mimics an interrupted render).
    shard : int
        Samples per shard file.
    """
    from gazeprep.contract.cache import sample_table, write_cache

    rng = np.random.default_rng(seed)
    samples = [make_sample(rng, size, levels) for _ in range(n)]
    ids = [f"toy{i:03d}" for i in range(n)]
    names = [*REQUIRED, *(["mask"] if with_mask else [])]
    rows = {name: np.stack([s[name] for s in samples]) for name in names}
    table = sample_table(ids)
    table["n_fixations"][:] = 18
    table["orig_size"][:] = (size * 2, size * 3)
    table["has_mask"][:] = with_mask
    write_cache(path, rows, table, {"params": {"synthetic": True}, "ingest": {},
                                    "complete": complete}, shard=shard)
    return ids
