"""DICOM files (pydicom): header facts for the folder index and frames for the window rule.

Headers are checked before they are acted on: NumberOfFrames is a whole number the file's bytes
can hold, and the rescale and window attributes are finite numbers (a width > 0, a nonzero
slope); pixel values that the rescale makes infinite are refused.

Every frame of a file is decoded at once (pydicom's ``pixel_array``; compressed transfer
syntaxes through the pylibjpeg plugins), rescaled (Modality LUT, or RescaleSlope and
RescaleIntercept, per frame for enhanced multi-frame files) and kept with the file's windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.contract._checks import (
    DEFLATE_MAX_RATIO,
    check_claim,
    check_finite,
    check_frames,
    check_memory,
    finite_number,
    human_bytes,
    memory_available,
    out_of_memory,
)
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
    # pydicom's own warning for a malformed value ("Invalid value for VR IS") would add lines
    # to the one that names the field; the values used here are checked where they are read.
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    _check_deflated(pydicom, path)
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=not pixels, force=True)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad input file
        raise InputError(f"cannot read DICOM ({type(exc).__name__}: {exc})", file=path) from exc


def _check_deflated(pydicom, path: Path) -> None:
    """A deflated data set (transfer syntax 1.2.840.10008.1.2.1.99) is inflated whole by
    pydicom: count what it inflates to first, a chunk at a time, and refuse more than the
    memory left (a 2.5 MB file can hold 2.5 GB)."""
    import zlib

    try:
        meta = pydicom.filereader.read_file_meta_info(str(path))
        deflated = meta.get("TransferSyntaxUID") == pydicom.uid.DeflatedExplicitVRLittleEndian
        start = 132 + 12 + int(meta.get("FileMetaInformationGroupLength", 0))
    except Exception:  # noqa: BLE001 - no file meta: pydicom reads it plainly (or says why)
        return
    left = memory_available()
    if not deflated or left is None:
        return
    dec, total = zlib.decompressobj(-zlib.MAX_WBITS), 0
    with open(path, "rb") as f:
        f.seek(start)
        while not dec.eof and total <= left // 2:  # pydicom holds the inflated bytes twice
            chunk = dec.unconsumed_tail or f.read(1 << 20)
            if not chunk:
                break
            try:
                total += len(dec.decompress(chunk, 1 << 24))
            except zlib.error:
                return  # pydicom names the damage
    if total > left // 2:
        raise InputError(f"the deflated data set inflates to more than {human_bytes(total)}, "
                         f"more than the memory this process can use "
                         f"({human_bytes(left)}); expected a smaller file or more memory",
                         file=path)


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
    frames = _frames(ds, path)
    _check_pixel_claim(ds, path, frames, path.stat().st_size)
    return frames, int(rows), int(cols)


def _frames(ds, path: Path) -> int:
    """NumberOfFrames (1 when absent), a whole number in 1..MAX_FRAMES."""
    try:
        value = ds.get("NumberOfFrames")
    except ValueError:  # pydicom converts on access: an IS that is no integer
        value = ds["NumberOfFrames"].value
    value = "" if value is None else str(value).strip()
    if value == "":
        return 1
    try:
        frames = int(value)
    except ValueError:
        raise InputError(f"NumberOfFrames {value!r}: expected a whole number",
                         file=path) from None
    return check_frames(frames, path, "NumberOfFrames")


def _frame_bytes(ds) -> int:
    """Bytes one stored frame takes uncompressed (BitsAllocated 1: packed bits)."""
    bits = int(ds.get("BitsAllocated") or 8)
    n = int(ds.get("Rows") or 0) * int(ds.get("Columns") or 0) * int(ds.get("SamplesPerPixel") or 1)
    if ds.get("PhotometricInterpretation") == "YBR_FULL_422":  # chroma halved: 2 samples a pixel
        n = n * 2 // 3
    return n * bits // 8 if bits >= 8 else -(-n // 8)


def _check_pixel_claim(ds, path: Path, frames: int, stored: int) -> None:
    """Refuse frames the file (``stored`` bytes) cannot hold: uncompressed, their bytes;
    compressed, the 8 bytes of an item header per frame at least; deflated data sets,
    deflate's largest ratio."""
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    compressed = bool(getattr(ts, "is_compressed", False))
    if getattr(ts, "is_deflated", False):  # the whole data set deflated
        stored *= DEFLATE_MAX_RATIO
    claimed = frames * (8 if compressed else _frame_bytes(ds))
    check_claim(claimed, stored, path, f"the header ({frames} frame(s) of "
                f"{ds.get('Rows')} x {ds.get('Columns')}{', compressed' if compressed else ''})")


