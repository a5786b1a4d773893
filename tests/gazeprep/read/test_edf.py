"""EyeLink EDF read directly: the edf2asc text of the recordings eyelinkio ships, read through
the ASC parser, against eyelinkio's own reading of the same files.

eyelinkio puts event and message times on its own axis (sample index / rate, in seconds; a time
between samples is interpolated, one before the first sample is 0), so our millisecond times are
compared after that same mapping (``np.interp`` over the sample times).
"""

from __future__ import annotations

import copy
import hashlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from real_data import data_root

from gazeprep.errors import GazeprepError
from gazeprep.ingest import ingest_file
from gazeprep.read.asc.parse import parse_asc
from gazeprep.read.options import IngestOptions

eyelinkio = pytest.importorskip("eyelinkio", reason="needs eyelinkio (the eyelink extra)")

from gazeprep.read.edf import (  # noqa: E402
    ENDBLINK,
    ENDFIX,
    ENDSACC,
    EVENT_FIELDS,
    INSTALL_HINT,
    MESSAGE,
    REC_FIELDS,
    RECORDING_INFO,
    STARTBLINK,
    STARTFIX,
    EdfRecording,
    read_edf,
    stream_problem,
)
from gazeprep.read.edf_asc import (  # noqa: E402
    _fixed,
    _missing,
    asc_from_recording,
    edf_to_asc,
)

EDF_DIR = Path(eyelinkio.__file__).parent / "tests" / "data"
NAMES = ["test_raw.edf", "test_2_raw.edf", "test_raw_binocular.edf"]
SHARED_ASC = data_root() / "eyelink"


class Converted:
    """One shipped EDF: our ASC (parsed) and eyelinkio's reading of the EDF."""

    def __init__(self, name: str, tmp: Path):
        self.edf = EDF_DIR / name
        self.asc = tmp / (self.edf.stem + ".asc")
        self.asc.write_bytes(edf_to_asc(self.edf))
        self.log = parse_asc(str(self.asc))
        self.ref = eyelinkio.read_edf(str(self.edf))
        self.rate = float(self.ref["info"]["sfreq"])
        # eyelinkio's time axis: sample k is at k / rate seconds
        self.axis = np.arange(self.log.t.size) / self.rate

    def on_axis(self, t_ms: np.ndarray) -> np.ndarray:
        """Our millisecond times mapped as eyelinkio maps the EDF's times."""
        return np.interp(t_ms, self.log.t, self.axis)

    def text_lines(self) -> list[str]:
        return self.asc.read_bytes().decode("latin-1").split("\n")


@pytest.fixture(scope="module", params=NAMES)
def conv(request, tmp_path_factory) -> Converted:
    if not (EDF_DIR / request.param).exists():
        pytest.skip(f"eyelinkio's test recording {request.param} is not installed")
    return Converted(request.param, tmp_path_factory.mktemp("edf"))


def test_fixations_equal_eyelinkio_events(conv):
    efix, ref = conv.log.efix, conv.ref["discrete"]["fixations"]
    assert efix["line"].size == ref.size > 0
    assert list(efix["eye"]) == ["R" if e == 1 else "L" for e in ref["eye"]]
    np.testing.assert_allclose(conv.on_axis(efix["start"]), ref["stime"], atol=1e-9)
    np.testing.assert_allclose(conv.on_axis(efix["end"]), ref["etime"], atol=1e-9)
    # duration = end - start + one sample interval
    np.testing.assert_array_equal(efix["duration"], efix["end"] - efix["start"] + 1000 / conv.rate)
    # mean position: printed with one decimal (%7.1f) from the same float32
    np.testing.assert_allclose(efix["x"], ref["axp"], atol=0.05 + 1e-6)
    np.testing.assert_allclose(efix["y"], ref["ayp"], atol=0.05 + 1e-6)


