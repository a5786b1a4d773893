"""Inference on plain image files and on cache samples, at the images' own sizes.

``predict --out`` never replaces a file unless asked: every output name (``<id>.png``,
``<id>_overlay.png``) is known before anything is written, so :func:`check_out` refuses up
front an ``--out`` that is or lies inside ``--images``, two ids whose outputs would share a
name, and (without ``--overwrite``) any existing file an output would replace. Each file is
written under a temporary name and renamed into place, so none is ever half written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from gradseg.errors import GradsegError
from gradseg.model import predict_logits

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def list_images(folder: str | Path) -> dict[str, Path]:
    """Image files of a folder keyed by id (file stem); a duplicated stem is an error."""
    d = Path(folder)
    if not d.is_dir():
        raise GradsegError("image folder not found", file=d)
    found: dict[str, Path] = {}
    for p in sorted(d.iterdir()):
        if p.suffix.lower() in IMAGE_EXTS and p.is_file():
            if p.stem in found:
                raise GradsegError(f"two files share the id {p.stem!r}: {found[p.stem].name}, "
                                   f"{p.name}", file=d)
            found[p.stem] = p
    if not found:
        raise GradsegError(f"no images ({', '.join(IMAGE_EXTS)}) in the folder", file=d)
    return found


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3); grey is replicated, alpha dropped."""
    from skimage.io import imread
    from skimage.util import img_as_ubyte

    try:
        a = imread(str(path))
    except Exception as exc:
        raise GradsegError(f"cannot read image: {type(exc).__name__}: {exc}", file=path) from exc
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise GradsegError(f"expected an RGB or grey image, got shape {a.shape}", file=path)
    return img_as_ubyte(a[..., :3])


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask file as bool (H, W): 0/1 masks as is, 0..255 masks thresholded at 128."""
    from skimage.io import imread

    a = np.asarray(imread(str(path)))
    if a.ndim == 3:
        a = a[..., 0]
    return a > 0 if a.max() <= 1 else a >= 128


@torch.no_grad()
def probabilities(model, images: torch.Tensor, amp: bool = False) -> torch.Tensor:
    """Foreground probabilities (B, 1, H, W) for a (B, 3, H, W) float batch in [0, 1]."""
    dev = next(model.parameters()).device
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
        logits = predict_logits(model(images.to(dev)))
    return torch.sigmoid(logits.float()).cpu()


def predict_image(model, rgb: np.ndarray, size: int, amp: bool = False) -> np.ndarray:
    """Probability map (H, W) of one uint8 RGB image, computed at ``size`` and resized back.

    The image is resized to ``size`` x ``size`` without keeping the aspect ratio (as the cache
    is rendered); the probabilities are resized bilinearly to the original size before
    thresholding, so the mask follows the image's own pixel grid.
    """
    from skimage.transform import resize

    x = resize(rgb, (size, size), order=1, anti_aliasing=True, preserve_range=True) / 255.0
    t = torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1).unsqueeze(0)
    p = probabilities(model, t, amp)[0, 0].numpy()
    return resize(p, rgb.shape[:2], order=1, anti_aliasing=False)


def iter_predictions(model, config: dict, images: dict[str, Path],
                     amp: bool = False) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (id, uint8 RGB image, bool mask at the image's size) for each image file."""
    size = int(config["size"])
    for key, path in images.items():
        rgb = read_rgb(path)
        yield key, rgb, predict_image(model, rgb, size, amp) >= 0.5


def output_names(key: str) -> tuple[str, str]:
    """The files ``predict`` writes for image ``key``: its mask and its overlay picture."""
    return f"{key}.png", f"{key}_overlay.png"


def check_out(images: Path, out: Path, ids: list[str], overwrite: bool) -> list[str]:
    """Refuse, before anything is written, an ``--out`` that would lose a user's file.

    Returns
    -------
    list of str
        One line per leftover temporary file of an interrupted run, removed.

    Raises
    ------
    GradsegError
        ``out`` is, or lies inside, ``images`` (compared resolved); two ids would write the same
        file name (compared case-insensitively, for case-insensitive file systems); ``out`` is
        a file; or, without ``overwrite``, some output file exists already.
    """
    root = Path(images).resolve()
    where = Path(out).resolve()
    if where == root or root in where.parents:
        raise GradsegError(f"--out is or lies inside --images ({images}): predictions would "
                           "replace or mix with the input images; choose another --out", file=out)
    owner: dict[str, str] = {}
    for key in ids:
        for name in output_names(key):
            other = owner.setdefault(name.casefold(), key)
            if other != key:
                raise GradsegError(f"image ids {other!r} and {key!r} would both write {name}; "
                                   "rename one of the images", file=images)
    if out.exists() and not out.is_dir():
        raise GradsegError("--out exists and is not a folder", file=out)
    notes = _remove_leftovers(out, ids)
    names = [n for key in ids for n in output_names(key)]
    existing = [n for n in names if os.path.lexists(out / n)]
    if existing and not overwrite:
        raise GradsegError(f"{len(existing)} existing file(s) would be replaced (e.g. "
                           f"{', '.join(existing[:3])}); pass --overwrite to replace them, or "
                           "choose another --out", file=out)
    return notes


_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-\d+\.png$")


def _remove_leftovers(out: Path, ids: list[str]) -> list[str]:
    """Delete temporary files an interrupted ``predict`` left for these outputs."""
    if not out.is_dir():
        return []
    ours = {n for key in ids for n in output_names(key)}
    notes = []
    for p in out.iterdir():
        m = _TMP.match(p.name)
        if m and m.group("name") in ours and p.is_file():
            p.unlink()
            notes.append(f"{p}: removed, left by an interrupted run")
    return notes


def _save_png(path: Path, image: np.ndarray) -> None:
    """Write a PNG whole or not at all (temporary file in the same folder, then rename)."""
    from skimage.io import imsave

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    try:
        imsave(str(tmp), image, check_contrast=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_prediction(out: Path, key: str, rgb: np.ndarray, mask: np.ndarray) -> None:
    """Write ``<id>.png`` (0/255 mask) and ``<id>_overlay.png`` into ``out``.

    Call :func:`check_out` first: this replaces existing files of those names.
    """
    from gradseg.pictures import overlay

    mask_name, overlay_name = output_names(key)
    _save_png(out / mask_name, mask.astype(np.uint8) * 255)
    _save_png(out / overlay_name, overlay(rgb, mask))
