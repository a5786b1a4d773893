"""Hostile numbers in every ingest reader: a recorded drop or a one-line error naming file:line.

Each case runs the real command line (``gazeprep ingest``) on a generated input with one hostile
value, and checks the exit code, the message, where it points, ``--lenient`` (the error or drop
recorded in ``ingest.json``) and that every user file is byte-identical afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from safety_helpers import stderr_lines

from gazeprep.cli import main


def run(*args: str) -> int:
    with pytest.raises(SystemExit) as ex:
        main(list(args))
    return 0 if ex.value.code is None else int(ex.value.code)


@pytest.fixture()
def fails(capsys, tree_digest):
    """Run ingest, expect exit 1 and a one-line error; user files untouched; no output."""

    def fails_(user: Path, *args: str) -> str:
        before = tree_digest(user)
        out = user.parent / "out"
        assert run("ingest", *args, "--out", str(out)) == 1
        err = stderr_lines(capsys.readouterr().err)
        assert err[0].startswith("gazeprep: error: ") and "Traceback" not in "\n".join(err)
        assert len(err) == 2 and err[1].startswith("(run again with --verbose")  # one line
        assert tree_digest(user) == before and not out.exists()
        return err[0]

    return fails_


@pytest.fixture()
def lenient(capsys, tree_digest):
    """Run ingest --lenient, expect success; user files untouched; return ingest.json."""

    def lenient_(user: Path, *args: str) -> dict:
        before = tree_digest(user)
        out = user.parent / "out"
        assert run("ingest", *args, "--lenient", "--out", str(out)) == 0
        capsys.readouterr()
        assert tree_digest(user) == before
        return json.loads((out / "ingest.json").read_text())

    return lenient_


# -- EyeLink ASC -----------------------------------------------------------------------------------

def asc_lines(*, rate="1000.00", imgload="CENTER img.png 512 384 400 300", t0=10_000,
              coords="0.00 0.00 1023.00 767.00", efix=None, samples=None) -> list[str]:
    """One 1000 Hz trial: 300 samples fixating (512, 384), then one EFIX of 200 ms."""
    lines = ["** CONVERTED FROM test.edf", f"MSG\t{t0} TRIALID t1",
             f"MSG\t{t0 + 1} !V IMGLOAD {imgload}", f"MSG\t{t0 + 2} GAZE_COORDS {coords}",
             f"START\t{t0 + 10} \tLEFT\tSAMPLES\tEVENTS",
             f"SAMPLES\tGAZE\tLEFT\tRATE\t{rate}\tTRACKING\tCR\tFILTER\t2"]
    for k in range(300):
        lines.append(samples[k] if samples and k in samples
                     else f"{t0 + 10 + k}\t  512.0\t  384.0\t  800.0\t...")
    lines.append(efix or f"EFIX L   {t0 + 20}\t{t0 + 219}\t200\t  512.0\t  384.0\t    800")
    lines += [f"END\t{t0 + 320}\tSAMPLES\tEVENTS\tRES\t38.00\t38.00",
              f"MSG\t{t0 + 330} TRIAL_RESULT 0"]
    return lines


def write_asc(user: Path, lines: list[str]) -> Path:
    user.mkdir(exist_ok=True)
    p = user / "rec.asc"
    p.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return p


def line_of(lines: list[str], needle: str) -> int:
    return next(i for i, ln in enumerate(lines, 1) if needle in ln)


def test_asc_baseline_is_kept(tmp_path, capsys, lenient):
    """The generated recording itself ingests: one fixation, nothing dropped."""
    p = write_asc(tmp_path / "user", asc_lines())
    rep = lenient(tmp_path / "user", str(p))
    assert rep["totals"]["rows_kept"] == 1 and rep["totals"]["errors"] == 0


@pytest.mark.parametrize("pos", [".\t  384.0", "1e999\t  384.0", "512.0\t  -1e999"])
def test_asc_efix_without_finite_position_is_dropped_no_position(tmp_path, capsys, pos, lenient):
    lines = asc_lines(efix=f"EFIX L   10020\t10219\t200\t  {pos}\t    800")
    p = write_asc(tmp_path / "user", lines)
    rep = lenient(tmp_path / "user", str(p))
    # not an error: a fixation without a position is dropped and counted, with its line
    assert rep["totals"]["errors"] == 0 and rep["totals"]["dropped"] == {"no_position": 1}
    assert rep["drops"][0]["line"] == line_of(lines, "EFIX")
    assert run("ingest", str(p), "--out", str(tmp_path / "strict")) == 0


@pytest.mark.parametrize(
    ("efix", "match"),
    [
        ("EFIX L   10020\t10219\t-200\t  512.0\t  384.0\t    800", "duration"),
        ("EFIX L   10020\t10219\t1e999\t  512.0\t  384.0\t    800", "duration"),
        ("EFIX L   10020\t10219\t1e12\t  512.0\t  384.0\t    800", "duration"),
        ("EFIX L   1e17\t100000000000000100\t200\t  512.0\t  384.0\t    800", "2**53"),
        ("EFIX L   -1e999\t10219\t200\t  512.0\t  384.0\t    800", "start"),
    ],
)
def test_asc_bad_efix_numbers_are_errors(tmp_path, capsys, efix, match, fails, lenient):
    lines = asc_lines(efix=efix)
    user = tmp_path / "user"
    p = write_asc(user, lines)
    err = fails(user, str(p))
    assert f"rec.asc:{line_of(lines, 'EFIX')}:" in err and match in err, err
    rep = lenient(user, str(p))
    assert rep["inputs"][0]["errors"][0]["line"] == line_of(lines, "EFIX")
    # the event is skipped (the samples then go to I-VT): no fixation carries its numbers
    fix = pl.read_parquet(tmp_path / "out" / "fixations.parquet")
    assert fix["duration_ms"].is_between(0, 1000).all()
    assert fix["onset_ms"].is_between(0, 1000).all()


@pytest.mark.parametrize(
    ("imgload", "match"),
    [
        ("CENTER img.png 512 384 0 300", "width"),
        ("CENTER img.png 512 384 400 0", "height"),
        ("TOP_LEFT img.png 0 0 -400 300", "width"),
        ("CENTER img.png 512 384 nan 300", "width"),
        ("CENTER img.png 512 384 1e300 300", "width"),
        ("CENTER img.png inf 384 400 300", "x"),
    ],
)
def test_asc_bad_imgload_rectangle_is_an_error_at_its_line(tmp_path, capsys, imgload, match,
                                                            fails, lenient):
    lines = asc_lines(imgload=imgload)
    user = tmp_path / "user"
    p = write_asc(user, lines)
    err = fails(user, str(p))
    assert f"rec.asc:{line_of(lines, 'IMGLOAD')}:" in err and match in err, err
    assert "division" not in err
    rep = lenient(user, str(p))
    entry = rep["inputs"][0]
    assert entry["errors"][0]["line"] == line_of(lines, "IMGLOAD")
    # the fixation on that image cannot be placed: dropped and counted, never placed wrongly
    assert entry["rows_kept"] == 0 and entry["dropped"] == {"unknown_image_rect": 1}


@pytest.mark.parametrize("coords", ["0.00 0.00 0.00 0.00", "0 0 nan 767", "0 0 1023 -5",
                                    "0 0 inf 767"])
def test_asc_bad_gaze_coords_is_an_error(tmp_path, capsys, coords, fails):
    lines = asc_lines(imgload="FILL img.png", coords=coords)
    user = tmp_path / "user"
    p = write_asc(user, lines)
    err = fails(user, str(p))
    assert f"rec.asc:{line_of(lines, 'GAZE_COORDS')}:" in err and "GAZE_COORDS" in err, err
    assert "division" not in err


@pytest.mark.parametrize("rate", ["0.00", "-500", "nan", "1e999"])
def test_asc_bad_sample_rate_is_an_error(tmp_path, capsys, rate, fails):
    lines = asc_lines(rate=rate)
    user = tmp_path / "user"
    p = write_asc(user, lines)
    err = fails(user, str(p), "--detector", "ivt")
    assert f"rec.asc:{line_of(lines, 'RATE')}:" in err and "RATE" in err, err


@pytest.mark.parametrize("msg", ["MSG\t1e999 TRIALID t1", "MSG\tnan TRIALID t1",
                                 "MSG\t1e20 TRIALID t1"])
def test_asc_bad_message_time_is_an_error(tmp_path, capsys, msg, fails):
    lines = asc_lines()
    lines[1] = msg
    user = tmp_path / "user"
    p = write_asc(user, lines)
    err = fails(user, str(p))
    assert "rec.asc:2:" in err and "MSG" in err, err


def test_asc_huge_timestamps_error_instead_of_zero_onsets(tmp_path, capsys, fails):
    """Times beyond 2**53 ms: onsets used to collapse silently to 0."""
    lines = asc_lines(t0=10**17)
    user = tmp_path / "user"
    p = write_asc(user, lines)
    err = fails(user, str(p))
    assert "rec.asc:2:" in err and "2**53" in err, err


@pytest.mark.parametrize("value", ["1e999", "-1e999", "1e30"])
def test_asc_sample_with_hostile_position_is_an_error(tmp_path, capsys, value, fails, lenient):
    lines = asc_lines(samples={150: f"10160\t  {value}\t  384.0\t  800.0\t..."})
    user = tmp_path / "user"
    p = write_asc(user, lines)
    err = fails(user, str(p), "--detector", "ivt")
    assert f"rec.asc:{line_of(lines, '10160')}:" in err and "x" in err, err
    rep = lenient(user, str(p), "--detector", "ivt")
    assert rep["inputs"][0]["errors"][0]["line"] == line_of(lines, "10160")


def test_asc_sample_time_overflow_is_an_error(tmp_path, capsys, fails):
    lines = asc_lines(samples={150: "1e999\t  512.0\t  384.0\t  800.0\t..."})
    user = tmp_path / "user"
    p = write_asc(user, lines)
    err = fails(user, str(p), "--detector", "ivt")
    assert f"rec.asc:{line_of(lines, '1e999')}:" in err and "time" in err, err


def test_asc_samples_too_coarse_for_float64_are_an_error(tmp_path, capsys, fails):
    """2 kHz samples at ~2**52 ms: float64 cannot tell consecutive samples apart."""
    t0 = 2**52
    lines = asc_lines(rate="2000.00", t0=1000, efix="MSG\t1100 nothing")
    start = line_of(lines, "SAMPLES") + 1
    for k in range(300):
        lines[start - 1 + k] = f"{t0 + k // 2}.{5 * (k % 2)}\t  512.0\t  384.0\t  800.0\t..."
    user = tmp_path / "user"
    p = write_asc(user, lines)
    err = fails(user, str(p), "--detector", "ivt")
    assert f"rec.asc:{start}:" in err and "resolution" in err, err


# -- fixation reports ------------------------------------------------------------------------------

def write_report(user: Path, body: str, header="IMAGE,X,Y,DURATION") -> Path:
    user.mkdir(exist_ok=True)
    p = user / "fix.csv"
    p.write_text(header + "\n" + body)
    return p


@pytest.mark.parametrize("row", ["a.jpg,nan,0.2,100", "a.jpg,0.1,NaN,100", "a.jpg,.,0.2,100",
                                 "a.jpg,0.1,,100"])
def test_report_nan_position_is_dropped_no_position(tmp_path, capsys, row, lenient):
    user = tmp_path / "user"
    p = write_report(user, f"a.jpg,0.1,0.2,100\n{row}\na.jpg,0.3,0.4,100\n")
    rep = lenient(user, str(p))
    assert rep["totals"]["errors"] == 0 and rep["totals"]["dropped"] == {"no_position": 1}
    assert rep["drops"][0]["line"] == 3 and rep["totals"]["rows_kept"] == 2
    assert run("ingest", str(p), "--out", str(tmp_path / "strict")) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("header", "row", "match"),
    [
        ("IMAGE,X,Y,DURATION", "a.jpg,0.1,0.2,-5", "negative duration"),
        ("IMAGE,X,Y,DURATION", "a.jpg,0.1,0.2,1e30", "duration"),
        ("IMAGE,X,Y,DURATION", "a.jpg,0.1,0.2,inf", "duration"),
        ("IMAGE,X,Y,DURATION", "a.jpg,inf,0.2,100", "x"),
        ("IMAGE,X,Y,DURATION,START", "a.jpg,0.1,0.2,100,1e20", "2**53"),
        ("IMAGE,X,Y,DURATION,IMAGE_WIDTH,IMAGE_HEIGHT", "a.jpg,10,20,100,0,50", "width"),
        ("IMAGE,X,Y,DURATION,IMAGE_WIDTH,IMAGE_HEIGHT", "a.jpg,10,20,100,80,-50", "height"),
        ("IMAGE,X,Y,DURATION,IMAGE_WIDTH,IMAGE_HEIGHT", "a.jpg,10,20,100,1e30,50", "width"),
        ("IMAGE,X,Y,DURATION,IMAGE_WIDTH,IMAGE_HEIGHT", "a.jpg,10,20,100,nan,50", "width"),
    ],
)
def test_report_bad_numbers_are_errors(tmp_path, capsys, header, row, match, fails, lenient):
    user = tmp_path / "user"
    good = "a.jpg,0.1,0.2,100" + ",0" * (header.count(",") - 3)
    if "IMAGE_WIDTH" in header:
        good = "a.jpg,10,20,100,80,50"
    p = write_report(user, f"{good}\n{row}\n", header)
    err = fails(user, str(p))
    assert "fix.csv:3:" in err and match in err, err
    rep = lenient(user, str(p))
    assert rep["drops"][0]["line"] == 3 and rep["totals"]["rows_kept"] == 1


def test_report_zero_image_rect_is_refused(tmp_path, capsys, tree_digest):
    user = tmp_path / "user"
    p = write_report(user, "a.jpg,10,20,100\n")
    before = tree_digest(user)
    assert run("ingest", str(p), "--coords", "pixels", "--image-rect", "0", "0", "0", "0",
               "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "--image-rect" in err and "division" not in err
    assert tree_digest(user) == before and not (tmp_path / "out").exists()


def test_report_image_rect_from_the_api_is_checked(tmp_path):
    from gazeprep.errors import GazeprepError
    from gazeprep.read import fixreport
    from gazeprep.read.options import IngestOptions

    p = write_report(tmp_path, "a.jpg,10,20,100\n")
    with pytest.raises(GazeprepError, match="image rectangle"):
        fixreport.read(str(p), IngestOptions(coords="pixels", image_rect=(0, 0, 0, 10)))


# -- sample CSV ------------------------------------------------------------------------------------

def write_samples(user: Path, times, xs=None, header="time,x,y") -> Path:
    user.mkdir(exist_ok=True)
    n = len(times)
    xs = xs if xs is not None else ["500.0"] * n
    p = user / "gaze.csv"
    p.write_text(header + "\n" + "".join(f"{t},{x},400.0\n" for t, x in zip(times, xs,
                                                                             strict=True)))
    return p


def test_samples_baseline_is_kept(tmp_path, capsys, lenient):
    p = write_samples(tmp_path / "user", [str(4 * k) for k in range(200)])
    rep = lenient(tmp_path / "user", str(p), "--units", "px")
    assert rep["totals"]["rows_kept"] == 1 and rep["totals"]["errors"] == 0


@pytest.mark.parametrize(("value", "match"), [("1e20", "2**53"), ("1e999", "time"),
                                              ("-1e999", "time")])
def test_samples_huge_time_is_an_error(tmp_path, capsys, value, match, fails):
    times = [str(4 * k) for k in range(200)]
    times[50] = value
    user = tmp_path / "user"
    p = write_samples(user, times)
    err = fails(user, str(p), "--units", "px")
    assert "gaze.csv:52:" in err and match in err, err


def test_samples_time_too_coarse_for_float64_is_an_error(tmp_path, capsys, fails):
    """250 Hz samples near 2**55 ms: float64 steps of 8 ms collapse consecutive samples."""
    times = [str(2**55 + 4 * k) for k in range(200)]
    user = tmp_path / "user"
    p = write_samples(user, times)
    err = fails(user, str(p), "--units", "px", "--sample-rate", "250")
    assert "gaze.csv:2:" in err and ("resolution" in err or "2**53" in err), err
    # below 2**53 and exactly representable, but float64 steps (0.5 ms) equal the 0.5 ms
    # interval: any jitter would collapse samples
    times = [str(2**51 + 0.5 * k) for k in range(200)]
    p = write_samples(user, times)
    err = fails(user, str(p), "--units", "px")
    assert "gaze.csv:2:" in err and "resolution" in err, err


@pytest.mark.parametrize("value", ["1e30", "-1e30", "inf"])
def test_samples_hostile_position_is_an_error(tmp_path, capsys, value, fails, lenient):
    xs = ["500.0"] * 200
    xs[70] = value
    user = tmp_path / "user"
    p = write_samples(user, [str(4 * k) for k in range(200)], xs)
    err = fails(user, str(p), "--units", "px")
    assert "gaze.csv:72:" in err and "x" in err, err
    rep = lenient(user, str(p), "--units", "px")
    assert rep["inputs"][0]["errors"][0]["line"] == 72


def test_samples_sample_rate_from_the_api_is_checked(tmp_path):
    from gazeprep.errors import GazeprepError
    from gazeprep.read import samples
    from gazeprep.read.options import IngestOptions

    p = tmp_path / "g.csv"
    p.write_text("x,y\n" + "500,400\n" * 50)
    for rate in (0.0, -5.0, float("nan"), float("inf")):
        with pytest.raises(GazeprepError, match="sample rate"):
            samples.read(str(p), IngestOptions(sample_rate=rate, units="px"))


def png_header(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` (one grey row of pixel data)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1))) + chunk(b"IEND", b""))


def test_image_size_from_images_folder_is_checked(tmp_path, capsys, fails):
    """--images: a header claiming a 2,000,000 px wide image is an error naming that image."""
    user = tmp_path / "user"
    p = write_report(user, "a.jpg,10,20,100\n")
    (user / "imgs").mkdir()
    png_header(user / "imgs" / "a.png", 2_000_000, 1)
    err = fails(user, str(p), "--coords", "pixels", "--images", str(user / "imgs"))
    assert "a.png" in err and "1000000" in err.replace(",", ""), err