def test_saccades_and_blinks_equal_eyelinkio_events(conv):
    text = conv.text_lines()
    for head, kind in (("ESACC", "saccades"), ("EBLINK", "blinks")):
        ours = [ln.split() for ln in text if ln.startswith(head + " ")]
        ref = conv.ref["discrete"][kind]
        assert len(ours) == ref.size
        assert [o[1] for o in ours] == ["R" if e == 1 else "L" for e in ref["eye"]]
        start = np.array([float(o[2]) for o in ours])
        np.testing.assert_allclose(conv.on_axis(start), ref["stime"], atol=1e-9)
    assert conv.log.events["EBLINK"] == conv.ref["discrete"]["blinks"].size


def test_messages_equal_eyelinkio_messages(conv):
    ref = conv.ref["discrete"]["messages"]
    assert conv.log.events["MSG"] == ref.size
    text = conv.text_lines()
    starts = [i for i, ln in enumerate(text) if ln.startswith("MSG\t")]
    assert len(starts) == ref.size
    times, bodies = [], []
    for i in starts:
        stamp, body = text[i][4:].split(" ", 1)
        k = i + 1  # continuation lines of a message holding newlines
        while k < len(text) and text[k][:1] in (" ", "\t", ">"):
            body += "\n" + text[k]
            k += 1
        times.append(float(stamp))
        bodies.append(body)
    np.testing.assert_allclose(conv.on_axis(np.array(times)), ref["stime"], atol=1e-9)
    for ours, theirs in zip(bodies, ref["msg"], strict=True):
        # eyelinkio keeps ASCII characters only and at most 260 of them
        ascii_ours = "".join(c for c in ours if ord(c) < 128)[:260]
        assert ascii_ours == theirs.decode("ascii").rstrip("\r\n\0")
    trialids = [b.split(None, 1)[1].strip() for b in bodies if b.startswith("TRIALID ")]
    assert [tr.id for tr in conv.log.trials] == trialids


def test_samples_equal_eyelinkio_samples(conv):
    ref, fields = conv.ref["samples"], conv.ref["info"]["sample_fields"]
    assert conv.log.t.size == ref.shape[1]
    eyes = ["left", "right"] if conv.ref["info"]["eye"] == "BINOCULAR" else [None]
    for eye in eyes:
        e = 1 if eye == "right" or conv.ref["info"]["eye"] == "RIGHT_EYE" else 0
        x, y, ps = (ref[fields.index(f if eye is None else f"{f}_{eye}")]
                    for f in ("xpos", "ypos", "ps"))
        assert np.isnan(conv.log.x[e]).sum() == np.isnan(x).sum()
        assert np.isnan(conv.log.y[e]).sum() == np.isnan(y).sum()
        ok = ~np.isnan(x)
        np.testing.assert_allclose(conv.log.x[e][ok], x[ok], atol=0.05 + 1e-6)
        np.testing.assert_allclose(conv.log.y[e][ok], y[ok], atol=0.05 + 1e-6)
        seen = ps > 0  # the parser reads pupil <= 0 (EyeLink's lost eye) as missing
        np.testing.assert_allclose(conv.log.pupil[e][seen], ps[seen], atol=0.05 + 1e-6)
        assert np.isnan(conv.log.pupil[e][~seen]).all()
    # within a recording block, samples are one interval apart
    steps = np.diff(conv.log.t)[np.diff(conv.log.block) == 0]
    np.testing.assert_allclose(steps, 1000 / conv.rate)


def test_recording_blocks_and_eyes(conv):
    recs = [tr for tr in conv.text_lines() if tr.startswith("START\t")]
    assert len(conv.log.blocks) == len(recs) > 0
    want = ("L", "R") if conv.ref["info"]["eye"] == "BINOCULAR" else ("L",)
    assert all(b.eyes == want and b.rate == conv.rate for b in conv.log.blocks)
    assert all(b.end_line is not None for b in conv.log.blocks)


def test_events_sit_where_edf2asc_puts_them(conv):
    """Start events just before their first sample, end events just after their last one, as
    in edf2asc's own output (the shared ASC obeys the same check)."""
    assert _event_placement(conv.text_lines()) == set()


