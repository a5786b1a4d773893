"""The ``gradseg`` console script: train, eval and predict.

Each command turns its options into a call of the library (:mod:`gradseg.train`,
:mod:`gradseg.evaluate`, :mod:`gradseg.predict`); torch and the other heavy libraries are
imported inside the commands so that ``gradseg --help`` is instant.
"""

from __future__ import annotations

import inspect
import json
import sys
import traceback
from pathlib import Path
from typing import Literal

import typer

from gazeprep.contract.command import (
    VERBOSE_HELP,
    Command,
    Group,
    interrupted,
    quick_exit,
    say_interrupted,
)
from gradseg import protocol_cli as proto
from gradseg import refine_cli
from gradseg.errors import one_line
from gradseg.options import (
    DEVICE_HELP,
    DEVICE_METAVAR,
    FGI_PANEL,
    FLIP_HELP,
    LABEL_HELP,
    MAP_ORDER_NAMES,
    METHOD_NAMES,
    MODEL_HELP,
    SLICE_AXIS_HELP,
    SLICE_BASE_HELP,
    TEXT_HELP,
    TEXT_MISSING_HELP,
    VAL_TARGET_NAMES,
    WINDOW_HELP,
    block_sides,
    device_choice,
    fgi_help,
    fgi_sets,
    ids_option,
    image_options,
    number,
    print_table,
    split_val_ids,
    thresholds,
)
from gradseg.settings import TEXT_MISSING, TrainConfig
from gradseg.settings import fgi as fgi_settings

app = typer.Typer(
    name="gradseg",
    cls=Group,
    help="Train and evaluate Track Attention U-Nets on gaze track maps from a gazeprep cache.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Every default of ``train`` is a TrainConfig default (one home: gradseg.settings).
_D = TrainConfig(cache="")
#: Help panels of ``train``.
DATA, MODEL, OPTIM, RUN = "Data", "Model", "Optimisation", "Run"

Method = Literal[METHOD_NAMES]
MapOrder = Literal[MAP_ORDER_NAMES]
ValTarget = Literal[VAL_TARGET_NAMES]
Network = Literal[fgi_settings.INFER]
TextMissing = Literal[TEXT_MISSING]


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
) -> None:
    """Train and evaluate Track Attention U-Nets on gaze track maps from a gazeprep cache."""


