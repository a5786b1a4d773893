"""Tests of `gazeprep simulate`: determinism, file shapes, ASC syntax, observer statistics."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from skimage.io import imread
from typer.testing import CliRunner

from gazeprep.cli import app
from gazeprep.simulate.asc_writer import write_asc
from gazeprep.simulate.config import AscTrial, SimConfig
from gazeprep.simulate.dataset import simulate_dataset
from gazeprep.simulate.observer import _boundary_radius, _min_jerk, observer_track, synthesize_trial
from gazeprep.simulate.scene import make_image

SMALL = {"n_images": 4, "sessions": 2, "size": 96, "seed": 7}


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate_dataset(out, SimConfig(**SMALL))
    return out


def test_same_seed_same_bytes_other_seed_differs(sim, tmp_path, tree_digest):
    again = tmp_path / "again"
    simulate_dataset(again, SimConfig(**SMALL))
    assert tree_digest(again) == tree_digest(sim)
    other = tmp_path / "other"
    simulate_dataset(other, SimConfig(**(SMALL | {"seed": 8})))
    a, b = tree_digest(other), tree_digest(sim)
    assert a["raw/obs01.asc"] != b["raw/obs01.asc"]
    assert not set(p for p in a if p.startswith("images/")) & set(p for p in b
                                                                    if p.startswith("images/"))


def test_more_images_keep_the_first_ones(sim, tmp_path):
    bigger = tmp_path / "bigger"
    simulate_dataset(bigger, SimConfig(**(SMALL | {"n_images": 5, "sessions": 1})))
    for i in range(4):
        name = f"images/sim7_{i:04d}.png"
        assert (bigger / name).read_bytes() == (sim / name).read_bytes()


def test_files_and_shapes(sim):
    ids = sorted(p.stem for p in (sim / "images").glob("*.png"))
    assert len(ids) == 4
    assert sorted(p.stem for p in (sim / "masks").glob("*.png")) == ids
    assert sorted(p.name for p in (sim / "raw").iterdir()) == ["obs01.asc", "obs02.asc"]
    for i in ids:
        img = imread(sim / "images" / f"{i}.png")
        mask = imread(sim / "masks" / f"{i}.png")
        assert img.shape == (96, 96, 3) and img.dtype == np.uint8
        assert mask.shape == (96, 96) and set(np.unique(mask)) <= {0, 255}
        assert 0.005 < (mask > 0).mean() < 0.6
    truth = pl.read_parquet(sim / "truth.parquet")
    assert truth.columns[:8] == ["image", "session", "trial", "index", "x", "y", "onset_ms",
                                 "duration_ms"]
    assert {"screen_x", "screen_y", "phase", "width", "height"} <= set(truth.columns)
    assert truth.select(pl.col("x").is_between(0, 1).all(), pl.col("y").is_between(0, 1).all()
                        ).row(0) == (True, True)
    assert truth.group_by("image", "session").len().height == 8  # 4 images x 2 sessions
    for (_, _), g in truth.group_by("image", "session"):
        assert g.sort("index")["index"].to_list() == list(range(g.height))
        on = g.sort("index")["onset_ms"].to_numpy()
        end = on + g.sort("index")["duration_ms"].to_numpy()
        assert np.all(on[1:] > end[:-1])  # a saccade between consecutive fixations


def _parse(path: Path) -> dict:
    """A deliberately simple, independent reading of the ASC (not gazeprep.read.asc)."""
    out = {"trials": [], "samples": [], "efix": [], "sfix": [], "esacc": [], "blinks": [],
           "gaze_coords": [], "imgload": [], "trial_result": 0, "start": 0, "end": 0}
    in_block = False
    for n, line in enumerate(path.read_text("latin-1").splitlines(), 1):
        f = line.split("\t")
        if line.startswith("**") or not line:
            continue
        if re.fullmatch(r"\d+", f[0]):
            assert in_block, f"sample outside START/END at line {n}"
            assert len(f) == 5 and f[4] == "...", f"bad sample line {n}: {line!r}"
            missing = f[1].strip() == "."
            assert (f[2].strip() == ".") == missing and (f[3].strip() == "0.0") == missing
            for col in f[1:4]:
                assert len(col) == 7 or col == "   .", f"column width at line {n}: {line!r}"
            out["samples"].append((int(f[0]), np.nan if missing else float(f[1]),
                                   np.nan if missing else float(f[2])))
        elif f[0] == "MSG":
            t, text = f[1].split(" ", 1)
            int(t)
            if text.startswith("TRIALID"):
                out["trials"].append(int(text.split()[1]))
            elif text.startswith("GAZE_COORDS"):
                out["gaze_coords"].append(text)
            elif text.startswith("!V IMGLOAD"):
                out["imgload"].append(text.split())
            elif text.startswith("TRIAL_RESULT"):
                out["trial_result"] += 1
        elif f[0] == "START":
            in_block = True
            out["start"] += 1
        elif f[0] == "END":
            in_block = False
            out["end"] += 1
        elif line.startswith("SFIX L   "):
            out["sfix"].append(int(line.split()[2]))
        elif line.startswith("EFIX L   "):
            s, e, d = (int(v) for v in line[9:].split("\t")[:3])
            assert d == e - s + 1, f"EFIX duration convention at line {n}"
            out["efix"].append((s, e, *(float(v) for v in line[9:].split("\t")[3:5])))
        elif line.startswith("ESACC L  "):
            v = line[9:].split("\t")
            s, e, d = int(v[0]), int(v[1]), int(v[2])
            assert d == e - s + 1 and len(v) == 9
            out["esacc"].append((s, e, float(v[7]), float(v[8])))
        elif line.startswith("EBLINK L "):
            s, e, d = (int(v) for v in line[9:].split("\t"))
            assert d == e - s + 1
            out["blinks"].append((s, e))
    return out


def test_asc_is_well_formed(sim):
    truth = pl.read_parquet(sim / "truth.parquet")
    asc = _parse(sim / "raw" / "obs01.asc")
    assert asc["trials"] == [1, 2, 3, 4]
    assert asc["start"] == asc["end"] == asc["trial_result"] == 4
    assert set(asc["gaze_coords"]) == {"GAZE_COORDS 0.00 0.00 1919.00 1079.00"}
    for il in asc["imgload"]:
        assert il[2] == "CENTER" and (sim / "images" / il[3]).exists()
        assert il[4:] == ["960", "540", "880", "880"]
    s1 = truth.filter(pl.col("session") == "obs01")
    assert len(asc["efix"]) == len(asc["sfix"]) == s1.height
    assert [e[0] for e in asc["efix"]] == asc["sfix"]
    t = np.array([s[0] for s in asc["samples"]])
    assert np.all(np.diff(t) >= 1)
    # Missing samples occur exactly inside the blinks, and blinks inside saccades.
    x = np.array([s[1] for s in asc["samples"]])
    in_blink = np.zeros(len(t), bool)
    for s, e in asc["blinks"]:
        in_blink |= (t >= s) & (t <= e)
        assert any(ss <= s and e <= se for ss, se, _, _ in asc["esacc"])
    assert np.array_equal(np.isnan(x), in_blink)
    assert len(asc["esacc"]) == s1.height - 4  # one saccade between consecutive fixations


def test_efix_positions_match_truth(sim):
    """The tracker's EFIX averages sit on the planned fixations (screen pixels)."""
    truth = pl.read_parquet(sim / "truth.parquet").filter(pl.col("session") == "obs01")
    asc = _parse(sim / "raw" / "obs01.asc")
    trial_of = {}
    for il, n in zip(asc["imgload"], asc["trials"], strict=True):
        trial_of[str(n)] = il[3][:-4]
    ordered = truth.sort(pl.col("trial").cast(pl.Int32), "index")
    ex = np.array([e[2] for e in asc["efix"]])
    ey = np.array([e[3] for e in asc["efix"]])
    err = np.hypot(ex - ordered["screen_x"].to_numpy(), ey - ordered["screen_y"].to_numpy())
    assert np.median(err) < 2.0 and err.max() < 10.0  # pixels; drift and noise only


