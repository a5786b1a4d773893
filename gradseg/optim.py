"""One AdamW optimizer and learning-rate schedule per trained network, stepped together.

Every method trains its networks (:meth:`gradseg.methods.base.Method.networks`: one, or FGI's
teacher and student) with the same settings: AdamW, linear warm-up then cosine decay, gradient
norm clipped per network.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn


def lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    """Learning-rate factor of step t: (t + 1) / warmup during warm-up, then a cosine to 0.

    Examples
    --------
    >>> f = lr_lambda(2, 10)
    >>> [round(f(t), 3) for t in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
    """
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    return f


class Optimizers:
    """AdamW + LambdaLR for each named network.

    Parameters
    ----------
    networks : dict of str -> nn.Module
        The (unwrapped) networks, e.g. ``{"model": unet}`` or ``{"teacher": t, "student": s}``.
    lr, weight_decay : float
        Peak learning rate and AdamW weight decay.
    warmup, total : int
        Warm-up steps and the run's total steps (for the cosine).
    grad_clip : float
        Largest gradient norm of each network (0: no clipping).

    Notes
    -----
    The state of a single network named ``model`` is the plain optimizer / scheduler state dict
    (the checkpoint layout of one-network runs); several networks give a dict by name.
    """

    def __init__(self, networks: dict[str, nn.Module], *, lr: float, weight_decay: float,
                 warmup: int, total: int, grad_clip: float):
        self.params = {k: list(m.parameters()) for k, m in networks.items()}
        self.opts = {k: torch.optim.AdamW(p, lr=lr, weight_decay=weight_decay)
                     for k, p in self.params.items()}
        self.scheds = {k: torch.optim.lr_scheduler.LambdaLR(o, lr_lambda(warmup, total))
                       for k, o in self.opts.items()}
        self.grad_clip = grad_clip

    def step(self, loss: torch.Tensor) -> None:
        """Backward pass of ``loss``, then clip, step and schedule every network."""
        for o in self.opts.values():
            o.zero_grad(set_to_none=True)
        loss.backward()
        for k, o in self.opts.items():
            if self.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.params[k], self.grad_clip)
            o.step()
            self.scheds[k].step()

    @property
    def lr(self) -> float:
        """The current learning rate (the same for every network)."""
        return next(iter(self.scheds.values())).get_last_lr()[0]

    def _single(self) -> bool:
        return list(self.opts) == ["model"]

    def state(self) -> tuple[dict, dict]:
        """(optimizer state, scheduler state) for a checkpoint; see the class notes."""
        if self._single():
            return self.opts["model"].state_dict(), self.scheds["model"].state_dict()
        return ({k: o.state_dict() for k, o in self.opts.items()},
                {k: s.state_dict() for k, s in self.scheds.items()})

    def load(self, optimizer: dict, scheduler: dict) -> None:
        """Restore what :meth:`state` returned."""
        if self._single():
            optimizer, scheduler = {"model": optimizer}, {"model": scheduler}
        for k, o in self.opts.items():
            o.load_state_dict(optimizer[k])
            self.scheds[k].load_state_dict(scheduler[k])
