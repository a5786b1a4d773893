"""Predicted masks of DICOM images as a DICOM Segmentation (highdicom), beside the NIfTI.

``gradseg predict --dicom-seg`` writes ``<scan>.seg.dcm`` for each DICOM series or multi-frame
file: a binary Segmentation (one segment, "gradseg prediction", an automatic algorithm of the
family "Artificial Intelligence") whose frames reference the source instances they segment, in
the source's frame of reference, so PACS viewers and 3D Slicer's QuantitativeReporting show it
on the scan. Only the predicted images are referenced (``--ids`` may name some slices of a
series); highdicom leaves out empty frames, as the standard allows (all are kept when every
mask is empty: a Segmentation holds at least one frame).

The Segmentation copies its sources' study, series, frame of reference and instance UIDs:
:func:`check_sources` refuses, before anything is predicted, a source whose UIDs are not DICOM
UIDs, that shares its SOPInstanceUID with another, or that is a Segmentation itself. What
highdicom and pydicom say while the Segmentation is made (a value of the source that is not
valid DICOM, copied as it is) comes back as one note of ours instead of their warnings on the
terminal.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np

from gazeprep.contract.errors import InputError, require
from gazeprep.contract.images import ImageRef
from gradseg.errors import GradsegError

#: The segment's label (SegmentLabel); the category and type are SNOMED CT "Tissue", a
#: generic choice: a model trained on gaze does not know what its target is called.
SEGMENT_LABEL = "gradseg prediction"
#: The UIDs of a source image that the Segmentation copies (its study, frame of reference and
#: references to the source series and instances).
SOURCE_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "SOPClassUID",
               "SOPInstanceUID")
#: highdicom's guess that a one-component PatientName ("ANON") is a mistake: it is valid DICOM,
#: copied as the source has it, so nothing to tell the user.
_HARMLESS = ("unlikely to represent the intended person name",)
#: SOP Class UID of DICOM Segmentation Storage (PS3.4 B.5): an output, never a source.
SEGMENTATION_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


def check_sources(paths: list[Path]) -> None:
    """Refuse DICOM files that a Segmentation cannot reference: a :data:`SOURCE_UIDS` value that
    is not a DICOM UID (PS3.5 9.1: digits and dots, no leading zero in a component, at most 64
    characters; pydicom's rule), a Segmentation itself, or a SOPInstanceUID that another of
    ``paths`` has too.

    Raises
    ------
    InputError
        Naming the file and the field.
    """
    pydicom = require("pydicom", "DICOM (.dcm)")
    seen: dict[str, Path] = {}
    for path in paths:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True, force=True,
                             specific_tags=list(SOURCE_UIDS))
        for name in SOURCE_UIDS:
            text = str(ds.get(name) or "")
            if not (len(text) <= 64 and re.fullmatch(pydicom.uid.RE_VALID_UID, text)):
                raise InputError(f"DICOM {name} {text[:70]!r} is not a DICOM UID (digits and "
                                 "dots, no leading zeros, at most 64 characters); expected one, "
                                 "since the DICOM Segmentation (--dicom-seg) copies it", file=path)
        if str(ds.SOPClassUID) == SEGMENTATION_CLASS:
            raise InputError("is a DICOM Segmentation, not an image; expected the images it "
                             "segments (a Segmentation of a Segmentation cannot be written)",
                             file=path)
        first = seen.setdefault(str(ds.SOPInstanceUID), path)
        if first != path:
            raise InputError(f"DICOM SOPInstanceUID {str(ds.SOPInstanceUID)!r} is also that of "
                             f"{first}; expected one per file, since the DICOM Segmentation "
                             "(--dicom-seg) names each frame's source by it", file=path)


@contextlib.contextmanager
def _library_messages():
    """The Python warnings (pydicom's, highdicom's) and the log lines of pydicom and highdicom
    of the block, collected into the list it yields instead of printed."""
    import logging
    import warnings

    said: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())
    logs = [logging.getLogger(name) for name in ("pydicom", "highdicom")]
    propagate = [log.propagate for log in logs]
    for log in logs:
        log.addHandler(handler)
        log.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield said
        said.extend(str(w.message) for w in caught)
    finally:
        for log, was in zip(logs, propagate, strict=True):
            log.removeHandler(handler)
            log.propagate = was


def write_dicom_seg(path: Path, masks: dict[str, np.ndarray], refs: dict[str, ImageRef],
                    save) -> str | None:
    """Write the masks (id -> bool (rows, columns)) of DICOM images ``refs`` as one
    Segmentation at ``path``; ``save(path, write)`` writes it whole or not at all.

    The images must come from one series (single-frame files) or one multi-frame file.
    Returns a note when pydicom or highdicom warned (a value of a source that is not valid
    DICOM, copied as it is), else None.
    """
    hd = require("highdicom", "writing DICOM Segmentations")
    pydicom = require("pydicom", "DICOM (.dcm)")
    from pydicom.sr.codedict import codes

    from gradseg._version import __version__

    files = list(dict.fromkeys(refs[k].path for k in masks))
    sources = [pydicom.dcmread(str(p)) for p in files]
    if len(files) == 1 and refs[next(iter(masks))].frames > 1:
        frames = np.zeros((refs[next(iter(masks))].frames, *next(iter(masks.values())).shape),
                          dtype=bool)
        for key, mask in masks.items():
            frames[refs[key].index] = mask
    else:
        frames = np.stack([masks[k] for k in masks])  # one frame per file, files in that order
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label=SEGMENT_LABEL,
        segmented_property_category=codes.SCT.Tissue, segmented_property_type=codes.SCT.Tissue,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name="gradseg", version=__version__, family=codes.cid7162.ArtificialIntelligence))
    try:
        with _library_messages() as said:
            seg = hd.seg.Segmentation(
                source_images=sources, pixel_array=frames,
                segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
                segment_descriptions=[description], series_instance_uid=hd.UID(),
                series_number=int(sources[0].get("SeriesNumber") or 0) + 1000,
                sop_instance_uid=hd.UID(), instance_number=1, manufacturer="gradseg",
                manufacturer_model_name="gradseg", software_versions=__version__,
                device_serial_number="none",
                # all empty: highdicom cannot leave every frame out, and warns as it keeps them
                omit_empty_frames=bool(frames.any()))
    except (ValueError, TypeError, AttributeError) as exc:
        raise GradsegError(f"cannot make a DICOM Segmentation of these images ({exc})",
                           file=files[0]) from exc
    save(path, lambda tmp: seg.save_as(str(tmp)))
    said = list(dict.fromkeys(" ".join(m.split()) for m in said
                              if not any(h in m for h in _HARMLESS)))
    if not said:
        return None
    more = f" (and {len(said) - 1} more)" if len(said) > 1 else ""
    return (f"{path.name} is written, but pydicom or highdicom warned while making it from the "
            f"DICOM files in {files[0].parent}: {said[0]}{more}")