@app.command(cls=Command)
def train(
    ctx: typer.Context,
    cache: Path = typer.Option(None, help="Zarr cache written by `gazeprep render` (required: "
                               "here or in --config)."),
    method: Method = typer.Option(_D.method, help="Training method (docs: Train)."),
    size: int = typer.Option(_D.size, min=8, max=16384, help="Model input side in pixels "
                             "(default: the cache size); must be divisible by 2**levels."),
    iterations: int = typer.Option(_D.iterations, min=1,
                                   help="Optimizer steps (default: 10 epochs)."),
    config: Path = typer.Option(None, "--config", help="Settings file: TOML, YAML, or a run's "
                                "config.json (keys as in config.json); options given on the "
                                "command line override it."),
    out: Path = typer.Option(None, help="Run folder (default runs/<method>)."),
    epochs: int = typer.Option(_D.epochs, min=1, help="Epochs instead of --iterations."),
    batch_size: int = typer.Option(_D.batch_size, min=1, max=65536,
                                   help="Images per step and per process."),
    val_fraction: float = typer.Option(_D.val_fraction, callback=number(0, 1, hi_open=True),
                                       help="Fraction of the training ids kept for validation "
                                       "(seeded id split), in [0, 1)."),
    seed: int = typer.Option(_D.seed,
                             help="Seed of initialisation, split, order and augmentation."),
    device: str = typer.Option(_D.device, metavar=DEVICE_METAVAR, callback=device_choice,
                               help=DEVICE_HELP),
    amp: bool = typer.Option(_D.amp, "--amp/--no-amp", help="bf16 autocast (default: on GPU)."),
    compile: bool = typer.Option(_D.compile, "--compile", help="torch.compile the model."),
    resume: bool = typer.Option(False, "--resume", help="Continue from <out>/last.pt."),
    lr: float = typer.Option(_D.lr, callback=number(0, 10, lo_open=True),
                             help="Peak AdamW learning rate (warm-up then cosine)."),
    warmup: int = typer.Option(_D.warmup, min=0, help="Linear learning-rate warm-up steps."),
    base_channels: int = typer.Option(_D.base_channels, min=1, max=4096,
                                      help="U-Net channels at full resolution (FGI: the "
                                      "student's)."),
    workers: int = typer.Option(_D.workers, min=0, help="DataLoader workers (default: 0 on CPU, up "
                                "to 8 on GPU)."),
    in_memory: bool = typer.Option(_D.in_memory, "--in-memory",
                                   help="Read the cache into RAM once."),
    augment: bool = typer.Option(_D.augment, "--augment/--no-augment", help="Flips, random resized "
                                 "crop and rotation."),
    seg_weight: float = typer.Option(_D.seg_weight, callback=number(0, 1e6),
                                     help="Weight of the final-head loss."),
    att_weight: float = typer.Option(_D.att_weight, callback=number(0, 1e6),
                                     help="gradtrack(+fgi): weight of the attention losses."),
    consistency_weight: float = typer.Option(_D.consistency_weight, callback=number(0, 1e6),
                                             help="gazesup: cross-level consistency weight."),
    thresholds_: str = typer.Option(",".join(f"{t:g}" for t in _D.thresholds), "--thresholds",
                                    callback=thresholds,
                                    help="gazesup, fgi: heatmap thresholds in (0, 1), one head "
                                    "(gazesup) or pseudo-mask (fgi) each."),
    map_order: MapOrder = typer.Option(_D.map_order, help="gradtrack: whole-first (coarsest "
                                       "stage <- whole track, finest <- tail) or tail-first."),
    val_target: ValTarget = typer.Option(
        _D.val_target, help="Validation Dice against: auto (mask when the cache has masks) | mask "
        "(needs masks) | pseudo."),
    eval_every: int = typer.Option(_D.eval_every, min=1, help="Validate every N iterations."),
    checkpoint_every: int = typer.Option(_D.checkpoint_every, min=1,
                                         help="Write last.pt every N iterations."),
    test_ids: Path = typer.Option(None, "--test-ids", "--exclude-ids", help="File of ids (one a "
                                  "line) held out: never trained or validated on."),
    val_ids: Path = typer.Option(None, "--val-ids", help="File of validation ids (one a line) "
                                 "instead of a seeded --val-fraction draw. Default: val.txt "
                                 "beside --test-ids when that comes from `gazeprep split`."),
    stop_after: int = typer.Option(None, min=1, help="Stop after N iterations in this "
                                   "invocation (continue later with --resume)."),
    threads: int = typer.Option(_D.threads, min=1, help="CPU threads for torch (default: the CPUs "
                                "not busy, from the load average; at least 1)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress (bar or lines)."),
    # --- FGI (gradseg.settings.fgi.FGIConfig; None = FGI's default, stated from there) ---
    text: Path = typer.Option(None, "--text", rich_help_panel=FGI_PANEL, help="Text cues of "
                              "the training images for the teacher: a Parquet table (image, "
                              "embedding) or a folder of <id>.npy (docs: Train). Without it "
                              "the teacher is image-only."),
    text_missing: TextMissing = typer.Option(_D.text_missing, rich_help_panel=FGI_PANEL,
                                             help=TEXT_MISSING_HELP),
    sets: list[str] = typer.Option(None, "--set", metavar="fgi.KEY=VALUE",
                                   rich_help_panel=FGI_PANEL, help="Any FGI setting by its "
                                   "config.json name, repeatable: " + ", ".join(
                                       fgi_settings.FGIConfig.own_names()[:-2]) + "."),
    fgi_source: Literal[fgi_settings.SOURCES] = typer.Option(
        None, rich_help_panel=FGI_PANEL, help=fgi_help(
            "source", "Strict/loose pseudo-masks from the heatmap levels (--thresholds) or "
            "the track maps (auto: heatmap for fgi, tracks for gradtrack+fgi)")),
    fgi_track_loose: float = typer.Option(None, callback=number(0, 1, hi_open=True),
                                          rich_help_panel=FGI_PANEL, help=fgi_help(
                                              "track_loose", "tracks source: mean-track-map "
                                              "level of the loose mask")),
    fgi_darm_ratio: float = typer.Option(None, callback=number(0, 1), rich_help_panel=FGI_PANEL,
                                         help=fgi_help("darm_ratio", "DARM block area / "
                                                       "uncertain pixels")),
    fgi_darm_block: str = typer.Option(None, callback=block_sides, metavar="MIN,MAX",
                                       rich_help_panel=FGI_PANEL, help=fgi_help(
                                           "darm_block", "DARM block sides, pixels")),
    fgi_darm_fill: Literal[fgi_settings.DARM_FILLS] = typer.Option(
        None, rich_help_panel=FGI_PANEL, help=fgi_help(
            "darm_fill", "Fill of DARM blocks (imagenet: the ImageNet mean colour)")),
    fgi_noise: float = typer.Option(None, callback=number(0, 10), rich_help_panel=FGI_PANEL,
                                    help=fgi_help("noise", "Half-width of the input noise, "
                                                  "normalised units")),
    fgi_cutmix_beta: int = typer.Option(None, min=1, max=64, rich_help_panel=FGI_PANEL,
                                        help=fgi_help("cutmix_beta",
                                                      "CutMix area ratio ~ Beta(a, a)")),
    fgi_cps_pos: float = typer.Option(None, callback=number(0.5, 1), rich_help_panel=FGI_PANEL,
                                      help=fgi_help("cps_pos", "Cross supervision: confident "
                                                    "when p >= this")),
    fgi_cps_neg: float = typer.Option(None, callback=number(0, 0.5), rich_help_panel=FGI_PANEL,
                                      help=fgi_help("cps_neg", "Cross supervision: "
                                                    "complementary term below this")),
    fgi_feat_beta: float = typer.Option(None, callback=number(0, 1e6), rich_help_panel=FGI_PANEL,
                                        help=fgi_help("feat_beta",
                                                      "Scale of the distillation loss")),
    fgi_feat_weight: float = typer.Option(None, callback=number(0, 1e6),
                                          rich_help_panel=FGI_PANEL, help=fgi_help(
                                              "feat_weight", "Weight of the distillation "
                                              "loss, times the ramp-up")),
    fgi_rampup_iters: int = typer.Option(None, min=0, rich_help_panel=FGI_PANEL,
                                         help=fgi_help("rampup_iters", "Ramp-up length of "
                                                       "the cross terms, steps")),
    fgi_rampup_gain: float = typer.Option(None, callback=number(0, 1e3),
                                          rich_help_panel=FGI_PANEL, help=fgi_help(
                                              "rampup_gain", "Ramp-up exp(-gain (1 - t/T)^2)")),
    fgi_sup_loss: Literal[fgi_settings.SUP_LOSSES] = typer.Option(
        None, rich_help_panel=FGI_PANEL, help=fgi_help(
            "sup_loss", "Supervised loss on the pseudo-masks")),
    fgi_teacher_width: int = typer.Option(None, min=1, max=64, rich_help_panel=FGI_PANEL,
                                          help=fgi_help("teacher_width", "Teacher channels / "
                                                        "student channels")),
    fgi_norm: Literal[fgi_settings.NORMS] = typer.Option(
        None, rich_help_panel=FGI_PANEL, help=fgi_help("norm", "Norm of both U-Nets")),
    fgi_proj_norm: Literal[fgi_settings.NORMS] = typer.Option(
        None, rich_help_panel=FGI_PANEL, help=fgi_help("proj_norm",
                                                       "Norm of the projection blocks")),
    fgi_heads: int = typer.Option(None, min=1, max=64, rich_help_panel=FGI_PANEL,
                                  help=fgi_help("heads", "Attention heads of the text fusion")),
    fgi_pos_grid: int = typer.Option(None, min=1, max=256, rich_help_panel=FGI_PANEL,
                                     help=fgi_help("pos_grid", "Side of the positional-"
                                                   "embedding grid")),
    # --- the published protocol and the GPU data path (gradseg.protocol_cli) ---
    protocol: proto.Protocol = proto.PROTOCOL,
    optimizer: proto.Optimizer = proto.OPTIMIZER,
    lr_min: float = proto.LR_MIN,
    weight_decay: float = proto.WEIGHT_DECAY,
    grad_clip: float = proto.GRAD_CLIP,
    norm: proto.Norm = proto.NORM,
    augmentation: proto.Augmentation = proto.AUGMENTATION,
    seg_target: proto.SegTarget = proto.SEG_TARGET,
    labels: str = typer.Option(None, "--labels", help="Train on this labels array of the cache "
                               "(`gradseg refine` writes them; `gazeprep score` lists them) "
                               "instead of the render's pseudo-masks."),
    channels_last: bool = proto.CHANNELS_LAST,
    log_every: int = proto.LOG_EVERY,
    prefetch: int = proto.PREFETCH,
) -> None:
    """Train a segmentation model on a gazeprep cache (DDP when started by torchrun)."""
    import os

    from rich.console import Console

    from gradseg.config import merge_settings, read_config_file
    from gradseg.train import TrainConfig
    from gradseg.train import train as run

    settings, given = _train_settings(ctx)
    file = read_config_file(config) if config is not None else {}
    merged = merge_settings(settings, file, given)
    console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
    if not merged["val_ids"] and "val_fraction" not in given:
        merged["val_ids"] = split_val_ids(ctx.params.get("test_ids"), console.print)
    if merged["iterations"] is not None and merged["epochs"] is not None:
        raise typer.BadParameter("give --iterations or --epochs, not both")
    if merged["cache"] is None:
        raise typer.BadParameter("missing: give --cache or a cache setting in --config",
                                 param_hint="'--cache'")
    merged["out"] = merged["out"] or str(Path("runs") / merged["method"])
    cfg = TrainConfig(**merged)
    # the preset fills in only what neither the command line nor the --config file set
    cfg = proto.with_protocol(cfg, protocol, proto.given_options(ctx) | set(file))
    summary = run(cfg, resume=resume, stop_after=stop_after, progress=not quiet,
                  log=console.print)
    if os.environ.get("RANK", "0") == "0":
        # best_val_dice repeats best_val_dice_vs_<target> for scripts: shown once, named
        print_table(f"gradseg train: {summary['method']}",
                    {k: v for k, v in summary.items() if k != "best_val_dice"})