def test_saccades_follow_the_main_sequence(sim):
    asc = _parse(sim / "raw" / "obs01.asc")
    dur = np.array([e[1] - e[0] + 1 for e in asc["esacc"] if True], float)
    amp = np.array([e[2] for e in asc["esacc"]])
    pv = np.array([e[3] for e in asc["esacc"]])
    blinkless = np.array([not any(s <= b0 and b1 <= e for b0, b1 in asc["blinks"])
                          for s, e, _, _ in asc["esacc"]])
    d, a, v = dur[blinkless], amp[blinkless], pv[blinkless]
    assert np.allclose(d, np.round(2.2 * a + 21), atol=1)
    assert np.corrcoef(a, v)[0, 1] > 0.9 and v.max() < 900


def test_min_jerk_profile_is_bell_shaped():
    tau = np.linspace(0, 1, 101)
    pos = _min_jerk(tau)
    vel = np.diff(pos)
    assert pos[0] == 0 and pos[-1] == pytest.approx(1)
    assert np.argmax(vel) in (49, 50) and vel[0] < 0.01 * vel.max()


def test_boundary_radius_of_a_disk():
    yy, xx = np.mgrid[0:101, 0:101]
    disk = np.hypot(yy - 50, xx - 50) <= 30
    r = _boundary_radius(disk, np.array([50.0, 50.0]), np.linspace(0, 2 * np.pi, 16))
    assert np.allclose(r, 30, atol=1.0)


