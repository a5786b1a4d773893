"""Hostile files for the readers of other trackers' exports (SMI BeGaze, Pupil Core, Pupil
Cloud / Neon, Gazepoint, REFLACX) and the tables they share, through ``gazeprep ingest``.

Four kinds of case, each on a small generated input:

- files a reader opens beside its input (REFLACX's metadata table, a Neon reference image, the
  Pupil gaze file beside the fixations) that link out of their folder, are named pipes or
  devices; inputs that are pipes or devices; names that would make an image id a path;
- tables that would exhaust memory (a 200 MB line, a header of a million columns, a quote that
  never closes), run under ``RLIMIT_AS`` = 2 GiB as in
  ``tests/gazeprep/contract/test_hostile_headers.py``;
- numbers that would make a silently wrong fixation table (NaN, inf, 1e308, negative
  durations, clocks that jump by years, sizes and confidences out of range);
- exports cut in the middle of a row, or saved as UTF-16 with CRLF.

The pipe, link and memory cases run the command in a subprocess (real exit code and stderr, a
timeout for hangs); the number cases run :func:`gazeprep.cli.main` in this process (the same
command, faster). Every case checks that the user's files are byte-identical afterwards.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from PIL import Image
from safety_helpers import stderr_lines

from gazeprep.cli import main

#: Address space of a limited command (what ingest needs for a tiny file: about 1 GiB).
LIMIT_AS = 2 << 30

# -- inputs -------------------------------------------------------------------------------------

SMI_FIX = ("Event Type,Trial,Number,Start,End,Duration,Location X,Location Y,Dispersion X,"
           "Dispersion Y,AOI hit,Image,Plane,Avg. Pupil Size X,Avg. Pupil Size Y")
SMI_HEAD = ("[BeGaze]\nSample Rate:\t120\nStimulus:\tfirst.jpg\nCalibration Area:\t1000\t800\n\n"
            f"Table Header for Fixations:\n{SMI_FIX}\n\nTable Header for User Events:\n"
            "Event Type,Trial,Number,Start,Description\n\n")
#: Rows of an SMI event export: (start us, duration us, x px, pupil).
SMI_ROWS = [(1_000_000, 300_000, 100.0, 15.0), (2_040_000, 200_000, 500.0, 15.0)]


def smi(d: Path, rows=SMI_ROWS, head=SMI_HEAD) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    body = "".join(f"Fixation L,1,{i},{s},{s},{dur},{x},80.00,10,10,-,-,-1,{pu},{pu}\n"
                   for i, (s, dur, x, pu) in enumerate(rows, 1))
    (d / "s01.txt").write_text(head + body)
    return d / "s01.txt"


GP_HEADER = "MEDIA_ID,MEDIA_NAME,TIME(2019/11/06 13:52:04.469),FPOGX,FPOGY,FPOGS,FPOGD,FPOGID,FPOGV"


def gazepoint(d: Path, media="a.png", fpogd=None, fpogs=None, fpogid=None) -> Path:
    """Two fixations of 20 samples at 150 Hz; ``fpogd``, ``fpogs``: that column in every row of
    the first; ``fpogid``: in its third row (line 4)."""
    d.mkdir(parents=True, exist_ok=True)
    rows, t = [], 0.0
    for fid in (1, 2):
        start = t
        for _ in range(20):
            rows.append([media.removesuffix(".png"), media, f"{t:.5f}", "0.5", "0.5",
                         f"{start:.5f}", f"{t - start:.5f}", str(fid), "1"])
            t += 1 / 150
    for col, v, where in ((6, fpogd, range(20)), (5, fpogs, range(20)), (7, fpogid, [2])):
        for i in where if v is not None else ():
            rows[i][col] = v
    (d / "gp.csv").write_text(GP_HEADER + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return d / "gp.csv"


REFLACX_FIX = "timestamp_start_fixation,timestamp_end_fixation,x_position,y_position," \
              "pupil_area_normalized"
REFLACX_META = ("id,eye_tracking_data_discarded,dicom_id,image_size_x,image_size_y\n"
                "P1R1,False,{dicom},{w},{h}\n")


def reflacx(root: Path, rows=((0.1, 0.4, 1000, 1250),), dicom="d1", w="2000", h="2500") -> Path:
    """``root/main_data/P1R1/fixations.csv`` and the metadata table beside the readings."""
    d = root / "main_data" / "P1R1"
    d.mkdir(parents=True)
    (d / "fixations.csv").write_text(REFLACX_FIX + "\n" + "".join(
        f"{s},{e},{x},{y},0.5\n" for s, e, x, y in rows))
    (root / "main_data" / "metadata_phase_1.csv").write_text(
        REFLACX_META.format(dicom=dicom, w=w, h=h))
    return d / "fixations.csv"


PUPIL_SURF_FIX = "world_timestamp,fixation_id,start_timestamp,duration,x_norm,y_norm,on_surf"
PUPIL_SURF_GAZE = "world_timestamp,gaze_timestamp,x_norm,y_norm,on_surf,confidence"


def pupil(root: Path, fixations=((1, 10.0, 300, 0.2),), gaze=None, surface="chest") -> Path:
    """A Pupil Player surface export; returns its fixation file (``gaze``: its gaze rows)."""
    s = root / "rec" / "exports" / "000" / "surfaces"
    s.mkdir(parents=True)
    (s / f"fixations_on_surface_{surface}.csv").write_text(PUPIL_SURF_FIX + "\n" + "".join(
        f"{st},{fid},{st},{dur},{x},0.5,True\n" for fid, st, dur, x in fixations))
    rows = gaze if gaze is not None else [f"{9.9 + i / 200:.3f},{9.9 + i / 200:.3f},0.5,0.5,"
                                          "True,0.9" for i in range(40)]
    (s / f"gaze_positions_on_surface_{surface}.csv").write_text(
        PUPIL_SURF_GAZE + "\n" + "\n".join(rows) + "\n")
    return s / f"fixations_on_surface_{surface}.csv"


NEON_FIX = ("section id,recording id,fixation id,start timestamp [ns],end timestamp [ns],"
            "duration [ms],fixation x [px],fixation y [px]")
NEON_RIM = ("section id,recording id,fixation id,start timestamp [ns],end timestamp [ns],"
            "duration [ms],fixation detected in reference image,fixation x [px],fixation y [px]")
T0 = 1_700_000_000_000_000_000


def neon(d: Path, rec="r1", end=None, start2=None) -> Path:
    """A Neon timeseries ``fixations.csv`` of two fixations on the scene camera."""
    d.mkdir(parents=True, exist_ok=True)
    ends = [end if end is not None else T0 + 300_000_000, T0 + 700_000_000]
    starts = [T0, start2 if start2 is not None else T0 + 400_000_000]
    ends[1] = starts[1] + 300_000_000
    (d / "fixations.csv").write_text(NEON_FIX + "\n" + "".join(
        f"s,{rec},{i},{s},{e},300,800,600\n" for i, (s, e) in
        enumerate(zip(starts, ends, strict=True), 1)))
    return d / "fixations.csv"


def neon_rim(d: Path) -> Path:
    """A Reference Image Mapper ``fixations.csv`` (pixels of ``reference_image.*``)."""
    d.mkdir(parents=True)
    (d / "fixations.csv").write_text(
        NEON_RIM + f"\ns,r1,1,{T0},{T0 + 200_000_000},200,true,100,50\n")
    return d / "fixations.csv"


# -- running the command ------------------------------------------------------------------------

def ingest_limited(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    """``gazeprep ingest args`` in a subprocess limited to :data:`LIMIT_AS` of address space."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))

    return subprocess.run([sys.executable, "-m", "gazeprep.cli", "ingest", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, preexec_fn=cap,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture()
def refused(untouched, error_line, tmp_path):
    """``line = refused(user, *inputs)``: ingest in a limited subprocess ends with exit 1 and one
    error line (returned); ``user`` byte-identical afterwards, no output written."""
    def run(user: Path, *args) -> str:
        check = untouched(user)
        res = ingest_limited(*args, "--out", tmp_path / "out")
        assert res.returncode == 1, res.stderr
        check()
        assert not (tmp_path / "out").exists()
        return error_line(res.stderr)

    return run


def run_main(*args: str) -> int:
    with pytest.raises(SystemExit) as ex:
        main(list(args))
    return 0 if ex.value.code is None else int(ex.value.code)


@pytest.fixture()
def ingest_here(capsys, untouched, tmp_path):
    """``code, lines = ingest_here(user, *args)``: ``gazeprep ingest`` in this process; the
    stderr lines (progress left out); ``user`` byte-identical afterwards."""
    def run(user: Path, *args) -> tuple[int, list[str]]:
        check = untouched(user)
        code = run_main("ingest", *map(str, args), "--out", str(tmp_path / "out"))
        check()
        return code, stderr_lines(capsys.readouterr().err)

    return run


def one_error(code: int, lines: list[str]) -> str:
    assert code == 1, lines
    assert len(lines) == 2 and lines[1].startswith("(run again with --verbose"), lines
    return lines[0]


# -- 1. nothing read outside the input's folder; no pipe, device or path from a name -----------

def _link_out(kind: str, user: Path, outside: Path) -> Path:
    """An export whose companion file of ``kind`` is a link to ``outside``; its input."""
    if kind == "reflacx metadata":
        fix = reflacx(user)
        meta = user / "main_data" / "metadata_phase_1.csv"
        meta.unlink()
        os.symlink(outside, meta)
        return fix
    if kind == "neon reference image":
        fix = neon_rim(user / "rim")
        os.symlink(outside, user / "rim" / "reference_image.png")
        return fix
    fix = pupil(user)
    gaze = fix.with_name("gaze_positions_on_surface_chest.csv")
    gaze.unlink()
    os.symlink(outside, gaze)
    return fix


KINDS = ("reflacx metadata", "neon reference image", "pupil gaze")


@pytest.mark.parametrize("kind", KINDS)
def test_a_companion_linked_out_of_its_folder_is_never_read(kind, tmp_path, refused):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.csv").write_text("TOPSECRET_hunter2,dicom_id\n1,2\n")
    Image.new("RGB", (400, 200)).save(secret / "key.png")
    target = secret / ("key.png" if kind == "neon reference image" else "key.csv")
    line = refused(tmp_path / "user", _link_out(kind, tmp_path / "user", target))
    assert "a link to a file outside its folder" in line and "TOPSECRET" not in line
    # The same words whether the target exists or not: nothing about it leaks.
    missing = _link_out(kind, tmp_path / "user2", secret / "missing")
    assert refused(tmp_path / "user2", missing).replace("user2", "user") == line


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_a_companion_that_is_a_pipe_or_device_ends_in_one_line(kind, special, tmp_path,
                                                               refused):
    user = tmp_path / "user"
    if special == "fifo":
        os.mkfifo(tmp_path / "pipe")
        fix = _link_out(kind, user, tmp_path / "pipe")
        link = next(p for p in user.rglob("*") if p.is_symlink())
        link.unlink()
        os.mkfifo(link)  # the pipe itself, inside the folder
        line = refused(user, fix)
        assert "not a regular file (a named pipe, device or folder)" in line
    else:
        line = refused(user, _link_out(kind, user, Path(special)))
        assert "outside its folder" in line


def test_inputs_that_are_pipes_or_devices(tmp_path, refused, ingest_here):
    user = tmp_path / "user"
    user.mkdir()
    os.mkfifo(user / "x.csv")
    line = refused(user, user / "x.csv")
    assert line.endswith("x.csv: not a regular file (a named pipe or device); expected an "
                         "input file or folder")
    assert "not a regular file" in refused(user, "/dev/null")
    # In a folder they are no input files: the export beside them is read.
    gazepoint(user)
    os.symlink("/dev/zero", user / "z.csv")
    code, _ = ingest_here(user, user)
    assert code == 0
    assert pl.read_parquet(tmp_path / "out" / "fixations.parquet").height == 2


def test_a_recording_id_never_becomes_a_path(tmp_path, ingest_here):
    user = tmp_path / "user"
    neon(user / "T", rec="../../../../tmp/evil")
    assert ingest_here(user, user)[0] == 0
    f = pl.read_parquet(tmp_path / "out" / "fixations.parquet")
    assert set(f["image"]) == {"evil"}


@pytest.mark.parametrize("make, field, line", [
    (lambda u: reflacx(u, dicom=""), "dicom_id ''", 2),
    (lambda u: reflacx(u, dicom="d" * 300), "dicom_id 'ddd", 2),
    (lambda u: reflacx(u, dicom='"d\n1"'), "dicom_id 'd\\n1'", 2),
    (lambda u: gazepoint(u, media="a\x01b.png"), "MEDIA_NAME 'a\\x01b.png'", 2),
    (lambda u: gazepoint(u, media="dir/"), "MEDIA_NAME 'dir/'", 2),
    (lambda u: neon(u / "T", rec=""), "recording id ''", 2),
    (lambda u: pupil(u, surface=".."), "surface name '..'", None),
], ids=["reflacx-empty", "reflacx-long", "reflacx-newline", "gazepoint-control",
        "gazepoint-folder", "neon-empty", "pupil-dotdot"])
def test_names_that_give_no_usable_image_id_are_refused(make, field, line, tmp_path,
                                                        ingest_here):
    user = tmp_path / "user"
    user.mkdir()
    p = make(user)
    err = one_error(*ingest_here(user, p))
    assert field in err and "gives no image id" in err
    assert (f"{p.name if line is None else ''}" in err) and (line is None or f":{line}: " in err)


def test_a_metadata_column_written_twice_is_refused(tmp_path, ingest_here):
    user = tmp_path / "user"
    fix = reflacx(user)
    meta = user / "main_data" / "metadata_phase_1.csv"
    meta.write_text(meta.read_text().replace("image_size_y\n", "image_size_y,DICOM_ID\n")
                    .replace(",2500\n", ",2500,d9\n"))
    err = one_error(*ingest_here(user, fix))
    assert "metadata_phase_1.csv:1: column 'dicom_id' appears more than once" in err


# -- 2. tables that would exhaust memory: one line in 2 GiB ------------------------------------

def _long_line(path: Path, header: str, n: int) -> Path:
    with open(path, "wb") as f:
        f.write(header.encode() + b"\n")
        for _ in range(n >> 20):
            f.write(b"1" * (1 << 20))
    return path


@pytest.mark.parametrize("fmt", ["gazepoint", "fixreport", "smi-begaze", "reflacx"])
def test_a_200_mb_line_ends_in_one_line_in_2_gib(fmt, tmp_path, refused):
    user = tmp_path / "user"
    user.mkdir()
    p = _long_line(user / "x.csv", GP_HEADER, 200 << 20)
    line = refused(user, p, "--format", fmt)
    assert "x.csv: a 200.0 MiB file needs about" in line and "expected a smaller file" in line


def test_lines_no_export_writes_are_refused_before_parsing(tmp_path, refused):
    user = tmp_path / "user"
    user.mkdir()
    wide = user / "wide.csv"  # a million columns: polars aborted the process on it
    wide.write_text(GP_HEADER + "".join(f",C{i}" for i in range(1_000_000)) + "\n"
                    + ",".join(["1"] * 1_000_009) + "\n")
    assert "wide.csv:1: line is longer than 1 MiB" in refused(user, wide)
    flat = _long_line(user / "flat.csv", GP_HEADER, 3 << 20)
    assert "flat.csv:2: line is longer than 1 MiB" in refused(user, flat)


def test_a_quote_that_never_closes_names_its_line(tmp_path, refused):
    user = tmp_path / "user"
    p = gazepoint(user)
    lines = p.read_text().splitlines()
    lines[3] = 'a,"a.png' + lines[3][len("a,a.png"):]
    p.write_text("\n".join(lines) + "\n" + "a,a.png,1,0.5,0.5,1,1,9,1\n" * 20_000)
    line = refused(user, p)
    assert "gp.csv:4: a field of this row never ends" in line
    assert 'expected a closing quote (") in the same row' in line


def test_a_metadata_table_too_large_for_memory(tmp_path, refused):
    user = tmp_path / "user"
    fix = reflacx(user)
    _long_line(user / "main_data" / "metadata_phase_2.csv", "id,dicom_id", 200 << 20)
    line = refused(user, fix)
    assert "metadata_phase_2.csv: a 200.0 MiB file needs about" in line


def test_a_compressed_file_is_binary(tmp_path, refused):
    import gzip

    user = tmp_path / "user"
    user.mkdir()
    (user / "gp.csv").write_bytes(gzip.compress(b"0" * (1 << 28), 9))
    line = refused(user, user / "gp.csv", "--format", "gazepoint")
    assert "gp.csv:1: binary file; expected a text Gazepoint CSV" in line


# -- 3. numbers that would make a silently wrong table -----------------------------------------

NUMBER_CASES = {
    "smi negative duration": (lambda u: smi(u, [(1_000_000, -300_000, 100.0, 15.0)]),
                              ":12: duration -300.0 ms (column Duration) is negative"),
    "smi duration 1e308": (lambda u: smi(u, [(1_000_000, 1e308, 100.0, 15.0)]),
                           ":12: duration 1e+305 ms (column Duration) is over a day"),
    "smi clock jumps by years": (
        lambda u: smi(u, [SMI_ROWS[0], (int(1e17), 200_000, 500.0, 15.0)]),
        ":13: onset 99999999999000.0 ms (column Start) is not within a day"),
    "smi pupil 1e308": (lambda u: smi(u, [(1_000_000, 300_000, 100.0, 1e308)]),
                        ":12: pupil size 1e+308 (column Avg. Pupil Size X) does not fit a float32"),
    "smi calibration area nan": (lambda u: smi(u, head=SMI_HEAD.replace("1000\t800", "nan\t800")),
                                 ":4: Calibration Area 'nan\\t800': width nan is not a finite"),
    "smi calibration area 1e400": (
        lambda u: smi(u, head=SMI_HEAD.replace("1000\t800", "1e400\t800")),
        ":4: Calibration Area '1e400\\t800': width inf is not a finite"),
    "smi calibration area 0": (lambda u: smi(u, head=SMI_HEAD.replace("1000\t800", "0\t0")),
                               ":4: Calibration Area '0\\t0': width 0 is not > 0"),
    "gazepoint negative duration": (lambda u: gazepoint(u, fpogd="-5"),
                                    ":2: duration -5000.0 ms (column FPOGD) is negative"),
    "gazepoint duration 1e308": (lambda u: gazepoint(u, fpogd="1e308"),
                                 ":2: duration inf ms (column FPOGD) is not a finite number"),
    "gazepoint start 1e300": (lambda u: gazepoint(u, fpogs="1e300"),
                              ":2: onset 1e+303 ms (column FPOGS) is not within a day"),
    "gazepoint fixation number 1.5": (lambda u: gazepoint(u, fpogid="1.5"),
                                      ":4: column 'FPOGID' is 1.5; expected a whole number"),
    "reflacx end before start": (lambda u: reflacx(u, [(0.5, 0.1, 100, 100)]),
                                 ":2: duration -400.0 ms (timestamp_end_fixation - "
                                 "timestamp_start_fixation) is negative"),
    "reflacx end 1e308": (lambda u: reflacx(u, [(0.5, 1e308, 100, 100)]),
                          ":2: duration inf ms"),
    "reflacx clock jumps by years": (
        lambda u: reflacx(u, [(0.1, 0.4, 100, 100), (1e9, 1e9 + 0.3, 100, 100)]),
        ":3: onset 1000000000000.0 ms (column timestamp_start_fixation) is not within a day"),
    "reflacx size nan": (lambda u: reflacx(u, w="nan"),
                         "metadata_phase_1.csv:2: image_size_x/y 'nan', '2500' of reading "
                         "'P1R1': image width nan is not a whole number of pixels"),
    "reflacx size 1e308": (lambda u: reflacx(u, w="1e308"), "image width 1e+308 is not a whole"),
    "reflacx size 0.5": (lambda u: reflacx(u, w="0.5", h="0.5"), "image width 0.5 is not a whole"),
    "reflacx size inf": (lambda u: reflacx(u, w="inf"), "image width inf is not a whole"),
    "reflacx size negative": (lambda u: reflacx(u, w="-2000"), "image width -2000 is not"),
    "pupil negative duration": (lambda u: pupil(u, [(1, 10.0, -300, 0.2)]),
                                ":2: duration -300.0 ms (column duration) is negative"),
    "pupil duration 1e308": (lambda u: pupil(u, [(1, 10.0, 1e308, 0.2)]),
                             ":2: duration 1e+308 ms (column duration) is over a day"),
    "pupil start 1e300": (lambda u: pupil(u, [(1, 10.0, 300, 0.2), (2, 1e300, 300, 0.2)]),
                          ":3: onset 1e+303 ms (column start_timestamp) is not within a day"),
    "neon end before start": (lambda u: neon(u, end=T0 - 200_000_000),
                              ":2: duration -200.0 ms (column end timestamp [ns] - start "
                              "timestamp [ns]) is negative"),
    "neon end 1e300": (lambda u: neon(u, end="1e300"), ":2: duration 1e+294 ms"),
    "neon clock jumps by years": (lambda u: neon(u, start2=T0 + 10**17),
                                  ":3: onset 100000000000.0 ms (column start timestamp [ns])"),
}


@pytest.mark.parametrize("case", NUMBER_CASES)
def test_numbers_that_would_make_a_wrong_table_are_refused(case, tmp_path, ingest_here):
    make, expected = NUMBER_CASES[case]
    user = tmp_path / "user"
    user.mkdir()
    p = make(user)
    err = one_error(*ingest_here(user, p))
    assert expected in err, err
    assert err.startswith(f"gazeprep: error: {user}")


@pytest.mark.parametrize("case", ["smi negative duration", "gazepoint start 1e300",
                                  "reflacx end before start", "pupil duration 1e308",
                                  "neon end before start"])
def test_lenient_drops_and_counts_those_fixations(case, tmp_path, ingest_here):
    make, expected = NUMBER_CASES[case]
    user = tmp_path / "user"
    user.mkdir()
    code, lines = ingest_here(user, make(user), "--lenient")
    assert code == 0, lines
    report = json.loads((tmp_path / "out" / "ingest.json").read_text())
    assert report["totals"]["dropped"].get("bad_value") == 1
    drop = next(d for d in report["drops"] if d["reason"] == "bad_value")
    assert drop["detail"] in expected or expected.split(": ", 1)[-1].startswith(drop["detail"][:20])
    f = pl.read_parquet(tmp_path / "out" / "fixations.parquet")
    assert f.select(pl.col("duration_ms", "onset_ms").is_finite().all()).row(0) == (True, True)


@pytest.mark.parametrize("conf, shown", [("nan", "nan"), ("7", "7.0"), ("-1", "-1.0")])
def test_pupil_confidence_out_of_range_is_refused(conf, shown, tmp_path, ingest_here):
    user = tmp_path / "user"
    fix = pupil(user, gaze=[f"{9.9 + i / 200:.3f},{9.9 + i / 200:.3f},0.5,0.5,True,"
                            f"{conf if i == 5 else 0.9}" for i in range(40)])
    gaze = fix.with_name("gaze_positions_on_surface_chest.csv")
    fix.unlink()
    err = one_error(*ingest_here(user, gaze))
    assert f"{gaze.name}:7: column 'confidence' is {shown}; expected a confidence from 0 to 1" \
        in err


@pytest.mark.parametrize("row, expected", [
    ("1e300,1e300,0.5,0.5", "column 'gaze_timestamp': time 1e+303 ms is beyond 2**53 ms"),
    ("10.2,10.2,1e300,0.5", "x 1.92e+303 px on screen is beyond +-1e+06 px"),
])
def test_samples_the_detector_cannot_use_are_refused(row, expected, tmp_path, ingest_here):
    user = tmp_path / "user"
    rows = [f"{9.9 + i / 200:.3f},{9.9 + i / 200:.3f},0.5,0.5,True,0.9" for i in range(40)]
    fix = pupil(user, gaze=[*rows, f"{row},True,0.9"])
    gaze = fix.with_name("gaze_positions_on_surface_chest.csv")
    fix.unlink()
    err = one_error(*ingest_here(user, gaze))
    assert f"{gaze.name}:42: {expected}" in err


# -- 4. cut files, Windows encodings --------------------------------------------------------------

def test_an_smi_export_cut_in_the_middle_of_a_row(tmp_path, ingest_here):
    user = tmp_path / "user"
    p = smi(user)
    p.write_text(p.read_text()[:-30])  # the last row now ends in "80." (was 80.00)
    err = one_error(*ingest_here(user, p))
    assert "s01.txt:13: the file ends in the middle of a row (7 of 15 fields); expected the " \
           "whole export (copy it again)" in err


@pytest.mark.parametrize("make", [smi, gazepoint, lambda u: reflacx(u)],
                         ids=["smi", "gazepoint", "reflacx"])
def test_utf16_with_crlf_reads_as_utf8(make, tmp_path, ingest_here):
    plain, windows = tmp_path / "plain", tmp_path / "windows"
    for d in (plain, windows):
        d.mkdir()
        make(d)
    for p in windows.rglob("*.*"):
        p.write_bytes(b"\xff\xfe" + p.read_text().replace("\n", "\r\n").encode("utf-16-le"))
    tables = []
    for d in (plain, windows):
        assert ingest_here(d, d)[0] == 0
        tables.append(pl.read_parquet(tmp_path / "out" / "fixations.parquet").drop("source"))
    assert tables[0].height > 0 and tables[0].equals(tables[1])


# -- 5. many files, a file that vanishes --------------------------------------------------------

def test_thousands_of_tiny_files(tmp_path, ingest_here):
    user = tmp_path / "user"
    gazepoint(user)
    for i in range(2000):
        (user / f"e{i:04d}.csv").write_text("")
    code, lines = ingest_here(user, user, "--lenient")
    assert code == 0
    report = json.loads((tmp_path / "out" / "ingest.json").read_text())
    assert report["totals"]["files"] == 2001 and report["totals"]["files_failed"] == 2000
    assert report["totals"]["fixations"] == 2


def test_a_file_that_vanishes_while_ingest_runs(tmp_path, ingest_here, monkeypatch):
    import gazeprep.ingest as ingest_module

    user = tmp_path / "user"
    gazepoint(user / "a")
    gone = gazepoint(user / "b")
    real = ingest_module.find_inputs

    def then_vanish(paths, notes=None):
        found = real(paths, notes)
        gone.rename(tmp_path / "moved.csv")  # after the walk, before it is read
        return found

    monkeypatch.setattr(ingest_module, "find_inputs", then_vanish)
    code, lines = ingest_here(user / "a", user)
    err = one_error(code, lines)
    assert str(gone) in err and "No such file or directory" in err


def test_an_error_without_a_message_is_named_by_its_type(tmp_path, ingest_here, monkeypatch):
    import gazeprep.ingest as ingest_module

    def empty(*args, **kwargs):
        raise MemoryError  # what an allocation that fails in Python raises: no message

    monkeypatch.setattr(ingest_module, "ingest_file", empty)
    monkeypatch.setattr(ingest_module, "use_workers", lambda files, jobs: False)
    user = tmp_path / "user"
    err = one_error(*ingest_here(user, gazepoint(user)))
    assert err == "gazeprep: error: MemoryError with no message"


def test_a_line_break_in_a_folder_name_keeps_the_error_on_one_line(tmp_path, ingest_here):
    user = tmp_path / "user"
    exp = user / "rec\nx" / "exports" / "000"
    exp.mkdir(parents=True)
    (exp / "fixations.csv").write_text("id,start_timestamp,duration,norm_pos_x,norm_pos_y\n"
                                       "1,10.0,300,0.5,0.5\n")
    err = one_error(*ingest_here(user, user))
    assert "rec\\nx/exports/000/fixations.csv: recording folder name 'rec\\nx' gives no " \
           "image id" in err
