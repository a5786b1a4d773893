"""`gazeprep ingest` on the command line: outputs, exit codes, one-line errors, atomic output."""

from __future__ import annotations

import json

import polars as pl
import pytest
from safety_helpers import stderr_lines

from gazeprep.cli import main


def run(*args: str) -> int:
    with pytest.raises(SystemExit) as ex:
        main(list(args))
    return 0 if ex.value.code is None else int(ex.value.code)


def test_kvasir_via_cli(tmp_path, capsys, shared_data):
    report = shared_data("gazemedseg", "kvasir_fixation.csv")
    out = tmp_path / "gaze"
    assert run("ingest", str(report), "--out", str(out)) == 0
    assert "23,525" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["fixations.parquet", "ingest.json",
                                                     "quality.parquet", "tracks.parquet"]
    assert pl.read_parquet(out / "quality.parquet").height == 0  # a report has no samples
    tracks = pl.read_parquet(out / "tracks.parquet")
    assert tracks.height == 880 and tracks["n_fixations"].sum() == 23525
    rep = json.loads((out / "ingest.json").read_text())
    assert rep["totals"]["rows_kept"] == 23525 and rep["params"]["min_duration"] == 50.0


def test_bad_input_exits_1_with_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("IMAGE,X,Y,DURATION\na.jpg,0.1,0.2,100\na.jpg,0.1,zz,100\n")
    assert run("ingest", str(bad), "--out", str(tmp_path / "g")) == 1
    err = stderr_lines(capsys.readouterr().err)[0]
    assert "bad.csv:3:" in err and "not a finite number" in err and "expected" in err
    assert not (tmp_path / "g").exists()  # nothing half-written
    assert run("ingest", str(bad), "--out", str(tmp_path / "g"), "--lenient") == 0
    rep = json.loads((tmp_path / "g" / "ingest.json").read_text())
    assert rep["drops"][0]["line"] == 3 and rep["inputs"][0]["rows_read"] == 2


def test_usage_errors_exit_2(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("IMAGE,X,Y,DURATION\na.jpg,0.1,0.2,100\n")
    assert run("ingest", str(f), "--format", "xml") == 2
    assert run("ingest") == 2


def test_missing_path_exits_1(tmp_path, capsys):
    assert run("ingest", str(tmp_path / "nope.asc"), "--out", str(tmp_path / "g")) == 1
    assert "no such file" in capsys.readouterr().err


def test_no_fixation_kept_says_why_per_file(tmp_path, capsys):
    """Every fixation dropped as too short: the warning names the file and the counts."""
    sim = tmp_path / "sim"
    assert run("simulate", str(sim), "--images", "2", "--size", "32") == 0
    capsys.readouterr()
    assert run("ingest", str(sim / "raw"), "--images", str(sim / "images"), "--min-duration",
               "100000", "--out", str(tmp_path / "gaze")) == 0
    err = capsys.readouterr().err
    assert "warning: no fixation kept from any input" in err
    assert "obs01.asc: every fixation dropped: short " in err


def test_an_event_export_says_it_holds_no_gaze(tmp_path, capsys, shared_data):
    src = shared_data("vendors", "emdat", "P61-Event-Data.tsv")
    assert run("ingest", str(src), "--out", str(tmp_path / "gaze")) == 0
    assert "P61-Event-Data.tsv: an event export holds no gaze" in capsys.readouterr().err
