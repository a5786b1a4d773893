"""`gazeprep show ID`: one PNG of an image's track, level maps, heatmap and pseudo-mask."""

from __future__ import annotations

from pathlib import Path

import typer


def show(
    image_id: str = typer.Argument(..., metavar="ID", help="Image id (file stem)."),
    cache: Path = typer.Option(Path("data/maps.zarr"), "--cache", help="Render cache (Zarr)."),
    gaze: Path = typer.Option(
        Path("data/gaze"), "--gaze", help="Ingest output (for the fixations; optional)."
    ),
    out: Path = typer.Option(None, "--out", help="PNG to write (default: <ID>.png)."),
) -> None:
    """Draw numbered fixations (disk size by duration, polyline in time order), each level's
    map, the heatmap and the pseudo-mask, with the ground-truth contour in green."""
    import numpy as np
    from rich.console import Console
    from skimage.io import imsave

    from gazeprep.cache import open_cache, read_tracks
    from gazeprep.show import render_show

    console = Console(stderr=True)
    g = open_cache(cache)
    tracks = []
    if (gaze / "tracks.parquet").is_file():
        by_id, _ = read_tracks(gaze)
        tracks = [(t.x, t.y, t.duration_ms) for t in by_id.get(image_id, [])]
    else:
        console.print(f"no {gaze / 'tracks.parquet'}: drawing without fixations")
    panel = render_show(g, image_id, tracks)
    out = out or Path(f"{image_id}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    imsave(out, np.ascontiguousarray(panel), check_contrast=False)
    n = sum(len(t[0]) for t in tracks)
    console.print(f"wrote {out} ({panel.shape[1]}x{panel.shape[0]} px, {n} fixations, "
                  f"{len(tracks)} session(s))")
