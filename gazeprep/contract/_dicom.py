"""DICOM files (pydicom): header facts for the folder index and frames for the window rule.

Every frame of a file is decoded at once (pydicom's ``pixel_array``; compressed transfer
syntaxes through the pylibjpeg plugins), rescaled (Modality LUT, or RescaleSlope and
RescaleIntercept, per frame for enhanced multi-frame files) and kept with the file's windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.contract._volume import Volume
from gazeprep.contract.errors import InputError, require

DICOM_SUFFIXES = (".dcm", ".dicom")
_HINT = "pip install 'gazeprep-gradseg[medical]'"


def is_dicom_file(path: Path) -> bool:
    """Whether ``path`` carries the DICOM part-10 marker ('DICM' at byte 128)."""
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def _read(path: Path, pixels: bool):
    pydicom = require("pydicom", "DICOM (.dcm)")
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=not pixels, force=True)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad input file
        raise InputError(f"cannot read DICOM ({type(exc).__name__}: {exc})", file=path) from exc


def dicom_header(path: Path) -> tuple[int, int, int] | None:
    """(frames, rows, columns) of a DICOM image, or None for an object without an image.

    DICOM objects without rows (DICOMDIR, structured reports, RT plans) are not images; a
    file that is neither (no 'DICM' marker, no SOP class) is an error.
    """
    ds = _read(path, pixels=False)
    rows, cols = ds.get("Rows"), ds.get("Columns")
    if not rows or not cols:
        if "SOPClassUID" in ds or "MediaStorageSOPClassUID" in getattr(ds, "file_meta", {}) \
                or is_dicom_file(path):
            return None
        raise InputError("not a DICOM file (no 'DICM' marker, no SOP class, no image rows)",
                         file=path)
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        frames = 1
    return max(frames, 1), int(rows), int(cols)


def _frame_item(ds, k: int, sequence: str):
    """First item of a functional-group ``sequence`` for frame k (per-frame, else shared)."""
    for groups, idx in (("PerFrameFunctionalGroupsSequence", k),
                        ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(groups)
        if seq is not None and idx < len(seq) and seq[idx].get(sequence):
            return seq[idx].get(sequence)[0]
    return None


def _first(value) -> float | None:
    """A numeric attribute's first value (window attributes may hold several)."""
    if value is None:
        return None
    try:
        return float(value[0] if hasattr(value, "__len__") and not isinstance(value, str)
                     else value)
    except (TypeError, ValueError, IndexError):
        return None


def _rescale(ds, k: int) -> tuple[float, float] | None:
    """(slope, intercept) of frame k, None when there is none or it is the identity."""
    src = ds if "RescaleSlope" in ds else _frame_item(ds, k, "PixelValueTransformationSequence")
    if src is None:
        return None
    slope = _first(src.get("RescaleSlope"))
    inter = _first(src.get("RescaleIntercept"))
    slope = 1.0 if slope is None else slope
    inter = 0.0 if inter is None else inter
    return None if (slope, inter) == (1.0, 0.0) else (slope, inter)


def _window(ds, k: int) -> tuple[float, float] | None:
    """The file's (WindowCenter, WindowWidth) for frame k, when present and valid."""
    src = ds if "WindowCenter" in ds else _frame_item(ds, k, "FrameVOILUTSequence")
    if src is None:
        return None
    c, w = _first(src.get("WindowCenter")), _first(src.get("WindowWidth"))
    if c is None or w is None or not w > 0:
        return None
    return c, w


def _pixels(ds, path: Path) -> np.ndarray:
    """All frames, shape (K, H, W[, 3]), colour as RGB."""
    try:
        arr = ds.pixel_array  # YBR colour spaces come back as RGB
    except Exception as exc:  # noqa: BLE001 - missing plugin or corrupt pixel data
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        why = " ".join(str(exc).split())[:240]
        try:
            import pylibjpeg  # noqa: F401
            hint = "the installed decoders could not read it"
        except ImportError:
            hint = f"compressed DICOM needs the pylibjpeg plugins: {_HINT}"
        raise InputError(f"cannot decode the pixel data ({getattr(ts, 'name', ts)}; "
                         f"{hint}): {why}", file=path) from exc
    frames = int(ds.get("NumberOfFrames") or 1)
    colour = int(ds.get("SamplesPerPixel") or 1) == 3
    if frames == 1 and arr.ndim == (3 if colour else 2):
        arr = arr[None]
    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
        if arr.dtype == np.uint16:  # 16-bit palette entries span 0..65535
            arr = np.rint(arr / 257.0).astype(np.uint8)
    return arr


def load_dicom(path: Path, role: str) -> Volume:
    """Decode a DICOM file into a :class:`Volume` (images rescaled, masks as stored)."""
    ds = _read(path, pixels=True)
    arr = _pixels(ds, path)
    if role == "mask":
        if arr.ndim != 3:
            raise InputError(f"colour DICOM (shape {arr.shape[1:]}): expected a one-channel "
                             f"mask", file=path)
        return Volume(arr)
    invert = ds.get("PhotometricInterpretation") == "MONOCHROME1"
    n = arr.shape[0]
    if arr.ndim == 4:  # colour: no rescale, no file window
        return Volume(arr, stored8=arr.dtype == np.uint8)
    if ds.get("ModalityLUTSequence"):
        from pydicom.pixels import apply_modality_lut

        values = apply_modality_lut(arr, ds).astype(np.float32)
        return Volume(values, invert=invert, windows=[_window(ds, k) for k in range(n)])
    scales = [_rescale(ds, k) for k in range(n)]
    if arr.dtype == np.uint8 and not any(scales):
        return Volume(arr, stored8=True, invert=invert)
    values = arr.astype(np.float32)
    for k, sc in enumerate(scales):
        if sc is not None:
            values[k] = values[k] * np.float32(sc[0]) + np.float32(sc[1])
    return Volume(values, invert=invert, windows=[_window(ds, k) for k in range(n)])