def test_edf2asc_layout_of_every_line(conv):
    """Each kind of line has the field layout edf2asc gives it (the shared real ASC, converted
    by SR Research's edf2asc, passes the same patterns)."""
    assert _layout_misfits(conv.text_lines()) == []


def test_real_edf2asc_output_passes_the_same_checks():
    path = SHARED_ASC / "eyelink_binocular_example.asc"
    if not path.exists():
        pytest.skip("needs ../shared/data (real data not present)")
    lines = path.read_bytes().decode("latin-1").splitlines()
    assert _layout_misfits(lines) == []
    assert _event_placement(lines) == set()


NUM = r"(?: *-?\d+\.\d|   \.)"  # %7.1f or a missing value
LAYOUT = {
    "sample": re.compile(rf"^\d+(?:\t{NUM}{{3}}|\t{NUM}\t{NUM}\t{NUM}){{1,2}}\t[.ICR]{{3,5}}$"),
    "SFIX": re.compile(r"^S(?:FIX [LR]   |SACC [LR]  |BLINK [LR] )\d+$"),
    "EFIX": re.compile(rf"^EFIX [LR]   \d+\t\d+\t\d+\t{NUM}\t{NUM}\t *\d+$"),
    "ESACC": re.compile(rf"^ESACC [LR]  \d+\t\d+\t\d+\t{NUM}\t{NUM}\t{NUM}\t{NUM}\t"
                        r"(?: *\d+\.\d\d|   \.)\t *\d+$"),
    "EBLINK": re.compile(r"^EBLINK [LR] \d+\t\d+\t\d+$"),
    "START": re.compile(r"^START\t\d+ \t(?:LEFT\t)?(?:RIGHT\t)?SAMPLES\tEVENTS$"),
    "END": re.compile(r"^END\t\d+ \tSAMPLES\tEVENTS\tRES\t *\d+\.\d\d\t *\d+\.\d\d$"),
    "SAMPLES": re.compile(r"^(?:SAMPLES|EVENTS)\tGAZE\t(?:LEFT\t)?(?:RIGHT\t)?RATE\t\d+\.00\t"
                          r"TRACKING\tCR\tFILTER\t\d$"),
    "MSG": re.compile(r"^MSG\t\d+ "),
}


def _layout_misfits(lines: list[str]) -> list[str]:
    """Lines of a known kind whose layout differs from edf2asc's."""
    bad = []
    for ln in lines:
        head = ln.split("\t", 1)[0].split(" ", 1)[0]
        kind = "sample" if ln[:1].isdigit() else {"SSACC": "SFIX", "SBLINK": "SFIX",
                                                   "EVENTS": "SAMPLES"}.get(head, head)
        if kind in LAYOUT and not LAYOUT[kind].match(ln):
            bad.append(ln)
    return bad[:5]


def _event_placement(lines: list[str]) -> set[str]:
    """Event lines not placed as edf2asc places them (relative to the sample lines)."""
    bad, prev, pending = set(), None, []
    for ln in lines:
        if ln[:1].isdigit():
            t = float(ln.split("\t", 1)[0])
            bad |= {p for p, start in pending if start != t}
            pending, prev = [], t
            continue
        w = ln.split()
        if w and w[0] in ("EFIX", "ESACC", "EBLINK") and float(w[3]) != prev:
            bad.add(ln)
        elif w and w[0] in ("SFIX", "SSACC", "SBLINK"):
            pending.append((ln, float(w[2])))
    return bad


def test_binocular_file_keeps_both_eyes(tmp_path):
    asc = tmp_path / "bino.asc"
    asc.write_bytes(edf_to_asc(EDF_DIR / "test_raw_binocular.edf"))
    log = parse_asc(str(asc))
    assert set(log.efix["eye"]) == {"L", "R"}
    assert np.isfinite(log.x).any(axis=1).all()  # both rows of samples hold data
    res = ingest_file(str(asc), IngestOptions(detector="tracker", eye="both"))
    assert set(res.fixations["session"]) == {"bino:L", "bino:R"}
    assert res.rows_read == eyelinkio.read_edf(str(EDF_DIR / "test_raw_binocular.edf"))[
        "discrete"]["fixations"].size


