"""``SampleRecording.place`` against a plain-Python reference, fixation by fixation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gazeprep.read import samples
from gazeprep.read.options import IngestOptions
from gazeprep.read.result import conform


def _recording(path: Path, opts: IngestOptions) -> samples.SampleRecording:
    return samples.read(str(path), opts)


def _reference_place(rec: samples.SampleRecording, found: list[dict]) -> None:
    """The placement one fixation at a time (the reader's former loop)."""
    res, rect, opts = rec.result, rec.rect, rec.opts
    rows = []
    counts = res.quality_input.fixations
    for (name, trial, lines), se, s in zip(rec.viewings, rec.series, found, strict=True):
        res.rows_read += int(s["first"].size)
        size = samples.shown_size(res, name, rect, opts, [])
        ln = lines[s["first"]]
        for i in range(s["first"].size):
            nx = (s["x"][i] - rect[0]) / rect[2]
            ny = (s["y"][i] - rect[1]) / rect[3]
            if not (0.0 <= nx <= 1.0 and 0.0 <= ny <= 1.0):
                res.drop("outside_image", int(ln[i]))
                counts[(trial, "", "outside_image")] += 1
            elif s["duration"][i] < opts.min_duration:
                res.drop("short", int(ln[i]), f"{s['duration'][i]:g} ms")
                counts[(trial, "", "short")] += 1
            else:
                counts[(trial, "", "kept")] += 1
                pupil = s["pupil"][i]
                rows.append((name, trial, nx, ny, s["start"][i] - se.t[0], s["duration"][i],
                             pupil if np.isfinite(pupil) else None, *(size or (None, None)),
                             s["start"][i], int(ln[i])))
    out = pl.DataFrame(rows, schema=samples._PLACED, orient="row")
    res.fixations = conform(out.with_columns(
        pl.lit(Path(res.path).stem).alias("session"), pl.lit("").alias("eye"),
        pl.lit(Path(res.path).name).alias("source")))


def _detections(rec: samples.SampleRecording, rng: np.random.Generator) -> list[dict]:
    """Fixations of every kind placement meets: inside, outside, NaN position, short, NaN
    duration, and pupil sizes that are finite, NaN or infinite."""
    found = []
    for se in rec.series:
        k = int(rng.integers(0, 40))
        first = np.sort(rng.choice(se.t.size, size=min(k, se.t.size), replace=False))
        n = first.size
        x = rng.uniform(-300, 2300, n)
        x[rng.random(n) < 0.1] = np.nan
        duration = rng.uniform(0, 300, n)
        duration[rng.random(n) < 0.05] = np.nan
        pupil = rng.uniform(2, 6, n)
        pupil[rng.random(n) < 0.1] = np.nan
        pupil[rng.random(n) < 0.1] = np.inf
        found.append({"first": first, "last": first, "x": x, "y": rng.uniform(-100, 1200, n),
                      "start": se.t[first], "duration": duration, "pupil": pupil})
    return found


@pytest.mark.parametrize("seed", range(4))
def test_place_matches_the_one_by_one_reference(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = 400
    image = np.repeat(["a.png", "b.png", "a.png", "c.png"], n // 4)  # four viewings
    p = tmp_path / "g.csv"
    pl.DataFrame({"time": np.arange(n) * 4.0, "x": rng.uniform(0, 1920, n),
                  "y": rng.uniform(0, 1080, n), "image": image}).write_csv(p)
    opts = IngestOptions(format="samples", min_duration=100.0, screen_px=(1920.0, 1080.0))
    ours, ref = _recording(p, opts), _recording(p, opts)
    found = _detections(ours, rng)
    got = ours.place(found)
    _reference_place(ref, found)
    want = ref.result
    assert got.fixations.equals(want.fixations)
    assert got.drops == want.drops and got.dropped == want.dropped
    assert got.rows_read == want.rows_read
    assert dict(got.quality_input.fixations) == dict(want.quality_input.fixations)
    assert got.fixations.height > 0 and set(got.dropped) == {"outside_image", "short"}
