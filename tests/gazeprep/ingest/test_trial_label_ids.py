"""EyeLink recordings that name no image: ids from TRIALID, warned about, never merged across
recordings."""

from __future__ import annotations

import json

import polars as pl

from tests.gazeprep.read.test_asc import make_asc

FIX = [(1020, 100, 512.0, 384.0), (1200, 150, 300.0, 200.0)]


def test_trial_labels_from_several_recordings_are_prefixed_and_warned(tmp_path, run_cli):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_asc(raw / "subj01.asc", None, FIX, trial="1")
    make_asc(raw / "subj02.asc", None, FIX, trial="1")
    make_asc(raw / "subj03.asc", None, FIX, trial="7")
    got = run_cli("gazeprep", "ingest", raw, "--out", tmp_path / "gaze", "--jobs", "1")
    assert got.returncode == 0, got.stderr
    assert got.stderr.count("TRIALID text(s)") == 1  # one warning for the run
    assert "prefixed with the recording's name" in got.stderr
    fix = pl.read_parquet(tmp_path / "gaze" / "fixations.parquet")
    assert sorted(fix["image"].unique()) == ["7", "subj01_1", "subj02_1"]
    assert fix.group_by("image").len().sort("image")["len"].to_list() == [2, 2, 2]
    report = json.loads((tmp_path / "gaze" / "ingest.json").read_text())
    assert {e["id"] for e in report["images"]} == {"7", "subj01_1", "subj02_1"}


def test_image_messages_give_ids_without_a_warning(tmp_path, run_cli):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_asc(raw / "a.asc", "CENTER lesion.png 512 384 400 300", FIX, trial="1")
    make_asc(raw / "b.asc", "CENTER lesion.png 512 384 400 300", FIX, trial="1")
    got = run_cli("gazeprep", "ingest", raw, "--out", tmp_path / "gaze", "--jobs", "1")
    assert got.returncode == 0, got.stderr
    assert "TRIALID text" not in got.stderr
    fix = pl.read_parquet(tmp_path / "gaze" / "fixations.parquet")
    assert fix["image"].unique().to_list() == ["lesion"]


def test_the_note_counts_only_labels_that_kept_fixations(tmp_path, run_cli):
    """A trial whose fixations were all dropped gives no image, so the note does not count it
    (eyelinkio's binocular EDF said 15 while the summary said 14 images)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    make_asc(raw / "subj01.asc", None, FIX, trial="1")
    make_asc(raw / "subj02.asc", None, [(1020, 10, 512.0, 384.0)], trial="9")  # 10 ms: short
    got = run_cli("gazeprep", "ingest", raw, "--out", tmp_path / "gaze", "--jobs", "1")
    assert got.returncode == 0, got.stderr
    assert "1 TRIALID text(s)" in got.stderr, got.stderr
    assert pl.read_parquet(tmp_path / "gaze" / "fixations.parquet")["image"].unique().to_list(
        ) == ["1"]