#: The help panel of each of ``train``'s options (FGI's and the protocol's have their own).
_PANELS = {
    DATA: ("cache", "size", "val_fraction", "test_ids", "val_ids", "workers", "in_memory",
           "augment"),
    MODEL: ("method", "base_channels", "map_order"),
    OPTIM: ("iterations", "epochs", "batch_size", "lr", "warmup", "seg_weight", "att_weight",
            "consistency_weight", "thresholds_"),
    RUN: ("config", "out", "seed", "device", "amp", "compile", "resume", "val_target",
          "eval_every", "checkpoint_every", "stop_after", "threads", "quiet"),
}
for _panel, _names in _PANELS.items():
    for _name in _names:
        inspect.signature(train).parameters[_name].default.rich_help_panel = _panel


#: Options of ``train`` that are not settings of the run (not in config.json).
_NOT_SETTINGS = ("config", "resume", "stop_after", "quiet", "protocol", "sets")
#: Options whose setting has another name in TrainConfig.
_SETTING_NAMES = {"thresholds_": "thresholds", "test_ids": "exclude_ids"}



def _train_settings(ctx: typer.Context) -> tuple[dict, dict]:
    """``train``'s options as TrainConfig settings: (all of them, those given on the command
    line). Which were given comes from click's parameter source, so a flag repeating its
    default still overrides a --config file."""
    settings, fgi = {}, {}
    for name, value in ctx.params.items():
        if name in _NOT_SETTINGS:
            continue
        if name.startswith("fgi_"):
            if value is not None:
                fgi[name[4:]] = value
            continue
        if isinstance(value, Path):
            value = str(value)
        if name == "thresholds_":
            value = [float(t) for t in value.split(",") if t.strip()]
        elif name in ("test_ids", "val_ids"):
            path, value = value, ids_option(None if value is None else Path(value)) or []
            if name == "val_ids" and path is not None and not value:
                raise typer.BadParameter(
                    f"{path} holds no id; expected the validation ids, one a line (leave "
                    "--val-ids out for a --val-fraction draw)", param_hint="'--val-ids'")
        settings[_SETTING_NAMES.get(name, name)] = value
    for name, value in fgi_sets(ctx.params.get("sets")).items():
        if name in fgi:
            raise typer.BadParameter(f"fgi.{name} is given twice (--fgi-"
                                     f"{name.replace('_', '-')} and --set)", param_hint="'--set'")
        fgi[name] = value
    settings["fgi"] = fgi
    sources = {name: ctx.get_parameter_source(name) for name in ctx.params}
    given = {_SETTING_NAMES.get(n, n) for n, src in sources.items()
             if src is not None and src.name in ("COMMANDLINE", "ENVIRONMENT")}
    return settings, {k: v for k, v in settings.items() if k in given or (k == "fgi" and v)}


