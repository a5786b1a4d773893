"""SMI BeGaze reader: the real EMDAT event export, synthetic event and sample exports written
from TRACKERS.md, the eye rule, stimulus messages, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.ingest import ingest_file
from gazeprep.read import sniff_format
from gazeprep.read.options import IngestOptions

FIX_COLS = ("Event Type,Trial,Number,Start,End,Duration,Location X,Location Y,Dispersion X,"
            "Dispersion Y,AOI hit,Image,Plane,Avg. Pupil Size X,Avg. Pupil Size Y")
SACC_COLS = ("Event Type,Trial,Number,Start,End,Duration,Start Loc.X,Start Loc.Y,End Loc.X,"
             "End Loc.Y,Amplitude,Peak Speed,Peak Speed At,Average Speed,Peak Accel.,"
             "Peak Decel.,Average Accel.")
HEAD = f"""[BeGaze]
Converted from:\tC:\\data\\s01.idf
Date:\t09.06.2015 15:27:25
Version:\tBeGaze 3.5.90
Sample Rate:\t120
Subject:\ts01
Stimulus:\tfirst.jpg
Calibration Area:\t1000\t800

Table Header for Fixations:
{FIX_COLS}

Table Header for Saccades:
{SACC_COLS}

Table Header for Blinks:
Event Type,Trial,Number,Start,End,Duration

Table Header for User Events:
Event Type,Trial,Number,Start,Description

