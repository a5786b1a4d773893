"""Stacks of 2-D frames (NIfTI/NRRD volumes, multi-frame DICOM) and the few held in memory.

A :class:`Volume` holds every frame of one file, oriented as 2-D images, and the window that its
whole set of values gives. Files are decoded on demand through :func:`cached_volume`, which keeps
the last few (not the dataset) and is safe to call from many threads: render decodes images in a
thread pool, and two threads that ask for the same volume wait for one decode.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazeprep.contract._checks import (
    DEFLATE_MAX_RATIO,
    check_claim,
    check_finite,
    check_frames,
    check_memory,
    finite_number,
    out_of_memory,
)
from gazeprep.contract._nrrd import nrrd_layout, read_nrrd
from gazeprep.contract._window import auto_window
from gazeprep.contract.errors import InputError, reason, require

#: Decoded volumes kept: the current image and mask volume of two threads at a volume boundary.
CACHE_VOLUMES = 4
NIFTI_SUFFIXES = (".nii.gz", ".nii")
NRRD_SUFFIXES = (".nrrd", ".nhdr")


@dataclass
class Volume:
    """Frames of one file as 2-D images, with what the window rule needs.

    Attributes
    ----------
    frames : ndarray, shape (K, H, W) or (K, H, W, 3)
        Frame k as displayed: rows, columns (and RGB). Values after rescale (images) or as
        stored (masks).
    stored8 : bool
        uint8 samples without rescale: shown as they are, never windowed.
    invert : bool
        MONOCHROME1: 0 is white.
    windows : list of (center, width) or None
        The file's own window of each frame (DICOM), else None.
    """

    frames: np.ndarray
    stored8: bool = False
    invert: bool = False
    windows: list = field(default_factory=list)
    _auto: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def file_window(self, k: int) -> tuple[float, float] | None:
        """The file's window for frame ``k``, if it has one."""
        return self.windows[k] if k < len(self.windows) else None

    def auto_window(self, how: str) -> tuple[float, float]:
        """Window over all frames (``auto``: percentiles, ``minmax``), computed once."""
        with self._lock:
            if how not in self._auto:
                self._auto[how] = auto_window(self.frames, how)
            return self._auto[how]


class _VolumeCache:
    """Least-recently-used map of decoded volumes; one decode per key even under threads."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict = OrderedDict()
        self._loading: dict = {}
        self._lock = threading.Lock()

    def get(self, key, load: Callable[[], Volume]) -> Volume:
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
                event = self._loading.get(key)
                mine = event is None
                if mine:
                    event = self._loading[key] = threading.Event()
            if mine:
                break
            event.wait()  # another thread decodes it; then look again (or decode if it failed)
        try:
            vol = load()
            with self._lock:
                self._items[key] = vol
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
            return vol
        finally:
            with self._lock:
                self._loading.pop(key, None)
            event.set()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _VolumeCache(CACHE_VOLUMES)


def cached_volume(path: Path, role: str, load: Callable[[], Volume]) -> Volume:
    """The decoded volume of ``path`` for ``role`` (``image`` or ``mask``), decoding on a miss.

    The key includes the file's size and modification time, so an edited file is read again.
    """
    st = path.stat()
    return _CACHE.get((str(path), st.st_size, st.st_mtime_ns, role), load)


def volume_suffix(name: str) -> str | None:
    """The NIfTI/NRRD suffix ``name`` ends with (case-insensitive), or None."""
    low = name.lower()
    for suf in NIFTI_SUFFIXES + NRRD_SUFFIXES:
        if low.endswith(suf):
            return suf
    return None


def _as_3d(shape: tuple[int, ...], path: Path) -> tuple[int, int, int]:
    """A volume's shape as three axes: 2-D gains a last axis of 1, trailing 1s are dropped."""
    dims = list(shape)
    while len(dims) > 3 and dims[-1] == 1:
        dims.pop()
    if len(dims) == 2:
        dims.append(1)
    if len(dims) != 3:
        raise InputError(f"volume of shape {tuple(shape)}: expected a 3-D (or 2-D) volume, "
                         f"not a time series or vector image", file=path)
    return dims[0], dims[1], dims[2]


def volume_shape(path: Path) -> tuple[int, int, int]:
    """Shape (3 axes) of a NIfTI or NRRD volume from its header only, checked against the file."""
    try:
        if volume_suffix(path.name) in NIFTI_SUFFIXES:
            shape = _nifti(path)[0].shape
        else:
            shape = nrrd_layout(path).sizes
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputError(f"cannot read the volume header ({reason(exc)})", file=path) from exc
    dims = _as_3d(tuple(int(s) for s in shape), path)
    for axis, n in enumerate(dims):
        check_frames(n, path, f"axis {axis} size")
    return dims


