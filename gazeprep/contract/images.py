"""Image and mask files -> ids and pixels: the one rule gazeprep renders by and gradseg reads by.

Formats
    PNG, JPEG, BMP, TIFF (PIL); DICOM, single- and multi-frame, any transfer syntax pydicom and
    the pylibjpeg plugins decode (``.dcm``, ``.dicom``, or no known extension with the 'DICM'
    marker); NIfTI (``.nii``, ``.nii.gz``) and NRRD (``.nrrd``, detached ``.nhdr`` with its data
    file beside it) volumes.

Ids (:func:`index_folder`)
    The file name without its extension for a 2-D file (a PNG, a single-frame DICOM);
    ``<stem>_<k>`` for frame k of a multi-frame DICOM and slice k of a volume, k counted from
    ``slice_base`` (0 or 1). Two files giving one id are an error naming both.

Slices (NIfTI/NRRD)
    Slice k along ``slice_axis`` a (default 2, the last) is the array indexed at k along a; of
    the two remaining axes i < j, the image's rows follow j and its columns i: ``data[:, :, k].T``
    for a = 2, ``data[:, k, :].T`` for a = 1, ``data[k].T`` for a = 0, on the arrays nibabel and
    pynrrd return (the usual display of these files). ``flip`` drops the transpose, for arrays
    stored with rows first. Multi-frame DICOM frames are images as stored.

8 bits (:func:`window_rule`)
    Samples already 8-bit (uint8 without rescale) are kept as they are. All others (16-bit,
    signed, float, rescaled DICOM) go through the linear window of :func:`window_to_uint8`:
    ``--window C,W`` when given, else the DICOM file's WindowCenter/WindowWidth, else the 0.5th
    to 99.5th percentile of the volume's values (all slices of a NIfTI/NRRD volume, all frames of
    a multi-frame DICOM, the image itself otherwise); ``--window minmax`` uses min and max.
    MONOCHROME1 is then inverted. Grey images are returned as RGB (the channel repeated).

Masks (:func:`read_mask`)
    The stored values (no rescale, no window). 8-bit PNG/JPEG/BMP/TIFF masks: >= 128 when any
    value reaches 128 (0/255 masks, lossy JPEG edges), else nonzero (0/1 masks); every other
    format: nonzero. ``label`` N: value == N. A mask must have its image's size and, for
    volumes and multi-frame files, its number of slices (:func:`check_pair`).

Example
-------
>>> refs = index_folder("images/", ImageOptions(slice_base=1))    # doctest: +SKIP
>>> rgb = read_image(refs["Prostate3T-01-0027_14"], size=256)     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gazeprep.contract._checks import (
    DEFLATE_MAX_RATIO,
    check_claim,
    check_finite,
    check_memory,
    out_of_memory,
)
from gazeprep.contract._dicom import DICOM_SUFFIXES, dicom_header, is_dicom_file, load_dicom
from gazeprep.contract._volume import (
    Volume,
    cached_volume,
    load_volume,
    volume_shape,
    volume_suffix,
)
from gazeprep.contract._window import Window, auto_window, parse_window, window_to_uint8
from gazeprep.contract.errors import InputError

__all__ = ["ImageOptions", "ImageRef", "index_folder", "read_image", "read_mask", "image_size",
           "check_pair", "check_label", "LABEL_RANGE", "resize_mask", "window_rule",
           "window_to_uint8", "parse_window", "RASTER_SUFFIXES"]

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
LOSSY_SUFFIXES = (".jpg", ".jpeg")  # their values are not exact: ``--label`` refuses them
#: PIL modes PIL itself converts to RGB (8 bits per channel).
_PIL_8BIT = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "La", "RGBa"}


@dataclass(frozen=True)
class ImageOptions:
    """How image and mask files are read; every command that reads them takes one.

    Parameters
    ----------
    window : (center, width), "auto" or "minmax"
        The 8-bit window for samples that are not 8-bit (see :func:`window_rule`).
    slice_axis : int
        Volume axis (0, 1 or 2) the 2-D slices are taken along.
    slice_base : int
        0 or 1: the k of the first slice or frame in the ids ``<stem>_<k>``.
    flip : bool
        Volumes stored with rows first: slice k is ``data[:, :, k]``, not its transpose.
    label : int or None
        Masks: foreground is this value (default: nonzero, see :func:`read_mask`).
    """

    window: Window = "auto"
    slice_axis: int = 2
    slice_base: int = 0
    flip: bool = False
    label: int | None = None

    def __post_init__(self) -> None:
        w = self.window
        if isinstance(w, list | tuple):
            parse_window(f"{w[0]},{w[1]}")  # raises ValueError when invalid
            object.__setattr__(self, "window", (float(w[0]), float(w[1])))
        elif w not in ("auto", "minmax"):
            raise ValueError(f"window must be (center, width), 'auto' or 'minmax', got {w!r}")
        if self.slice_axis not in (0, 1, 2):
            raise ValueError(f"slice axis must be 0, 1 or 2, got {self.slice_axis}")
        if self.slice_base not in (0, 1):
            raise ValueError(f"slice base must be 0 or 1, got {self.slice_base}")
        lo, hi = LABEL_RANGE
        if self.label is not None and (isinstance(self.label, bool) or not isinstance(
                self.label, int | np.integer) or not lo <= self.label <= hi):
            raise ValueError(f"label must be an integer {lo}..{hi}, got {self.label!r}")
        if self.label is not None:
            object.__setattr__(self, "label", int(self.label))  # (JSON-ready)

    def to_dict(self) -> dict:
        """JSON-ready dict (the window as [center, width] or its name)."""
        d = asdict(self)
        d["window"] = list(self.window) if isinstance(self.window, tuple) else self.window
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> ImageOptions:
        """Options from :meth:`to_dict` output; missing keys take the defaults."""
        d = dict(d or {})
        return cls(**{k: d[k] for k in ("window", "slice_axis", "slice_base", "flip", "label")
                      if k in d})


@dataclass(frozen=True)
class ImageRef:
    """Where one id's pixels are: a file and, for multi-frame files, the frame.

    Attributes
    ----------
    path : Path
    kind : {"raster", "dicom", "volume"}
    index : int
        0-based frame or slice within the file (0 for a 2-D file).
    frames : int
        Frames or slices the file holds (1 for a 2-D file).
    shape : (int, int) or None
        (rows, columns) of the 2-D image when the header gave it (DICOM, volumes).
    axis, transpose : int, bool
        Volumes: the slice axis and whether slices are transposed (not ``flip``).
    """

    path: Path
    kind: str
    index: int = 0
    frames: int = 1
    shape: tuple[int, int] | None = None
    axis: int = 2
    transpose: bool = True

    @property
    def multi(self) -> bool:
        """Whether the file holds several frames or slices (ids ``<stem>_<k>``)."""
        return self.kind == "volume" or self.frames > 1

    def describe(self) -> str:
        """The file, with the frame for multi-frame files (for messages)."""
        return f"{self.path} [slice {self.index}]" if self.multi else str(self.path)


def _refs_of(p: Path, options: ImageOptions) -> list[tuple[str, ImageRef]]:
    """The (id, ref) pairs one file gives; [] for a file that is no image."""
    name = p.name
    suf = volume_suffix(name)
    if suf is not None:
        shape = volume_shape(p)
        ax = options.slice_axis
        i, j = (d for d in range(3) if d != ax)
        hw = (shape[j], shape[i]) if not options.flip else (shape[i], shape[j])
        stem = name[: -len(suf)]
        return [(f"{stem}_{k + options.slice_base}",
                 ImageRef(p, "volume", k, shape[ax], hw, ax, not options.flip))
                for k in range(shape[ax])]
    low = p.suffix.lower()
    if low in RASTER_SUFFIXES:
        return [(p.stem, ImageRef(p, "raster"))]
    if low in DICOM_SUFFIXES or (low not in (".txt", ".csv", ".json") and is_dicom_file(p)):
        head = dicom_header(p)
        if head is None:
            return []
        n, rows, cols = head
        stem = p.stem if low in DICOM_SUFFIXES else name
        if n == 1:
            return [(stem, ImageRef(p, "dicom", 0, 1, (rows, cols)))]
        return [(f"{stem}_{k + options.slice_base}", ImageRef(p, "dicom", k, n, (rows, cols)))
                for k in range(n)]
    return []


def index_folder(folder: str | Path, options: ImageOptions | None = None) -> dict[str, ImageRef]:
    """Map every image id in ``folder`` (not its sub-folders) to where its pixels are.

    Only headers are read (DICOM frame counts, volume shapes). Hidden files are skipped.

    Raises
    ------
    InputError
        The folder is missing, a header is unreadable, or two files give one id.
    """
    options = options or ImageOptions()
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("expected a folder of images", file=folder)
    found: dict[str, ImageRef] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        for key, ref in _refs_of(p, options):
            if key in found:
                raise InputError(f"two files for image id {key!r} ({found[key].path.name}, "
                                 f"{p.name})", file=folder)
            found[key] = ref
    return found


def window_rule(values: np.ndarray, *, stored8: bool, window: Window,
                file_window: tuple[float, float] | None, volume_window) -> np.ndarray:
    """The 8-bit pixels of one image: as stored when 8-bit, else through a linear window.

    Parameters
    ----------
    values : ndarray, shape (H, W) or (H, W, 3)
        The image's samples (rescaled for DICOM).
    stored8 : bool
        The samples are uint8 without rescale: returned as they are.
    window : (center, width), "auto" or "minmax"
        An explicit (center, width) wins; ``auto`` takes ``file_window`` when there is one.
    file_window : (center, width) or None
        The file's own window (DICOM WindowCenter/WindowWidth).
    volume_window : callable(str) -> (center, width)
        Window over the whole volume for ``auto`` (percentiles) or ``minmax``.

    Returns
    -------
    ndarray of uint8, the shape of ``values``
    """
    if stored8:
        return np.asarray(values, dtype=np.uint8)
    if isinstance(window, tuple):
        center, width = window
    elif window == "auto" and file_window is not None:
        center, width = file_window
    else:
        center, width = volume_window(window)
    return window_to_uint8(values, center, width)


def _open_raster(path: Path, size: int | None):
    """PIL image of a raster file; JPEGs are scaled down by the decoder but stay >= ``size``.

    The header's size is checked before decoding: Pillow's decompression-bomb limit
    (``Image.MAX_IMAGE_PIXELS``, a warning made an error here), PNG's deflate ratio and the
    memory left.
    """
    from PIL import Image

    _bomb_warnings_are_errors()
    try:
        im = Image.open(path)
        if size is not None and im.format == "JPEG":
            # DCT-domain reduction by 1/2, 1/4 or 1/8, never below the requested size.
            im.draft("RGB", (size, size))
        _check_raster_claim(im, path)
        im.load()
    except InputError:
        raise
    except MemoryError:
        raise out_of_memory(path, "the image") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad input file
        raise InputError(f"cannot decode image ({exc})", file=path) from exc
    return im


def _bomb_warnings_are_errors() -> None:
    """Pillow warns (on stderr, decoding anyway) up to twice its pixel limit: refuse instead.

    Set on every open (Python drops the identical filter first), so a ``catch_warnings``
    block around the caller, pytest's included, keeps it too.
    """
    import warnings

    from PIL import Image

    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def _check_raster_claim(im, path: Path) -> None:
    """Refuse a raster header whose pixels its file or the memory left cannot hold."""
    w, h = im.size
    what = f"the header ({w} x {h} pixels, mode {im.mode})"
    if im.format == "PNG":  # every row: a filter byte and one bit per pixel at least
        check_claim(h * (1 + -(-w // 8)), path.stat().st_size * DEFLATE_MAX_RATIO, path,
                    f"{what}, deflate-compressed,")
    sample = 1 if im.mode in _PIL_8BIT else 8  # other modes are windowed in float64
    check_memory(w * h * max(len(im.getbands()), 1) * sample, path, what)


def _volume(ref: ImageRef, role: str) -> Volume:
    if ref.kind == "dicom":
        return cached_volume(ref.path, role, lambda: load_dicom(ref.path, role))
    return cached_volume(ref.path, f"{role}:{ref.axis}:{ref.transpose}",
                         lambda: load_volume(ref.path, role, ref.axis, ref.transpose))


def _frame(ref: ImageRef, role: str) -> tuple[Volume, np.ndarray]:
    vol = _volume(ref, role)
    if not 0 <= ref.index < vol.frames.shape[0]:
        raise InputError(f"has {vol.frames.shape[0]} frames; frame {ref.index} was indexed "
                         f"(the file changed since)", file=ref.path)
    return vol, vol.frames[ref.index]


def _pil_rgb(ref: ImageRef, size: int | None, options: ImageOptions):
    """The image as an 8-bit PIL image, before any resize."""
    from PIL import Image

    if ref.kind == "raster":
        im = _open_raster(ref.path, size)
        if im.mode in _PIL_8BIT:
            return im
        a = np.asarray(im)
        if a.ndim != 2:
            raise InputError(f"unsupported image mode {im.mode!r}", file=ref.path)
        check_finite(a, ref.path, "the image's pixel values", nan_ok=True)
        grey = window_rule(a, stored8=False, window=options.window, file_window=None,
                           volume_window=lambda how: auto_window(a, how))
        return Image.fromarray(grey)
    vol, values = _frame(ref, "image")
    out = window_rule(values, stored8=vol.stored8, window=options.window,
                      file_window=vol.file_window(ref.index), volume_window=vol.auto_window)
    if vol.invert:
        out = 255 - out
    return Image.fromarray(np.ascontiguousarray(out))  # (H, W): "L", (H, W, 3): "RGB"


def read_image(ref: ImageRef, size: int | None = None,
               options: ImageOptions | None = None) -> np.ndarray:
    """The 8-bit RGB pixels of one image, optionally resized to ``size`` x ``size``.

    Decoding is PIL's for raster files (JPEGs decoded at the smallest DCT scale still >=
    ``size``); every image is then made RGB (grey repeated, alpha dropped) and, with ``size``,
    resized by PIL's bilinear filter (anti-aliased: its support widens with the reduction),
    without keeping the aspect ratio. The same pixels in any format give the same output.

    Parameters
    ----------
    ref : ImageRef
        From :func:`index_folder`.
    size : int, optional
        Output side S in pixels; None keeps the image's own size.
    options : ImageOptions, optional
        Uses ``window``.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3), or (S, S, 3) with ``size``
    """
    from PIL import Image

    try:
        rgb = _pil_rgb(ref, size, options or ImageOptions()).convert("RGB")
        if size is not None:
            rgb = rgb.resize((size, size), Image.BILINEAR)
        return np.array(rgb)  # a writable copy
    except MemoryError:
        raise out_of_memory(ref.path, "the image") from None


def read_mask(ref: ImageRef, size: int | None = None,
              options: ImageOptions | None = None) -> np.ndarray:
    """A ground-truth mask as bool (H, W), optionally resized to ``size`` x ``size``.

    Foreground: see the module notes (``options.label`` picks one label). With ``size`` the
    binary mask is resized by PIL's anti-aliased bilinear filter and kept where >= 0.5.

    Returns
    -------
    ndarray of bool, shape (H, W), or (S, S) with ``size``
    """
    label = (options or ImageOptions()).label
    m, eight = _stored_mask(ref, label)
    if label is not None:
        fg = m == label
    elif eight and m.dtype != bool and m.max() >= 128:
        fg = m >= 128
    else:
        fg = m != 0
    fg = np.asarray(fg, dtype=bool)
    return fg if size is None else resize_mask(fg, size)


def _stored_mask(ref: ImageRef, label: int | None) -> tuple[np.ndarray, bool]:
    """A mask's stored values (H, W) and whether they are 8-bit raster values."""
    if ref.kind != "raster":
        return _frame(ref, "mask")[1], False
    im = _open_raster(ref.path, None)
    eight = im.mode in _PIL_8BIT
    if eight and im.mode not in ("1", "L") and not (label is not None and im.mode == "P"):
        im = im.convert("L")  # colour masks: their luminance
    m = np.asarray(im)
    if m.ndim != 2:
        raise InputError(f"expected a 2-D mask, got shape {m.shape}", file=ref.path)
    check_finite(m, ref.path, "the mask's values")
    return m, eight


