"""Inference on image files and on cache samples, at the images' own sizes.

Files are read by :mod:`gazeprep.contract.images`, the rule ``gazeprep render`` made the
training cache with, so a model sees a new file as it saw its training images.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from gazeprep.contract.images import (
    RASTER_SUFFIXES,
    ImageOptions,
    ImageRef,
    image_size,
    index_folder,
    read_image,
)
from gazeprep.contract.images import read_mask as contract_read_mask
from gazeprep.maps import UNIT_SCALE
from gradseg.errors import GradsegError
from gradseg.model import predict_logits


def list_images(folder: str | Path, options: ImageOptions | None = None) -> dict[str, ImageRef]:
    """Images of a folder keyed by id (see :func:`gazeprep.contract.images.index_folder`).

    Raises
    ------
    GradsegError
        The folder is missing or holds no image; two files give one id (InputError).
    """
    d = Path(folder)
    if not d.is_dir():
        raise GradsegError("image folder not found", file=d)
    found = index_folder(d, options)
    if not found:
        raise GradsegError(f"no images ({', '.join(RASTER_SUFFIXES)}, .dcm, .nii, .nii.gz, "
                           f".nrrd) in the folder", file=d)
    return found


def read_rgb(ref: ImageRef, options: ImageOptions | None = None) -> np.ndarray:
    """An image at its own size as uint8 RGB (H, W, 3), by the rule the cache was made with."""
    return read_image(ref, None, options)


def read_mask(ref: ImageRef, options: ImageOptions | None = None) -> np.ndarray:
    """A ground-truth mask as bool (H, W) (see :func:`gazeprep.contract.images.read_mask`)."""
    return contract_read_mask(ref, None, options)


def model_input(ref: ImageRef, config: dict, options: ImageOptions | None = None
                ) -> torch.Tensor:
    """The image as the model saw training images: float (1, 3, s, s) in [0, 1].

    Read at the cache's size by the contract's rule (the bytes ``gazeprep render`` stored),
    then resampled to the model's size ``config["size"]`` as training resamples the cache.
    Checkpoints without ``cache_size`` are taken to be trained at the cache's size.
    """
    from gradseg.augment import apply_affine, identity_params

    size = int(config["size"])
    cache_size = int(config.get("cache_size") or size)
    x = torch.from_numpy(read_image(ref, cache_size, options)).permute(2, 0, 1).float()
    x = apply_affine({"image": x.div_(float(UNIT_SCALE))}, identity_params(), size)["image"]
    return x.unsqueeze(0)


@torch.no_grad()
def probabilities(model, images: torch.Tensor, amp: bool = False) -> torch.Tensor:
    """Foreground probabilities (B, 1, H, W) for a (B, 3, H, W) float batch in [0, 1]."""
    dev = next(model.parameters()).device
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
        logits = predict_logits(model(images.to(dev)))
    return torch.sigmoid(logits.float()).cpu()


def predict_image(model, config: dict, ref: ImageRef, options: ImageOptions | None = None,
                  amp: bool = False) -> np.ndarray:
    """Probability map (H, W) of one image at its own size.

    The model sees :func:`model_input`; its probabilities are resized bilinearly to the image's
    own size before thresholding, so the mask follows the image's pixel grid.
    """
    p = probabilities(model, model_input(ref, config, options), amp)
    p = torch.nn.functional.interpolate(p, size=image_size(ref), mode="bilinear",
                                        align_corners=False)
    return p[0, 0].numpy()


def iter_predictions(model, config: dict, images: dict[str, ImageRef], amp: bool = False,
                     options: ImageOptions | None = None
                     ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (id, uint8 RGB image, bool mask at the image's size) for each image."""
    for key, ref in images.items():
        rgb = read_rgb(ref, options)
        yield key, rgb, predict_image(model, config, ref, options, amp) >= 0.5


def write_prediction(out: Path, key: str, rgb: np.ndarray, mask: np.ndarray) -> None:
    """Write ``<id>.png`` (0/255 mask) and ``<id>_overlay.png`` into ``out``."""
    from skimage.io import imsave

    from gradseg.pictures import overlay

    imsave(str(out / f"{key}.png"), (mask.astype(np.uint8) * 255), check_contrast=False)
    imsave(str(out / f"{key}_overlay.png"), overlay(rgb, mask), check_contrast=False)