def _nifti(path: Path):
    """The nibabel image of a NIfTI file and its (slope, intercept), header checked first.

    The voxels the header's dims claim must fit in the file (deflate's largest ratio for
    ``.nii.gz``). ``scl_slope`` 0 means no scaling (the NIfTI standard), and so does NaN, which
    SPM and Analyze converters write (nibabel's own ``anatomical.nii`` has it; nibabel reads it
    so). Otherwise slope and intercept must be finite.
    """
    nib = require("nibabel", "NIfTI")
    hdr = _nifti_header(nib, path)
    shape, dtype = hdr.get_data_shape(), hdr.get_data_dtype()
    offset = int(hdr.get_data_offset())
    _check_extensions(path, hdr, offset)
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize + offset
    gz = path.name.lower().endswith(".gz")
    check_claim(claimed, path.stat().st_size * (DEFLATE_MAX_RATIO if gz else 1), path,
                f"the header (dim {' x '.join(map(str, shape))}, {dtype}"
                f"{', gzip-compressed' if gz else ''})")
    slope, scale = float(hdr["scl_slope"]), None
    if not (slope == 0.0 or np.isnan(slope)):
        slope = finite_number(slope, path, "scl_slope")
        inter = finite_number(hdr["scl_inter"], path, "scl_inter")
        scale = None if (slope, inter) == (1.0, 0.0) else (slope, inter)
    return nib.load(str(path)), scale


def _nifti_header(nib, path: Path):
    """The file's own NIfTI-1 or NIfTI-2 header (nibabel's loaded image resets the scaling)."""
    from nibabel.openers import ImageOpener

    with ImageOpener(str(path)) as f:
        block = f.read(nib.Nifti2Header.template_dtype.itemsize)
    for klass in (nib.Nifti1Header, nib.Nifti2Header):
        size = klass.template_dtype.itemsize
        if len(block) >= size and klass.may_contain_header(block):
            return klass(block[:size], check=False)
    raise InputError("not a NIfTI-1 or NIfTI-2 file (no header of 348 or 540 bytes)",
                     file=path)


def _check_extensions(path: Path, hdr, offset: int) -> None:
    """The header's extensions must fit before ``vox_offset``: nibabel reads each one's
    claimed size whole, and a ``vox_offset`` before the extensions makes it read to the end."""
    import struct

    from nibabel.openers import ImageOpener

    start = hdr.template_dtype.itemsize + 4  # the header, then 4 bytes: extensions or not
    if offset < start:
        raise InputError(f"vox_offset {offset}: expected at least {start} in a single-file "
                         f"NIfTI (.hdr/.img pair headers are not supported)", file=path)
    check_memory(offset, path, f"the header and its extensions (vox_offset {offset})")
    with ImageOpener(str(path)) as f:
        f.seek(start - 4)
        flag = f.read(4)
        pos = start
        while flag[:1] not in (b"", b"\0") and offset - pos >= 16:  # as nibabel reads them
            f.seek(pos)
            head = f.read(8)
            esize = struct.unpack(f"{hdr.endianness}i", head[:4])[0] if len(head) == 8 else 0
            if esize < 16 or esize % 16 or pos + esize > offset:
                raise InputError(f"header extension at byte {pos} claims {esize} bytes; "
                                 f"expected a multiple of 16 that ends by vox_offset {offset}",
                                 file=path)
            pos += esize


def _read_array(path: Path, role: str) -> tuple[np.ndarray, bool]:
    """The volume's array and whether it is unscaled uint8 (masks: the stored values)."""
    if volume_suffix(path.name) not in NIFTI_SUFFIXES:
        data = np.asarray(read_nrrd(path))
        check_finite(data, path, "the volume's samples", nan_ok=role == "image")
        return data, data.dtype == np.uint8
    img, scale = _nifti(path)
    if img.get_data_dtype().names:
        raise InputError("colour (RGB) NIfTI volumes are not supported", file=path)
    stored = int(np.prod(img.shape, dtype=object)) * img.get_data_dtype().itemsize
    what = f"the volume ({' x '.join(map(str, img.shape))} {img.get_data_dtype()})"
    if role == "mask" or (scale is None and img.get_data_dtype() == np.uint8):
        check_memory(stored, path, what)
        data = np.asarray(img.dataobj.get_unscaled())
        check_finite(data, path, "the volume's voxels", nan_ok=role == "image")
        return data, role != "mask"
    check_memory(stored + int(np.prod(img.shape, dtype=object)) * 4, path, what)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused just below
        data = img.get_fdata(dtype=np.float32)
    check_finite(data, path, "the volume's voxels" if scale is None else
                 f"the voxels scaled by scl_slope {scale[0]:g}, scl_inter {scale[1]:g}",
                 nan_ok=True)
    return data, False


def load_volume(path: Path, role: str, axis: int, transpose: bool) -> Volume:
    """Decode a NIfTI/NRRD volume into frames along ``axis``.

    Frame k is the volume indexed at k along ``axis``; of the two remaining axes i < j, rows
    follow j and columns i when ``transpose`` (the default: ``data[:, :, k].T`` for the last
    axis), rows follow i and columns j otherwise (``--flip``).
    """
    try:
        data, stored8 = _read_array(path, role)
    except InputError:
        raise
    except MemoryError:
        raise out_of_memory(path, "the volume") from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputError(f"cannot read the volume ({reason(exc)})", file=path) from exc
    data = data.reshape(_as_3d(data.shape, path))
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    frames = np.moveaxis(data, axis, 0)
    if transpose:
        frames = frames.transpose(0, 2, 1)
    return Volume(frames, stored8=stored8 and role == "image")
