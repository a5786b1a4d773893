"""Gaze quality through ingest: the ASC parser's hooks (validations, trial ends, blinks), the
per-(trial, eye) fixation counts of placement, the sample-CSV windows, quality.parquet in the
output transaction, the ingest.json section and the threshold options.

Real data: the shared EyeLink ASCs, whose numbers are recounted here from the file's text.
Generated recordings elsewhere, with known loss, blinks, validations and drops.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.ingest import ingest_file, run_ingest
from gazeprep.quality import Thresholds, file_quality, quality_frame, quality_schema
from gazeprep.quality.table import read_quality
from gazeprep.read.options import IngestOptions

POOR_L = ("!CAL VALIDATION HV9 LR LEFT  POOR ERROR 1.20 avg. 2.10 max  OFFSET 0.90 deg. "
          "30.0,20.0 pix.")
GOOD_R = ("!CAL VALIDATION HV9 LR RIGHT GOOD ERROR 0.30 avg. 0.60 max  OFFSET 0.20 deg. "
          "5.0,3.0 pix.")
GOOD_L = ("!CAL VALIDATION HV9 LR LEFT  GOOD ERROR 0.40 avg. 0.70 max  OFFSET 0.10 deg. "
          "2.0,1.0 pix.")



def _rows(res) -> list[SimpleNamespace]:
    """A file's quality rows (ingest keeps them as a frame) as objects, drops as a dict."""
    if res.quality is None:
        return []
    out = []
    for d in res.quality.to_dicts():
        d["fixations_dropped"] = {x["reason"]: x["count"] for x in d["fixations_dropped"]}
        out.append(SimpleNamespace(**d))
    return out

def sample_line(t: int, left: tuple | None, right: tuple | None) -> str:
    def eye(p):
        return "   .\t   .\t    0.0" if p is None else f"{p[0]:6.1f}\t{p[1]:6.1f}\t 1000.0"
    return f"{t}\t{eye(left)}\t{eye(right)}\t....."


def binocular_asc(trials: list[dict], validations: list[tuple[int, str]] = ()) -> str:
    """An EyeLink ASC, 1000 Hz, both eyes. Each trial: ``start`` (ms), ``n`` samples,
    ``lost_l`` / ``lost_r`` (sample indices without a position), ``blinks`` ([(eye, i0, i1)]),
    ``fix`` ([(eye, i0, i1, x, y)]), ``result`` (write TRIAL_RESULT, default True)."""
    out = ["** CONVERTED FROM rec.edf using edfapi",
           "MSG\t900 GAZE_COORDS 0.00 0.00 1919.00 1079.00"]
    out += [f"MSG\t{t} {text}" for t, text in validations]
    for k, tr in enumerate(trials, 1):
        t0, n = tr["start"], tr["n"]
        out += [f"START\t{t0} \tLEFT\tRIGHT\tSAMPLES\tEVENTS",
                "SAMPLES\tGAZE\tLEFT\tRIGHT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2",
                f"MSG\t{t0} TRIALID T{k}", f"MSG\t{t0} !V IMGLOAD FILL img{k}.png"]
        lines = {}
        for i in range(n):
            left = None if i in tr.get("lost_l", ()) else (960.0, 540.0)
            right = None if i in tr.get("lost_r", ()) else (961.0, 541.0)
            lines.setdefault(i, []).append(sample_line(t0 + i, left, right))
        for eye, i0, i1 in tr.get("blinks", ()):
            lines.setdefault(i1, []).append(f"EBLINK {eye} {t0 + i0}\t{t0 + i1}\t{i1 - i0 + 1}")
        for eye, i0, i1, x, y in tr.get("fix", ()):
            lines.setdefault(i1, []).append(
                f"EFIX {eye}   {t0 + i0}\t{t0 + i1}\t{i1 - i0 + 1}\t{x:7.1f}\t{y:7.1f}\t 1000")
        for i in sorted(lines):
            out += lines[i]
        if tr.get("result", True):
            out.append(f"MSG\t{t0 + n} TRIAL_RESULT 0")
        out.append(f"END\t{t0 + n} \tSAMPLES\tEVENTS\tRES\t  38.0\t  38.0")
    return "\n".join(out) + "\n"


