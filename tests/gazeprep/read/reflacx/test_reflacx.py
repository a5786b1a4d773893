"""REFLACX reader: reading folders with their metadata table, one track per reading (two
readings of one image stay two tracks), the folder walk's skipped files, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.ingest import ingest_file, run_ingest
from gazeprep.read import find_inputs, sniff_format
from gazeprep.read.options import IngestOptions

FIX_HEADER = ("timestamp_start_fixation,timestamp_end_fixation,x_position,y_position,"
              "pupil_area_normalized,angular_resolution_x_pixels_per_degree,"
              "angular_resolution_y_pixels_per_degree,window_width,window_level,"
              "xmin_shown_from_image,ymin_shown_from_image,xmax_shown_from_image,"
              "ymax_shown_from_image")
META = ("id,split,eye_tracking_data_discarded,image,dicom_id,subject_id,image_size_x,"
        "image_size_y,Atelectasis\n"
        "P102R1,train,False,physionet.org/files/x/d1.dcm,d1,10,2000,2500,True\n"
        "P103R1,train,False,physionet.org/files/x/d1.dcm,d1,10,2000,2500,False\n"
        "P104R9,test,True,physionet.org/files/x/d2.dcm,d2,11,3000,3000,False\n")


def fixations(rows):
    return FIX_HEADER + "\n" + "".join(
        f"{s},{e},{x},{y},0.5,30.1,30.2,4096,2048,0,0,2000,2500\n" for s, e, x, y in rows)


def dataset(root):
    main = root / "main_data"
    readings = {"P102R1": [(0.1, 0.4, 1000, 1250), (0.45, 0.5, 10, 10), (0.6, 1.2, 2100, 10)],
                "P103R1": [(0.2, 0.5, 500, 500)],
                "P104R9": [(0.0, 1.0, 100, 100)]}
    for rid, rows in readings.items():
        d = main / rid
        d.mkdir(parents=True)
        (d / "fixations.csv").write_text(fixations(rows))
        (d / "gaze.csv").write_text("timestamp_sample,x_position,y_position\n0.0,1,1\n")
        (d / "transcription.txt").write_text("no findings.")
        (d / "chest_bounding_box.csv").write_text("xmin,ymin,xmax,ymax\n1,1,2,2\n")
    (main / "metadata_phase_1.csv").write_text(META)
    return main


def test_reading_to_track(tmp_path):
    main = dataset(tmp_path)
    p = main / "P102R1" / "fixations.csv"
    assert sniff_format(p) == "reflacx"
    res = ingest_file(p, IngestOptions())
    f = res.fixations
    # 50 ms is kept (the minimum), x = 2100 px lies right of the 2000 px image.
    assert dict(res.dropped) == {"outside_image": 1} and f.height == 2
    assert set(f["image"]) == {"d1"} and set(f["session"]) == {"P102R1"}
    assert f["trial"].is_null().all()
    np.testing.assert_allclose(f["x"], [0.5, 10 / 2000])
    np.testing.assert_allclose(f["y"], [0.5, 10 / 2500])
    np.testing.assert_allclose(f["duration_ms"], [300, 50])
    np.testing.assert_allclose(f["onset_ms"], [100, 450])
    assert res.images["d1"]["size_from"] == "metadata table"


def test_folder_two_readings_of_one_image(tmp_path):
    main = dataset(tmp_path)
    notes: list[str] = []
    files = find_inputs([tmp_path], notes)
    assert sorted(f.parent.name for f in files) == ["P102R1", "P103R1", "P104R9"]
    assert all(f.name == "fixations.csv" for f in files)
    assert sum("REFLACX gaze samples; the fixations.csv beside it is read" in n
               for n in notes) == 3
    assert any("metadata_phase_1.csv: skipped, REFLACX metadata table" in n for n in notes)
    assert any("transcription.txt: skipped, REFLACX reading file without gaze" in n
               for n in notes)
    run_ingest([tmp_path], tmp_path / "out", IngestOptions(), jobs=1)
    import polars as pl

    tracks = pl.read_parquet(tmp_path / "out" / "tracks.parquet")
    assert sorted(tracks.filter(pl.col("image") == "d1")["session"].to_list()) == [
        "P102R1", "P103R1"]
    report = json.loads((tmp_path / "out" / "ingest.json").read_text())
    assert report["totals"]["dropped"] == {"discarded_by_dataset": 1, "outside_image": 1}
    assert len(report["skipped_inputs"]) == 10  # 3 x (gaze, transcription, box) + metadata
    assert main.exists()


def test_reading_without_metadata(tmp_path):
    d = tmp_path / "main_data" / "P9"
    d.mkdir(parents=True)
    (d / "fixations.csv").write_text(fixations([(0.1, 0.4, 1, 1)]))
    with pytest.raises(GazeprepError, match="reading 'P9' is in no metadata_phase_<N>.csv"):
        ingest_file(d / "fixations.csv", IngestOptions())


@pytest.mark.parametrize("text, match, line", [
    (fixations([(0.1, 0.4, 1, 1)]).replace("x_position,", "x_pos,"), "lacks column x_position",
     1),
    (fixations([(0.5, 0.6, 1, 1), (0.1, 0.4, 1, 1)]), "earlier than the previous row's", 3),
    (fixations([(0.1, 0.4, 1, 1)]) + "0.5,0.9,12", r"row has 3 fields, the header 13 \(the file "
     r"ends in the middle of a row\)", 3),
])
def test_bad_reflacx_files(tmp_path, text, match, line):
    main = dataset(tmp_path)
    p = main / "P103R1" / "fixations.csv"
    p.write_text(text)
    with pytest.raises(GazeprepError, match=match) as exc:
        ingest_file(p, IngestOptions(format="reflacx"))
    assert exc.value.line == line
