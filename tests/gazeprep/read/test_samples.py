"""Sample CSV/TSV reader: the real toy export, column mapping, units, bad values."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.ingest import ingest_file
from gazeprep.read import sniff_format
from gazeprep.read.options import IngestOptions


def read_samples(path, opts: IngestOptions):
    """Read one sample file to its fixations (reader, then detector for I-VT / I-DT)."""
    return ingest_file(path, dataclasses.replace(opts, format="samples"))


@pytest.mark.parametrize("detector", ["ivt", "idt"])
def test_toy_example_ingests(detector, shared_data):
    toy = shared_data("eyelink", "gaze-toy-example.csv")
    assert sniff_format(toy) == "samples"
    res = ingest_file(str(toy), IngestOptions(detector=detector))
    assert res.n_samples == 4306
    f = res.fixations
    assert 40 <= f.height <= 150, f.height
    assert (f["duration_ms"] >= 50).all() and f["x"].is_between(0, 1).all()
    assert (np.diff(f["order"].to_numpy()) > 0).all()
    assert res.rows_read == res.rows_kept + res.rows_dropped


def gaze(n=600, dt=4.0, jump=300, seed=0):
    """Two fixations of n/2 samples at 250 Hz (default), pixels."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * dt
    x = np.where(np.arange(n) < n // 2, 400.0, 400.0 + jump) + rng.normal(0, 0.3, n)
    y = np.full(n, 500.0) + rng.normal(0, 0.3, n)
    return t, x, y


def test_mapping_units_and_tab(tmp_path):
    t, x, y = gaze()
    p = tmp_path / "g.tsv"
    p.write_text("sec\tpx\tpy\n" + "".join(f"{a / 1000:.4f}\t{b:.2f}\t{c:.2f}\n"
                                            for a, b, c in zip(t, x, y, strict=True)))
    opts = IngestOptions(detector="idt", time_unit="s", units="px", idt_dispersion=10,
                         sample_columns={"time": "sec", "x": "px", "y": "py"},
                         image_rect=(0, 0, 1000, 1000))
    f = read_samples(str(p), opts).fixations
    assert f.height == 2
    np.testing.assert_allclose(f["x"], [0.4, 0.7], atol=1e-3)
    np.testing.assert_allclose(f["duration_ms"], [1200, 1200])
    np.testing.assert_allclose(f["onset_ms"], [0, 1200])


def test_sample_rate_without_time_and_missing_values(tmp_path):
    t, x, y = gaze()
    rows = [f"{b:.2f},{c:.2f}" for b, c in zip(x, y, strict=True)]
    rows[100] = "NaN,"  # a blink sample: missing, not an error
    p = tmp_path / "g.csv"
    p.write_text("x,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(GazeprepError, match="lacks column"):
        read_samples(str(p), IngestOptions())
    opts = IngestOptions(sample_rate=250.0, units="px", ivt_velocity=300, merge_gap=0)
    f = read_samples(str(p), opts).fixations
    assert f.height == 3  # the blink splits the first fixation
    merged = IngestOptions(sample_rate=250.0, units="px", ivt_velocity=300)
    assert read_samples(str(p), merged).fixations.height == 2  # default merge rejoins it


@pytest.mark.parametrize(("bad", "match"), [("12.0,abc,3", "x = 'abc'"),
                                            (",1,2", "time is missing"),
                                            ("0.0,400,500", "earlier than")])
def test_bad_samples(tmp_path, bad, match):
    t, x, y = gaze(n=100)
    rows = [f"{a},{b:.2f},{c:.2f}" for a, b, c in zip(t, x, y, strict=True)]
    rows[50] = bad
    p = tmp_path / "g.csv"
    p.write_text("time,x,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(GazeprepError, match=match) as err:
        read_samples(str(p), IngestOptions())
    assert err.value.line == 52
    res = read_samples(str(p), IngestOptions(lenient=True))
    assert res.errors[0]["line"] == 52 and res.notes["bad_samples_skipped"] == 1