@pytest.mark.parametrize("detector", ["tracker", "ivt"])
def test_read_asc_end_to_end_on_converted_bytes(detector, tmp_path):
    asc = tmp_path / "mono.asc"
    asc.write_bytes(edf_to_asc(EDF_DIR / "test_2_raw.edf"))
    res = ingest_file(str(asc), IngestOptions(detector=detector))
    n_ref = eyelinkio.read_edf(str(EDF_DIR / "test_2_raw.edf"))["discrete"]["fixations"].size
    assert res.rows_kept > 0 and res.rows_read == res.rows_kept + res.rows_dropped
    if detector == "tracker":
        assert res.rows_read == n_ref
    assert res.n_samples == 124740
    assert set(res.fixations["trial"]) <= {tr.id for tr in parse_asc(str(asc)).trials}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("cut", [0, 10, 100, 5000, 700_000])
def test_truncated_edf_is_a_one_line_error_naming_the_file(cut, tmp_path):
    """Cut at 100 bytes the library crashes its process (SIGSEGV): still one line."""
    path = tmp_path / "cut.edf"
    path.write_bytes((EDF_DIR / "test_raw.edf").read_bytes()[:cut])
    before = _sha(path)
    with pytest.raises(GazeprepError) as err:
        edf_to_asc(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(path)) and "EDF" in msg
    assert _sha(path) == before


@pytest.mark.parametrize("damage", ["every_997th_byte", "zeroed_run", "deleted_run"])
def test_damaged_edf_is_an_error_not_part_of_a_recording(damage, tmp_path):
    """Bytes overwritten or lost inside the sample stream: the library says so ('Read error'),
    crashes (SIGSEGV), or silently stops early or goes back in time: each is an error, never a
    shortened recording."""
    data = bytearray((EDF_DIR / "test_raw.edf").read_bytes())
    if damage == "every_997th_byte":
        rng = np.random.default_rng(1)
        for i in range(2000, len(data), 997):
            data[i] = int(rng.integers(256))
    elif damage == "zeroed_run":
        data[400_000:400_200] = bytes(200)
    else:
        del data[600_000:600_030]
    path = tmp_path / "damaged.edf"
    path.write_bytes(bytes(data))
    before = _sha(path)
    with pytest.raises(GazeprepError, match="Read error|START/END|go back|crashed") as err:
        edf_to_asc(path)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(path))
    assert _sha(path) == before


def test_stream_problem_on_plain_records():
    """The damage checks on hand-made item streams (no library involved)."""
    rec = read_edf(EDF_DIR / "test_raw.edf")
    assert stream_problem(rec) is None
    is_rec = np.flatnonzero(rec.item_type == RECORDING_INFO)
    cut = copy.deepcopy(rec)
    cut.events["rec_state"][is_rec[-1]] = 1  # the last block never ends
    assert "START/END" in stream_problem(cut)
    back = copy.deepcopy(rec)
    back.t[100] = back.t[99]
    assert "go back from 415938.0 to 415938.0 ms (sample 101)" in stream_problem(back)


def test_text_file_named_edf_is_an_error(tmp_path):
    path = tmp_path / "notes.edf"
    path.write_text("this is not an EDF\n")
    with pytest.raises(GazeprepError, match="could not open") as err:
        edf_to_asc(path)
    assert str(path) in str(err.value)


def test_missing_eyelinkio_gives_the_install_hint(monkeypatch, tmp_path):
    for name in [m for m in sys.modules if m.split(".")[0] == "eyelinkio"]:
        monkeypatch.setitem(sys.modules, name, None)  # import eyelinkio... -> ImportError
    with pytest.raises(GazeprepError) as err:
        read_edf(EDF_DIR / "test_raw.edf")
    assert str(err.value).endswith(INSTALL_HINT)
    assert "test_raw.edf" in str(err.value)


