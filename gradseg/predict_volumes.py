"""``gradseg predict``'s outputs for a folder: one file per scan for radiology volumes.

The model predicts 2-D images; the images that came from one volume (the slices of a NIfTI or
NRRD file, the frames of an enhanced DICOM file, the files of a DICOM series) are put back into
that volume (:func:`gazeprep.contract.geometry.group_scans`) and written as one NIfTI file with
the volume's own affine, so the mask overlays its scan in ITK-SNAP or 3D Slicer:

- ``<scan>.nii.gz``: the mask, uint8 0/1 (probability >= threshold);
- ``<scan>_probabilities.nii.gz`` (``--save-probabilities``): float32 probabilities;
- ``<scan>_slices.json``, only when some of the scan's images were not predicted (``--ids``
  named only some of them): which were and which were not; those slices are 0 in both
  volumes, and a note on stderr says so;
- ``<scan>.seg.dcm`` (``--dicom-seg``, DICOM scans only): the mask as a DICOM Segmentation
  that references the predicted source instances (:mod:`gradseg.dicom_seg`);
- ``<id>_overlay.png`` for every image predicted, as for photographs.

Photographs, and DICOM images without the plane attributes that place them, are written per
image as before (:func:`gradseg.predict.write_prediction`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazeprep.contract.geometry import Scan, group_scans
from gazeprep.contract.images import ImageRef


@dataclass
class Plan:
    """What predict writes: scans (volumes) and single images, each a unit of output files.

    Attributes
    ----------
    units : dict
        Unit name -> the image ids it holds, in the order they are predicted.
    scans : dict
        Unit name -> its :class:`~gazeprep.contract.geometry.Scan` (volumes only).
    notes : list of str
        Why some DICOM images are written one by one.
    seg : set of str
        The units (DICOM scans) that get a DICOM Segmentation.
    """

    units: dict[str, list[str]] = field(default_factory=dict)
    scans: dict[str, Scan] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seg: set[str] = field(default_factory=set)

    def names(self, unit: str, kind: str, probabilities: bool) -> list[str]:
        """The files written for ``unit`` (``kind``: the image kind of a single image)."""
        from gradseg.predict import output_names

        if unit not in self.scans:
            return output_names(unit, kind, probabilities)
        scan, ids = self.scans[unit], self.units[unit]
        names = [f"{scan.name}.nii.gz"] + [f"{k}_overlay.png" for k in ids]
        if probabilities:
            names.append(f"{scan.name}_probabilities.nii.gz")
        if len(ids) < scan.depth:
            names.append(f"{scan.name}_slices.json")
        if unit in self.seg:
            names.append(f"{scan.name}.seg.dcm")
        return names


def plan_outputs(folder: dict[str, ImageRef], files: dict[str, ImageRef],
                 dicom_seg: bool = False) -> Plan:
    """Group the images to predict (``files``) by the scan they came from; ``folder`` is the
    whole folder's index (a DICOM series' other files count as its slices). ``dicom_seg``:
    DICOM scans also get a DICOM Segmentation (their files' UIDs are checked first:
    :func:`gradseg.dicom_seg.check_sources`); other DICOM images are named in the notes."""
    touched = {r.path for r in files.values()}
    series = any(r.kind == "dicom" and r.frames == 1 for r in files.values())
    candidates = {k: r for k, r in folder.items() if r.path in touched
                  or (series and r.kind == "dicom" and r.frames == 1)}
    scans, notes = group_scans(candidates, keep=set(files))
    plan = Plan(notes=notes)
    scan_of = {k: s for s in scans for k in s.slots}
    for key in files:
        scan = scan_of.get(key)
        if scan is None:
            plan.units[key] = [key]
            continue
        unit = f"{scan.name} ({scan.source})"
        plan.scans[unit] = scan
        plan.units.setdefault(unit, []).append(key)
    if dicom_seg:
        from gradseg.dicom_seg import check_sources

        plan.seg = {u for u, ids in plan.units.items()
                    if u in plan.scans and files[ids[0]].kind == "dicom"}
        for unit in [u for u in plan.units if u in plan.seg]:  # in the files' order
            check_sources(list(dict.fromkeys(files[k].path for k in plan.units[unit])))
        alone = [k for u, ids in plan.units.items() if u not in plan.scans for k in ids
                 if files[k].kind == "dicom"]
        if alone:
            plan.notes.append(f"no DICOM Segmentation for {len(alone)} DICOM image(s) not "
                              f"placed in a scan (e.g. {', '.join(alone[:3])})")
    return plan


def scan_stack(scan: Scan, probs: dict[str, np.ndarray]) -> np.ndarray:
    """(depth, rows, columns) float32: each predicted image's probabilities at its slice of
    ``scan``, 0 at the slices not predicted."""
    stack = np.zeros((scan.depth, *scan.frame_shape), dtype=np.float32)
    for key, p in probs.items():
        stack[scan.slots[key]] = p
    return stack


def write_scan(out: Path, scan: Scan, probs: dict[str, np.ndarray], threshold: float,
               probabilities: bool, save: Callable) -> str | None:
    """Write one scan's files (see the module notes) from each predicted image's
    probabilities ``probs`` (id -> (rows, columns)); returns the note for a partial scan.

    ``save(path, write)`` writes a file whole or not at all."""
    import nibabel as nib

    stack = scan_stack(scan, probs)
    mask = scan.to_nifti((stack >= threshold).astype(np.uint8))
    save(out / f"{scan.name}.nii.gz", lambda tmp: nib.save(mask, tmp))
    if probabilities:
        prob = scan.to_nifti(stack)
        save(out / f"{scan.name}_probabilities.nii.gz", lambda tmp: nib.save(prob, tmp))
    missing = [k for k in sorted(scan.slots, key=scan.slots.get) if k not in probs]
    if not missing:
        return None
    record = {"volume": f"{scan.name}.nii.gz", "slices": scan.depth,
              "predicted": sorted(probs, key=scan.slots.get), "not_predicted": missing,
              "value_of_not_predicted": 0,
              "slice_of_image": dict(sorted(scan.slots.items(), key=lambda kv: kv[1]))}
    save(out / f"{scan.name}_slices.json",
         lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1) + "\n"))
    return (f"{scan.name}.nii.gz: {len(probs)} of {scan.depth} slices predicted; the other "
            f"{len(missing)} are 0 (listed in {scan.name}_slices.json)")


def run_predict(model, config: dict, images: Path, folder: dict[str, ImageRef],
                files: dict[str, ImageRef], out: Path, *, threshold: float,
                probabilities: bool, overwrite: bool, options, cues, say: Callable,
                dicom_seg: bool = False) -> dict:
    """Predict ``files`` (of the folder ``images`` indexed as ``folder``) into ``out``.

    Refuses first (:func:`gradseg.predict.check_out`) anything that would lose a file;
    ``say(line)`` prints notes on stderr. Returns counts: ``volumes``, ``images`` (2-D mask
    files), ``overlays``.
    """
    from gazeprep.contract.progress import Progress
    from gradseg.pictures import overlay
    from gradseg.predict import _save_png, check_out, iter_probabilities, write_prediction

    plan = plan_outputs(folder, files, dicom_seg)
    for note in plan.notes:
        say(note)

    def names(unit: str) -> list[str]:
        return plan.names(unit, files[plan.units[unit][0]].kind, probabilities)

    for note in check_out(images, out, list(plan.units), overwrite, names):
        say(note)
    written = {n for unit in plan.units for n in names(unit)}
    # A record of a partial scan from an earlier run goes when this run predicts it whole.
    written |= {f"{scan.name}_slices.json" for scan in plan.scans.values()}
    order = {k: files[k] for ids in plan.units.values() for k in ids}
    unit_of = {k: u for u, ids in plan.units.items() for k in ids}
    pending: dict[str, dict[str, np.ndarray]] = {}
    counts = {"volumes": 0, "images": 0, "overlays": 0}
    # Every file goes into a new folder that replaces --out when all are written.
    with whole_folder(out, written.__contains__, say) as build, \
            Progress("predict", len(order), unit="images") as bar:
        for key, rgb, prob in iter_probabilities(model, config, order, options=options,
                                                 cues=cues):
            unit = unit_of[key]
            if unit not in plan.scans:
                write_prediction(build, key, rgb, prob, threshold, files[key], probabilities)
                counts["images"] += 1
            else:
                _save_png(build / f"{key}_overlay.png", overlay(rgb, prob >= threshold))
                got = pending.setdefault(unit, {})
                got[key] = prob
                if len(got) == len(plan.units[unit]):
                    _finish(build, plan, unit, pending.pop(unit), files, threshold,
                            probabilities, say)
                    counts["volumes"] += 1
            counts["overlays"] += 1
            bar.advance(1)
    return counts


@contextlib.contextmanager
def whole_folder(out: Path, owned: Callable[[str], bool], say: Callable):
    """The folder to write ``out``'s new files into: it replaces ``out`` in one step when the
    block ends (:func:`gazeprep.contract.folder_swap.replace_folder`; the entries ``owned``
    does not claim, the user's, are carried over), and vanishes if the block fails."""
    from gazeprep.contract.folder_swap import SwapUnavailable, replace_folder
    from gradseg.errors import GradsegError

    notes: list[str] = []
    try:
        with replace_folder(out, owned, notes) as build:
            yield build
    except SwapUnavailable as exc:
        raise GradsegError(f"cannot hard-link a file of yours into the new --out folder "
                           f"({exc.strerror}); move it out of {out}", file=exc.filename) from exc
    finally:
        for note in notes:
            say(note)


def _finish(out: Path, plan: Plan, unit: str, probs: dict[str, np.ndarray],
            files: dict[str, ImageRef], threshold: float, probabilities: bool,
            say: Callable) -> None:
    """Write the files of a scan whose images are all predicted."""
    from gradseg.predict import _save

    scan = plan.scans[unit]
    note = write_scan(out, scan, probs, threshold, probabilities, _save)
    if note:
        say(note)
    if unit in plan.seg:
        from gradseg.dicom_seg import write_dicom_seg

        note = write_dicom_seg(out / f"{scan.name}.seg.dcm",
                               {k: p >= threshold for k, p in probs.items()}, files, _save)
        if note:
            say(note)
