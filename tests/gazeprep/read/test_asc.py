"""EyeLink ASC reader: real recordings (EFIX reproduced, anomalies) and generated edge cases."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.ingest import ingest_file, run_ingest
from gazeprep.read.asc.parse import parse_asc
from gazeprep.read.options import IngestOptions


def read_asc(path, opts: IngestOptions):
    """Read one ASC file to its fixations (reader, then detector for I-VT / I-DT)."""
    return ingest_file(path, dataclasses.replace(opts, format="asc"))


@pytest.fixture(scope="module")
def eyelink(shared_data) -> Path:
    """The folder of the real EyeLink recordings."""
    return shared_data("eyelink", "eyelink_binocular_example.asc").parent


def efix_lines(path: Path) -> list[tuple]:
    """EFIX lines read independently with a regex: (eye, start, end, duration, x, y, line)."""
    out = []
    for n, line in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
        m = re.match(r"EFIX\s+([LR])\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", line)
        if m:
            out.append((m[1], *map(float, m.group(2, 3, 4, 5, 6)), n))
    return out


def test_tracker_reproduces_every_efix(eyelink, tmp_path):
    path = eyelink / "eyelink_binocular_example.asc"
    want = efix_lines(path)
    assert len(want) == 4
    out = tmp_path / "gaze"
    run_ingest([path], out, IngestOptions(detector="tracker", eye="both"))
    fix = pl.read_parquet(out / "fixations.parquet").sort("eye", "onset_ms")
    rep = json.loads((out / "ingest.json").read_text())
    trial_start = 1408866.0  # MSG TRIALID I902C_low
    got = [
        (r["eye"], r["onset_ms"] + trial_start, r["onset_ms"] + trial_start + r["duration_ms"] - 1,
         r["duration_ms"], r["x"] * 1920, r["y"] * 1080)
        for r in fix.iter_rows(named=True)
    ]
    want_sorted = sorted(w[:6] for w in want)
    assert len(got) == len(want_sorted)
    for g, w in zip(got, want_sorted, strict=True):
        assert g[0] == w[0]
        np.testing.assert_allclose(g[1:], w[1:], atol=0.01)
        assert w[2] - w[1] + 1 == w[3]  # EyeLink: duration = end - start + 1 sample
    assert set(fix["trial"]) == {"I902C_low"} and set(fix["image"]) == {"I902C_low"}
    assert set(fix["session"]) == {"eyelink_binocular_example:L", "eyelink_binocular_example:R"}
    kinds = {a["kind"] for a in rep["inputs"][0]["anomalies"]}
    assert "samples_after_end" in kinds
    assert rep["inputs"][0]["samples"] == 368


def test_binocular_default_keeps_one_eye(eyelink, tmp_path):
    res = read_asc(str(eyelink / "eyelink_binocular_example.asc"), IngestOptions())
    assert set(res.fixations["eye"]) == {"L"}  # "MSG ... var eye_used left"
    assert res.dropped == {"other_eye": 2} and res.rows_read == 4
    assert [d["line"] for d in res.drops] == [264, 530]


def test_parse_samples_binocular(eyelink):
    log = parse_asc(str(eyelink / "eyelink_binocular_example.asc"))
    assert log.t.size == 368 and log.t[0] == 1408660.0
    assert log.x[0, 0] == 964.3 and log.pupil[1, 0] == 305.0
    blink = log.t == 1408793.0
    assert np.isnan(log.x[:, blink]).all()  # '.' in both eyes
    assert log.blocks[0].rate == 1000.0 and log.blocks[0].eyes == ("L", "R")
    assert log.screens[0] == (0.0, 0.0, 1920.0, 1080.0)


def test_2khz_file_ingests_with_anomalies(eyelink, tmp_path):
    out = tmp_path / "gaze"
    run_ingest([eyelink / "eyelink_monocular_2khz_example.asc"], out, IngestOptions())
    rep = json.loads((out / "ingest.json").read_text())
    entry = rep["inputs"][0]
    kinds = {a["kind"] for a in entry["anomalies"]}
    assert {"msg_out_of_order", "nested_trialid", "unterminated_sacc"} <= kinds
    assert entry["rows_read"] == 2 and entry["rows_kept"] == 1 and entry["dropped"] == {"short": 1}
    log = parse_asc(str(eyelink / "eyelink_monocular_2khz_example.asc"))
    assert log.t[0] == 2154556.5 and log.blocks[0].rate == 2000.0
    assert log.screens[0][2:] == (1280.0, 1024.0)  # GAZE_COORDS 0 0 1279 1023
    fix = pl.read_parquet(out / "fixations.parquet")
    assert fix["duration_ms"].to_list() == [132.5]


# -- generated files -----------------------------------------------------------------------------

def make_asc(path: Path, imgload: str | None, fixations, *, screen=(1024, 768), extra="",
             after_end_samples: int = 0, trial="t1") -> Path:
    """A monocular 1000 Hz recording with one trial; ``fixations`` = [(start, dur, x, y)]."""
    lines = ["** CONVERTED FROM test.edf", "**", f"MSG\t1000 TRIALID {trial}"]
    if imgload:
        lines.append(f"MSG\t1001 !V IMGLOAD {imgload}")
    lines += [f"MSG\t1002 GAZE_COORDS 0.00 0.00 {screen[0] - 1}.00 {screen[1] - 1}.00",
              "START\t1010 \tLEFT\tSAMPLES\tEVENTS",
              "SAMPLES\tGAZE\tLEFT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2"]
    t_end = max(s + d for s, d, _, _ in fixations) + 5
    events = {s + d - 1: (s, d, x, y) for s, d, x, y in fixations}
    starts = {s: None for s, _, _, _ in fixations}
    for t in range(1010, t_end):
        if t in starts:
            lines.append(f"SFIX L   {t}")
        lines.append(f"{t}\t  500.0\t  400.0\t  800.0\t...")
        if t in events:
            s, d, x, y = events[t]
            lines.append(f"EFIX L   {s}\t{t}\t{d}\t  {x:.1f}\t  {y:.1f}\t    800")
    lines.append(extra) if extra else None
    lines.append(f"END\t{t_end}\tSAMPLES\tEVENTS\tRES\t38.00\t38.00")
    for k in range(after_end_samples):
        lines.append(f"{t_end + 1 + k}\t  500.0\t  400.0\t  800.0\t...")
    lines.append(f"MSG\t{t_end + 50} TRIAL_RESULT 0")
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return path


FIX = [(1020, 100, 512.0, 384.0), (1130, 30, 512.0, 384.0), (1170, 80, 10.0, 10.0)]


def test_imgload_fill(tmp_path):
    p = make_asc(tmp_path / "s1.asc", "FILL img_a.png", FIX)
    res = read_asc(str(p), IngestOptions())
    f = res.fixations
    assert f["image"].to_list() == ["img_a"] * 2 and f["trial"].to_list() == ["t1"] * 2
    assert f["x"][0] == pytest.approx(0.5) and f["y"][0] == pytest.approx(0.5)
    assert f["onset_ms"][0] == 20.0
    # no --images: the size it was shown at (FILL: the screen), with its source recorded
    assert (f["width"] == 1024).all() and res.images["img_a"]["size_from"] == "screen"
    assert res.dropped == {"short": 1} and res.rows_read == 3  # (10, 10) is inside the screen


def test_imgload_center_with_size_and_outside(tmp_path):
    p = make_asc(tmp_path / "s1.asc", "CENTER img_b.jpg 512 384 200 100", FIX)
    res = read_asc(str(p), IngestOptions())
    assert res.fixations["x"].to_list() == [0.5] and res.fixations["width"].to_list() == [200]
    assert res.dropped == {"short": 1, "outside_image": 1}
    assert {d["reason"]: d["line"] for d in res.drops}["outside_image"] > 0


def test_imgload_top_left(tmp_path):
    p = make_asc(tmp_path / "s1.asc", "TOP_LEFT img_c.png 412 334 400 100", FIX)
    f = read_asc(str(p), IngestOptions()).fixations
    assert f["x"][0] == pytest.approx(0.25) and f["y"][0] == pytest.approx(0.5)


def test_imgload_center_needs_size_from_images(tmp_path):
    from skimage.io import imsave

    p = make_asc(tmp_path / "s1.asc", "CENTER ../../img_d.png 512 384", FIX)
    with pytest.raises(GazeprepError, match="no width/height"):
        read_asc(str(p), IngestOptions())
    (tmp_path / "imgs").mkdir()
    imsave(tmp_path / "imgs" / "img_d.png", np.zeros((50, 100, 3), np.uint8),
           check_contrast=False)
    f = read_asc(str(p), IngestOptions(images=str(tmp_path / "imgs"))).fixations
    assert f["image"].to_list() == ["img_d"]  # a path in the log is reduced to its stem
    assert (f["width"][0], f["height"][0]) == (100, 50) and f["x"][0] == pytest.approx(0.5)


def test_no_imgload_uses_image_rect_or_screen(tmp_path):
    p = make_asc(tmp_path / "s1.asc", None, FIX, trial="../../../etc/passwd")
    f = read_asc(str(p), IngestOptions(image_rect=(312, 284, 400, 200))).fixations
    assert f["image"].to_list() == ["passwd"] and f["x"][0] == pytest.approx(0.5)
    f = read_asc(str(p), IngestOptions()).fixations
    assert f.height == 2 and (f["width"][0], f["height"][0]) == (1024, 768)


def test_samples_after_end_are_kept_and_reported(tmp_path):
    p = make_asc(tmp_path / "s1.asc", "FILL a.png", FIX, after_end_samples=7)
    res = read_asc(str(p), IngestOptions(detector="idt", units="px", idt_dispersion=5))
    after = [a for a in res.anomalies if a["kind"] == "samples_after_end"]
    assert after and "7 samples" in after[0]["detail"]
    assert res.n_samples == 245 + 7


def test_ivt_on_generated_samples_in_px(tmp_path):
    p = make_asc(tmp_path / "s1.asc", "FILL a.png", FIX)
    res = read_asc(str(p), IngestOptions(detector="ivt", units="px", ivt_velocity=100))
    # constant gaze: one fixation spanning all samples
    assert res.fixations.height == 1 and res.fixations["duration_ms"][0] == 245.0


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("EFIX L   1300\t1200\t-99\t 1.0\t 1.0\t 800", "start <= end"),
        ("EFIX L   1300", "EFIX <L|R> <start>"),
        ("EFIX L   1300\t1310\t11\t 1.0\t abc\t 800", "numbers or '.'"),
        ("MSG\t1201 !V IMGLOAD SIDEWAYS x.png", "IMGLOAD FILL"),
        ("1200\t  500.0\t  40", "numeric field"),  # truncated sample line
        ("1200\t  500.0\t  4x0.0\t  800.0\t...", "numeric field"),  # text in a number
    ],
)
def test_malformed_lines(tmp_path, extra, match):
    p = make_asc(tmp_path / "bad.asc", "FILL a.png", FIX, extra=extra)
    with pytest.raises(GazeprepError, match=match) as err:
        read_asc(str(p), IngestOptions())
    assert err.value.line is not None and err.value.file.endswith("bad.asc")
    res = read_asc(str(p), IngestOptions(lenient=True))
    assert res.errors and res.errors[0]["line"] == err.value.line
    assert res.rows_read == res.rows_kept + res.rows_dropped


def test_truncated_and_binary_files(tmp_path):
    p = make_asc(tmp_path / "full.asc", "FILL a.png", FIX)
    text = p.read_text()
    cut = tmp_path / "cut.asc"
    cut.write_text(text[: text.index("EFIX L   1170") + 8])  # file ends mid-line
    with pytest.raises(GazeprepError, match="EFIX"):
        read_asc(str(cut), IngestOptions())
    res = read_asc(str(cut), IngestOptions(lenient=True))
    assert any(a["kind"] == "block_without_end" for a in res.anomalies)
    assert res.fixations.height == 1
    b = tmp_path / "bin.asc"
    b.write_bytes(b"SR_RESEARCH\x00\x01\x02" * 10)
    with pytest.raises(GazeprepError, match="binary"):
        read_asc(str(b), IngestOptions())


def test_tracker_without_efix_is_an_error(tmp_path):
    p = make_asc(tmp_path / "s1.asc", "FILL a.png", FIX)
    text = "\n".join(ln for ln in p.read_text().splitlines() if not ln.startswith("EFIX"))
    p.write_text(text)
    with pytest.raises(GazeprepError, match="no EFIX"):
        read_asc(str(p), IngestOptions(detector="tracker"))
    assert read_asc(str(p), IngestOptions()).notes["detector"] == "ivt"


def test_folder_of_sessions_via_cli(tmp_path):
    from gazeprep.cli import main

    raw = tmp_path / "raw"
    raw.mkdir()
    make_asc(raw / "s1.asc", "FILL a.png", FIX)
    make_asc(raw / "s2.asc", "FILL a.png", FIX)
    out = tmp_path / "gaze"
    with pytest.raises(SystemExit) as ex:
        main(["ingest", str(raw), "--out", str(out)])
    assert ex.value.code in (0, None)
    tracks = pl.read_parquet(out / "tracks.parquet")
    assert sorted(tracks["session"]) == ["s1", "s2"] and tracks["n_fixations"].to_list() == [2, 2]


def test_trial_var_names_the_image(tmp_path):
    extra = "MSG\t1200 !V TRIAL_VAR image ../stimuli/cat_01.jpg"
    p = make_asc(tmp_path / "s1.asc", None, FIX, extra=extra)
    f = read_asc(str(p), IngestOptions()).fixations
    assert set(f["image"]) == {"cat_01"} and set(f["trial"]) == {"t1"}


def test_text_that_is_not_asc(tmp_path):
    p = tmp_path / "notes.asc"
    p.write_text("hello\nthis is not a recording\n")
    with pytest.raises(GazeprepError, match="no samples, events or MSG"):
        read_asc(str(p), IngestOptions())


@pytest.mark.parametrize("text", ["123.25", "-0.5", "+7", "1.5e3", "2E-2", ".",
                                  "0." + "1" * 30, "12.5x", "1e", "abc", "-"])
def test_number_parser_matches_float(text):
    from gazeprep.read.asc._kernels import _POW10, _parse_number

    buf = np.frombuffer(text.encode(), np.uint8)
    value, ok = _parse_number(buf, 0, len(buf), _POW10)
    try:
        expected = float("nan") if text == "." else float(text)
    except ValueError:
        assert not ok
        return
    assert ok
    np.testing.assert_allclose(value, expected, rtol=1e-14, equal_nan=True)


def test_parse_asc_takes_the_files_bytes(eyelink):
    """The bytes of a file (e.g. ASC text converted from an EDF) parse as the file does, and
    errors and results carry the name given."""
    path = eyelink / "eyelink_monocular_2khz_example.asc"
    ref = parse_asc(path)
    got = parse_asc("recording.edf", data=path.read_bytes())
    assert got.path == "recording.edf"
    for k in ("t", "line", "block", "x", "y", "pupil", "state_lines"):
        np.testing.assert_array_equal(getattr(got, k), getattr(ref, k))
    assert got.events == ref.events and got.states == ref.states
    with pytest.raises(GazeprepError, match="binary file") as err:
        parse_asc("recording.edf", data=b"SR_RESEARCH\x00\x01")
    assert err.value.file == "recording.edf"
