"""Reading a gazeprep cache: the check against the cache contract and a streaming torch Dataset.

The format (array names, shapes, dtypes, format version, the uint8 scale) is defined once, in
:mod:`gazeprep.contract.cache`; :func:`open_cache` checks a cache with its ``validate`` and
refuses a cache of another format version by name. Every row read is checked against the CRC32C
the cache records for it; a sample that cannot be decoded or does not match is an error naming
the array, the sample's index and its id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from gazeprep.contract.cache import BINARY, UNIT, UNIT_SCALE, CacheLayout, validate
from gazeprep.contract.errors import InputError
from gradseg.data.augment import (
    AugmentConfig,
    apply_affine,
    draw_params,
    identity_params,
    identity_theta,
    sample_theta,
)
from gradseg.errors import GradsegError

#: How to fix a cache the contract refuses, when its message does not already say it.
_RENDER_AGAIN = "render it again with `gazeprep render`"


def open_cache(path: str | Path) -> CacheLayout:
    """Open a gazeprep cache and check it against the cache contract.

    Parameters
    ----------
    path : str or Path
        Folder of the Zarr v3 group written by ``gazeprep render``.

    Returns
    -------
    CacheLayout
        Ids, size, levels, arrays, which samples have masks (see
        :class:`gazeprep.contract.cache.CacheLayout`).

    Raises
    ------
    GradsegError
        The path is missing or not a gazeprep cache, it has another format version, the render
        did not finish, or an array has the wrong shape, type or checksum list.
    """
    try:
        return validate(path)
    except InputError as exc:
        message = exc.message
        if "gazeprep render" not in message and "render it again" not in message:
            message = f"{message} ({_RENDER_AGAIN})"
        raise GradsegError(message, file=exc.file) from exc


class CacheDataset(Dataset):
    """Samples of a gazeprep cache as float tensors, optionally augmented.

    The arrays are opened lazily in each DataLoader worker (a Zarr handle is not shared across
    processes); with ``in_memory`` the requested arrays are read once into RAM. A DataLoader
    batch is read in one request per array (:meth:`__getitems__`, through
    :func:`gazeprep.contract.zarr_io.read_rows`), not one per sample.

    Parameters
    ----------
    info : CacheLayout
        The validated cache.
    positions : list of int
        Array positions of the samples this dataset serves.
    fields : sequence of str
        Arrays to return besides ``image`` (e.g. ``("maps", "pseudo")``).
    size : int
        Output side in pixels (resampled from the cache size when different).
    augment : AugmentConfig or None
        Random flips, resized crop and rotation, identical on every field; None = no augmentation.
    in_memory : bool
        Read the arrays into RAM once instead of streaming from disk.
    labels : str, optional
        Read the ``pseudo`` field from the cache's labels array of this name
        (:mod:`gazeprep.contract.labels`, written by ``gradseg refine``) instead of the render's.
    raw : bool
        The training data path: items are the stored uint8 rows at the cache size, unchanged,
        plus ``theta``, the sample's transform as a (2, 3) matrix
        (:func:`gradseg.data.augment.sample_theta`); float conversion, augmentation and
        resampling happen on the training device (:func:`gradseg.data.augment.transform_batch`).

    Notes
    -----
    An item key is either a position index into ``positions`` or a pair ``(index, seed)``;
    the seed drives the augmentation so that a sample's augmentation depends only on the
    run seed, the epoch and the index, not on worker count or process (resume-safe).
    Returned dict: ``image`` float32 (3,s,s) in [0, 1], each field float32 (C,s,s),
    ``index`` (int, position in the cache); with ``raw``, uint8 (C,S,S) rows and ``theta``.
    """

    def __init__(self, info: CacheLayout, positions: list[int], fields=(), size: int | None = None,
                 augment: AugmentConfig | None = None, in_memory: bool = False,
                 raw: bool = False, labels: str | None = None):
        from gazeprep.contract.labels import PSEUDO, array_path, labels_info

        self.path = str(info.path)
        self.ids = info.ids
        self.positions = list(positions)
        self.fields = ("image", *[f for f in fields if f != "image"])
        self.cache_size = info.size
        self.size = size or info.size
        self.augment = augment
        self.raw = raw
        # Where each field is stored: ``pseudo`` may come from a labels array instead.
        self.sources = [array_path(labels) if f == PSEUDO else f for f in self.fields]
        self.sums = [labels_info(info.path, labels)["row_crc32c"]
                     if f == PSEUDO and labels not in (None, PSEUDO) else info.checksums(f)
                     for f in self.fields]
        self._arrays = None
        self._ram: dict[str, np.ndarray] | None = None
        if in_memory:
            self._ram = self._read_positions(self.positions)
            self._arrays = None

    def __len__(self) -> int:
        return len(self.positions)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_arrays"] = None  # each worker opens its own handles
        return state

    def _open(self) -> dict:
        if self._arrays is None:
            from gazeprep.contract.zarr_io import open_arrays

            arrays = open_arrays(self.path, self.sources)
            self._arrays = {f: arrays[a] for f, a in zip(self.fields, self.sources, strict=True)}
        return self._arrays

    def _read(self, items: list[int]) -> dict[str, np.ndarray]:
        """Raw uint8 blocks (len(items), C, S, S) of every field."""
        if self._ram is not None:
            return {f: self._ram[f][items] for f in self.fields}
        return self._read_positions([self.positions[i] for i in items])

    def _read_positions(self, positions: list[int], batch: int = 256) -> dict[str, np.ndarray]:
        """Rows ``positions`` of every field, checked against their CRC32C, in batches."""
        from gazeprep.contract.errors import InputError
        from gazeprep.contract.labels import GROUP, check_values
        from gazeprep.contract.zarr_io import read_rows

        arrays = self._open()
        parts = []
        for start in range(0, max(1, len(positions)), batch):
            rows = positions[start:start + batch]
            try:
                parts.append(read_rows([arrays[f] for f in self.fields], rows, ids=self.ids,
                                       checksums=self.sums))
                for src, block in zip(self.sources, parts[-1], strict=True):
                    if src.startswith(f"{GROUP}/"):  # a labels array: 0/1 only
                        check_values(src[len(GROUP) + 1:], block, rows, self.ids, self.path)
            except InputError as exc:  # a damaged row (CorruptRowError) or labels not 0/1
                raise GradsegError(exc.message, file=self.path) from exc
        if len(parts) == 1:  # a training batch: no copy
            return dict(zip(self.fields, parts[0], strict=True))
        return {f: np.concatenate([p[k] for p in parts]) for k, f in enumerate(self.fields)}

    def __getitems__(self, keys: list) -> list[dict]:
        """Several items at once (the DataLoader's batched fetch): one read per array."""
        parsed = [(int(k), None) if isinstance(k, int | np.integer) else (int(k[0]), k[1])
                  for k in keys]
        blocks = self._read([i for i, _ in parsed])
        if self.raw:
            return self._raw_items(parsed, blocks)
        # One conversion per field for the whole batch, not one per item.
        tensors = {}
        for f, block in blocks.items():
            t = torch.from_numpy(np.ascontiguousarray(block)).float()
            tensors[f] = t.div_(float(UNIT_SCALE)) if f in UNIT else t
        out = []
        for k, (i, seed) in enumerate(parsed):
            if seed is None or self.augment is None:
                params = identity_params()
            else:
                params = draw_params(torch.Generator().manual_seed(int(seed)), self.augment)
            item = apply_affine({f: t[k] for f, t in tensors.items()}, params, self.size,
                                binary=BINARY)
            item["index"] = self.positions[i]
            out.append(item)
        return out

    def _raw_items(self, parsed: list[tuple[int, int | None]], blocks: dict[str, np.ndarray]
                   ) -> list[dict]:
        """uint8 rows and each sample's transform matrix (the raw training path)."""
        tensors = {f: torch.from_numpy(np.ascontiguousarray(b)) for f, b in blocks.items()}
        out = []
        for k, (i, seed) in enumerate(parsed):
            if seed is None or self.augment is None:
                theta = identity_theta()
            else:
                theta = sample_theta(torch.Generator().manual_seed(int(seed)), self.augment)
            item = {f: t[k] for f, t in tensors.items()}
            item["theta"] = theta
            item["index"] = self.positions[i]
            out.append(item)
        return out

    def __getitem__(self, key) -> dict:
        return self.__getitems__([key])[0]
