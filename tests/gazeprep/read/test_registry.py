"""The reader and detector registries: what ``--format`` and ``--detector`` offer is what exists,
and the one-way data flow holds (a reader returns samples, never runs a detector)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from gazeprep.detect import DETECTORS
from gazeprep.ingest import ingest_file
from gazeprep.read import readers, sniff_format
from gazeprep.read.options import DETECTOR_CHOICES, FORMAT_CHOICES, IngestOptions
from gazeprep.read.result import FileResult, Recording

ROOT = Path(__file__).resolve().parents[3]


def test_format_choices_are_the_registered_readers():
    assert FORMAT_CHOICES == ("auto", *readers())
    for reader in readers().values():
        assert callable(reader.sniff) and callable(reader.read)


def test_detector_choices_are_the_registered_detectors():
    assert DETECTOR_CHOICES == ("auto", "tracker", *DETECTORS)


def test_no_reader_module_mentions_the_detectors():
    """Not even a local import: detection is a later stage."""
    for path in (ROOT / "gazeprep" / "read").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                    a.name for a in node.names]
                assert not any(n.startswith("gazeprep.detect") for n in names), path


def _samples_csv(path: Path) -> Path:
    t = np.arange(400) * 4.0
    x = np.where(t < 800, 400.0, 700.0)
    path.write_text("time,x,y\n" + "".join(f"{a:g},{b:g},500\n" for a, b in zip(t, x,
                                                                               strict=True)))
    return path


def test_sample_reader_returns_samples_and_ingest_detects(tmp_path):
    p = _samples_csv(tmp_path / "g.csv")
    opts = IngestOptions(units="px", ivt_velocity=100.0, image_rect=(0, 0, 1000, 1000))
    assert sniff_format(p) == "samples"
    rec = readers()["samples"].read(str(p), opts)
    assert isinstance(rec, Recording) and rec.detector == "ivt"
    assert [s.t.size for s in rec.series] == [400]
    assert rec.result.fixations is None  # nothing detected yet
    res = ingest_file(p, opts)
    assert isinstance(res, FileResult)
    np.testing.assert_allclose(res.fixations["x"].to_numpy(), [0.4, 0.7], atol=1e-6)


def test_tracker_events_need_no_detector(tmp_path):
    p = tmp_path / "t.asc"
    p.write_text("START\t1000 \tLEFT\tSAMPLES\tEVENTS\n"
                 "MSG\t1000 DISPLAY_COORDS 0 0 1919 1079\nMSG\t1000 TRIALID 1\n"
                 "SFIX L   1000\nEFIX L   1000\t1199\t200\t 960.0\t 540.0\t900\n"
                 "END\t1200 \tSAMPLES\tEVENTS\n")
    got = readers()["asc"].read(str(p), IngestOptions())
    assert isinstance(got, FileResult) and got.fixations.height == 1
    with pytest.raises(Exception, match="sample files carry no tracker"):
        readers()["samples"].read(str(_samples_csv(tmp_path / "g.csv")),
                                  IngestOptions(detector="tracker"))
