"""`gazeprep qc`: the per-session table, `-v` per trial and eye, `--json`, `--plot` pictures
(matplotlib or Pillow), and its refusals (no quality.parquet, pictures already there).

Real data: the shared binocular EyeLink ASC and its monocular 2 kHz robustness case.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import polars as pl
import pytest
from PIL import Image

from gazeprep.inspect.quality_plot import EYE_COLOURS, plot_session
from gazeprep.quality import Thresholds, TrialQuality, quality_frame


@pytest.fixture(scope="module")
def gaze(tmp_path_factory, shared_data):
    """An ingest output of the two shared EyeLink ASCs."""
    raw = tmp_path_factory.mktemp("raw")
    for name in ("eyelink_binocular_example.asc", "eyelink_monocular_2khz_example.asc"):
        shutil.copy(shared_data("eyelink", name), raw / name)
    from gazeprep.ingest import run_ingest
    from gazeprep.read.options import IngestOptions

    out = raw.parent / "gaze"
    run_ingest([raw], out, IngestOptions(lenient=True))
    return out


def test_json_is_the_quality_table_and_ingest_thresholds(gaze, run_cli):
    res = run_cli("gazeprep", "qc", gaze, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    frame = pl.read_parquet(gaze / "quality.parquet")
    assert len(doc["rows"]) == frame.height > 0
    assert [r["flag_reasons"] for r in doc["rows"]] == frame["flag_reasons"].to_list()
    ingest = json.loads((gaze / "ingest.json").read_text())["quality"]
    assert doc["thresholds"] == ingest["thresholds"]
    assert doc["sessions"] == json.loads(json.dumps(ingest["sessions"]))
    assert {s["session"] for s in doc["sessions"]} == {
        "eyelink_binocular_example", "eyelink_monocular_2khz_example"}


def test_table_per_session_and_per_trial(gaze, run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    res = run_cli("gazeprep", "qc", gaze)
    assert res.returncode == 0, res.stderr
    assert "eyelink_bin" in res.stdout and "I902C_low" not in res.stdout
    assert "1/1" in res.stdout and "0.41/0.84" in res.stdout  # flagged/trials, worst validation
    assert "loss: sample loss above the threshold" in res.stdout
    monkeypatch.setenv("COLUMNS", "160")  # a wide terminal: no cell folded
    res = run_cli("gazeprep", "qc", gaze, "-v")
    assert res.returncode == 0, res.stderr
    assert "per trial and eye" in res.stdout and "I902C_low" in res.stdout
    assert "GOOD 0.41/0.64" in res.stdout and "GOOD 0.31/0.84" in res.stdout


def test_plot_one_picture_per_session_never_replaced_unasked(gaze, tmp_path, run_cli,
                                                             file_sha256, error_line):
    pics = tmp_path / "pics"
    res = run_cli("gazeprep", "qc", gaze, "--plot", pics)
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in pics.iterdir())
    assert names == ["qc_eyelink_binocular_example.png", "qc_eyelink_monocular_2khz_example.png"]
    for p in pics.iterdir():
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] >= 300 and im.size[1] >= 200
    before = {p.name: file_sha256(p) for p in pics.iterdir()}
    (pics / "qc_eyelink_binocular_example.png").write_bytes(b"user's own file")
    mine = file_sha256(pics / "qc_eyelink_binocular_example.png")
    res = run_cli("gazeprep", "qc", gaze, "--plot", pics)
    assert res.returncode == 1
    assert "--overwrite" in error_line(res.stderr)
    assert file_sha256(pics / "qc_eyelink_binocular_example.png") == mine
    assert run_cli("gazeprep", "qc", gaze, "--plot", pics, "--overwrite").returncode == 0
    assert {p.name: file_sha256(p) for p in pics.iterdir()} == before  # drawn the same again
    assert not [p for p in pics.iterdir() if p.name.startswith(".")]


def test_no_quality_parquet_is_a_one_line_error(tmp_path, run_cli, error_line):
    (tmp_path / "old").mkdir()
    res = run_cli("gazeprep", "qc", tmp_path / "old")
    assert res.returncode == 1
    assert "no quality.parquet" in error_line(res.stderr)


def _rows(flagged: list[bool], eye: str = "L") -> pl.DataFrame:
    rows = []
    for i, f in enumerate(flagged):
        q = TrialQuality(session="s", trial=str(i + 1), eye=eye, start_ms=0.0, end_ms=1.0,
                         recorded_ms=1.0, rate_hz=1000.0, measured_rate_hz=1000.0,
                         samples_expected=100, samples_present=100, samples_valid=50 if f else 95,
                         loss_pct=50.0 if f else 5.0, missing_pct=None, blinks=0,
                         blink_ms=0.0, validation_avg_deg=0.4, validation_max_deg=0.9)
        q.flag_reasons = ["loss"] if f else []
        rows.append(q)
    return quality_frame(rows)


def _has_colour(path, hex_colour: str, tol: int = 8) -> bool:
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    want = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(rgb - want).max(axis=-1) <= tol).any())


@pytest.mark.parametrize("use_matplotlib", [False, True])
def test_flagged_bars_are_drawn_strong(tmp_path, use_matplotlib):
    if use_matplotlib:
        pytest.importorskip("matplotlib", reason="matplotlib not installed (extra 'plot')")
    strong, pale = EYE_COLOURS["L"]
    a = plot_session(_rows([True, False]), Thresholds(), tmp_path / "a.png",
                     use_matplotlib=use_matplotlib)
    b = plot_session(_rows([False, False]), Thresholds(), tmp_path / "b.png",
                     use_matplotlib=use_matplotlib)
    assert _has_colour(a, strong) and _has_colour(a, pale)
    assert not _has_colour(b, strong) and _has_colour(b, pale)


def test_pillow_picture_of_odd_rows_does_not_fail(tmp_path):
    """No samples (null loss), no trial id, no eye, 200 trials, NaN validation."""
    rows = _rows([True] * 200, eye="").with_columns(
        pl.lit(None, pl.Float64).alias("loss_pct"), pl.lit(None, pl.String).alias("trial"),
        pl.lit(float("nan")).alias("validation_avg_deg"))
    for use in (False, True):
        if use:
            pytest.importorskip("matplotlib")
        path = plot_session(rows, Thresholds(), tmp_path / f"odd{use}.png", use_matplotlib=use)
        assert Image.open(path).size[0] > 0


def test_no_quality_rows_from_a_gazepoint_export_does_not_say_it_has_no_samples(tmp_path,
                                                                                  run_cli):
    # A Gazepoint CSV holds samples (ingest counts them) but gives no quality rows: qc must not
    # call its inputs sample-less fixation reports.
    from gazeprep.api import simulate

    simulate(tmp_path / "sim", n_images=2, size=64, seed=0, tracker="gazepoint")
    got = run_cli("gazeprep", "ingest", tmp_path / "sim" / "raw", "--out", tmp_path / "gaze",
                  "--image-rect", "520", "100", "880", "880")
    assert got.returncode == 0, got.stderr
    assert json.loads((tmp_path / "gaze" / "ingest.json").read_text())["inputs"][0]["samples"]
    assert pl.read_parquet(tmp_path / "gaze" / "quality.parquet").is_empty()
    res = run_cli("gazeprep", "qc", tmp_path / "gaze")
    assert res.returncode == 0, res.stderr
    assert "no quality rows" in res.stdout
    assert "hold no gaze samples" not in res.stdout
    assert "Gazepoint" in res.stdout
