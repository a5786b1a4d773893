"""Image and mask folders for render: ids, and pixels in the cache's layout (C, S, S).

The rule that turns a file into pixels is :mod:`gazeprep.contract.images`, shared with
gradseg; this module only adds the cache's channel-first layout and the files' identities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.contract.images import (
    ImageOptions,
    ImageRef,
    check_pair,
    image_size,
    index_folder,
    read_image,
    read_mask,
    resize_mask,
)

__all__ = ["index_folder", "file_identity", "load_image", "load_mask", "ImageOptions"]


def file_identity(path: Path | None) -> str:
    """Cheap identity of an input file (name, size, mtime in ns); '' for no file."""
    if path is None:
        return ""
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def load_image(ref: ImageRef, size: int,
               options: ImageOptions | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """An image as the cache stores it: uint8 RGB resized to ``size`` x ``size``.

    See :func:`gazeprep.contract.images.read_image` for decoding, the 8-bit window rule and
    the resize.

    Returns
    -------
    image : ndarray of uint8, shape (3, S, S)
    orig_size : (int, int)
        Original (height, width) in pixels.
    """
    rgb = read_image(ref, size, options)
    return np.ascontiguousarray(np.moveaxis(rgb, -1, 0)), image_size(ref)


def load_mask(ref: ImageRef, size: int, options: ImageOptions | None = None,
              image_hw: tuple[int, int] | None = None, image: ImageRef | None = None
              ) -> np.ndarray:
    """A ground-truth mask as the cache stores it: 0/1 uint8 resized to ``size`` x ``size``.

    See :func:`gazeprep.contract.images.read_mask` for the foreground rule and the resize.
    With ``image_hw`` and ``image``, a mask of another size is an error naming both files.

    Returns
    -------
    ndarray of uint8, shape (1, S, S), values 0/1
    """
    full = read_mask(ref, None, options)
    if image is not None:
        check_pair(image, ref, image_hw, full.shape)
    return resize_mask(full, size).astype(np.uint8)[None]