def test_eyelinkio_without_its_library_says_why(monkeypatch):
    import importlib

    loader = importlib.import_module("eyelinkio.edf.read_edf")
    monkeypatch.setattr(loader, "has_edfapi", False)
    monkeypatch.setattr(loader, "why_not", "libedfapi.so: cannot open shared object file")
    with pytest.raises(GazeprepError, match="cannot load its EDF library .libedfapi.so"):
        read_edf(EDF_DIR / "test_raw.edf")


def test_fixed_point_text_matches_printf():
    """The vectorised %7.1f against Python's printf-style formatting (correct rounding):
    float32 values, exact ties (x.x5 exactly representable), negatives rounding to -0.0."""
    rng = np.random.default_rng(0)
    v = np.concatenate([
        rng.uniform(-3000, 3000, 20000).astype(np.float32),
        (np.arange(-400, 400) / 4).astype(np.float32),  # exact .25/.75 ties
        np.array([0.0, -0.0, -0.04, 0.05, 0.15, 0.25, 999999.95, 1e7, -1e7, 3e38], np.float32),
    ]).astype(np.float64)
    got = _fixed(v, _missing(v)).to_list()
    want = ["   ." if m else f"{x:7.1f}" for x, m in zip(v, _missing(v), strict=True)]
    assert got == want
    missing = np.array([1e8, -32768.0, np.nan, np.inf])
    assert _fixed(missing, _missing(missing)).to_list() == ["   ."] * 4


def test_conversion_is_deterministic():
    rec = read_edf(EDF_DIR / "test_raw.edf")
    assert asc_from_recording(rec, "x.edf") == asc_from_recording(rec, "x.edf")
    assert asc_from_recording(rec, "x.edf").startswith(b"** CONVERTED FROM x.edf using edfapi")


def _recording(rate: float, times: list[float], items: list[tuple]) -> EdfRecording:
    """A hand-made recording: samples (left eye, x = 100 + k, the second one lost) and items
    ``(type, before, fields)``."""
    n = len(times)
    gx = np.full((2, n), -32768.0, np.float32)
    gx[0] = 100.0 + np.arange(n)
    gx[0, 1] = 1e8
    pa = np.zeros((2, n), np.float32)
    pa[0] = 500.0
    pa[0, 1] = 0.0
    events = {f: np.zeros(len(items)) for f in EVENT_FIELDS}
    events.update({f"rec_{f}": np.zeros(len(items)) for f in REC_FIELDS})
    events["rec_time"] = np.zeros(len(items))
    texts = []
    for i, (_, _, fields) in enumerate(items):
        for k, v in fields.items():
            if k != "text":
                events[k][i] = v
        texts.append(fields.get("text"))
    return EdfRecording(
        preamble="** DATE: today\n** TYPE: EDF_FILE", library="4.2", t=np.array(times),
        gx=gx, gy=gx.copy(), pa=pa, rx=np.full(n, 40, np.float32), ry=np.full(n, 30, np.float32),
        errors=np.array([0, 0x0100] + [0] * (n - 2), np.uint16),
        item_type=np.array([it[0] for it in items], np.int16),
        item_before=np.array([it[1] for it in items], np.int64), events=events, texts=texts)


def _start_end(t0: float, t1: float, rate: float, n: int) -> list[tuple]:
    common = {"rec_sample_rate": rate, "rec_record_type": 3, "rec_eye": 1,
              "rec_recording_mode": 1, "rec_filter_type": 2, "rec_pos_type": 0xC0,
              "rec_sflags": 0xafc0}
    return [(RECORDING_INFO, 0, {**common, "rec_time": t0, "rec_state": 1}),
            (RECORDING_INFO, n, {**common, "rec_time": t1, "rec_state": 0})]


