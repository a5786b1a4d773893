"""`gazeprep simulate`: a dataset with known truth (images, masks, EyeLink ASC, true fixations)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import typer

from gazeprep.simulate.config import SimConfig

#: The defaults of every option (one home: :class:`gazeprep.simulate.config.SimConfig`).
_D = SimConfig()


def simulate(
    out: Path = typer.Argument(
        ..., help="Output folder (images/, masks/, raw/, truth.parquet, simulate.json); files "
                  "of an earlier simulation there are replaced, other files left alone."),
    images: int = typer.Option(_D.n_images, "--images", min=1,
                               help="Number of images (one trial each)."),
    sessions: int = typer.Option(
        _D.sessions, "--sessions", min=1,
        help="Number of observers; one ASC file each, every image once."
    ),
    size: int = typer.Option(_D.size, "--size", min=32, max=4096,
                             help="Image side in pixels (square)."),
    seed: int = typer.Option(_D.seed, "--seed",
                             help="Random seed; the same seed gives the same files."),
    display: int = typer.Option(
        _D.display, "--display", min=16, max=1080,
        help="Side of the on-screen image in screen pixels (1920x1080).",
    ),
) -> None:
    """Simulate lesion-like images, their masks and an observer's EyeLink recordings.

    The observer searches the image, then scans each target from its centre to its boundary
    (log-normal fixation durations, main-sequence saccades, 1000 Hz samples, blinks).
    """
    from rich.console import Console
    from rich.table import Table

    from gazeprep.commands.progress import Progress

    cfg = SimConfig(n_images=images, sessions=sessions, size=size, seed=seed, display=display)
    console = Console(stderr=True)
    bars: dict[str, Progress] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:  # a new stage: the previous one is over
            for bar in bars.values():
                bar.close()
            bars[stage] = Progress(f"simulate {stage}", total, unit=stage)
        bars[stage].update(done)

    try:
        summary = _simulate_into(out, cfg, progress)
    finally:
        for bar in bars.values():
            bar.close()
    table = Table(title=f"gazeprep simulate -> {out}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in ("images", "sessions", "fixations", "samples", "blinks"):
        table.add_row(key, f"{summary[key]:,}")
    Console().print(table)
    for note in summary.get("notes", []):
        console.print(f"note: {note}", markup=False, soft_wrap=True)


_OWNED = re.compile(r"^((images|masks)/sim\d+_\d{4,}\.png|raw/obs\d{2,}\.asc|truth\.parquet|"
                    r"simulate\.json)$")


def _names(seed: int, n_images: int, sessions: int) -> list[str]:
    """The files a simulation writes, relative to its folder (``simulate.json`` last)."""
    ids = [f"sim{seed}_{i:04d}" for i in range(n_images)]
    return ([f"{d}/{i}.png" for d in ("images", "masks") for i in ids]
            + [f"raw/obs{s + 1:02d}.asc" for s in range(sessions)]
            + ["truth.parquet", "simulate.json"])


def _previous(out: Path) -> list[str]:
    """Files of an earlier simulation in ``out`` (from its ``simulate.json``), else []."""
    try:
        p = json.loads((out / "simulate.json").read_text())["params"]
        return _names(int(p["seed"]), int(p["n_images"]), int(p["sessions"]))
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _simulate_into(out: Path, cfg, progress) -> dict:
    """Simulate into ``out``, replacing only the files of an earlier simulation, all at once.

    Files named like an output that no earlier simulation wrote are refused before anything is
    written; the earlier simulation's files that this one does not write are removed, so the
    folder never mixes two datasets.
    """
    from gazeprep.errors import GazeprepError
    from gazeprep.outputs import recover, transaction
    from gazeprep.simulate.dataset import simulate_dataset

    if out.exists() and not out.is_dir():
        raise GazeprepError("exists and is not a folder", file=out)
    notes = [n for n in [recover(out, _OWNED.match)] if n] if out.is_dir() else []
    new = _names(cfg.seed, cfg.n_images, cfg.sessions)
    old = set(_previous(out))
    clash = [n for n in new if os.path.lexists(out / n) and n not in old]
    if clash:
        raise GazeprepError(f"holds {', '.join(clash[:3])}{' ...' if len(clash) > 3 else ''} "
                            "not written by gazeprep simulate; refusing to replace: choose "
                            "another folder", file=out)
    with transaction(out, lambda n: bool(_OWNED.match(n)), notes) as st:
        summary = simulate_dataset(st.path, cfg, progress=progress)
        for name in new:
            st.add(name)
        for name in sorted(old - set(new)):
            st.remove(name)
        st.commit("simulate.json")
    return summary | {"out": str(out), "notes": notes}
