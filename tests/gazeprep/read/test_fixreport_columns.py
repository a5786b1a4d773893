"""Fixation reports with other software's column names: the --*-col options are honoured."""

from __future__ import annotations

import polars as pl
import pytest

REPORT = ("PIC,PX,PY,DUR,T0,X\na.png,0.5,0.25,300,0,9\na.png,0.6,0.75,200,400,9\n"
          "b.png,0.4,0.4,250,0,9\n")


def test_column_options_name_a_reports_columns(tmp_path, run_cli, untouched):
    src = tmp_path / "report.csv"
    src.write_text(REPORT)
    check = untouched(src)
    got = run_cli("gazeprep", "ingest", src, "--format", "fixreport", "--x-col", "PX",
                  "--y-col", "PY", "--image-col", "PIC", "--duration-col", "DUR",
                  "--time-col", "T0", "--out", tmp_path / "out")
    assert got.returncode == 0, got.stderr
    fix = pl.read_parquet(tmp_path / "out" / "fixations.parquet").sort("image", "onset_ms")
    # PX, not the file's own X column (an alias ingest would otherwise take)
    assert fix["x"].to_list() == pytest.approx([0.5, 0.6, 0.4])  # float32 positions
    assert fix["y"].to_list() == pytest.approx([0.25, 0.75, 0.4])
    assert fix["duration_ms"].to_list() == [300, 200, 250]
    assert fix["onset_ms"].to_list() == [0, 400, 0]
    check()


def test_a_column_option_naming_no_column_is_an_error(tmp_path, run_cli, error_line):
    src = tmp_path / "report.csv"
    src.write_text(REPORT)
    got = run_cli("gazeprep", "ingest", src, "--format", "fixreport", "--x-col", "PXX",
                  "--y-col", "PY", "--image-col", "PIC", "--duration-col", "DUR",
                  "--out", tmp_path / "out")
    assert got.returncode == 1
    assert "report.csv:1: column 'PXX' (--x-col) not in the header" in error_line(got.stderr)
    assert not (tmp_path / "out").exists()


def test_an_empty_image_cell_names_its_row_and_column(tmp_path, run_cli, error_line):
    src = tmp_path / "report.csv"
    src.write_text("IMAGE,CURRENT_FIX_X,CURRENT_FIX_Y,CURRENT_FIX_DURATION\n"
                   "a.png,0.5,0.5,300\n,0.4,0.4,200\n")
    got = run_cli("gazeprep", "ingest", src, "--out", tmp_path / "out")
    assert got.returncode == 1
    assert error_line(got.stderr).endswith(
        "report.csv:3: the image cell (column 'IMAGE') is empty; expected the name of the image "
        "the fixation was on")


def test_duration_column_option_on_a_sample_file_is_refused(tmp_path, run_cli):
    src = tmp_path / "samples.csv"
    src.write_text("time,x,y\n0,1,1\n4,1,1\n")
    got = run_cli("gazeprep", "ingest", src, "--duration-col", "d", "--out", tmp_path / "out")
    assert got.returncode == 1 and "--duration-col is for fixation reports" in got.stderr


def test_column_options_name_the_last_column_of_a_windows_file(tmp_path, run_cli, untouched):
    # Lines ending in '\r\r\n' (a CRLF file converted once more, as EMDAT's
    # 4Ctest_fixation.csv): --duration-col names the header's last column, whose name as
    # polars reads it ends in '\r'.
    src = tmp_path / "report.csv"
    src.write_bytes(b"PIC,PX,PY,T0,DUR\r\r\na.png,0.5,0.25,0,300\r\r\nb.png,0.4,0.4,0,250\r\r\n")
    check = untouched(src)
    got = run_cli("gazeprep", "ingest", src, "--format", "fixreport", "--x-col", "PX",
                  "--y-col", "PY", "--image-col", "PIC", "--duration-col", "DUR",
                  "--time-col", "T0", "--out", tmp_path / "out")
    assert got.returncode == 0, got.stderr
    fix = pl.read_parquet(tmp_path / "out" / "fixations.parquet").sort("image")
    assert fix["duration_ms"].to_list() == [300, 250]
    assert fix["x"].to_list() == pytest.approx([0.5, 0.4])
    check()
