"""Command-line pieces of the published protocol and the GPU data path (no heavy imports).

``gradseg train``'s options for the protocol (``--protocol paper``, ``--optimizer``,
``--lr-min``, ``--norm``, ``--augmentation``, ``--seg-target``...) and for the data path
(``--channels-last``, ``--log-every``, ``--prefetch``) are declared here, in their own help
panel, and the ``gradseg bench`` command lives here; :mod:`gradseg.cli` registers both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer

from gradseg.options import DEVICE_HELP, DEVICE_METAVAR, device_choice, number
from gradseg.protocol import PAPER
from gradseg.settings import CHOICES, TrainConfig

#: Help panel of the options below.
PANEL = "Protocol and GPU data path"
Protocol = Literal["paper", "none"]
Optimizer = Literal[CHOICES["optimizer"]]
Norm = Literal[CHOICES["norm"]]
Augmentation = Literal[CHOICES["augmentation"]]
SegTarget = Literal[CHOICES["seg_target"]]
#: The defaults of the options below are TrainConfig's (one home: gradseg.settings).
_D = TrainConfig(cache="")

PROTOCOL = typer.Option(
    None, "--protocol", rich_help_panel=PANEL, help="paper: the published protocol ("
    + ", ".join(f"{k.replace('_', '-')} {v:g}" if isinstance(v, float) else
                f"{k.replace('_', '-')} {v}" for k, v in PAPER.items())
    + ") for every setting not given on the command line or in --config.")
OPTIMIZER = typer.Option(_D.optimizer, rich_help_panel=PANEL, help="adamw, or sgd (Nesterov, "
                         "momentum 0.9); both with warm-up then cosine from --lr to --lr-min.")
LR_MIN = typer.Option(_D.lr_min, callback=number(0, 10), rich_help_panel=PANEL,
                      help="Learning rate at the end of the cosine (<= --lr).")
WEIGHT_DECAY = typer.Option(_D.weight_decay, callback=number(0, 1), rich_help_panel=PANEL,
                            help="Weight decay of the optimizer.")
GRAD_CLIP = typer.Option(_D.grad_clip, callback=number(0, 1e6), rich_help_panel=PANEL,
                         help="Largest gradient norm per network (0: no clipping).")
NORM = typer.Option(_D.norm, rich_help_panel=PANEL, help="U-Net normalisation of gradtrack, "
                    "gazesup, full: batch, or group (GroupNorm, 4 groups); FGI: --fgi-norm.")
AUGMENTATION = typer.Option(_D.augmentation, rich_help_panel=PANEL, help="affine (flips, random "
                            "resized crop, rotation) or flips; applied on the training device.")
SEG_TARGET = typer.Option(_D.seg_target, rich_help_panel=PANEL, help="gradtrack: the final head "
                          "learns the render's pseudo-mask, or heatmap (the heatmap >= the "
                          "first --thresholds value: GazeMedSeg's pseudo-mask; an ablation).")
CHANNELS_LAST = typer.Option(_D.channels_last, "--channels-last/--no-channels-last",
                             rich_help_panel=PANEL,
                             help="Channels-last memory format (default: on GPU).")
LOG_EVERY = typer.Option(_D.log_every, min=1, rich_help_panel=PANEL, help="Read the loss from the "
                         "device every N steps (default: 25 on GPU, 1 on CPU).")
PREFETCH = typer.Option(_D.prefetch, min=1, max=64, rich_help_panel=PANEL,
                        help="Batches each DataLoader worker reads ahead.")

#: The TrainConfig fields of the options above, by their parameter names.
FIELDS = ("optimizer", "lr_min", "weight_decay", "grad_clip", "norm", "augmentation",
          "seg_target", "channels_last", "log_every", "prefetch")


def given_options(ctx: typer.Context) -> set[str]:
    """Parameter names given on the command line (or by environment), not defaulted."""
    def source(name: str) -> str:
        found = ctx.get_parameter_source(name)
        return "" if found is None else found.name

    return {name for name in ctx.params if source(name) in ("COMMANDLINE", "ENVIRONMENT")}


def with_protocol(cfg, protocol: str | None, given: set[str]):
    """``cfg`` (a TrainConfig) with the preset ``protocol`` (None or ``none``: no preset) for
    every setting not in ``given`` (the names set by the user, e.g. :func:`given_options`)."""
    from dataclasses import replace

    from gradseg.protocol import apply_protocol

    if protocol in (None, "none"):
        return cfg
    settings = apply_protocol(protocol, {}, given)
    if "epochs" in given:  # the run's length was given as epochs
        settings.pop("iterations", None)
    return replace(cfg, **settings)


def bench(
    ctx: typer.Context,
    cache: Path = typer.Option(..., help="Zarr cache written by `gazeprep render`."),
    method: Literal["gradtrack", "gazesup", "full", "fgi", "gradtrack+fgi"] = typer.Option(
        "gradtrack", help="The method whose step is timed."),
    size: int = typer.Option(None, min=8, max=16384, help="Model input side (paper: 224)."),
    base_channels: int = typer.Option(None, min=1, max=4096, help="U-Net channels at full "
                                      "resolution (paper: 64)."),
    batch_size: int = typer.Option(None, min=1, max=65536, help="Images per step (paper: 8)."),
    steps: int = typer.Option(20, min=1, help="Timed steps of each timing."),
    warmup: int = typer.Option(3, min=1, help="Untimed warm-up steps of each timing."),
    protocol: Protocol = typer.Option("paper", help="Settings not given: the paper protocol's "
                                      "(none: gradseg train's defaults)."),
    workers: int = typer.Option(None, min=0, help="DataLoader workers (default: 0 on CPU, up to "
                                "8 on GPU)."),
    device: str = typer.Option("auto", metavar=DEVICE_METAVAR, callback=device_choice,
                               help=DEVICE_HELP),
    amp: bool = typer.Option(None, "--amp/--no-amp", help="bf16 autocast (default: on GPU)."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the model."),
    channels_last: bool | None = CHANNELS_LAST,
    prefetch: int = PREFETCH,
    in_memory: bool = typer.Option(False, "--in-memory", help="Read the cache into RAM once."),
    threads: int = typer.Option(None, min=1, help="CPU threads for torch."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Images/s of the loader alone, the training step alone and both; data-wait share; peak
    memory."""
    from gradseg.bench import bench as run_bench
    from gradseg.config import TrainConfig
    from gradseg.options import print_table

    cfg = TrainConfig(cache=str(cache), method=method, device=device, amp=amp, compile=compile,
                      workers=workers, in_memory=in_memory, threads=threads,
                      channels_last=channels_last, prefetch=prefetch)
    for key, value in (("size", size), ("base_channels", base_channels),
                       ("batch_size", batch_size)):
        if value is not None:
            setattr(cfg, key, value)
    cfg = with_protocol(cfg, protocol, given_options(ctx))
    result = run_bench(cfg, steps=steps, warmup=warmup)
    if as_json:
        print(json.dumps(result))
    else:
        print_table("gradseg bench", result)
