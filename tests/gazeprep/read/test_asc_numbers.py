"""The ASC number parser (numba) against Python's float() on hostile tokens and lines.

Reference: a token is a number when it matches
``[+-]?(digits[.[digits]] | .digits)[(e|E)[+-]digits]``; its value is ``float(token)``, to 1e-14
relative (within an ulp or two of the largest float the kernel may round to infinity). ``.`` is
a missing value; anything else is not a number.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.read.asc._kernels import _POW10, _parse_number
from gazeprep.read.asc.parse import parse_asc
from gazeprep.read.result import FileResult

NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def ref_parse(token: str) -> tuple[str, float]:
    if token == ".":
        return "missing", float("nan")
    if NUMBER.fullmatch(token):
        return "number", float(token)
    return "text", float("nan")


def kernel_parse(token: str) -> tuple[str, float]:
    buf = np.frombuffer(token.encode("latin-1"), np.uint8)
    v, ok = _parse_number(buf, 0, buf.size, _POW10)
    if not ok:
        return "text", float("nan")
    return ("missing" if np.isnan(v) and token == "." else "number"), float(v)


HOSTILE = [
    "1" * 400, "9" * 5000, "0." + "0" * 400 + "1", "1" + "0" * 400, "1." + "0" * 400,
    "0" * 400 + "1", "123456789012345678901234567890", ".000000000000000000000000001",
    "1" + "0" * 22 + "1", "-" + "7" * 30 + ".5", "3." + "3" * 60, "0.1234567890123456789e5",
    "1e308", "1.7976931348623157e308", "1e309", "-1e309", "1e-320", "1e-400", "4.9e-324",
    "1e" + "9" * 30, "1e-" + "9" * 30, "0e99999", "0.0e-99999", "2.5e+0000000000000000000010",
    "9" * 30 + "e-" + "3" * 2, "1" * 25 + "e300", "1" * 25 + "e-330",
    "-", ".", "+", "-.", "+.", "e", "1e", "1e+", "--1", "1-", "1.2.3", "nan", "inf", "NaN",
    "0x10", "1_000", "1e5e5", ".e5", "5.", "+.5", "-0", "-0.0e-0",
]


@pytest.mark.parametrize("token", HOSTILE, ids=lambda t: t[:24])
def test_parse_number_matches_python_on_hostile_tokens(token):
    kind, want = ref_parse(token)
    got_kind, got = kernel_parse(token)
    assert got_kind == kind
    if kind == "number":
        if abs(want) < 1e300:
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-300)
        else:  # within an ulp or two of overflow the kernel may round to infinity
            assert got == want or (np.isinf(got) and np.sign(got) == np.sign(want))


def test_parse_number_is_exact_up_to_15_significant_digits():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        digits = int(rng.integers(1, 16))
        mant = str(int(rng.integers(1, 10**digits)))
        point = int(rng.integers(0, len(mant) + 1))
        token = (mant[:point] + "." + mant[point:]) if point < len(mant) else mant
        if rng.random() < 0.3:
            token = "-" + token
        assert kernel_parse(token) == ("number", float(token)), token


def asc_with(line: str) -> str:
    return ("** CONVERTED FROM x.edf\nSTART\t1000 \tLEFT\tSAMPLES\tEVENTS\n"
            "SAMPLES\tGAZE\tLEFT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2\n"
            "1000\t  500.0\t  400.0\t  800.0\t...\n" + line + "\n"
            "1002\t  500.0\t  400.0\t  800.0\t...\nEND\t1003\tSAMPLES\tEVENTS\n")


@pytest.mark.parametrize("line", ["-", ".", "-" * 10_000_000, "." * 1000, "+-.e"])
def test_lines_of_signs_and_points_are_unknown_lines(tmp_path, line):
    p = tmp_path / "x.asc"
    p.write_text(asc_with(line), encoding="latin-1")
    res = FileResult(path=str(p), format="asc")
    log = parse_asc(str(p), res=res)
    assert log.t.tolist() == [1000.0, 1002.0]
    assert [a["kind"] for a in res.anomalies] == ["unknown_line"]
    assert len(res.anomalies[0]["detail"]) <= 80


@pytest.mark.parametrize(("line", "word"), [
    ("1001\t" + "5" * 10_000_000 + "\t  400.0\t  800.0", "x"),  # 10 MB of digits: x overflows
    ("1" * 10_000_000 + "\t  500.0\t  400.0\t  800.0", "time"),
    ("1001\t  500.0\t  400.0\t  " + "9" * 400 + "e9999999999999999999999", "pupil"),
])
def test_ten_megabyte_numbers_are_one_short_error(tmp_path, line, word):
    p = tmp_path / "x.asc"
    p.write_text(asc_with(line), encoding="latin-1")
    with pytest.raises(GazeprepError) as err:
        parse_asc(str(p))
    assert err.value.line == 5 and word in err.value.message and len(str(err.value)) < 400
    res = FileResult(path=str(p), format="asc")
    log = parse_asc(str(p), res=res, lenient=True)
    assert log.t[np.isfinite(log.t)].tolist() == [1000.0, 1002.0]
    assert res.errors[0]["line"] == 5


def test_ten_megabyte_message_is_fine(tmp_path):
    p = tmp_path / "x.asc"
    p.write_text(asc_with("MSG\t1001 " + "x" * 10_000_000), encoding="latin-1")
    res = FileResult(path=str(p), format="asc")
    log = parse_asc(str(p), res=res)
    assert log.events["MSG"] == 1 and not res.errors
