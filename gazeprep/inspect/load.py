"""Open a finished render cache for reading, checked against the cache contract."""

from __future__ import annotations

from pathlib import Path

from gazeprep.contract.errors import InputError
from gazeprep.errors import GazeprepError


def load_cache(path: str | Path, *, require_complete: bool = True):
    """Open a render cache read-only after checking it (:func:`gazeprep.contract.cache.validate`).

    A swap that an interrupted render committed but did not finish is finished first (as the
    next render would), so a cache that render left whole is never refused for it.

    Parameters
    ----------
    path : str or Path
        The Zarr group folder.
    require_complete : bool
        Refuse a cache whose ``complete`` attribute is not true.

    Returns
    -------
    zarr.Group

    Raises
    ------
    GazeprepError
        No cache there, another format or version, an unfinished render, an array of the wrong
        shape, type or checksum list.
    """
    import zarr

    from gazeprep.contract.cache import validate
    from gazeprep.outputs import recover
    from gazeprep.render.store import owned

    path = Path(path)
    if path.is_dir():
        recover(path, owned)
    if not (path / "zarr.json").is_file():
        raise GazeprepError("no render cache here: run `gazeprep render` first", file=path)
    try:
        validate(path, require_complete)
    except InputError as exc:  # the contract's error, as gazeprep's
        raise GazeprepError(exc.message, file=exc.file, line=exc.line) from exc
    return zarr.open_group(str(path), mode="r", zarr_format=3, use_consolidated=False)


def sample_values(g) -> dict:
    """The sample arrays of an open cache (ids, ``orig_size``, ``spacing``, ``has_mask``,
    ``n_fixations``: see :data:`gazeprep.contract.cache.SAMPLE_ARRAYS`) as lists, ids as str."""
    import numpy as np

    from gazeprep.contract.cache import ID_ARRAY, SAMPLE_ARRAYS

    out = {name: np.asarray(g[name][...]).tolist() for name in SAMPLE_ARRAYS}
    out[ID_ARRAY] = [str(i) for i in out[ID_ARRAY]]
    return out


def load_layout(path: str | Path, *, require_complete: bool = True):
    """The contract's description of a checked cache (:class:`~gazeprep.contract.cache.
    CacheLayout`: ids, sizes, spacings, which samples have masks); see :func:`load_cache`."""
    from gazeprep.contract.cache import validate

    load_cache(path, require_complete=require_complete)
    try:
        return validate(path, require_complete)
    except InputError as exc:
        raise GazeprepError(exc.message, file=exc.file, line=exc.line) from exc


def read_checked(g, name: str, rows: slice, ids: list[str]):
    """``g[name][rows]``, a damaged chunk (zarr's checksum mismatch) reported as one line
    naming the array and the samples, and what to do.

    Raises
    ------
    GazeprepError
        The stored bytes of those samples fail their CRC32C or do not decode.
    """
    try:
        return g[name][rows]
    except Exception as exc:  # noqa: BLE001 - zarr's codecs raise several types for damage
        if "checksum" not in str(exc).lower() and "decompress" not in str(exc).lower():
            raise
        first, last = ids[rows.start], ids[min(rows.stop, len(ids)) - 1]
        raise GazeprepError(
            f"array {name!r} is damaged in samples {first} .. {last} (the stored bytes fail "
            "their checksum); render the cache again (`gazeprep render` re-renders damaged "
            "samples)", file=getattr(g.store, "root", None)) from exc

