"""Writing the render cache: render batches of samples, bring a cache up to date with a plan.

The layout is the cache contract's (:mod:`gazeprep.contract.cache`): one Zarr v3 group, uint8
arrays ``image``, ``maps``, ``heatmap``, ``pseudo`` and (with masks) ``mask``, one sample per
chunk, several per shard, a CRC32C per chunk and per row (``row_crc32c``), and the sample arrays
(ids, original sizes and spacings, ``has_mask``, ``n_fixations``). Render adds the attributes
``params``, ``ingest``, ``sample_keys`` and ``empty``.

Incremental updates: every sample carries a render key (hash of the render parameters, its image
and mask files and its fixations) in the attribute ``sample_keys``; a sample is rendered again only
when its key changed or its shard is damaged. The sample arrays are one chunk each and go into
every swap whole. How changes reach the disk without ever deleting a
user's file or leaving a half-replaced cache is in :mod:`gazeprep.render.store`: a new cache
appears whole once complete (it is written shard by shard in a hidden folder, keys and
checksums in each shard's swap, so a render killed half-way leaves ``complete: false`` there
and the rerun finishes only what is missing); a rebuild or an incremental update of an
existing cache swaps a whole new folder in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazeprep.contract.cache import (
    FORMAT,
    FORMAT_VERSION,
    ID_ARRAY,
    REQUIRED,
    SAMPLE_ARRAYS,
    SHARD_SAMPLES,
)
from gazeprep.contract.files import fsync_dir, naming_full_disk
from gazeprep.contract.folder_swap import blocker, real_folder
from gazeprep.contract.zarr_io import consolidate
from gazeprep.errors import GazeprepError
from gazeprep.jobs import check_jobs, cores
from gazeprep.outputs import replace_whole, transaction
from gazeprep.render.batches import rendered
from gazeprep.render.params import RenderParams
from gazeprep.render.plan import RenderPlan, Sample
from gazeprep.render.store import (
    RECORD,
    array_specs,
    by_shard,
    commit_layout,
    create_layout,
    find_damaged,
    inspect_out,
    link_arrays,
    new_attrs,
    new_table,
    owned,
    present_arrays,
    record_sample,
    stage_shard,
    stage_table,
    stored_table,
    write_attrs,
    write_table,
)


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


@dataclass
class _Job:
    """One :func:`update_cache` call: what goes where, the samples' keys, the report."""

    plan: RenderPlan
    params: RenderParams
    out: Path
    shard: int
    keys: list[str]
    report: RenderReport
    progress: Callable[[int, int], None] | None = None
    after_batch: Callable[[int], None] | None = None
    jobs: int = 1
    #: Writing a new cache in its hidden ``.partial`` folder: shard by shard, resumable.
    resumable: bool = False

    @property
    def names(self) -> list[str]:
        """The arrays this cache has."""
        return list(array_specs(self.params.levels, self.plan.with_masks))

    def batch_done(self, done: int, total: int) -> None:
        """Report a written batch to the hooks."""
        if self.progress is not None:
            self.progress(done, total)
        if self.after_batch is not None:
            self.after_batch(done)


def render_samples(
    samples: Sequence[Sample], params: RenderParams, workers: int | None = None
) -> dict:
    """Render a batch of samples in memory.

    Parameters
    ----------
    samples : sequence of Sample
    params : RenderParams
    workers : int, optional
        Threads decoding images and refining pseudo-masks (default: one per usable core).

    Returns
    -------
    dict of str to ndarray
        ``image`` (B,3,S,S) uint8, ``maps`` (B,L,S,S) uint8, ``heatmap`` (B,1,S,S) uint8,
        ``pseudo`` (B,1,S,S) uint8, ``mask`` (B,1,S,S) uint8 (zeros where no mask), ``orig_size``
        (B,2) int, ``spacing`` (B,2) float (mm between rows and columns; NaN where unknown).
    """
    from gazeprep.contract.spacing import pixel_spacing
    from gazeprep.render.images import load_image, load_mask
    from gazeprep.render.maps import render_images, to_uint8
    from gazeprep.render.pseudo import pseudo_masks

    s = params.size
    workers = workers or cores()

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
        "spacing": np.array([pixel_spacing(smp.image) or (np.nan, np.nan) for smp in samples],
                            dtype=np.float64).reshape(-1, 2),
    }


