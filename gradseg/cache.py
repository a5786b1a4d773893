"""Reading the gazeprep Zarr cache: validation of its layout and a streaming torch Dataset.

The cache is one Zarr v3 group (see the project brief), every array uint8: ``image``
(N,3,S,S), ``maps`` (N,L,S,S) and ``heatmap`` (N,1,S,S) holding round(255 x) of values in [0, 1],
``pseudo`` and optionally ``mask`` (N,1,S,S) 0/1, with ``ids``, ``size``, ``levels``,
``row_crc32c`` and ``complete`` in the group attributes (format version :data:`FORMAT_VERSION`).

Every row read is checked against the CRC32C the cache records for it; a sample that cannot be
decoded or does not match is an error naming the array, the sample's index and its id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from gazeprep.contract.cache import UNIT_SCALE
from gradseg.augment import AugmentConfig, apply_affine, identity_params, sample_params
from gradseg.errors import GradsegError

#: The cache format this gradseg reads (gazeprep.cache.FORMAT_VERSION; 3: CRC32C per chunk and
#: per row). Older caches are refused by name: render them again.
FORMAT_VERSION = 3
#: The folder an interrupted gazeprep render leaves inside the cache (see gazeprep.outputs).
_STAGING = ".gazeprep-staging"
#: Channels of each cache array, keyed by array name (None = taken from attrs["levels"]).
_ARRAYS = {"image": 3, "maps": None, "heatmap": 1, "pseudo": 1, "mask": 1}
#: Arrays that hold 0/1 masks: resampled bilinearly then thresholded at 0.5.
BINARY_FIELDS = frozenset({"pseudo", "mask"})
#: Arrays stored as round(255 x) of values x in [0, 1]: divided by UNIT_SCALE when read.
UNIT_FIELDS = frozenset({"image", "maps", "heatmap"})


@dataclass
class CacheInfo:
    """What the trainer needs to know about a validated cache.

    Attributes
    ----------
    path : Path
        The group's folder.
    ids : list of str
        Image id of each sample, in array order.
    size : int
        Side S of the stored square images (pixels).
    levels : int
        Number L of track-map levels.
    has_mask : list of bool
        Whether sample i has a ground-truth mask (all False when there is no ``mask`` array).
    orig_size : list of (int, int)
        Original (height, width) of each image in pixels, when recorded.
    attrs : dict
        All group attributes.
    """

    path: Path
    ids: list[str]
    size: int
    levels: int
    has_mask: list[bool]
    orig_size: list[tuple[int, int]] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)

    def checksums(self, name: str) -> list[int]:
        """Recorded CRC32C of every row of array ``name``."""
        return self.attrs["row_crc32c"][name]

    @property
    def mask_available(self) -> bool:
        """Whether any sample carries a ground-truth mask."""
        return any(self.has_mask)

    def positions(self, ids: list[str]) -> list[int]:
        """Array positions of ``ids``; unknown ids are an error that lists a few of them."""
        where = {k: i for i, k in enumerate(self.ids)}
        missing = [k for k in ids if k not in where]
        if missing:
            raise GradsegError(
                f"{len(missing)} id(s) not in the cache, e.g. {missing[:5]}", file=self.path
            )
        return [where[k] for k in ids]


def open_cache(path: str | Path) -> CacheInfo:
    """Open and validate a gazeprep Zarr cache.

    Parameters
    ----------
    path : str or Path
        Folder of the Zarr v3 group written by ``gazeprep render``.

    Returns
    -------
    CacheInfo

    Raises
    ------
    GradsegError
        The path is missing or not a gazeprep cache, the render did not finish
        (``attrs["complete"]`` is not true), or an array has the wrong shape or type.
    """
    import zarr

    p = Path(path)
    if not p.exists():
        raise GradsegError("cache not found (render one with `gazeprep render`)", file=p)
    if (p / _STAGING / "COMMITTED").is_file():
        raise GradsegError("an interrupted gazeprep render left this cache half swapped; run "
                           "`gazeprep render` again (or `gazeprep score`) to finish it", file=p)
    try:
        group = zarr.open_group(str(p), mode="r")
    except Exception as exc:  # zarr raises several types for a folder that is not a group
        raise GradsegError(
            f"not a Zarr group ({type(exc).__name__}); expected a cache written by gazeprep render",
            file=p,
        ) from exc
    attrs = dict(group.attrs)
    if attrs.get("format") != "gazeprep-maps":
        raise GradsegError(
            f"attribute format is {attrs.get('format')!r}, expected 'gazeprep-maps'", file=p
        )
    if attrs.get("format_version") != FORMAT_VERSION:
        raise GradsegError(
            f"cache format version {attrs.get('format_version')!r}, expected {FORMAT_VERSION} "
            "(written by an older gazeprep): render it again", file=p)
    if attrs.get("complete") is not True:
        raise GradsegError(
            "cache is incomplete (attrs['complete'] is not true): the render was interrupted "
            "or failed; run gazeprep render again",
            file=p,
        )
    try:
        ids = [str(i) for i in attrs["ids"]]
        size, levels = int(attrs["size"]), int(attrs["levels"])
    except (KeyError, TypeError, ValueError) as exc:
        raise GradsegError(f"attributes ids/size/levels missing or invalid: {exc}", file=p) from exc
    n = len(ids)
    names = {k for k in _ARRAYS if (p / k / "zarr.json").is_file()}
    for name, channels in _ARRAYS.items():
        if name not in names:
            if name == "mask":
                continue
            raise GradsegError(f"array {name!r} missing", file=p)
        c = levels if channels is None else channels
        shape = tuple(group[name].shape)
        if shape != (n, c, size, size):
            raise GradsegError(
                f"array {name!r} has shape {shape}, expected {(n, c, size, size)}", file=p
            )
        if group[name].dtype != np.uint8:
            raise GradsegError(
                f"array {name!r} is {group[name].dtype}, expected uint8 (a cache written by an "
                f"older gazeprep: render it again)", file=p
            )
        sums = (attrs.get("row_crc32c") or {}).get(name)
        if not isinstance(sums, list) or len(sums) != n:
            raise GradsegError(f"attribute row_crc32c[{name!r}] missing or not {n} values",
                               file=p)
    has_mask = [False] * n
    if "mask" in names:
        has_mask = [bool(b) for b in attrs.get("has_mask", [True] * n)]
    orig = [tuple(int(v) for v in hw) for hw in attrs.get("orig_size", [])]
    return CacheInfo(p, ids, size, levels, has_mask, orig, attrs)


def read_ids_file(path: str | Path) -> list[str]:
    """Image ids from a text file, one per line (blank lines and ``#`` comments ignored)."""
    p = Path(path)
    if not p.is_file():
        raise GradsegError("ids file not found", file=p)
    out = []
    for line in p.read_text().splitlines():
        s = line.split("#", 1)[0].strip()
        if s:
            out.append(Path(s).stem if "." in s else s)
    return out


class CacheDataset(Dataset):
    """Samples of a gazeprep cache as float tensors, optionally augmented.

    The arrays are opened lazily in each DataLoader worker (a Zarr handle is not shared across
    processes); with ``in_memory`` the requested arrays are read once into RAM. A DataLoader
    batch is read in one request per array (:meth:`__getitems__`, through
    :func:`gazeprep.contract.zarr_io.read_rows`), not one per sample.

    Parameters
    ----------
    info : CacheInfo
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

    Notes
    -----
    An item key is either a position index into ``positions`` or a pair ``(index, seed)``;
    the seed drives the augmentation so that a sample's augmentation depends only on the
    run seed, the epoch and the index, not on worker count or process (resume-safe).
    Returned dict: ``image`` float32 (3,s,s) in [0, 1], each field float32 (C,s,s),
    ``index`` (int, position in the cache).
    """

    def __init__(self, info: CacheInfo, positions: list[int], fields=(), size: int | None = None,
                 augment: AugmentConfig | None = None, in_memory: bool = False):
        self.path = str(info.path)
        self.ids = info.ids
        self.positions = list(positions)
        self.fields = ("image", *[f for f in fields if f != "image"])
        self.cache_size = info.size
        self.size = size or info.size
        self.augment = augment
        self.sums = [info.checksums(f) for f in self.fields]
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

            self._arrays = open_arrays(self.path, self.fields)
        return self._arrays

    def _read(self, items: list[int]) -> dict[str, np.ndarray]:
        """Raw uint8 blocks (len(items), C, S, S) of every field."""
        if self._ram is not None:
            return {f: self._ram[f][items] for f in self.fields}
        return self._read_positions([self.positions[i] for i in items])

    def _read_positions(self, positions: list[int], batch: int = 256) -> dict[str, np.ndarray]:
        """Rows ``positions`` of every field, checked against their CRC32C, in batches."""
        from gazeprep.contract.zarr_io import CorruptRowError, read_rows

        arrays = self._open()
        parts = []
        for start in range(0, max(1, len(positions)), batch):
            try:
                parts.append(read_rows([arrays[f] for f in self.fields],
                                       positions[start:start + batch], ids=self.ids,
                                       checksums=self.sums))
            except CorruptRowError as exc:
                raise GradsegError(exc.message, file=self.path) from exc
        return {f: np.concatenate([p[k] for p in parts]) for k, f in enumerate(self.fields)}

    def __getitems__(self, keys: list) -> list[dict]:
        """Several items at once (the DataLoader's batched fetch): one read per array."""
        parsed = [(int(k), None) if isinstance(k, int | np.integer) else (int(k[0]), k[1])
                  for k in keys]
        blocks = self._read([i for i, _ in parsed])
        # One conversion per field for the whole batch, not one per item.
        tensors = {}
        for f, block in blocks.items():
            t = torch.from_numpy(np.ascontiguousarray(block)).float()
            tensors[f] = t.div_(float(UNIT_SCALE)) if f in UNIT_FIELDS else t
        out = []
        for k, (i, seed) in enumerate(parsed):
            if seed is None or self.augment is None:
                params = identity_params()
            else:
                params = sample_params(torch.Generator().manual_seed(int(seed)), self.augment)
            item = apply_affine({f: t[k] for f, t in tensors.items()}, params, self.size,
                                binary=BINARY_FIELDS)
            item["index"] = self.positions[i]
            out.append(item)
        return out

    def __getitem__(self, key) -> dict:
        return self.__getitems__([key])[0]
