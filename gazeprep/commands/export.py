"""`gazeprep export --to nnunet|monai`: a render cache as an nnU-Net v2 or MONAI training set."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from gazeprep.commands.options import CACHE_DIR


def export(
    to: Literal["nnunet", "monai"] = typer.Option(..., "--to", help="nnunet: nnU-Net v2's raw "
                                                  "dataset (imagesTr, labelsTr, dataset.json); "
                                                  "monai: images, labels and datalist.json."),
    out: Path = typer.Option(..., "--out", help="nnunet: the nnUNet_raw folder (Dataset<ID>_"
                             "<Name> is made inside); monai: the datalist's folder."),
    cache: Path = typer.Option(CACHE_DIR, "--cache", help="Render cache (Zarr)."),
    labels: str = typer.Option(
        "pseudo", "--labels", help="Label PNGs from the gaze pseudo-masks (pseudo), the "
        "ground-truth masks (mask; images without one are left out) or a labels array of the "
        "cache by name (`gradseg refine`'s, e.g. st-r2; `gazeprep score` lists them)."),
    ids: Path = typer.Option(None, "--ids", help="File of ids (one a line) to export, e.g. a "
                             "split's train.txt (default: every image)."),
    images: Path = typer.Option(None, "--images", help="The images folder render read: export "
                                "each image at its own resolution, labels resized back "
                                "(nearest); DICOM/NIfTI/NRRD as one-channel NIfTI of the file's "
                                "own values and pixel spacing."),
    modality: str = typer.Option(None, "--modality", help="With --images, radiology: the "
                                 "channel name (CT, MR, T2...; default: DICOM's Modality)."),
    split: Path = typer.Option(None, "--split", help="monai: a `gazeprep split` folder; the "
                               "datalist gets its training, validation and test lists (test "
                               "without labels unless --labels mask)."),
    dataset_id: int = typer.Option(501, "--dataset-id", min=1, max=999,
                                   help="nnunet: the dataset id (DatasetXXX)."),
    name: str = typer.Option("Gaze", "--name", help="nnunet: the dataset name."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace files an earlier export "
                                   "wrote that were edited since. Files gazeprep export did "
                                   "not write are never replaced or deleted."),
) -> None:
    """Write the cache as an nnU-Net v2 or MONAI training set: images and 0/1 labels.

    Images are RGB PNG as stored (S x S), labels 0/1 PNG; with --images, each image at its own
    resolution, DICOM/NIfTI/NRRD as one-channel NIfTI (labels alike). Only the layout's own
    entries are replaced, all at once: the dataset folder is built beside the old one and
    swapped in with one rename."""
    import re

    from rich.console import Console

    from gazeprep.contract.errors import InputError
    from gazeprep.contract.ids import read_ids_file
    from gazeprep.contract.progress import Progress
    from gazeprep.errors import GazeprepError
    from gazeprep.export.layouts import export_cache, read_split

    if to == "nnunet" and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise typer.BadParameter(f"{name!r}: letters, digits, - and _ only", param_hint="--name")
    if split is not None and (to != "monai" or ids is not None):
        raise typer.BadParameter("--split is for --to monai, without --ids (nnU-Net makes its "
                                 "own validation folds: give it --ids SPLIT/train.txt)",
                                 param_hint="'--split'")
    try:
        wanted = None if ids is None else read_ids_file(ids)
    except InputError as exc:
        raise GazeprepError(exc.message, file=exc.file) from exc
    parts = None if split is None else read_split(split)
    console = Console(stderr=True)
    with Progress(f"export {to}", unit="images") as bar:
        report = export_cache(cache, out, to, labels=labels, ids=wanted, dataset_id=dataset_id,
                              name=name, overwrite=overwrite, split=parts, images=images,
                              modality=modality,
                              progress=lambda done, total: bar.update(done, total=total))
    for note in report.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    if report.without_mask:
        console.print(f"left out {len(report.without_mask)} image(s) without a mask, e.g. "
                      f"{report.without_mask[:3]}", markup=False, soft_wrap=True)
    console.print(f"wrote {len(report.exported)} images and {labels} labels ({to}) to "
                  f"{report.folder}", markup=False, soft_wrap=True)
