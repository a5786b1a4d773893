"""Tobii Pro Lab and Tobii Studio exports: synthetic files written from TRACKERS.md, the real
EMDAT Tobii Studio export, and bad input."""

from __future__ import annotations

import json

import polars as pl
import pytest

PROLAB_HEADER = ["Recording timestamp [μs]", "Sensor", "Event", "Eye movement type",
                 "Eye movement type index", "Gaze event duration [ms]",
                 "Fixation point X [DACS px]", "Fixation point Y [DACS px]",
                 "Presented Media name", "Presented Media position X [DACS px]",
                 "Presented Media position Y [DACS px]", "Presented Media width [px]",
                 "Presented Media height [px]", "Pupil diameter left [mm]"]


def _prolab_rows():
    """Two images shown in turn on a 1920 x 1080 screen (media at x 460..1460, y 40..1040),
    120 Hz, decimal commas; an event row and a row of another sensor in between."""
    rows, t = [], 1_000_000.0
    media = [("lesion_a.png", [(960.0, 540.0, 250), (710.5, 290.25, 125)]),
             ("lesion_b.png", [(1210.0, 790.0, 333)])]
    idx = 0
    for name, fixations in media:
        rows.append([f"{t:.0f}", "", "ImageStimulusStart", "", "", "", "", "", name, "", "",
                     "", "", ""])
        for fx, fy, dur in fixations:
            idx += 1
            n = max(1, round(dur / 8.333))
            for k in range(n):
                rows.append([f"{t + k * 8333:.0f}", "Eye Tracker", "", "Fixation", str(idx),
                             str(dur), f"{fx}".replace(".", ","), f"{fy}".replace(".", ","),
                             name, "460", "40", "1000", "1000", "3,5"])
            t += n * 8333
            rows.append([f"{t:.0f}", "Eye Tracker", "", "Saccade", str(idx), "30", "", "", name,
                         "460", "40", "1000", "1000", "3,4"])
            rows.append([f"{t + 100:.0f}", "Accelerometer", "", "", "", "", "", "", "", "", "",
                         "", "", ""])
            t += 30_000
    return rows


def _write(path, header, rows, sep="\t"):
    path.write_text("\n".join(sep.join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def test_prolab_fixations_on_their_media(tmp_path, run_cli, untouched):
    src = _write(tmp_path / "rec01.tsv", PROLAB_HEADER, _prolab_rows())
    check = untouched(src)
    got = run_cli("gazeprep", "ingest", src, "--out", tmp_path / "out")
    assert got.returncode == 0, got.stderr
    fix = pl.read_parquet(tmp_path / "out" / "fixations.parquet").sort("image", "onset_ms")
    assert fix["image"].to_list() == ["lesion_a", "lesion_a", "lesion_b"]
    assert fix["x"].to_list() == pytest.approx([0.5, 0.2505, 0.75], abs=1e-6)
    assert fix["y"].to_list() == pytest.approx([0.5, 0.25025, 0.75], abs=1e-6)
    assert fix["duration_ms"].to_list() == [250, 125, 333]
    assert fix["onset_ms"].to_list()[0] == pytest.approx(0.0)  # from the media's first row
    assert fix["pupil"].to_list() == pytest.approx([3.5, 3.5, 3.5])
    assert set(fix["width"].to_list()) == {1000}
    report = json.loads((tmp_path / "out" / "ingest.json").read_text())
    assert report["inputs"][0]["format"] == "tobii-prolab"
    assert report["inputs"][0]["notes"]["detector"] == "tracker"
    check()


def test_prolab_samples_only_are_read_with_ivt(tmp_path, run_cli):
    header = ["Recording timestamp [ms]", "Gaze point X [DACS px]", "Gaze point Y [DACS px]"]
    rows = [[str(8 * i), "960" if i < 30 else "400", "540"] for i in range(60)]
    src = _write(tmp_path / "s.tsv", header, rows)
    got = run_cli("gazeprep", "ingest", src, "--out", tmp_path / "out")
    assert got.returncode == 0, got.stderr
    entry = json.loads((tmp_path / "out" / "ingest.json").read_text())["inputs"][0]
    assert entry["notes"]["detector"] == "ivt"
    fix = pl.read_parquet(tmp_path / "out" / "fixations.parquet")
    assert fix["x"].to_list() == pytest.approx([0.5, 400 / 1920], abs=1e-3)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda rows: rows.__setitem__(3, [r.replace("3,5", "3.5") for r in rows[3]]),
     "decimal"),
    (lambda rows: rows.__setitem__(5, ["100"] + rows[5][1:]), "earlier"),
    (lambda rows: rows.__setitem__(4, rows[4][:5]), "fields"),
])
def test_prolab_bad_input_names_file_and_line(tmp_path, run_cli, error_line, untouched, edit,
                                              message):
    rows = _prolab_rows()
    edit(rows)
    src = _write(tmp_path / "bad.tsv", PROLAB_HEADER, rows)
    check = untouched(src)
    got = run_cli("gazeprep", "ingest", src, "--out", tmp_path / "out")
    assert got.returncode == 1, got.stderr
    line = error_line(got.stderr)
    assert "bad.tsv:" in line and message in line
    assert not (tmp_path / "out").exists()
    check()


