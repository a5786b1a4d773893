"""``fgi`` and ``gradtrack+fgi`` as methods of the trainer: teacher and student, one optimizer
each, the loss of :func:`gradseg.methods.fgi.step.fgi_step`.

The student predicts by default (image only, FGI's reported model); the teacher and the
ensemble of both are chosen at inference with ``--model``, and need the images' text cues when
the teacher was trained with them.
"""

from __future__ import annotations

from gradseg.data.text import TextCues
from gradseg.errors import usage_error
from gradseg.methods.base import Method
from gradseg.methods.fgi.config import INFER, FGIConfig
from gradseg.methods.fgi.masks import fgi_fields
from gradseg.methods.fgi.step import fgi_step
from gradseg.models.fgi import FGIPair, Student, Teacher
from gradseg.models.unet import UNet


def build_fgi(cfg: FGIConfig) -> FGIPair:
    """Teacher and student for ``cfg`` (method, levels, widths, norms, text width).

    Example: ``pair = build_fgi(FGIConfig(levels=3, base_channels=8))``.
    """
    def unet(base: int) -> UNet:
        return UNet(depth=cfg.levels, base_channels=base, attention=cfg.attention, heads=1,
                    norm=cfg.norm)

    tnet = unet(cfg.teacher_width * cfg.base_channels)
    teacher = Teacher(tnet, cfg.text_dim, cfg.heads, cfg.pos_grid, cfg.proj_norm)
    student = Student(unet(cfg.base_channels), tnet.channels[1:], cfg.proj_norm)
    return FGIPair(teacher, student, cfg.infer)


class FGI(Method):
    """FGI on the plain U-Net (pseudo-masks from the heatmap levels by default)."""

    name = "fgi"

    def __init__(self, config: dict, cues: TextCues | None = None):
        super().__init__(config, cues)
        self.fcfg = FGIConfig.from_config(config)

    @classmethod
    def settle(cls, cfg, ids):
        """Load and check the text cues of ``ids``; store every FGI setting in ``cfg.fgi``."""
        cues = None
        if getattr(cfg, "seg_target", "pseudo") != "pseudo":
            raise usage_error("--seg-target", f"{cfg.seg_target}: only --method gradtrack "
                              f"chooses its final head's target, not {cls.name}")
        if cfg.text is not None:
            cues = TextCues(cfg.text, missing=cfg.text_missing)
            cues.check(ids)
        given = {**cfg.fgi, "text_dim": None if cues is None else cues.width}
        try:
            fcfg = FGIConfig.from_config({**vars(cfg), "fgi": given})
        except (TypeError, ValueError) as exc:
            raise usage_error("--fgi-*", str(exc)) from exc
        fcfg.source = fcfg.mask_source  # "auto" resolved, so config.json says which
        cfg.fgi = fcfg.to_config()
        return cues

    def fields(self):
        return fgi_fields(self.fcfg)

    def build(self):
        return build_fgi(self.fcfg)

    def networks(self, model):
        return {"teacher": model.teacher, "student": model.student}

    def inputs(self, batch, ids, device):
        if self.cues is not None:
            batch["text"], batch["text_pad"] = self.cues.batch(
                ids, pad_to=self.cues.max_tokens, device=device)  # static shapes for compile
        return batch

    def loss(self, nets, batch, *, step, rank, autocast):
        with autocast():
            return fgi_step(nets["teacher"], nets["student"], batch, step, self.fcfg, rank=rank)

    def summary(self):
        if self.cues is None:
            return {"teacher": "image-only (no --text)"}
        return {"teacher": f"text cues from {self.cues.path} (width {self.cues.width})",
                "text_zeroed": len(self.cues.zeroed)}

    def set_inference(self, model, which, has_text):
        if which not in INFER:
            raise usage_error("--model", f"{which!r} is not one of {', '.join(INFER)}")
        text_dim = model.teacher.text_dim
        if which == "student" and has_text:
            raise usage_error("--text", "the student predicts from the image alone; text cues "
                              "are used with --model teacher or ensemble")
        if which != "student" and text_dim is not None and not has_text:
            raise usage_error("--model", f"{which}: this teacher was trained with text cues "
                              f"(width {text_dim}); pass --text with the cues of these images, "
                              "or use the student")
        if which != "student" and text_dim is None and has_text:
            raise usage_error("--text", "this teacher was trained image-only (without --text); "
                              "it takes no text cues")
        model.infer = which

    def needs_text(self, model):
        return model.infer != "student" and model.teacher.text_dim is not None


class GradTrackFGI(FGI):
    """FGI on the Track Attention U-Net: both networks also learn the track maps, and the
    pseudo-masks come from the track maps by default."""

    name = "gradtrack+fgi"
