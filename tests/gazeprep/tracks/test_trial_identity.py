"""A track is one (image, session, trial): the same image shown in two trials gives two tracks.

Merging them would make one track whose onsets restart in the middle, and its reverse-truncated
tail (the part the method trusts most) would be the second viewing's only by accident.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from safety_helpers import stderr_lines

from gazeprep.cli import main
from gazeprep.contract.images import ImageRef
from gazeprep.render.plan import Sample, plan_render
from gazeprep.tracks import read_tracks

TRACK_SCHEMA = {
    "image": pl.String, "session": pl.String, "trial": pl.String,
    "x": pl.List(pl.Float32), "y": pl.List(pl.Float32), "duration_ms": pl.List(pl.Float32),
    "onset_ms": pl.List(pl.Float64), "n_fixations": pl.Int32, "total_duration_ms": pl.Float64,
    "width": pl.Int32, "height": pl.Int32,
}


@pytest.fixture()
def ingest(capsys, tree_digest):
    """``gazeprep ingest`` on ``inputs``; checks the inputs are unchanged."""

    def ingest_(inputs: list[Path], out: Path, *opts: str) -> tuple[int, list[str]]:
        before = tree_digest(*inputs)
        with pytest.raises(SystemExit) as ex:
            main(["ingest", *map(str, inputs), "--out", str(out), *opts])
        assert tree_digest(*inputs) == before
        err = stderr_lines(capsys.readouterr().err)
        return (0 if ex.value.code is None else int(ex.value.code)), err

    return ingest_


def outputs(out: Path):
    return (pl.read_parquet(out / "fixations.parquet"), pl.read_parquet(out / "tracks.parquet"),
            json.loads((out / "ingest.json").read_text()))


def write_asc(path: Path, trials, *, screen=(1024, 768)) -> Path:
    """Monocular 1 kHz ASC, one START/END block per trial.

    ``trials``: ``(trialid or None, imgload or None, t0, [(start, dur, x, y), ...])``, times
    in ms; fixation times are relative to ``t0``.
    """
    lines = ["** CONVERTED FROM test.edf", "**",
             f"MSG\t10 GAZE_COORDS 0.00 0.00 {screen[0] - 1}.00 {screen[1] - 1}.00"]
    for tid, imgload, t0, fixes in trials:
        if tid is not None:
            lines.append(f"MSG\t{t0} TRIALID {tid}")
        if imgload:
            lines.append(f"MSG\t{t0 + 1} !V IMGLOAD {imgload}")
        lines += [f"START\t{t0 + 5} \tLEFT\tSAMPLES\tEVENTS",
                  "SAMPLES\tGAZE\tLEFT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2"]
        ends = {t0 + s + d - 1: (s, d, x, y) for s, d, x, y in fixes}
        t_end = t0 + max(s + d for s, d, _, _ in fixes) + 5
        for t in range(t0 + 5, t_end):
            lines.append(f"{t}\t  500.0\t  400.0\t  800.0\t...")
            if t in ends:
                s, d, x, y = ends[t]
                lines.append(f"EFIX L   {t0 + s}\t{t}\t{d}\t  {x:.1f}\t  {y:.1f}\t    800")
        lines.append(f"END\t{t_end}\tSAMPLES\tEVENTS\tRES\t38.00\t38.00")
        if tid is not None:
            lines.append(f"MSG\t{t_end + 1} TRIAL_RESULT 0")
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return path


A1 = [(20, 100, 500.0, 380.0), (130, 80, 520.0, 390.0)]
A2 = [(20, 120, 450.0, 370.0), (150, 90, 560.0, 400.0), (260, 70, 512.0, 384.0)]


def test_asc_same_image_in_two_trials_gives_two_tracks(capsys, tmp_path, ingest):
    p = write_asc(tmp_path / "s1.asc", [
        ("t1", "CENTER a.png 512 384 200 100", 1000, A1),
        ("t2", "CENTER b.png 512 384 200 100", 2000, A1),
        ("t3", "CENTER a.png 512 384 200 100", 3000, A2),
    ])
    code, err = ingest([p], tmp_path / "g")
    assert code == 0, err
    fix, tracks, rep = outputs(tmp_path / "g")
    assert tracks.schema == pl.Schema(TRACK_SCHEMA)
    assert tracks.select("image", "trial").rows() == [("a", "t1"), ("b", "t2"), ("a", "t3")]
    assert tracks["n_fixations"].to_list() == [2, 2, 3]
    assert tracks["onset_ms"].to_list() == [[20.0, 130.0], [20.0, 130.0], [20.0, 150.0, 260.0]]
    np.testing.assert_allclose(tracks["x"][2].to_numpy(), [0.19, 0.74, 0.5], atol=1e-6)
    a = fix.filter(pl.col("image") == "a")
    assert a["trial"].to_list() == ["t1"] * 2 + ["t3"] * 3
    assert a["index"].to_list() == [0, 1, 0, 1, 2]
    assert rep["totals"]["tracks"] == 3 and rep["totals"]["images"] == 2


def test_asc_repeated_trialid_text_is_made_unique(capsys, tmp_path, ingest):
    p = write_asc(tmp_path / "s1.asc", [("1", "CENTER a.png 512 384 200 100", 1000, A1),
                                        ("1", "CENTER a.png 512 384 200 100", 3000, A2)])
    assert ingest([p], tmp_path / "g")[0] == 0
    _, tracks, _ = outputs(tmp_path / "g")
    assert tracks["trial"].to_list() == ["1#1", "1#2"] and tracks["n_fixations"].to_list() == [2, 3]


def test_asc_blocks_without_trialid_are_trials(capsys, tmp_path, ingest):
    p = write_asc(tmp_path / "s1.asc", [(None, "CENTER a.png 512 384 200 100", 1000, A1),
                                        (None, None, 3000, A2)])
    assert ingest([p], tmp_path / "g")[0] == 0
    _, tracks, _ = outputs(tmp_path / "g")
    assert tracks["trial"].to_list() == ["block 1", "block 2"]
    assert tracks["onset_ms"].to_list() == [[15.0, 125.0], [15.0, 145.0, 255.0]]
    one = write_asc(tmp_path / "one.asc", [(None, "CENTER a.png 512 384 200 100", 1000, A1)])
    assert ingest([one], tmp_path / "g1")[0] == 0
    assert outputs(tmp_path / "g1")[1]["trial"].to_list() == [None]  # one block: no trial


REPORT = ("RECORDING_SESSION_LABEL,TRIAL_INDEX,IMAGE,CURRENT_FIX_INDEX,CURRENT_FIX_X,"
          "CURRENT_FIX_Y,CURRENT_FIX_DURATION") + """{start}
