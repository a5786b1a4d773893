"""The same simulated gaze, written by ``simulate --tracker`` in every format, gives the same
fixation table from ``ingest`` (within the format's precision: ASC positions carry 0.1 px,
Tobii Pro Lab's fixation points whole pixels)."""

from __future__ import annotations

import polars as pl
import pytest

from gazeprep.ingest import run_ingest
from gazeprep.read.options import IngestOptions
from gazeprep.simulate.config import SimConfig
from gazeprep.simulate.dataset import output_names, simulate_dataset
from gazeprep.simulate.writers import TRACKERS, ingest_hint

#: How far two formats' numbers may differ: x, y (fraction of the 880 px on-screen image): ASC
#: rounds to 0.05 px, the others to at most 0.01 px (Gazepoint: 5 decimals of the screen
#: width) except Tobii Pro Lab, whose fixation points are whole pixels (0.5 px); times (ms) are
#: exact in every format.
PRECISION = {"onset_ms": 1e-6, "duration_ms": 1e-6}
POSITION_PX = {"tobii": 0.5 + 0.05}
KEY = ["image", "session", "index"]


def ingest(root, tracker: str, tmp_path_factory) -> pl.DataFrame:
    cfg = SimConfig(n_images=3, sessions=2, size=64, seed=3, tracker=tracker)
    sim = root / tracker
    simulate_dataset(sim, cfg)
    assert sorted(str(p.relative_to(sim)) for p in sim.rglob("*") if p.is_file()) == sorted(
        output_names(cfg))
    hint = ingest_hint(cfg)
    rect = tuple(float(v) for v in hint[1:]) if hint else None
    out = tmp_path_factory.mktemp(f"gaze_{tracker}")
    run_ingest([sim / "raw"], out, IngestOptions(images=str(sim / "images"), image_rect=rect),
               jobs=1)
    return pl.read_parquet(out / "fixations.parquet").sort(KEY)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("sims")
    return {t: ingest(root, t, tmp_path_factory) for t in TRACKERS}


@pytest.mark.parametrize("tracker", [t for t in TRACKERS if t != "eyelink"])
def test_same_fixations_in_every_format(tables, tracker):
    asc, other = tables["eyelink"], tables[tracker]
    assert asc.height > 50
    assert other.select(KEY).equals(asc.select(KEY))
    for col in ("x", "y", "onset_ms", "duration_ms"):
        tol = PRECISION.get(col, POSITION_PX.get(tracker, 0.07) / 880)  # x, y: 0-1
        diff = (other[col].cast(pl.Float64) - asc[col].cast(pl.Float64)).abs().max()
        assert diff <= tol, (col, diff)
    assert other["width"].to_list() == asc["width"].to_list()


def _cli(*args: str) -> int:
    from gazeprep.cli import main

    with pytest.raises(SystemExit) as ex:
        main(list(args))
    return 0 if ex.value.code is None else int(ex.value.code)


def test_switching_tracker_replaces_the_recordings(tmp_path, capsys):
    out = tmp_path / "sim"
    assert _cli("simulate", str(out), "--images", "2", "--size", "32", "--tracker", "smi") == 0
    assert "--image-rect 520 100 880 880" in capsys.readouterr().err
    assert _cli("simulate", str(out), "--images", "2", "--size", "32", "--tracker",
                "pupil") == 0
    files = sorted(str(p.relative_to(out / "raw")) for p in (out / "raw").rglob("*")
                   if p.is_file())
    assert files == sorted(n[len("raw/"):] for n in output_names(
        SimConfig(n_images=2, size=32, tracker="pupil")) if n.startswith("raw/"))
    assert _cli("simulate", str(out), "--tracker", "tobi") == 2


@pytest.mark.parametrize("tracker", ["smi", "gazepoint"])
def test_the_printed_ingest_command_places_the_fixations(tmp_path, capsys, tracker):
    """The command simulate prints for screen-pixel trackers, run as printed, gives fixations on
    the simulated images at their own size (without ``--images`` they came out 880 px wide)."""
    import shlex

    out = tmp_path / "sim"
    assert _cli("simulate", str(out), "--images", "2", "--size", "32", "--tracker", tracker) == 0
    line = next(ln for ln in capsys.readouterr().err.splitlines()
                if ln.startswith("ingest with: "))
    argv = shlex.split(line[len("ingest with: "):])
    assert argv[:2] == ["gazeprep", "ingest"]
    assert _cli(*argv[1:], "--out", str(tmp_path / "gaze")) == 0
    fix = pl.read_parquet(tmp_path / "gaze" / "fixations.parquet")
    assert fix.height > 0 and set(fix["width"].to_list()) == {32}