@pytest.fixture()
def two_trials(tmp_path):
    """Trial 1 (1000 ms): left eye lost for 300 samples in one blink, POOR left validation;
    trial 2 (500 ms): clean, after a GOOD left validation. Fixations: kept, short, outside."""
    fix1 = [("L", 10, 209, 960.0, 540.0), ("R", 10, 209, 961.0, 541.0),
            ("L", 500, 529, 900.0, 500.0), ("L", 600, 799, 5000.0, 500.0)]
    trials = [
        dict(start=2000, n=1000, lost_l=set(range(300, 600)), blinks=[("L", 300, 599)],
             fix=fix1),
        dict(start=5000, n=500, fix=[("L", 100, 399, 960.0, 540.0)]),
    ]
    text = binocular_asc(trials, [(1000, POOR_L), (1000, GOOD_R), (4000, GOOD_L)])
    path = tmp_path / "raw" / "rec.asc"
    path.parent.mkdir()
    path.write_text(text)
    return path


def rows_of(res) -> dict:
    return {(q.trial, q.eye): q for q in _rows(res)}


def test_asc_rows_loss_blinks_validation_and_fixation_counts(two_trials):
    res = ingest_file(two_trials, IngestOptions())
    assert res.quality_input is None  # replaced by the rows
    rows = rows_of(res)
    assert list(rows) == [("T1", "L"), ("T1", "R"), ("T2", "L"), ("T2", "R")]
    l1, r1, l2, r2 = rows.values()
    assert (l1.samples_expected, l1.samples_present, l1.samples_valid) == (1000, 1000, 700)
    assert l1.loss_pct == pytest.approx(30.0) and r1.loss_pct == 0.0
    assert (l1.blinks, l1.blink_ms, r1.blinks) == (1, 300.0, 0)  # end - start + one sample
    assert (l1.validation_result, l1.validation_avg_deg, l1.validation_max_deg) == (
        "POOR", 1.2, 2.1)
    assert (r1.validation_result, r1.validation_avg_deg) == ("GOOD", 0.3)
    assert l1.flag_reasons == ["validation_avg", "validation_max", "validation_poor", "loss"]
    assert r1.flag_reasons == []
    assert (l2.validation_result, l2.validation_avg_deg, l2.flag_reasons) == ("GOOD", 0.4, [])
    assert (r2.validation_avg_deg, r2.flag_reasons) == (0.3, [])  # R's last: before trial 1
    # binocular, eye auto -> left kept; the right fixation is dropped as other_eye
    assert (l1.fixations_kept, l1.fixations_dropped) == (1, {"outside_image": 1, "short": 1})
    assert (r1.fixations_kept, r1.fixations_dropped) == (0, {"other_eye": 1})
    assert (l2.fixations_kept, l2.fixations_dropped) == (1, {})
    assert (l1.end_ms, l2.end_ms) == (3000.0, 5500.0)  # TRIAL_RESULT times
    assert (l1.rate_hz, l1.measured_rate_hz) == (1000.0, 1000.0)


def test_thresholds_are_the_options(two_trials):
    res = ingest_file(two_trials, IngestOptions(max_loss=30.0, max_validation_avg=1.5,
                                                max_validation_max=2.5))
    l1 = rows_of(res)[("T1", "L")]
    assert l1.flag_reasons == ["validation_poor"]  # 30 % is at the threshold, not above


def test_trial_without_trial_result_ends_at_its_block(tmp_path):
    path = tmp_path / "r.asc"
    path.write_text(binocular_asc([dict(start=2000, n=400, result=False,
                                        lost_r=set(range(100)))]))
    (l1, r1) = _rows(ingest_file(path, IngestOptions()))
    assert (l1.start_ms, l1.end_ms, l1.samples_expected) == (2000.0, 2400.0, 400)
    assert r1.loss_pct == pytest.approx(25.0) and r1.flag_reasons == ["loss"]


