"""Where a scan's slices lie in the patient: the images of one volume gathered back into it.

``gazeprep`` slices radiology into 2-D images (ids ``<stem>_<k>``, see
:mod:`gazeprep.contract.images`); a tool that writes something per image (a predicted mask)
and wants it to overlay its scan in ITK-SNAP or 3D Slicer must put the images back into the
volume they came from, with that volume's affine. :func:`group_scans` finds the volumes:

- a NIfTI file: its slices, with nibabel's affine of the file (sform or qform as the file
  codes them; both are copied, so ``nibabel.load(out).affine`` equals the input's);
- an NRRD file: its slices, with the affine of its ``space directions`` and ``space origin``
  turned from the file's ``space`` (LPS, RAS, LAS) into NIfTI's RAS;
- DICOM: the single-frame files of one series (``SeriesInstanceUID``) in one folder, and the
  frames of an enhanced multi-frame file, placed by highdicom from ``ImagePositionPatient``,
  ``ImageOrientationPatient`` and ``PixelSpacing`` (slices sorted along their normal, which
  must be regularly spaced) and written by highdicom's NIfTI conversion (LPS to RAS).

DICOM without those attributes, or whose slices are not a regular stack, gives no scan: its
images stay 2-D, and :func:`group_scans` says why in its notes. Attributes that are there but
cannot place anything (a NaN position, orientation vectors that are not orthogonal unit
vectors, a pixel spacing of 0; :func:`_check_plane`), a SeriesInstanceUID or SeriesNumber that
would name an output ``../x`` (:func:`_name_part`), and a volume affine that is not finite or
singular are refused (:class:`~gazeprep.contract.errors.InputError` naming file and field).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazeprep.contract._dicom import _frame_item, _read
from gazeprep.contract.errors import InputError, require
from gazeprep.contract.images import ImageRef

#: The largest position (mm from the origin) and pixel size a DICOM plane may state: a km.
MAX_MM = 1e6
#: NRRD ``space`` names and the signs that turn their coordinates into RAS.
_NRRD_TO_RAS = {"right-anterior-superior": (1, 1, 1), "ras": (1, 1, 1),
                "left-anterior-superior": (-1, 1, 1), "las": (-1, 1, 1),
                "left-posterior-superior": (-1, -1, 1), "lps": (-1, -1, 1)}


@dataclass
class Scan:
    """One volume that images came from.

    Attributes
    ----------
    name : str
        The volume's name for output files: the file name without its extension, or for a
        DICOM series ``series-<SeriesNumber>`` (the SeriesInstanceUID when the number is
        missing or shared).
    slots : dict
        Image id -> slice index in :meth:`to_nifti`'s ``stack``, for every image of the volume
        in the folder (not only those asked for).
    frame_shape : (int, int)
        (rows, columns) of each image.
    source : str
        Where the volume is: its file, or ``DICOM series <uid> in <folder>``.
    """

    name: str
    slots: dict[str, int]
    frame_shape: tuple[int, int]
    source: str
    _build: Callable[[np.ndarray], object]

    @property
    def depth(self) -> int:
        """The number of slices."""
        return len(self.slots)

    def to_nifti(self, stack: np.ndarray):
        """The nibabel image of ``stack`` (K, rows, columns): image ``id`` at
        ``stack[slots[id]]`` as its 2-D image is displayed, put back in the volume's geometry."""
        if stack.shape != (self.depth, *self.frame_shape):
            raise ValueError(f"stack of shape {stack.shape}, expected "
                             f"{(self.depth, *self.frame_shape)}")
        return self._build(stack)


