"""Tobii Pro Lab data export reader: a fixture written from TRACKERS.md (decimal commas,
units, event and mouse rows, both eyes, media), Tobii's fixations and our I-VT on it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.ingest import ingest_file
from gazeprep.read import sniff_format
from gazeprep.read.options import IngestOptions


def expected(plan):
    """(image id, x, y) of every planned fixation, in order."""
    return [(img.removesuffix(".png"), x, y) for img, fixes in plan.items() for x, y in fixes]


@pytest.mark.parametrize("us", ["\u03bcs", "\u00b5s", "us"])
@pytest.mark.parametrize("decimal", [",", "."])
def test_tobii_fixations_placed_on_each_image(prolab, plan, us, decimal):
    path = prolab(decimal=decimal, us=us)
    assert sniff_format(path) == "tobii-prolab"
    res = ingest_file(path, IngestOptions())
    f = res.fixations
    assert res.notes["detector"] == "tracker"
    assert res.notes["fixations_from"] == "Tobii: Tobii I-VT (Fixation)"
    want = expected(plan[0])
    assert f["image"].to_list() == [w[0] for w in want]
    # Fixation points are whole screen pixels: within half a pixel of the plan.
    np.testing.assert_allclose(f["x"], [w[1] for w in want], atol=0.5 / 640 + 1e-6)
    np.testing.assert_allclose(f["y"], [w[2] for w in want], atol=0.5 / 480 + 1e-6)
    assert f["trial"].to_list() == ["1"] * 3 + ["2"] * 2
    assert f["width"].to_list() == [800] * 3 + [640] * 2
    np.testing.assert_allclose(f["duration_ms"], 200.0)  # 24 samples at 120 Hz
    assert f["onset_ms"][0] == 0.0
    np.testing.assert_allclose(f["onset_ms"][1], 24 * 1000 / 120 + 3 * 1000 / 120)
    assert res.notes["other_sensor_rows"] > 0 and res.notes["event_rows"] == 3
    assert res.images["a"]["size_from"] == "report columns"
    assert res.rows_read == res.rows_kept == 5


def test_ivt_on_the_samples_finds_the_same_fixations(prolab, plan):
    path = prolab()
    for preset in ("none", "tobii"):
        opts = IngestOptions(detector="ivt", preset=preset).with_preset()
        res = ingest_file(path, opts)
        f = res.fixations
        assert res.notes["detector"] == "ivt"
        want = expected(plan[0])
        assert f.height == len(want), (preset, f)
        np.testing.assert_allclose(f["x"], [w[1] for w in want], atol=0.01)
        np.testing.assert_allclose(f["y"], [w[2] for w in want], atol=0.01)
    assert res.notes["fixations_from"] == "gazeprep ivt (--preset tobii)"


def test_fixation_without_media_dropped_and_counted(prolab, plan):
    _, rect, samples = plan
    rows = samples()
    for r in rows[:30]:  # the first fixation is on no media
        r["image"] = ""
    res = ingest_file(prolab(rows=rows), IngestOptions())
    assert res.dropped == {"no_image": 1}
    assert res.fixations.height == 4
    assert res.drops[0]["reason"] == "no_image" and res.drops[0]["line"] > 1


def test_several_recordings_are_sessions(prolab, plan, tmp_path):
    path = prolab()
    lines = path.read_text().splitlines()
    half = len(lines) // 2
    # The second half is another recording whose clock restarts: not time going backwards.
    second = [ln.replace("Rec 1", "Rec 2") for ln in lines[1:]]
    path.write_text("\n".join(lines[:half] + second) + "\n")
    res = ingest_file(path, IngestOptions())
    assert set(res.fixations["session"]) == {"Rec 1", "Rec 2"}


def test_one_eye_and_no_media_columns(prolab):
    path = prolab(drop=("Presented Media name", "Presented Stimulus name"))
    res = ingest_file(path, IngestOptions(eye="R"))
    f = res.fixations
    assert set(f["image"]) == {"rec"} and f["trial"].is_null().all()
    assert set(f["eye"]) == {"R"}
    assert res.images["rec"]["size_from"] == "screen"
    with pytest.raises(GazeprepError, match="--eye both"):
        ingest_file(path, IngestOptions(eye="both"))


def test_tracker_without_labels_is_an_error(prolab):
    path = prolab(drop=("Eye movement type",))
    with pytest.raises(GazeprepError, match="no Tobii fixations"):
        ingest_file(path, IngestOptions(detector="tracker"))
    res = ingest_file(path, IngestOptions())  # auto: I-VT on the samples
    assert res.notes["detector"] == "ivt" and res.fixations.height == 5


def test_real_prolab_layout_column_names(prolab):
    """Pro Lab 24 writes 'Eye movement event duration'; older versions 'Gaze event
    duration': both are the event duration."""
    path = prolab()
    path.write_text(path.read_text().replace("Gaze event duration", "Eye movement event "
                                             "duration"))
    res = ingest_file(path, dataclasses.replace(IngestOptions(), format="tobii-prolab"))
    np.testing.assert_allclose(res.fixations["duration_ms"], 200.0)
