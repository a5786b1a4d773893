"""How the render cache is stored without losing anything: ownership, layout, swaps, damage.

The cache folder (``--out``) may hold the user's files too (a training run, notes, their own
Zarr arrays in the group). Render owns only the group's ``zarr.json`` and the arrays named in
:data:`gazeprep.contract.cache.ARRAYS` and :data:`~gazeprep.contract.cache.SAMPLE_ARRAYS`
(:func:`owned`); it refuses a folder that is neither
empty nor a gazeprep cache (:func:`inspect_out`). The group's layout (:func:`create_layout`,
:func:`new_attrs`) follows the cache contract, :mod:`gazeprep.contract.cache`.

How changes reach the disk, so that readers (xarray and zarr included) never see a mix:

- a *new* cache is rendered in the hidden sibling ``.<name>.partial`` (shard by shard, as an
  incremental update, so a killed render resumes there) and renamed to ``--out`` once complete;
- a *rebuild* (new layout, new parameters, ``--force``) writes a whole new group beside the
  cache and swaps the folder in with one rename, the user's files carried over as hard links
  (:func:`gazeprep.outputs.replace_whole`); the old cache stays complete until then;
- an *incremental* update of an existing cache writes each touched shard in full
  (:func:`stage_shard`: the unchanged rows of that shard are copied, the other shards are not),
  the sample arrays (one chunk each, :func:`stage_table`) and ``zarr.json`` into a copy of the
  cache made of hard links (:func:`link_arrays`; each new file is renamed over its link, never
  written into it) and swaps that folder in with one rename;
- while a new cache is written in its ``.partial`` folder, each shard goes in through its own
  :func:`gazeprep.outputs.transaction`, with the group's ``zarr.json`` (whose attributes hold
  the sample keys and row checksums) as the commit record: a kill leaves every shard old or new
  with keys that say which, ``complete: false`` until the last one, and the rerun finishes.

:func:`find_damaged` decodes every shard and compares each row with its recorded CRC32C, so
the "up to date" check never keeps a damaged, truncated or missing shard; a sample array that
does not decode (its chunk's CRC32C) makes the cache be rebuilt (:func:`stored_table`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from gazeprep.contract.cache import (
    ARRAYS,
    FORMAT,
    FORMAT_VERSION,
    ID_ARRAY,
    SAMPLE_ARRAYS,
    channels,
    create_row_array,
    create_sample_arrays,
    read_sample_table,
    sample_table,
)
from gazeprep.contract.errors import InputError
from gazeprep.contract.folder_swap import recover_folder
from gazeprep.contract.zarr_io import open_arrays, pipeline, row_checksum
from gazeprep.errors import GazeprepError
from gazeprep.outputs import recover, transaction
from gazeprep.render.params import RenderParams
from gazeprep.render.plan import RenderPlan

#: The group's metadata file: the commit record of every swap.
RECORD = "zarr.json"
_PARTIAL = re.compile(r"^zarr\.[0-9a-f]+\.partial$")  # zarr's temporary name for zarr.json


def owned(name: str) -> bool:
    """Whether ``name`` (relative to the cache folder) is written by render."""
    top = name.split("/", 1)[0]
    return (top in ARRAYS or top in SAMPLE_ARRAYS or top == RECORD
            or bool(_PARTIAL.match(top)))


def inspect_out(out: Path, notes: list[str]) -> dict | None:
    """The attributes of the gazeprep cache at ``out``; None for a missing or empty folder.

    Leftovers of an interrupted render are recovered first (one line in ``notes``).

    Raises
    ------
    GazeprepError
        ``out`` is a file, a non-empty folder without ``zarr.json``, a Zarr node that is not a
        gazeprep cache, or a cache written by a newer gazeprep: it is never touched.
    """

    notes += recover_folder(out, owned)  # a rebuild swapped in whole, interrupted
    if not out.exists():
        return None
    if not out.is_dir():
        raise GazeprepError("--out exists and is not a folder: not a gazeprep cache; refusing "
                            "to overwrite it", file=out)
    note = recover(out, owned)
    if note:
        notes.append(note)
    meta = out / RECORD
    if not meta.is_file():
        entries = sorted(p.name for p in out.iterdir())
        if not entries:
            return None
        raise GazeprepError(
            f"not a gazeprep cache (no zarr.json) and not empty ({len(entries)} entries, e.g. "
            f"{entries[:3]}); refusing to write into it: choose an empty or new --out", file=out)
    try:
        doc = json.loads(meta.read_text())
        attrs = doc.get("attributes") or {}
        kind = doc.get("node_type")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise GazeprepError("zarr.json is not readable: not a gazeprep cache, or a damaged one; "
                            "refusing to touch it (move it away to render anew)",
                            file=meta) from exc
    if kind != "group" or attrs.get("format") != FORMAT:
        raise GazeprepError(
            f"not a gazeprep cache (a Zarr {kind} with format={attrs.get('format')!r}); "
            "refusing to touch it: choose an empty or new --out", file=out)
    version = attrs.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise GazeprepError(f"cache format version {version!r} is newer than this gazeprep's "
                            f"({FORMAT_VERSION}); refusing to touch it", file=out)
    foreign = foreign_in_arrays(out)
    if foreign:
        raise GazeprepError(
            f"{len(foreign)} file(s) inside the cache's arrays were not written by gazeprep "
            f"render and would be lost when it replaces them: {', '.join(foreign[:5])}; move "
            "them out of the arrays (files beside them in the cache folder are kept)", file=out)
    return attrs


def foreign_in_arrays(out: Path) -> list[str]:
    """Files inside the cache's own array folders that Zarr does not write there (its
    ``zarr.json``, the chunks under ``c/`` and its temporary files)."""
    found = []
    for name in (*ARRAYS, *SAMPLE_ARRAYS):
        root = out / name
        if not root.is_dir() or root.is_symlink():
            continue
        for f in sorted(root.rglob("*")):
            rel = f.relative_to(root)
            ours = (rel.parts[0] == "c" and (f.is_dir() or f.is_file()) and not f.is_symlink()
                    or str(rel) == RECORD or _PARTIAL.match(rel.name))
            if not ours:
                found.append(f"{name}/{rel.as_posix()}")
    return found


def array_specs(levels: int, with_masks: bool) -> dict[str, tuple[int, str]]:
    """Array name -> (channels, dtype) of a cache with ``levels`` levels, in the contract's
    order; ``mask`` only ``with_masks``."""
    return {name: (channels(name, levels), "uint8") for name in ARRAYS
            if name != "mask" or with_masks}


def present_arrays(out: Path) -> list[str]:
    """The render arrays (row and sample arrays) stored in the cache at ``out``."""
    return [n for n in (*ARRAYS, *SAMPLE_ARRAYS) if (out / n / "zarr.json").is_file()]


def stored_table(out: Path) -> dict | None:
    """The sample arrays of the cache at ``out`` (ids first); None when any is missing,
    damaged or of the wrong length (the cache is then rebuilt)."""
    try:
        return read_sample_table(out)
    except InputError:
        return None


def write_attrs(path: Path, template: Path, attrs: dict) -> None:
    """Write a group ``zarr.json`` at ``path``: ``template``'s metadata with ``attrs``,
    without its consolidated metadata (a snapshot of the old arrays; render consolidates
    again when it is done, :func:`gazeprep.contract.zarr_io.consolidate`)."""
    doc = json.loads(template.read_text())
    doc["attributes"] = attrs
    doc.pop("consolidated_metadata", None)
    path.write_text(json.dumps(doc, indent=2, allow_nan=False))


def stage_shard(out: Path, st, name: str, k: int, lo: int, block: np.ndarray) -> None:
    """Write shard ``k`` (rows ``lo:lo+len(block)``) of array ``name`` into staging ``st``.

    The staged file is put in the transaction's set; a shard that zarr leaves unwritten
    (all fill value) removes the old shard file instead.
    """
    import zarr

    shutil.copyfile(out / name / "zarr.json", st.file(f"{name}/zarr.json"))
    with pipeline():
        a = zarr.open_array(str(st.path / name), mode="r+", zarr_format=3)
    a[lo:lo + len(block)] = block
    key = f"{name}/{a.metadata.encode_chunk_key((k,) + (0,) * (a.ndim - 1))}"
    if (st.path / key).is_file():
        st.add(key)
    else:
        st.remove(key)


def find_damaged(out: Path, attrs: dict, names: list[str]) -> set[int]:
    """Rows of every shard that fails to decode or whose rows miss their recorded CRC32C.

    Every shard of every array is decoded whole (zarrs then checks each chunk's CRC32C) and
    every rendered row (non-empty sample key) is compared with ``attrs["row_crc32c"]``. A shard
    with any bad row counts whole: it is written again whole.
    """

    keys = attrs["sample_keys"]
    sums = attrs.get("row_crc32c") or {}
    n = len(keys)
    damaged: set[int] = set()
    for name, a in open_arrays(out, names).items():
        per = int((a.shards or a.chunks)[0])
        recorded = sums.get(name)
        for lo in range(0, n, per):
            hi = min(n, lo + per)
            rows = [i for i in range(lo, hi) if keys[i]]
            if not rows or set(rows) <= damaged:
                continue
            try:
                block = np.asarray(a[lo:hi])
            except Exception:  # noqa: BLE001 - any decode failure means a damaged shard
                damaged.update(range(lo, hi))
                continue
            if recorded is None or any(row_checksum(block[i - lo]) != recorded[i] for i in rows):
                damaged.update(range(lo, hi))
    return damaged


def create_layout(root: Path, params: RenderParams, with_masks: bool, shard: int, attrs: dict,
                  table: dict) -> dict:
    """Create the group (with ``attrs``), its empty row arrays and its sample arrays (holding
    ``table``) at ``root``; returns the row arrays."""
    import zarr

    g = zarr.create_group(store=str(root), zarr_format=3, attributes=attrs)
    n = len(table[ID_ARRAY])
    create_sample_arrays(g, table)
    return {name: create_row_array(g, name, n, params.size, params.levels, shard)
            for name in array_specs(params.levels, with_masks)}


def new_attrs(plan: RenderPlan, params: RenderParams) -> dict:
    """Group attributes of a cache with nothing rendered yet."""
    n, names = len(plan.samples), array_specs(params.levels, plan.with_masks)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "size": params.size, "levels": params.levels, "params": params.to_dict(),
        "ingest": plan.ingest, "complete": False, "sample_keys": [""] * n,
        "row_crc32c": {name: [0] * n for name in names},
    }


def new_table(plan: RenderPlan) -> dict:
    """The sample arrays of a cache with nothing rendered yet (ids set, the rest at fill)."""
    return sample_table([s.id for s in plan.samples])


def record_sample(attrs: dict, table: dict, plan: RenderPlan, i: int, j: int, key: str,
                  res: dict) -> None:
    """Store sample ``i`` (row ``j`` of the rendered batch ``res``) in ``attrs`` and ``table``."""
    smp = plan.samples[i]
    attrs["sample_keys"][i] = key
    table["n_fixations"][i] = smp.n_fixations
    table["orig_size"][i] = res["orig_size"][j]
    table["spacing"][i] = res["spacing"][j]
    table["has_mask"][i] = plan.with_masks and smp.mask_path is not None
    for name, sums in attrs["row_crc32c"].items():
        sums[i] = row_checksum(res[name][j])


def link_arrays(out: Path, root: Path) -> None:
    """Give every file of the cache's own arrays a second name (hard link) under ``root``."""
    for name in present_arrays(out):
        for src in sorted((out / name).rglob("*")):
            dst = root / src.relative_to(out)
            if src.is_dir():
                dst.mkdir(parents=True, exist_ok=True)
            elif not _PARTIAL.match(src.name):
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.link(src, dst)


def write_table(root: Path, table: dict) -> None:
    """(Re)write every sample array of the group at ``root`` with ``table``'s values."""
    import zarr

    create_sample_arrays(zarr.open_group(str(root), mode="r+", zarr_format=3,
                                         use_consolidated=False), table)


def stage_table(out: Path, st, table: dict) -> None:
    """Stage every sample array (one chunk each, rewritten whole) into the transaction ``st``."""
    for name in SAMPLE_ARRAYS:
        stage_shard(out, st, name, 0, 0, table[name])


def by_shard(todo: list[int], per: int) -> list[tuple[int, list[int]]]:
    """The sample indices ``todo`` grouped by the shard (``per`` samples each) they lie in."""
    groups: dict[int, list[int]] = {}
    for i in todo:
        groups.setdefault(i // per, []).append(i)
    return sorted(groups.items())


def commit_layout(out: Path, plan: RenderPlan, params: RenderParams, shard: int, attrs: dict,
                  table: dict, notes: list[str]) -> None:
    """Create an empty cache at ``out`` (missing or empty folder) in one swap."""
    with transaction(out, owned, notes) as st:
        arrays = create_layout(st.path, params, plan.with_masks, shard, attrs, table)
        for name in (*arrays, *SAMPLE_ARRAYS):
            st.add(name)
        st.add(RECORD)
        st.commit(RECORD)