def group_scans(refs: dict[str, ImageRef], keep=None) -> tuple[list[Scan], list[str]]:
    """The volumes the images ``refs`` (id -> ref, a whole folder's index) came from.

    ``keep`` (a set of ids): only the volumes holding one of them, and only their notes.

    Returns
    -------
    scans : list of Scan
        One per NIfTI/NRRD file, multi-frame DICOM file with plane positions, and DICOM series
        with positions that form a regular stack.
    notes : list of str
        Why DICOM images were left out of any scan (no position, irregular spacing).
    """
    by_file: dict[Path, dict[str, ImageRef]] = {}
    for key, ref in refs.items():
        if ref.kind != "raster":
            by_file.setdefault(ref.path, {})[key] = ref
    kept = (lambda ids: True) if keep is None else (lambda ids: not keep.isdisjoint(ids))
    scans, notes, singles = [], [], {}
    for path, members in by_file.items():
        first = next(iter(members.values()))
        if first.kind == "dicom" and first.frames == 1:
            singles.update(members)  # grouped by series below
        elif not kept(members):
            continue
        elif first.kind == "volume":
            scans.append(_volume_scan(path, members, first))
        else:
            ds = _read(path, pixels=False)
            got = _dicom_stack(path.name[: -len(path.suffix)] or path.name, str(path),
                               [(k, _frame_plane(ds, r.index, path))
                                for k, r in members.items()], first.shape)
            if isinstance(got, Scan):
                scans.append(got)
            else:
                notes.append(f"{path}: {got}")
    more, why = _series_scans(singles, kept)
    return scans + more, notes + why


def _volume_scan(path: Path, members: dict[str, ImageRef], first: ImageRef) -> Scan:
    """A NIfTI or NRRD file's slices in the file's own voxel grid and affine."""
    from gazeprep.contract._volume import NIFTI_SUFFIXES, volume_shape, volume_suffix

    suffix = volume_suffix(path.name)
    shape = volume_shape(path)
    affine, header = (_nifti_geometry(path) if suffix in NIFTI_SUFFIXES
                      else (_nrrd_affine(path), None))
    _check_affine(affine, path)
    axis, transpose = first.axis, first.transpose

    def build(stack: np.ndarray):
        data = stack.transpose(0, 2, 1) if transpose else stack
        return _nifti(np.moveaxis(data, 0, axis).reshape(shape), affine, header)

    return Scan(path.name[: -len(suffix)], {k: r.index for k, r in members.items()},
                first.shape, str(path), build)


def _check_affine(affine: np.ndarray, path: Path) -> None:
    """Refuse an affine that places no voxel (NaN, or a singular matrix): the mask written in
    it would be unreadable (nibabel cannot decompose it), after every slice was predicted."""
    m = np.asarray(affine, dtype=float)[:3, :3]
    with np.errstate(all="ignore"):
        ok = bool(np.all(np.isfinite(affine))) and abs(np.linalg.det(m)) > 1e-12 * max(
            1.0, float(np.abs(m).max()) ** 3)
    if not ok:
        rows = "; ".join(" ".join(f"{v:g}" for v in r) for r in np.asarray(affine)[:3])
        raise InputError(f"the volume's affine ({rows}) is not finite or is singular; expected "
                         "an sform or qform that places every voxel (finite, invertible)",
                         file=path)


def _nifti_geometry(path: Path):
    """(affine, header) of a NIfTI file: the header gives sform, qform and units to copy."""
    nib = require("nibabel", "NIfTI")
    img = nib.load(str(path))
    return img.affine, img.header


def _nifti(data: np.ndarray, affine: np.ndarray, source_header=None):
    """A NIfTI-1 image of ``data`` with ``affine``; with ``source_header``, its sform and
    qform (and their codes) and units, so that nibabel reads back the source's affine."""
    nib = require("nibabel", "NIfTI")
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm")
    if source_header is not None:
        img.header.set_xyzt_units(*source_header.get_xyzt_units())
        img.header.set_zooms(source_header.get_zooms()[:3])
        img.set_qform(*source_header.get_qform(coded=True))
        img.set_sform(*source_header.get_sform(coded=True))
        if not (img.header["qform_code"] or img.header["sform_code"]):
            img.set_qform(None, 0)
    return img


def _nrrd_affine(path: Path) -> np.ndarray:
    """The RAS affine of an NRRD file's first three axes (voxel sizes alone when its header
    names no anatomical space or no directions)."""
    from gazeprep.contract._nrrd import nrrd_layout

    h = nrrd_layout(path).header
    signs = _NRRD_TO_RAS.get(str(h.get("space", "")).strip().lower())
    dirs = h.get("space directions")
    affine = np.eye(4)
    if signs is not None and dirs is not None:
        vecs = [np.asarray(v, dtype=float) for v in dirs]
        vecs = [v for v in vecs if v.size == 3 and np.all(np.isfinite(v))][:3]
        if len(vecs) == 3:
            affine[:3, :3] = np.column_stack(vecs)
            origin = h.get("space origin")
            if origin is not None:
                affine[:3, 3] = np.asarray(origin, dtype=float)
            return np.diag([*signs, 1.0]) @ affine
    spacings = [float(s) for s in (h.get("spacings") or []) if np.isfinite(float(s))]
    if len(spacings) >= 3:
        affine[:3, :3] = np.diag(spacings[:3])
    return affine


