"""Every setting of a run and its choices, without torch: one home for the defaults.

:class:`TrainConfig` (a run) and :class:`~gradseg.settings.fgi.FGIConfig` (FGI's own
settings) are plain dataclasses, so the command line takes its defaults, ranges and choice
lists from them without importing torch (``gradseg --help`` stays instant).
:mod:`gradseg.config` adds what needs torch or a cache (limits against the machine, settings
files, the defaults a cache fills in).

>>> TrainConfig(cache="data/maps.zarr").batch_size
8
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The training methods (:data:`gradseg.methods.METHODS`; a test keeps them equal).
METHODS = ("gradtrack", "gazesup", "full", "fgi", "gradtrack+fgi")
#: Track map -> decoder stage order (:data:`gradseg.methods.gradtrack.MAP_ORDERS`).
MAP_ORDERS = ("whole-first", "tail-first")


@dataclass
class TrainConfig:
    """Every setting of a run; stored as JSON in ``config.json`` and in each checkpoint.

    Sizes are pixels, ``lr`` is the peak learning rate, ``*_weight`` are loss weights,
    ``threads`` the CPU intra-op threads (default: the free CPUs,
    :func:`gradseg.device.default_threads`), ``val_target`` what validation
    Dice is computed against (``auto``: the ground-truth mask when the cache has masks, else
    the pseudo-mask). ``text`` and ``text_missing``: FGI's text cues (see
    :mod:`gradseg.data.text`); ``fgi``: FGI's own settings by name (see
    :class:`gradseg.methods.fgi.config.FGIConfig`; every one of them once the run starts).
    The settings after ``image_options`` are those of the published protocol
    (:mod:`gradseg.protocol`: ``optimizer`` adamw | sgd, ``lr_min`` the end of the cosine,
    ``norm``, ``augmentation`` affine | flips, gradtrack's ``seg_target`` pseudo | heatmap) and
    of the data path (``channels_last``, ``log_every``: steps between two reads of the loss
    from the device, ``prefetch``: batches each loader worker reads ahead).
    """

    cache: str
    out: str = "runs/gradtrack"
    method: str = "gradtrack"
    size: int | None = None
    iterations: int | None = None
    epochs: int | None = None
    batch_size: int = 8
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    amp: bool | None = None
    compile: bool = False
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    grad_clip: float = 1.0
    base_channels: int = 32
    workers: int | None = None
    in_memory: bool = False
    augment: bool = True
    seg_weight: float = 1.0
    att_weight: float = 0.5
    consistency_weight: float = 1.0
    thresholds: list[float] = field(default_factory=lambda: [0.5, 0.3])
    map_order: str = "whole-first"
    val_target: str = "auto"
    eval_every: int = 200
    checkpoint_every: int = 200
    exclude_ids: list[str] = field(default_factory=list)
    val_ids: list[str] = field(default_factory=list)  # empty: a seeded val_fraction draw
    threads: int | None = None
    text: str | None = None
    text_missing: str = "error"
    fgi: dict = field(default_factory=dict)
    levels: int = 0  # filled from the cache
    cache_size: int = 0  # filled from the cache: the side S its images were rendered at
    image_options: dict | None = None  # filled from the cache: how render read its files
    # --- the published protocol's settings and the GPU data path (gradseg.protocol) ---
    optimizer: str = "adamw"
    lr_min: float = 0.0
    norm: str = "batch"
    augmentation: str = "affine"
    seg_target: str = "pseudo"
    channels_last: bool | None = None
    log_every: int | None = None
    prefetch: int = 4
    labels: str | None = None  # a labels array of the cache in place of ``pseudo``


#: Settings that may differ when resuming (they do not change the result on CPU).
RESUME_FREE = {"device", "amp", "compile", "workers", "in_memory", "eval_every",
               "checkpoint_every", "out", "threads", "channels_last", "log_every", "prefetch"}
#: What validation Dice is computed against (``auto``: mask when the cache has masks).
VAL_TARGETS = ("auto", "mask", "pseudo")
#: How each resolved validation target is named wherever a user sees a validation number.
VAL_TARGET_TEXT = {"mask": "ground-truth masks",
                   "pseudo": "gaze pseudo-masks (no ground truth: agreement with the gaze labels)"}


def val_key(target: str) -> str:
    """The summary key of the best validation Dice against ``target``, e.g.
    ``best_val_dice_vs_mask``.

    >>> val_key("pseudo")
    'best_val_dice_vs_pseudo'
    """
    return f"best_val_dice_vs_{target}"
#: What an image without a text cue gets (see :mod:`gradseg.data.text`).
TEXT_MISSING = ("error", "zero")
#: Choices of the settings added for the published protocol (gradseg.protocol).
CHOICES = {"optimizer": ("adamw", "sgd"), "norm": ("batch", "group"),
           "augmentation": ("affine", "flips"), "seg_target": ("pseudo", "heatmap")}


