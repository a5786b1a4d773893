"""Inference on plain image files and on cache samples, at the images' own sizes."""

from __future__ import annotations

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


def write_prediction(out: Path, key: str, rgb: np.ndarray, mask: np.ndarray) -> None:
    """Write ``<id>.png`` (0/255 mask) and ``<id>_overlay.png`` into ``out``."""
    from skimage.io import imsave

    from gradseg.pictures import overlay

    imsave(str(out / f"{key}.png"), (mask.astype(np.uint8) * 255), check_contrast=False)
    imsave(str(out / f"{key}_overlay.png"), overlay(rgb, mask), check_contrast=False)
