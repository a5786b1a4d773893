"""Compare the simulated observer with real expert gaze (GazeMedSeg on Kvasir-SEG).

Prints a markdown table of the statistics the simulator is tuned to: fixations per image,
fixation durations, saccade amplitudes, target size, the share of fixations inside the target,
and how that share and the distance to the target's centre change along the track (by track
quintile: Q1 = first fifth of each track's fixations, Q5 = last fifth).

Usage (from the project root)::

    .venv/bin/python pipelines/sim_stats.py                 # simulate 200 images, seed 0
    .venv/bin/python pipelines/sim_stats.py --sim data/sim  # an existing simulated dataset
    .venv/bin/python pipelines/sim_stats.py --roundtrip     # + simulate -> ingest table
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from _common import data_dir, run
from skimage.io import imread

REAL = data_dir()


def _load_mask(path: Path) -> np.ndarray:
    """Binary mask (JPEG masks thresholded at 128)."""
    m = imread(path)
    if m.ndim == 3:
        m = m[..., 0]
    return m >= 128


def track_stats(fix: pl.DataFrame, mask_dir: Path, suffix: str) -> dict[str, np.ndarray]:
    """Per-image and per-fixation statistics of fixation tracks against their masks.

    Parameters
    ----------
    fix : polars.DataFrame
        Columns image, session, index, x, y (normalised, 0 = left/top), duration_ms.
    mask_dir : Path
        Folder of ``<image><suffix>`` masks.
    suffix : str
        Mask file extension including the dot.

    Returns
    -------
    dict of arrays
        ``n`` (fixations per track), ``dur`` (ms, per fixation), ``amp`` (saccade amplitude in
        image fractions), ``area`` (target area fraction per image), ``inside`` (share inside per
        track), ``q_inside`` and ``q_dist`` ((tracks, 5) share inside and distance to the target
        centre in equivalent radii, per track quintile).
    """
    out: dict[str, list] = {k: [] for k in ("n", "dur", "amp", "area", "inside", "q_inside",
                                            "q_dist")}
    masks: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
    for (image, _session), g in fix.sort("index").group_by(["image", "session"],
                                                           maintain_order=True):
        if image not in masks:
            m = _load_mask(mask_dir / f"{image}{suffix}")
            yy, xx = np.nonzero(m)
            h, w = m.shape
            centre = np.array([xx.mean() / w, yy.mean() / h])
            masks[image] = (m, centre, np.sqrt(m.mean() / np.pi))
        m, centre, r_eq = masks[image]
        h, w = m.shape
        x, y = g["x"].to_numpy(), g["y"].to_numpy()
        ins = m[np.clip((y * h).astype(int), 0, h - 1), np.clip((x * w).astype(int), 0, w - 1)]
        dist = np.hypot(x - centre[0], y - centre[1]) / r_eq
        k = len(x)
        q = np.minimum(np.arange(k) * 5 // k, 4)
        out["n"].append(k)
        out["dur"].extend(g["duration_ms"].to_list())
        out["amp"].extend(np.hypot(np.diff(x), np.diff(y)))
        out["area"].append(m.mean())
        out["inside"].append(ins.mean())
        out["q_inside"].append([ins[q == j].mean() if (q == j).any() else np.nan
                                for j in range(5)])
        out["q_dist"].append([np.median(dist[q == j]) if (q == j).any() else np.nan
                              for j in range(5)])
    return {k: np.asarray(v, float) for k, v in out.items()}


def real_fixations(csv: Path) -> pl.DataFrame:
    """GazeMedSeg's fixation report as (image, session, index, x, y, duration_ms)."""
    df = pl.read_csv(csv)
    return df.select(
        pl.col("IMAGE").str.replace(r"\.[^.]+$", "").alias("image"),
        pl.lit("gazemedseg").alias("session"),
        pl.col("CURRENT_FIX_INDEX").alias("index"),
        pl.col("CURRENT_FIX_X").alias("x"),
        pl.col("CURRENT_FIX_Y").alias("y"),
        pl.col("CURRENT_FIX_DURATION").alias("duration_ms"),
    )


def _iqr(a: np.ndarray, fmt: str = "{:.0f}") -> str:
    q = np.nanpercentile(a, [25, 50, 75])
    return f"{fmt.format(q[1])} [{fmt.format(q[0])}–{fmt.format(q[2])}]"