def test_file_without_trialid_has_one_window_per_block(tmp_path):
    text = binocular_asc([dict(start=2000, n=300, lost_l=set(range(30))),
                          dict(start=3000, n=200)])
    text = "\n".join(ln for ln in text.splitlines() if "TRIALID" not in ln) + "\n"
    path = tmp_path / "r.asc"
    path.write_text(text)
    res = ingest_file(path, IngestOptions(detector="ivt"))
    rows = rows_of(res)
    assert list(rows) == [("block 1", "L"), ("block 1", "R"), ("block 2", "L"),
                          ("block 2", "R")]
    assert rows[("block 1", "L")].loss_pct == pytest.approx(10.0)
    assert rows[("block 2", "L")].samples_expected == 200


def test_unknown_validation_form_is_an_anomaly(tmp_path):
    path = tmp_path / "r.asc"
    path.write_text(binocular_asc([dict(start=2000, n=100)],
                                  [(1000, "!CAL VALIDATION HV9 LR LEFT GOOD ERROR x avg.")]))
    res = ingest_file(path, IngestOptions(detector="ivt"))
    assert [a["kind"] for a in res.anomalies] == ["unknown_validation"]
    assert res.anomalies[0]["line"] == 3
    assert all(q.validation_result is None for q in _rows(res))


def test_events_only_asc_reports_no_loss(tmp_path):
    """``edf2asc -e`` (events, no samples): loss is unknown, not 100 %."""
    text = binocular_asc([dict(start=2000, n=300, fix=[("L", 0, 199, 960.0, 540.0)])],
                         [(1000, POOR_L)])
    text = "\n".join(ln for ln in text.splitlines() if not ln[:1].isdigit()) + "\n"
    path = tmp_path / "r.asc"
    path.write_text(text)
    res = ingest_file(path, IngestOptions())
    left = rows_of(res)[("T1", "L")]
    assert left.loss_pct is None and left.samples_expected is None
    assert left.flag_reasons == ["validation_avg", "validation_max", "validation_poor"]


def test_real_binocular_asc_through_ingest(shared_data):
    """The parser's hooks give the numbers recounted from the text."""
    path = shared_data("eyelink", "eyelink_binocular_example.asc")
    text = path.read_text(encoding="latin-1").splitlines()
    res = ingest_file(path, IngestOptions())
    left, right = _rows(res)
    trial_t = float(next(re.match(r"MSG\s+(\d+)", ln)[1] for ln in text if "TRIALID" in ln))
    end_t = float(next(ln.split()[1] for ln in text if ln.startswith("END")))
    samples = [ln.split("\t") for ln in text if ln[:1].isdigit()
               and trial_t <= float(ln.split("\t")[0]) < end_t]
    for q, col in ((left, 1), (right, 4)):
        assert q.samples_present == len(samples)
        assert q.samples_valid == sum(s[col].strip() != "." for s in samples)
    vals = [ln for ln in text if "!CAL VALIDATION" in ln]
    assert (left.validation_avg_deg, right.validation_avg_deg) == tuple(
        float(re.search(r"ERROR ([\d.]+) avg", v)[1]) for v in vals[-2:])
    blinks = {e: sum(1 for ln in text if ln.startswith(f"EBLINK {e}")) for e in "LR"}
    assert (left.blinks, right.blinks) == (blinks["L"], blinks["R"])
    kept = sum(q.fixations_kept for q in _rows(res))
    assert kept == res.rows_kept
    assert sum(sum(q.fixations_dropped.values()) for q in _rows(res)) == res.rows_dropped


