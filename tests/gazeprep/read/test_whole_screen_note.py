"""SMI and Gazepoint exports are in screen pixels: without --image-rect the image is taken to
cover the whole screen, which is wrong for most experiments, so ingest says so (on the
terminal and in ingest.json) instead of placing the gaze silently."""

from __future__ import annotations

import json

import pytest

from gazeprep.api import simulate


@pytest.mark.parametrize("tracker", ["smi", "gazepoint"])
def test_a_screen_pixel_export_without_image_rect_is_noted(tracker, tmp_path, run_cli,
                                                            untouched):
    simulate(tmp_path / "sim", n_images=2, size=64, seed=0, tracker=tracker)
    raw = next((tmp_path / "sim" / "raw").iterdir())
    check = untouched(raw)
    got = run_cli("gazeprep", "ingest", raw, "--images", tmp_path / "sim" / "images",
                  "--out", tmp_path / "gaze")
    assert got.returncode == 0, got.stderr
    said = " ".join((got.stdout + got.stderr).split())
    assert f"{raw.name}" in said and "--image-rect" in said and "whole screen" in said
    notes = json.loads((tmp_path / "gaze" / "ingest.json").read_text())["inputs"][0]["notes"]
    assert "whole screen" in notes["image_rect"]
    check()


@pytest.mark.parametrize("tracker", ["smi", "gazepoint"])
def test_no_note_with_image_rect(tracker, tmp_path, run_cli):
    simulate(tmp_path / "sim", n_images=2, size=64, seed=0, tracker=tracker)
    got = run_cli("gazeprep", "ingest", tmp_path / "sim" / "raw", "--image-rect", "520", "100",
                  "880", "880", "--out", tmp_path / "gaze")
    assert got.returncode == 0, got.stderr
    assert "whole screen" not in got.stdout + got.stderr
    notes = json.loads((tmp_path / "gaze" / "ingest.json").read_text())["inputs"][0]["notes"]
    assert "image_rect" not in notes
