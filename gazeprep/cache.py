"""The render cache: one Zarr v3 group, one sample per chunk, several samples per shard.

Layout (the contract with the trainer; see the project brief):
``image`` uint8 (N, 3, S, S), ``maps`` uint8 (N, L, S, S), ``heatmap`` uint8 (N, 1, S, S),
``pseudo`` uint8 (N, 1, S, S), ``mask`` uint8 (N, 1, S, S) only when masks were given; ``maps``
and ``heatmap`` hold round(255 x) of values x in [0, 1] (:data:`gazeprep.maps.UNIT_SCALE`); group
attributes ``format``, ``format_version``, ``ids``, ``size``, ``levels``, ``params``, ``ingest``,
``n_fixations``, ``orig_size``, ``has_mask`` (with masks), ``row_crc32c`` (per array, the CRC32C
of every stored row: :func:`gazeprep.contract.zarr_io.row_checksum`) and ``complete``.
Inner chunks end with a CRC32C (zarr's ``crc32c`` codec).

Incremental updates: every sample carries a render key (hash of the render parameters, its image
and mask files and its fixations) in the attribute ``sample_keys``; a sample is rendered again only
when its key changed or its shard is damaged. How changes reach the disk without ever deleting a
user's file or leaving a half-replaced cache is in :mod:`gazeprep.cache_store`: a rebuild swaps a
whole new group in; an incremental update swaps shard by shard, keys and checksums in the same
swap, and ``complete`` is set by the last one, so a render killed half-way leaves ``complete:
false`` and the rerun finishes only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazeprep.contract.images import ImageOptions, ImageRef
from gazeprep.errors import GazeprepError
from gazeprep.maps import RenderParams, Track

FORMAT = "gazeprep-maps"
#: 3: CRC32C per chunk and per row (2: maps and heatmap stored as uint8; 1: float16).
FORMAT_VERSION = 3
SHARD_SAMPLES = 32
#: The arrays render may write; the group's other members and files are the user's.
ARRAYS = ("image", "maps", "heatmap", "pseudo", "mask")


@dataclass
class Sample:
    """Everything needed to render one image.

    Parameters
    ----------
    id : str
        Image id (see :func:`gazeprep.contract.images.index_folder`).
    image : ImageRef
        Where the image's pixels are (file, and frame or slice).
    mask : ImageRef or None
        Where the ground-truth mask is, None when absent.
    tracks : list of Track
        One per session (empty list: no fixations).
    """

    id: str
    image: ImageRef
    mask: ImageRef | None
    tracks: list[Track] = field(default_factory=list)

    @property
    def image_path(self) -> Path:
        """The image file."""
        return self.image.path

    @property
    def mask_path(self) -> Path | None:
        """The mask file, None when absent."""
        return None if self.mask is None else self.mask.path

    def key(self, params_digest: str) -> str:
        """Render key: changes whenever this sample's output could change."""
        from gazeprep.images import file_identity

        h = hashlib.sha256()
        h.update(params_digest.encode())
        h.update(f"{file_identity(self.image_path)}#{self.image.index}".encode())
        mask_index = "" if self.mask is None else f"#{self.mask.index}"
        h.update(f"|{file_identity(self.mask_path)}{mask_index}".encode())
        for t in self.tracks:
            for a in (t.x, t.y, t.duration_ms):
                h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
            h.update(b"/")
        return h.hexdigest()[:24]

    @property
    def n_fixations(self) -> int:
        """Fixations over all sessions."""
        return int(sum(len(t.x) for t in self.tracks))


@dataclass
class RenderPlan:
    """The samples to render and what was left out (never silently).

    Parameters
    ----------
    samples : list of Sample
        Sorted by id.
    gaze_without_image : list of str
        Ids with gaze tracks but no image file.
    ingest : dict
        Identity of the ingest output (content hashes).
    """

    samples: list[Sample]
    gaze_without_image: list[str]
    ingest: dict
    with_masks: bool
    #: One line per leftover of an interrupted ingest that reading the tracks recovered.
    notes: list[str] = field(default_factory=list)