def test_hostile_real_asc_gives_rows_not_errors(shared_data):
    """Nested TRIALIDs, MSG times out of order, a saccade without end: rows, no exception."""
    path = shared_data("eyelink", "eyelink_monocular_2khz_example.asc")
    res = ingest_file(path, IngestOptions(lenient=True))
    assert len(_rows(res)) == len(re.findall(r"TRIALID", path.read_text("latin-1")))
    for q in _rows(res):
        assert q.loss_pct is None or 0.0 <= q.loss_pct <= 100.0
        assert q.end_ms >= q.start_ms


def test_sample_csv_rows_one_window_per_image_run(tmp_path):
    t = np.arange(600) * 4.0  # 250 Hz
    img = np.where(t < 1200, "a.png", "b.png")
    x = np.full(t.size, 400.0)
    x[100:150] = np.nan  # 50 of image a's 300 samples lost
    lines = ["time,x,y,image"] + [f"{a:g},{'' if np.isnan(b) else f'{b:g}'},300,{c}"
                                  for a, b, c in zip(t, x, img, strict=True)]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n")
    res = ingest_file(path, IngestOptions(units="px", image_rect=(0, 0, 800, 600)))
    a, b = _rows(res)
    assert (a.trial, a.eye, b.trial) == ("1", "", "2")
    assert (a.start_ms, a.end_ms, b.start_ms, b.end_ms) == (0.0, 1200.0, 1200.0, 2400.0)
    assert a.rate_hz is None and a.measured_rate_hz == 250.0
    assert (a.samples_expected, a.samples_valid) == (300, 250)
    assert a.loss_pct == pytest.approx(100 * 50 / 300) and b.loss_pct == 0.0
    assert a.blinks == 0 and a.validation_result is None
    assert a.fixations_kept + b.fixations_kept == res.rows_kept
    with_rate = ingest_file(path, IngestOptions(units="px", image_rect=(0, 0, 800, 600),
                                                sample_rate=250.0))
    assert _rows(with_rate)[0].rate_hz == 250.0


def test_quality_parquet_in_the_output_transaction(two_trials, tmp_path, file_sha256):
    out = tmp_path / "gaze"
    summary = run_ingest([two_trials.parent], out, IngestOptions())
    rep = json.loads((out / "ingest.json").read_text())
    assert rep["outputs"]["quality.parquet"]["sha256"] == file_sha256(out / "quality.parquet")
    frame = pl.read_parquet(out / "quality.parquet")
    assert dict(frame.schema) == quality_schema()
    assert frame.height == 4 and frame["flagged"].to_list() == [True, False, False, False]
    q = rep["quality"]
    assert q["thresholds"] == {"validation_avg_deg": 1.0, "validation_max_deg": 1.5,
                               "loss_pct": 20.0, "rate_deviation_pct": 5.0}
    assert (q["rows"], q["rows_flagged"], q["trials_flagged"]) == (4, 1, 1)
    (s,) = q["sessions"]
    assert (s["session"], s["trials"], s["trials_flagged"], s["blinks"]) == ("rec", 2, 1, 1)
    assert summary.report["quality"] == q
    got, section = read_quality(out)
    assert got.equals(frame) and section == q
    # a quality.parquet changed after ingest is refused
    frame.with_columns(pl.lit(False).alias("flagged")).write_parquet(out / "quality.parquet")
    with pytest.raises(GazeprepError, match="does not match the sha256"):
        read_quality(out)


