"""`gazeprep show ID`: one PNG of an image's track, level maps, heatmap and pseudo-mask."""

from __future__ import annotations

from pathlib import Path

import typer

from gazeprep.commands.options import CACHE_DIR, GAZE_DIR


def show(
    image_id: str = typer.Argument(..., metavar="ID", help="Image id (file stem)."),
    cache: Path = typer.Option(CACHE_DIR, "--cache", help="Render cache (Zarr)."),
    gaze: Path = typer.Option(
        GAZE_DIR, "--gaze", help="Ingest output (for the fixations; optional)."
    ),
    out: Path = typer.Option(None, "--out", help="PNG to write (default: <ID>.png); an earlier "
                             "picture of gazeprep show there is replaced."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out even when it is "
                                   "not a picture gazeprep show wrote."),
) -> None:
    """Draw numbered fixations (disk size by duration, polyline in time order), each level's
    map, the heatmap, the pseudo-mask and every labels array of the cache (`gradseg refine`'s)
    side by side, with the ground-truth contour in green."""
    from rich.console import Console

    from gazeprep.inspect.load import load_cache
    from gazeprep.inspect.show import is_show_png, render_show, save_png
    from gazeprep.outputs import check_replaceable
    from gazeprep.tracks import read_tracks

    console = Console(stderr=True)
    out = out or Path(f"{image_id}.png")
    check_replaceable(out, is_show_png, "gazeprep show", overwrite)
    g = load_cache(cache)
    tracks = []
    if (gaze / "tracks.parquet").is_file():
        by_id, _ = read_tracks(gaze)
        tracks = [(t.x, t.y, t.duration_ms) for t in by_id.get(image_id, [])]
    else:
        console.print(f"no {gaze / 'tracks.parquet'}: drawing without fixations")
    panel = render_show(g, image_id, tracks)
    save_png(out, panel)
    n = sum(len(t[0]) for t in tracks)
    console.print(f"wrote {out} ({panel.shape[1]}x{panel.shape[0]} px, {n} fixations, "
                  f"{len(tracks)} session(s))")
