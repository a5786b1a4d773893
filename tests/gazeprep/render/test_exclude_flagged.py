"""`gazeprep render --exclude-flagged`: tracks of trials that gaze quality flagged for their
eye are left out, counted in the summary and recorded in the cache, so that a render without
the option renders those images again.

Generated recordings: two trials on two images, the second one losing most of one eye's
samples.
"""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from skimage.io import imsave

from gazeprep.contract.cache import read_sample_table
from gazeprep.errors import GazeprepError
from gazeprep.ingest import run_ingest
from gazeprep.quality.table import flagged_tracks
from gazeprep.read.options import IngestOptions
from gazeprep.render.plan import plan_render

HEAD = ["MSG\t900 GAZE_COORDS 0.00 0.00 1919.00 1079.00"]


def trial(k: int, t0: int, lost: str = "") -> list[str]:
    """1000 ms, both eyes, one fixation per eye; eye ``lost`` without position after 100 ms."""
    out = [f"START\t{t0} \tLEFT\tRIGHT\tSAMPLES\tEVENTS",
           "SAMPLES\tGAZE\tLEFT\tRIGHT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2",
           f"MSG\t{t0} TRIALID T{k}", f"MSG\t{t0} !V IMGLOAD FILL img{k}.png"]
    for i in range(1000):
        left = "   .\t   .\t    0.0" if lost == "L" and i >= 100 else " 900.0\t 500.0\t 1000.0"
        right = "   .\t   .\t    0.0" if lost == "R" and i >= 100 else " 910.0\t 510.0\t 1000.0"
        out.append(f"{t0 + i}\t{left}\t{right}\t.....")
    for eye, x in (("L", 900.0), ("R", 910.0)):
        out.append(f"EFIX {eye}   {t0 + 10}\t{t0 + 90}\t81\t{x:7.1f}\t  500.0\t 1000")
    return out + [f"MSG\t{t0 + 1000} TRIAL_RESULT 0", f"END\t{t0 + 1000} \tSAMPLES\tEVENTS"]


@pytest.fixture()
def study(tmp_path):
    """raw/rec.asc (trial 2 loses its right eye), images/img1.png, img2.png."""
    raw, images = tmp_path / "raw", tmp_path / "images"
    raw.mkdir()
    images.mkdir()
    lines = HEAD + trial(1, 2000) + trial(2, 4000, lost="R")
    (raw / "rec.asc").write_text("\n".join(lines) + "\n")
    for k in (1, 2):
        imsave(images / f"img{k}.png", np.full((32, 32, 3), 100, np.uint8), check_contrast=False)
    return tmp_path


def n_fixations(cache) -> dict:
    table = read_sample_table(cache)
    return dict(zip(table["sample"].tolist(), table["n_fixations"].tolist(), strict=True))


def test_exclude_flagged_by_the_track_eye(study, run_cli):
    gaze, cache = study / "gaze", study / "cache"
    run_ingest([study / "raw"], gaze, IngestOptions(eye="both"))
    res = run_cli("gazeprep", "render", "--gaze", gaze, "--images", study / "images",
                  "--size", "16", "--out", cache, "--exclude-flagged")
    assert res.returncode == 0, res.stderr
    assert "--exclude-flagged: 1 track(s) of flagged trials left out" in res.stderr
    assert n_fixations(cache) == {"img1": 2, "img2": 1}  # img2 keeps its left-eye track
    ingest = zarr.open_group(str(cache), mode="r").attrs["ingest"]
    assert ingest["exclude_flagged"] is True and ingest["tracks_left_out"] == 1
    # the same render without the option renders img2 again, with both tracks
    res = run_cli("gazeprep", "render", "--gaze", gaze, "--images", study / "images",
                  "--size", "16", "--out", cache)
    assert res.returncode == 0, res.stderr
    assert n_fixations(cache) == {"img1": 2, "img2": 2}
    assert "exclude_flagged" not in zarr.open_group(str(cache), mode="r").attrs["ingest"]
    assert "left out" not in res.stderr


def test_one_eye_tracks_use_the_eye_of_their_fixations(study):
    """``--eye R``: session ``rec`` holds right-eye tracks; flagged R rows leave them out."""
    gaze = study / "gaze"
    run_ingest([study / "raw"], gaze, IngestOptions(eye="R"))
    plan = plan_render(gaze, study / "images", exclude_flagged=True)
    assert plan.left_out == 1
    assert {s.id: len(s.tracks) for s in plan.samples} == {"img1": 1, "img2": 0}
    run_ingest([study / "raw"], gaze, IngestOptions(eye="L"))
    plan = plan_render(gaze, study / "images", exclude_flagged=True)
    assert plan.left_out == 0
    assert {s.id: len(s.tracks) for s in plan.samples} == {"img1": 1, "img2": 1}


def test_flagged_tracks_match_sessions_and_eyes():
    import polars as pl

    quality = pl.DataFrame({
        "session": ["a", "a", "b:L"], "trial": ["1", "1", None], "eye": ["L", "R", "L"],
        "flagged": [False, True, True], "flag_reasons": [[], ["loss"], ["loss"]]})
    fixations = pl.DataFrame({
        "session": ["a:L", "a:R", "a", "b:L", "b:L"], "trial": ["1", "1", "1", None, None],
        "eye": ["L", "R", "R", "L", "L"]})
    # "a:R" and the one-eye "a" track of R fixations are flagged; session "b:L" with eye L
    # is read as the --eye both track of stem "b", which has no rows: not flagged
    assert flagged_tracks(quality, fixations) == {("a:R", "1"), ("a", "1")}


def test_exclude_flagged_needs_the_quality_table(study):
    gaze = study / "gaze"
    run_ingest([study / "raw"], gaze, IngestOptions())
    (gaze / "quality.parquet").unlink()
    with pytest.raises(GazeprepError, match="no quality.parquet"):
        plan_render(gaze, study / "images", exclude_flagged=True)
    assert plan_render(gaze, study / "images").left_out == 0  # without the option: unused
