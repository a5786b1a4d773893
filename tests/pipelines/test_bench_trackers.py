"""The tracker benchmark compares like with like: the BeGaze sample export it renders from the
real event export is read by ours and by pymovements' ``from_begaze`` as the same samples, and
our I-VT finds BeGaze's own fixations in it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gazeprep.ingest import ingest_file
from gazeprep.read.options import IngestOptions

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_trackers",
                                                  ROOT / "pipelines" / "bench_trackers.py")
    mod = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(ROOT / "pipelines"))
    spec.loader.exec_module(mod)
    return mod


def test_rendered_sample_export(shared_data, tmp_path):
    real = shared_data("vendors", "emdat", "SMI_Sample_67_Events.txt")
    bt = _bench()
    p = tmp_path / "smp.txt"
    n = bt.smi_samples(real, p, 0, max_rows=6000)
    res = ingest_file(p, IngestOptions(screen_px=(1920, 1080)))
    assert res.n_samples == n == 6000
    events = ingest_file(real, IngestOptions(screen_px=(1920, 1080))).fixations
    # The first 50 s: BeGaze's fixations (at least 100 ms) found again by our I-VT. The
    # rendered samples start at the first event (a saccade at 167531286064 us).
    mid = (events["order"] + events["duration_ms"] / 2).to_numpy() - 167531286.064
    keep = (mid < 6000 / 120 * 1000 - 100) & (events["duration_ms"].to_numpy() >= 100)
    mid = mid[keep]
    ours = res.fixations
    start = ours["onset_ms"].to_numpy()
    k = np.searchsorted(start, mid, side="right") - 1
    hit = (k >= 0) & (start[np.maximum(k, 0)] + ours["duration_ms"].to_numpy()[
        np.maximum(k, 0)] >= mid)
    assert hit.mean() > 0.95, hit.mean()
    pm = pytest.importorskip("pymovements")
    g = pm.gaze.from_begaze(p)
    assert g.samples.height == n


def test_tiled_tobii_export_is_the_export_again(shared_data, tmp_path):
    """The benchmark's tiled Tobii file holds the real export's fixations once per copy, at
    later and later times (so ours and pymovements read the same rows)."""
    real = shared_data("vendors", "emdat", "P61-Fixation-Data.tsv")
    bt = _bench()
    p = tmp_path / "P61-Fixation-Data.tsv"
    n = bt.tile_text(real, p, 0.3, ["Timestamp"], skip=18)
    one = ingest_file(real, IngestOptions())
    tiled = ingest_file(p, IngestOptions())
    copies = n // 4664
    assert copies > 1 and n == tiled.rows_read == copies * one.rows_read == copies * 4664
    assert tiled.rows_kept == copies * one.rows_kept
    assert np.all(np.diff(tiled.fixations["order"].to_numpy()) > 0)
