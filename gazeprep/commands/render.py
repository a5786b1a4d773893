"""`gazeprep render`: gaze tracks -> multi-level track maps, heatmap, pseudo-masks (Zarr cache).

Defaults are the winners of ``pipelines/tune_render.py`` on 780 Kvasir-SEG training images with
real gaze (see that script's output for the table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from gazeprep.commands import _image_options as img_opts
from gazeprep.commands.options import CACHE_DIR, GAZE_DIR, JOBS, number, problem
from gazeprep.contract.cache import SHARD_SAMPLES
from gazeprep.contract.tables import print_table
from gazeprep.render import params as rp
from gazeprep.render.params import defaults

# The defaults of every option are RenderParams()'s: the tuned ones (pipelines/tune_render.py,
# 780-image tuning split: pseudo Dice 0.832 tune, 0.821 on the 100 confirming images vs 0.731
# for the heatmap baseline, with the watershed) and the GrabCut refiner (0.840 on the 100,
# pipelines/compare_refiners.py, docs/labels.md).
_D = defaults()
# The choices of the options, from RenderParams' lists (click refuses others, exit 2).
DurationLaw = Literal[rp.DURATION_LAWS]
Combine = Literal[rp.COMBINES]
Direction = Literal[rp.DIRECTIONS]
PseudoSource = Literal[rp.PSEUDO_SOURCES]
Refine = Literal[rp.REFINES]


#: Largest --levels (each level is a full S x S map per sample).
MAX_LEVELS = 32
#: Largest --size (the memory and disk checks refuse most of the range below on real machines).
MAX_SIZE = 32768


def _ratios(text: str | None, levels: int) -> tuple[float, ...]:
    from gazeprep.render.params import default_ratios

    if not text:
        return default_ratios(levels)
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise typer.BadParameter(f"expected comma-separated numbers, got {text!r}",
                                 param_hint="'--ratios'") from exc
    if len(vals) != levels:
        raise typer.BadParameter(f"{len(vals)} values but --levels is {levels}",
                                 param_hint="'--ratios'")
    for v in vals:
        if problem(v, 0, 1, lo_open=True):
            raise typer.BadParameter(f"{v:g} is not a finite number in (0, 1]",
                                     param_hint="'--ratios'")
    return vals


def render(
    levels: int = typer.Option(_D.levels, "--levels", min=1, max=MAX_LEVELS,
                               help="Number of track-map levels L."),
    gaze: Path = typer.Option(GAZE_DIR, "--gaze", help="Ingest output folder."),
    images: Path = typer.Option(
        None, "--images", help="Folder of images (required): png/jpg/bmp/tif, DICOM, NIfTI, "
        "NRRD; ids are file stems, <stem>_<k> for slices."
    ),
    masks: Path = typer.Option(
        None, "--masks", help="Folder of ground-truth masks, same ids and formats as --images."
    ),
    size: int = typer.Option(_D.size, "--size", min=8, max=MAX_SIZE,
                             help="Output side S in pixels (the cache and the render's working "
                                  "memory must fit: checked before rendering)."),
    out: Path = typer.Option(CACHE_DIR, "--out", help="Zarr v3 cache folder."),
    ratios: str = typer.Option(
        None, "--ratios", help="Kept track fraction per level, e.g. 1,0.75,0.5,0.25 (1-k/L)."
    ),
    tau: float = typer.Option(
        _D.tau, "--tau", help="Fall-off distance as a fraction of S.",
        callback=number(0, 10, lo_open=True),
    ),
    gamma: float = typer.Option(
        _D.gamma, "--gamma", help="Fall-off exponent of (1 - d/tau)^gamma.",
        callback=number(0, 100, lo_open=True),
    ),
    duration_law: DurationLaw = typer.Option(
        _D.duration_law,
        "--duration-law",
        help="Fixation disk radius: power = rho*(dur/median)^alpha, const = rho, off = points.",
    ),
    rho: float = typer.Option(
        _D.rho, "--rho", help="Disk radius scale as a fraction of S.",
        callback=number(0, 10),
    ),
    alpha: float = typer.Option(
        _D.alpha, "--alpha", help="Exponent of the power duration law.",
        callback=number(-10, 10),
    ),
    combine: Combine = typer.Option(
        _D.combine, "--combine", help="Combine several sessions on one image."
    ),
    direction: Direction = typer.Option(
        _D.direction, "--direction", help="Truncation: reverse (keep the tail, GTMG) or forward."
    ),
    points_only: bool = typer.Option(
        not _D.segments, "--points-only", help="Ablation: fixation disks only, no saccade segments."
    ),
    pseudo_source: PseudoSource = typer.Option(
        _D.pseudo_source,
        "--pseudo-source",
        help="Pseudo-mask source map: mean (of the levels) or level (see --pseudo-level).",
    ),
    pseudo_level: int = typer.Option(
        _D.pseudo_level, "--pseudo-level", help="1-based level for --pseudo-source level."
    ),
    pseudo_threshold: float = typer.Option(
        _D.pseudo_threshold, "--pseudo-threshold", help="Foreground: source > this.",
        callback=number(0, 1, hi_open=True),
    ),
    refine: Refine = typer.Option(
        _D.refine,
        "--refine",
        help="Pseudo-mask refinement (docs/labels.md): none, fill (holes), slic, watershed "
        "(image edges; v1), grabcut (colour models + graph cut from the watershed; needs "
        "opencv-python-headless), grabcut_gaze (GrabCut, sure foreground only where the "
        "fixations are dense), grabcut_texture (grabcut_gaze, then a graph cut whose colour "
        "models also see texture), grabcut_filled (grabcut_texture, only the components around "
        "the dense track, holes filled), grabcut_grown (the default: grabcut_filled, its "
        "outline one pixel out), random_walker.",
    ),
    bg_threshold: float = typer.Option(
        _D.bg_threshold,
        "--bg-threshold",
        help="--refine watershed/grabcut/grabcut_gaze/grabcut_texture/grabcut_filled/"
        "grabcut_grown/random_walker: heatmap <= this seeds the background.",
        callback=number(0, 1),
    ),
    edge_sigma: float = typer.Option(
        _D.edge_sigma,
        "--edge-sigma",
        help="--refine watershed/grabcut: smoothing (px at S=256) before the Sobel edges.",
        callback=number(0, 100),
    ),
    shard: int = typer.Option(SHARD_SAMPLES, "--shard", min=1, max=4096,
                              help="Samples per Zarr shard file (and per render batch)."),
    force: bool = typer.Option(False, "--force", help="Re-render every image."),
    exclude_flagged: bool = typer.Option(
        False, "--exclude-flagged",
        help="Leave out the tracks of trials that gaze quality flagged for their eye "
             "(quality.parquet; see `gazeprep qc`)."),
    # --- reading image and mask files (gazeprep.contract.images; recorded in the cache) ---
    window: str = img_opts.WINDOW,
    slice_axis: int = img_opts.SLICE_AXIS,
    slice_base: int = img_opts.SLICE_BASE,
    flip: bool = img_opts.FLIP,
    label: int = img_opts.LABEL,
    # --- end of image options ---
    jobs: int | None = JOBS,
) -> None:
    """Render multi-level reverse-truncated gaze-track maps into a Zarr v3 cache."""
    import os

    from gazeprep.jobs import check_jobs
    from gazeprep.render.batches import warm_workers

    jobs = check_jobs(jobs)
    if images is not None and images.is_dir():  # files in --images: the images, roughly
        warm_workers(jobs, sum(1 for _ in os.scandir(images)))  # overlaps the imports below
    from rich.console import Console
    from rich.table import Table

    from gazeprep.contract.progress import Progress
    from gazeprep.errors import GazeprepError
    from gazeprep.render.params import RenderParams
    from gazeprep.render.plan import plan_render
    from gazeprep.render.writer import update_cache

    if images is None:
        raise GazeprepError("--images DIR is required (the images the gaze was recorded on)")
    check_trainable(size, levels)
    params = RenderParams(
        size=size,
        ratios=_ratios(ratios, levels),
        tau=tau,
        gamma=gamma,
        duration_law=duration_law,
        rho=rho,
        alpha=alpha,
        combine=combine,
        direction=direction,
        segments=not points_only,
        pseudo_source=pseudo_source,
        pseudo_level=pseudo_level,
        pseudo_threshold=pseudo_threshold,
        refine=refine,
        bg_threshold=bg_threshold,
        edge_sigma=edge_sigma,
        image=img_opts.image_options(window, slice_axis, slice_base, flip, label),
    )
    console = Console(stderr=True)
    plan = plan_render(gaze, images, masks, params.image, exclude_flagged=exclude_flagged)
    check_fits(plan, params, out, shard, jobs)
    without_label = _check_label(plan, params.image)
    with Progress("render", unit="images") as bar:
        report = update_cache(plan, params, out, shard=shard, force=force, jobs=jobs,
                              progress=lambda done, total: bar.update(done, total=total))

    table = Table(title=f"gazeprep render -> {out}")
    table.add_column("what")
    table.add_column("images", justify="right")
    table.add_column("ids (first 5)")
    rows = [
        ("rendered", report.rendered),
        ("skipped (unchanged)", report.skipped),
        ("empty (no fixations)", report.empty),
        ("no mask", report.missing_mask),
        ("gaze without image (not in cache)", report.gaze_without_image),
    ]
    for name, ids in rows:
        table.add_row(name, str(len(ids)), ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else ""))
    print_table(table, console)
    if exclude_flagged:
        console.print(f"--exclude-flagged: {plan.left_out} track(s) of flagged trials left out",
                      soft_wrap=True)
    _print_notes(console, report)
    if without_label:
        more = " ..." if len(without_label) > 5 else ""
        console.print(f"note: --label {label} is absent from {len(without_label)} mask(s), "
                      "rendered as empty masks (scored as undefined, never as perfect): "
                      f"{', '.join(without_label[:5])}{more}", soft_wrap=True, markup=False)
    if not report.rendered:
        console.print("nothing to render: the cache is up to date")


def check_trainable(size: int, levels: int) -> None:
    """Refuse (usage error on --size) a size gradseg cannot train on: its U-Net has one decoder
    stage per track-map level, halving the side each time, so S must be divisible by 2**L."""
    step = 2**levels
    if size % step:
        lower, upper = size - size % step, size - size % step + step
        near = f"{lower} or {upper}" if lower >= 8 else f"{upper}"
        raise typer.BadParameter(
            f"{size} is not divisible by 2**levels = {step}: gradseg trains a U-Net with one "
            f"decoder stage per level (L = {levels}), each halving the side; expected e.g. "
            f"--size {near}", param_hint="'--size'")


def _check_label(plan, options) -> list[str]:
    """Ids whose mask lacks ``--label`` (an error when every mask lacks it)."""
    from gazeprep.contract.images import check_label

    with_mask = [s for s in plan.samples if s.mask is not None]
    absent = {id(r) for r in check_label([s.mask for s in with_mask], options)}
    return [s.id for s in with_mask if id(s.mask) in absent]


def human(n: float) -> str:
    """Bytes as KiB / MiB / GiB / TiB with one decimal, e.g. ``human(1536) == '1.5 KiB'``."""
    if n < 1024:
        return f"{n:.0f} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            break
    return f"{n:.1f} {unit}"


def check_fits(plan, params, out: Path, shard: int, jobs: int = 1) -> None:
    """Refuse (usage error on --size) a render whose working memory exceeds this machine's RAM
    or whose cache, uncompressed, exceeds the free disk space where --out goes."""
    import os
    import shutil

    from gazeprep.render.maps import render_memory_bytes

    n = len(plan.samples)
    batch = max(1, min(shard, n))
    tracks = max((sum(len(s.tracks) for s in plan.samples[i:i + batch])
                  for i in range(0, n, batch)), default=0)
    need = render_memory_bytes(params, batch, max(tracks, batch), jobs, jobs)
    ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    s, layers = params.size, 3 + params.levels + 2 + int(plan.with_masks)
    if need > ram:
        raise typer.BadParameter(
            f"{s}: rendering needs about {human(need)} of memory ({batch} images per batch, "
            f"{params.levels} float32 maps of {s} x {s} each, per-thread buffers) but this "
            f"machine has {human(ram)} of RAM; expected a smaller --size (or --shard)",
            param_hint="'--size'")
    disk = n * layers * s * s
    where = out.resolve()
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    if out.is_dir():  # a previous cache there is replaced: its space counts as free
        free += sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    if disk > free:
        raise typer.BadParameter(
            f"{s}: the cache takes up to {human(disk)} uncompressed ({n} images x {layers} "
            f"uint8 layers of {s} x {s}) but only {human(free)} of disk is free at {where}; "
            "expected a smaller --size or more disk space", param_hint="'--size'")


def _print_notes(console, report) -> None:
    """One line per damaged shard set, removed array and recovered leftover."""
    from rich.markup import escape

    if report.damaged:
        ids = ", ".join(report.damaged[:5]) + (" ..." if len(report.damaged) > 5 else "")
        console.print(f"[yellow]damaged:[/yellow] {len(report.damaged)} sample(s) in shards that "
                      f"failed their checksums were rendered again: {escape(ids)}",
                      soft_wrap=True)
    for name in report.removed:
        why = " (this render has no --masks)" if name == "mask" else ""
        console.print(f"[yellow]removed:[/yellow] array {name!r} of the previous cache{why}",
                      soft_wrap=True)
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True)
