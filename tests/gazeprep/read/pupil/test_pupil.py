"""Pupil Labs readers: Core (Player exports, surfaces; origin bottom-left) and Neon / Pupil
Cloud (ns timestamps, scene-camera px, Marker Mapper / Reference Image Mapper), the folder walk
(one file read per surface, the rest skipped with a reason), bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gazeprep.errors import GazeprepError
from gazeprep.ingest import ingest_file, run_ingest
from gazeprep.read import find_inputs, sniff_format
from gazeprep.read.options import IngestOptions

SURF_FIX = ("world_timestamp,world_index,fixation_id,start_timestamp,duration,dispersion,"
            "norm_pos_x,norm_pos_y,x_norm,y_norm,x_scaled,y_scaled,on_surf")
SURF_GAZE = ("world_timestamp,world_index,gaze_timestamp,x_norm,y_norm,x_scaled,y_scaled,"
             "on_surf,confidence")
FIX = ("id,start_timestamp,duration,start_frame_index,end_frame_index,norm_pos_x,norm_pos_y,"
       "dispersion,confidence,method,gaze_point_3d_x,gaze_point_3d_y,gaze_point_3d_z,base_data")


def surface_fixations():
    rows = []
    # id 1 on two world frames (averaged), id 2 off the surface, id 3 short.
    for wt, fid, st, dur, x, y, on in [(10.00, 1, 9.98, 300, 0.20, 0.90, "True"),
                                       (10.03, 1, 9.98, 300, 0.22, 0.90, "True"),
                                       (10.40, 2, 10.40, 200, 1.30, 0.50, "False"),
                                       (10.70, 3, 10.70, 30, 0.50, 0.50, "True"),
                                       (11.00, 4, 11.00, 250, 0.75, 0.25, "True")]:
        rows.append(f"{wt},{int(wt * 30)},{fid},{st},{dur},1.0,{x},{y},{x},{y},{x},{y},{on}")
    return SURF_FIX + "\n" + "\n".join(rows) + "\n"


def export(root, gaze_rows=None):
    exp = root / "rec" / "2024_05_06" / "003" / "exports" / "000"
    (exp / "surfaces").mkdir(parents=True)
    (exp / "surfaces" / "fixations_on_surface_chest_01.csv").write_text(surface_fixations())
    g = gaze_rows or [f"{9.90 + i / 200:.3f},{i},{9.90 + i / 200:.3f},0.5,0.5,0.5,0.5,True,0.9"
                      for i in range(40)]
    (exp / "surfaces" / "gaze_positions_on_surface_chest_01.csv").write_text(
        SURF_GAZE + "\n" + "\n".join(g) + "\n")
    (exp / "surfaces" / "surf_positions_chest_01.csv").write_text("world_index,x\n1,2\n")
    (exp / "fixations.csv").write_text(FIX + "\n1,9.98,300,1,2,0.5,0.5,1.0,0.9,pupil,0,0,0,x\n")
    (exp / "gaze_positions.csv").write_text("gaze_timestamp,world_index,confidence,norm_pos_x,"
                                            "norm_pos_y\n9.9,1,0.9,0.5,0.5\n")
    (exp / "blinks.csv").write_text("id,start_timestamp,duration,end_timestamp\n1,2,3,4\n")
    (exp / "export_info.csv").write_text("key,value\nPlayer Software Version,3.5\n")
    return exp


def test_surface_fixations(tmp_path):
    exp = export(tmp_path)
    p = exp / "surfaces" / "fixations_on_surface_chest_01.csv"
    assert sniff_format(p) == "pupil-core"
    res = ingest_file(p, IngestOptions())
    f = res.fixations
    assert res.rows_read == 4 and dict(res.dropped) == {"outside_image": 1, "short": 1}
    assert f["image"].to_list() == ["chest_01", "chest_01"]
    assert set(f["session"]) == {"2024_05_06_003"}
    # Origin bottom-left in Pupil, top-left here; one fixation's two frames are averaged.
    np.testing.assert_allclose(f["x"], [0.21, 0.75])
    np.testing.assert_allclose(f["y"], [0.1, 0.75], atol=1e-6)
    np.testing.assert_allclose(f["duration_ms"], [300, 250])
    # Onsets from the surface gaze file's first sample (9.90 s).
    np.testing.assert_allclose(f["onset_ms"], [80, 1100], atol=1e-6)
    assert f["line"].to_list() == [2, 6]


def test_folder_walk_reads_each_surface_once(tmp_path):
    export(tmp_path)
    notes: list[str] = []
    files = find_inputs([tmp_path], notes)
    assert [f.name for f in files] == ["fixations_on_surface_chest_01.csv"]
    why = {n.split(": skipped, ")[0].rsplit("/", 1)[-1]: n.split(": skipped, ")[1] for n in notes}
    assert why["gaze_positions_on_surface_chest_01.csv"].startswith("Pupil gaze samples")
    assert why["fixations.csv"].startswith("Pupil scene-camera gaze")
    assert why["gaze_positions.csv"].startswith("Pupil scene-camera gaze")
    assert why["blinks.csv"] == why["export_info.csv"] == why["surf_positions_chest_01.csv"] \
        == "Pupil export file without gaze fixations or samples"
    summary = run_ingest([tmp_path], tmp_path / "out", IngestOptions(), jobs=1)
    assert summary.n_fixations == 2 and len(summary.report["skipped_inputs"]) == 6


def test_scene_camera_fixations(tmp_path):
    exp = export(tmp_path)
    f = ingest_file(exp / "fixations.csv", IngestOptions()).fixations
    assert f["image"].to_list() == ["2024_05_06_003"]
    assert f["onset_ms"][0] == pytest.approx(80.0)  # gaze_positions.csv starts at 9.9 s


def test_surface_gaze_goes_to_the_detector(tmp_path):
    t = np.arange(400) / 200.0
    x = np.where(t < 1.0, 0.25, 0.75)
    conf = np.where((t > 0.5) & (t < 0.52), 0.1, 0.95)
    rows = [f"{a:.4f},0,{a:.4f},{b},0.6,{b},0.6,True,{c}" for a, b, c in zip(t, x, conf,
                                                                            strict=True)]
    exp = export(tmp_path, rows)
    p = exp / "surfaces" / "gaze_positions_on_surface_chest_01.csv"
    res = ingest_file(p, IngestOptions(units="px", ivt_velocity=200.0))
    f = res.fixations
    assert res.notes["low_confidence_samples"] == 3 and res.n_samples == 400
    # The 15 ms of low confidence split the first fixation; merging joins it again.
    np.testing.assert_allclose(f["x"], [0.25, 0.75], atol=1e-6)
    np.testing.assert_allclose(f["y"], 0.4, atol=1e-6)


NEON_FIX = ("section id,recording id,fixation id,start timestamp [ns],end timestamp [ns],"
            "duration [ms],fixation x [px],fixation y [px],azimuth [deg],elevation [deg]")
MM_FIX = ("section id,recording id,fixation id,start timestamp [ns],end timestamp [ns],"
          "duration [ms],fixation detected on surface,fixation x [normalized],"
          "fixation y [normalized]")
T0 = 1_700_000_000_000_000_000


def test_neon_timeseries(tmp_path):
    d = tmp_path / "Timeseries Data" / "2024-01-01_rec"
    d.mkdir(parents=True)
    rows = [f"s,r1,{i},{T0 + i * 400_000_000},{T0 + i * 400_000_000 + 300_000_000},300,"
            f"{800 + i},{600},0,0" for i in range(3)]
    (d / "fixations.csv").write_text(NEON_FIX + "\n" + "\n".join(rows) + "\n")
    (d / "gaze.csv").write_text("section id,recording id,timestamp [ns],gaze x [px],"
                                f"gaze y [px],worn\ns,r1,{T0},1,1,1\n")
    (d / "blinks.csv").write_text("section id,recording id,blink id\ns,r1,1\n")
    assert sniff_format(d / "fixations.csv") == "pupil-neon"
    res = ingest_file(d / "fixations.csv", IngestOptions())
    f = res.fixations
    assert f["image"].to_list() == ["r1"] * 3 and set(f["session"]) == {"r1"}
    np.testing.assert_allclose(f["x"], [0.5, 801 / 1600, 802 / 1600])
    np.testing.assert_allclose(f["onset_ms"], [0, 400, 800])
    np.testing.assert_allclose(f["duration_ms"], 300)
    notes: list[str] = []
    assert [p.name for p in find_inputs([tmp_path], notes)] == ["fixations.csv"]
    assert len(notes) == 2


def test_neon_marker_mapper_and_reference_image(tmp_path):
    d = tmp_path / "xray_surface"
    d.mkdir()
    rows = [f"s,r1,1,{T0},{T0 + 200_000_000},200,true,0.25,0.5",
            f"s,r1,2,{T0 + 300_000_000},{T0 + 500_000_000},200,false,1.4,0.5",
            f"s,r2,1,{T0 + 10},{T0 + 200_000_010},200,true,0.75,0.1"]
    (d / "fixations.csv").write_text(MM_FIX + "\n" + "\n".join(rows) + "\n")
    res = ingest_file(d / "fixations.csv", IngestOptions())
    f = res.fixations
    assert dict(res.dropped) == {"outside_image": 1}
    assert f["image"].to_list() == ["xray_surface"] * 2 and f["session"].to_list() == ["r1", "r2"]
    np.testing.assert_allclose(f["x"], [0.25, 0.75])
    rim = tmp_path / "rim"
    rim.mkdir()
    Image.new("RGB", (400, 200)).save(rim / "reference_image.jpeg")
    (rim / "fixations.csv").write_text(
        MM_FIX.replace("detected on surface", "detected in reference image")
        .replace("[normalized]", "[px]") + f"\ns,r1,1,{T0},{T0 + 200_000_000},200,true,100,50\n")
    res = ingest_file(rim / "fixations.csv", IngestOptions())
    f = res.fixations
    np.testing.assert_allclose([f["x"][0], f["y"][0]], [0.25, 0.25])
    assert (f["width"][0], f["height"][0]) == (400, 200)
    assert res.images["rim"]["size_from"] == "reference image"
    assert res.images["rim"]["problems"] == []


@pytest.mark.parametrize("name, text, match, line", [  # --format pupil-core / pupil-neon
    ("fixations_on_surface_a.csv", SURF_FIX.replace("x_norm,", "xx,") + "\n1,1,1,1,1,1,1,1,1,1,"
     "1,1,True\n", "not a Pupil Player fixation or gaze file", 1),
    ("fixations_on_surface_a.csv", SURF_FIX + "\n1,1,1,5.0,100,1,1,1,0.5,0.5,1,1,True\n"
     "2,2,2,4.0,100,1,1,1,0.5,0.5,1,1,True\n", "earlier than the previous row's", 3),
    ("fixations_on_surface_a.csv", SURF_FIX + "\n1,1,1,5.0,100,1,1,1,0.5,0.5,1", "fields", 2),
    ("fixations.csv", NEON_FIX + "\ns,r1,1,12,13,1,1e3,abc,0,0\n", "'fixation y \\[px\\]' is "
     "'abc'", 2),
])
def test_bad_pupil_files(tmp_path, name, text, match, line):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(GazeprepError, match=match) as exc:
        ingest_file(p, IngestOptions(format="pupil-neon" if "[px]" in text else "pupil-core"))
    assert exc.value.line == line


def test_neon_gaze_alone_goes_to_the_detector(tmp_path):
    d = tmp_path / "rec"
    d.mkdir()
    t = T0 + np.arange(400) * 5_000_000  # 200 Hz
    x = np.where(np.arange(400) < 200, 400.0, 1200.0)
    worn = np.where((np.arange(400) > 300) & (np.arange(400) < 310), 0, 1)
    rows = [f"s,r1,{a},{b},600.0,{w},,,0,0" for a, b, w in zip(t, x, worn, strict=True)]
    (d / "gaze.csv").write_text("section id,recording id,timestamp [ns],gaze x [px],"
                                "gaze y [px],worn,fixation id,blink id,azimuth [deg],"
                                "elevation [deg]\n" + "\n".join(rows) + "\n")
    (d / "imu.csv").write_text("section id,recording id,timestamp [ns]\ns,r1,1\n")
    notes: list[str] = []
    assert [p.name for p in find_inputs([tmp_path], notes)] == ["gaze.csv"]
    assert "imu.csv: skipped, Pupil Cloud export file without fixations or gaze" in notes[0]
    res = ingest_file(d / "gaze.csv", IngestOptions(units="px", ivt_velocity=500.0))
    f = res.fixations
    assert res.notes["not_worn_samples"] == 9 and res.notes["detector"] == "ivt"
    np.testing.assert_allclose(f["x"], [0.25, 0.75], atol=1e-6)
    np.testing.assert_allclose(f["y"], 0.5, atol=1e-6)
    with pytest.raises(GazeprepError, match="no samples for --detector|carries no fixations"):
        ingest_file(d / "gaze.csv", IngestOptions(detector="tracker"))


def test_reference_image_pixels_need_a_size(tmp_path):
    rim = tmp_path / "rim"
    rim.mkdir()
    (rim / "fixations.csv").write_text(
        MM_FIX.replace("detected on surface", "detected in reference image")
        .replace("[normalized]", "[px]") + f"\ns,r1,1,{T0},{T0 + 200_000_000},200,true,100,50\n")
    with pytest.raises(GazeprepError, match="in pixels of the reference image 'rim', whose "
                       "size is unknown; expected --images DIR"):
        ingest_file(rim / "fixations.csv", IngestOptions())
