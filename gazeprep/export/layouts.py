"""A render cache as the training sets other tools read: nnU-Net v2 and MONAI.

Both layouts hold the cache's images (RGB PNG, S x S as stored) and one label PNG per image
(0 background, 1 foreground): the gaze pseudo-mask (``labels="pseudo"``, the point of training
nnU-Net on gaze) or the ground-truth mask (``labels="mask"``; images without one are left out
and counted).

- **nnU-Net v2** (``nnunet``), the raw dataset format of nnU-Net's documentation
  (``documentation/dataset_format.md``)::

      <out>/Dataset<ID>_<Name>/
          dataset.json          {"channel_names": {"0": "R", "1": "G", "2": "B"},
                                 "labels": {"background": 0, "foreground": 1},
                                 "numTraining": N, "file_ending": ".png"}
          imagesTr/<id>_0000.png    RGB (nnU-Net's NaturalImage2DIO reads RGB PNG as 3 channels)
          labelsTr/<id>.png         0/1

  ``<out>`` is nnU-Net's ``nnUNet_raw`` folder; then ``nnUNetv2_plan_and_preprocess -d <ID>``.
- **MONAI** (``monai``)::

      <out>/datalist.json   {"training": [{"image": "images/<id>.png",
                                           "label": "labels/<id>.png"}, ...]}
      <out>/images/<id>.png, <out>/labels/<id>.png

  as ``monai.data.load_decathlon_datalist(<out>/datalist.json)`` reads it (paths relative to
  the datalist's folder).

Each layout's own entries (the two folders, the JSON file and ``gazeprep-export.json``, which
records what was written and the sha256 of every file) are replaced at once; other files in the
folder (an ``imagesTs`` of your own) stay.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.export.owned import check_outputs, file_sums

WRITER = "gazeprep export"
#: The record of what an export wrote, inside its folder.
RECORD = "gazeprep-export.json"
LAYOUTS = ("nnunet", "monai")
#: Label values: what the label PNGs hold.
LABELS = {"background": 0, "foreground": 1}
#: Samples read from the cache at a time.
BATCH = 64


@dataclass
class ExportReport:
    """What an export wrote."""

    folder: Path
    exported: list[str] = field(default_factory=list)
    #: With ``labels="mask"``: the requested ids without a ground-truth mask, left out.
    without_mask: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def dataset_folder(out: Path, layout: str, dataset_id: int, name: str) -> Path:
    """Where the layout goes: ``out/Dataset<ID>_<Name>`` for nnU-Net, ``out`` for MONAI."""
    return out / f"Dataset{dataset_id:03d}_{name}" if layout == "nnunet" else out


def _names(layout: str) -> tuple[str, str, str]:
    """(images folder, labels folder, description file) of a layout."""
    return ("imagesTr", "labelsTr", "dataset.json") if layout == "nnunet" else (
        "images", "labels", "datalist.json")


def _files(layout: str, key: str) -> tuple[str, str]:
    images, labels, _ = _names(layout)
    suffix = "_0000" if layout == "nnunet" else ""
    return f"{images}/{key}{suffix}.png", f"{labels}/{key}.png"


def _description(layout: str, keys: list[str], name: str) -> dict:
    if layout == "nnunet":
        return {"channel_names": {"0": "R", "1": "G", "2": "B"}, "labels": dict(LABELS),
                "numTraining": len(keys), "file_ending": ".png", "name": name,
                "description": "gaze-derived training set written by gazeprep export"}
    return {"training": [dict(zip(("image", "label"), _files(layout, k), strict=True))
                         for k in keys]}


def _save_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(pixels)).save(path, format="PNG")


def _label_source(info, labels: str) -> tuple[str, list[int]]:
    """The array the labels are read from and its row checksums (pseudo, mask, labels/NAME)."""
    from gazeprep.contract.errors import InputError
    from gazeprep.contract.labels import array_path, labels_info

    if labels in ("pseudo", "mask"):
        return labels, info.checksums(labels)
    try:
        return array_path(labels), labels_info(info.path, labels)["row_crc32c"]
    except InputError as exc:
        raise GazeprepError(exc.message, file=info.path) from exc


def export_cache(cache: str | Path, out: str | Path, layout: str, *, labels: str = "pseudo",
                 ids: list[str] | None = None, dataset_id: int = 501, name: str = "Gaze",
                 overwrite: bool = False, progress: Callable[[int, int], None] | None = None
                 ) -> ExportReport:
    """Write the cache's images and labels in ``layout`` (see the module notes).

    Parameters
    ----------
    cache : str or Path
        A render cache.
    out : str or Path
        nnU-Net: the ``nnUNet_raw`` folder (the dataset folder is made inside); MONAI: the
        folder of the datalist.
    layout : {'nnunet', 'monai'}
    labels : str
        ``pseudo`` (the render's), ``mask`` (ground truth) or the name of a labels array of the
        cache (:mod:`gazeprep.contract.labels`, e.g. ``gradseg refine``'s ``st-r2``).
    ids : list of str, optional
        Export only these (e.g. a split's ``train.txt``); default every sample.
    dataset_id, name : int, str
        nnU-Net's dataset id (1..999) and name.
    overwrite : bool
        Replace entries of the layout's names that this command did not write.
    progress : callable(done, total), optional

    Raises
    ------
    GazeprepError
        Not a cache, an unknown id, no mask to export, a damaged sample (named), or entries
        this command did not write.
    """
    from gazeprep.contract.errors import InputError
    from gazeprep.contract.zarr_io import CorruptRowError, open_arrays, read_rows
    from gazeprep.inspect.load import load_layout
    from gazeprep.outputs import transaction

    info = load_layout(cache)
    if labels == "mask" and "mask" not in info.arrays:
        raise GazeprepError("the cache has no ground-truth masks (--labels mask): render it "
                            "with --masks DIR, or export --labels pseudo", file=info.path)
    try:
        pos = info.positions(ids if ids is not None else info.ids)
    except InputError as exc:  # unknown ids
        raise GazeprepError(exc.message, file=exc.file) from exc
    report = ExportReport(dataset_folder(Path(out), layout, dataset_id, name))
    if labels == "mask":
        report.without_mask = [info.ids[p] for p in pos if not info.has_mask[p]]
        pos = [p for p in pos if info.has_mask[p]]
    if not pos:
        raise GazeprepError("no image to export (no requested image has a mask)",
                            file=info.path)
    folder, entries = report.folder, [*_names(layout), RECORD]
    check_outputs(folder, RECORD, entries[:3], WRITER, overwrite)
    source, label_sums = _label_source(info, labels)
    arrays = open_arrays(info.path, ["image", source])
    sums = [info.checksums("image"), label_sums]
    with transaction(folder, lambda n: n.split("/", 1)[0] in entries, report.notes) as st:
        for sub in _names(layout)[:2]:
            (st.path / sub).mkdir()
        for start in range(0, len(pos), BATCH):
            rows = pos[start:start + BATCH]
            try:
                image, label = read_rows(list(arrays.values()), rows, ids=info.ids,
                                         checksums=sums)
            except CorruptRowError as exc:
                raise GazeprepError(exc.message, file=info.path) from exc
            for r, im, lab in zip(rows, image, label, strict=True):
                img_file, lab_file = _files(layout, info.ids[r])
                _save_png(st.path / img_file, np.moveaxis(im, 0, -1))
                _save_png(st.path / lab_file, (lab[0] > 0).astype(np.uint8))
            if progress is not None:
                progress(min(len(pos), start + BATCH), len(pos))
        keys = [info.ids[p] for p in pos]
        desc = _names(layout)[2]
        st.file(desc).write_text(json.dumps(_description(layout, keys, name), indent=1) + "\n")
        record = {"written_by": WRITER, "layout": layout, "labels": labels,
                  "cache": str(info.path), "n_images": len(keys),
                  "files": file_sums(st.path, list(_names(layout)))}
        st.file(RECORD).write_text(json.dumps(record, indent=1) + "\n")
        for entry in entries:
            st.add(entry)
        st.commit(RECORD)
    report.exported = keys
    return report
