"""What a training method is: the cache arrays it reads, the network(s) it trains, its loss.

The trainer asks a :class:`Method` for everything that differs between methods, so it has no
per-method branches. A method with one network (:class:`SingleNetwork`) runs it once per batch
and scores its output; FGI's methods train a teacher and a student with one optimizer each.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import ClassVar

import torch
from torch import nn

from gradseg.errors import usage_error

#: ``autocast()`` enters the run's autocast context (bf16 when AMP is on, else a no-op).
Autocast = Callable[[], AbstractContextManager]


class Method:
    """A training method; one instance per run (or per loaded checkpoint).

    Parameters
    ----------
    config : dict
        The run configuration (:class:`gradseg.config.TrainConfig` as a dict).
    cues : gradseg.data.text.TextCues, optional
        Text cues, for the methods that take them.

    Class attributes
    ----------------
    name : str
        The ``--method`` value.
    uses_masks : bool
        Trains on ground-truth masks (only images that have one are used).
    """

    name: ClassVar[str] = ""
    uses_masks: ClassVar[bool] = False

    def __init__(self, config: dict, cues=None):
        self.config = config
        self.cues = cues

    @classmethod
    def settle(cls, cfg, ids: list[str]):
        """Check and complete this method's own settings on ``cfg`` (a TrainConfig).

        Returns what the run needs besides the configuration (FGI: the text cues), else None.
        ``ids`` are the images the run trains and validates on.
        """
        if cfg.text is not None:
            raise usage_error("--text", f"text cues are used by the fgi methods only, not by "
                              f"--method {cls.name}")
        if cfg.fgi:
            raise usage_error("--fgi-*", f"FGI options ({', '.join(sorted(cfg.fgi))}) need "
                              f"--method fgi or gradtrack+fgi, not {cls.name}")
        if getattr(cfg, "seg_target", "pseudo") != "pseudo" and cls.name != "gradtrack":
            raise usage_error("--seg-target", f"{cfg.seg_target}: only --method gradtrack "
                              f"chooses its final head's target, not {cls.name}")
        return None

    def fields(self) -> tuple[str, ...]:
        """Cache arrays a training batch needs besides ``image``."""
        raise NotImplementedError

    def build(self) -> nn.Module:
        """The network(s) as one module: what checkpoints hold and ``module(image)`` predicts
        with (a dict with ``logits`` (B, K, H, W) and ``attention``)."""
        raise NotImplementedError

    def networks(self, model: nn.Module) -> dict[str, nn.Module]:
        """The parts of ``model`` trained with an optimizer each (wrapped in DDP / compile)."""
        return {"model": model}

    def inputs(self, batch: dict, ids: list[str], device: torch.device) -> dict:
        """Add what the loss needs besides the cache fields (FGI: the batch's text cues)."""
        return batch

    def loss(self, nets: dict[str, nn.Module], batch: dict, *, step: int, rank: int,
             autocast: Autocast) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss of one batch (0-d float32) and its detached parts, for logging.

        ``nets`` are :meth:`networks`, possibly wrapped; ``step`` counts the optimizer steps
        done before this one.
        """
        raise NotImplementedError

    def summary(self) -> dict:
        """Entries this method adds to the run summary."""
        return {}

    def set_inference(self, model: nn.Module, which: str, has_text: bool) -> None:
        """Choose the network that predicts: only FGI's methods have more than one."""
        if which != "student":
            raise usage_error("--model", f"{which}: a {self.name} checkpoint holds one network; "
                              "only fgi and gradtrack+fgi train a teacher")
        if has_text:
            raise usage_error("--text", f"a {self.name} model predicts from the image alone")

    def needs_text(self, model: nn.Module) -> bool:
        """Whether ``model`` predicts from text cues as set (see :meth:`set_inference`)."""
        return False


class SingleNetwork(Method):
    """One network, run once per batch; its loss is :meth:`objective` of its output."""

    def loss(self, nets, batch, *, step, rank, autocast):
        with autocast():
            out = nets["model"](batch["image"])
        return self.objective(out, batch)

    def objective(self, out: dict, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss of the network output ``out`` on ``batch`` and its parts (detached)."""
        raise NotImplementedError


def total(parts: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The sum of the loss parts, and the parts detached."""
    return sum(parts.values()), {k: v.detach() for k, v in parts.items()}
