"""The simulator's gaze written as EyeLink ASC and as a Tobii Pro Lab export gives the same
fixation table from ingest (within the export's whole-pixel fixation points)."""

from __future__ import annotations

import polars as pl
import pytest

from gazeprep.ingest import run_ingest
from gazeprep.read.options import IngestOptions
from gazeprep.simulate import dataset
from gazeprep.simulate.config import SimConfig
from gazeprep.simulate.tobii_writer import write_tobii


@pytest.mark.parametrize("decimal", [",", "."])
def test_simulated_tobii_equals_asc(tmp_path, monkeypatch, decimal):
    written = tmp_path / "tobii"
    written.mkdir()
    asc = dataset.write_asc

    def both(path, trials, cfg, session):
        write_tobii(written / f"{session}.tsv", trials, cfg, session, decimal=decimal)
        return asc(path, trials, cfg, session=session)

    monkeypatch.setattr(dataset, "write_asc", both)
    cfg = SimConfig(n_images=3, sessions=2, size=64, seed=5)
    dataset.simulate_dataset(tmp_path / "sim", cfg)
    opts = IngestOptions(images=str(tmp_path / "sim" / "images"))
    run_ingest([tmp_path / "sim" / "raw"], tmp_path / "g_asc", opts, jobs=1)
    s = run_ingest([written], tmp_path / "g_tobii", opts, jobs=1)
    assert {r.format for r in s.results} == {"tobii-prolab"}
    assert {r.notes["fixations_from"] for r in s.results} == {"Tobii: Tobii I-VT (Fixation)"}
    key = ["session", "image", "trial", "index"]
    a = pl.read_parquet(tmp_path / "g_asc" / "fixations.parquet").sort(key)
    b = pl.read_parquet(tmp_path / "g_tobii" / "fixations.parquet").sort(key)
    assert a.height == b.height > 20
    assert a.select(key, "onset_ms", "duration_ms", "width", "height").equals(
        b.select(key, "onset_ms", "duration_ms", "width", "height"))
    # EFIX positions have one decimal, Pro Lab's fixation points whole pixels: half a pixel
    # of the 880-pixel display, in 0-1 of the image.
    tol = 0.5 / cfg.display + 0.05 / cfg.display + 1e-6
    assert (a["x"] - b["x"]).abs().max() <= tol
    assert (a["y"] - b["y"]).abs().max() <= tol
    ta = pl.read_parquet(tmp_path / "g_asc" / "tracks.parquet")
    tb = pl.read_parquet(tmp_path / "g_tobii" / "tracks.parquet")
    assert ta.height == tb.height
