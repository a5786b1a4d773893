"""Predicted masks of DICOM images as a DICOM Segmentation (highdicom), beside the NIfTI.

``gradseg predict --dicom-seg`` writes ``<scan>.seg.dcm`` for each DICOM series or multi-frame
file: a binary Segmentation (one segment, "gradseg prediction", an automatic algorithm of the
family "Artificial Intelligence") whose frames reference the source instances they segment, in
the source's frame of reference, so PACS viewers and 3D Slicer's QuantitativeReporting show it
on the scan. Only the predicted images are referenced (``--ids`` may name some slices of a
series); highdicom leaves out empty frames, as the standard allows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.contract.errors import require
from gazeprep.contract.images import ImageRef
from gradseg.errors import GradsegError

#: The segment's label (SegmentLabel); the category and type are SNOMED CT "Tissue", a
#: generic choice: a model trained on gaze does not know what its target is called.
SEGMENT_LABEL = "gradseg prediction"


def write_dicom_seg(path: Path, masks: dict[str, np.ndarray], refs: dict[str, ImageRef],
                    save) -> None:
    """Write the masks (id -> bool (rows, columns)) of DICOM images ``refs`` as one
    Segmentation at ``path``; ``save(path, write)`` writes it whole or not at all.

    The images must come from one series (single-frame files) or one multi-frame file.
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
        seg = hd.seg.Segmentation(
            source_images=sources, pixel_array=frames,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=[description], series_instance_uid=hd.UID(),
            series_number=int(sources[0].get("SeriesNumber") or 0) + 1000,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="gradseg",
            manufacturer_model_name="gradseg", software_versions=__version__,
            device_serial_number="none")
    except (ValueError, TypeError, AttributeError) as exc:
        raise GradsegError(f"cannot make a DICOM Segmentation of these images ({exc})",
                           file=files[0]) from exc
    save(path, lambda tmp: seg.save_as(str(tmp)))