"""
ROWS = [
    "Fixation L,1,1,1000000,1300000,300000,100.00,80.00,10,10,-,-,-1,15.00,15.00",
    "Fixation R,1,1,1000000,1300000,300000,102.00,82.00,10,10,-,-,-1,15.50,15.50",
    "UserEvent,1,1,2000000,# Message: chest_01.png",
    "Saccade L,1,1,2010000,2040000,30000,100.00,80.00,500.00,400.00,5.0,300.0,0.5,150.0,1,1,1",
    "Fixation L,1,2,2040000,2240000,200000,500.00,400.00,10,10,-,-,-1,15.00,15.00",
    "Fixation R,1,2,2040000,2240000,200000,504.00,400.00,10,10,-,-,-1,15.20,15.20",
    "UserEvent,1,2,2300000,# Message: UE-mouseclick left x=5 y=7",
    "Fixation L,1,3,2300000,2330000,30000,510.00,410.00,10,10,-,-,-1,15.00,15.00",
    "Fixation L,1,4,2400000,2800000,400000,1200.00,400.00,10,10,-,-,-1,15.00,15.00",
    "Blink L,1,1,2800000,2900000,100000",
    "Fixation L,1,5,2900000,3400000,500000,250.00,200.00,10,10,-,-,-1,15.00,15.00",
]
FIRST_ROW = HEAD.count("\n") + 1


def write(path, head=HEAD, rows=ROWS):
    path.write_text(head + "\n".join(rows) + "\n")
    return path


def test_event_export_images_eyes_and_drops(tmp_path):
    p = write(tmp_path / "s01.txt")
    assert sniff_format(p) == "smi-begaze"
    res = ingest_file(p, IngestOptions())
    f = res.fixations
    # Left eye (auto); the mouse click is no stimulus; the 30 ms fixation is short, the one at
    # x = 1200 px lies off the 1000 px screen (the header's Calibration Area).
    assert res.rows_read == 5 and res.rows_kept == 3
    assert dict(res.dropped) == {"short": 1, "outside_image": 1}
    assert f["image"].to_list() == ["first", "chest_01", "chest_01"]
    assert f["trial"].to_list() == ["1", "2", "2"]
    assert set(f["eye"]) == {"L"} and set(f["session"]) == {"s01"}
    np.testing.assert_allclose(f["x"], [0.1, 0.5, 0.25])
    np.testing.assert_allclose(f["y"], [0.1, 0.5, 0.25])
    np.testing.assert_allclose(f["duration_ms"], [300, 200, 500])
    # Onsets from the message that showed the image (the first viewing: its first fixation).
    np.testing.assert_allclose(f["onset_ms"], [0, 40, 900])
    assert f["line"].to_list() == [FIRST_ROW, FIRST_ROW + 4, FIRST_ROW + 10]
    assert res.notes["user_events"] == {"stimulus_messages": 1, "other": 1}
    assert res.images["chest_01"]["width"] == 1000


def test_eye_choice(tmp_path):
    p = write(tmp_path / "s01.txt")
    right = ingest_file(p, IngestOptions(eye="R")).fixations
    assert right.height == 2 and set(right["eye"]) == {"R"}
    np.testing.assert_allclose(right["x"], [0.102, 0.504])
    both = ingest_file(p, IngestOptions(eye="both")).fixations
    assert sorted(set(both["session"])) == ["s01:L", "s01:R"]
    no_right = write(tmp_path / "l.txt", rows=[r for r in ROWS if " R," not in r])
    with pytest.raises(GazeprepError, match="--eye R, but the file has only L"):
        ingest_file(no_right, IngestOptions(eye="R"))


def test_idf_converter_header_and_image_rect(tmp_path):
    head = "".join(f"## {ln}\n" if ln.strip() else "##\n" for ln in HEAD.splitlines())
    p = write(tmp_path / "idf.txt", head=head)
    assert sniff_format(p) == "smi-begaze"
    f = ingest_file(p, IngestOptions(image_rect=(0, 0, 500, 400), screen_px=(1000, 800)))
    # The image covers the top-left quarter: the fixation at (500, 400) is on its corner.
    assert f.fixations["x"].to_list() == pytest.approx([0.2, 1.0, 0.5])


SAMPLE_HEAD = ("## [BeGaze]\n## Sample Rate:\t250\n## Calibration Area:\t1000\t1000\n##\n"
               "Time\tType\tTrial\tL POR X [px]\tL POR Y [px]\tL Pupil Diameter [mm]\t"
               "R POR X [px]\tR POR Y [px]\n")


def sample_export(path, n=300, comma=False):
    rows = ["0\tMSG\t1\t# Message: a.png"]
    for i in range(n):
        x = 400.0 if i < n // 2 else 700.0
        lost = 100 <= i < 104
        xs, ys = ("0.00", "0.00") if lost else (f"{x:.2f}", "500.00")
        row = f"{i * 4000}\tSMP\t1\t{xs}\t{ys}\t3.10\t{x + 5:.2f}\t500.00"
        rows.append(row.replace(".", ",") if comma else row)
    path.write_text(SAMPLE_HEAD + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("comma", [False, True])
def test_sample_export_goes_to_the_detector(tmp_path, comma):
    p = sample_export(tmp_path / "smp.txt", comma=comma)
    assert sniff_format(p) == "smi-begaze"
    res = ingest_file(p, IngestOptions(units="px", ivt_velocity=100.0))
    f = res.fixations
    assert res.n_samples == 300 and res.notes["lost_samples_(0,0)"] == 4
    assert res.notes["detector"] == "ivt"
    assert f["image"].to_list() == ["a", "a"]
    np.testing.assert_allclose(f["x"], [0.4, 0.7], atol=1e-6)


def test_mixed_decimal_separators(tmp_path):
    p = sample_export(tmp_path / "smp.txt")
    lines = p.read_text().splitlines()
    lines[10] = lines[10].replace("500.00", "500,00", 1)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(GazeprepError, match="mixed decimal separators: a decimal comma here, "
                       "a decimal point on line 7") as exc:
        ingest_file(p, IngestOptions())
    assert exc.value.line == 11


def test_real_emdat_export(shared_data):
    p = shared_data("vendors", "emdat", "SMI_Sample_67_Events.txt")
    assert sniff_format(p) == "smi-begaze"
    res = ingest_file(p, IngestOptions())
    f = res.fixations
    assert res.rows_read == 5271  # Fixation L rows
    assert res.rows_read == res.rows_kept + res.rows_dropped
    first = f.row(0, named=True)
    assert first["line"] == 25 and first["image"] == "MT430PN56168-scrrec"
    assert first["duration_ms"] == pytest.approx(241.786)
    assert first["x"] == pytest.approx(951.83 / 1920) and first["y"] == pytest.approx(791.40 / 1080)
    # The stimulus message came 93.63 ms before the first fixation.
    assert first["onset_ms"] == pytest.approx((167531377718 - 167531284088) / 1000)
    assert (np.diff(f["order"].to_numpy()) >= 0).all()
    assert res.notes["user_events"]["stimulus_messages"] == 1
    right = ingest_file(p, IngestOptions(eye="R"))
    assert right.rows_read == 5272


@pytest.mark.parametrize("edit, match, line", [
    (lambda h, r: (h.rsplit("Table Header for User Events:", 1)[0]
                   + "Table Header for User Events:", []),
     "is the last line; expected its column line", None),
    (lambda h, r: (h.replace("Location X,", "Loc X,"), r), "lacks column 'Location X'", None),
    (lambda h, r: (h, r[:4] + ["Fixation L,1,2,500000,600000,100000,1.0,1.0,1,1,-,-,-1,1,1"]
                   + r[4:]), "earlier than the previous row's", FIRST_ROW + 4),
    (lambda h, r: (h, r + ["Fixaton L,1,9,9,9,9,9,9"]), "row type 'Fixaton L'",
     FIRST_ROW + len(ROWS)),
    (lambda h, r: (h, r[:1] + ["Fixation L,1,1,1000000,1300000,300000,abc,80.00"]),
     "column 'Location X' is 'abc'", FIRST_ROW + 1),
    (lambda h, r: ("Some other header\n" + h, r), "unexpected line 'Some other header'", 1),
])
def test_bad_event_exports(tmp_path, edit, match, line):
    head, rows = edit(HEAD, list(ROWS))
    p = write(tmp_path / "bad.txt", head=head, rows=rows)
    with pytest.raises(GazeprepError, match=match) as exc:
        ingest_file(p, IngestOptions(format="smi-begaze"))
    if line is not None:
        assert exc.value.line == line


def test_event_export_refuses_our_detectors(tmp_path):
    p = write(tmp_path / "s01.txt")
    with pytest.raises(GazeprepError, match="holds SMI BeGaze's fixations .*, no samples for "
                       "--detector idt; expected --detector auto or tracker"):
        ingest_file(p, IngestOptions(detector="idt"))
    res = ingest_file(p, IngestOptions(detector="tracker"))
    assert res.notes["detector"] == "tracker" and res.rows_kept == 3
