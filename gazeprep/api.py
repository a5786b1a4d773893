"""gazeprep from Python: one call per command, the same outputs as the command line.

Each function runs what its ``gazeprep`` sub-command runs (the same library calls, the same
files written, the same refusals), minus the printing: it returns what the command would have
printed as a summary. :mod:`gazeprep` exposes them lazily, so ``import gazeprep`` stays cheap::

    import gazeprep
    gazeprep.simulate("sim", n_images=8, size=64)
    gazeprep.ingest("sim/raw", "gaze", images="sim/images")
    gazeprep.render("sim/images", "maps.zarr", gaze="gaze", masks="sim/masks", size=64)
    gazeprep.score("maps.zarr")["pseudo_dice"]

Options are keywords named as in :class:`~gazeprep.read.options.IngestOptions`,
:class:`~gazeprep.render.params.RenderParams` and :class:`~gazeprep.simulate.config.SimConfig`
(their defaults are the command line's).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import zarr

    from gazeprep.export.layouts import ExportReport
    from gazeprep.ingest import IngestSummary
    from gazeprep.render.writer import RenderReport

__all__ = ["ingest", "render", "score", "open_cache", "split", "export", "simulate"]

PathLike = str | Path


def ingest(inputs: PathLike | Iterable[PathLike], out: PathLike = "data/gaze", *,
           jobs: int | None = None, **options: Any) -> IngestSummary:
    """Raw eye-tracker files -> ``fixations.parquet``, ``tracks.parquet``, ``quality.parquet``
    and ``ingest.json`` in ``out`` (``gazeprep ingest``).

    Parameters
    ----------
    inputs : path or iterable of paths
        Files and folders (walked recursively).
    out : path
        Output folder; only ingest's own files in it are replaced, all at once.
    jobs : int, optional
        Worker processes (default: every usable core); the output does not depend on it.
    **options
        Fields of :class:`gazeprep.read.options.IngestOptions` (``images``, ``format``,
        ``detector``, ``min_duration``, ...).

    Returns
    -------
    gazeprep.ingest.IngestSummary
        ``n_fixations``, ``n_tracks``, ``n_images``, the ``report`` written to ``ingest.json``.
    """
    from gazeprep.ingest import run_ingest
    from gazeprep.read.options import IngestOptions

    paths = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    return run_ingest(paths, out, IngestOptions(**options), jobs=jobs)


def render(images: PathLike, out: PathLike = "data/maps.zarr", *, gaze: PathLike = "data/gaze",
           masks: PathLike | None = None, force: bool = False, exclude_flagged: bool = False,
           jobs: int | None = None, **params: Any) -> RenderReport:
    """Gaze tracks -> track maps, heatmap and pseudo-masks in a Zarr cache (``gazeprep render``).

    Parameters
    ----------
    images : path
        Folder of the images the gaze was recorded on.
    out : path
        The Zarr v3 cache (created, updated or rebuilt).
    gaze : path
        An ingest output folder.
    masks : path, optional
        Ground-truth masks (evaluation only).
    force, exclude_flagged : bool
        Re-render every image; leave out tracks that gaze quality flagged.
    jobs : int, optional
        Worker processes (default: every usable core); the cache does not depend on it.
    **params
        Fields of :class:`gazeprep.render.params.RenderParams` (``size``, ``tau``, ``refine``,
        ...); ``levels=L`` gives the ratios ``1 - k/L``, as ``--levels`` does.

    Returns
    -------
    gazeprep.render.writer.RenderReport
        Ids rendered, skipped (unchanged), empty, without mask, gaze without image.
    """
    from gazeprep.render.params import RenderParams, default_ratios
    from gazeprep.render.plan import plan_render
    from gazeprep.render.writer import update_cache

    if "levels" in params:
        params["ratios"] = default_ratios(params.pop("levels"))
    rp = RenderParams(**params)
    plan = plan_render(gaze, images, masks, rp.image, exclude_flagged=exclude_flagged)
    return update_cache(plan, rp, out, force=force, jobs=jobs)


def score(cache: PathLike = "data/maps.zarr", out: PathLike | None = None, *,
          overwrite: bool = False) -> dict[str, float]:
    """Dice and IoU of the pseudo-masks, thresholded levels and heatmap (``gazeprep score``).

    Writes the per-image table to ``out`` (default ``<cache>.score.parquet``) and returns the
    means: ``pseudo_dice``, ``pseudo_iou``, ``level{k}_dice`` ..., ``heatmap_dice``,
    ``n_images``.
    """
    from gazeprep.inspect.score import is_score_table, score_cache, summarise
    from gazeprep.outputs import atomic_write, check_replaceable

    cache = Path(cache)
    out = Path(out) if out is not None else cache.with_name(cache.name + ".score.parquet")
    check_replaceable(out, is_score_table, "gazeprep score", overwrite)
    df = score_cache(open_cache(cache))
    atomic_write(out, lambda tmp: df.write_parquet(tmp, compression="zstd"))
    return summarise(df)


def open_cache(path: PathLike = "data/maps.zarr") -> zarr.Group:
    """A finished render cache, checked against the cache contract, opened read-only.

    Its arrays (``image``, ``maps``, ``heatmap``, ``pseudo``, ``mask``, ``sample``, ...) are
    described in :mod:`gazeprep.contract.cache`.
    """
    from gazeprep.inspect.load import load_cache

    return load_cache(path)


def split(source: PathLike, out: PathLike = "data/split", *,
          counts: tuple[int, int, int] | None = None,
          fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0,
          overwrite: bool = False) -> dict[str, list[str]]:
    """Seeded ``train.txt``, ``val.txt``, ``test.txt`` of a cache, ingest output or image folder
    (``gazeprep split``). Returns the ids of each part."""
    from gazeprep.export.split import counts_from_fractions, ids_of, split_ids, write_split

    ids, kind = ids_of(source)
    sizes = counts if counts is not None else counts_from_fractions(len(ids), fractions)
    parts = split_ids(ids, sizes, seed)
    write_split(out, parts, {"source": str(source), "source_kind": kind, "seed": seed,
                             "n_ids": len(ids)}, overwrite)
    return parts


def export(cache: PathLike, out: PathLike, to: str = "nnunet", **options: Any) -> ExportReport:
    """The cache as an nnU-Net v2 (``to="nnunet"``) or MONAI (``"monai"``) training set
    (``gazeprep export``); ``options`` as :func:`gazeprep.export.layouts.export_cache` takes
    them (``labels``, ``ids``, ``dataset_id``, ``name``, ``overwrite``)."""
    from gazeprep.export.layouts import export_cache

    return export_cache(cache, out, to, **options)


def simulate(out: PathLike, **config: Any) -> dict:
    """A simulated dataset: images, masks and a simulated observer's recordings
    (``gazeprep simulate``); ``config`` as :class:`gazeprep.simulate.config.SimConfig`.
    Returns the summary the command prints."""
    from gazeprep.simulate.config import SimConfig
    from gazeprep.simulate.dataset import simulate_dataset

    return simulate_dataset(out, SimConfig(**config))
