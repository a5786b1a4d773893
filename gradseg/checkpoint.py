"""Checkpoints: tensors and plain JSON configuration only, loaded with ``weights_only=True``.

A checkpoint file is never code: ``torch.load(weights_only=True)`` refuses anything but
tensors and plain containers, and the run configuration is stored as a JSON string.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from gradseg.errors import GradsegError

FORMAT = "gradseg-checkpoint"
VERSION = 1


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DDP and/or ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
            model = model.module
        else:
            return model


def save_checkpoint(path: str | Path, *, model, config: dict, step: int, optimizer=None,
                    scheduler=None, best_dice: float = float("nan"),
                    val_dice: float = float("nan")) -> None:
    """Write a checkpoint atomically (temporary file then rename, so a crash leaves the old one).

    Parameters
    ----------
    path : str or Path
    model : torch.nn.Module
        Possibly wrapped; its plain state dict is stored.
    config : dict
        JSON-able run configuration.
    step : int
        Optimizer steps done.
    optimizer, scheduler : optional
        Their state dicts are stored for ``--resume``.
    best_dice, val_dice : float
        Best and latest validation Dice.
    """
    path = Path(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(config),
        "step": int(step),
        "model": unwrap(model).state_dict(),
        "best_dice": float(best_dice),
        "val_dice": float(val_dice),
        "rng": torch.get_rng_state(),
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        payload["scheduler"] = scheduler.state_dict()
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    """Read and check a checkpoint; the ``config`` entry is returned decoded (a dict).

    Raises
    ------
    GradsegError
        Missing file, unreadable or corrupt file, or not a gradseg checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise GradsegError("checkpoint not found", file=p)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle opcode refused, ... all mean "unusable"
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise GradsegError(
            f"not a readable gradseg checkpoint (corrupt, truncated or not a weights-only "
            f"file): {type(exc).__name__}: {first}",
            file=p,
        ) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GradsegError(f"not a gradseg checkpoint (expected format {FORMAT!r})", file=p)
    if ckpt.get("version") != VERSION:
        raise GradsegError(f"checkpoint version {ckpt.get('version')}, expected {VERSION}", file=p)
    try:
        ckpt["config"] = json.loads(ckpt["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise GradsegError(f"checkpoint config is missing or not JSON: {exc}", file=p) from exc
    return ckpt


def load_state(model: torch.nn.Module, state: dict, path: str | Path) -> None:
    """Load a state dict, turning key/shape mismatches into one clear error."""
    try:
        unwrap(model).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
        raise GradsegError(
            "checkpoint weights do not match the model its config describes: "
            + " ".join(lines[1:3])[:300],
            file=path,
        ) from exc


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """Rebuild the trained network from a checkpoint, in eval mode.

    Returns
    -------
    (model, config) : (torch.nn.Module, dict)
    """
    from gradseg.model import build_model

    ckpt = load_checkpoint(path)
    config = ckpt["config"]
    try:
        model = build_model(config)
    except (KeyError, ValueError, TypeError) as exc:
        raise GradsegError(f"checkpoint config cannot build a model: {exc}", file=path) from exc
    load_state(model, ckpt["model"], path)
    return model.to(device).eval(), config
