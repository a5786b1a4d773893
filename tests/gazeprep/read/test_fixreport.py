"""Fixation-report reader and the ingest writer on real GazeMedSeg files and generated bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.ingest import run_ingest
from gazeprep.read.options import IngestOptions


@pytest.fixture(scope="module")
def gazemedseg(shared_data) -> Path:
    """The folder of the GazeMedSeg fixation reports."""
    return shared_data("gazemedseg", "kvasir_fixation.csv").parent


def ingest(tmp_path: Path, *paths, **kw):
    out = tmp_path / "gaze"
    summary = run_ingest([str(p) for p in paths], out, IngestOptions(**kw))
    fix = pl.read_parquet(out / "fixations.parquet")
    tracks = pl.read_parquet(out / "tracks.parquet")
    report = json.loads((out / "ingest.json").read_text())
    return summary, fix, tracks, report


def test_kvasir_keeps_every_fixation_in_recorded_order(gazemedseg, tmp_path):
    _, fix, tracks, report = ingest(tmp_path, gazemedseg / "kvasir_fixation.csv")
    raw = pl.read_csv(gazemedseg / "kvasir_fixation.csv")
    assert fix.height == raw.height == 23525
    assert tracks.height == 880 and fix["image"].n_unique() == 880
    assert report["totals"]["rows_read"] == report["totals"]["rows_kept"] == 23525
    # The file lists each image's fixations by CURRENT_FIX_INDEX: same order, values unchanged.
    assert fix["image"].to_list() == [n.rsplit(".", 1)[0] for n in raw["IMAGE"]]
    np.testing.assert_allclose(fix["x"], raw["CURRENT_FIX_X"], rtol=1e-6)
    np.testing.assert_allclose(fix["duration_ms"], raw["CURRENT_FIX_DURATION"])
    np.testing.assert_allclose(fix["onset_ms"], raw["CURRENT_FIX_START"])
    assert (fix["width"] == raw["IMAGE_WIDTH"].cast(pl.Int32)).all()
    idx = raw.with_columns(pl.int_range(pl.len()).over("IMAGE").alias("i"))["i"]
    assert (fix["index"] == idx).all()
    assert tracks["n_fixations"].sum() == 23525
    assert fix.schema["index"] == pl.Int32 and fix.schema["x"] == pl.Float32


def test_nci_isbi_dialects_agree(gazemedseg, tmp_path):
    _, a, _, _ = ingest(tmp_path / "a", gazemedseg / "nci-isbi_fixation.csv")
    _, b, _, rb = ingest(tmp_path / "b", gazemedseg / "nci-isbi_fixation_old.csv")
    assert a.height == b.height == 17397
    for col in ("image", "index"):
        assert (a[col] == b[col]).all()
    for col in ("x", "y", "duration_ms", "onset_ms", "pupil"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-6)
    assert set(b["session"]) != {"nci-isbi_fixation_old"}  # RECORDING_SESSION_LABEL used
    assert b["width"].is_null().all()  # the old export has no image size
    assert rb["inputs"][0]["format"] == "fixreport"


def write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


def test_tab_separated_without_start_or_index(tmp_path):
    f = write(tmp_path / "r.txt", "images\tX\tY\tDURATION\nsub/a.png\t0.1\t0.2\t100\n"
              "a.png\t0.3\t0.4\t200\nb.png\t0.5\t0.5\t300\na.png\t0.6\t0.7\t40\n")
    s, fix, tracks, rep = ingest(tmp_path, f)
    assert fix["image"].to_list() == ["a", "a", "b"]
    assert fix["onset_ms"].to_list() == [0.0, 100.0, 0.0]  # estimated from durations
    assert rep["inputs"][0]["dropped"] == {"short": 1}
    assert rep["drops"][0]["line"] == 5
    assert rep["inputs"][0]["rows_read"] == 4


def test_pixel_coordinates_with_sizes(tmp_path):
    f = write(tmp_path / "p.csv", "IMAGE,CURRENT_FIX_X,CURRENT_FIX_Y,CURRENT_FIX_DURATION,"
              "IMAGE_WIDTH,IMAGE_HEIGHT\nx.jpg,50,25,100,100,50\nx.jpg,150,25,100,100,50\n")
    _, fix, _, rep = ingest(tmp_path, f)
    assert fix["x"].to_list() == [0.5] and fix["y"].to_list() == [0.5]
    assert rep["inputs"][0]["dropped"] == {"outside_image": 1}


def test_pixel_coordinates_with_image_rect(tmp_path):
    f = write(tmp_path / "p.csv", "IMAGE,X,Y,DURATION\nx.jpg,150,125,100\n")
    _, fix, _, _ = ingest(tmp_path, f, image_rect=(100, 100, 200, 100))
    assert fix["x"].to_list() == [0.25] and fix["y"].to_list() == [0.25]


def test_pixel_coordinates_with_images_folder(tmp_path):
    from skimage.io import imsave

    (tmp_path / "imgs").mkdir()
    imsave(tmp_path / "imgs" / "x.png", np.zeros((40, 80, 3), np.uint8), check_contrast=False)
    f = write(tmp_path / "p.csv", "IMAGE,X,Y,DURATION\n../../x.jpg,40,10,100\n")
    _, fix, _, _ = ingest(tmp_path, f, images=str(tmp_path / "imgs"))
    assert (fix["width"][0], fix["height"][0]) == (80, 40)
    assert fix["x"][0] == 0.5 and fix["y"][0] == 0.25 and fix["image"][0] == "x"


def test_pixel_coordinates_without_size_fail(tmp_path):
    f = write(tmp_path / "p.csv", "IMAGE,X,Y,DURATION\nx.jpg,40,10,100\n")
    with pytest.raises(GazeprepError, match="no size"):
        ingest(tmp_path, f)


@pytest.mark.parametrize(
    ("body", "match", "line", "reason"),
    [
        ("a.jpg,1,0.1,0.2,100\na.jpg,1,0.3,0.2,100\n", "duplicate fixation index", 3,
         "duplicate_index"),
        ("a.jpg,1,0.1,0.2,100\na.jpg,2,inf,0.2,100\n", "not a finite number", 3, "bad_value"),
        ("a.jpg,1,0.1,0.2,100\na.jpg,2,0.1,abc,100\n", "not a finite number", 3, "bad_value"),
        ("a.jpg,1,0.1,0.2,100\na.jpg,2,0.1,0.2,-5\n", "negative duration", 3, "bad_value"),
        ("a.jpg,1,0.1,0.2,100\na.jpg,2,0.1\n", "missing", 3, "bad_value"),  # truncated
        ("a.jpg,1,0.1,0.2,100\na.jpg,2.5,0.1,0.3,100\n", "not an integer", 3, "bad_value"),
    ],
)
def test_bad_rows_fail_or_are_skipped(tmp_path, body, match, line, reason):
    f = write(tmp_path / "bad.csv", "IMAGE,CURRENT_FIX_INDEX,X,Y,DURATION\n" + body)
    with pytest.raises(GazeprepError, match=match) as err:
        ingest(tmp_path, f)
    assert err.value.line == line and err.value.file.endswith("bad.csv")
    _, fix, _, rep = ingest(tmp_path, f, lenient=True)
    entry = rep["inputs"][0]
    assert fix.height == 1 and entry["dropped"] == {reason: 1}
    assert entry["rows_read"] == entry["rows_kept"] + entry["rows_dropped"]
    assert rep["drops"][0]["line"] == line


def test_missing_columns(tmp_path):
    f = write(tmp_path / "m.csv", "IMAGE,CURRENT_FIX_X,DURATION\na.jpg,0.1,100\n")
    with pytest.raises(GazeprepError, match="lacks required column.*y"):
        ingest(tmp_path, f, format="fixreport")
    with pytest.raises(GazeprepError, match="unknown format"):
        ingest(tmp_path, f)


def test_binary_and_empty_inputs(tmp_path):
    b = tmp_path / "b.csv"
    b.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(GazeprepError, match="binary"):
        ingest(tmp_path, b)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GazeprepError, match="no input file"):
        ingest(tmp_path, tmp_path / "empty")
    e = write(tmp_path / "e.csv", "")
    with pytest.raises(GazeprepError, match="empty"):
        ingest(tmp_path, e)
    ok = write(tmp_path / "ok.csv", "IMAGE,X,Y,DURATION\na.jpg,0.5,0.5,100\n")
    _, fix, _, rep = ingest(tmp_path, b, e, ok, lenient=True)
    assert fix.height == 1 and rep["totals"]["errors"] == 2


def test_folder_walk_and_rerun_replaces(tmp_path):
    d = tmp_path / "raw" / "sub"
    d.mkdir(parents=True)
    write(d / "one.csv", "IMAGE,X,Y,DURATION\na.jpg,0.5,0.5,100\n")
    write(d / "notes.md", "ignored")
    _, fix, _, _ = ingest(tmp_path, tmp_path / "raw")
    assert fix.height == 1
    write(d / "two.csv", "IMAGE,X,Y,DURATION\nb.jpg,0.5,0.5,100\n")
    _, fix, tracks, _ = ingest(tmp_path, tmp_path / "raw")
    assert fix.height == 2 and tracks.height == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".gaze")]


def test_user_files_in_out_folder_are_kept(tmp_path):
    (tmp_path / "gaze").mkdir()
    (tmp_path / "gaze" / "precious.txt").write_text("x")
    f = write(tmp_path / "ok.csv", "IMAGE,X,Y,DURATION\na.jpg,0.5,0.5,100\n")
    ingest(tmp_path, f)
    assert (tmp_path / "gaze" / "precious.txt").read_text() == "x"


def test_track_split_over_files_is_an_error(tmp_path):
    a = write(tmp_path / "a.csv", "IMAGE,RECORDING_SESSION_LABEL,X,Y,DURATION\ni.jpg,s,.5,.5,99\n")
    b = write(tmp_path / "b.csv", "IMAGE,RECORDING_SESSION_LABEL,X,Y,DURATION\ni.jpg,s,.5,.5,99\n")
    with pytest.raises(GazeprepError, match="several files"):
        ingest(tmp_path, a, b)


def test_coords_override(tmp_path):
    # values inside [0, 1] would be read as normalised; --coords pixels says otherwise
    f = write(tmp_path / "p.csv", "IMAGE,X,Y,DURATION,IMAGE_WIDTH,IMAGE_HEIGHT\n"
              "x.jpg,1,0.5,100,4,2\n")
    _, fix, _, rep = ingest(tmp_path, f, coords="pixels")
    assert fix["x"].to_list() == [0.25] and fix["y"].to_list() == [0.25]
    assert rep["inputs"][0]["notes"]["coords"] == "pixels"
    _, fix, _, _ = ingest(tmp_path, f)
    assert fix["x"].to_list() == [1.0]


def test_interrupted_write_keeps_previous_output(tmp_path, monkeypatch):
    f = write(tmp_path / "ok.csv", "IMAGE,X,Y,DURATION\na.jpg,0.5,0.5,100\n")
    ingest(tmp_path, f)
    before = (tmp_path / "gaze" / "fixations.parquet").read_bytes()
    f2 = write(tmp_path / "ok2.csv", "IMAGE,X,Y,DURATION\nb.jpg,0.5,0.5,100\n")

    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pl.DataFrame, "write_parquet", boom)
    with pytest.raises(KeyboardInterrupt):
        run_ingest([str(f2)], tmp_path / "gaze", IngestOptions())
    assert (tmp_path / "gaze" / "fixations.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
