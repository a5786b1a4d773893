"""Zarr I/O of the render cache: the codec pipeline, the compressor and batched row reads.

The cache is written and read through the zarrs codec pipeline (Rust; shards encoded and decoded
in parallel) whenever the ``zarrs`` package is installed. The pipeline is chosen per array when
the array is opened, inside :func:`pipeline`, so a caller's own zarr configuration is left alone.

A sample is one row along axis 0 of every array. :func:`read_rows` fetches any list of rows, in
any order and with repeats, in one request per array: the inner chunks of all rows go to the
codec pipeline as one batch instead of one ``array[i]`` call (about a millisecond of Python
each) per row and array.

Damage is found, not trusted: every inner chunk ends with a CRC32C checksum (zarr's ``crc32c``
codec, checked by zarr-python on every read and by zarrs when it decodes a whole shard; zarrs
skips it when it decodes single chunks, which is what a random row read does), and the cache
records a CRC32C of every stored row (:func:`row_checksums`) that :func:`read_rows` compares
with what it decoded. A row that cannot be decoded or does not match raises
:class:`CorruptRowError` naming the array, the row and its id.

This module uses zarr's private internals (``AsyncArray._get_selection``,
``zarr.core.indexing.ChunkProjection``, ``zarr.core.sync.sync``, ``zarr.core.buffer``) for the
batched row reads: they may change in any zarr release, which is why pyproject.toml bounds zarr
below the next minor version not yet tested. Without them :func:`read_rows` falls back to
``array[i]`` per row (same result, slower), but a changed signature would fail: test a new zarr
minor version (the whole test suite) before raising the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from gazeprep.contract.errors import InputError

#: zarr's name of the zarrs codec pipeline.
ZARRS_PIPELINE = "zarrs.ZarrsCodecPipeline"


def zarrs_available() -> bool:
    """Whether the zarrs codec pipeline can be used."""
    try:
        import zarrs  # noqa: F401
    except ImportError:
        return False
    return True


def pipeline() -> contextlib.AbstractContextManager:
    """Context in which opened or created arrays use the zarrs pipeline (when installed)."""
    import zarr

    if not zarrs_available():
        return contextlib.nullcontext()
    return zarr.config.set({"codec_pipeline.path": ZARRS_PIPELINE})


def compressors() -> list:
    """The cache's bytes codecs: Blosc LZ4 with byte shuffle, then a CRC32C checksum.

    Blosc LZ4 was chosen for speed: on a rendered Kvasir-SEG cache it wrote about 3x and read
    about 1.4x faster than zarr's default Zstandard, for about 10 % more bytes. The checksum
    adds 4 bytes per chunk.
    """
    from zarr.codecs import BloscCodec, Crc32cCodec

    return [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"), Crc32cCodec()]


class CorruptRowError(InputError):
    """A stored row (sample) cannot be decoded or does not match its recorded checksum.

    Attributes
    ----------
    array : str
        Array name.
    row : int
        Row index (sample position in the cache).
    id : str or None
        The sample's id when known.
    """

    def __init__(self, array: str, row: int, id: str | None, what: str):
        label = f"sample {row}" + (f" (id {id!r})" if id is not None else "")
        if array.startswith("labels/"):  # gradseg refine's, not render's
            super().__init__(f"labels {array[7:]!r}, {label}: {what}; write them again with "
                             "`gradseg refine`")
        else:
            super().__init__(f"array {array!r}, {label}: {what}; render the cache again")
        self.array, self.row, self.id = array, row, id


def row_checksum(row: np.ndarray) -> int:
    """CRC32C of one row's bytes (C order): what the cache records per sample and array."""
    import google_crc32c  # zarr's own CRC32C implementation (a zarr dependency)

    return int(google_crc32c.value(np.ascontiguousarray(row).tobytes()))


def row_checksums(block: np.ndarray) -> list[int]:
    """:func:`row_checksum` of every row (axis 0) of ``block``."""
    return [row_checksum(r) for r in block]