def _frame_plane(ds, k: int, path: Path) -> tuple | None:
    """(ImagePositionPatient, ImageOrientationPatient, PixelSpacing, slice depth or None) of
    frame ``k`` of a DICOM data set (enhanced files: the frame's or the shared functional
    groups), or None; the numbers checked (:func:`_check_plane`)."""
    pos = _frame_item(ds, k, "PlanePositionSequence")
    ori = _frame_item(ds, k, "PlaneOrientationSequence")
    pix = _frame_item(ds, k, "PixelMeasuresSequence")
    values = (_attr(pos, ds, "ImagePositionPatient"), _attr(ori, ds, "ImageOrientationPatient"),
              _attr(pix, ds, "PixelSpacing"))
    if any(v is None for v in values):
        return None
    return (*_check_plane(values, path), _slice_depth(pix, ds))


def _check_plane(values, path: Path) -> tuple[tuple[float, ...], ...]:
    """The plane attributes as numbers, if they place an image: a finite position within
    +-:data:`MAX_MM`, two orthogonal unit vectors, two pixel sizes in (0, :data:`MAX_MM`].

    Raises
    ------
    InputError
        Naming the file and the field: a NaN position or a zero vector would make every
        slice "irregular" (or highdicom's message, without a file) and an absurd one an affine
        that overflows.
    """
    names = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")
    wants = (f"three finite numbers within +-{MAX_MM:g} mm",
             "two orthogonal unit vectors (six finite numbers)",
             f"two finite numbers in (0, {MAX_MM:g}] mm")
    got = []
    for name, want, v, n in zip(names, wants, values, (3, 6, 2), strict=True):
        try:
            x = np.array([float(e) for e in v], dtype=float)
        except (TypeError, ValueError):
            x = np.full(0, np.nan)
        with np.errstate(all="ignore"):
            ok = x.size == n and bool(np.all(np.isfinite(x)))
            if ok and name == "ImagePositionPatient":
                ok = bool(np.all(np.abs(x) <= MAX_MM))
            elif ok and name == "ImageOrientationPatient":
                r, c = x[:3], x[3:]
                ok = (abs(np.linalg.norm(r) - 1) <= 1e-2 and abs(np.linalg.norm(c) - 1) <= 1e-2
                      and abs(r @ c) <= 1e-3)
            elif ok:
                ok = bool(np.all((x > 0) & (x <= MAX_MM)))
        if not ok:
            raise InputError(f"DICOM {name} {str(v)[:80]} does not place the image; expected "
                             f"{want}", file=path)
        got.append(tuple(float(e) for e in x))
    return tuple(got)


def _slice_depth(item, ds) -> float | None:
    """The slice spacing a header states (SpacingBetweenSlices, else SliceThickness), in mm,
    or None (also for a value that is no size in (0, :data:`MAX_MM`]): what places a lone
    slice, whose neighbours cannot."""
    for name in ("SpacingBetweenSlices", "SliceThickness"):
        values = _attr(item, ds, name)
        try:
            depth = float(values[0])
        except (TypeError, ValueError):
            continue
        if np.isfinite(depth) and 0 < depth <= MAX_MM:
            return depth
    return None


def _attr(item, ds, name: str) -> list | None:
    """The values of attribute ``name`` of ``item`` or else ``ds`` as a list (a lone number
    too), or None when absent or empty."""
    value = (item.get(name) if item is not None else None) or ds.get(name)
    if value is None:
        return None
    values = [value] if isinstance(value, str | bytes) or not hasattr(value, "__iter__") \
        else list(value)
    return values or None