def test_studio_data_export_with_media(tmp_path, run_cli):
    header = ["RecordingTimestamp", "GazeEventType", "FixationIndex", "GazeEventDuration",
              "FixationPointX (MCSpx)", "FixationPointY (MCSpx)", "MediaName", "MediaWidth",
              "MediaHeight", "RecordingResolution"]
    rows = [[str(t), "Fixation", "1", "200", "400", "300", "ct_01.png", "800", "600",
             "1920 x 1080"] for t in range(0, 200, 17)]
    rows += [["210", "Saccade", "", "20", "", "", "ct_01.png", "800", "600", "1920 x 1080"]]
    src = tmp_path / "studio.tsv"
    src.write_text("\ufeff" + "\n".join("\t".join(r) for r in [header, *rows]) + "\n")
    got = run_cli("gazeprep", "ingest", src, "--out", tmp_path / "out")
    assert got.returncode == 0, got.stderr
    fix = pl.read_parquet(tmp_path / "out" / "fixations.parquet")
    assert fix["image"].to_list() == ["ct_01"] and fix["duration_ms"].to_list() == [200]
    assert fix["x"].to_list() == pytest.approx([0.5]) and fix["y"].to_list() == pytest.approx(
        [0.5])


def test_real_tobii_studio_fixation_export(tmp_path, run_cli, shared_data):
    src = shared_data("vendors", "emdat", "P61-Fixation-Data.tsv")
    got = run_cli("gazeprep", "ingest", src, "--out", tmp_path / "out")
    assert got.returncode == 0, got.stderr
    report = json.loads((tmp_path / "out" / "ingest.json").read_text())
    entry = report["inputs"][0]
    assert entry["format"] == "tobii-studio"
    table = [ln.split("\t") for ln in src.read_text().splitlines()[19:] if ln.strip()]
    assert entry["rows_read"] == len(table) == 4664  # every fixation row, kept or dropped
    assert entry["rows_kept"] + sum(entry["dropped"].values()) == entry["rows_read"]
    fix = pl.read_parquet(tmp_path / "out" / "fixations.parquet")
    first = [r for r in table if r[3] != "-1"][0]  # MappedFixationPointX -1: off screen
    row = fix.sort("onset_ms").row(0, named=True)
    assert row["duration_ms"] == float(first[2])
    assert row["x"] == pytest.approx(float(first[3]) / 1280, abs=1e-6)  # Screen resolution


def test_a_folder_reads_the_fixation_export_once(tmp_path, run_cli, shared_data):
    folder = tmp_path / "rec"
    folder.mkdir()
    for name in ("P61-Fixation-Data.tsv", "P61-Event-Data.tsv"):
        (folder / name).write_bytes(shared_data("vendors", "emdat", name).read_bytes())
    got = run_cli("gazeprep", "ingest", folder, "--out", tmp_path / "out")
    assert got.returncode == 0, got.stderr
    report = json.loads((tmp_path / "out" / "ingest.json").read_text())
    assert [f["path"].rsplit("/", 1)[-1] for f in report["inputs"]] == ["P61-Fixation-Data.tsv"]
    assert any("P61-Event-Data.tsv: skipped" in s for s in report["skipped_inputs"])
