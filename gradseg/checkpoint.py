"""Checkpoints: tensors and plain JSON configuration only, loaded with ``weights_only=True``.

A checkpoint file is never code: ``torch.load(weights_only=True)`` refuses anything but
tensors and plain containers, and the run configuration is stored as a JSON string. A file
that holds anything else is refused and never loaded another way.

Damage is found, not trusted: the payload carries ``sha256``, a digest of every tensor (dtype,
shape and bytes) and every other value in it (:func:`tensor_digest`); a flipped byte or a
truncated file is refused in one line.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import torch

from gradseg.errors import GradsegError
from gradseg.outputs import atomic_write

FORMAT = "gradseg-checkpoint"
VERSION = 2  # 2: the payload carries the sha256 of its contents (1: no checksum)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DDP and/or ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
            model = model.module
        else:
            return model


def save_checkpoint(path: str | Path, *, model, config: dict, step: int,
                    optimizer: dict | None = None, scheduler: dict | None = None,
                    best_dice: float = float("nan"),
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
    optimizer, scheduler : dict, optional
        Their states (:meth:`gradseg.optim.Optimizers.state`), stored for ``--resume``.
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
        payload["optimizer"] = optimizer
    if scheduler is not None:
        payload["scheduler"] = scheduler
    payload["sha256"] = tensor_digest(payload)
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def tensor_digest(payload: dict) -> str:
    """sha256 of a checkpoint payload without its ``sha256`` entry.

    Every tensor contributes its dtype, shape and bytes; dicts (in key order), lists and other
    values (their ``repr``) contribute their structure, so any changed byte changes the digest.
    """
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in payload.items() if k != "sha256"})
    return h.hexdigest()


def _feed(h, obj) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(b"{")
        for k in sorted(obj, key=repr):
            _feed(h, k)
            _feed(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, list | tuple):
        h.update(b"[")
        for v in obj:
            _feed(h, v)
        h.update(b"]")
    else:
        h.update(f"{type(obj).__name__}:{obj!r};".encode())


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
    except pickle.UnpicklingError as exc:
        # torch's own message suggests loading it unsafely; we never do, nor suggest it.
        foreign = _foreign_global(str(exc))
        if foreign is not None:
            raise GradsegError(
                f"not loaded: the file refers to {foreign}, code or an object other than the "
                "tensors and plain values gradseg's checkpoints hold", file=p) from exc
        raise _unreadable(p, exc) from exc
    except Exception as exc:  # noqa: BLE001 - truncated zip, bad record, ...: all unusable
        raise _unreadable(p, exc) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GradsegError(f"not a gradseg checkpoint (expected format {FORMAT!r})", file=p)
    if ckpt.get("version") != VERSION:
        raise GradsegError(f"checkpoint version {ckpt.get('version')}, expected {VERSION} "
                           "(a checkpoint with a checksum of its weights)", file=p)
    if ckpt.get("sha256") != tensor_digest(ckpt):
        raise GradsegError("checkpoint is damaged: its contents do not match the sha256 "
                           "checksum stored in it", file=p)
    try:
        ckpt["config"] = json.loads(ckpt["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise GradsegError(f"checkpoint config is missing or not JSON: {exc}", file=p) from exc
    return ckpt


def _unreadable(p: Path, exc: BaseException) -> GradsegError:
    return GradsegError(f"damaged: not a readable gradseg checkpoint (truncated or corrupt "
                        f"file: {type(exc).__name__})", file=p)


def _foreign_global(message: str) -> str | None:
    """The importable name a refused pickle refers to (``posix.system``), or None when the
    refusal is damage: an unknown opcode, or a name no installed module has ("tor9h.Long
    Storage", one flipped byte in ``torch.LongStorage``).

    Only modules already imported are looked into; others are only looked up
    (``importlib.util.find_spec`` of the top-level name runs none of their code).
    """
    import importlib.util
    import re
    import sys

    found = re.search(r"\bGLOBAL ([\w.]+)", message)
    if found is None:
        return None
    name = found.group(1)
    module, _, attr = name.rpartition(".")
    top = module.partition(".")[0]
    if not module or not top.isidentifier() or importlib.util.find_spec(top) is None:
        return None
    if module in sys.modules and not hasattr(sys.modules[module], attr):
        return None
    return name


def load_state(model: torch.nn.Module, state: dict, path: str | Path,
               assign: bool = False) -> None:
    """Load a state dict, turning key/shape mismatches into one clear error (``assign``: the
    model's tensors become the state's, as ``torch.nn.Module.load_state_dict`` does)."""
    try:
        unwrap(model).load_state_dict(state, strict=True, assign=assign)
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
    from gradseg.methods import build_model

    ckpt = load_checkpoint(path)
    config = ckpt["config"]
    try:
        # On the meta device: a config claiming a huge network allocates nothing before its
        # shapes are checked against the weights the file really holds.
        with torch.device("meta"):
            model = build_model(config)
    except (KeyError, ValueError, TypeError) as exc:
        raise GradsegError(f"checkpoint config cannot build a model: {exc}", file=path) from exc
    load_state(model, ckpt["model"], path, assign=True)
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        model = build_model(config)  # a tensor the file does not hold: built for real
        load_state(model, ckpt["model"], path)
    return model.to(device).eval(), config