app.command("bench", cls=Command)(proto.bench)
app.command("refine", cls=Command)(refine_cli.refine)


@app.command("eval", cls=Command)
def eval_(
    checkpoint: Path = typer.Option(..., help="Checkpoint (e.g. runs/NAME/best.pt)."),
    cache: Path = typer.Option(None, help="Evaluate on this cache's masks (masks at the cache "
                               "size; HD95 in the original images' pixels)."),
    images: Path = typer.Option(None, help="Folder of images (with --masks; original size)."),
    masks: Path = typer.Option(None, help="Folder of ground-truth masks, same file stems."),
    ids: Path = typer.Option(None, help="File of ids (one a line) to evaluate, e.g. a test set."),
    out: Path = typer.Option(None, help="Per-image Parquet (default: eval.parquet next to "
                             "the checkpoint); an earlier eval output there is replaced."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (means + counts)."),
    device: str = typer.Option("auto", metavar=DEVICE_METAVAR, callback=device_choice,
                               help=DEVICE_HELP),
    model_: Network = typer.Option("student", "--model", help=MODEL_HELP),
    text: Path = typer.Option(None, "--text", help=TEXT_HELP),
    text_missing: TextMissing = typer.Option("error", help=TEXT_MISSING_HELP),
    # --- image options (see gradseg.options.image_options) ---
    window: str = typer.Option(None, "--window", metavar="C,W|auto|minmax", help=WINDOW_HELP),
    slice_axis: int = typer.Option(None, "--slice-axis", min=0, max=2, help=SLICE_AXIS_HELP),
    slice_base: int = typer.Option(None, "--slice-base", min=0, max=1, help=SLICE_BASE_HELP),
    flip: bool = typer.Option(None, "--flip/--no-flip", help=FLIP_HELP),
    label: int = typer.Option(None, "--label", min=0, max=65535, help=LABEL_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out even when it is "
                                   "not an earlier eval output."),
) -> None:
    """Per-image Dice, IoU and HD95 of a checkpoint against ground-truth masks; HD95 in the
    original image's pixels (hd95) and, when the image files give a pixel spacing, in mm
    (hd95_mm). The per-image table's id column is `image`."""
    from gazeprep.contract.progress import Progress
    from gradseg.checkpoint import load_model
    from gradseg.device import pick_device, use_threads
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
    use_threads()
    model, config = load_model(checkpoint, pick_device(device))
    cues = choose_network(model, config, model_, text, text_missing)
    opts = image_options(config, window, slice_axis, slice_base, flip, label)
    id_list = ids_option(ids)
    with Progress("eval", len(id_list) if id_list else None, unit="images") as bar:
        if cache is not None:
            rows, extra = evaluate_cache(model, config, cache, id_list, advance=bar.advance,
                                         cues=cues)
        else:
            rows, extra = evaluate_folders(model, config, images, masks, id_list,
                                           advance=bar.advance, options=opts, cues=cues)
    summary = summarise(rows, extra)
    write_parquet(rows, path)
    summary.update({"checkpoint": str(checkpoint), "method": config["method"],
                    "parquet": str(path)})
    if config["method"] in fgi_settings.FGI_METHODS:  # two networks: say which one predicted
        summary["model"] = model_
    if as_json:
        print(json.dumps(summary))
    else:
        print_table("gradseg eval", summary)


@app.command(cls=Command)
def predict(
    checkpoint: Path = typer.Option(..., help="Checkpoint (e.g. runs/NAME/best.pt)."),
    images: Path = typer.Option(..., help="Folder of images (png/jpg/bmp/tif, DICOM, NIfTI, "
                                "NRRD)."),
    out: Path = typer.Option(..., help="Folder for the masks (<id>.png; for a NIfTI/NRRD "
                             "volume or DICOM series one <scan>.nii.gz in its geometry) and "
                             "<id>_overlay.png (not inside --images)."),
    threshold: float = typer.Option(0.5, callback=number(0, 1, lo_open=True, hi_open=True),
                                    help="Foreground where the probability is >= this."),
    save_probabilities: bool = typer.Option(False, "--save-probabilities", help="Also write "
                                            "each image's foreground probabilities (float32): "
                                            "<id>_probabilities.npy, or "
                                            "<scan>_probabilities.nii.gz for radiology."),
    dicom_seg: bool = typer.Option(False, "--dicom-seg", help="Also write each DICOM series "
                                   "or multi-frame file's mask as a DICOM Segmentation, "
                                   "<scan>.seg.dcm, referencing the source images."),
    ids: Path = typer.Option(None, help="File of ids (one a line) to predict, e.g. a split's "
                             "test.txt (default: every image in --images)."),
    device: str = typer.Option("auto", metavar=DEVICE_METAVAR, callback=device_choice,
                               help=DEVICE_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files "
                                   "of those names in --out (else refused)."),
    model_: Network = typer.Option("student", "--model", help=MODEL_HELP),
    text: Path = typer.Option(None, "--text", help=TEXT_HELP),
    text_missing: TextMissing = typer.Option("error", help=TEXT_MISSING_HELP),
    # --- image options (see gradseg.options.image_options) ---
    window: str = typer.Option(None, "--window", metavar="C,W|auto|minmax", help=WINDOW_HELP),
    slice_axis: int = typer.Option(None, "--slice-axis", min=0, max=2, help=SLICE_AXIS_HELP),
    slice_base: int = typer.Option(None, "--slice-base", min=0, max=1, help=SLICE_BASE_HELP),
    flip: bool = typer.Option(None, "--flip/--no-flip", help=FLIP_HELP),
) -> None:
    """Write a mask per image at the image's own size (0/255 PNG for photographs), one 0/1
    NIfTI mask per scan for radiology (a NIfTI/NRRD volume, a DICOM series or multi-frame
    file) in the scan's own geometry, plus an overlay picture per image."""
    from rich.console import Console

    from gradseg.checkpoint import load_model
    from gradseg.device import pick_device, use_threads
    from gradseg.predict import choose_network, list_images, select_images
    from gradseg.predict_volumes import run_predict

    id_list = ids_option(ids)
    use_threads()
    model, config = load_model(checkpoint, pick_device(device))
    cues = choose_network(model, config, model_, text, text_missing)
    opts = image_options(config, window, slice_axis, slice_base, flip, None)
    folder = list_images(images, opts)
    files = select_images(folder, id_list, images)
    err = Console(stderr=True)
    n = run_predict(model, config, images, folder, files, out, threshold=threshold,
                    probabilities=save_probabilities, overwrite=overwrite, options=opts,
                    cues=cues, dicom_seg=dicom_seg,
                    say=lambda line: err.print(f"note: {line}", markup=False, soft_wrap=True))
    extra = " and probabilities" if save_probabilities else ""
    Console().print(f"wrote {n['volumes']} volume masks, {n['images']} image masks, "
                    f"{n['overlays']} overlays{extra} to {out} (threshold {threshold:g})",
                    soft_wrap=True, markup=False)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: usage errors exit 2, failures exit 1 with a one-line cause on stderr."""
    quick_exit()
    args = list(sys.argv[1:] if argv is None else argv)
    # --verbose is accepted anywhere on the line, not only before the sub-command.
    verbose = "--verbose" in args
    args = [a for a in args if a != "--verbose"]
    try:
        # standalone mode: typer itself turns usage errors into exit code 2.
        app(args=args, prog_name="gradseg")
    except KeyboardInterrupt:
        say_interrupted("gradseg")
        sys.exit(130)
    except SystemExit as exc:  # typer's exit 130 for Ctrl-C during a command
        if exc.code == 130 and interrupted(exc):
            say_interrupted("gradseg")
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line and exit code 1
        if verbose:
            traceback.print_exc()
        print(f"gradseg: error: {one_line(exc)}", file=sys.stderr)
        if not verbose:
            print("(run again with --verbose for the traceback)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
