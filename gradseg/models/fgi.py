"""FGI's teacher and student, built on gradseg's U-Net, and the pair that holds both.

Both networks are :class:`gradseg.models.unet.UNet` (the same blocks as every other method; Track
Attention on for ``gradtrack+fgi``, so the decoder's track-map supervision stays in both):

- **Teacher** (FGI: 64..1024 channels, GroupNorm): at each of the ``depth`` deeper encoder
  scales, ``z = x + TextFusion(x, text)``; the projection ``d = P(z)`` is the distillation
  feature and ``x + d`` replaces the skip connection (the bottleneck too). The encoder itself
  continues from the unfused ``x``, as in FGI. Without text cues the fusion is absent (image-only
  teacher): ``d = P(x)``.
- **Student** (FGI: 32..512, image only): the plain U-Net; for distillation only, its encoder
  features pass a projection and a 1x1 adapter to the teacher's widths.

Depth, width and input size are free: any depth >= 1, any ``base_channels``, any input side
divisible by 2**depth.
"""

from __future__ import annotations

import torch
from torch import nn

from gradseg.models.fusion import Adapter, Projection, TextFusion
from gradseg.models.unet import UNet

#: Which network(s) predict at inference: the student (image only, what FGI reports), the
#: teacher, or the mean of both logits.
INFER = ("student", "teacher", "ensemble")


class Teacher(nn.Module):
    """U-Net with text fusion and projection blocks on its deeper encoder scales.

    Parameters
    ----------
    net : UNet
    text_dim : int or None
        Text embedding width; None builds an image-only teacher.
    heads, pos_grid : int
        See :class:`gradseg.models.fusion.TextFusion`.
    proj_norm : str
        Norm of the projection blocks.

    Notes
    -----
    ``forward(x, text=None, pad=None)`` returns the U-Net's dict plus ``features``, the list of
    ``depth`` projection outputs (B, channels[k], H / 2**k, W / 2**k), k = 1..depth.
    """

    def __init__(self, net: UNet, text_dim: int | None = None, heads: int = 8,
                 pos_grid: int = 16, proj_norm: str = "batch"):
        super().__init__()
        self.net = net
        self.text_dim = text_dim
        deep = net.channels[1:]
        self.fusion = None if text_dim is None else nn.ModuleList(
            TextFusion(c, text_dim, heads, pos_grid) for c in deep)
        self.proj = nn.ModuleList(Projection(c, proj_norm) for c in deep)

    def forward(self, x: torch.Tensor, text: torch.Tensor | None = None,
                pad: torch.Tensor | None = None) -> dict:
        if self.fusion is not None and text is None:
            raise ValueError(f"this teacher was trained with text cues (width {self.text_dim}); "
                             "pass them, or use the student")
        if self.fusion is None and text is not None:
            raise ValueError("this teacher was built without text cues; do not pass any")
        if text is not None and text.shape[-1] != self.text_dim:
            raise ValueError(f"text width {text.shape[-1]} != the teacher's {self.text_dim}")
        skips = self.net.encode(x)
        feats = []
        for k, proj in enumerate(self.proj):
            f = skips[k + 1]
            z = f if self.fusion is None else f + self.fusion[k](f, text, pad)
            d = proj(z)
            feats.append(d)
            skips[k + 1] = f + d
        out = self.net.decode(skips)
        out["features"] = feats
        return out


class Student(nn.Module):
    """Image-only U-Net; its encoder features, lifted to the teacher's widths, for distillation.

    ``forward(x, features=True)`` returns the U-Net's dict plus ``features`` (the adapted
    encoder features, teacher widths) when ``features`` is true.
    """

    def __init__(self, net: UNet, teacher_channels: list[int], proj_norm: str = "batch"):
        super().__init__()
        self.net = net
        deep = net.channels[1:]
        if len(teacher_channels) != len(deep):
            raise ValueError("student and teacher need the same depth")
        self.proj = nn.ModuleList(Projection(c, proj_norm) for c in deep)
        self.adapt = nn.ModuleList(Adapter(c, t, proj_norm)
                                   for c, t in zip(deep, teacher_channels, strict=True))

    def forward(self, x: torch.Tensor, features: bool = True) -> dict:
        skips = self.net.encode(x)
        out = self.net.decode(skips)
        if features:
            out["features"] = [a(p(f)) for f, p, a in zip(skips[1:], self.proj, self.adapt,
                                                          strict=True)]
        return out


class FGIPair(nn.Module):
    """Teacher and student in one module: one state dict (``teacher.*``, ``student.*``) for
    checkpoints and ``--resume``, and a ``forward`` that predicts like a gradseg model.

    ``forward(image, text=None, pad=None)`` returns ``{"logits", "attention"}`` of the network(s)
    ``infer`` names: the student (image only, FGI's reported model), the teacher, or the
    ensemble (mean of both logits, as FGI's validation). Train the two halves with their own
    optimizers (``pair.teacher.parameters()``, ``pair.student.parameters()``).
    """

    def __init__(self, teacher: Teacher, student: Student, infer: str = "student"):
        super().__init__()
        self.teacher = teacher
        self.student = student
        self.infer = infer

    def forward(self, image: torch.Tensor, text: torch.Tensor | None = None,
                pad: torch.Tensor | None = None) -> dict:
        if self.infer not in INFER:
            raise ValueError(f"infer must be one of {INFER}, got {self.infer!r}")
        if self.infer == "student":
            return self.student(image, features=False)
        t = self.teacher(image, text, pad)
        if self.infer == "teacher":
            return {"logits": t["logits"], "attention": t["attention"]}
        s = self.student(image, features=False)
        att = [(a + b) / 2 for a, b in zip(t["attention"], s["attention"], strict=True)]
        return {"logits": (t["logits"] + s["logits"]) / 2, "attention": att}