def array_name(array) -> str:
    """The array's name inside its group (``maps``; a labels array ``labels/<name>``)."""
    path = str(getattr(array, "path", "") or "")
    if path.startswith("labels/"):
        return path
    return str(getattr(array, "basename", None) or path or array)


def open_arrays(path: str | Path, names: Sequence[str], mode: str = "r") -> dict:
    """Open the named arrays of the Zarr v3 group at ``path`` on the fast pipeline (from
    their own metadata, never from a consolidated copy, see :func:`consolidate`).

    Returns
    -------
    dict of str to zarr.Array
    """
    import zarr

    with pipeline():
        group = zarr.open_group(str(path), mode=mode, zarr_format=3, use_consolidated=False)
        return {name: group[name] for name in names}


def consolidate(path: str | Path) -> None:
    """Write the consolidated metadata of the group at ``path`` (every array and sub-group
    below it, ``labels/`` included) into its ``zarr.json``, so that ``xarray.open_zarr(path)``
    reads one file and does not warn.

    Every writer of a cache calls this last, after its other writes (zarr writes the file
    whole, under a temporary name): a consolidated copy is a snapshot, so the cache's own
    readers never use it and read each array's own ``zarr.json``.
    """
    import warnings

    import zarr

    with warnings.catch_warnings():
        # "not part in the Zarr format 3 specification": zarr-python and xarray read it
        warnings.filterwarnings("ignore", message="Consolidated metadata",
                                category=UserWarning)
        # a user's own files beside the arrays (notes, a run folder) are no Zarr nodes
        warnings.filterwarnings("ignore", message=".*not recognized as a component of a Zarr",
                                category=UserWarning)
        zarr.consolidate_metadata(str(path), zarr_format=3)


def create_rows_array(group, name: str, rows: int, row_shape: tuple[int, ...], dtype: str,
                      shard_rows: int, dimension_names: Sequence[str] | None = None,
                      attributes: dict | None = None):
    """Create an array of ``rows`` samples, one sample per chunk, ``shard_rows`` per shard file.

    Parameters
    ----------
    group : zarr.Group
        Group to create the array in (overwrites an array of that name).
    name : str
        Array name.
    rows : int
        Number of samples N (axis 0).
    row_shape : tuple of int
        Shape of one sample, e.g. (C, S, S).
    dtype : str
        NumPy dtype name.
    shard_rows : int
        Samples per shard.
    dimension_names : sequence of str, optional
        Name of every axis (Zarr v3 ``dimension_names``, which xarray reads).
    attributes : dict, optional
        The array's attributes.
    """
    with pipeline():
        return group.create_array(
            name,
            shape=(rows, *row_shape),
            dtype=dtype,
            chunks=(1, *row_shape),
            shards=(max(1, min(shard_rows, rows)), *row_shape),
            compressors=compressors(),
            fill_value=0,
            overwrite=True,
            dimension_names=None if dimension_names is None else tuple(dimension_names),
            attributes=attributes,
        )


def _rows_per_outer_chunk(array) -> int | None:
    """Rows per stored object (shard, or chunk when unsharded); None when rows are split."""
    outer = array.shards or array.chunks
    if tuple(outer[1:]) != tuple(array.shape[1:]):
        return None
    return int(outer[0])


class _RowIndexer:
    """zarr Indexer protocol: whole rows ``rows`` of ``array``, stacked in the given order."""

    def __init__(self, rows: np.ndarray, array, per_chunk: int):
        self.rows = rows
        self.rest = tuple(slice(0, s) for s in array.shape[1:])
        self.shape = (len(rows), *array.shape[1:])
        self.drop_axes: tuple[int, ...] = ()
        self.per_chunk = per_chunk

    def __iter__(self) -> Iterator:
        from zarr.core.indexing import ChunkProjection

        zeros = (0,) * len(self.rest)
        for k, row in enumerate(self.rows):
            chunk, within = divmod(int(row), self.per_chunk)
            yield ChunkProjection(
                (chunk, *zeros),
                (slice(within, within + 1), *self.rest),
                (slice(k, k + 1), *self.rest),
                False,
            )