def test_hand_made_recording_text_exactly():
    start, end = _start_end(1000, 1003, 1000.0, 3)
    rec = _recording(1000.0, [1000.0, 1001.0, 1002.0], [
        start,
        (MESSAGE, 0, {"sttime": 999, "text": b"TRIALID 7\n12 34 looks like a sample\n  ok\n"}),
        (STARTFIX, 0, {"sttime": 1000}),
        (ENDFIX, 3, {"sttime": 1000, "entime": 1002, "gavx": 101.25, "gavy": 1e8, "ava": 499.5}),
        (ENDSACC, 3, {"sttime": 1000, "entime": 1002, "eye": 1, "gstx": 100, "gsty": 0,
                      "genx": 140, "geny": 30, "supd_x": 40, "eupd_x": 40, "supd_y": 30,
                      "eupd_y": 30, "pvel": 88.4}),
        end,
    ])
    want = "\n".join([
        "** CONVERTED FROM x.edf using edfapi 4.2", "** DATE: today", "** TYPE: EDF_FILE",
        "**", "",
        "START\t1000 \tLEFT\tSAMPLES\tEVENTS", "PRESCALER\t1", "VPRESCALER\t1", "PUPIL\tAREA",
        "EVENTS\tGAZE\tLEFT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2",
        "SAMPLES\tGAZE\tLEFT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2",
        "MSG\t999 TRIALID 7", "\t12 34 looks like a sample", "  ok",
        "SFIX L   1000",
        "1000\t  100.0\t  100.0\t  500.0\t...",
        "1001\t   .\t   .\t    0.0\t.C.",
        "1002\t  102.0\t  102.0\t  500.0\t...",
        "EFIX L   1000\t1002\t3\t  101.2\t   .\t    500",  # 101.25 and 499.5: half to even
        "ESACC R  1000\t1002\t3\t  100.0\t    0.0\t  140.0\t   30.0\t   1.41\t     88",
        "END\t1003 \tSAMPLES\tEVENTS\tRES\t  40.00\t  30.00", ""])
    assert asc_from_recording(rec, "x.edf").decode("latin-1") == want


def test_hand_made_2khz_recording_has_decimal_times_and_half_sample_durations(tmp_path):
    start, end = _start_end(5000, 5001.5, 2000.0, 3)
    rec = _recording(2000.0, [5000.0, 5000.5, 5001.0], [
        start, (STARTBLINK, 1, {"sttime": 5000}), (ENDBLINK, 2, {"sttime": 5000, "entime": 5000}),
        (MESSAGE, 3, {"sttime": 5001, "text": "TRIAL_RESULT é".encode("latin-1")}), end])
    text = asc_from_recording(rec, "x.edf")
    lines = text.decode("latin-1").split("\n")
    assert "SBLINK L 5000.0" in lines and "EBLINK L 5000.0\t5000.0\t0.5" in lines
    assert "5000.5\t   .\t   .\t    0.0\t.C." in lines
    assert b"MSG\t5001.0 TRIAL_RESULT \xe9" in text  # message bytes kept as they are
    path = tmp_path / "x.asc"
    path.write_bytes(text)
    log = parse_asc(str(path))
    assert log.t.tolist() == [5000.0, 5000.5, 5001.0] and log.blocks[0].rate == 2000.0
    assert log.events["EBLINK"] == 1 and log.events["MSG"] == 1


def test_half_millisecond_times_at_1000_hz_keep_their_decimal():
    start, end = _start_end(1000, 1003, 1000.0, 3)
    rec = _recording(1000.0, [1000.0, 1000.5, 1002.0], [start, end])
    lines = asc_from_recording(rec).decode().split("\n")
    assert [ln.split("\t")[0] for ln in lines if ln[:1].isdigit()] == ["1000.0", "1000.5",
                                                                       "1002.0"]


def test_samples_outside_any_block_are_an_error():
    rec = _recording(1000.0, [1.0, 2.0, 3.0], [])
    with pytest.raises(GazeprepError, match="outside any recording block"):
        asc_from_recording(rec)
