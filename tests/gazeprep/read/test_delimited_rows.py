"""``read_table``'s short-row count and blank-row test against plain-Python references."""

from __future__ import annotations

import csv
import io

import numpy as np
import polars as pl
import pytest

from gazeprep.read.delimited import _blank, read_table


def _reference_short(text: str, sep: str) -> list[tuple[int, int]]:
    """(line, field count) of each data row with fewer fields than the header, by csv."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    rows, prev = [], 0
    for row in reader:
        rows.append((prev + 1, row))
        prev = reader.line_num
    n = len(rows[0][1])
    return [(line, len(r)) for line, r in rows[1:]
            if len(r) < n and any(v.strip() for v in r)]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("pick_last", [True, False])
@pytest.mark.parametrize("note", ["", "n"])  # last column empty: every row a candidate
def test_short_rows_match_csv(tmp_path, seed, pick_last, note):
    rng = np.random.default_rng(seed)
    sep = "\t" if seed % 2 else ","
    lines = [sep.join(["t", "x", "y", "note"])]
    short = 0.01 if note else 0.05  # few candidates: counted one by one
    for i in range(400):
        cells = [str(i), f"{rng.random():.3f}", "" if rng.random() < 0.3 else "1", note]
        if rng.random() < 0.1:  # a quoted separator and a quoted line break: not short
            cells[3] = f'"a{sep}b\nc"'
        if rng.random() < short:
            cells = cells[: int(rng.integers(1, 4))]
        lines.append(sep.join(cells))
    text = "\n".join(lines) + ("\n" if seed < 2 else "")  # with and without a last newline
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    pick = (lambda h: h) if pick_last else (lambda h: h[:2])
    table = read_table(str(path), count_fields=True, pick=pick)
    got = list(zip(table.lines[table.short].tolist(), table.fields.tolist(), strict=True))
    assert got == _reference_short(text, sep) and got  # short rows found, none made up
    assert table.df.columns == (["t", "x", "y", "note"] if pick_last else ["t", "x"])


def test_no_count_without_the_option(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\n1\t2\n3\n", encoding="utf-8")
    assert read_table(str(path)).short.size == 0
    assert read_table(str(path), count_fields=True).short.tolist() == [1]


@pytest.mark.parametrize("seed", range(5))
def test_blank_matches_reference(seed):
    rng = np.random.default_rng(seed)
    choices = [None, "", " ", "\t", "x", " 1 "]
    df = pl.DataFrame({c: [choices[k] for k in rng.integers(0, len(choices), 300)]
                       for c in "abc"}, schema=dict.fromkeys("abc", pl.String))
    want = [all(v is None or not v.strip() for v in row) for row in df.iter_rows()]
    assert _blank(df).to_list() == want
    assert _blank(df.select("a")).to_list() == [r[0] is None or not r[0].strip()
                                               for r in df.iter_rows()]


def test_unnamed_trailing_column_need_not_be_there(tmp_path):
    """Tobii Studio ends every line with a tab (an unnamed last column): a row without that
    empty field is whole; one without a named field is short."""
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\t\n1\t2\t\n3\t4\n5\n", encoding="utf-8")
    table = read_table(str(path), count_fields=True)
    assert table.lines[table.short].tolist() == [4] and table.fields.tolist() == [1]


def _reference_long_line(raw: bytes, limit: int) -> tuple[int, int] | None:
    """(1-based line, length) of the first line longer than ``limit`` bytes, line by line."""
    for i, line in enumerate(raw.split(b"\n"), 1):
        if len(line) > limit:
            return i, len(line)
    return None


@pytest.mark.parametrize("seed", range(6))
def test_long_line_check_matches_a_line_by_line_reference(seed, monkeypatch):
    # the check measures only the lines at offsets k * MAX_LINE_BYTES: a small limit, lines of
    # every length around it, long ones at offsets, right after one, and last without a line end
    from gazeprep.errors import GazeprepError
    from gazeprep.read import delimited

    limit = 64
    monkeypatch.setattr(delimited, "MAX_LINE_BYTES", limit)
    rng = np.random.default_rng(seed)
    for _ in range(200):
        sizes = rng.integers(0, limit + 1, int(rng.integers(0, 12))).tolist()
        if rng.random() < 0.6:  # one or two lines just over or well over the limit
            for _ in range(int(rng.integers(1, 3))):
                sizes.insert(int(rng.integers(0, len(sizes) + 1)),
                             limit + int(rng.choice([1, 2, limit, 3 * limit])))
        raw = b"\n".join(b"x" * k for k in sizes) + (b"\n" if rng.random() < 0.5 else b"")
        want = _reference_long_line(raw, limit)
        try:
            delimited._check_line_lengths(raw, "f.csv", "table")
            got = None
        except GazeprepError as exc:
            got = (exc.line, int(str(exc).split("(")[1].split(" ")[0]))
        assert got == want, (sizes, raw[-1:])