@dataclass
class RenderReport:
    """What a cache update did."""

    rendered: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    missing_mask: list[str] = field(default_factory=list)
    gaze_without_image: list[str] = field(default_factory=list)
    rebuilt: bool = False
    #: Ids in shards found damaged (undecodable or not matching their checksums), rendered again.
    damaged: list[str] = field(default_factory=list)
    #: Arrays the previous cache had and this one has not (e.g. ``mask`` without --masks).
    removed: list[str] = field(default_factory=list)
    #: One line per leftover of an interrupted run that was recovered.
    notes: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def track_problem(xs: np.ndarray, ys: np.ndarray, ds: np.ndarray) -> str | None:
    """Why one track cannot be rendered (its first bad fixation), or None.

    Every x and y must be a number in [0, 1] (normalised image coordinates), every duration a
    number in 0..MAX_DURATION_MS, and the three lists equally long. ``tracks.parquet`` is
    checked again at render because people edit it by hand: a NaN x would otherwise draw a
    fixation at the image's left edge, and x = 1e30 used to crash the render.
    """
    from gazeprep.limits import MAX_DURATION_MS

    if not len(xs) == len(ys) == len(ds):
        return (f"lists of unequal length: x {len(xs)}, y {len(ys)}, duration_ms {len(ds)} "
                "fixations; expected one x, y and duration per fixation")
    for name, v, lo, hi in (("x", xs, 0.0, 1.0), ("y", ys, 0.0, 1.0),
                            ("duration_ms", ds, 0.0, MAX_DURATION_MS)):
        bad = np.flatnonzero(~((v >= lo) & (v <= hi)))  # NaN fails both comparisons
        if bad.size:
            k = int(bad[0])
            return (f"fixation {k}: {name} = {float(v[k])!r} is not a number in "
                    f"[{lo:g}, {hi:g}]; expected the ingest output (normalised positions, "
                    "durations in ms)")
    return None


def read_tracks(gaze_dir: str | Path, notes: list[str] | None = None
                ) -> tuple[dict[str, list[Track]], dict]:
    """Read ``tracks.parquet`` of an ingest output, checked against its ``ingest.json``.

    An ingest that was interrupted while replacing its files is finished first (see
    :mod:`gazeprep.outputs`), and the sha256 that ``ingest.json`` records for
    ``tracks.parquet`` and ``fixations.parquet`` must match the files: a set that is half
    replaced, or changed since ingest, is refused instead of used.

    Parameters
    ----------
    gaze_dir : str or Path
        Ingest output folder (holds ``tracks.parquet``).
    notes : list of str, optional
        Receives one line when leftovers of an interrupted ingest were recovered.

    Returns
    -------
    tracks : dict of str to list of Track
        Per image id, all its tracks: one per session and trial, sorted by session, then trial
        (tracks.parquet from before the ``trial`` column: one per session).
    identity : dict
        Content hashes of the ingest files, recorded in the cache.
    """
    import io

    import polars as pl

    from gazeprep.ingest import owned
    from gazeprep.outputs import recover

    gaze_dir = Path(gaze_dir)
    if gaze_dir.is_dir():
        note = recover(gaze_dir, owned)
        if note and notes is not None:
            notes.append(note)
    path = gaze_dir / "tracks.parquet"
    if not path.is_file():
        raise GazeprepError("no tracks.parquet here: run `gazeprep ingest` first", file=gaze_dir)
    data = path.read_bytes()  # hashed and parsed from the same bytes
    identity = {"path": str(gaze_dir), "tracks_sha256": hashlib.sha256(data).hexdigest()}
    for extra in ("fixations.parquet", "ingest.json"):
        if (gaze_dir / extra).is_file():
            identity[extra.replace(".", "_") + "_sha256"] = _sha256(gaze_dir / extra)
    _check_recorded_hashes(gaze_dir, identity)
    need = {"image", "session", "x", "y", "duration_ms"}
    try:
        df = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - polars raises several types for a bad file
        raise GazeprepError(f"not a readable Parquet file ({type(exc).__name__})",
                            file=path) from exc
    missing = need - set(df.columns)
    if missing:
        raise GazeprepError(f"tracks.parquet lacks columns {sorted(missing)}", file=path)
    for c in ("x", "y", "duration_ms"):
        dtype = df.schema[c]
        if not (isinstance(dtype, (pl.List, pl.Array)) and dtype.inner.is_numeric()):
            raise GazeprepError(f"column {c} must hold a list of numbers per track (found "
                                f"{dtype}); expected the ingest output", file=path)
    out: dict[str, list[Track]] = {}
    # one track per (image, session, trial); a fixed order keeps the render key stable
    key = [c for c in ("image", "session", "trial") if c in df.columns]
    for row in df.sort(key, maintain_order=True).iter_rows(named=True):
        xs, ys, ds = (np.asarray(row[c] or [], dtype=np.float64) for c in ("x", "y", "duration_ms"))
        problem = track_problem(xs, ys, ds)
        if problem:
            raise GazeprepError(f"image {row['image']}, session {row['session']}, {problem}",
                                file=path)
        out.setdefault(str(row["image"]), []).append(Track(xs, ys, ds))
    return out, identity