def test_fixation_report_gives_an_empty_quality_table(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("IMAGE,CURRENT_FIX_X,CURRENT_FIX_Y,CURRENT_FIX_DURATION\n"
                    "a.png,0.5,0.5,200\n")
    out = tmp_path / "gaze"
    run_ingest([path], out, IngestOptions())
    frame = pl.read_parquet(out / "quality.parquet")
    assert frame.height == 0 and dict(frame.schema) == quality_schema()
    assert json.loads((out / "ingest.json").read_text())["quality"]["sessions"] == []


def test_lenient_failed_file_has_no_rows(two_trials, tmp_path):
    bad = two_trials.parent / "bad.asc"
    bad.write_bytes(b"")
    out = tmp_path / "gaze"
    run_ingest([two_trials.parent], out, IngestOptions(lenient=True))
    frame = pl.read_parquet(out / "quality.parquet")
    assert set(frame["session"]) == {"rec"}


@pytest.mark.parametrize("option, value", [
    ("--max-loss", "120"), ("--max-loss", "-1"), ("--max-validation-avg", "0"),
    ("--max-validation-max", "nan"), ("--max-rate-deviation", "inf")])
def test_threshold_options_out_of_range_exit_2_before_reading(tmp_path, two_trials, run_cli,
                                                              untouched, option, value):
    check = untouched(two_trials.parent)
    out = tmp_path / "gaze"
    res = run_cli("gazeprep", "ingest", two_trials.parent, "--out", out, option, value)
    assert res.returncode == 2 and option in res.stderr
    assert not out.exists()
    check()


def test_threshold_options_reach_the_rows(tmp_path, two_trials, run_cli):
    out = tmp_path / "gaze"
    res = run_cli("gazeprep", "ingest", two_trials.parent, "--out", out, "--max-loss", "35",
                  "--max-validation-avg", "2", "--max-validation-max", "3")
    assert res.returncode == 0, res.stderr
    assert "gaze quality: 1 trial(s) flagged" in res.stderr.replace("\n", " ")
    rep = json.loads((out / "ingest.json").read_text())
    assert rep["quality"]["thresholds"]["loss_pct"] == 35.0
    assert rep["params"]["max_loss"] == 35.0
    frame = pl.read_parquet(out / "quality.parquet")
    assert frame.filter(pl.col("flagged"))["flag_reasons"].to_list() == [["validation_poor"]]


def test_thresholds_defaults_match_the_ingest_options():
    assert Thresholds.of(IngestOptions()) == Thresholds()


def test_hostile_recording_facts_give_defined_rows():
    """Unsorted and NaN windows, NaN and repeated times, window indices out of range, blinks
    and validations at NaN times, counts of trials that have no window: rows, no exception."""
    from collections import Counter

    from gazeprep.read.recorded import RecordingFacts

    rng = np.random.default_rng(0)
    for case in range(40):
        n, k = int(rng.integers(0, 50)), int(rng.integers(1, 5))
        t = rng.choice([np.nan, 1e3, -5.0, 0.0], n) if case % 3 == 0 else np.sort(
            rng.uniform(0, 1000, n))
        xy = rng.uniform(0, 100, (2, n))
        xy[:, rng.random(n) < 0.3] = np.nan
        start = rng.choice([np.nan, 0.0, 500.0, 2000.0, -1.0], k)
        end = rng.choice([np.nan, 100.0, 400.0, 1e9], k)
        facts = RecordingFacts(
            session="s", labels=[f"T{i}" for i in range(k)], start=start, end=end, t=t,
            x=xy, y=xy.copy(), eyes=("L", "R"),
            blocks=None if case % 2 else (np.array([0.0, np.nan]), np.array([np.nan, 50.0]),
                                          np.array([1000.0, 0.0])),
            rate=None if case % 2 == 0 else rng.choice([np.nan, 0.0, -1.0, 500.0], k),
            blinks=(np.array([np.nan, 10.0]), np.array([5.0, np.nan]), np.array(["L", "R"])),
            window=None if case % 4 else rng.integers(-3, k + 3, n),
            validations=[(np.nan, 1, POOR_L), (5.0, 2, GOOD_R), (6.0, 3, "!CAL VALIDATION")],
            fixations=Counter({("T0", "L", "kept"): 2, ("nope", "R", "short"): 1}))
        rows, unknown = file_quality(facts, Thresholds())
        assert len(rows) == 2 * k and unknown == [(3, "!CAL VALIDATION")]
        for q in rows:
            assert q.loss_pct is None or 0.0 <= q.loss_pct <= 100.0
            assert q.samples_valid <= q.samples_present
        assert quality_frame(rows).height == 2 * k
