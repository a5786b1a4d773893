"""An image file's own values and geometry, for tools that take images as their files hold
them (nnU-Net normalises intensities itself and trains at the original spacing), beside the
8-bit pixels :mod:`gazeprep.contract.images` gives a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.contract.images import ImageRef, _frame, _open_raster, check_finite


def read_values(ref: ImageRef) -> np.ndarray:
    """One image's own values at its own size, before the 8-bit window: (H, W) after the
    DICOM rescale (CT in HU) or as a volume stores them, or (H, W[, 3]) as a raster file
    stores it; what a tool that normalises intensities itself (nnU-Net) should read."""
    if ref.kind == "raster":
        a = np.asarray(_open_raster(ref.path, None))
    else:
        a = _frame(ref, "image")[1]
    check_finite(a, ref.path, "the image's pixel values", nan_ok=True)
    return a


def modality(ref: ImageRef) -> str | None:
    """The DICOM file's Modality (``CT``, ``MR``...); None for other files or none given."""
    if ref.kind != "dicom":
        return None
    import pydicom

    value = pydicom.dcmread(ref.path, stop_before_pixels=True, specific_tags=["Modality"]).get(
        "Modality")
    return str(value).strip() or None if value else None


def save_nifti(path: Path, rows_cols: np.ndarray, spacing: tuple[float, float]) -> None:
    """An (H, W) image as a NIfTI volume of one slice: voxel axes (column, row, 1), voxel sizes
    (column spacing, row spacing, 1) mm, as nnU-Net's NIfTI reader takes a 2-D image.

    ``spacing``: (between rows, between columns) in mm, as
    :func:`gazeprep.contract.spacing.pixel_spacing` gives it."""
    import nibabel as nib

    data = np.ascontiguousarray(rows_cols.T[:, :, None])
    affine = np.diag([float(spacing[1]), float(spacing[0]), 1.0, 1.0])
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm")
    nib.save(img, str(path))
