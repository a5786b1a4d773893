"""`gazeprep simulate`: a dataset with known truth (images, masks, recordings in a tracker's
format, true fixations)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from gazeprep.contract.tables import print_table
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
    image_format: str = typer.Option(
        _D.image_format, "--format",
        help="png: endoscopy-like RGB images | dicom | nifti: MR-like 16-bit volumes of "
             "--slices slices with a lesion (one multi-frame .dcm / .nii.gz per volume, masks "
             "alike; image ids <stem>_<k>).",
    ),
    slices: int = typer.Option(_D.slices, "--slices", min=1, max=1024,
                               help="Slices per volume (--format dicom | nifti)."),
    tracker: str = typer.Option(
        _D.tracker, "--tracker",
        help="Format of the recordings: eyelink (raw/obsNN.asc) | tobii (Pro Lab data export, "
             "raw/obsNN.tsv) | smi (BeGaze event export, "
             "raw/obsNN.txt) | gazepoint (GP3 CSV, raw/obsNN.csv) | pupil (Pupil Player "
             "surface export, raw/obsNN/exports/000/). The same gaze in each; smi and "
             "gazepoint are in screen pixels: ingest them with the --image-rect printed."),
) -> None:
    """Simulate lesion-like images (or MR-like volumes), their masks and eye-tracker recordings.

    The observer searches the image, then scans each target from its centre to its boundary
    (log-normal fixation durations, main-sequence saccades, 1000 Hz samples, blinks); the
    recordings are EyeLink ASC files, or the same gaze in another tracker's format (--tracker).
    """
    from rich.console import Console
    from rich.table import Table

    from gazeprep.contract.progress import Progress
    from gazeprep.simulate.config import IMAGE_FORMATS
    from gazeprep.simulate.writers import TRACKERS, ingest_hint

    if image_format not in IMAGE_FORMATS:
        raise typer.BadParameter(f"{image_format!r}; expected one of {', '.join(IMAGE_FORMATS)}",
                                 param_hint="'--format'")
    if tracker not in TRACKERS:
        raise typer.BadParameter(f"{tracker!r}; expected one of {', '.join(TRACKERS)}",
                                 param_hint="'--tracker'")
    cfg = SimConfig(n_images=images, sessions=sessions, size=size, seed=seed, display=display,
                    image_format=image_format, slices=slices, tracker=tracker)
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
    print_table(table)
    for note in summary.get("notes", []):
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    if ingest_hint(cfg):
        import shlex

        argv = ["gazeprep", "ingest", f"{out}/raw", "--images", f"{out}/images", *ingest_hint(cfg)]
        console.print(f"ingest with: {shlex.join(argv)}", markup=False, soft_wrap=True)


def _previous(out: Path) -> list[str]:
    """Files of an earlier simulation in ``out`` (from its ``simulate.json``), else []."""
    from gazeprep.simulate.dataset import output_names

    try:
        p = json.loads((out / "simulate.json").read_text())["params"]
        return output_names(SimConfig(
            n_images=int(p["n_images"]), sessions=int(p["sessions"]), seed=int(p["seed"]),
            image_format=str(p.get("image_format", "png")), slices=int(p.get("slices", 8)),
            tracker=str(p.get("tracker", "eyelink"))))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError):
        return []


def _simulate_into(out: Path, cfg, progress) -> dict:
    """Simulate into ``out``, replacing only the files of an earlier simulation, all at once.

    Files named like an output that no earlier simulation wrote are refused before anything is
    written; the earlier simulation's files that this one does not write are removed, so the
    folder never mixes two datasets.
    """
    from gazeprep.errors import GazeprepError
    from gazeprep.outputs import recover, transaction
    from gazeprep.simulate.dataset import OWNED, output_names, simulate_dataset

    if out.exists() and not out.is_dir():
        raise GazeprepError("exists and is not a folder", file=out)
    notes = [n for n in [recover(out, OWNED.match)] if n] if out.is_dir() else []
    new = output_names(cfg)
    old = set(_previous(out))
    clash = [n for n in new if os.path.lexists(out / n) and n not in old]
    if clash:
        raise GazeprepError(f"holds {', '.join(clash[:3])}{' ...' if len(clash) > 3 else ''} "
                            "not written by gazeprep simulate; refusing to replace: choose "
                            "another folder", file=out)
    with transaction(out, lambda n: bool(OWNED.match(n)), notes) as st:
        summary = simulate_dataset(st.path, cfg, progress=progress)
        for name in new:
            st.add(name)
        for name in sorted(old - set(new)):
            st.remove(name)
        st.commit("simulate.json")
    return summary | {"out": str(out), "notes": notes}