def table(stats: dict[str, dict[str, np.ndarray]]) -> str:
    """Markdown table, one column per source."""
    names = list(stats)
    rows: list[tuple[str, list[str]]] = [
        ("tracks", [f"{len(s['n'])}" for s in stats.values()]),
        ("fixations per track, median [IQR]", [_iqr(s["n"]) for s in stats.values()]),
        ("fixation duration ms, median [IQR]", [_iqr(s["dur"]) for s in stats.values()]),
        ("log-duration SD", [f"{np.std(np.log(s['dur'])):.2f}" for s in stats.values()]),
        ("saccade amplitude (image fraction), median [IQR]",
         [_iqr(s["amp"], "{:.3f}") for s in stats.values()]),
        ("target area (image fraction), median [IQR]",
         [_iqr(s["area"], "{:.3f}") for s in stats.values()]),
        ("share of fixations inside the target (mean over tracks)",
         [f"{np.mean(s['inside']):.2f}" for s in stats.values()]),
    ]
    for j in range(5):
        rows.append((f"share inside, track quintile Q{j + 1}",
                     [f"{np.nanmean(s['q_inside'][:, j]):.2f}" for s in stats.values()]))
    for j in range(5):
        rows.append((f"distance to target centre / target radius, Q{j + 1} (median)",
                     [f"{np.nanmedian(s['q_dist'][:, j]):.2f}" for s in stats.values()]))
    lines = ["| statistic | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    lines += [f"| {label} | " + " | ".join(vals) + " |" for label, vals in rows]
    return "\n".join(lines)


def roundtrip(sim: Path, detectors: list[str]) -> str:
    """Ingest the simulated ASC files with each detector; markdown table against the truth."""
    import json

    from gazeprep.simulate.config import SimConfig
    from gazeprep.simulate.dataset import compare_to_truth

    params = json.loads((sim / "simulate.json").read_text())["params"]
    cfg = SimConfig(display=params["display"], px_per_deg=params["px_per_deg"])
    truth = pl.read_parquet(sim / "truth.parquet")
    lines = ["| detector | true | found | found/true | matched | median error (deg) | "
             "95th pct error (deg) | within 0.5 deg or 1 % |", "|---|" + "---|" * 7]
    with tempfile.TemporaryDirectory() as tmp:
        for det in detectors:
            run(["gazeprep", "ingest", sim / "raw", "--images", sim / "images",
                 "--out", f"{tmp}/{det}", "--detector", det], echo=False, label="sim_stats")
            r = compare_to_truth(truth, pl.read_parquet(f"{tmp}/{det}/fixations.parquet"), cfg)
            lines.append(f"| {det} | {r['n_true']} | {r['n_found']} | {r['count_ratio']:.3f} | "
                         f"{r['matched']:.3f} | {r['median_err_deg']:.3f} | "
                         f"{r['p95_err_deg']:.3f} | {r['within']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", type=Path, help="existing simulated dataset (default: simulate one)")
    ap.add_argument("--images", type=int, default=200, help="images to simulate (no --sim)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real-csv", type=Path, default=REAL / "gazemedseg" / "kvasir_fixation.csv")
    ap.add_argument("--real-masks", type=Path, default=REAL / "kvasir-seg" / "masks")
    ap.add_argument("--roundtrip", action="store_true",
                    help="also ingest the simulated ASC (tracker, ivt, idt) against the truth")
    args = ap.parse_args()

    stats: dict[str, dict[str, np.ndarray]] = {}
    if args.real_csv.exists() and args.real_masks.is_dir():
        stats["GazeMedSeg Kvasir (real)"] = track_stats(real_fixations(args.real_csv),
                                                        args.real_masks, ".jpg")
    else:
        print(f"(real data not found at {args.real_csv}; simulated column only)")
    with tempfile.TemporaryDirectory() as tmp:
        sim = args.sim
        if sim is None:
            from gazeprep.simulate.config import SimConfig
            from gazeprep.simulate.dataset import simulate_dataset

            sim = Path(tmp)
            simulate_dataset(sim, SimConfig(n_images=args.images, seed=args.seed))
        truth = pl.read_parquet(sim / "truth.parquet")
        stats["gazeprep simulate"] = track_stats(truth, sim / "masks", ".png")
        print(table(stats))
        if args.roundtrip:
            print()
            print(roundtrip(sim, ["tracker", "ivt", "idt"]))


if __name__ == "__main__":
    main()
