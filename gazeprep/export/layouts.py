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
  the datalist's folder). From a split (``split=``, what ``gazeprep split`` wrote), the
  datalist also has a ``validation`` list (image and label) and a ``test`` list (images; their
  labels too with ``labels="mask"``), as ``load_decathlon_datalist(..., data_list_key=
  "validation")`` reads them.

Each layout's own entries (the two folders, the JSON file and ``gazeprep-export.json``, which
records what was written and the sha256 of every file) are replaced at once; other files in the
folder (an ``imagesTs`` of your own) stay. The folder is built beside the old one and swapped in
with one rename, so nnU-Net and MONAI see the old export or the new one whole at every instant;
a file the export did not write is never replaced or deleted (:mod:`gazeprep.export.owned`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gazeprep.errors import GazeprepError
from gazeprep.export.native import CacheFiles, SourceFiles
from gazeprep.export.owned import check_export, file_sums, writing

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


def _files(layout: str, key: str, ending: str = ".png") -> tuple[str, str]:
    images, labels, _ = _names(layout)
    suffix = "_0000" if layout == "nnunet" else ""
    return f"{images}/{key}{suffix}{ending}", f"{labels}/{key}{ending}"


def _description(layout: str, keys: list[str], name: str, files,
                 parts: dict[str, list[str]] | None = None, test_labels: bool = False) -> dict:
    if layout == "nnunet":
        return {"channel_names": dict(files.channels), "labels": dict(LABELS),
                "numTraining": len(keys), "file_ending": files.ending, "name": name,
                "description": "gaze-derived training set written by gazeprep export"}
    parts, kept = parts or {"training": keys}, set(keys)
    out = {}
    for part, ids in parts.items():
        with_label = part != "test" or test_labels
        out[part] = [dict(zip(("image", "label"),
                              _files(layout, k, files.ending)[:2 if with_label else 1],
                              strict=False)) for k in ids if k in kept]
    return out


#: A split's id files (``gazeprep split``) -> the MONAI datalist's lists.
SPLIT_PARTS = {"train": "training", "val": "validation", "test": "test"}


def read_split(folder: str | Path) -> dict[str, list[str]]:
    """The datalist's lists from a ``gazeprep split`` folder (``train.txt``, ``val.txt``,
    ``test.txt``): ``{"training": [...], "validation": [...], "test": [...]}``.

    Raises
    ------
    GazeprepError
        A missing id file, or one that cannot be read.
    """
    from gazeprep.contract.errors import InputError
    from gazeprep.contract.ids import read_ids_file

    out = {}
    for stem, part in SPLIT_PARTS.items():
        path = Path(folder) / f"{stem}.txt"
        if not path.is_file():
            raise GazeprepError(f"no {stem}.txt here: expected a folder written by `gazeprep "
                                "split`", file=folder)
        try:
            out[part] = read_ids_file(path)
        except InputError as exc:
            raise GazeprepError(exc.message, file=exc.file) from exc
    return out


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


def _check_label_values(labels: str, block, rows: list[int], info) -> None:
    from gazeprep.contract.errors import InputError
    from gazeprep.contract.labels import check_values

    try:
        check_values(labels, block, rows, info.ids, info.path)
    except InputError as exc:
        raise GazeprepError(exc.message, file=info.path) from exc


def export_cache(cache: str | Path, out: str | Path, layout: str, *, labels: str = "pseudo",
                 ids: list[str] | None = None, dataset_id: int = 501, name: str = "Gaze",
                 overwrite: bool = False, progress: Callable[[int, int], None] | None = None,
                 split: dict[str, list[str]] | None = None, images: str | Path | None = None,
                 modality: str | None = None) -> ExportReport:
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
        Replace files an earlier export wrote that were edited since (files it did not write
        are never replaced).
    progress : callable(done, total), optional
    split : dict, optional
        MONAI only: the datalist's ``training``, ``validation`` and ``test`` lists
        (:func:`read_split`); every image of the three is exported, ``ids`` must be None.
    images : str or Path, optional
        The folder render read the images from: export each at its own resolution, radiology
        as NIfTI of its own values and spacing (:class:`gazeprep.export.native.SourceFiles`).
    modality : str, optional
        With ``images``: the channel name of radiology images (default: DICOM's Modality).

    Raises
    ------
    GazeprepError
        Not a cache, an unknown id, no mask to export, a damaged sample (named), or entries
        this command did not write.
    """
    from gazeprep.contract.errors import InputError
    from gazeprep.contract.zarr_io import CorruptRowError, open_arrays, read_rows
    from gazeprep.inspect.load import load_layout

    info = load_layout(cache)
    if labels == "mask" and "mask" not in info.arrays:
        raise GazeprepError("the cache has no ground-truth masks (--labels mask): render it "
                            "with --masks DIR, or export --labels pseudo", file=info.path)
    if split is not None:
        if layout != "monai" or ids is not None:
            raise GazeprepError("a split's lists are for --to monai, without --ids")
        ids = sorted({i for part in split.values() for i in part})
    repeated = 0
    if ids is not None:  # an id listed twice is exported once (a million repeats: minutes)
        unique = list(dict.fromkeys(ids))
        repeated, ids = len(ids) - len(unique), unique
    try:
        pos = info.positions(ids if ids is not None else info.ids)
    except InputError as exc:  # unknown ids
        raise GazeprepError(exc.message, file=exc.file) from exc
    report = ExportReport(dataset_folder(Path(out), layout, dataset_id, name))
    if repeated:
        report.notes.append(f"{repeated} repeated id(s) in --ids: each image is exported once")
    if labels == "mask":
        report.without_mask = [info.ids[p] for p in pos if not info.has_mask[p]]
        pos = [p for p in pos if info.has_mask[p]]
    if not pos:
        raise GazeprepError("no image to export (no requested image has a mask)",
                            file=info.path)
    files = CacheFiles() if images is None else SourceFiles(
        _source_refs(images, [info.ids[p] for p in pos], info), modality)
    folder, entries = report.folder, [*_names(layout), RECORD]
    check_export(folder, RECORD, entries, WRITER, overwrite)
    source, label_sums = _label_source(info, labels)
    arrays = open_arrays(info.path, ["image", source])
    sums = [info.checksums("image"), label_sums]
    with writing(folder, entries, RECORD, report.notes) as root:
        for sub in _names(layout)[:2]:
            (root / sub).mkdir()
        for start in range(0, len(pos), BATCH):
            rows = pos[start:start + BATCH]
            try:
                image, label = read_rows(list(arrays.values()), rows, ids=info.ids,
                                         checksums=sums)
            except CorruptRowError as exc:
                raise GazeprepError(exc.message, file=info.path) from exc
            if source != labels:  # a labels array: 0/1 only
                _check_label_values(labels, label, rows, info)
            for r, im, lab in zip(rows, image, label, strict=True):
                img_file, lab_file = _files(layout, info.ids[r], files.ending)
                files.write(root / img_file, root / lab_file, info.ids[r], im, lab)
            if progress is not None:
                progress(min(len(pos), start + BATCH), len(pos))
        keys = [info.ids[p] for p in pos]
        desc = _names(layout)[2]
        text = json.dumps(_description(layout, keys, name, files, split, labels == "mask"),
                          indent=1)
        (root / desc).write_text(text + "\n")
        record = {"written_by": WRITER, "layout": layout, "labels": labels,
                  "cache": str(info.path), "n_images": len(keys),
                  "files": file_sums(root, list(_names(layout)))}
        (root / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    report.exported = keys
    return report


def _source_refs(folder: str | Path, keys: list[str], info) -> dict:
    """The image files of ``keys`` in ``folder``, read with the options render recorded."""
    from gazeprep.contract.images import ImageOptions, index_folder

    options = ImageOptions.from_dict((info.attrs.get("params") or {}).get("image"))
    refs = index_folder(folder, options)
    missing = [k for k in keys if k not in refs]
    if missing:
        raise GazeprepError(f"{len(missing)} exported image(s) have no file here, e.g. "
                            f"{missing[:3]}; expected the folder render read (--images)",
                            file=folder)
    return {k: refs[k] for k in keys}
