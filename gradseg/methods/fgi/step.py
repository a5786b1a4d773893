"""One FGI training step (four forward passes, one loss) and inference.

The trainer (:mod:`gradseg.methods.fgi.method`) builds the pair with ``build_fgi``, gives
``pair.teacher`` and ``pair.student`` one optimizer each (wrap each in DDP / ``torch.compile``
as the other methods' model), and per batch::

    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        loss, parts = fgi_step(teacher, student, batch, step, cfg, rank=rank)
    opt_t.zero_grad(); opt_s.zero_grad(); loss.backward(); opt_t.step(); opt_s.step()

``batch`` holds ``image`` and the fields of :func:`gradseg.methods.fgi.masks.fgi_fields`, plus
``text`` and ``text_pad`` from :meth:`gradseg.data.text.TextCues.batch` when text cues are used.
The step's randomness (DARM, noise, CutMix) comes from a generator seeded by (seed, step, rank)
on the batch's device, so ``--resume`` replays it exactly without saving any RNG state, and no
random draw leaves the device.
"""

from __future__ import annotations

import numpy as np
import torch

from gradseg.losses import attention_loss
from gradseg.methods.fgi.config import FGIConfig
from gradseg.methods.fgi.darm import darm
from gradseg.methods.fgi.losses import confidence_cps, feature_distillation, rampup, supervised_loss
from gradseg.methods.fgi.masks import strict_loose
from gradseg.methods.fgi.mixing import input_noise, random_cutmix
from gradseg.methods.gradtrack import stage_order


def step_generator(device: torch.device | str, seed: int, step: int,
                   rank: int = 0) -> torch.Generator:
    """A generator on ``device`` seeded by (seed, step, rank) alone."""
    state = int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0])
    return torch.Generator(device=device).manual_seed(state)


def fgi_step(teacher, student, batch: dict, step: int, cfg: FGIConfig, *, rank: int = 0,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
    """Total loss of one FGI step and its parts.

    loss = BCE_T(strict) + BCE_S(DARM(loose)) + w (CPS_T + CPS_S) + feat_weight w L_feat
    (+ att_weight (L_att,T + L_att,S) for gradtrack+fgi), w = rampup(step + 1).

    Parameters
    ----------
    teacher, student : nn.Module
        :class:`~gradseg.models.fgi.Teacher` and :class:`~gradseg.models.fgi.Student`,
        possibly wrapped in DDP or ``torch.compile``.
    batch : dict of Tensor
        On the networks' device; see the module notes.
    step : int
        Optimizer steps done before this one (0 for the first).
    cfg : FGIConfig
    rank : int
        This process's rank (seeds its own random draws).
    generator : torch.Generator, optional
        Overrides the (seed, step, rank) generator.

    Returns
    -------
    loss : Tensor, 0-d, float32
    parts : dict of 0-d Tensor (detached)
        ``sup_t``, ``sup_s``, ``cps_t``, ``cps_s``, ``feat`` (weighted, they sum to ``loss``)
        and ``att`` for gradtrack+fgi; ``ramp`` (w) and ``darm_area`` (mean summed block
        area, pixels) for logging. Convert with ``float()`` only when logging (a host sync).
    """
    image = batch["image"]
    text, pad = batch.get("text"), batch.get("text_pad")
    gen = generator if generator is not None else step_generator(image.device, cfg.seed, step,
                                                                 rank)
    strict, loose = strict_loose(batch, cfg)
    masked = darm(image, strict, loose, cfg.darm_ratio, cfg.darm_block, cfg.darm_fill, gen)
    t_out = teacher(image, text, pad)
    s_out = student(masked.image)
    w = rampup(step + 1, cfg.rampup_iters, cfg.rampup_gain)
    parts = {
        "sup_t": supervised_loss(t_out["logits"], strict, cfg.sup_loss),
        "sup_s": supervised_loss(s_out["logits"], masked.loose, cfg.sup_loss),
    }
    # Each network learns from the other's detached prediction, CutMixed with the noisy image.
    (x_t, y_t), _, _ = random_cutmix(
        [input_noise(image, cfg.noise, gen), s_out["logits"].detach()], cfg.cutmix_beta, gen)
    (x_s, y_s), _, _ = random_cutmix(
        [input_noise(image, cfg.noise, gen), t_out["logits"].detach()], cfg.cutmix_beta, gen)
    cps_t = confidence_cps(teacher(x_t, text, pad)["logits"], y_t, cfg.cps_pos, cfg.cps_neg)
    cps_s = confidence_cps(student(x_s, features=False)["logits"], y_s, cfg.cps_pos,
                           cfg.cps_neg)
    parts["cps_t"] = w * cps_t
    parts["cps_s"] = w * cps_s
    feat = cfg.feat_beta * feature_distillation(s_out["features"], t_out["features"])
    parts["feat"] = cfg.feat_weight * w * feat
    if cfg.attention:
        order = stage_order(cfg.levels, cfg.map_order)
        maps = batch["maps"]
        parts["att"] = cfg.att_weight * (attention_loss(t_out["attention"], maps, order)
                                         + attention_loss(s_out["attention"], maps, order))
    loss = torch.stack(list(parts.values())).sum()
    logs = {k: v.detach() for k, v in parts.items()}
    logs["ramp"] = torch.tensor(w)
    logs["darm_area"] = masked.plan.area.float().mean()
    return loss, logs


@torch.no_grad()
def fgi_predict(pair, image: torch.Tensor, text: torch.Tensor | None = None,
                pad: torch.Tensor | None = None, which: str = "student") -> torch.Tensor:
    """Logits (B, 1, H, W) of the student (image only), the teacher or their ensemble.

    ``pair`` is a :class:`~gradseg.models.fgi.FGIPair`; teacher and ensemble need the text cues
    when the teacher was trained with them.
    """
    saved = pair.infer
    pair.infer = which
    try:
        return pair(image, text, pad)["logits"]
    finally:
        pair.infer = saved