def _frame_item(ds, k: int, sequence: str):
    """First item of a functional-group ``sequence`` for frame k (per-frame, else shared)."""
    for groups, idx in (("PerFrameFunctionalGroupsSequence", k),
                        ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(groups)
        if seq is not None and idx < len(seq) and seq[idx].get(sequence):
            return seq[idx].get(sequence)[0]
    return None


def _first(src, name: str, path: Path, positive: bool = False) -> float | None:
    """Attribute ``name``'s first value (window attributes may hold several), None when
    absent; a value that is not a finite number (> 0 when ``positive``) is an InputError."""
    try:
        value = src.get(name)
    except ValueError:  # pydicom converts on access: a DS that is no number
        value = str(src[name].value)
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        return None
    first = value[0] if hasattr(value, "__len__") and not isinstance(value, str) else value
    try:
        return finite_number(first, path, name, positive=positive)
    except (TypeError, ValueError):
        raise InputError(f"{name} {str(first)!r}: expected a number", file=path) from None


def _rescale(ds, k: int, path: Path) -> tuple[float, float] | None:
    """(slope, intercept) of frame k, None when there is none or it is the identity."""
    src = ds if "RescaleSlope" in ds else _frame_item(ds, k, "PixelValueTransformationSequence")
    if src is None:
        return None
    slope = _first(src, "RescaleSlope", path)
    inter = _first(src, "RescaleIntercept", path)
    if slope == 0.0:
        raise InputError("RescaleSlope is 0.0: expected a nonzero slope (0 makes every pixel "
                         "the intercept)", file=path)
    slope = 1.0 if slope is None else slope
    inter = 0.0 if inter is None else inter
    return None if (slope, inter) == (1.0, 0.0) else (slope, inter)


def _window(ds, k: int, path: Path) -> tuple[float, float] | None:
    """The file's (WindowCenter, WindowWidth) for frame k, None when it has none."""
    src = ds if "WindowCenter" in ds else _frame_item(ds, k, "FrameVOILUTSequence")
    if src is None:
        return None
    c = _first(src, "WindowCenter", path)
    w = _first(src, "WindowWidth", path, positive=True)
    return None if c is None or w is None else (c, w)


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
    frames = _frames(ds, path)
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
    """Decode a DICOM file into a :class:`Volume` (images rescaled, masks as stored).

    The frames the header claims are checked against the file and the memory left first.
    """
    ds = _read(path, pixels=True)
    frames = _frames(ds, path)
    _check_pixel_claim(ds, path, frames, path.stat().st_size)
    samples = frames * int(ds.get("Rows") or 0) * int(ds.get("Columns") or 0) \
        * int(ds.get("SamplesPerPixel") or 1)
    stored = max(int(ds.get("BitsAllocated") or 8) // 8, 1)
    windowed = role == "image" and (stored > 1 or "RescaleSlope" in ds)  # a float32 copy
    check_memory(samples * (stored + 4 * windowed), path,
                 f"the pixel data ({frames} frame(s) of {ds.get('Rows')} x {ds.get('Columns')})")
    try:
        vol = _volume_of(ds, path, role)
    except InputError:
        raise
    except MemoryError:
        raise out_of_memory(path, "the pixel data") from None
    except Exception as exc:  # noqa: BLE001 - a LUT or attribute pydicom cannot apply
        raise InputError(f"cannot apply the file's pixel attributes ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:240]})", file=path) from exc
    check_finite(vol.frames, path, "the pixel values" if role == "mask" else
                 "the pixel values after the Modality LUT or RescaleSlope/RescaleIntercept",
                 nan_ok=role == "image")
    return vol


def _volume_of(ds, path: Path, role: str) -> Volume:
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
    windows = [_window(ds, k, path) for k in range(n)]
    if ds.get("ModalityLUTSequence"):
        from pydicom.pixels import apply_modality_lut

        values = apply_modality_lut(arr, ds).astype(np.float32)
        return Volume(values, invert=invert, windows=windows)
    scales = [_rescale(ds, k, path) for k in range(n)]
    if arr.dtype == np.uint8 and not any(scales):
        return Volume(arr, stored8=True, invert=invert)
    values = arr.astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused by the caller
        for k, sc in enumerate(scales):
            if sc is not None:
                values[k] = values[k] * np.float32(sc[0]) + np.float32(sc[1])
    return Volume(values, invert=invert, windows=windows)
