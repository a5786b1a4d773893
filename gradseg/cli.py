"""The ``gradseg`` console script: train, eval and predict.

Each command turns its options into a call of the library (:mod:`gradseg.train`,
:mod:`gradseg.evaluate`, :mod:`gradseg.predict`); torch and the other heavy libraries are
imported inside the commands so that ``gradseg --help`` is instant.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Literal

import typer

from gradseg import protocol_cli as proto
from gradseg.options import (
    FGI_PANEL,
    FLIP_HELP,
    LABEL_HELP,
    MODEL_HELP,
    SLICE_AXIS_HELP,
    SLICE_BASE_HELP,
    TEXT_HELP,
    TEXT_MISSING_HELP,
    WINDOW_HELP,
    block_sides,
    ids_option,
    image_options,
    number,
    print_table,
    thresholds,
)

app = typer.Typer(
    name="gradseg",
    help="Train and evaluate Track Attention U-Nets on gaze track maps from a gazeprep cache.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

Method = Literal["gradtrack", "gazesup", "full", "fgi", "gradtrack+fgi"]
Network = Literal["student", "teacher", "ensemble"]
TextMissing = Literal["error", "zero"]


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", help="Show the full traceback on errors."),
) -> None:
    """Train and evaluate Track Attention U-Nets on gaze track maps from a gazeprep cache."""


@app.command()
def train(
    ctx: typer.Context,
    cache: Path = typer.Option(..., help="Zarr cache written by `gazeprep render`."),
    out: Path = typer.Option(None, help="Run folder (default runs/<method>)."),
    method: Method = typer.Option("gradtrack", help="gradtrack | gazesup | full | fgi | "
                                  "gradtrack+fgi."),
    size: int = typer.Option(None, min=8, max=16384, help="Model input side in pixels "
                             "(default: the cache size); must be divisible by 2**levels."),
    iterations: int = typer.Option(None, min=1, help="Optimizer steps (default: 10 epochs)."),
    epochs: int = typer.Option(None, min=1, help="Epochs instead of --iterations."),
    batch_size: int = typer.Option(8, min=1, max=65536,
                                   help="Images per step and per process."),
    val_fraction: float = typer.Option(0.1, callback=number(0, 1, hi_open=True),
                                       help="Fraction of the training ids kept for validation "
                                       "(seeded id split), in [0, 1)."),
    seed: int = typer.Option(0, help="Seed of initialisation, split, order and augmentation."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N."),
    amp: bool = typer.Option(None, "--amp/--no-amp", help="bf16 autocast (default: on GPU)."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the model."),
    resume: bool = typer.Option(False, "--resume", help="Continue from <out>/last.pt."),
    lr: float = typer.Option(1e-3, callback=number(0, 10, lo_open=True),
                             help="Peak AdamW learning rate (warm-up then cosine)."),
    warmup: int = typer.Option(50, min=0, help="Linear learning-rate warm-up steps."),
    base_channels: int = typer.Option(32, min=1, max=4096,
                                      help="U-Net channels at full resolution (FGI: the "
                                      "student's)."),
    workers: int = typer.Option(None, min=0, help="DataLoader workers (default: 0 on CPU, up "
                                "to 8 on GPU)."),
    in_memory: bool = typer.Option(False, "--in-memory", help="Read the cache into RAM once."),
    augment: bool = typer.Option(True, "--augment/--no-augment", help="Flips, random resized "
                                 "crop and rotation."),
    seg_weight: float = typer.Option(1.0, callback=number(0, 1e6),
                                     help="Weight of the final-head loss."),
    att_weight: float = typer.Option(0.5, callback=number(0, 1e6),
                                     help="gradtrack(+fgi): weight of the attention losses."),
    consistency_weight: float = typer.Option(1.0, callback=number(0, 1e6),
                                             help="gazesup: cross-level consistency weight."),
    thresholds_: str = typer.Option("0.5,0.3", "--thresholds", callback=thresholds,
                                    help="gazesup, fgi: heatmap thresholds in (0, 1), one head "
                                    "(gazesup) or pseudo-mask (fgi) each."),
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
    # --- FGI (gradseg.methods.fgi.config.FGIConfig; None = FGI's default) ---
    text: Path = typer.Option(None, "--text", rich_help_panel=FGI_PANEL, help="Text cues of "
                              "the training images for the teacher: a Parquet table (image, "
                              "embedding) or a folder of <id>.npy (see README). Without it "
                              "the teacher is image-only."),
    text_missing: TextMissing = typer.Option("error", rich_help_panel=FGI_PANEL,
                                             help=TEXT_MISSING_HELP),
    fgi_source: Literal["auto", "heatmap", "tracks"] = typer.Option(
        None, rich_help_panel=FGI_PANEL, help="Strict/loose pseudo-masks from the heatmap "
        "levels (--thresholds) or from the track maps (auto: heatmap for fgi, tracks for "
        "gradtrack+fgi)."),
    fgi_track_loose: float = typer.Option(None, callback=number(0, 1, hi_open=True),
                                          rich_help_panel=FGI_PANEL, help="tracks source: "
                                          "mean-track-map level of the loose mask (FGI: 0.3)."),
    fgi_darm_ratio: float = typer.Option(None, callback=number(0, 1), rich_help_panel=FGI_PANEL,
                                         help="DARM block area / uncertain pixels (FGI: 0.3)."),
    fgi_darm_block: str = typer.Option(None, callback=block_sides, metavar="MIN,MAX",
                                       rich_help_panel=FGI_PANEL, help="DARM block sides, "
                                       "pixels (FGI: 3,10)."),
    fgi_darm_fill: Literal["imagenet", "image"] = typer.Option(
        None, rich_help_panel=FGI_PANEL, help="Fill of DARM blocks (FGI: imagenet mean colour)."),
    fgi_noise: float = typer.Option(None, callback=number(0, 10), rich_help_panel=FGI_PANEL,
                                    help="Half-width of the input noise, normalised units "
                                    "(FGI: 0.2)."),
    fgi_cutmix_beta: int = typer.Option(None, min=1, max=64, rich_help_panel=FGI_PANEL,
                                        help="CutMix area ratio ~ Beta(a, a) (FGI: 4)."),
    fgi_cps_pos: float = typer.Option(None, callback=number(0.5, 1), rich_help_panel=FGI_PANEL,
                                      help="Cross supervision: confident when p >= this "
                                      "(FGI: 0.8)."),
    fgi_cps_neg: float = typer.Option(None, callback=number(0, 0.5), rich_help_panel=FGI_PANEL,
                                      help="Cross supervision: complementary term below this "
                                      "(FGI: 0.2)."),
    fgi_feat_beta: float = typer.Option(None, callback=number(0, 1e6), rich_help_panel=FGI_PANEL,
                                        help="Scale of the distillation loss (FGI: 0.5)."),
    fgi_feat_weight: float = typer.Option(None, callback=number(0, 1e6),
                                          rich_help_panel=FGI_PANEL, help="Weight of the "
                                          "distillation loss, times the ramp-up (FGI: 0.1)."),
    fgi_rampup_iters: int = typer.Option(None, min=0, rich_help_panel=FGI_PANEL,
                                         help="Ramp-up length of the cross terms, steps "
                                         "(FGI: 4000)."),
    fgi_rampup_gain: float = typer.Option(None, callback=number(0, 1e3),
                                          rich_help_panel=FGI_PANEL, help="Ramp-up "
                                          "exp(-gain (1 - t/T)^2) (FGI: 5)."),
    fgi_sup_loss: Literal["bce", "bce+dice"] = typer.Option(
        None, rich_help_panel=FGI_PANEL, help="Supervised loss on the pseudo-masks (FGI: bce)."),
    fgi_teacher_width: int = typer.Option(None, min=1, max=64, rich_help_panel=FGI_PANEL,
                                          help="Teacher channels / student channels (FGI: 2)."),
    fgi_norm: Literal["group", "batch"] = typer.Option(
        None, rich_help_panel=FGI_PANEL, help="Norm of both U-Nets (FGI: group)."),
    fgi_proj_norm: Literal["batch", "group"] = typer.Option(
        None, rich_help_panel=FGI_PANEL, help="Norm of the projection blocks (FGI: batch)."),
    fgi_heads: int = typer.Option(None, min=1, max=64, rich_help_panel=FGI_PANEL,
                                  help="Attention heads of the text fusion (FGI: 8)."),
    fgi_pos_grid: int = typer.Option(None, min=1, max=256, rich_help_panel=FGI_PANEL,
                                     help="Side of the positional-embedding grid (FGI: 16)."),
    # --- the published protocol and the GPU data path (gradseg.protocol_cli) ---
    protocol: proto.Protocol = proto.PROTOCOL,
    optimizer: proto.Optimizer = proto.OPTIMIZER,
    lr_min: float = proto.LR_MIN,
    weight_decay: float = proto.WEIGHT_DECAY,
    grad_clip: float = proto.GRAD_CLIP,
    norm: proto.Norm = proto.NORM,
    augmentation: proto.Augmentation = proto.AUGMENTATION,
    seg_target: proto.SegTarget = proto.SEG_TARGET,
    channels_last: bool = proto.CHANNELS_LAST,
    log_every: int = proto.LOG_EVERY,
    prefetch: int = proto.PREFETCH,
) -> None:
    """Train a segmentation model on a gazeprep cache (DDP when started by torchrun)."""
    given = dict(locals())  # the --fgi-* options given on the command line (None: the default)
    fgi = {k[4:]: v for k, v in given.items() if k.startswith("fgi_") and v is not None}
    import os

    from rich.console import Console

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
        thresholds=[float(t) for t in thresholds_.split(",") if t.strip()],
        map_order=map_order, val_target=val_target, eval_every=eval_every,
        checkpoint_every=checkpoint_every, exclude_ids=ids_option(test_ids) or [],
        threads=threads, text=None if text is None else str(text), text_missing=text_missing,
        fgi=fgi, **{k: given[k] for k in proto.FIELDS},
    )
    cfg = proto.with_protocol(cfg, protocol, ctx)
    summary = run(cfg, resume=resume, stop_after=stop_after, progress=not quiet,
                  log=Console(stderr=True).print)
    if os.environ.get("RANK", "0") == "0":
        print_table(f"gradseg train: {summary['method']}", summary)


app.command("bench")(proto.bench)


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
    model_: Network = typer.Option("student", "--model", help=MODEL_HELP),
    text: Path = typer.Option(None, "--text", help=TEXT_HELP),
    text_missing: TextMissing = typer.Option("error", help=TEXT_MISSING_HELP),
    # --- image options (see gradseg.options.image_options) ---
    window: str = typer.Option(None, "--window", metavar="C,W|auto|minmax", help=WINDOW_HELP),
    slice_axis: int = typer.Option(None, "--slice-axis", min=0, max=2, help=SLICE_AXIS_HELP),
    slice_base: int = typer.Option(None, "--slice-base", min=0, max=1, help=SLICE_BASE_HELP),
    flip: bool = typer.Option(None, "--flip/--no-flip", help=FLIP_HELP),
    label: int = typer.Option(None, "--label", help=LABEL_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out even when it is "
                                   "not an earlier eval output."),
) -> None:
    """Per-image Dice, IoU and HD95 (pixels) of a checkpoint against ground-truth masks."""
    from rich.console import Console
    from rich.progress import Progress

    from gradseg.checkpoint import load_model
    from gradseg.device import pick_device
    from gradseg.evaluate import (
        EVAL_COLUMNS,
        evaluate_cache,
        evaluate_folders,
        summarise,
        write_parquet,
    )
    from gradseg.outputs import check_replaceable, is_parquet_with
    from gradseg.predict import choose_network

    if (cache is None) == (images is None) or (images is None) != (masks is None):
        raise typer.BadParameter("give either --cache or both --images and --masks")
    path = out or checkpoint.parent / "eval.parquet"
    check_replaceable(path, is_parquet_with(EVAL_COLUMNS), "gradseg eval", overwrite)
    model, config = load_model(checkpoint, pick_device(device))
    cues = choose_network(model, config, model_, text, text_missing)
    opts = image_options(config, window, slice_axis, slice_base, flip, label)
    id_list = ids_option(ids)
    with Progress(console=Console(stderr=True), disable=as_json, transient=True) as prog:
        task = prog.add_task("eval", total=None)

        def advance(n: int) -> None:
            prog.advance(task, n)

        if cache is not None:
            rows, extra = evaluate_cache(model, config, cache, id_list, advance=advance,
                                         cues=cues)
        else:
            rows, extra = evaluate_folders(model, config, images, masks, id_list,
                                           advance=advance, options=opts, cues=cues)
    summary = summarise(rows, extra)
    write_parquet(rows, path)
    summary.update({"checkpoint": str(checkpoint), "method": config["method"],
                    "model": model_, "parquet": str(path)})
    if as_json:
        print(json.dumps(summary))
    else:
        print_table("gradseg eval", summary)


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
    model_: Network = typer.Option("student", "--model", help=MODEL_HELP),
    text: Path = typer.Option(None, "--text", help=TEXT_HELP),
    text_missing: TextMissing = typer.Option("error", help=TEXT_MISSING_HELP),
    # --- image options (see gradseg.options.image_options) ---
    window: str = typer.Option(None, "--window", metavar="C,W|auto|minmax", help=WINDOW_HELP),
    slice_axis: int = typer.Option(None, "--slice-axis", min=0, max=2, help=SLICE_AXIS_HELP),
    slice_base: int = typer.Option(None, "--slice-base", min=0, max=1, help=SLICE_BASE_HELP),
    flip: bool = typer.Option(None, "--flip/--no-flip", help=FLIP_HELP),
) -> None:
    """Write a 0/255 PNG mask per image at the image's own size, plus an overlay picture."""
    from rich.console import Console
    from rich.progress import track

    from gradseg.checkpoint import load_model
    from gradseg.device import pick_device
    from gradseg.predict import (
        check_out,
        choose_network,
        iter_predictions,
        list_images,
        write_prediction,
    )

    model, config = load_model(checkpoint, pick_device(device))
    cues = choose_network(model, config, model_, text, text_missing)
    opts = image_options(config, window, slice_axis, slice_base, flip, None)
    files = list_images(images, opts)
    for note in check_out(images, out, list(files), overwrite):  # before anything is written
        Console(stderr=True).print(f"note: {note}", markup=False, soft_wrap=True)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for key, rgb, mask in track(iter_predictions(model, config, files, options=opts, cues=cues),
                                total=len(files), description="predict",
                                console=Console(stderr=True)):
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
