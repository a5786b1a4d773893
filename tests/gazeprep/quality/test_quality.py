"""Gaze quality: validation messages, per-trial loss, blinks, rate, flags, the parquet table.

Real data: the shared binocular EyeLink ASC (its validation messages, samples, blinks); its
numbers are recomputed here from the file's text, independently of the parser. Generated data
elsewhere, with known loss and blinks, and hostile inputs that must give defined results.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from real_data import data_root

from gazeprep.quality import (
    REASONS,
    Blinks,
    Thresholds,
    TrialQuality,
    Validation,
    Validations,
    assign_trials,
    flag_reasons,
    measured_rate,
    parse_validation,
    quality_frame,
    quality_schema,
    session_quality,
    session_summary,
    trial_windows,
)
from gazeprep.read.asc.parse import parse_asc

EYELINK = data_root() / "eyelink"


@pytest.fixture(scope="module")
def binocular() -> Path:
    path = EYELINK / "eyelink_binocular_example.asc"
    if not path.exists():
        pytest.skip("needs ../shared/data (real data not present)")
    return path


def msg_lines(path: Path) -> list[tuple[float, str]]:
    """(time, text) of every MSG line, read with a regex."""
    out = []
    for line in path.read_text(encoding="latin-1").splitlines():
        m = re.match(r"MSG\s+(\S+)\s+(.*)$", line)
        if m:
            out.append((float(m[1]), m[2]))
    return out


# ------------------------------------------------------------------ validation messages


def test_parse_validation_real_binocular_lines(binocular):
    vals = [(t, parse_validation(s)) for t, s in msg_lines(binocular) if "VALIDATION" in s]
    assert vals == [
        (1395411.0, Validation("L", "GOOD", 0.41, 0.64, 0.35, "HV9")),
        (1395411.0, Validation("R", "GOOD", 0.31, 0.84, 0.27, "HV9")),
    ]
    # EyeLink's max error is the worst of the per-point offsets (VALIDATE ... OFFSET x deg.)
    for eye, v in (("LEFT", vals[0][1]), ("RIGHT", vals[1][1])):
        points = [float(re.search(r"OFFSET (\S+) deg", s)[1]) for _, s in msg_lines(binocular)
                  if s.startswith("VALIDATE") and f" {eye} " in s]
        assert len(points) == 9 and max(points) == v.max_deg


def test_parse_validation_real_monocular_line():
    path = EYELINK / "eyelink_monocular_2khz_example.asc"
    if not path.exists():
        pytest.skip("needs ../shared/data (real data not present)")
    vals = [parse_validation(s) for _, s in msg_lines(path) if "VALIDATION" in s]
    assert vals == [Validation("L", "GOOD", 0.27, 0.83, 0.11, "HV9")]


@pytest.mark.parametrize(("text", "want"), [
    ("!CAL VALIDATION HV9 R RIGHT POOR ERROR 2.40 avg. 6.03 max  OFFSET 0.19 deg. 4.2,6.3 pix.",
     Validation("R", "POOR", 2.40, 6.03, 0.19, "HV9")),
    ("!CAL VALIDATION HV13 L LEFT  FAIR ERROR 0.72 avg. 1.31 max  OFFSET 0.40 deg. 1,2 pix.",
     Validation("L", "FAIR", 0.72, 1.31, 0.40, "HV13")),
    ("MSG\t1076158 !CAL VALIDATION HV5 L LEFT  GOOD ERROR 0.29 avg. 0.65 max",
     Validation("L", "GOOD", 0.29, 0.65, math.nan, "HV5")),
    ("!CAL VALIDATION HV9 LR RIGHT ABORTED", Validation("R", "ABORTED", math.nan, math.nan,
                                                          math.nan, "HV9")),
    ("!CAL VALIDATION HV9 R ABORTED", Validation("R", "ABORTED", math.nan, math.nan, math.nan,
                                                   "HV9")),
    ("!CAL VALIDATION HV9 LR GOOD ERROR 0.5 avg. 0.9 max", Validation(None, "GOOD", 0.5, 0.9,
                                                                       math.nan, "HV9")),
])
def test_parse_validation_forms(text, want):
    got = parse_validation(text)
    assert got is not None
    assert got[:2] == want[:2] and got.model == want.model
    np.testing.assert_equal(got[2:5], want[2:5])  # NaN == NaN here


@pytest.mark.parametrize("text", [
    "", "!CAL VALIDATION", "!CAL VALIDATION HV9", "!CAL CALIBRATION HV9 LR LEFT GOOD",
    "VALIDATE LR POINT 0  LEFT  at 960,540  OFFSET 0.48 deg.  20.7,7.9 pix.",
    "!CAL VALIDATION HV9 LR LEFT GOOD ERROR 0.41 avg.",
    "!CAL VALIDATION HV9 LR LEFT GOOD ERROR x avg. 0.64 max",
    "!CAL VALIDATION HV9 LR LEFT GOOD ERROR nan avg. 0.64 max",
    "!CAL VALIDATION HV9 LR LEFT GOOD ERROR inf avg. 0.64 max",
    "!CAL VALIDATION HV9 LR LEFT GOOD ERROR 1e999 avg. 0.64 max",
    "!CAL VALIDATION HV9 LR LEFT GOOD ERROR -0.4 avg. 0.64 max",
    "!CAL VALIDATION HV9 LR LEFT GOOD ERROR 0.41 max 0.64 avg.",
    "!CAL VALIDATION HV9 LR LEFT GOOD ERROR 0.41 avg. 0.64 max OFFSET deg.",
    "!CAL VALIDATION HV9 LR LEFT GOOD",  # graded but no numbers: not a known form
    "!CAL VALIDATION HV9 LR LEFT EXCELLENT ERROR 0.1 avg. 0.2 max",
])
def test_parse_validation_unknown_forms_give_none(text):
    assert parse_validation(text) is None


def test_parse_validation_never_raises_on_shuffled_tokens():
    words = "!CAL VALIDATION HV9 LR LEFT GOOD ERROR 0.41 avg. 0.64 max OFFSET 0.35 deg.".split()
    rng = np.random.default_rng(0)
    for _ in range(3000):
        k = int(rng.integers(0, len(words) + 1))
        toks = list(rng.permutation(words)[:k])
        got = parse_validation(" ".join(toks))
        assert got is None or isinstance(got, Validation)
    for toks in itertools.permutations(["ERROR", "0.4", "avg.", "max"]):
        parse_validation("!CAL VALIDATION HV9 L LEFT GOOD " + " ".join(toks))


# ------------------------------------------------------------------ the real recording


def test_real_binocular_trial_quality(binocular):
    log = parse_asc(str(binocular))
    text = binocular.read_text(encoding="latin-1").splitlines()
    (trial,) = log.trials
    (block,) = log.blocks
    start, end = trial.time, block.end_time  # the trimmed file has no TRIAL_RESULT
    vals = Validations.from_messages(*zip(*msg_lines(binocular), strict=True))
    blinks = [re.match(r"EBLINK ([LR]) (\d+)\s+(\d+)", ln).groups() for ln in text
              if ln.startswith("EBLINK")]
    rows = session_quality(
        "bino", [trial.id], np.array([start]), np.array([end]), log.t, log.x, log.y,
        assign_trials(log.t, np.array([start]), np.array([end])), block.rate,
        blocks=(np.array([block.time]), np.array([block.end_time])),
        blinks=Blinks(np.array([float(b[1]) for b in blinks]),
                      np.array([float(b[2]) for b in blinks]), np.array([b[0] for b in blinks])),
        validations=vals, fixations={(trial.id, "L"): {"kept": 1, "short": 2}})
    # independent count from the text: sample lines in [start, end), '.' per eye
    samples = [ln.split("\t") for ln in text if ln[:1].isdigit() and start <= float(
        ln.split("\t")[0]) < end]
    assert [q.eye for q in rows] == ["L", "R"]
    for q, col in zip(rows, (1, 4), strict=True):
        valid = sum(s[col].strip() != "." for s in samples)
        assert q.samples_present == len(samples) == 35
        assert q.samples_expected == 35  # 35 ms at 1000 Hz
        assert q.samples_valid == valid
        assert q.loss_pct == pytest.approx(100 * (35 - valid) / 35)
        assert q.measured_rate_hz == 1000.0 and q.rate_hz == 1000.0
        assert q.validation_time_ms == 1395411.0 and q.validation_result == "GOOD"
        assert q.blinks == 1
    left, right = rows
    assert (left.samples_valid, right.samples_valid) == (17, 28)
    # the blink covers the trial start: EBLINK L 1408787..1408883, R 1408793..1408872 (+1 ms)
    assert (left.blink_ms, right.blink_ms) == (1408884 - start, 1408873 - start)
    assert (left.validation_avg_deg, left.validation_max_deg) == (0.41, 0.64)
    assert (right.validation_avg_deg, right.validation_max_deg) == (0.31, 0.84)
    assert left.flag_reasons == ["loss"]  # 51 % lost in a blink
    assert right.loss_pct == 20.0 and right.flag_reasons == []  # at the threshold, not above
    assert (left.fixations_kept, left.fixations_dropped) == (1, {"short": 2})


# ------------------------------------------------------------------ generated recordings


def recording(n=3000, rate=1000.0):
    """Three 1000 ms trials at ``rate`` Hz, both eyes valid everywhere."""
    t = np.arange(n) * (1000.0 / rate)
    x = np.full((2, n), 500.0)
    y = np.full((2, n), 400.0)
    start, end = np.array([0.0, 1000.0, 2000.0]), np.array([1000.0, 2000.0, 3000.0])
    return t, x, y, start, end


def run(t, x, y, start, end, rate=1000.0, **kw):
    labels = [f"T{i}" for i in range(start.size)]
    return session_quality("s", labels, start, end, t, x, y, assign_trials(t, start, end),
                           rate, **kw)


def test_known_loss_blinks_and_rate():
    t, x, y, start, end = recording()
    x[0, 100:200] = np.nan  # trial 0: a 100 ms blink of the left eye
    keep = np.ones(t.size, bool)
    keep[1000:2000:2] = False  # trial 1: every other sample lost
    blinks = Blinks(np.array([100.0]), np.array([199.0]), np.array(["L"]))
    rows = run(t[keep], x[:, keep], y[:, keep], start, end, blinks=blinks)
    q = {(r.trial, r.eye): r for r in rows}
    assert q["T0", "L"].loss_pct == 10.0 and q["T0", "L"].missing_pct == 10.0
    assert (q["T0", "L"].blinks, q["T0", "L"].blink_ms) == (1, 100.0)
    assert q["T0", "L"].flag_reasons == []
    assert (q["T0", "R"].loss_pct, q["T0", "R"].blinks) == (0.0, 0)
    assert q["T1", "L"].samples_present == 500 and q["T1", "L"].loss_pct == 50.0
    assert q["T1", "L"].measured_rate_hz == 500.0
    assert q["T1", "L"].flag_reasons == ["loss", "rate"]
    assert q["T2", "R"].flag_reasons == [] and q["T2", "R"].samples_expected == 1000


def test_only_recorded_time_is_expected():
    t, x, y, start, end = recording()
    inside = (t >= 500) & (t < 1500)  # one block: 500..1500 ms
    rows = run(t[inside], x[:, inside], y[:, inside], start[:2], end[:2],
               blocks=(np.array([500.0]), np.array([1500.0])))
    assert [r.samples_expected for r in rows] == [500, 500, 500, 500]
    assert [r.loss_pct for r in rows] == [0.0] * 4


def test_block_without_end_records_to_the_trial_end():
    """A truncated recording's last block has no END (NaN): it counts up to the trial's end."""
    t, x, y, start, end = recording()
    rows = run(t, x, y, start, end, blocks=(np.array([0.0, 1500.0]), np.array([1000.0, np.nan])))
    assert [r.samples_expected for r in rows[::2]] == [1000, 500, 1000]


def test_validation_before_the_trial_per_eye():
    t, x, y, start, end = recording()
    vals = Validations.from_messages(
        [-10.0, -5.0, 1500.0, 900.0],
        ["!CAL VALIDATION HV9 LR LEFT  GOOD ERROR 0.3 avg. 0.6 max",
         "!CAL VALIDATION HV9 LR RIGHT POOR ERROR 1.2 avg. 2.6 max",
         "!CAL VALIDATION HV9 LR LEFT  FAIR ERROR 0.9 avg. 1.6 max",  # before trial 2 only
         "!CAL VALIDATION HV9 LR ABORTED"])  # no eye: both eyes, trials 1 and 2
    q = {(r.trial, r.eye): r for r in run(t, x, y, start, end, validations=vals)}
    assert q["T0", "L"].validation_avg_deg == 0.3 and q["T0", "L"].flag_reasons == []
    assert q["T0", "R"].flag_reasons == ["validation_avg", "validation_max", "validation_poor"]
    assert q["T1", "L"].validation_result == "ABORTED"
    assert q["T1", "L"].validation_avg_deg is None
    assert q["T1", "R"].flag_reasons == ["validation_aborted"]
    assert q["T2", "L"].validation_time_ms == 1500.0
    assert q["T2", "L"].flag_reasons == ["validation_max"]  # 1.6 > 1.5 (FAIR by EyeLink)
    assert q["T2", "R"].validation_time_ms == 900.0


def test_thresholds_are_parameters():
    t, x, y, start, end = recording()
    x[0, :150] = np.nan  # 15 % loss in trial 0
    strict = run(t, x, y, start, end, thresholds=Thresholds(loss_pct=10.0))
    default = run(t, x, y, start, end)
    assert strict[0].flag_reasons == ["loss"] and default[0].flag_reasons == []
    assert set(REASONS) >= {r for q in strict for r in q.flag_reasons}


# ------------------------------------------------------------------ hostile inputs


@pytest.mark.filterwarnings("error")  # no RuntimeWarning (0/0, NaN comparisons) either
def test_hostile_inputs_give_defined_results():
    t, x, y, start, end = recording()
    x[:, 1000:2000] = np.nan  # trial 1: both eyes missing throughout
    t = t.copy()
    t[2000:2100] = np.nan  # trial 2: 100 NaN times
    labels = ["T0", "T1", "T2", "empty", "nan-window"]
    starts = np.array([0.0, 1000.0, 2000.0, 5000.0, np.nan])
    ends = np.array([1000.0, 2000.0, 3000.0, 5000.0, np.nan])
    trial = assign_trials(t, starts[:3], ends[:3])
    assert (trial[2000:2100] == -1).all()
    rows = session_quality("s", labels, starts, ends, t, x, y, trial, 1000.0,
                           blinks=Blinks(np.array([np.nan, 10.0]), np.array([5.0, np.nan]),
                                         np.array(["L", "L"])),
                           validations=Validations.from_messages([np.nan], ["x"]))
    q = {(r.trial, r.eye): r for r in rows}
    assert q["T1", "L"].loss_pct == 100.0 and q["T1", "L"].missing_pct == 100.0
    assert q["T1", "L"].flag_reasons == ["loss"]
    assert q["T2", "L"].samples_present == 900 and q["T2", "L"].loss_pct == 10.0
    assert q["empty", "L"].samples_present == 0 and q["empty", "L"].samples_expected == 0
    assert q["empty", "L"].loss_pct is None and q["empty", "L"].measured_rate_hz is None
    assert q["empty", "L"].flag_reasons == ["no_samples"]
    assert q["nan-window", "R"].samples_expected is None and q["nan-window", "R"].blinks == 0
    assert q["T0", "L"].blinks == 0  # NaN blink ends never count
    frame = quality_frame(rows)
    assert frame.height == 10 and frame["recorded_ms"].null_count() == 2


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("rate", [0.0, -1000.0, np.nan, np.inf])
def test_unusable_header_rate_falls_back_to_the_measured_rate(rate):
    t, x, y, start, end = recording()
    rows = run(t, x, y, start, end, rate=rate)
    assert all(r.rate_hz is None and r.measured_rate_hz == 1000.0 for r in rows)
    assert all(r.samples_expected == 1000 and r.loss_pct == 0.0 for r in rows)
    assert all("rate" not in r.flag_reasons for r in rows)


@pytest.mark.filterwarnings("error")
def test_single_sample_and_no_rate_at_all():
    rows = session_quality("s", ["one"], np.array([0.0]), np.array([10.0]), np.array([3.0]),
                           np.array([[np.nan], [1.0]]), np.array([[np.nan], [1.0]]),
                           np.array([0]), np.nan)
    left, right = rows
    assert left.samples_expected is None and left.loss_pct is None
    assert left.missing_pct == 100.0 and left.flag_reasons == ["loss"]
    assert right.missing_pct == 0.0 and right.flag_reasons == []


@pytest.mark.filterwarnings("error")
def test_measured_rate_and_assign_trials_edges():
    assert measured_rate(np.array([])) is None
    assert measured_rate(np.array([5.0, 5.0, np.nan])) is None
    assert measured_rate(np.array([0.0, 0.5, 1.0, np.inf])) == 2000.0
    assert assign_trials(np.array([1.0, np.nan]), np.array([]), np.array([])).tolist() == [-1, -1]
    got = assign_trials(np.array([-1.0, 0.0, 9.9, 10.0, 20.0, 25.0]), np.array([0.0, 20.0]),
                        np.array([10.0, np.nan]))
    assert got.tolist() == [-1, 0, 0, -1, -1, -1]  # a NaN end holds no sample


@pytest.mark.filterwarnings("error")
def test_trial_windows_end_and_rate():
    blocks = (np.array([100.0, 1000.0, 3000.0]), np.array([900.0, 2000.0, np.nan]),
              np.array([1000.0, 500.0, 2000.0]))
    start = np.array([95.0, 300.0, 990.0, 2500.0, 2990.0])
    end = np.array([np.nan, 600.0, np.nan, np.nan, np.nan])
    got_end, rate = trial_windows(start, end, *blocks, last_time=4000.0)
    # 95: TRIALID 5 ms before START, ends at the next TRIALID; 300: TRIAL_RESULT; 990: before
    # START, ends with its block; 2500: between blocks, no rate, ends at the next TRIALID;
    # 2990: its block never ends: the last sample
    assert got_end.tolist() == [300.0, 600.0, 2000.0, 2990.0, 4000.0]
    np.testing.assert_array_equal(rate, [1000.0, 1000.0, 500.0, np.nan, 2000.0])
    e, r = trial_windows(np.array([5.0]), np.array([1.0]), np.array([]), np.array([]),
                         np.array([]))
    assert e.tolist() == [5.0] and np.isnan(r).all()  # an end before the start: empty
    e, r = trial_windows(np.array([]), np.array([]), *blocks)
    assert e.size == r.size == 0


def test_trial_windows_on_the_real_recording(binocular):
    log = parse_asc(str(binocular))
    end, rate = trial_windows(
        np.array([tr.time for tr in log.trials]), np.full(len(log.trials), np.nan),
        np.array([b.time for b in log.blocks]), np.array([b.end_time for b in log.blocks]),
        np.array([b.rate for b in log.blocks]), float(log.t[-1]))
    assert end.tolist() == [1408901.0] and rate.tolist() == [1000.0]  # its END line


# ------------------------------------------------------------------ the table


def test_quality_frame_schema_and_parquet_round_trip(tmp_path):
    t, x, y, start, end = recording()
    x[0, :300] = np.nan
    rows = run(t, x, y, start, end,
               fixations={("T0", "L"): {"kept": 3, "short": 1, "outside_image": 2}})
    frame = quality_frame(rows)
    assert frame.schema == pl.Schema(quality_schema())
    assert frame.height == 6
    first = frame.row(0, named=True)
    assert first["flagged"] and first["flag_reasons"] == ["loss"]
    assert first["fixations_dropped"] == [{"reason": "outside_image", "count": 2},
                                          {"reason": "short", "count": 1}]
    path = tmp_path / "quality.parquet"
    frame.write_parquet(path)
    assert pl.read_parquet(path).equals(frame)
    (summary,) = session_summary(frame)
    assert summary["trials"] == 3 and summary["trials_flagged"] == 1
    assert summary["loss_pct"] == pytest.approx(100 * 300 / 6000)
    assert summary["fixations_kept"] == 3 and summary["fixations_dropped"] == 3
    assert summary["rate_hz"] == [1000.0]


def _frame_reference(rows) -> list[dict]:
    """The table row by row, as its schema says (the plain definition): NaN and infinite
    numbers are null, ``flagged`` is whether there is a reason."""
    out = []
    for q in rows:
        d = {k: getattr(q, k) for k in quality_schema() if k not in ("flagged",
                                                                     "fixations_dropped")}
        d = {k: None if isinstance(v, float) and not math.isfinite(v) else v
             for k, v in d.items()}
        d["flagged"] = bool(q.flag_reasons)
        d["fixations_dropped"] = [{"reason": r, "count": n}
                                  for r, n in q.fixations_dropped.items()]
        out.append({k: d[k] for k in quality_schema()})
    return out


def test_quality_frame_is_the_row_by_row_table_on_hostile_rows():
    rows = []
    values = [0.0, -0.0, 1e308, -1e-308, math.nan, math.inf, -math.inf, None, 2.5]
    for i, v in enumerate(itertools.islice(itertools.cycle(values), 40)):
        reasons = [["loss", "rate"], [], ["no_samples"], list(REASONS)][i % 4]
        rows.append(TrialQuality(
            session=f"s{i % 3}", trial=None if i % 5 == 0 else f"T{i}", eye="LR"[i % 2],
            start_ms=v, end_ms=v, recorded_ms=v, rate_hz=v, measured_rate_hz=v,
            samples_expected=None if v is None else i, samples_present=i, samples_valid=i,
            loss_pct=v, missing_pct=v, blinks=i, blink_ms=0.0 if v is None else v,
            validation_time_ms=v, validation_result=[None, "GOOD", "POOR"][i % 3],
            validation_avg_deg=v, validation_max_deg=v, validation_offset_deg=v,
            fixations_kept=i, fixations_dropped={"short": i} if i % 2 else {},
            flag_reasons=reasons))
    frame = quality_frame(rows)
    assert frame.schema == pl.Schema(quality_schema())
    assert frame.to_dicts() == _frame_reference(rows)


def test_last_before_each_is_last_before_at_every_time():
    recs = [Validation(eye, "GOOD", 0.1 * k, 0.2 * k, 0.0, "HV9")
            for k, eye in enumerate(["L", None, "R", "R", None, "L"])]
    vals = Validations(np.array([10.0, 20.0, 20.0, 35.0, 50.0, 50.0]), recs)
    times = np.array([-math.inf, 0.0, 10.0, 19.9, 20.0, 34.0, 35.0, 50.0, 99.0, math.nan,
                      math.inf])
    for eye in ("L", "R"):
        each = vals.last_before_each(times, eye)
        plain = [vals.last_before(t, eye) for t in times.tolist()]
        assert [None if j < 0 else (vals.time[j], vals.records[j]) for j in each] == plain
    assert Validations(np.zeros(0), []).last_before_each(times, "L").tolist() == [-1] * 11


def test_flag_reasons_on_a_bare_row():
    q = TrialQuality(session="s", trial=None, eye="L", start_ms=0.0, end_ms=1.0,
                     recorded_ms=1.0, rate_hz=1000.0, measured_rate_hz=1100.0,
                     samples_expected=1, samples_present=1, samples_valid=1, loss_pct=0.0,
                     missing_pct=0.0, blinks=0, blink_ms=0.0)
    assert flag_reasons(q) == ["rate"]
    assert flag_reasons(q, Thresholds(rate_deviation_pct=20.0)) == []
    assert session_summary(quality_frame([])) == []


def _blink_ms_reference(start, end, b0, b1, eyes, eye, dt):
    """Every blink against the window, one at a time (the plain definition)."""
    hi = end if np.isfinite(end) else np.inf
    n, total = 0, 0.0
    for s, e, k in zip(b0, b1, eyes, strict=True):
        cover = min(e + dt, hi) - max(s, start)
        if k == eye and cover > 0:  # NaN compares False: a blink with a NaN time never counts
            n, total = n + 1, total + cover
    return n, total


def _recorded_reference(start, end, b0, b1):
    total = 0.0
    for s, e in zip(b0, b1, strict=True):
        e = end if np.isnan(e) else e
        cover = min(e, end) - max(s, start)
        total += cover if cover > 0 else 0.0
    return total


def test_overlap_queries_equal_the_plain_definition_on_hostile_intervals():
    from gazeprep.quality.metrics import Intervals, _eye_blinks, blink_stats, recorded_ms

    rng = np.random.default_rng(7)
    for _ in range(200):
        m, k = int(rng.integers(0, 12)), int(rng.integers(1, 8))
        b0 = np.round(rng.uniform(0, 100, m))
        b1 = b0 + np.round(rng.uniform(-5, 40, m))  # overlapping, unsorted, some ending early
        for arr in (b0, b1):
            arr[rng.random(m) < 0.15] = np.nan  # unknown times, open blocks
        eyes = rng.choice(["L", "R"], m)
        start = np.round(rng.uniform(-10, 100, k))
        end = start + np.round(rng.uniform(0, 60, k))
        start[rng.random(k) < 0.1] = np.nan
        end[rng.random(k) < 0.1] = np.inf
        rate = rng.choice([500.0, 0.0, np.nan], k)
        got = recorded_ms(start, end, Intervals(b0, b1))
        for i in range(k):
            if np.isfinite(start[i]) and np.isfinite(end[i]):
                assert got[i] == pytest.approx(_recorded_reference(start[i], end[i], b0, b1))
            else:
                assert np.isnan(got[i])
        blinks = Blinks(start=b0, end=b1, eye=eyes)
        for eye in ("L", "R"):
            n, ms = blink_stats(start, end, rate, _eye_blinks(blinks, eye))
            for i in range(k):
                dt = 1000.0 / rate[i] if np.isfinite(rate[i]) and rate[i] > 0 else 0.0
                want = ((0, 0.0) if not np.isfinite(start[i]) else
                        _blink_ms_reference(start[i], end[i], b0, b1, eyes, eye, dt))
                assert (n[i], ms[i]) == (want[0], pytest.approx(want[1])), (i, eye)


def test_per_trial_times_equal_measured_rate_trial_by_trial():
    from gazeprep.quality.metrics import _trial_times

    rng = np.random.default_rng(3)
    for _ in range(200):
        n, k = int(rng.integers(0, 60)), int(rng.integers(1, 6))
        t = np.round(rng.uniform(0, 50, n)) / rng.choice([1.0, 2.0, 4.0])  # repeats, any order
        t[rng.random(n) < 0.1] = rng.choice([np.nan, np.inf, -np.inf])
        trial = rng.integers(-1, k, n)
        present, rate = _trial_times(t, trial, k)
        for i in range(k):
            mine = t[trial == i]
            assert present[i] == np.isfinite(mine).sum()
            want = measured_rate(mine)
            assert (np.isnan(rate[i]) if want is None else rate[i] == want), (i, mine)


def _reference_trial_times(t, sample_trial, k):
    """Per trial, the finite sample times and measured_rate (NaN where None), one by one."""
    present, rate = np.zeros(k, np.int64), np.full(k, np.nan)
    for g in range(k):
        mine = t[(sample_trial == g) & np.isfinite(t)]
        present[g] = mine.size
        r = measured_rate(mine)
        rate[g] = np.nan if r is None else r
    return present, rate


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 3, 200])  # one trial, a few, more than taken one by one
def test_trial_times_match_measured_rate_per_trial(seed, k):
    from gazeprep.quality.metrics import _trial_times

    rng = np.random.default_rng(seed)
    n = 3000
    steps = rng.uniform(0.5, 4.0, n)
    steps[rng.random(n) < 0.2] = 0.0  # repeated times
    t = np.cumsum(steps)
    trial = np.sort(rng.integers(-1, k + 1, n))  # in file order; -1 and k: no trial
    if seed % 2:  # out of order: samples of trials interleaved, times shuffled
        trial = rng.permutation(trial)
        t = rng.permutation(t)
    t[rng.random(n) < 0.02] = np.nan
    present, rate = _trial_times(t, trial, k)
    want_present, want_rate = _reference_trial_times(t, trial, k)
    np.testing.assert_array_equal(present, want_present)
    np.testing.assert_array_equal(rate, want_rate)
