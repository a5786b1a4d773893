"""The ``gradseg`` console script: train, eval and predict.

torch and the other heavy libraries are imported inside the commands so that
``gradseg --help`` is instant.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Literal

import typer

app = typer.Typer(
    name="gradseg",
    help="Train and evaluate Track Attention U-Nets on gaze track maps from a gazeprep cache.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", help="Show the full traceback on errors."),
) -> None:
    """Train and evaluate Track Attention U-Nets on gaze track maps from a gazeprep cache."""


def _number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
            hi_open: bool = False):
    """Callback refusing a float that is not finite or outside the interval (usage error, exit 2,
    stating the limit); typer's min/max alone let NaN and infinity through."""
    import math

    bounds = " and ".join(
        ([f"{'>' if lo_open else '>='} {lo:g}"] if lo is not None else [])
        + ([f"{'<' if hi_open else '<='} {hi:g}"] if hi is not None else []))

    def check(value):
        if value is None:
            return value
        ok = math.isfinite(value)
        ok = ok and (lo is None or (value > lo if lo_open else value >= lo))
        ok = ok and (hi is None or (value < hi if hi_open else value <= hi))
        if not ok:
            raise typer.BadParameter(f"{value:g} is not a finite number {bounds}")
        return value
    return check


def _thresholds(text: str) -> str:
    try:
        vals = [float(t) for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"expected comma-separated numbers, got {text!r}") from exc
    if not vals or not all(0 < v < 1 for v in vals):
        raise typer.BadParameter(f"{text!r}: expected one or more numbers in (0, 1)")
    return text


def _ids_option(path: Path | None) -> list[str] | None:
    from gradseg.cache import read_ids_file

    return None if path is None else read_ids_file(path)


# --- reading image and mask files (eval --images/--masks, predict) --------------------------
# Each defaults to what the checkpoint's cache was rendered with (config "image_options"),
# else to gazeprep render's default; see gazeprep.contract.images for the rules.
_WINDOW_HELP = ("8-bit window for images that are not 8-bit: CENTER,WIDTH, auto (the DICOM "
                "file's window, else the 0.5-99.5th percentiles of the volume) or minmax "
                "(default: as the cache was rendered).")
_SLICE_AXIS_HELP = "NIfTI/NRRD slice axis 0-2 (default: as the cache was rendered, else 2)."
_SLICE_BASE_HELP = ("First k in the ids <stem>_<k> of slices and frames, 0 or 1 (default: as "
                    "the cache was rendered, else 0).")
_FLIP_HELP = "NIfTI/NRRD stored rows first: slice k is data[:, :, k], not its transpose."
_LABEL_HELP = "Masks: foreground is this label value (default: as rendered, else nonzero)."


def _image_options(config: dict, window: str | None, slice_axis: int | None,
                   slice_base: int | None, flip: bool | None, label: int | None):
    """The checkpoint's image options with the ones given on the command line replacing them."""
    from dataclasses import replace

    from gazeprep.contract.images import ImageOptions, parse_window

    try:
        opts = ImageOptions.from_dict(config.get("image_options"))
        given = {"slice_axis": slice_axis, "slice_base": slice_base, "flip": flip,
                 "label": label}
        opts = replace(opts, **{k: v for k, v in given.items() if v is not None})
        if window is not None:
            opts = replace(opts, window=parse_window(window))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--window") from exc
    return opts
# --- end of image options ----------------------------------------------------------------


