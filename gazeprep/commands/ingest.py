"""`gazeprep ingest`: raw eye-tracker logs -> fixations.parquet, tracks.parquet, ingest.json."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from gazeprep.commands.options import GAZE_DIR, JOBS, POSITIVE_PAIR, RECT, SCREEN_PX, number
from gazeprep.contract.tables import print_table
from gazeprep.read import options as o
from gazeprep.read.options import IngestOptions

#: The defaults of every option (one home: :class:`gazeprep.read.options.IngestOptions`).
_D = IngestOptions()
_SAMPLES = "Columns of sample tables and fixation reports"
_DETECT = "Fixation detection (I-VT / I-DT)"
_QUALITY = "Gaze quality (flags in quality.parquet; see `gazeprep qc`)"
# The choices of the options, from the registry (click refuses any other value, exit 2).
Format = Literal[o.FORMAT_CHOICES]
Detector = Literal[o.DETECTOR_CHOICES]
Eye = Literal[o.EYE_CHOICES]
Coords = Literal[o.COORDS_CHOICES]
Units = Literal[o.UNITS_CHOICES]
Preset = Literal[o.PRESET_CHOICES]
TimeUnit = Literal[o.TIME_UNIT_CHOICES]


def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        ..., metavar="PATH...", show_default=False,
        help="Input files or folders (folders are walked recursively).",
    ),
    out: Path = typer.Option(
        GAZE_DIR, "--out", "-o",
        help="Output folder: its fixations.parquet, tracks.parquet, quality.parquet and "
             "ingest.json are replaced; other files in it are left alone."),
    format: Format = typer.Option(
        _D.format, "--format", help="Input format (auto: from the extension and header)."
    ),
    detector: Detector = typer.Option(
        _D.detector, "--detector",
        help="tracker: the log's EFIX events (or the export's own fixations: Tobii, SMI, Pupil, "
             "Gazepoint, REFLACX); ivt, idt: detected on the samples; auto: tracker when the "
             "file has fixation events, else ivt.",
    ),
    eye: Eye = typer.Option(
        _D.eye, "--eye",
        help="Binocular logs (ASC, EDF, SMI BeGaze): auto takes the eye named by an "
             "'eye_used' message, else L; both makes one track per eye (session '<stem>:L' / "
             "':R').",
    ),
    images: Path | None = typer.Option(
        _D.images, "--images",
        help="Folder of images (looked up by file stem) for their pixel size."
    ),
    image_rect: tuple[float, float, float, float] | None = typer.Option(
        _D.image_rect, "--image-rect", metavar="X Y W H",
        help="Where the image lies on screen (screen px), for ASC trials without '!V IMGLOAD', "
             "sample files, SMI and Gazepoint exports and pixel fixation reports. W, H > 0.",
        callback=RECT,
    ),
    min_duration: float = typer.Option(
        _D.min_duration, "--min-duration",
        help="Drop (and count) fixations shorter than this (ms).",
        callback=number(0, 86_400_000),
    ),
    coords: Coords = typer.Option(
        _D.coords, "--coords",
        help="Fixation reports: coordinates normalised to the image or in pixels (auto: "
             "normalised when all x, y lie in [-0.5, 1.5]).",
    ),
    lenient: bool = typer.Option(
        _D.lenient, "--lenient", help="Record malformed lines/files in ingest.json and go on."
    ),
    units: Units = typer.Option(
        _D.units, "--units", rich_help_panel=_DETECT,
        help="Thresholds in degrees of visual angle (deg: needs the screen geometry) or px.",
    ),
    ivt_velocity: float = typer.Option(
        _D.ivt_velocity, "--ivt-velocity", rich_help_panel=_DETECT,
        help="I-VT: fixation samples move slower than this (deg/s, or px/s with --units px).",
        callback=number(0, 1e6, lo_open=True),
    ),
    ivt_window: float = typer.Option(
        _D.ivt_window, "--ivt-window", rich_help_panel=_DETECT,
        help="I-VT: speed measured over this window (ms) centred on each sample (noise filter).",
        callback=number(0, 1e6),
    ),
    idt_dispersion: float = typer.Option(
        _D.idt_dispersion, "--idt-dispersion", rich_help_panel=_DETECT,
        help="I-DT: max (x range + y range) of a fixation window (deg, or px with --units px).",
        callback=number(0, 1e6, lo_open=True),
    ),
    idt_window: float = typer.Option(
        _D.idt_window, "--idt-window", rich_help_panel=_DETECT, help="I-DT: minimal window (ms).",
        callback=number(0, 1e6, lo_open=True),
    ),
    screen_size_cm: tuple[float, float] = typer.Option(
        _D.screen_size_cm, "--screen-size-cm", metavar="W H", rich_help_panel=_DETECT,
        help="Physical screen size (cm), for degree thresholds.", callback=POSITIVE_PAIR,
    ),
    distance_cm: float = typer.Option(
        _D.distance_cm, "--distance-cm", rich_help_panel=_DETECT, help="Eye-screen distance (cm).",
        callback=number(0, 1e5, lo_open=True),
    ),
    screen_px: tuple[int, int] | None = typer.Option(
        _D.screen_px, "--screen-px", metavar="W H", rich_help_panel=_DETECT,
        help="Screen resolution (px); default from the ASC's GAZE_COORDS, else 1920 1080.",
        callback=SCREEN_PX,
    ),
    max_gap: float = typer.Option(
        _D.max_gap, "--max-gap", rich_help_panel=_DETECT,
        help="Never merge samples across a gap longer than this (ms) into one fixation.",
        callback=number(0, 1e9, lo_open=True),
    ),
    merge_gap: float = typer.Option(
        _D.merge_gap, "--merge-gap", rich_help_panel=_DETECT,
        help="Merge consecutive detected fixations at most this many ms apart (0 = off)...",
        callback=number(0, 1e9),
    ),
    merge_distance: float = typer.Option(
        _D.merge_distance, "--merge-distance", rich_help_panel=_DETECT,
        help="...whose positions differ by at most this (deg, or px with --units px).",
        callback=number(0, 1e6),
    ),
    preset: Preset = typer.Option(
        _D.preset, "--preset", rich_help_panel=_DETECT,
        help="tobii: Tobii's I-VT fixation filter with --detector ivt (or auto without Tobii's "
             f"own fixations): {o.describe_preset('tobii')}; eye selection average; angular "
             "velocity from eye position and gaze point (mm) when the file has them, else from "
             "--distance-cm and --screen-size-cm. Options given explicitly override it.",
    ),
    gap_fill: float = typer.Option(
        _D.gap_fill, "--gap-fill", rich_help_panel=_DETECT,
        help="--preset tobii: interpolate missing samples in gaps up to this long (ms).",
        callback=number(0, 1e6),
    ),
    time_col: str | None = typer.Option(
        None, "--time-col", rich_help_panel=_SAMPLES, help="Time column (default: auto)."
    ),
    x_col: str | None = typer.Option(None, "--x-col", rich_help_panel=_SAMPLES, help="x column."),
    y_col: str | None = typer.Option(None, "--y-col", rich_help_panel=_SAMPLES, help="y column."),
    pupil_col: str | None = typer.Option(
        None, "--pupil-col", rich_help_panel=_SAMPLES, help="Pupil column (optional)."
    ),
    image_col: str | None = typer.Option(
        None, "--image-col", rich_help_panel=_SAMPLES,
        help="Column naming the image per sample or fixation (samples default: one image, the "
             "file stem).",
    ),
    duration_col: str | None = typer.Option(
        None, "--duration-col", rich_help_panel=_SAMPLES,
        help="Fixation reports: the duration column (ms); --time-col is then the fixation's "
             "start, --x-col/--y-col/--pupil-col/--image-col its other columns.",
    ),
    time_unit: TimeUnit = typer.Option(
        _D.time_unit, "--time-unit", rich_help_panel=_SAMPLES,
        help="Unit of the time column."
    ),
    sample_rate: float | None = typer.Option(
        _D.sample_rate, "--sample-rate", rich_help_panel=_SAMPLES,
        help="Sampling rate (Hz) when the file has no time column.",
        callback=number(0, 1e6, lo_open=True),
    ),
    max_validation_avg: float = typer.Option(
        _D.max_validation_avg, "--max-validation-avg", rich_help_panel=_QUALITY,
        help="Flag trials whose last validation's average error exceeds this (deg; EyeLink "
             "grades > 1.0 POOR).", callback=number(0, 180, lo_open=True),
    ),
    max_validation_max: float = typer.Option(
        _D.max_validation_max, "--max-validation-max", rich_help_panel=_QUALITY,
        help="Flag trials whose last validation's maximum error exceeds this (deg; EyeLink "
             "grades > 1.5 POOR).", callback=number(0, 180, lo_open=True),
    ),
    max_loss: float = typer.Option(
        _D.max_loss, "--max-loss", rich_help_panel=_QUALITY,
        help="Flag trials missing more than this share of their samples (%).",
        callback=number(0, 100),
    ),
    max_rate_deviation: float = typer.Option(
        _D.max_rate_deviation, "--max-rate-deviation", rich_help_panel=_QUALITY,
        help="Flag trials whose measured sampling rate differs from the header's by more "
             "than this (%).", callback=number(0, 1000),
    ),
    jobs: int | None = JOBS,
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace outputs in --out that gazeprep ingest did not "
        "write or that were edited since (their sha256 differs from ingest.json's); else refused."),
) -> None:
    """Read eye-tracker logs (EyeLink EDF and ASC; Tobii Pro Lab, Studio and Pro SDK, SMI
    BeGaze, Pupil Labs, Gazepoint and REFLACX exports; fixation reports, sample CSV/TSV) into
    fixations, ordered gaze tracks and per-trial gaze quality."""
    from gazeprep.jobs import check_jobs
    from gazeprep.read.parallel import warm_workers

    jobs = check_jobs(jobs)
    warm_workers(paths, jobs)  # (when start_workers_early did not) overlaps the imports below
    from rich.console import Console

    from gazeprep.contract.progress import Progress
    from gazeprep.ingest import run_ingest

    mapping = {k: v for k, v in (("time", time_col), ("x", x_col), ("y", y_col),
                                 ("pupil", pupil_col), ("image", image_col),
                                 ("duration", duration_col)) if v}
    opts = IngestOptions(
        format=format, detector=detector, eye=eye,
        images=None if images is None else str(images),
        image_rect=image_rect, min_duration=min_duration,
        coords="normalised" if coords == "normalized" else coords, lenient=lenient,
        ivt_velocity=ivt_velocity, ivt_window=ivt_window, idt_dispersion=idt_dispersion,
        idt_window=idt_window,
        units=units, screen_size_cm=screen_size_cm, screen_px=screen_px,
        distance_cm=distance_cm, max_gap=max_gap, merge_gap=merge_gap,
        merge_distance=merge_distance, sample_columns=mapping,
        sample_rate=sample_rate, time_unit=time_unit,
        max_validation_avg=max_validation_avg, max_validation_max=max_validation_max,
        max_loss=max_loss, max_rate_deviation=max_rate_deviation, preset=preset,
        gap_fill=gap_fill,
    )
    if preset != "none":
        if detector == "idt":
            raise typer.BadParameter(f"--preset {preset} is an I-VT filter; expected --detector "
                                     "ivt or auto", param_hint="--preset")
        opts = opts.with_preset({k for k in o.PRESETS[preset] if getattr(
            ctx.get_parameter_source(k), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")})
    console = Console(stderr=True)
    kept = 0

    def on_file(f: Path, result) -> None:
        nonlocal kept
        kept += 0 if result is None else result.rows_kept
        bar.advance(1, info={"file": f.name, "fixations": f"{kept:,}"})

    with Progress("ingest", unit="files") as bar:
        summary = run_ingest(paths, out, opts, on_start=lambda n: bar.update(total=n),
                             on_file=on_file, jobs=jobs, overwrite=overwrite)
    _print_summary(summary)
    from rich.markup import escape

    for note in summary.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True)
    failed = summary.report["totals"]["errors"]
    if summary.n_fixations == 0:
        console.print(f"[yellow]warning: no fixation kept from any input; see {out}/ingest.json")
        for line in _why_none(summary.report["inputs"])[:10]:
            console.print(f"  {escape(line)}", soft_wrap=True)
    if failed:
        console.print(f"[yellow]{failed} error(s) skipped (--lenient); see {out}/ingest.json")
    _warn_images(console, summary.report["images"], out)
    _quality_line(console, summary.report.get("quality") or {}, out)


def _quality_line(console, quality: dict, out: Path) -> None:
    """One line: how many trials were flagged by the gaze quality checks."""
    if not quality.get("rows"):
        return
    n, trials = quality["rows_flagged"], quality["trials_flagged"]
    colour = "yellow" if n else "green"
    console.print(f"[{colour}]gaze quality: {trials} trial(s) flagged ({n} of {quality['rows']} "
                  f"trial x eye rows); see `gazeprep qc {out}`", soft_wrap=True)


def _why_none(inputs: list[dict]) -> list[str]:
    """Why each input of ``ingest.json`` kept no fixation, one line each (the file's name)."""
    lines = []
    for r in inputs:
        if r["rows_kept"]:
            continue
        notes = r.get("notes", {})
        source = str(notes.get("fixations_from", ""))
        if source.startswith("none:"):
            why = source.removeprefix("none:").strip()
        elif r["rows_read"]:
            why = "every fixation dropped: " + ", ".join(
                f"{k} {v:,}" for k, v in r["dropped"].items())
        elif r["errors"]:
            why = f"{len(r['errors'])} error(s) skipped (--lenient)"
        elif not r["samples"]:
            events = notes.get("event_rows")
            why = "no gaze samples" + (f" ({events:,} event rows)" if events else "")
        else:
            why = f"no fixation detected in {r['samples']:,} gaze samples"
        lines.append(f"{Path(r['path']).name}: {why}")
    return lines


def _warn_images(console, images: list[dict], out: Path) -> None:
    """One line when images have problems (name not UTF-8, not in --images, sizes differ)."""
    from collections import Counter

    bad = [e for e in images if e["problems"]]
    if bad:
        kinds = Counter(p.split(":")[0] for e in bad for p in e["problems"])
        what = "; ".join(f"{k}: {n}" for k, n in sorted(kinds.items()))
        console.print(f"[yellow]warning: {len(bad)} image{'s' if len(bad) > 1 else ''} with "
                      f"problems ({what}); see {out}/ingest.json, section 'images'",
                      soft_wrap=True)


def _print_summary(summary) -> None:
    """Rich table: one row per file, then totals."""
    from rich.console import Console
    from rich.table import Table

    reasons = sorted({k for r in summary.results for k in r.dropped})
    table = Table(title=f"gazeprep ingest -> {summary.out}", show_footer=True)
    tot = summary.report["totals"]
    table.add_column("file", footer=f"{tot['files']} files")
    table.add_column("format")
    table.add_column("samples", justify="right", footer=f"{tot['samples']:,}")
    table.add_column("read", justify="right", footer=f"{tot['rows_read']:,}")
    table.add_column("kept", justify="right", footer=f"{tot['rows_kept']:,}")
    for k in reasons:
        table.add_column(f"dropped: {k}", justify="right", footer=f"{tot['dropped'].get(k, 0):,}")
    table.add_column("errors", justify="right", footer=str(tot["errors"]))
    table.add_column("anomalies", justify="right", footer=str(tot["anomalies"]))
    for r in summary.results:
        table.add_row(Path(r.path).name, r.format, f"{r.n_samples:,}", f"{r.rows_read:,}",
                      f"{r.rows_kept:,}", *(f"{r.dropped.get(k, 0):,}" for k in reasons),
                      str(len(r.errors)), str(len(r.anomalies)))
    console = Console()
    print_table(table, console)
    console.print(f"{summary.n_fixations:,} fixations, {summary.n_tracks:,} tracks, "
                  f"{summary.n_images:,} images -> {summary.out}")


def start_workers_early(command, args: list[str]) -> None:
    """Start the ingest workers' fork server from the raw command line ``args`` (after
    ``ingest``), before typer converts the options: that conversion imports pydantic (0.1 s,
    measured with cProfile), and the server's own start (0.55 s) then overlaps all of this
    process's start instead of part of it.

    ``command``: the click command of ``ingest``. Only click's parser reads ``args`` (no
    conversion, no callback); a line it cannot read, ``--help``, ``--jobs 1`` or small inputs
    start nothing, and the command proper reports any problem with the line.
    """
    from gazeprep.jobs import check_jobs
    from gazeprep.read.parallel import warm_workers

    try:
        ctx = command.context_class(command, info_name="ingest", resilient_parsing=True)
        opts, _, _ = command.make_parser(ctx).parse_args(list(args))
        jobs = check_jobs(None if opts.get("jobs") is None else int(opts["jobs"]))
    except (typer.TyperException, ValueError, TypeError):  # click's errors, a bad --jobs
        return
    if not opts.get("help"):
        warm_workers(opts.get("paths") or (), jobs)

