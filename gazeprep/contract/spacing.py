"""The physical size of an image's pixels, in millimetres, from the file's own header.

The cache records it per sample (``spacing``), so distances such as HD95 can be given in mm:

- DICOM: ``PixelSpacing`` (0028,0030), the distance in the patient between the centres of
  adjacent rows and of adjacent columns; in enhanced multi-frame files the frame's (or the
  shared) ``PixelMeasuresSequence``. ``ImagerPixelSpacing`` (at the detector, not in the
  patient) is not used.
- NIfTI: the voxel sizes (``pixdim``) of the two axes that span a slice, in the header's
  spatial unit (mm, metre or micron); a header whose unit is "unknown" gives no spacing.
- NRRD: the lengths of the ``space directions`` vectors (else ``spacings``) of the two axes,
  in ``space units`` when given, else mm when the file names an anatomical ``space``
  (RAS, LPS...), else no spacing.
- Other raster files (PNG, JPEG, ...): no spacing (their dots-per-inch are a printing hint).

Of a volume's slice axes i < j, rows follow j and columns i (unless ``--flip``), as in
:mod:`gazeprep.contract.images`; the spacing follows the same axes.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

from gazeprep.contract.errors import InputError
from gazeprep.contract.images import ImageRef

#: Length units that headers name, in mm.
_UNITS_MM = {"mm": 1.0, "millimeter": 1.0, "millimeters": 1.0, "meter": 1000.0, "m": 1000.0,
             "micron": 1e-3, "um": 1e-3, "µm": 1e-3, "cm": 10.0}
#: NRRD ``space`` values that are anatomical (patient) spaces, measured in mm by convention.
_ANATOMICAL = ("right", "left", "ras", "las", "lps", "scanner", "3d-right-handed",
               "3d-left-handed")


def pixel_spacing(ref: ImageRef) -> tuple[float, float] | None:
    """(between rows, between columns) pixel spacing of one image in mm, or None if unknown.

    Only headers are read; a header that cannot be read or holds no usable spacing (missing,
    zero, negative, no unit) gives None.

    Raises
    ------
    InputError
        The spacing is NaN or infinite (naming the header field): a broken header, not an
        unknown spacing.

    Examples
    --------
    >>> from gazeprep.contract.images import index_folder
    >>> refs = index_folder("ct/")  # doctest: +SKIP
    >>> pixel_spacing(refs["slice_001"])  # doctest: +SKIP
    (0.7, 0.7)
    """
    try:
        st = ref.path.stat()
    except OSError:
        return None
    key = (str(ref.path), st.st_size, st.st_mtime_ns)
    if ref.kind == "dicom":
        return _valid(_dicom_spacing(*key, ref.index), ref.path, "PixelSpacing")
    if ref.kind == "volume":
        found = _volume_axes(*key)
        if found is None:
            return None
        axes, field = found
        i, j = (d for d in range(3) if d != ref.axis)
        pair = (axes[j], axes[i]) if ref.transpose else (axes[i], axes[j])
        return _valid(pair, ref.path, field)
    return None


def _valid(pair, path: Path, field: str) -> tuple[float, float] | None:
    """(rows, columns) spacing when both are > 0; None when unknown; NaN or inf refused."""
    if pair is None:
        return None
    try:
        r, c = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise InputError(f"{field} holds a value that is not a number ({list(pair)!r}); "
                         f"expected two numbers in mm", file=path) from None
    if not (math.isfinite(r) and math.isfinite(c)):
        raise InputError(f"{field} gives a pixel spacing of {r!r} x {c!r} mm; expected finite "
                         f"numbers", file=path)
    return (r, c) if r > 0 and c > 0 else None


@functools.lru_cache(maxsize=64)
def _dicom_spacing(path: str, _size: int, _mtime: int, k: int) -> tuple | None:
    from gazeprep.contract._dicom import _frame_item, _read

    try:
        ds = _read(Path(path), pixels=False)
    except Exception:  # noqa: BLE001 - no header, no spacing (the pixels reader names errors)
        return None
    try:
        item = _frame_item(ds, k, "PixelMeasuresSequence")
        value = (item.get("PixelSpacing") if item is not None else None) or ds.get("PixelSpacing")
    except ValueError:  # pydicom converts on access: a DS that is no number
        raise InputError("PixelSpacing holds a value that is not a number; expected two "
                         "numbers in mm", file=path) from None  # pydicom set to validate
    if value is None or len(value) != 2:
        return None
    return tuple(value)


@functools.lru_cache(maxsize=16)
def _volume_axes(path: str, _size: int, _mtime: int) -> tuple[tuple, str] | None:
    """Spacing in mm of a volume's first three axes and the header field it is from, or None."""
    from gazeprep.contract._volume import NIFTI_SUFFIXES, volume_suffix

    try:
        if volume_suffix(Path(path).name) in NIFTI_SUFFIXES:
            axes, field = _nifti_axes(path), "pixdim"
        else:
            axes, field = _nrrd_axes(path)
        return None if axes is None else (axes, field)
    except Exception:  # noqa: BLE001 - an unreadable header gives no spacing
        return None


def _nifti_axes(path: str) -> tuple[float, float, float] | None:
    import nibabel

    header = nibabel.load(path).header
    unit = _UNITS_MM.get(str(header.get_xyzt_units()[0]).lower())
    zooms = tuple(header.get_zooms()[:3]) + (1.0,) * max(0, 3 - len(header.get_zooms()))
    if unit is None:
        return None
    return tuple(float(z) * unit for z in zooms[:3])


def _nrrd_axes(path: str) -> tuple[tuple | None, str]:
    import numpy as np

    from gazeprep.contract._nrrd import nrrd_layout

    h = nrrd_layout(Path(path)).header
    units = h.get("space units")
    if units is not None:
        factors = [_UNITS_MM.get(str(u).strip().lower()) for u in units]
        if any(f is None for f in factors):
            return None, ""
        unit = factors[0]
    elif any(a in str(h.get("space", "")).lower() for a in _ANATOMICAL):
        unit = 1.0
    else:
        return None, ""
    if h.get("space directions") is not None:
        field, sizes = "space directions", []
        for v in h["space directions"]:
            vec = np.asarray(v, dtype=float)
            if vec.size and not np.all(np.isnan(vec)):  # non-spatial axes are NaN or 'none'
                with np.errstate(over="ignore", invalid="ignore"):
                    sizes.append(float(np.linalg.norm(vec)))
    elif h.get("spacings") is not None:
        field = "spacings"
        sizes = [float(s) for s in h["spacings"] if not math.isnan(float(s))]
    else:
        return None, ""
    if len(sizes) < 2:
        return None, ""
    sizes = (sizes + [1.0])[:3]
    return tuple(s * unit for s in sizes), field