@app.command()
def train(
    cache: Path = typer.Option(..., help="Zarr cache written by `gazeprep render`."),
    out: Path = typer.Option(None, help="Run folder (default runs/<method>)."),
    method: str = typer.Option("gradtrack", help="gradtrack | gazesup | full."),
    size: int = typer.Option(None, min=8, max=16384, help="Model input side in pixels "
                             "(default: the cache size); must be divisible by 2**levels."),
    iterations: int = typer.Option(None, min=1, help="Optimizer steps (default: 10 epochs)."),
    epochs: int = typer.Option(None, min=1, help="Epochs instead of --iterations."),
    batch_size: int = typer.Option(8, min=1, max=65536,
                                   help="Images per step and per process."),
    val_fraction: float = typer.Option(0.1, callback=_number(0, 1, hi_open=True),
                                       help="Fraction of the training ids kept for validation "
                                       "(seeded id split), in [0, 1)."),
    seed: int = typer.Option(0, help="Seed of initialisation, split, order and augmentation."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N."),
    amp: bool = typer.Option(None, "--amp/--no-amp", help="bf16 autocast (default: on GPU)."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the model."),
    resume: bool = typer.Option(False, "--resume", help="Continue from <out>/last.pt."),
    lr: float = typer.Option(1e-3, callback=_number(0, 10, lo_open=True),
                             help="Peak AdamW learning rate (warm-up then cosine)."),
    warmup: int = typer.Option(50, min=0, help="Linear learning-rate warm-up steps."),
    base_channels: int = typer.Option(32, min=1, max=4096,
                                      help="U-Net channels at full resolution."),
    workers: int = typer.Option(None, min=0, help="DataLoader workers (default: 0 on CPU, up "
                                "to 8 on GPU)."),
    in_memory: bool = typer.Option(False, "--in-memory", help="Read the cache into RAM once."),
    augment: bool = typer.Option(True, "--augment/--no-augment", help="Flips, random resized "
                                 "crop and rotation."),
    seg_weight: float = typer.Option(1.0, callback=_number(0, 1e6),
                                     help="Weight of the final-head loss."),
    att_weight: float = typer.Option(0.5, callback=_number(0, 1e6),
                                     help="gradtrack: weight of the attention losses."),
    consistency_weight: float = typer.Option(1.0, callback=_number(0, 1e6),
                                             help="gazesup: cross-level consistency weight."),
    thresholds: str = typer.Option("0.5,0.3", callback=_thresholds,
                                   help="gazesup: heatmap thresholds in (0, 1), one head each."),
    map_order: str = typer.Option("whole-first", help="gradtrack: whole-first (coarsest stage "
                                  "<- whole track, finest <- tail) or tail-first."),
    val_target: Literal["auto", "mask", "pseudo"] = typer.Option(
        "auto", help="Validation Dice against: auto (mask when the cache has masks) | mask "
        "(needs masks) | pseudo."),
    eval_every: int = typer.Option(200, min=1, help="Validate every N iterations."),
    checkpoint_every: int = typer.Option(200, min=1, help="Write last.pt every N iterations."),
    test_ids: Path = typer.Option(None, "--test-ids", "--exclude-ids", help="File of ids (one a "
                                  "line) held out: never trained or validated on."),
    stop_after: int = typer.Option(None, min=1, help="Stop after N iterations in this "
                                   "invocation (continue later with --resume)."),
    threads: int = typer.Option(None, min=1, help="CPU threads for torch (default: torch's "
                                "choice)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train a segmentation model on a gazeprep cache (DDP when started by torchrun)."""
    from rich.console import Console
    from rich.table import Table

    from gradseg.train import TrainConfig
    from gradseg.train import train as run

    if iterations is not None and epochs is not None:
        raise typer.BadParameter("give --iterations or --epochs, not both")
    cfg = TrainConfig(
        cache=str(cache), out=str(out or Path("runs") / method), method=method, size=size,
        iterations=iterations, epochs=epochs, batch_size=batch_size, val_fraction=val_fraction,
        seed=seed, device=device, amp=amp, compile=compile, lr=lr, warmup=warmup,
        base_channels=base_channels, workers=workers, in_memory=in_memory, augment=augment,
        seg_weight=seg_weight, att_weight=att_weight, consistency_weight=consistency_weight,
        thresholds=[float(t) for t in thresholds.split(",") if t.strip()], map_order=map_order,
        val_target=val_target, eval_every=eval_every, checkpoint_every=checkpoint_every,
        exclude_ids=_ids_option(test_ids) or [], threads=threads,
    )
    console = Console(stderr=True)
    summary = run(cfg, resume=resume, stop_after=stop_after, progress=not quiet,
                  log=console.print)
    import os

    if os.environ.get("RANK", "0") != "0":
        return
    table = Table(title=f"gradseg train: {summary['method']}")
    table.add_column("item")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    Console().print(table)


@app.command("eval")
def eval_(
    checkpoint: Path = typer.Option(..., help="Checkpoint (e.g. runs/NAME/best.pt)."),
    cache: Path = typer.Option(None, help="Evaluate on this cache's masks (cache resolution)."),
    images: Path = typer.Option(None, help="Folder of images (with --masks; original size)."),
    masks: Path = typer.Option(None, help="Folder of ground-truth masks, same file stems."),
    ids: Path = typer.Option(None, help="File of ids (one a line) to evaluate, e.g. a test set."),
    out: Path = typer.Option(None, help="Per-image Parquet (default: eval.parquet next to "
                             "the checkpoint); an earlier eval output there is replaced."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (means + counts)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N."),
    # --- image options (see _image_options) ---
    window: str = typer.Option(None, "--window", metavar="C,W|auto|minmax", help=_WINDOW_HELP),
    slice_axis: int = typer.Option(None, "--slice-axis", min=0, max=2, help=_SLICE_AXIS_HELP),
    slice_base: int = typer.Option(None, "--slice-base", min=0, max=1, help=_SLICE_BASE_HELP),
    flip: bool = typer.Option(None, "--flip/--no-flip", help=_FLIP_HELP),
    label: int = typer.Option(None, "--label", help=_LABEL_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out even when it is "
                                   "not an earlier eval output."),
) -> None:
    """Per-image Dice, IoU and HD95 (pixels) of a checkpoint against ground-truth masks."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from gradseg.checkpoint import load_model
    from gradseg.evaluate import (
        EVAL_COLUMNS,
        evaluate_cache,
        evaluate_folders,
        summarize,
        write_parquet,
    )
    from gradseg.outputs import check_replaceable, is_parquet_with
    from gradseg.train import pick_device

    if (cache is None) == (images is None) or (images is None) != (masks is None):
        raise typer.BadParameter("give either --cache or both --images and --masks")
    path = out or checkpoint.parent / "eval.parquet"
    check_replaceable(path, is_parquet_with(EVAL_COLUMNS), "gradseg eval", overwrite)
    dev = pick_device(device)
    model, config = load_model(checkpoint, dev)
    opts = _image_options(config, window, slice_axis, slice_base, flip, label)
    id_list = _ids_option(ids)
    with Progress(console=Console(stderr=True), disable=as_json, transient=True) as prog:
        task = prog.add_task("eval", total=None)

        def advance(n: int) -> None:
            prog.advance(task, n)

        if cache is not None:
            rows, extra = evaluate_cache(model, config, cache, id_list, advance=advance)
        else:
            rows, extra = evaluate_folders(model, config, images, masks, id_list,
                                           advance=advance, options=opts)
    summary = summarize(rows, extra)
    write_parquet(rows, path)
    summary.update({"checkpoint": str(checkpoint), "method": config["method"],
                    "parquet": str(path)})
    if as_json:
        print(json.dumps(summary))
        return
    table = Table(title="gradseg eval")
    table.add_column("item")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    Console().print(table)


@app.command()
def predict(
    checkpoint: Path = typer.Option(..., help="Checkpoint (e.g. runs/NAME/best.pt)."),
    images: Path = typer.Option(..., help="Folder of images (png/jpg/bmp/tif, DICOM, NIfTI, "
                                "NRRD)."),
    out: Path = typer.Option(..., help="Folder for <id>.png masks and <id>_overlay.png "
                             "(not inside --images)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing <id>.png and "
                                   "<id>_overlay.png files in --out (else refused)."),
    # --- image options (see _image_options) ---
    window: str = typer.Option(None, "--window", metavar="C,W|auto|minmax", help=_WINDOW_HELP),
    slice_axis: int = typer.Option(None, "--slice-axis", min=0, max=2, help=_SLICE_AXIS_HELP),
    slice_base: int = typer.Option(None, "--slice-base", min=0, max=1, help=_SLICE_BASE_HELP),
    flip: bool = typer.Option(None, "--flip/--no-flip", help=_FLIP_HELP),
) -> None:
    """Write a 0/255 PNG mask per image at the image's own size, plus an overlay picture."""
    from rich.console import Console
    from rich.progress import track

    from gradseg.checkpoint import load_model
    from gradseg.predict import check_out, iter_predictions, list_images, write_prediction
    from gradseg.train import pick_device

    model, config = load_model(checkpoint, pick_device(device))
    opts = _image_options(config, window, slice_axis, slice_base, flip, None)
    files = list_images(images, opts)
    for note in check_out(images, out, list(files), overwrite):  # before anything is written
        Console(stderr=True).print(f"note: {note}", markup=False, soft_wrap=True)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for key, rgb, mask in track(iter_predictions(model, config, files, options=opts),
                                total=len(files),
                                description="predict", console=Console(stderr=True)):
        write_prediction(out, key, rgb, mask)
        n += 1
    Console().print(f"wrote {n} masks and {n} overlays to {out}")


def _one_line(exc: BaseException) -> str:
    """The error's message on one line.

    A DataLoader worker's error comes back as "Caught X in DataLoader worker process N." plus
    the worker's traceback; its last line holds the original message.
    """
    text = str(exc)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and "Original Traceback" in text:
        import re

        return re.sub(r"^[\w.]+: ", "", lines[-1], count=1)
    return " ".join(ln.strip() for ln in lines)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: usage errors exit 2, failures exit 1 with a one-line cause on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    # --verbose is accepted anywhere on the line, not only before the sub-command.
    verbose = "--verbose" in args
    args = [a for a in args if a != "--verbose"]
    try:
        # standalone mode: typer itself turns usage errors into exit code 2.
        app(args=args, prog_name="gradseg")
    except KeyboardInterrupt:
        print("gradseg: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line and exit code 1
        if verbose:
            traceback.print_exc()
        print(f"gradseg: error: {_one_line(exc)}", file=sys.stderr)
        if not verbose:
            print("(run again with --verbose for the traceback)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
