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


def _read(path: Path) -> np.ndarray:
    from skimage.io import imread

    try:
        return np.asarray(imread(path))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad input file
        raise GazeprepError(f"cannot decode image ({exc})", file=path) from exc


def load_image(path: Path, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode an image and resize it to ``size`` x ``size`` RGB (no aspect preservation).

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
    from skimage.transform import resize

    img = _read(path)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    elif img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]
    if img.ndim != 3 or img.shape[-1] != 3:
        raise GazeprepError(f"expected a gray, RGB or RGBA image, got shape {img.shape}", file=path)
    hw = (int(img.shape[0]), int(img.shape[1]))
    if img.dtype != np.uint8:
        img = (img.astype(np.float64) / max(float(img.max()), 1.0) * 255.0).astype(np.uint8)
    small = resize(img, (size, size), order=1, anti_aliasing=True, preserve_range=True)
    return np.moveaxis(np.clip(np.rint(small), 0, 255).astype(np.uint8), -1, 0), hw


def load_mask(path: Path, size: int) -> np.ndarray:
    """Decode a ground-truth mask, binarise it and resize it to ``size`` x ``size``.

    8-bit masks (JPEG ones included, whose edges are lossy) are thresholded at 128; masks whose
    maximum is 1 are taken as 0/1. Colour masks use their channel mean.

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
    from skimage.transform import resize

    m = _read(path)
    if m.ndim == 3:
        m = m[..., :3].mean(axis=-1)
    if m.ndim != 2:
        raise GazeprepError(f"expected a 2-D mask, got shape {m.shape}", file=path)
    fg = m > 0 if m.max() <= 1 else m >= 128
    small = resize(fg.astype(np.float32), (size, size), order=1, anti_aliasing=False)
    return (small >= 0.5).astype(np.uint8)[None]
