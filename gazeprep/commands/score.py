"""`gazeprep score`: Dice/IoU of pseudo-masks, levels and heatmap against ground truth."""

from __future__ import annotations

from pathlib import Path

import typer

from gazeprep.commands.options import CACHE_DIR, number
from gazeprep.contract.tables import print_table
from gazeprep.inspect.score import HEATMAP_THRESHOLD, LEVEL_THRESHOLD


def score(
    cache: Path = typer.Option(CACHE_DIR, "--cache", help="Render cache (Zarr)."),
    json_out: bool = typer.Option(
        False,
        "--json",
        help="Print one JSON object of means (keys include pseudo_dice, heatmap_dice).",
    ),
    out: Path = typer.Option(
        None, "--out", help="Per-image Parquet (default: <cache>.score.parquet beside the cache)."
    ),
    level_threshold: float = typer.Option(
        LEVEL_THRESHOLD, "--level-threshold",
        help="Level maps are foreground where value > this.",
        callback=number(0, 1, hi_open=True),
    ),
    heatmap_threshold: float = typer.Option(
        HEATMAP_THRESHOLD, "--heatmap-threshold",
        help="Heatmap foreground where value > this (GazeMedSeg 0.5).",
        callback=number(0, 1, hi_open=True),
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace --out even when it is not a score table."
    ),
) -> None:
    """Score the cache's pseudo-masks, thresholded levels, heatmap and every labels array
    (`gradseg refine`'s labels/NAME) against its masks."""
    import json

    from rich.console import Console
    from rich.table import Table

    from gazeprep.contract.progress import Progress
    from gazeprep.inspect.load import load_cache
    from gazeprep.inspect.score import is_score_table, labels_names, score_cache, summarise
    from gazeprep.outputs import atomic_write, check_replaceable

    out = out or cache.with_name(cache.name + ".score.parquet")
    check_replaceable(out, is_score_table, "gazeprep score", overwrite)
    g = load_cache(cache)
    with Progress("score", g["image"].shape[0], unit="images") as bar:
        df = score_cache(g, level_threshold, heatmap_threshold,
                         progress=lambda done, _total: bar.update(done))
    atomic_write(out, lambda tmp: df.write_parquet(tmp, compression="zstd"))
    summary = summarise(df)
    if json_out:
        summary["per_image"] = str(out)
        print(json.dumps(summary))
        return
    console = Console()
    table = Table(title=f"gazeprep score: {cache} ({summary['n_images']} images with masks)")
    table.add_column("prediction")
    table.add_column("mean Dice", justify="right")
    table.add_column("mean IoU", justify="right")
    names = (["pseudo"] + [f"level{k + 1}" for k in range(g["maps"].shape[1])] + ["heatmap"]
             + [f"labels/{k}" for k in labels_names(g)])
    for name in names:
        table.add_row(
            name, f"{summary[name + '_dice']:.4f}", f"{summary[name + '_iou']:.4f}"
        )
    print_table(table, console)
    if summary["n_empty_mask"]:
        console.print(
            f"{summary['n_empty_mask']} image(s) have an empty mask: scored 0 where the "
            "prediction is not empty, left out of the means where it is empty too "
            f"(pseudo: mean over {summary['n_pseudo_scored']} images)"
        )
    console.print(
        f"levels thresholded at > {level_threshold}, heatmap at > {heatmap_threshold}; "
        f"per image: {out}"
    )