def _check_recorded_hashes(gaze_dir: Path, identity: dict) -> None:
    """Compare the Parquet files with the sha256 that ``ingest.json`` recorded for them."""
    record = gaze_dir / "ingest.json"
    if not record.is_file():
        return  # tracks written by other means (tests, older gazeprep): nothing to check
    try:
        recorded = json.loads(record.read_text()).get("outputs") or {}
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise GazeprepError("ingest.json is not readable JSON; run `gazeprep ingest` again",
                            file=record) from exc
    for name, key in (("tracks.parquet", "tracks_sha256"),
                      ("fixations.parquet", "fixations_parquet_sha256")):
        want = (recorded.get(name) or {}).get("sha256")
        have = identity.get(key)
        if want is not None and want != have:
            raise GazeprepError(
                f"{name} does not match the sha256 that ingest.json records for it (changed "
                "since ingest, or left half replaced); run `gazeprep ingest` again",
                file=gaze_dir / name)


def plan_render(
    gaze_dir: str | Path,
    images_dir: str | Path,
    masks_dir: str | Path | None = None,
    options: ImageOptions | None = None,
) -> RenderPlan:
    """Match gaze tracks, images and masks by id.

    Every image in ``images_dir`` becomes a sample (without gaze: empty maps, listed as empty);
    gaze on an id with no image file is listed in ``gaze_without_image``. ``options`` (the
    render parameters' ``image``) say how volumes are sliced into ids. A mask volume whose slice
    count differs from its image volume's is an error naming both files.
    """
    from gazeprep.contract.images import check_pair
    from gazeprep.images import index_folder

    notes: list[str] = []
    tracks, identity = read_tracks(gaze_dir, notes)
    images = index_folder(images_dir, options)
    if not images:
        raise GazeprepError("no images (.png/.jpg/.jpeg/.bmp/.tif/.dcm/.nii/.nii.gz/.nrrd) in "
                            "this folder", file=images_dir)
    masks = index_folder(masks_dir, options) if masks_dir is not None else {}
    samples = [
        Sample(i, images[i], masks.get(i), tracks.get(i, [])) for i in sorted(images)
    ]
    for smp in samples:
        if smp.mask is not None:
            check_pair(smp.image, smp.mask)
    orphans = sorted(set(tracks) - set(images))
    return RenderPlan(samples, orphans, identity, masks_dir is not None, notes)


def array_specs(levels: int, with_masks: bool) -> dict[str, tuple[int, str]]:
    specs = {
        "image": (3, "uint8"),
        "maps": (levels, "uint8"),
        "heatmap": (1, "uint8"),
        "pseudo": (1, "uint8"),
    }
    if with_masks:
        specs["mask"] = (1, "uint8")
    return specs


def _reusable(attrs: dict, present: list[str], ids: list[str], params: RenderParams,
              with_masks: bool) -> bool:
    a = attrs
    return (
        a.get("format") == FORMAT
        and a.get("format_version") == FORMAT_VERSION
        and a.get("ids") == ids
        and a.get("size") == params.size
        and a.get("levels") == params.levels
        and ("mask" in present) == with_masks
        and {"image", "maps", "heatmap", "pseudo"} <= set(present)
        and len(a.get("sample_keys", [])) == len(ids)
        and set(a.get("row_crc32c", {})) >= set(array_specs(params.levels, with_masks))
    )


def render_samples(
    samples: Sequence[Sample], params: RenderParams, workers: int | None = None
) -> dict:
    """Render a batch of samples in memory.

    Parameters
    ----------
    samples : sequence of Sample
    params : RenderParams
    workers : int, optional
        Threads decoding images and refining pseudo-masks (default: one per CPU core).

    Returns
    -------
    dict of str to ndarray
        ``image`` (B,3,S,S) uint8, ``maps`` (B,L,S,S) uint8, ``heatmap`` (B,1,S,S) uint8,
        ``pseudo`` (B,1,S,S) uint8, ``mask`` (B,1,S,S) uint8 (zeros where no mask), ``orig_size``
        (B,2) int.
    """
    from gazeprep.images import load_image, load_mask
    from gazeprep.maps import pseudo_masks, render_images, to_uint8

    s = params.size
    workers = workers or os.cpu_count() or 1

    def decode(smp: Sample) -> tuple[np.ndarray, tuple[int, int], np.ndarray]:
        image, hw = load_image(smp.image, s, params.image)
        if smp.mask is None:
            return image, hw, np.zeros((1, s, s), np.uint8)
        return image, hw, load_mask(smp.mask, s, params.image, hw, smp.image)

    with ThreadPoolExecutor(max_workers=workers) as ex:
        decoded = list(ex.map(decode, samples))
    loaded = [(im, hw) for im, hw, _ in decoded]
    masks = [m for _, _, m in decoded]
    images = np.stack([im for im, _ in loaded]) if loaded else np.zeros((0, 3, s, s), np.uint8)
    maps, heat = render_images([smp.tracks for smp in samples], params)
    return {
        "image": images,
        "maps": to_uint8(maps),
        "heatmap": to_uint8(heat),
        "pseudo": pseudo_masks(maps, params, images, heat, workers),
        "mask": np.stack(masks) if masks else np.zeros((0, 1, s, s), np.uint8),
        "orig_size": np.array([hw for _, hw in loaded], dtype=np.int64).reshape(-1, 2),
    }