def update_cache(
    plan: RenderPlan,
    params: RenderParams,
    out: str | Path,
    *,
    shard: int = SHARD_SAMPLES,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
    jobs: int | None = None,
) -> RenderReport:
    """Bring the cache at ``out`` up to date with ``plan`` and ``params``.

    Only the cache's own arrays and ``zarr.json`` are ever written or removed (see
    :mod:`gazeprep.render.store`); a folder that is neither empty nor a gazeprep cache is
    refused. Three phases: a new cache is laid out empty, then filled shard by shard; an
    existing one that no longer fits (another layout, parameters, ``force``) is rebuilt beside
    itself and swapped in whole; otherwise only its changed or damaged samples are rendered.

    Parameters
    ----------
    plan : RenderPlan
        From :func:`gazeprep.render.plan.plan_render`.
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
    jobs : int, optional
        Cores to render on (default: every usable core; see :mod:`gazeprep.render.batches`).
        The cache's bytes do not depend on it.

    Returns
    -------
    RenderReport
    """
    jobs = check_jobs(jobs)
    digest = params.digest()
    report = RenderReport(gaze_without_image=list(plan.gaze_without_image),
                          notes=list(plan.notes))
    report.empty = [s.id for s in plan.samples if s.n_fixations == 0]
    report.missing_mask = [s.id for s in plan.samples if plan.with_masks and s.mask_path is None]
    job = _Job(plan, params, Path(out), shard, [s.key(digest) for s in plan.samples], report,
               progress, after_batch, jobs)
    with naming_full_disk(job.out):
        old = inspect_out(job.out, report.notes)
        if old is None and blocker(job.out, owned) is None:
            _first_render(job, force)
        else:
            _bring_up_to_date(job, old, force)
        consolidate(job.out)
    return report


def _bring_up_to_date(job: _Job, old: dict | None, force: bool) -> None:
    """Lay out a new cache, rebuild a changed one, or render what changed (module notes)."""
    plan = job.plan
    if old is None:
        attrs, table = new_attrs(plan, job.params), new_table(plan)
        commit_layout(job.out, plan, job.params, job.shard, attrs, table, job.report.notes)
        _update_shards(job, list(range(len(plan.samples))), attrs, table)
        return
    present = present_arrays(job.out)
    table = None if force or not _reusable(old, present, job) else stored_table(job.out)
    if table is None or table[ID_ARRAY].tolist() != [s.id for s in plan.samples]:
        _rebuild(job, present)
        return
    _update(job, dict(old), present, table)


def _first_render(job: _Job, force: bool) -> None:
    """A new cache is rendered in the hidden sibling ``.<name>.partial`` (a killed render
    resumes there) and appears at ``--out`` with one rename once complete: other tools never
    see a half-written cache."""
    out = real_folder(job.out)
    work = out.parent / f".{out.name}.partial"
    job.out, job.resumable = work, True
    try:
        _bring_up_to_date(job, inspect_out(work, job.report.notes), force)
    finally:
        job.out, job.resumable = out, False
    if out.is_dir():  # an empty folder (inspect_out said so)
        try:
            out.rmdir()
        except OSError as exc:
            raise GazeprepError(f"--out is no longer empty ({exc.strerror}); the rendered "
                                f"cache waits in {work}", file=out) from exc
    os.rename(work, out)
    fsync_dir(out.parent)


def _reusable(attrs: dict, present: list[str], job: _Job) -> bool:
    """Whether the existing cache has this plan's layout (else it is rebuilt); the ids and the
    other sample arrays are checked when they are read (:func:`stored_table`)."""
    a, params = attrs, job.params
    return (
        a.get("format") == FORMAT
        and a.get("format_version") == FORMAT_VERSION
        and a.get("size") == params.size
        and a.get("levels") == params.levels
        and ("mask" in present) == job.plan.with_masks
        and {*REQUIRED, *SAMPLE_ARRAYS} <= set(present)
        and len(a.get("sample_keys", [])) == len(job.plan.samples)
        and set(a.get("row_crc32c", {})) >= set(job.names)
    )


def _update(job: _Job, attrs: dict, present: list[str], table: dict) -> None:
    """Render the samples of a reusable cache whose key changed or whose shard is damaged."""
    ids, keys, report = [s.id for s in job.plan.samples], job.keys, job.report
    damaged = find_damaged(job.out, attrs, job.names)
    report.damaged = [ids[i] for i in sorted(damaged)]
    todo = [i for i, k in enumerate(keys) if attrs["sample_keys"][i] != k or i in damaged]
    todo_set = set(todo)
    report.skipped = [ids[i] for i in range(len(ids)) if i not in todo_set]
    if not todo and attrs.get("complete") is True and attrs.get("ingest") == job.plan.ingest:
        return
    if len(todo) == len(ids) and attrs.get("complete") is True:
        # Every sample changes (new parameters): keep the old cache whole until the new one is.
        report.skipped = []
        _rebuild(job, present)
        return
    attrs.update(params=job.params.to_dict(), ingest=job.plan.ingest)
    _update_shards(job, todo, attrs, table)


def _rebuild(job: _Job, present: list[str]) -> None:
    """Render everything into a new group beside the cache, then swap it in whole (one rename:
    zarr and xarray readers see the old cache or the new one, never a mix)."""
    plan, params, report = job.plan, job.params, job.report
    n = len(plan.samples)
    attrs, table = new_attrs(plan, params), new_table(plan)
    with replace_whole(job.out, owned, RECORD, report.notes) as root:
        arrays = create_layout(root, params, plan.with_masks, job.shard, attrs, table)
        per = arrays["image"].shards[0]
        done = 0
        groups = [members for _, members in by_shard(list(range(n)), per)]
        batches = rendered(render_samples, plan.samples, groups, params, job.jobs)
        for members, res in zip(groups, batches, strict=True):
            lo, hi = members[0], members[-1] + 1
            for name, arr in arrays.items():
                arr[lo:hi] = res[name]
            for j, i in enumerate(members):
                record_sample(attrs, table, plan, i, j, job.keys[i], res)
            done += len(members)
            job.batch_done(done, n)
        attrs.update(empty=report.empty, complete=True)
        write_table(root, table)
        write_attrs(root / RECORD, root / RECORD, attrs)
        written = (*arrays, *SAMPLE_ARRAYS)
        report.removed += [name for name in present if name not in written]
    report.rebuilt = True
    report.rendered = [s.id for s in plan.samples]


