"""`gazeprep simulate`: a dataset with known truth (images, masks, EyeLink ASC, true fixations)."""

from __future__ import annotations

from pathlib import Path

import typer


def simulate(
    out: Path = typer.Argument(..., help="Output folder (images/, masks/, raw/, truth.parquet)."),
    images: int = typer.Option(64, "--images", min=1, help="Number of images (one trial each)."),
    sessions: int = typer.Option(
        1, "--sessions", min=1, help="Number of observers; one ASC file each, every image once."
    ),
    size: int = typer.Option(352, "--size", min=32, max=4096,
                             help="Image side in pixels (square)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same files."),
    display: int = typer.Option(
        880, "--display", min=16, max=1080,
        help="Side of the on-screen image in screen pixels (1920x1080).",
    ),
) -> None:
    """Simulate lesion-like images, their masks and an observer's EyeLink recordings.

    The observer searches the image, then scans each target from its centre to its boundary
    (log-normal fixation durations, main-sequence saccades, 1000 Hz samples, blinks).
    """
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from gazeprep.simulate import SimConfig, simulate_dataset

    cfg = SimConfig(n_images=images, sessions=sessions, size=size, seed=seed, display=display)
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"simulate {stage}", total=total)
            bar.update(tasks[stage], completed=done)

        summary = simulate_dataset(out, cfg, progress=progress)
    table = Table(title=f"gazeprep simulate -> {out}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in ("images", "sessions", "fixations", "samples", "blinks"):
        table.add_row(key, f"{summary[key]:,}")
    Console().print(table)
