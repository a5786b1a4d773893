"""Labels arrays: further pseudo-masks of a cache beside the render's own ``pseudo``.

A cache may hold any number of named labels arrays, ``labels/<name>`` (Zarr v3, shape
(N, 1, S, S) uint8 0/1, one sample per chunk, like ``pseudo``). Each carries in its own
attributes the CRC32C of every row (``row_crc32c``) and where it came from (``provenance``: the
command, its settings, the labels it started from). ``gradseg refine`` writes them; ``gradseg
train --labels NAME`` and ``gazeprep export --labels NAME`` read one in place of ``pseudo``;
``gazeprep score`` scores them all. The render's ``pseudo`` is never replaced.

Writes are atomic: an array is written whole under a hidden temporary name inside ``labels/``
and renamed into place, so a reader sees the old array or the new one, never a part
(a writer killed mid-write leaves only a hidden folder that readers ignore and the next write
removes).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from gazeprep.contract.errors import InputError, reason

#: The group holding the labels arrays inside a cache.
GROUP = "labels"
#: The name every cache has without a labels group: the render's own pseudo-masks.
PSEUDO = "pseudo"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TMP = ".tmp-"
_GROUP_JSON = '{"zarr_format": 3, "node_type": "group", "attributes": {}}'


def check_name(name: str) -> str:
    """``name`` if it is a valid labels name (letters, digits, ``_.-``, <= 64), else an error."""
    if not _NAME.match(name) or name == PSEUDO:
        raise InputError(f"labels name {name!r}: use letters, digits, '_', '.', '-' (at most 64, "
                         f"not starting with a dot, not {PSEUDO!r})")
    return name


def array_path(name: str) -> str:
    """The array ``pseudo`` or ``labels/<name>`` inside a cache that labels ``name`` read from."""
    return PSEUDO if name in (None, PSEUDO) else f"{GROUP}/{check_name(name)}"


def list_labels(cache: str | Path) -> list[str]:
    """Names of the complete labels arrays of a cache, sorted (not ``pseudo``)."""
    root = Path(cache) / GROUP
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if not p.name.startswith(".") and (p / "zarr.json").is_file())


def _array(cache: str | Path, name: str):
    import zarr

    path = Path(cache) / GROUP / check_name(name)
    if not (path / "zarr.json").is_file():
        have = ", ".join(list_labels(cache)) or "none"
        raise InputError(f"labels {name!r} not in the cache (it has: {have}; make some with "
                         "`gradseg refine`)", file=cache)
    try:
        a = zarr.open_array(str(path), mode="r", zarr_format=3)
    except Exception as exc:  # noqa: BLE001 - zarr raises several types for bad metadata
        raise InputError(f"labels {name!r} cannot be opened as an array ({reason(exc)}); "
                         "expected a Zarr v3 array, as `gradseg refine` writes them",
                         file=cache) from exc
    want = zarr.open_array(str(Path(cache) / PSEUDO), mode="r", zarr_format=3).shape
    sums = a.attrs.get("row_crc32c")
    problem = (f"{a.dtype} of shape {a.shape}" if a.dtype != "uint8" or a.shape != want else
               "without one CRC32C per row (row_crc32c)" if not isinstance(sums, list)
               or len(sums) != want[0] or not all(isinstance(v, int) for v in sums) else None)
    if problem:
        raise InputError(f"labels {name!r} are {problem}; expected uint8 0/1 of shape {want} "
                         "(the cache's pseudo) with one CRC32C per row, as `gradseg refine` "
                         "writes them", file=cache)
    return a


def check_values(name: str, block, positions, ids, cache: str | Path) -> None:
    """Refuse rows of labels ``name`` (``block``, rows ``positions`` of the cache) holding
    values other than 0 and 1: a 0/255 mask that another tool wrote, checksums and all.

    Raises
    ------
    InputError
        Naming the first such sample, its id and the value.
    """
    import numpy as np

    block = np.asarray(block)
    if not block.size or block.max() <= 1:
        return
    k = int(np.argmax(block.reshape(len(block), -1).max(axis=1) > 1))
    pos = int(positions[k])
    raise InputError(f"labels {name!r}, sample {pos} (id {ids[pos]!r}) holds the value "
                     f"{int(block[k].max())}; expected 0 or 1 (write labels with `gradseg "
                     "refine` or `gazeprep.contract.labels.write_labels`)", file=cache)


def labels_info(cache: str | Path, name: str) -> dict:
    """The attributes of labels ``name``: ``row_crc32c``, ``provenance``, ``long_name``..."""
    return dict(_array(cache, name).attrs)


def read_labels(cache: str | Path, name: str, positions=None):
    """Labels ``name`` as uint8 (n, 1, S, S), all samples or the given positions, CRC-checked.

    Raises
    ------
    InputError
        Unknown name, or a row whose CRC32C differs from the one recorded.
    """
    import numpy as np

    a = _array(cache, name)
    pos = list(range(a.shape[0])) if positions is None else [int(p) for p in positions]
    data = a.get_orthogonal_selection((np.asarray(pos, dtype=np.int64),)) if pos else \
        np.zeros((0, *a.shape[1:]), np.uint8)
    check_rows(name, data, pos, a.attrs["row_crc32c"], cache)
    return data


def check_rows(name: str, data, positions, sums: list[int], cache: str | Path,
               ids=None) -> None:
    """Refuse rows ``positions`` of labels ``name`` (``data``) that do not match their CRC32C
    (``sums``, the array's ``row_crc32c``) or hold values other than 0 and 1.

    Raises
    ------
    InputError
        Naming the labels and the first such rows.
    """
    from gazeprep.contract.zarr_io import row_checksums

    pos = [int(p) for p in positions]
    bad = [p for p, got in zip(pos, row_checksums(data), strict=True) if got != sums[p]]
    if bad:
        raise InputError(f"labels {name!r}: row(s) {bad[:5]} do not match their CRC32C "
                         "(damaged); write them again with `gradseg refine`", file=cache)
    check_values(name, data, pos, ids or {p: str(p) for p in pos}, cache)


def write_labels(cache: str | Path, name: str, data, provenance: dict,
                 overwrite: bool = False) -> Path:
    """Write labels ``name`` (uint8 0/1, shape (N, 1, S, S) like ``pseudo``) atomically.

    Parameters
    ----------
    cache : str or Path
        A cache written by ``gazeprep render`` (checked against the contract).
    name : str
        The new array's name (:func:`check_name`).
    data : ndarray of uint8, shape (N, 1, S, S)
    provenance : dict
        JSON-ready description of how the labels were made (stored as an attribute).
    overwrite : bool
        Replace an existing array of that name (the old one stays readable until the swap).

    Returns
    -------
    Path
        The array's folder.
    """
    import numpy as np

    from gazeprep.contract.cache import ATTRIBUTES, DIMENSIONS, validate
    from gazeprep.contract.zarr_io import consolidate, create_rows_array, row_checksums

    layout = validate(cache)
    want = layout.shape(PSEUDO)
    data = np.asarray(data)
    if data.shape != want or data.dtype != np.uint8 or data.max(initial=0) > 1:
        raise InputError(f"labels {name!r}: expected uint8 0/1 of shape {want}, got "
                         f"{data.dtype} {data.shape}", file=cache)
    root = Path(cache) / GROUP
    final = root / check_name(name)
    if final.exists() and not overwrite:
        raise InputError(f"labels {name!r} exist already (choose another name, or overwrite)",
                         file=cache)
    _ensure_group(root)
    _remove_leftovers(root)
    tmp = root / f"{_TMP}{name}-{os.getpid()}"
    import zarr

    group = zarr.open_group(str(root), mode="r+", zarr_format=3, use_consolidated=False)
    attrs = {**ATTRIBUTES[PSEUDO], "long_name": f"labels {name}",
             "row_crc32c": row_checksums(data), "provenance": provenance}
    create_rows_array(group, tmp.name, want[0], want[1:], "uint8", 32,
                      dimension_names=DIMENSIONS[PSEUDO], attributes=attrs)[...] = data
    if final.exists():  # swap: the old array moves aside, the new one in, then the old goes
        old = root / f"{_TMP}old-{name}-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old)
    else:
        os.rename(tmp, final)
    consolidate(cache)
    return final


def _ensure_group(root: Path) -> None:
    """Create the ``labels`` group's metadata if missing (written whole, then renamed)."""
    root.mkdir(exist_ok=True)
    meta = root / "zarr.json"
    if not meta.is_file():
        part = root / f"{_TMP}zarr.json-{os.getpid()}"
        part.write_text(_GROUP_JSON)
        os.replace(part, meta)


def _remove_leftovers(root: Path) -> None:
    """Remove what a killed writer left (hidden temporary folders of dead processes)."""
    for p in root.glob(f"{_TMP}*"):
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