s1,1,a.png,1,0.1,0.1,100{s1}
s1,1,a.png,2,0.2,0.2,110{s2}
s1,2,b.png,1,0.3,0.3,120{s3}
s1,3,a.png,1,0.5,0.5,130{s4}
s1,3,a.png,2,0.6,0.6,140{s5}
"""


def report(path: Path, start: bool = True) -> Path:
    cells = {"start": ",CURRENT_FIX_START", "s1": ",10", "s2": ",200", "s3": ",5", "s4": ",7",
             "s5": ",300"}
    path.write_text(REPORT.format(**(cells if start else dict.fromkeys(cells, ""))))
    return path


@pytest.mark.parametrize("start", [True, False])
def test_report_trial_column_separates_tracks(capsys, tmp_path, start, ingest):
    p = report(tmp_path / "r.csv", start)
    code, err = ingest([p], tmp_path / "g")
    assert code == 0, err
    fix, tracks, _ = outputs(tmp_path / "g")
    assert tracks.select("image", "session", "trial").rows() == [
        ("a", "s1", "1"), ("b", "s1", "2"), ("a", "s1", "3")]
    want = [[10.0, 200.0], [5.0], [7.0, 300.0]] if start else [[0.0, 100.0], [0.0], [0.0, 130.0]]
    assert tracks["onset_ms"].to_list() == want
    assert fix["index"].to_list() == [0, 1, 0, 0, 1]


def test_report_repeated_index_within_a_trial_is_still_an_error(capsys, tmp_path, ingest):
    p = tmp_path / "r.csv"
    p.write_text(REPORT.format(**dict.fromkeys(("start", "s1", "s2", "s3", "s4", "s5"), ""))
                 .replace("s1,3,a.png,2", "s1,3,a.png,1"))
    code, err = ingest([p], tmp_path / "g")
    assert code == 1 and "r.csv:6:" in err[0] and "duplicate fixation index 1" in err[0], err


def test_report_files_clash_only_on_the_same_trial(capsys, tmp_path, ingest):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    head = "RECORDING_SESSION_LABEL,TRIAL_INDEX,IMAGE,X,Y,DURATION\n"
    a = tmp_path / "x" / "r1.csv"
    a.write_text(head + "s1,1,a.png,0.1,0.1,100\n")
    b = tmp_path / "y" / "r2.csv"
    b.write_text(head + "s1,2,a.png,0.2,0.2,100\n")
    assert ingest([a, b], tmp_path / "g")[0] == 0
    assert outputs(tmp_path / "g")[1]["trial"].to_list() == ["1", "2"]
    b.write_text(head + "s1,1,a.png,0.2,0.2,100\n")
    code, err = ingest([a, b], tmp_path / "g2")
    assert code == 1 and "trial='1'" in err[0] and "several files" in err[0], err
    assert not (tmp_path / "g2").exists()


def test_samples_image_switching_back_is_a_new_track(capsys, tmp_path, ingest):
    rows = ["time,x,y,image"]
    t = 0
    for name, x in (("a.png", 300), ("b.png", 600), ("a.png", 900)):
        for k in range(100):  # 400 ms fixation per segment at 250 Hz
            rows.append(f"{t},{x + (k % 2) * 0.5},500,{name}")
            t += 4
    p = tmp_path / "g.csv"
    p.write_text("\n".join(rows) + "\n")
    code, err = ingest([p], tmp_path / "g", "--units", "px", "--screen-px", "1200",
                       "1000")
    assert code == 0, err
    _, tracks, _ = outputs(tmp_path / "g")
    assert tracks.select("image", "trial").rows() == [("a", "1"), ("b", "2"), ("a", "3")]
    assert [o[0] for o in tracks["onset_ms"].to_list()] == [0.0, 0.0, 0.0]
    np.testing.assert_allclose([x[0] for x in tracks["x"].to_list()], [0.25, 0.5, 0.75],
                               atol=1e-3)


def test_kvasir_tracks_unchanged(capsys, tmp_path, ingest, shared_data):
    report = shared_data("gazemedseg", "kvasir_fixation.csv")
    code, err = ingest([report], tmp_path / "g")
    assert code == 0, err
    fix, tracks, _ = outputs(tmp_path / "g")
    raw = pl.read_csv(report)
    assert fix.height == 23525 and tracks.height == 880
    assert tracks.schema == pl.Schema(TRACK_SCHEMA)
    assert tracks["trial"].is_null().all() and fix["trial"].is_null().all()
    # tracks in order of first appearance, each the image's rows in file order
    first = raw.with_columns(pl.col("IMAGE").str.replace(r"\.jpg$", ""))
    assert tracks["image"].to_list() == first["IMAGE"].unique(maintain_order=True).to_list()
    per = first.group_by("IMAGE", maintain_order=True).agg("CURRENT_FIX_X")
    for got, want in zip(tracks["x"].to_list()[::97], per["CURRENT_FIX_X"].to_list()[::97],
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert tracks["n_fixations"].to_list() == first.group_by(
        "IMAGE", maintain_order=True).len()["len"].to_list()


def test_render_reads_every_trial_of_an_image(capsys, tmp_path, ingest):
    p = report(tmp_path / "r.csv")
    assert ingest([p], tmp_path / "g")[0] == 0
    by_id, _ = read_tracks(tmp_path / "g")
    assert sorted(by_id) == ["a", "b"] and len(by_id["a"]) == 2
    np.testing.assert_allclose(by_id["a"][0].x, [0.1, 0.2], rtol=1e-6)  # trial 1 first
    np.testing.assert_allclose(by_id["a"][1].x, [0.5, 0.6], rtol=1e-6)
    # the rows' order on disk does not change what render reads
    tr = pl.read_parquet(tmp_path / "g" / "tracks.parquet")
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    tr.reverse().write_parquet(shuffled / "tracks.parquet")
    again, _ = read_tracks(shuffled)
    assert [t.x.tolist() for t in again["a"]] == [t.x.tolist() for t in by_id["a"]]
    # the render key sees the trials: two tracks differ from one merged track
    merged = tmp_path / "merged"
    merged.mkdir()
    (tr.drop("trial").group_by("image", "session", maintain_order=True)
     .agg(pl.col("x", "y", "duration_ms", "onset_ms").explode())
     .write_parquet(merged / "tracks.parquet"))  # an ingest output from before trials
    old, _ = read_tracks(merged)
    assert len(old["a"]) == 1 and len(old["a"][0].x) == 4
    img = tmp_path / "a.png"
    img.write_bytes(b"not read for the key")
    ref = ImageRef(img, "raster")
    keys = {len(v["a"]): Sample("a", ref, None, v["a"]).key("d") for v in (by_id, old)}
    assert len(set(keys.values())) == 2
    (tmp_path / "images").mkdir()
    for name in ("a", "b"):
        (tmp_path / "images" / f"{name}.png").write_bytes(b"x")
    plan = plan_render(tmp_path / "g", tmp_path / "images")
    assert [len(s.tracks) for s in plan.samples] == [2, 1] and plan.samples[0].n_fixations == 4