def _runs(idx: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs [a, b) of sorted indices."""
    runs: list[tuple[int, int]] = []
    for i in idx:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def update_cache(
    plan: RenderPlan,
    params: RenderParams,
    out: str | Path,
    *,
    shard: int = SHARD_SAMPLES,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> RenderReport:
    """Bring the cache at ``out`` up to date with ``plan`` and ``params``.

    Only the cache's own arrays and ``zarr.json`` are ever written or removed (see
    :mod:`gazeprep.cache_store`); a folder that is neither empty nor a gazeprep cache is refused.

    Parameters
    ----------
    plan : RenderPlan
        From :func:`plan_render`.
    params : RenderParams
        Render parameters.
    out : str or Path
        Zarr group folder (created or updated).
    shard : int
        Samples per shard file.
    force : bool
        Re-render every sample.
    progress : callable(done, total), optional
        Called after each written batch (for a progress bar).
    after_batch : callable(done), optional
        Called after each batch is written and recorded (tests interrupt renders here).

    Returns
    -------
    RenderReport
    """
    from gazeprep.cache_store import (
        commit_layout,
        find_damaged,
        inspect_out,
        new_attrs,
        present_arrays,
        rebuild,
        update_shards,
    )

    out = Path(out)
    ids = [s.id for s in plan.samples]
    digest = params.digest()
    keys = [s.key(digest) for s in plan.samples]
    report = RenderReport(gaze_without_image=list(plan.gaze_without_image),
                          notes=list(plan.notes))
    report.empty = [s.id for s in plan.samples if s.n_fixations == 0]
    report.missing_mask = [s.id for s in plan.samples if plan.with_masks and s.mask_path is None]
    names = list(array_specs(params.levels, plan.with_masks))
    old = inspect_out(out, report.notes)
    hooks = (progress, after_batch)
    if old is None:
        attrs = new_attrs(plan, params)
        commit_layout(out, plan, params, shard, attrs, report)
        update_shards(out, plan, params, keys, list(range(len(ids))), attrs, report, hooks)
        return report
    present = present_arrays(out)
    if force or not _reusable(old, present, ids, params, plan.with_masks):
        rebuild(out, plan, params, keys, shard, present, report, hooks)
        return report
    attrs = dict(old)
    damaged = find_damaged(out, attrs, names)
    report.damaged = [ids[i] for i in sorted(damaged)]
    todo = [i for i, k in enumerate(keys) if attrs["sample_keys"][i] != k or i in damaged]
    todo_set = set(todo)
    report.skipped = [ids[i] for i in range(len(ids)) if i not in todo_set]
    if not todo and attrs.get("complete") is True and attrs.get("ingest") == plan.ingest:
        return report
    if len(todo) == len(ids) and attrs.get("complete") is True:
        # Every sample changes (new parameters): keep the old cache whole until the new one is.
        report.skipped = []
        rebuild(out, plan, params, keys, shard, present, report, hooks)
        return report
    attrs.update(params=params.to_dict(), ingest=plan.ingest)
    update_shards(out, plan, params, keys, todo, attrs, report, hooks)
    return report


def open_cache(path: str | Path, *, require_complete: bool = True):
    """Open a render cache read-only and check its format.

    A swap that an interrupted render committed but did not finish is finished first.

    Parameters
    ----------
    path : str or Path
        The Zarr group folder.
    require_complete : bool
        Refuse a cache whose ``complete`` attribute is not true.

    Returns
    -------
    zarr.Group
    """
    import zarr

    from gazeprep.cache_store import owned
    from gazeprep.outputs import recover

    path = Path(path)
    if path.is_dir():
        recover(path, owned)
    if not (path / "zarr.json").is_file():
        raise GazeprepError("no render cache here: run `gazeprep render` first", file=path)
    g = zarr.open_group(str(path), mode="r", zarr_format=3)
    if g.attrs.get("format") != FORMAT:
        raise GazeprepError(f"not a {FORMAT} cache (format={g.attrs.get('format')!r})", file=path)
    if g.attrs.get("format_version") != FORMAT_VERSION:
        raise GazeprepError(f"cache format version {g.attrs.get('format_version')!r}, expected "
                            f"{FORMAT_VERSION}: run `gazeprep render` again", file=path)
    if require_complete and g.attrs.get("complete") is not True:
        raise GazeprepError(
            "cache is incomplete (a render was interrupted): rerun `gazeprep render`", file=path
        )
    return g


def params_summary(attrs: dict) -> str:
    """One-line JSON of the render parameters stored in a cache."""
    return json.dumps(attrs.get("params", {}), sort_keys=True)