def _series_scans(singles: dict[str, ImageRef], kept: Callable
                  ) -> tuple[list[Scan], list[str]]:
    """Single-frame DICOM files grouped by folder and SeriesInstanceUID, each group a scan
    (the groups whose ids ``kept`` accepts)."""
    groups: dict[tuple, dict] = {}
    numbers: dict[tuple, str] = {}
    for key, ref in singles.items():
        ds = _read(ref.path, pixels=False)
        uid = _name_part(ds, "SeriesInstanceUID", ref.path) or ref.path.name
        group = (ref.path.parent, uid)
        groups.setdefault(group, {})[key] = (ref, _frame_plane(ds, 0, ref.path))
        numbers[group] = _name_part(ds, "SeriesNumber", ref.path)
    scans, notes = [], []
    for group, members in groups.items():
        if not kept(members):
            continue
        folder, uid = group
        same = [g for g in groups if g[0] == folder and numbers[g] == numbers[group]]
        name = (next(iter(members)) if len(members) == 1 else
                f"series-{numbers[group]}" if numbers[group] and len(same) == 1 else
                f"series-{uid}")
        got = _dicom_stack(name, f"DICOM series {uid} in {folder}",
                           [(k, plane) for k, (_r, plane) in members.items()],
                           next(iter(members.values()))[0].shape)
        if isinstance(got, Scan):
            scans.append(got)
        else:
            notes.append(f"DICOM series {uid} in {folder} ({len(members)} file(s)): {got}")
    return scans, notes


#: What a SeriesInstanceUID (a DICOM UID) and a SeriesNumber (an IS) may be: they name the
#: output files of a series (``series-<number>``, ``series-<uid>``).
_NAME_PARTS = {"SeriesInstanceUID": (re.compile(r"[0-9]+(\.[0-9]+)*"), 64,
                                     "a DICOM UID: digits and dots"),
               "SeriesNumber": (re.compile(r"[+-]?[0-9]+"), 12, "a whole number")}


def _name_part(ds, name: str, path: Path) -> str:
    """``ds``'s SeriesInstanceUID or SeriesNumber as written ("" when absent).

    Raises
    ------
    InputError
        A value that is not a UID (or whole number): it would name an output ``../x``.
    """
    value = ds.get(name)
    text = "" if value is None else str(value).strip()
    pattern, most, what = _NAME_PARTS[name]
    if text and not (len(text) <= most and pattern.fullmatch(text)):
        raise InputError(f"DICOM {name} {text[:70]!r} is not {what} (at most {most} "
                         "characters); expected one, since it names the series' output files",
                         file=path)
    return text


def _dicom_stack(name: str, source: str, planes: list[tuple[str, tuple | None]],
                 frame_shape) -> Scan | str:
    """A scan of DICOM images placed by their planes, or the reason there is none."""
    if any(p is None for _k, p in planes):
        return "no ImagePositionPatient, ImageOrientationPatient or PixelSpacing: left as 2-D"
    orientations = {p[1] for _k, p in planes}
    spacings = {p[2] for _k, p in planes}
    if len(orientations) > 1 or len(spacings) > 1:
        return "the images differ in orientation or pixel spacing: left as 2-D"
    hd = require("highdicom", "the geometry of DICOM series")
    orientation, pixel_spacing = next(iter(orientations)), next(iter(spacings))
    spacing, order = hd.spatial.get_volume_positions([p[0] for _k, p in planes], orientation)
    if spacing is None:
        return "the slices are not a regular stack (uneven or repeated positions): left as 2-D"
    if len(planes) == 1 and planes[0][1][3] is not None:
        spacing = planes[0][1][3]  # highdicom has no neighbour to measure, and says 1 mm
    slots = {k: int(i) for (k, _p), i in zip(planes, order, strict=True)}
    first = next(p[0] for (_k, p), i in zip(planes, order, strict=True) if i == 0)

    def build(stack: np.ndarray):
        vol = hd.Volume.from_attributes(
            array=stack, image_position=first, image_orientation=orientation,
            pixel_spacing=pixel_spacing, spacing_between_slices=float(spacing),
            coordinate_system="PATIENT")
        # NIfTI's usual voxel order, as dcm2niix writes it: (column, row, slice)
        return vol.permute_spatial_axes([2, 1, 0]).to_nibabel()

    return Scan(name, slots, tuple(frame_shape), source, build)

