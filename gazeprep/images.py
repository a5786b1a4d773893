"""Image and mask folders: lookup by file stem (= image id), decode, resize to S x S."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.errors import GazeprepError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
JPEG_EXTS = (".jpg", ".jpeg")


def index_folder(folder: str | Path) -> dict[str, Path]:
    """Map each file stem in ``folder`` to its image file.

    Parameters
    ----------
    folder : str or Path
        Directory holding ``<id>.<ext>`` files with ext in :data:`IMAGE_EXTS`.

    Raises
    ------
    GazeprepError
        When the folder is missing or two files share a stem (ambiguous id).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GazeprepError("expected a folder of images", file=folder)
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in IMAGE_EXTS or not p.is_file():
            continue
        if p.stem in found:
            raise GazeprepError(
                f"two files for image id {p.stem!r} ({found[p.stem].name}, {p.name})", file=folder
            )
        found[p.stem] = p
    return found


def file_identity(path: Path | None) -> str:
    """Cheap identity of an input file (name, size, mtime in ns); '' for no file."""
    if path is None:
        return ""
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


#: PIL modes converted to RGB by PIL itself (8 bits per channel).
_PIL_8BIT = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "La", "RGBa"}


def _open(path: Path, size: int | None = None):
    """Decode an image with PIL; JPEGs are scaled down by the decoder but stay >= ``size``.

    Returns the PIL image and the file's original (height, width) in pixels.
    """
    from PIL import Image

    try:
        im = Image.open(path)
        hw = (int(im.height), int(im.width))
        if size is not None and im.format == "JPEG":
            # DCT-domain reduction by 1/2, 1/4 or 1/8, never below the requested size.
            im.draft("RGB", (size, size))
        im.load()
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad input file
        raise GazeprepError(f"cannot decode image ({exc})", file=path) from exc
    return im, hw


def _to_8bit(im, path: Path):
    """8-bit PIL image of any PIL image (16-bit and float images scaled by their maximum)."""
    from PIL import Image

    if im.mode in _PIL_8BIT:
        return im
    a = np.asarray(im, dtype=np.float64)
    if a.ndim != 2:
        raise GazeprepError(f"unsupported image mode {im.mode!r}", file=path)
    return Image.fromarray((a / max(float(a.max()), 1.0) * 255.0).astype(np.uint8), "L")


def load_image(path: Path, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode an image and resize it to ``size`` x ``size`` RGB (no aspect preservation).

    Decoding and resizing are PIL's: JPEGs are decoded at the smallest DCT scale that is still at
    least ``size``, then every image is resized with PIL's bilinear filter, whose support widens
    with the reduction (anti-aliased). Gray images are repeated to RGB, alpha is dropped, 16-bit
    images are scaled by their maximum.

    Parameters
    ----------
    path : Path
        Image file.
    size : int
        Output side S in pixels.

    Returns
    -------
    image : ndarray of uint8, shape (3, S, S)
    orig_size : (int, int)
        Original (height, width) in pixels.
    """
    from PIL import Image

    im, hw = _open(path, size)
    rgb = _to_8bit(im, path).convert("RGB").resize((size, size), Image.BILINEAR)
    return np.ascontiguousarray(np.moveaxis(np.asarray(rgb), -1, 0)), hw


def load_mask(path: Path, size: int) -> np.ndarray:
    """Decode a ground-truth mask, binarise it and resize it to ``size`` x ``size``.

    8-bit masks (JPEG ones included, whose edges are lossy) are thresholded at 128; masks whose
    maximum is 1 are taken as 0/1. Colour masks use their luminance (PIL's 'L'). The binary mask is
    resized with PIL's anti-aliased bilinear filter and kept where the result is >= 0.5.

    Parameters
    ----------
    path : Path
        Mask file.
    size : int
        Output side S in pixels.

    Returns
    -------
    ndarray of uint8, shape (1, S, S), values 0/1
    """
    from PIL import Image

    im, _ = _open(path)
    if im.mode in _PIL_8BIT and im.mode not in ("1", "L"):
        im = im.convert("L")
    m = np.asarray(im)
    if m.ndim != 2:
        raise GazeprepError(f"expected a 2-D mask, got shape {m.shape}", file=path)
    fg = m > 0 if m.max() <= 1 else m >= 128
    small = Image.fromarray(fg.astype(np.float32), "F").resize((size, size), Image.BILINEAR)
    return (np.asarray(small) >= 0.5).astype(np.uint8)[None]
