"""`gazeprep split SOURCE`: seeded train / val / test id files of a cache, gaze or image folder."""

from __future__ import annotations

from pathlib import Path

import typer

from gazeprep.commands import _image_options as img_opts


def _triple(kind: str, value: str | None, parse):
    """Three comma-separated numbers, or a usage error naming the option."""
    if value is None:
        return None
    try:
        parts = tuple(parse(v) for v in value.split(","))
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r}: expected TRAIN,VAL,TEST numbers",
                                 param_hint=kind) from exc
    if len(parts) != 3:
        raise typer.BadParameter(f"{value!r}: expected three numbers TRAIN,VAL,TEST",
                                 param_hint=kind)
    return parts


def split(
    source: Path = typer.Argument(..., metavar="SOURCE", help="A render cache, an ingest output "
                                  "(tracks.parquet) or a folder of images: where the ids come "
                                  "from."),
    out: Path = typer.Option(Path("data/split"), "--out", help="Folder for train.txt, val.txt, "
                             "test.txt and split.json (other files there are left alone)."),
    fractions: str = typer.Option(None, "--fractions", metavar="TRAIN,VAL,TEST",
                                  help="Shares of the ids, summing to 1 (default 0.8,0.1,0.1); "
                                  "val and test get round(share x N), train the rest."),
    counts: str = typer.Option(None, "--counts", metavar="TRAIN,VAL,TEST",
                               help="Numbers of ids instead of --fractions (summing to N)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the permutation (numpy default_rng)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace id files of those names "
                                   "that gazeprep split did not write."),
    slice_axis: int = img_opts.SLICE_AXIS,
    slice_base: int = img_opts.SLICE_BASE,
    flip: bool = img_opts.FLIP,
) -> None:
    """Write seeded train/val/test id files (train.txt, val.txt, test.txt).

    The sorted ids are permuted with the seed; the first test-count are the test set, the next
    val-count the validation set, the rest train. The same ids and seed give the same files on
    any machine. Use the files with `gradseg train --test-ids test.txt`, `gradseg eval/predict
    --ids test.txt` and `gazeprep export --ids train.txt`."""
    from rich.console import Console

    from gazeprep.contract.images import ImageOptions
    from gazeprep.export.split import counts_from_fractions, ids_of, split_ids, write_split

    if fractions is not None and counts is not None:
        raise typer.BadParameter("give --fractions or --counts, not both")
    shares = _triple("--fractions", fractions or ("0.8,0.1,0.1" if counts is None else None),
                     float)
    sizes = _triple("--counts", counts, int)
    ids, kind = ids_of(source, ImageOptions(slice_axis=slice_axis, slice_base=slice_base,
                                            flip=flip))
    try:
        sizes = sizes if sizes is not None else counts_from_fractions(len(ids), shares)
        parts = split_ids(ids, sizes, seed)
    except ValueError as exc:
        raise typer.BadParameter(f"{exc} ({len(ids)} ids in {source})",
                                 param_hint="--counts" if counts else "--fractions") from exc
    notes: list[str] = []
    files = write_split(out, parts, {"source": str(source), "source_kind": kind, "seed": seed,
                                     "n_ids": len(ids)}, overwrite, notes)
    console = Console(stderr=True)
    for note in notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    sizes_text = ", ".join(f"{p.stem} {len(parts[p.stem])}" for p in files)
    console.print(f"split {len(ids)} ids of {kind} {source} (seed {seed}): {sizes_text}; "
                  f"wrote {out}", markup=False, soft_wrap=True)
