"""Tobii Studio (3.x TSV, split exports) and Pro SDK / Titta readers: fixtures written from
TRACKERS.md and the real BSD-licensed EMDAT exports."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.ingest import ingest_file
from gazeprep.read import find_inputs, sniff_format
from gazeprep.read.options import IngestOptions


def test_studio3_fixations_on_media(studio, plan):
    path = studio()
    assert sniff_format(path) == "tobii-studio"
    res = ingest_file(path, IngestOptions())
    f = res.fixations
    want = [(i.removesuffix(".png"), x, y) for i, fx in plan[0].items() for x, y in fx]
    assert f["image"].to_list() == [w[0] for w in want]
    np.testing.assert_allclose(f["x"], [w[1] for w in want], atol=1 / 640)
    np.testing.assert_allclose(f["y"], [w[2] for w in want], atol=1 / 480)
    assert res.notes["fixations_from"] == "Tobii: I-VT filter"
    assert res.notes["event_rows"] == 2
    res = ingest_file(path, IngestOptions(detector="ivt"))
    assert res.fixations.height == 5


def test_studio_split_exports_real(shared_data, tmp_path):
    fix = shared_data("vendors", "emdat", "P61-Fixation-Data.tsv")
    assert sniff_format(fix) == "tobii-studio"
    res = ingest_file(fix, IngestOptions())
    assert res.rows_read == 4664  # every fixation row of the export
    assert res.rows_read == res.rows_kept + res.rows_dropped
    assert res.dropped["outside_image"] > 0  # Tobii's -1 for an unmapped point
    assert res.images["P61"] == {"id": "P61", "width": 1280, "height": 1024,
                                 "size_from": "screen", "problems": []}
    f = res.fixations
    assert f["onset_ms"][0] == 0.0 and f["duration_ms"][0] == 633.0
    np.testing.assert_allclose([f["x"][0], f["y"][0]], [513 / 1280, 518 / 1024], rtol=1e-6)
    events = ingest_file(shared_data("vendors", "emdat", "P61-Event-Data.tsv"),
                         IngestOptions())
    assert events.rows_read == 0 and events.notes["event_rows"] == 1285
    all_data = ingest_file(shared_data("vendors", "emdat", "P63-All-Data.tsv"),
                           IngestOptions())
    # Every sample of this export is lost (validity 4): no gaze, no Tobii label.
    assert all_data.n_samples == 0 and all_data.notes["detector"] == "ivt"
    with pytest.raises(GazeprepError, match="Fixation-Data export holds no samples"):
        ingest_file(fix, IngestOptions(detector="ivt"))
    # A folder holding a split export reads its fixations once.
    for name in ("P61-Fixation-Data.tsv", "P61-Event-Data.tsv"):
        shutil.copy(shared_data("vendors", "emdat", name), tmp_path / name)
    shutil.copy(shared_data("vendors", "emdat", "P63-All-Data.tsv"),
                tmp_path / "P61-All-Data.tsv")
    notes = []
    assert [p.name for p in find_inputs([tmp_path], notes)] == ["P61-Fixation-Data.tsv"]
    assert len(notes) == 2 and all("P61-Fixation-Data.tsv" in n for n in notes)
    assert len(find_inputs([tmp_path / "P61-All-Data.tsv"])) == 1  # named: read


@pytest.mark.parametrize("sep,index_col", [(";", False), ("\t", True), (",", False)])
def test_sdk_dump(sdk, sep, index_col):
    path = sdk(sep=sep, index_col=index_col)
    assert sniff_format(path) == "tobii-sdk"
    for preset in ("none", "tobii"):
        res = ingest_file(path, IngestOptions(preset=preset).with_preset())
        f = res.fixations
        assert res.notes["detector"] == "ivt"
        np.testing.assert_allclose(f["x"], [0.25, 0.75, 0.5], atol=0.002)
        np.testing.assert_allclose(f["y"], [0.25, 0.5, 0.8], atol=0.002)
    # The left eye's (nan, nan) sample: the right eye stands in; the left alone lacks it.
    assert res.n_samples == 3 * 24 + 2 * 3
    assert ingest_file(path, IngestOptions(eye="L")).n_samples == 3 * 24 + 2 * 3 - 1
    with pytest.raises(GazeprepError, match="no fixation events"):
        ingest_file(path, IngestOptions(detector="tracker"))


def test_sdk_titta_split_columns(sdk, tmp_path):
    path = sdk()
    lines = path.read_text().splitlines()
    head = lines[0].split(";")
    out = []
    for ln in [lines[0], *lines[1:]]:
        fields = ln.split(";") if ln is not lines[0] else head
        row = []
        for name, v in zip(head, fields, strict=True):
            if ln is lines[0] and "display_area" in name:
                row += [f"{name}_x", f"{name}_y"]
            elif "display_area" in name:
                row += [p.strip() for p in v.strip("()").split(",")]
            else:
                row.append(v)
        out.append(";".join(row))
    (tmp_path / "titta.csv").write_text("\n".join(out) + "\n")
    res = ingest_file(tmp_path / "titta.csv", IngestOptions())
    np.testing.assert_allclose(res.fixations["x"], [0.25, 0.75, 0.5], atol=0.002)


def test_sdk_real_4c_dump_is_truncated(shared_data):
    """EMDAT's 4Ctest.csv ends in the middle of a row: an error naming that line, or with
    --lenient the row skipped and listed."""
    path = shared_data("vendors", "emdat", "4Ctest.csv")
    with pytest.raises(GazeprepError, match="ends in the middle of a row") as e:
        ingest_file(path, IngestOptions())
    assert e.value.line == 455
    res = ingest_file(path, IngestOptions(lenient=True))
    assert res.errors[0]["line"] == 455
    assert res.n_samples > 400
    # EMDAT's own fixations from the same dump start with one at (49.4 %, 43.4 %) of the
    # screen, 240 ms long: ours finds it at the same place.
    f = res.fixations
    assert abs(f["x"][0] - 0.494) < 0.01 and abs(f["y"][0] - 0.434) < 0.01
