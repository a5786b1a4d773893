"""One optimizer and learning-rate schedule per trained network, stepped together.

Every method trains its networks (:meth:`gradseg.methods.base.Method.networks`: one, or FGI's
teacher and student) with the same settings, chosen by name (:data:`OPTIMIZERS`):

- ``adamw`` (the default): AdamW, linear warm-up, then a cosine from ``lr`` to ``lr_min``;
- ``sgd``: SGD with Nesterov momentum 0.9, the same schedule: the published protocol of
  GazeSup, FGI and GradTrack (lr 1e-2 -> 1e-4 cosine, weight decay 4e-4, no warm-up; see
  :data:`gradseg.protocol.PAPER`).

The gradient norm of each network is clipped to ``grad_clip`` (0: no clipping).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

#: The optimizers by name (``--optimizer``).
OPTIMIZERS = ("adamw", "sgd")
#: Momentum of ``sgd`` (Nesterov).
SGD_MOMENTUM = 0.9


def lr_lambda(warmup: int, total: int, floor: float = 0.0) -> Callable[[int], float]:
    """Learning-rate factor of step t: (t + 1) / warmup during warm-up, then a cosine from 1 down
    to ``floor`` (``lr_min / lr``) at step ``total``.

    Examples
    --------
    >>> f = lr_lambda(2, 10)
    >>> [round(f(t), 3) for t in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
    >>> g = lr_lambda(0, 10, floor=0.01)   # 1e-2 -> 1e-4
    >>> [round(g(t), 4) for t in (0, 5, 10)]
    [1.0, 0.505, 0.01]
    """
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    return f


def make_optimizer(kind: str, params: list, lr: float, weight_decay: float
                   ) -> torch.optim.Optimizer:
    """``adamw`` or ``sgd`` (Nesterov, momentum :data:`SGD_MOMENTUM`) over ``params``."""
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM, nesterov=True,
                               weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {kind!r}")


class Optimizers:
    """An optimizer + LambdaLR for each named network.

    Parameters
    ----------
    networks : dict of str -> nn.Module
        The (unwrapped) networks, e.g. ``{"model": unet}`` or ``{"teacher": t, "student": s}``.
    lr, weight_decay : float
        Peak learning rate and weight decay.
    warmup, total : int
        Warm-up steps and the run's total steps (for the cosine).
    grad_clip : float
        Largest gradient norm of each network (0: no clipping).
    optimizer : {'adamw', 'sgd'}
    lr_min : float
        Learning rate at the end of the cosine (0 by default).

    Notes
    -----
    The state of a single network named ``model`` is the plain optimizer / scheduler state dict
    (the checkpoint layout of one-network runs); several networks give a dict by name. No step
    reads a value back from the device (no host sync).
    """

    def __init__(self, networks: dict[str, nn.Module], *, lr: float, weight_decay: float,
                 warmup: int, total: int, grad_clip: float, optimizer: str = "adamw",
                 lr_min: float = 0.0):
        self.params = {k: list(m.parameters()) for k, m in networks.items()}
        self.opts = {k: make_optimizer(optimizer, p, lr, weight_decay)
                     for k, p in self.params.items()}
        floor = min(1.0, lr_min / lr) if lr > 0 else 0.0
        self.scheds = {k: torch.optim.lr_scheduler.LambdaLR(o, lr_lambda(warmup, total, floor))
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