#: The values ``--label`` may name (what 8- and 16-bit label masks hold).
LABEL_RANGE = (0, 65535)


def check_label(masks: list[ImageRef], options: ImageOptions | None) -> list[ImageRef]:
    """The masks that do not hold ``options.label`` (they read as empty); an error when none does.

    Nothing to check (an empty list) without a label. Reads every mask once.

    Raises
    ------
    InputError
        The label is outside :data:`LABEL_RANGE`, no mask holds it (the message names the
        values they hold), or a mask is lossy (JPEG): its values are not labels.
    """
    label = (options or ImageOptions()).label
    if label is None or not masks:
        return []
    lo, hi = LABEL_RANGE
    if not lo <= label <= hi:
        raise InputError(f"--label {label} is outside {lo}..{hi}; expected a value the masks "
                         "hold", file=masks[0].path.parent)
    lossy = next((r for r in masks if r.path.suffix.lower() in LOSSY_SUFFIXES), None)
    absent, counts = [], {}
    for ref in masks:
        m, _ = _stored_mask(ref, label)
        if not (m == label).any():
            absent.append(ref)
            if len(counts) < 4096:  # enough to name the common values of any mask set
                for v, c in zip(*np.unique(m, return_counts=True), strict=True):
                    counts[v.item()] = counts.get(v.item(), 0) + int(c)
    if len(absent) == len(masks):
        common = sorted(sorted(counts, key=counts.get, reverse=True)[:8])
        values = ", ".join(f"{v:g}" for v in common) + (" ..." if len(counts) > 8 else "")
        raise InputError(f"--label {label} occurs in none of the {len(masks)} masks; their "
                         f"most common values are {values}; expected one of those (or no "
                         "--label: nonzero is foreground)", file=masks[0].path.parent)
    if lossy is not None:
        raise InputError(f"is a JPEG mask: its compression changes values, so --label {label} "
                         "may be noise; expected lossless masks (PNG, TIFF)", file=lossy.path)
    return absent


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Resize a bool (H, W) mask to (size, size): PIL's anti-aliased bilinear, kept >= 0.5."""
    from PIL import Image

    small = Image.fromarray(np.asarray(mask, dtype=np.float32)).resize((size, size),
                                                                      Image.BILINEAR)
    return np.asarray(small) >= 0.5


