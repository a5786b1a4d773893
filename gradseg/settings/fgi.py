"""Every setting of an FGI run, with the value FGI's public code uses as the default."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

#: Methods built from these blocks: FGI on the plain U-Net, and on the Track Attention U-Net.
FGI_METHODS = ("fgi", "gradtrack+fgi")
#: Where the strict and loose pseudo-masks come from (``auto``: heatmap for fgi, tracks for
#: gradtrack+fgi).
SOURCES = ("auto", "heatmap", "tracks")
#: What fills the image inside DARM blocks.
DARM_FILLS = ("imagenet", "image")
#: Supervised loss against the pseudo-masks.
SUP_LOSSES = ("bce", "bce+dice")
#: Normalisation layers (as :data:`gradseg.models.unet.NORMS`; kept here, like :data:`INFER`,
#: so that no torch import is needed; tests keep them equal).
NORMS = ("batch", "group")
#: Which network(s) predict at inference (:data:`gradseg.models.fgi.INFER`).
INFER = ("student", "teacher", "ensemble")
#: Keys of a run configuration that FGIConfig takes unprefixed (the trainer's own settings).
RUN_KEYS = ("method", "levels", "base_channels", "thresholds", "att_weight", "map_order", "seed")
#: The key of a run configuration that holds FGI's own settings (``config["fgi"]``).
SECTION = "fgi"


@dataclass
class FGIConfig:
    """FGI's constants and the run settings its blocks need.

    Run settings (shared with the other methods)
    --------------------------------------------
    method : {'fgi', 'gradtrack+fgi'}
    levels : int
        Network depth (= cache track-map levels in the trainer); >= 1.
    base_channels : int
        Student width at full resolution (FGI: 32); the teacher has ``teacher_width`` times it.
    thresholds : list of float
        Heatmap levels (>= 2) giving the pseudo-masks (FGI on Kvasir/ISIC: 0.5 and 0.3).
    att_weight : float
        Weight of the Track Attention loss (gradtrack+fgi only).
    map_order : str
        Track map -> decoder stage order (gradtrack+fgi only, see :mod:`gradseg.methods`).
    seed : int
        Seeds each step's random generator together with the step index.

    FGI settings (``config["fgi"][<name>]`` in a run configuration)
    --------------------------------------------------------------
    source : {'auto', 'heatmap', 'tracks'}
        Pseudo-mask source (see :mod:`gradseg.methods.fgi.masks`).
    track_loose : float
        ``tracks`` source: mean-track-map level whose pixels join the loose mask.
    darm_ratio : float
        Summed DARM block area as a share of the uncertain-pixel count (0.3).
    darm_block : (int, int)
        Smallest and largest block side in pixels (3, 10).
    darm_fill : {'imagenet', 'image'}
        Fill inside blocks: the ImageNet mean colour (0 after FGI's normalisation, what its
        code does) or each image's own mean colour.
    noise : float
        Half-width of the uniform input noise, in normalised-image units (0.2).
    cutmix_beta : int
        CutMix area ratio lambda ~ Beta(a, a) (4); an integer (sampled as an order statistic).
    cps_pos, cps_neg : float
        Confidence filter of the cross supervision: a pixel counts when the other network's
        most likely class has probability >= cps_pos (0.8); the complementary term counts
        pixels whose least likely class has probability < cps_neg (0.2).
    feat_beta : float
        Scale of the distillation loss, 0.5 x mean over scales of mean(1 - cos).
    feat_weight : float
        Weight of the distillation loss in the total (0.1, times the ramp-up).
    rampup_iters : int
        Length of the ramp-up w(t) = exp(-5 (1 - t / rampup_iters)^2) (4000).
    rampup_gain : float
        The 5 in that formula.
    sup_loss : {'bce', 'bce+dice'}
        Supervised loss (FGI: BCE; ``bce+dice`` is gradseg's ``seg_loss``).
    teacher_width : int
        Teacher base channels / student base channels (FGI: 64 / 32 = 2).
    norm : {'group', 'batch'}
        Normalisation of both U-Nets (FGI: GroupNorm, 4 groups).
    proj_norm : {'batch', 'group'}
        Normalisation in the projection and adapter blocks (FGI: BatchNorm).
    heads : int
        Attention heads of the text fusion (8; reduced to a divisor of the channel count).
    pos_grid : int
        Side of the learned positional-embedding grid, interpolated to each feature map.
    text_dim : int or None
        Width of the text token embeddings, read from the data; None = image-only teacher.
    infer : {'student', 'teacher', 'ensemble'}
        Network(s) used at inference (FGI reports the student).
    """

    method: str = "fgi"
    levels: int = 4
    base_channels: int = 32
    thresholds: list[float] = field(default_factory=lambda: [0.5, 0.3])
    att_weight: float = 0.5
    map_order: str = "whole-first"
    seed: int = 0
    source: str = "auto"
    track_loose: float = 0.3
    darm_ratio: float = 0.3
    darm_block: tuple[int, int] = (3, 10)
    darm_fill: str = "imagenet"
    noise: float = 0.2
    cutmix_beta: int = 4
    cps_pos: float = 0.8
    cps_neg: float = 0.2
    feat_beta: float = 0.5
    feat_weight: float = 0.1
    rampup_iters: int = 4000
    rampup_gain: float = 5.0
    sup_loss: str = "bce"
    teacher_width: int = 2
    norm: str = "group"
    proj_norm: str = "batch"
    heads: int = 8
    pos_grid: int = 16
    text_dim: int | None = None
    infer: str = "student"

    def __post_init__(self) -> None:
        self.darm_block = tuple(int(v) for v in self.darm_block)
        self.thresholds = [float(t) for t in self.thresholds]
        checks = [
            (self.method in FGI_METHODS, f"method must be one of {FGI_METHODS}"),
            (self.levels >= 1, "levels must be >= 1"),
            (self.base_channels >= 1, "base_channels must be >= 1"),
            (len(self.thresholds) >= 2, "FGI needs >= 2 heatmap thresholds"),
            (self.source in SOURCES, f"source must be one of {SOURCES}"),
            (0.0 <= self.track_loose < 1.0, "track_loose must lie in [0, 1)"),
            (0.0 <= self.darm_ratio <= 1.0, "darm_ratio must lie in [0, 1]"),
            (len(self.darm_block) == 2 and 1 <= self.darm_block[0] <= self.darm_block[1],
             "darm_block must be (min, max) with 1 <= min <= max"),
            (self.darm_fill in DARM_FILLS, f"darm_fill must be one of {DARM_FILLS}"),
            (self.noise >= 0, "noise must be >= 0"),
            (int(self.cutmix_beta) == self.cutmix_beta and self.cutmix_beta >= 1,
             "cutmix_beta must be an integer >= 1"),
            (0.5 <= self.cps_pos <= 1.0 and 0.0 <= self.cps_neg <= 0.5,
             "cps_pos must lie in [0.5, 1] and cps_neg in [0, 0.5]"),
            (self.rampup_iters >= 0, "rampup_iters must be >= 0"),
            (self.sup_loss in SUP_LOSSES, f"sup_loss must be one of {SUP_LOSSES}"),
            (self.teacher_width >= 1, "teacher_width must be >= 1"),
            (self.norm in NORMS and self.proj_norm in NORMS, f"norms must be one of {NORMS}"),
            (self.heads >= 1 and self.pos_grid >= 1, "heads and pos_grid must be >= 1"),
            (self.text_dim is None or self.text_dim >= 1, "text_dim must be >= 1"),
            (self.infer in INFER, f"infer must be one of {INFER}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"invalid FGI setting: {msg}")
        self.cutmix_beta = int(self.cutmix_beta)

    @property
    def attention(self) -> bool:
        """Whether both networks carry Track Attention (gradtrack+fgi)."""
        return self.method == "gradtrack+fgi"

    @property
    def mask_source(self) -> str:
        """The resolved pseudo-mask source: ``heatmap`` or ``tracks``."""
        if self.source != "auto":
            return self.source
        return "tracks" if self.attention else "heatmap"

    @classmethod
    def own_names(cls) -> list[str]:
        """FGI's own setting names (the keys of ``config["fgi"]`` in a run configuration)."""
        return [f.name for f in fields(cls) if f.name not in RUN_KEYS]

    @classmethod
    def from_config(cls, config: dict) -> FGIConfig:
        """Build from a run configuration: the run keys, and FGI's own under ``config["fgi"]``.

        Settings the configuration lacks keep their defaults. Example:
        ``FGIConfig.from_config({"method": "fgi", "fgi": {"darm_ratio": 0.2}})``.

        Raises
        ------
        ValueError
            An unknown FGI setting, or a value outside its range.
        """
        own = dict(config.get(SECTION) or {})
        unknown = sorted(set(own) - set(cls.own_names()))
        if unknown:
            raise ValueError(f"unknown FGI setting(s) {unknown}; known: {cls.own_names()}")
        return cls(**{k: config[k] for k in RUN_KEYS if k in config}, **own)

    def to_config(self) -> dict:
        """FGI's own settings as a JSON-able dict, stored as ``config["fgi"]`` of a run."""
        d = asdict(self)
        return {k: (list(d[k]) if isinstance(d[k], tuple) else d[k]) for k in self.own_names()}