def test_observer_statistics_are_plausible():
    """Durations, counts and the centre-to-boundary scan on 40 trials (GazeMedSeg-like)."""
    cfg = SimConfig(size=128)
    durs, inside, dist_early, dist_late, counts = [], [], [], [], []
    for i in range(40):
        _, mask, blobs = make_image(np.random.default_rng((1, i)), 128)
        xy, dur, phase = observer_track(np.random.default_rng((2, i)), blobs, cfg)
        durs.extend(dur)
        counts.append(len(xy))
        px = np.clip((xy * 128).astype(int), 0, 127)
        inside.append(mask[px[:, 1], px[:, 0]].mean())
        yy, xx = np.nonzero(blobs[0])
        c = np.array([xx.mean(), yy.mean()]) / 128
        d = np.hypot(*(xy[phase == 2] - c).T)
        k = len(d) // 3
        dist_early.append(np.median(d[:k]))
        dist_late.append(np.median(d[-k:]))
    assert 250 <= np.median(durs) <= 350
    assert 18 <= np.median(counts) <= 32
    assert 0.7 <= np.mean(inside) <= 0.97
    assert np.median(dist_late) > np.median(dist_early)  # centre first, boundary last


def test_writer_handles_float_formatting(tmp_path):
    trial = AscTrial(
        image_id="a", trial_no=1, t=np.arange(1000, 1004), x=np.array([1.0, 964.25, np.nan, 10]),
        y=np.array([2.0, 3.0, np.nan, 1919.96]), pupil=np.array([900.0, 901, 0, 902]),
        fix=(np.array([1000]), np.array([1001]), np.array([482.6]), np.array([2.5]),
             np.array([900.5])),
        sacc=(np.array([1002]), np.array([1003]), *[np.array([1.0])] * 6),
        blink=(np.array([1002]), np.array([1002])), rect=(40.0, 0.0, 1000.0, 1000.0),
    )
    path = tmp_path / "x.asc"
    write_asc(path, [trial], SimConfig(), session="x")
    text = path.read_text()
    assert "1000\t    1.0\t    2.0\t  900.0\t...\n" in text
    assert "1002\t   .\t   .\t    0.0\t...\n" in text
    assert "1003\t   10.0\t 1920.0\t  902.0\t...\n" in text
    assert "EFIX L   1000\t1001\t2\t  482.6\t    2.5\t    900\n" in text
    events = ("START", "SFIX", "EFIX", "SSACC", "SBLINK", "EBLINK", "ESACC", "END")
    order = [ln.split()[0] for ln in text.splitlines() if ln.startswith(events)]
    assert order == list(events)


def test_cli_writes_dataset(tmp_path):
    res = CliRunner().invoke(app, ["simulate", str(tmp_path / "o"), "--images", "2", "--size",
                                   "64", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "truth.parquet").exists()
    assert len(list((tmp_path / "o" / "images").glob("*.png"))) == 2
    bad = CliRunner().invoke(app, ["simulate", str(tmp_path / "p"), "--display", "2000"])
    assert bad.exit_code == 2 and "1080" in bad.output  # a usage error stating the limit


def test_synthesized_samples_are_consecutive_and_start_at_t0():
    cfg = SimConfig(size=64)
    _, _, blobs = make_image(np.random.default_rng(0), 64)
    rng = np.random.default_rng(1)
    xy, dur, _ = observer_track(rng, blobs, cfg)
    tr = synthesize_trial(rng, xy, dur, cfg, 5000, "a", 1)
    assert tr.t[0] == 5000 and np.all(np.diff(tr.t) == 1)
    assert np.array_equal(tr.fix[1] - tr.fix[0] + 1, dur)
