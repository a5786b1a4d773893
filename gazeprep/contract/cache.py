"""The cache contract: what ``gazeprep render`` writes and ``gradseg`` reads, in one place.

One Zarr v3 group per cache. Every array is uint8 with one sample per row (axis 0), one sample
per chunk, :data:`SHARD_SAMPLES` samples per shard file:

========  ==============  ===============================================================
array     shape           values
========  ==============  ===============================================================
image     (N, 3, S, S)    RGB pixels (grey images repeated to 3 channels)
maps      (N, L, S, S)    track maps, index 0 = whole track ... L-1 = shortest tail
heatmap   (N, 1, S, S)    GazeMedSeg baseline heatmap
pseudo    (N, 1, S, S)    0/1 pseudo-mask
mask      (N, 1, S, S)    0/1 ground truth, only when render was given masks
========  ==============  ===============================================================

``maps`` and ``heatmap`` hold ``round(UNIT_SCALE * x)`` of values x in [0, 1]; ``image`` holds
pixels, which a reader scales the same way to [0, 1]. Group attributes: ``format``,
``format_version``, ``ids`` (N image ids), ``size`` (S), ``levels`` (L), ``row_crc32c`` (per
array, the CRC32C of every row), ``orig_size`` (N original (height, width)), ``has_mask``,
``params`` (every render parameter), ``ingest`` (identity of the gaze it was rendered from),
``complete`` (false while a render is unfinished).

This module is the contract's single home: gazeprep's writer builds the group from these names
and gradseg's reader checks a group with :func:`validate`. It lives on gazeprep's side because
gazeprep defines the format and must stay free of torch, and it imports nothing from the rest
of either package, so gradseg can depend on it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gazeprep.contract.errors import InputError

FORMAT = "gazeprep-maps"
#: 3: CRC32C per chunk and per row; 2: uint8 maps; 1: float16 maps. Others are refused by name.
FORMAT_VERSION = 3
#: A stored uint8 v of ``maps``, ``heatmap`` and ``image`` stands for v / UNIT_SCALE.
UNIT_SCALE = 255
#: Array name -> channels (None: the number of levels L).
ARRAYS: dict[str, int | None] = {"image": 3, "maps": None, "heatmap": 1, "pseudo": 1, "mask": 1}
#: Arrays every cache has (``mask`` only when render was given masks).
REQUIRED = ("image", "maps", "heatmap", "pseudo")
#: Arrays holding 0/1 masks (resampled bilinearly, then thresholded at 0.5).
BINARY = frozenset({"pseudo", "mask"})
#: Arrays holding round(UNIT_SCALE x) of values x in [0, 1].
UNIT = frozenset({"image", "maps", "heatmap"})
#: Samples per shard file.
SHARD_SAMPLES = 32
#: The folder an interrupted render leaves inside the cache while it swaps files in.
STAGING = ".gazeprep-staging"
#: The marker of a staged swap that was committed but not finished.
COMMITTED = "COMMITTED"
#: The axis names of every array (the ``dimension_names`` a Zarr v3 reader such as xarray uses).
DIMENSIONS = ("sample", "channel", "y", "x")


def channels(name: str, levels: int) -> int:
    """Channels of array ``name`` in a cache with ``levels`` track-map levels."""
    c = ARRAYS[name]
    return levels if c is None else c


@dataclass
class CacheLayout:
    """What a reader needs to know about a validated cache.

    Attributes
    ----------
    path : Path
        The group's folder.
    ids : list of str
        Image id of each sample, in array order (N).
    size : int
        Side S of the stored square images (pixels).
    levels : int
        Number L of track-map levels.
    arrays : tuple of str
        The arrays present (``mask`` only with masks).
    has_mask : list of bool
        Whether sample i has a ground-truth mask (all False without a ``mask`` array).
    orig_size : list of (int, int)
        Original (height, width) of each image in pixels.
    attrs : dict
        All group attributes.
    """

    path: Path
    ids: list[str]
    size: int
    levels: int
    arrays: tuple[str, ...]
    has_mask: list[bool]
    orig_size: list[tuple[int, int]] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)

    @property
    def mask_available(self) -> bool:
        """Whether any sample carries a ground-truth mask."""
        return any(self.has_mask)

    def checksums(self, name: str) -> list[int]:
        """Recorded CRC32C of every row of array ``name``."""
        return self.attrs["row_crc32c"][name]

    def shape(self, name: str) -> tuple[int, int, int, int]:
        """The shape array ``name`` must have: (N, C, S, S)."""
        return (len(self.ids), channels(name, self.levels), self.size, self.size)

    def positions(self, ids: list[str]) -> list[int]:
        """Array positions of ``ids``; unknown ids are an error listing a few of them."""
        where = {k: i for i, k in enumerate(self.ids)}
        missing = [k for k in ids if k not in where]
        if missing:
            raise InputError(f"{len(missing)} id(s) not in the cache, e.g. {missing[:5]}",
                             file=self.path)
        return [where[k] for k in ids]


def check_attrs(attrs: dict, path: Path, require_complete: bool = True) -> None:
    """Refuse a group that is not a complete cache of this format version (one line each)."""
    if attrs.get("format") != FORMAT:
        raise InputError(f"attribute format is {attrs.get('format')!r}, expected {FORMAT!r}: "
                         "not a cache written by gazeprep render", file=path)
    if attrs.get("format_version") != FORMAT_VERSION:
        raise InputError(f"cache format version {attrs.get('format_version')!r}, expected "
                         f"{FORMAT_VERSION} (written by another gazeprep): render it again",
                         file=path)
    if require_complete and attrs.get("complete") is not True:
        raise InputError("cache is incomplete (a render was interrupted or failed): run "
                         "`gazeprep render` again", file=path)


def validate(path: str | Path, require_complete: bool = True) -> CacheLayout:
    """Open a cache's group read-only, check it against the contract and describe it.

    Parameters
    ----------
    path : str or Path
        Folder of the Zarr v3 group written by ``gazeprep render``.
    require_complete : bool
        Refuse a cache whose render did not finish.

    Returns
    -------
    CacheLayout

    Raises
    ------
    InputError
        Missing folder, not a Zarr group, not a gazeprep cache, another format version, an
        unfinished render or swap, or an array of the wrong shape, type or checksum list.

    Examples
    --------
    >>> layout = validate("data/maps.zarr")  # doctest: +SKIP
    >>> layout.shape("maps")  # doctest: +SKIP
    (880, 4, 256, 256)
    """
    import zarr

    p = Path(path)
    if not p.exists():
        raise InputError("cache not found (render one with `gazeprep render`)", file=p)
    if (p / STAGING / COMMITTED).is_file():
        raise InputError("an interrupted gazeprep render left this cache half swapped; run "
                         "`gazeprep render` again to finish it", file=p)
    try:
        group = zarr.open_group(str(p), mode="r", zarr_format=3)
    except Exception as exc:  # noqa: BLE001 - zarr raises several types for a non-group
        raise InputError(f"not a Zarr v3 group ({type(exc).__name__}); expected a cache "
                         "written by gazeprep render", file=p) from exc
    attrs = dict(group.attrs)
    check_attrs(attrs, p, require_complete)
    try:
        ids = [str(i) for i in attrs["ids"]]
        size, levels = int(attrs["size"]), int(attrs["levels"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"attributes ids/size/levels missing or invalid: {exc}", file=p) from exc
    present = tuple(k for k in ARRAYS if (p / k / "zarr.json").is_file())
    layout = CacheLayout(p, ids, size, levels, present, [False] * len(ids), [], attrs)
    for name in REQUIRED:
        if name not in present:
            raise InputError(f"array {name!r} missing", file=p)
    for name in present:
        _check_array(group[name], name, layout)
    if "mask" in present:
        layout.has_mask = [bool(b) for b in attrs.get("has_mask", [True] * len(ids))]
    layout.orig_size = [tuple(int(v) for v in hw) for hw in attrs.get("orig_size", [])]
    return layout


def _check_array(array, name: str, layout: CacheLayout) -> None:
    """Shape, dtype and checksum list of one array against the layout."""
    import numpy as np

    want = layout.shape(name)
    if tuple(array.shape) != want:
        raise InputError(f"array {name!r} has shape {tuple(array.shape)}, expected {want}",
                         file=layout.path)
    if array.dtype != np.uint8:
        raise InputError(f"array {name!r} is {array.dtype}, expected uint8", file=layout.path)
    sums = (layout.attrs.get("row_crc32c") or {}).get(name)
    if not isinstance(sums, list) or len(sums) != want[0]:
        raise InputError(f"attribute row_crc32c[{name!r}] missing or not {want[0]} values",
                         file=layout.path)