def image_size(ref: ImageRef) -> tuple[int, int]:
    """(height, width) of an image in pixels, from its header."""
    if ref.shape is not None:
        return ref.shape
    from PIL import Image

    _bomb_warnings_are_errors()
    try:
        with Image.open(ref.path) as im:
            return int(im.height), int(im.width)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad input file
        raise InputError(f"cannot read image size ({exc}); expected an image file",
                         file=ref.path) from exc


def check_pair(image: ImageRef, mask: ImageRef, image_hw: tuple[int, int] | None = None,
               mask_hw: tuple[int, int] | None = None) -> None:
    """Refuse a mask whose geometry differs from its image's, naming both files.

    Slice counts are compared when both files hold several frames; sizes when both are known
    (given, or from the headers).

    Raises
    ------
    InputError
    """
    if image.multi and mask.multi and image.frames != mask.frames:
        raise InputError(f"mask has {mask.frames} slices but its image {image.path} has "
                         f"{image.frames}", file=mask.path)
    ih = image_hw or image.shape
    mh = mask_hw or mask.shape
    if ih is not None and mh is not None and tuple(ih) != tuple(mh):
        raise InputError(f"mask size {mh[0]}x{mh[1]} differs from its image {image.describe()} "
                         f"({ih[0]}x{ih[1]}); expected the same rows x columns",
                         file=mask.describe())