def batched_reads_supported(array) -> bool:
    """Whether :func:`read_rows` can batch reads of ``array`` (else it reads row by row)."""
    return hasattr(getattr(array, "_async_array", None), "_get_selection")


def read_rows(arrays: Sequence, rows: Sequence[int], *, ids: Sequence[str] | None = None,
              checksums: Sequence[Sequence[int] | None] | None = None) -> list[np.ndarray]:
    """Read the same rows (samples, axis 0) of several arrays, checking what was decoded.

    Parameters
    ----------
    arrays : sequence of zarr.Array
        Arrays with the same length along axis 0.
    rows : sequence of int
        Row indices, any order, repeats allowed.
    ids : sequence of str, optional
        Id of every row of the arrays, for error messages.
    checksums : sequence, optional
        Per array, the recorded :func:`row_checksum` of every row (or None: not checked).

    Returns
    -------
    list of ndarray
        One per array, shape ``(len(rows), *array.shape[1:])``, rows in the order asked.

    Raises
    ------
    CorruptRowError
        A row cannot be decoded or its bytes do not match the recorded checksum.

    Notes
    -----
    All rows of all arrays go to the codec pipeline in one batch through zarr's internal
    selection API (``AsyncArray._get_selection`` with a row indexer), which zarrs decodes in
    parallel. Where that API is missing (another zarr version) rows are read one by one with
    ``array[i]``: the same result, slower. When the batch fails, rows are read one by one to
    name the one that fails.
    """
    idx = np.asarray(rows, dtype=np.int64).reshape(-1)
    for a in arrays:
        if idx.size and (idx.min() < 0 or idx.max() >= a.shape[0]):
            raise IndexError(f"row out of range 0..{a.shape[0] - 1}")
    try:
        blocks = _read_rows(arrays, idx)
    except Exception as exc:  # noqa: BLE001 - any decode failure: find the row that fails
        _locate_failure(arrays, idx, ids)
        raise CorruptRowError(", ".join(array_name(a) for a in arrays), int(idx[0]), None,
                              f"cannot be read ({type(exc).__name__}: {_first_line(exc)})"
                              ) from exc
    if checksums is not None:
        for a, block, sums in zip(arrays, blocks, checksums, strict=True):
            if sums is None:
                continue
            for k, r in enumerate(idx):
                if row_checksum(block[k]) != sums[r]:
                    raise CorruptRowError(array_name(a), int(r), _id(ids, r),
                                          "stored data does not match its checksum")
    return blocks


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""


def _id(ids: Sequence[str] | None, row) -> str | None:
    return None if ids is None else str(ids[int(row)])


def _locate_failure(arrays: Sequence, idx: np.ndarray, ids: Sequence[str] | None) -> None:
    """Read rows one by one; raise :class:`CorruptRowError` for the first that fails."""
    for a in arrays:
        for r in dict.fromkeys(int(i) for i in idx):
            try:
                a[r]
            except Exception as exc:  # noqa: BLE001 - this row is the one that fails
                raise CorruptRowError(array_name(a), r, _id(ids, r),
                                      f"cannot be decoded ({type(exc).__name__}: "
                                      f"{_first_line(exc)})") from exc


def _read_rows(arrays: Sequence, idx: np.ndarray) -> list[np.ndarray]:
    fast = [(a, _rows_per_outer_chunk(a)) for a in arrays]
    if not all(batched_reads_supported(a) and n for a, n in fast):
        return [np.stack([np.asarray(a[int(i)]) for i in idx]) if idx.size
                else np.zeros((0, *a.shape[1:]), a.dtype) for a in arrays]
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    async def gather():
        proto = default_buffer_prototype()
        return await asyncio.gather(*[
            a._async_array._get_selection(_RowIndexer(idx, a, n), prototype=proto)
            for a, n in fast
        ])

    return [np.asarray(x) for x in sync(gather())]
