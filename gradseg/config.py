"""A run's settings: :class:`TrainConfig`, their limits, and the defaults a cache fills in."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, fields
from pathlib import Path

import torch

from gazeprep.contract.cache import CacheLayout
from gradseg.errors import GradsegError, usage_error
from gradseg.settings import (  # noqa: F401  (TrainConfig and its choices live there)
    CHOICES,
    MAP_ORDERS,
    RESUME_FREE,
    TEXT_MISSING,
    VAL_TARGETS,
    TrainConfig,
)


def check_numbers(cfg: TrainConfig) -> None:
    """The option limits of ``gradseg train`` again, for TrainConfig used from Python."""
    def bad(ok: bool, what: str) -> None:
        if not ok:
            raise GradsegError(f"invalid setting: {what}")

    bad(cfg.batch_size >= 1, f"batch_size {cfg.batch_size} must be >= 1")
    bad(cfg.iterations is None or cfg.iterations >= 1,
        f"iterations {cfg.iterations} must be >= 1")
    bad(cfg.epochs is None or cfg.epochs >= 1, f"epochs {cfg.epochs} must be >= 1")
    bad(cfg.eval_every >= 1, f"eval_every {cfg.eval_every} must be >= 1")
    bad(cfg.checkpoint_every >= 1, f"checkpoint_every {cfg.checkpoint_every} must be >= 1")
    bad(math.isfinite(cfg.val_fraction) and 0 <= cfg.val_fraction < 1,
        f"val_fraction {cfg.val_fraction} must lie in [0, 1)")
    bad(math.isfinite(cfg.lr) and 0 < cfg.lr <= 10, f"lr {cfg.lr} must be a finite number in "
        "(0, 10]")
    bad(cfg.warmup >= 0 and cfg.base_channels >= 1, "warmup must be >= 0, base_channels >= 1")
    bad(cfg.size is None or 8 <= cfg.size <= 16384, f"size {cfg.size} must lie in 8..16384")
    weights = (cfg.seg_weight, cfg.att_weight, cfg.consistency_weight, cfg.weight_decay,
               cfg.grad_clip)
    bad(all(math.isfinite(w) and w >= 0 for w in weights),
        "loss weights, weight_decay and grad_clip must be finite numbers >= 0")
    bad(bool(cfg.thresholds) and all(0 < t < 1 for t in cfg.thresholds),
        f"thresholds {cfg.thresholds} must be numbers in (0, 1)")
    bad(cfg.text_missing in TEXT_MISSING, f"text_missing must be one of {TEXT_MISSING}")
    for key, choices in CHOICES.items():
        bad(getattr(cfg, key) in choices, f"{key} {getattr(cfg, key)!r} must be one of "
            f"{', '.join(choices)}")
    bad(math.isfinite(cfg.lr_min) and 0 <= cfg.lr_min <= cfg.lr,
        f"lr_min {cfg.lr_min} must lie in [0, lr]")
    bad(cfg.log_every is None or cfg.log_every >= 1, f"log_every {cfg.log_every} must be >= 1")
    bad(cfg.prefetch >= 1, f"prefetch {cfg.prefetch} must be >= 1")


def check_memory(cfg: TrainConfig, info: CacheLayout, device: torch.device) -> None:
    """Refuse a --size / --batch-size whose smallest possible working set does not fit.

    Lower bound of one step: the float32 batch (image, L maps, heatmap, pseudo-mask, mask) and
    the first layer's activations and their gradients (2 x base_channels maps), all S x S. The
    real need is several times larger, so a refusal here is never wrong.
    """
    need = cfg.batch_size * cfg.size**2 * 4 * (3 + info.levels + 3 + 2 * cfg.base_channels)
    if device.type == "cuda":
        have, where = torch.cuda.get_device_properties(device).total_memory, f"{device} memory"
    else:
        have, where = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "RAM"
    if need > have:
        raise GradsegError(
            f"--size {cfg.size} with --batch-size {cfg.batch_size} needs at least "
            f"{need / 2**30:.1f} GiB of memory per step (the batch and the first layer's "
            f"activations) but this machine has {have / 2**30:.1f} GiB of {where}; expected a "
            "smaller --size or --batch-size", file=info.path)


def resolve(cfg: TrainConfig, info: CacheLayout, uses_masks: bool) -> TrainConfig:
    """Check the settings against the cache and fill in the defaults that depend on it.

    ``uses_masks``: the method trains on ground-truth masks.

    Raises
    ------
    typer.BadParameter
        (exit code 2 on the command line) for a setting the cache cannot serve: validation
        against masks, or a method that trains on masks, on a cache without masks.
    """
    check_numbers(cfg)
    if cfg.map_order not in MAP_ORDERS:
        raise GradsegError(f"map order must be one of {', '.join(MAP_ORDERS)}")
    cfg.levels = info.levels
    cfg.cache_size = info.size
    cfg.image_options = (info.attrs.get("params") or {}).get("image")
    if cfg.size is None and info.size % (2**info.levels):
        raise GradsegError(
            f"the cache's size {info.size} (from `gazeprep render --size`) is not divisible by "
            f"2**levels = {2**info.levels} (the U-Net has one decoder stage per cache level, "
            f"L = {info.levels}): render again with another --size, or give train --size N "
            f"divisible by {2**info.levels}", file=info.path)
    cfg.size = cfg.size or info.size
    if cfg.size % (2**info.levels):
        raise GradsegError(
            f"--size {cfg.size} must be divisible by 2**levels = {2**info.levels} "
            f"(the U-Net has one decoder stage per cache level, L = {info.levels})"
        )
    if cfg.val_target not in VAL_TARGETS:
        raise usage_error("--val-target", f"{cfg.val_target!r} is not one of "
                          f"{', '.join(VAL_TARGETS)}")
    if not info.mask_available:
        why = (f"the cache {info.path} has no ground-truth masks (render it with --masks "
               "to get them)")
        if cfg.val_target == "mask":
            raise usage_error("--val-target", f"mask: {why}; use --val-target pseudo (or auto)")
        if uses_masks:
            raise usage_error("--method", f"{cfg.method} trains on masks but {why}; use a "
                              "method that trains on gaze (gradtrack, gazesup, fgi...)")
    if cfg.val_target == "auto":
        cfg.val_target = "mask" if info.mask_available else "pseudo"
    if cfg.labels not in (None, "pseudo"):
        from gazeprep.contract.errors import InputError
        from gazeprep.contract.labels import labels_info, list_labels

        try:
            if cfg.labels not in list_labels(info.path):
                labels_info(info.path, cfg.labels)  # says which labels the cache has
        except InputError as exc:
            raise usage_error("--labels", exc.message) from exc
        labels_info(info.path, cfg.labels)  # labels that do not fit: a failure (exit 1)
    return cfg


def check_resume(cfg: TrainConfig, saved: dict, path: Path) -> None:
    """Refuse to resume a run with settings that would change its result."""
    mine = asdict(cfg)
    diffs = [k for k, v in saved.items() if k not in RESUME_FREE and mine.get(k) != v]
    if diffs:
        show = ", ".join(f"{k}: run={saved[k]!r} now={mine.get(k)!r}" for k in diffs[:4])
        raise GradsegError(f"--resume with different settings ({show}); use the run's "
                           f"settings (see config.json) or a new --out", file=path)


# --- settings files (gradseg train --config) --------------------------------------------------
#: Settings a run's config.json holds that the cache fills in: read and ignored in --config.
FROM_CACHE = ("levels", "cache_size", "image_options")
#: Largest --config file read: a settings file is a few hundred bytes.
MAX_CONFIG_BYTES = 1 << 20
#: The kinds of --config file, by extension.
CONFIG_KINDS = {".toml": "TOML", ".yaml": "YAML", ".yml": "YAML", ".json": "JSON"}


def read_config_file(path: str | Path) -> dict:
    """The settings of a ``--config`` file: TOML, YAML or JSON (a run's ``config.json``).

    Keys are :class:`TrainConfig`'s (``batch_size`` or ``batch-size``; FGI's own settings in
    an ``fgi`` table); the keys the cache fills in (:data:`FROM_CACHE`) are ignored, so a run's
    ``config.json`` re-runs the run. Values are checked against the settings' types.

    Example (``exp.toml``)::

        cache = "data/maps.zarr"
        method = "gazesup"
        iterations = 1200
        thresholds = [0.5, 0.3]

    Raises
    ------
    GradsegError
        The file cannot be read or parsed (with the line), is not a table of settings, has an
        unknown key (naming the closest known one) or a value of the wrong type.
    """
    path = Path(path)
    kind = CONFIG_KINDS.get(path.suffix.lower())
    if kind is None:
        raise GradsegError(f"expected a .toml, .yaml, .yml or .json settings file, got "
                           f"{path.suffix or 'no extension'!r}", file=path)
    try:
        with open(path, "rb") as f:  # at most one byte past the cap: /dev/zero ends too
            raw = f.read(MAX_CONFIG_BYTES + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GradsegError(f"cannot read the settings file: {exc}", file=path) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise GradsegError(f"larger than {MAX_CONFIG_BYTES // 1024} KiB; expected a settings "
                           f"file of a few lines", file=path)
    try:
        data = _parse(text, kind, path)
    except RecursionError:
        raise GradsegError("nested too deeply; expected a table of settings", file=path) from None
    if not isinstance(data, dict):
        raise GradsegError(f"expected a table of settings (key = value), got a "
                           f"{type(data).__name__}", file=path)
    return check_settings({str(k).replace("-", "_"): v for k, v in data.items()}, path)


def _parse(text: str, kind: str, path: Path):
    """The parsed file; a syntax error names its line."""
    if kind == "TOML":
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise GradsegError(f"not valid TOML: {exc}", file=path) from None
    if kind == "JSON":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise GradsegError(f"line {exc.lineno}: not valid JSON: {exc.msg}",
                               file=path) from None
    try:
        import yaml
    except ImportError:
        raise GradsegError("reading YAML needs PyYAML (pip install pyyaml); or write the "
                           "settings as TOML", file=path) from None
    try:
        return yaml.load(text, Loader=_no_alias_loader(yaml))  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise GradsegError(f"{where}not valid YAML: {getattr(exc, 'problem', exc)}",
                           file=path) from None


def _no_alias_loader(yaml):
    """PyYAML's SafeLoader refusing aliases (``*name``): nested aliases ("billion laughs")
    expand a few hundred bytes into gigabytes, and settings never need them."""

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed in a settings file; write "
                    "the value out", self.peek_event().start_mark)
            return super().compose_node(parent, index)

    return NoAliasLoader


def check_settings(data: dict, path: str | Path) -> dict:
    """``data`` with known keys only and values of the settings' types (ints accepted as
    floats); the cache-filled keys dropped. See :func:`read_config_file`."""
    import difflib
    import typing

    hints = typing.get_type_hints(TrainConfig)
    known = [f.name for f in fields(TrainConfig)]
    out = {}
    for key, value in data.items():
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise GradsegError(f"unknown setting {key!r}; {hint}known settings: "
                               f"{', '.join(k for k in known if k not in FROM_CACHE)}", file=path)
        if key in FROM_CACHE:
            continue
        ok, value = _typed(value, hints[key])
        if not ok:
            raise GradsegError(f"setting {key!r}: expected {_type_name(hints[key])}, got "
                               f"{data[key]!r}", file=path)
        out[key] = value
    return out


def _typed(value, hint) -> tuple[bool, object]:
    """(whether ``value`` fits the type ``hint``, the value as that type)."""
    import types
    import typing

    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType):  # X | None
        if value is None:
            return type(None) in args, None
        return _typed(value, next(a for a in args if a is not type(None)))
    origin = typing.get_origin(hint) or hint
    if origin is list:
        if not isinstance(value, list):
            return False, value
        items = [_typed(v, args[0]) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, bool) or hint is bool:
        return isinstance(value, bool) and hint is bool, value
    if hint is float and isinstance(value, int | float):
        return True, float(value)
    return isinstance(value, origin), value


def _type_name(hint) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def merge_settings(defaults: dict, file: dict, given: dict) -> dict:
    """The settings of a run: ``defaults`` < the ``--config`` file < ``given`` on the command
    line. FGI's own settings merge key by key; ``--iterations`` given on the command line
    drops the file's ``epochs`` and the other way round (they exclude each other)."""
    merged = {**defaults, **file, **given}
    merged["fgi"] = {**(file.get("fgi") or {}), **(given.get("fgi") or {})}
    for a, b in (("iterations", "epochs"), ("epochs", "iterations")):
        if given.get(a) is not None and b not in given:
            merged[b] = None
    return merged
