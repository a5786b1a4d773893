"""Odd but legitimate report and sample files: byte-order marks, UTF-16, CRLF, blank and ragged
rows, quoted fields, duplicated column names, header-only files.

Each case runs the real command line (exit code, one-line message), compares the tables with
those of the same content written plainly, and checks that every input file is byte-identical
afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from safety_helpers import stderr_lines

from gazeprep.cli import main

REPORT = [
    ("IMAGE", "CURRENT_FIX_INDEX", "CURRENT_FIX_X", "CURRENT_FIX_Y", "CURRENT_FIX_DURATION"),
    ("a.png", "1", "0.10", "0.20", "120"),
    ("a.png", "2", "0.30", "0.40", "200"),
    ("b.png", "1", "0.50", "0.55", "300"),
    ("b.png", "2", "0.60", "0.70", "90"),
]


def ingest(capsys, *args: str) -> tuple[int, list[str]]:
    """Run ``gazeprep ingest ARGS``; exit code and the non-empty stderr lines."""
    with pytest.raises(SystemExit) as ex:
        main(["ingest", *args])
    err = stderr_lines(capsys.readouterr().err)
    return (0 if ex.value.code is None else int(ex.value.code)), err


def tables(out: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    return (pl.read_parquet(out / "fixations.parquet"), pl.read_parquet(out / "tracks.parquet"),
            json.loads((out / "ingest.json").read_text()))


def text(rows, sep=",", eol="\n") -> str:
    return "".join(sep.join(r) + eol for r in rows)


@pytest.fixture()
def ingest_ok(capsys, tmp_path, tree_digest):
    """Write ``data`` to ``tmp_path/name/r.csv``, ingest it (exit 0), return the tables."""

    def ingest_ok_(name: str, data: bytes, *opts: str):
        d = tmp_path / name
        d.mkdir()
        f = d / ("r" + (".txt" if "--txt" in opts else ".csv"))
        f.write_bytes(data)
        before = tree_digest(d)
        code, err = ingest(capsys, str(f), "--out", str(tmp_path / f"{name}_out"),
                           *[o for o in opts if o != "--txt"])
        assert code == 0, err
        assert tree_digest(d) == before
        return tables(tmp_path / f"{name}_out")

    return ingest_ok_


@pytest.fixture
def plain(capsys, tmp_path, ingest_ok):
    """Tables of the reference report written as plain UTF-8 with LF line ends."""
    return ingest_ok("plain", text(REPORT).encode())


def same_tables(got, want) -> None:
    """Same fixations (but the ``source`` file name) and tracks, same rows read."""
    assert_frame_equal(got[0].drop("source"), want[0].drop("source"))
    assert_frame_equal(got[1], want[1])
    assert got[2]["totals"]["rows_read"] == want[2]["totals"]["rows_read"]


@pytest.mark.parametrize("fmt", [(), ("--format", "fixreport")])
def test_utf8_bom_and_crlf_report(capsys, tmp_path, plain, fmt, ingest_ok):
    # Excel's "CSV UTF-8": a byte-order mark, CRLF line ends and a trailing empty line.
    data = b"\xef\xbb\xbf" + text(REPORT, eol="\r\n").encode() + b"\r\n"
    got = ingest_ok("bom", data, *fmt)
    same_tables(got, plain)
    assert got[0]["image"].to_list() == ["a", "a", "b", "b"]
    np.testing.assert_allclose(got[0]["x"], [0.1, 0.3, 0.5, 0.6], rtol=1e-6)


@pytest.mark.parametrize("fmt", [(), ("--format", "samples")])
def test_utf8_bom_sample_file(capsys, tmp_path, fmt, ingest_ok):
    t = np.arange(200) * 4.0
    x = np.where(t < 400, 300.0, 900.0)
    rows = [("time", "x", "y")] + [(f"{a:g}", f"{b:g}", "500") for a, b in zip(t, x, strict=True)]
    want = ingest_ok("plain", text(rows).encode(), "--units", "px")
    got = ingest_ok("bom", b"\xef\xbb\xbf" + text(rows).encode(), "--units",
                    "px", *fmt)
    same_tables(got, want)
    assert got[0].height == 2


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf16_unicode_text_is_read(capsys, tmp_path, plain, codec, ingest_ok):
    # Excel's "Unicode Text": UTF-16 with a byte-order mark, tab separated, CRLF.
    body = text(REPORT, sep="\t", eol="\r\n")
    data = body.encode(codec) if codec == "utf-16" else b"\xfe\xff" + body.encode(codec)
    got = ingest_ok("u16", data, "--txt")
    same_tables(got, plain)
    assert got[2]["inputs"][0]["notes"]["encoding"] == "UTF-16 (byte-order mark)"


def test_utf16_without_bom_says_how_to_resave(capsys, tmp_path, tree_digest):
    f = tmp_path / "r.txt"
    f.write_bytes(text(REPORT, sep="\t").encode("utf-16-le"))
    before = tree_digest(f)
    for fmt in ("auto", "fixreport"):
        code, err = ingest(capsys, str(f), "--format", fmt, "--out", str(tmp_path / "o"))
        assert code == 1 and len(err) == 2, err  # the message, then the --verbose hint
        assert "r.txt:1:" in err[0] and "UTF-16" in err[0] and "UTF-8" in err[0], err[0]
    assert tree_digest(f) == before and not (tmp_path / "o").exists()


def test_blank_and_empty_rows_are_skipped_with_true_line_numbers(capsys, tmp_path, plain,
                                                                 ingest_ok):
    rows = [",".join(r) for r in REPORT]
    # a blank line, an all-separator row (Excel's emptied rows) and whitespace-only lines
    lines = [rows[0], rows[1], "", rows[2], ",,,,", "  ", rows[3], rows[4], "\t", ""]
    data = ("\r\n".join(lines) + "\r\n").encode()
    got = ingest_ok("blank", data)
    same_tables(got, plain)
    assert got[2]["inputs"][0]["notes"]["blank_rows_skipped"] == 5
    short = ingest_ok("short", data, "--min-duration", "100")
    assert [d["line"] for d in short[2]["drops"]] == [8]  # b.png 90 ms is on line 8


def test_quoted_fields_with_commas(capsys, tmp_path, ingest_ok):
    data = (b'IMAGE,CURRENT_FIX_X,CURRENT_FIX_Y,CURRENT_FIX_DURATION,NOTE\n'
            b'"scan, left.png",0.25,0.5,100,"looked, then left"\n'
            b'"scan, left.png",0.75,0.5,100,""\n')
    fix, tracks, _ = ingest_ok("q", data)
    assert fix["image"].to_list() == ["scan, left"] * 2
    np.testing.assert_allclose(fix["x"], [0.25, 0.75])
    assert tracks.height == 1


def test_header_only_report_gives_empty_tables(capsys, tmp_path, plain, ingest_ok):
    fix, tracks, rep = ingest_ok("hdr", text(REPORT[:1], eol="\r\n").encode())
    assert fix.height == 0 and tracks.height == 0
    assert fix.schema == plain[0].schema and tracks.schema == plain[1].schema
    assert rep["totals"]["rows_read"] == 0


def test_trailing_tab_on_header_and_rows(capsys, tmp_path, plain, ingest_ok):
    both = text([r + ("",) for r in REPORT], sep="\t").encode()
    same_tables(ingest_ok("both", both, "--txt"), plain)
    rows_only = text(REPORT[:1], sep="\t") + text([r + ("",) for r in REPORT[1:]], sep="\t")
    got = ingest_ok("rows", rows_only.encode(), "--txt")
    same_tables(got, plain)
    assert got[2]["inputs"][0]["notes"]["trailing_empty_fields"] == 4


def test_extra_field_names_its_line(capsys, tmp_path, tree_digest):
    rows = [",".join(r) for r in REPORT]
    rows[3] += ",7"
    f = tmp_path / "r.csv"
    f.write_text("\n".join(rows) + "\n")
    before = tree_digest(f)
    code, err = ingest(capsys, str(f), "--out", str(tmp_path / "o"))
    assert code == 1 and "r.csv:4:" in err[0] and "6 fields" in err[0] and "5" in err[0], err
    assert tree_digest(f) == before and not (tmp_path / "o").exists()


@pytest.mark.parametrize(("header", "col"), [
    ("IMAGE,CURRENT_FIX_X,CURRENT_FIX_Y,CURRENT_FIX_DURATION,CURRENT_FIX_X", "CURRENT_FIX_X"),
    ("IMAGE,X,Y,DURATION,x", "X"),
    ("image,IMAGE,X,Y,DURATION", "image"),
    ("IMAGE,X,Y,DURATION, Y ", "Y"),
])
def test_duplicated_report_column_is_an_error(capsys, tmp_path, header, col, tree_digest):
    f = tmp_path / "r.csv"
    f.write_text(header + "\na.png,0.1,0.2,100,0.3\n")
    before = tree_digest(f)
    for fmt in ("auto", "fixreport"):
        code, err = ingest(capsys, str(f), "--format", fmt, "--out", str(tmp_path / "o"))
        assert code == 1 and len(err) == 2, err
        assert err[0].startswith(f"gazeprep: error: {f}:1: column '{col}'"), err[0]
        assert "more than once" in err[0] and "Traceback" not in err[0]
    assert tree_digest(f) == before and not (tmp_path / "o").exists()


def test_duplicated_unused_column_is_harmless(capsys, tmp_path, plain, ingest_ok):
    rows = [r + (v, v) for r, v in zip(REPORT, ("COMMENT", "x", "y", "z", "w"), strict=True)]
    same_tables(ingest_ok("dup", text(rows).encode()), plain)


@pytest.mark.parametrize("fmt", ["auto", "samples"])
def test_duplicated_sample_column_is_an_error(capsys, tmp_path, fmt, tree_digest):
    f = tmp_path / "g.csv"
    f.write_text("time,x,y,X\n" + "".join(f"{4 * i},100,100,5\n" for i in range(50)))
    before = tree_digest(f)
    code, err = ingest(capsys, str(f), "--format", fmt, "--out", str(tmp_path / "o"))
    assert code == 1 and err[0].startswith(f"gazeprep: error: {f}:1: column 'x'"), err
    assert tree_digest(f) == before and not (tmp_path / "o").exists()
