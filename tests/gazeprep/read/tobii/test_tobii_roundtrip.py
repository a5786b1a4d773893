"""The simulator's gaze written as a Tobii Pro Lab export with a decimal point (``simulate
--tracker tobii`` writes decimal commas; ``tests/gazeprep/simulate/test_tracker_round_trip.py``
compares every format) gives the fixation table the EyeLink ASC gives."""

from __future__ import annotations

import functools

import polars as pl
import pytest

from gazeprep.ingest import run_ingest
from gazeprep.read.options import IngestOptions
from gazeprep.simulate import writers
from gazeprep.simulate.config import SimConfig
from gazeprep.simulate.dataset import simulate_dataset
from gazeprep.simulate.tobii_writer import write_tobii


def test_simulated_tobii_with_decimal_point_equals_asc(tmp_path, monkeypatch):
    point = writers._one_file(".tsv", functools.partial(write_tobii, decimal="."), True)
    monkeypatch.setitem(writers.WRITERS, "tobii", point)
    tables, summaries = {}, {}
    for tracker in ("eyelink", "tobii"):
        cfg = SimConfig(n_images=3, sessions=2, size=64, seed=5, tracker=tracker)
        simulate_dataset(tmp_path / tracker, cfg)
        opts = IngestOptions(images=str(tmp_path / tracker / "images"))
        summaries[tracker] = run_ingest([tmp_path / tracker / "raw"], tmp_path / f"g_{tracker}",
                                        opts, jobs=1)
        tables[tracker] = pl.read_parquet(tmp_path / f"g_{tracker}" / "fixations.parquet")
    text = next((tmp_path / "tobii" / "raw").glob("*.tsv")).read_text(encoding="utf-8")
    assert "," not in text and "." in text  # pupil diameters with a decimal point
    s = summaries["tobii"]
    assert {r.format for r in s.results} == {"tobii-prolab"}
    assert {r.notes["fixations_from"] for r in s.results} == {"Tobii: Tobii I-VT (Fixation)"}
    key = ["session", "image", "trial", "index"]
    a, b = (tables[t].sort(key) for t in ("eyelink", "tobii"))
    assert a.height == b.height > 20
    assert a.select(key, "onset_ms", "duration_ms", "width", "height").equals(
        b.select(key, "onset_ms", "duration_ms", "width", "height"))
    # EFIX positions have one decimal, Pro Lab's fixation points whole pixels: half a pixel
    # of the 880-pixel display, in 0-1 of the image.
    tol = 0.5 / cfg.display + 0.05 / cfg.display + 1e-6
    assert (a["x"] - b["x"]).abs().max() == pytest.approx(0, abs=tol)
    assert (a["y"] - b["y"]).abs().max() == pytest.approx(0, abs=tol)