def _update_shards(job: _Job, todo: list[int], attrs: dict, table: dict) -> None:
    """Render ``todo`` and put each touched shard in, keys, checksums and sample arrays with it.

    Into a cache that other tools may be reading, all at once (:func:`_update_whole`); into a
    new cache still hidden in its ``.partial`` folder, one transaction per shard, so a killed
    render resumes where it stopped."""
    from gazeprep.contract.zarr_io import open_arrays

    plan, report, names = job.plan, job.report, job.names
    arrays = open_arrays(job.out, names)
    per = arrays["image"].shards[0]
    groups = by_shard(todo, per)
    batches = rendered(render_samples, plan.samples, [m for _, m in groups], job.params, job.jobs)
    if groups and not job.resumable:
        _update_whole(job, arrays, zip(groups, batches, strict=True), len(todo), attrs, table)
        return
    done = 0
    for g, ((k, members), res) in enumerate(zip(groups, batches, strict=True)):
        for j, i in enumerate(members):
            record_sample(attrs, table, plan, i, j, job.keys[i], res)
        if g == len(groups) - 1:
            attrs.update(empty=report.empty, complete=True)
        else:
            attrs["complete"] = False
        with transaction(job.out, owned, job.report.notes) as st:
            _stage_shard_rows(job, arrays, k, members, res, attrs, st)
            stage_table(job.out, st, table)
            write_attrs(st.file(RECORD), job.out / RECORD, attrs)
            st.add(RECORD)
            st.commit(RECORD)
        report.rendered += [plan.samples[i].id for i in members]
        done += len(members)
        job.batch_done(done, len(todo))
    if not groups:  # only the ingest identity changed
        attrs.update(empty=report.empty, complete=True)
        with transaction(job.out, owned, report.notes) as st:
            write_attrs(st.file(RECORD), job.out / RECORD, attrs)
            st.add(RECORD)
            st.commit(RECORD)


def _update_whole(job: _Job, arrays: dict, work, total: int, attrs: dict, table: dict) -> None:
    """The touched shards written into a copy of the cache made of hard links (each new file
    renamed over its link, never written into it), swapped in with one rename: zarr and xarray
    see the old cache or the updated one."""
    plan, report = job.plan, job.report
    done = 0
    with replace_whole(job.out, owned, RECORD, report.notes) as root:
        link_arrays(job.out, root)
        st = _IntoFolder(root)
        for (k, members), res in work:
            for j, i in enumerate(members):
                record_sample(attrs, table, plan, i, j, job.keys[i], res)
            _stage_shard_rows(job, arrays, k, members, res, attrs, st)
            report.rendered += [plan.samples[i].id for i in members]
            done += len(members)
            job.batch_done(done, total)
        attrs.update(empty=report.empty, complete=True)
        stage_table(job.out, st, table)
        write_attrs(st.file(RECORD), job.out / RECORD, attrs)
        st.add(RECORD)
        st.close()


class _IntoFolder:
    """What :func:`~gazeprep.render.store.stage_shard` writes through (a transaction's
    ``file``, ``add`` and ``remove``), aimed at a folder built of hard links: each entry is
    written in a scratch folder, then renamed over its name in ``root``."""

    def __init__(self, root: Path):
        self.root, self.path = root, root / ".gazeprep-scratch"

    def file(self, name: str) -> Path:
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def add(self, name: str) -> None:
        dst = self.root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path / name, dst)

    def remove(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)


def _stage_shard_rows(job: _Job, arrays: dict, k: int, members: list[int], res: dict,
                      attrs: dict, st) -> None:
    """Stage shard ``k`` whole into ``st``: the rendered ``members`` and its other rows, read
    back from the cache and checked."""
    from gazeprep.contract.zarr_io import read_rows

    names, n, per = job.names, len(job.plan.samples), arrays["image"].shards[0]
    lo, hi = k * per, min(n, (k + 1) * per)
    mine = set(members)
    keep = [i for i in range(lo, hi) if i not in mine]
    old = read_rows([arrays[m] for m in names], keep, ids=[s.id for s in job.plan.samples],
                    checksums=[attrs["row_crc32c"][m] for m in names]) if keep else None
    for m, name in enumerate(names):
        block = np.empty((hi - lo, *arrays[name].shape[1:]), arrays[name].dtype)
        block[[i - lo for i in members]] = res[name]
        if keep:
            block[[i - lo for i in keep]] = old[m]
        stage_shard(job.out, st, name, k, lo, block)
