"""``gradseg refine``: self-training of the labels of a cache (:mod:`gradseg.refine`).

Registered by :mod:`gradseg.cli`; no heavy imports here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

import typer

from gradseg.options import DEVICE_HELP, DEVICE_METAVAR, device_choice, ids_option, number


def refine(
    cache: Path = typer.Option(..., help="Zarr cache written by `gazeprep render`; the labels "
                               "arrays are written into it (its pseudo stays)."),
    out: Path = typer.Option(Path("runs/refine"), help="Folder of each round's training run."),
    rounds: int = typer.Option(1, min=1, max=100, help="Self-training rounds."),
    prefix: str = typer.Option("st", help="Labels names <prefix>-r1, <prefix>-r2, ..."),
    start: str = typer.Option("pseudo", help="Labels round 1 trains on (pseudo: the render's)."),
    method: Literal["gradtrack", "gazesup"] = typer.Option("gradtrack", help="Training method."),
    weight: float = typer.Option(0.75, callback=number(0, 1), help="Fusion: weight of the "
                                 "network's probability against the current labels."),
    bound: float = typer.Option(0.0, callback=number(0, 1, hi_open=True), help="Fusion: the "
                                "whole-track map must exceed this (the gaze bounds the object)."),
    exclude_ids: Path = typer.Option(None, "--exclude-ids", "--test-ids", help="File of ids "
                                     "never trained on (still labelled)."),
    iterations: int = typer.Option(600, min=1, help="Training steps per round."),
    batch_size: int = typer.Option(8, min=1, max=65536),
    base_channels: int = typer.Option(8, min=1, max=4096),
    seed: int = typer.Option(0),
    threads: int = typer.Option(None, min=1, help="CPU threads for torch."),
    device: str = typer.Option("auto", metavar=DEVICE_METAVAR, callback=device_choice,
                               help=DEVICE_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace labels of the same "
                                   "names."),
) -> None:
    """Self-training: train on the current labels, predict every image, fuse with its gaze,
    write the result as labels/<prefix>-r<k> of the cache; repeat (see docs/labels.md)."""
    from gradseg.refine import RefineConfig
    from gradseg.refine import refine as run

    train = {"iterations": iterations, "batch_size": batch_size, "base_channels": base_channels,
             "seed": seed, "threads": threads, "device": device}
    records = run(RefineConfig(cache=str(cache), out=str(out), rounds=rounds, prefix=prefix,
                               start=start, method=method, weight=weight, bound=bound,
                               exclude_ids=tuple(ids_option(exclude_ids) or ()), train=train,
                               overwrite=overwrite), log=lambda m: print(m, file=sys.stderr))
    print(json.dumps([{k: r[k] for k in ("name", "round", "trained_on", "minutes")}
                      for r in records]))
