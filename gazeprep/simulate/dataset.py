"""A simulated dataset on disk (images, masks, one ASC per observer, the true fixations) and how
the fixations ingest finds in it compare with the truth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from gazeprep.simulate.asc_writer import write_asc
from gazeprep.simulate.config import (
    IMAGE_STREAM,
    SESSION_STREAM,
    TRACK_STREAM,
    AscTrial,
    SimConfig,
)
from gazeprep.simulate.observer import observer_track, synthesize_trial
from gazeprep.simulate.scene import make_image


def _session_order(cfg: SimConfig, session: int) -> tuple[np.ndarray, float]:
    """The image order and the personal duration factor of one observer."""
    rng = np.random.default_rng((cfg.seed, SESSION_STREAM, session))
    return rng.permutation(cfg.n_images), float(np.exp(rng.normal(0, 0.1)))


def simulated_id(cfg: SimConfig, i: int) -> str:
    """The id (file stem) of image ``i``: the seed is part of it, so splits never collide."""
    return f"sim{cfg.seed}_{i:04d}"


def simulate_dataset(
    out: str | Path,
    cfg: SimConfig,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write a simulated dataset: images, masks, one ASC per session and the true fixations.

    Parameters
    ----------
    out : str or Path
        Output folder; ``images/``, ``masks/``, ``raw/``, ``truth.parquet`` and
        ``simulate.json`` are written inside it (existing files of the same names replaced).
    cfg : SimConfig
        Simulator parameters.
    progress : callable, optional
        ``progress(stage, done, total)`` called after each image and each session.

    Returns
    -------
    dict
        Summary: counts of images, sessions, fixations, samples, blinks, and the output paths.
    """
    import json

    import polars as pl
    from skimage.io import imsave

    out = Path(out)
    for sub in ("images", "masks", "raw"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    all_blobs: list[list[np.ndarray]] = []
    for i in range(cfg.n_images):
        rng = np.random.default_rng((cfg.seed, IMAGE_STREAM, i))
        rgb, mask, blobs = make_image(rng, cfg.size, cfg.area_median)
        iid = simulated_id(cfg, i)
        imsave(out / "images" / f"{iid}.png", rgb, check_contrast=False)
        imsave(out / "masks" / f"{iid}.png", (mask * 255).astype(np.uint8), check_contrast=False)
        all_blobs.append(blobs)
        if progress:
            progress("images", i + 1, cfg.n_images)

    rows: list[pl.DataFrame] = []
    n_samples = n_blinks = 0
    for s in range(cfg.sessions):
        session = f"obs{s + 1:02d}"
        order, speed = _session_order(cfg, s)
        t = 1_000_000 + 7919 * s  # tracker clock at the session's first trial
        trials: list[AscTrial] = []
        for trial_no, i in enumerate(order, start=1):
            rng = np.random.default_rng((cfg.seed, TRACK_STREAM, s, int(i)))
            xy, dur, phase = observer_track(rng, all_blobs[i], cfg, speed)
            trial = synthesize_trial(rng, xy, dur, cfg, t, simulated_id(cfg, i), trial_no)
            trials.append(trial)
            left, top, w, h = trial.rect
            rows.append(pl.DataFrame({
                "image": simulated_id(cfg, i),
                "session": session,
                "trial": str(trial_no),
                "index": np.arange(len(xy), dtype=np.int32),
                "x": xy[:, 0].astype(np.float32),
                "y": xy[:, 1].astype(np.float32),
                "onset_ms": (trial.fix[0] - t).astype(np.float64),
                "duration_ms": dur.astype(np.float32),
                "screen_x": (left + xy[:, 0] * w).astype(np.float32),
                "screen_y": (top + xy[:, 1] * h).astype(np.float32),
                "phase": np.array(["start", "search", "scan"])[phase],
                "width": np.full(len(xy), cfg.size, np.int32),
                "height": np.full(len(xy), cfg.size, np.int32),
            }))
            n_samples += len(trial.t)
            n_blinks += len(trial.blink[0])
            # Inter-trial interval: drift correction and image loading, not recorded.
            t = int(trial.t[-1]) + 1500 + int(rng.integers(0, 500))
        write_asc(out / "raw" / f"{session}.asc", trials, cfg, session=session)
        if progress:
            progress("sessions", s + 1, cfg.sessions)

    truth = pl.concat(rows).sort(["session", "image", "index"])
    truth.write_parquet(out / "truth.parquet", compression="zstd")
    params = {k: v for k, v in asdict(cfg).items() if k != "extra"} | {"rect": list(cfg.rect)}
    summary = {
        "images": cfg.n_images,
        "sessions": cfg.sessions,
        "fixations": truth.height,
        "samples": n_samples,
        "blinks": n_blinks,
    }
    (out / "simulate.json").write_text(json.dumps({"params": params, "summary": summary},
                                                  indent=2))
    return summary | {"out": str(out)}


def compare_to_truth(truth, found, cfg: SimConfig) -> dict:
    """Match recovered fixations to the true ones and measure counts and position errors.

    Each true fixation is matched to the recovered fixation of the same (image, session)
    track whose time span contains the true fixation's midpoint (onsets from trial start).

    Parameters
    ----------
    truth : polars.DataFrame
        ``truth.parquet`` of a simulated dataset.
    found : polars.DataFrame
        ``fixations.parquet`` written by ``gazeprep ingest`` on the same dataset.
    cfg : SimConfig
        The simulator parameters (on-screen size and pixels per degree convert errors).

    Returns
    -------
    dict
        ``n_true``, ``n_found``, ``count_ratio`` (found / true), ``matched`` (share of true
        fixations with a match), ``median_err_deg``, ``p95_err_deg``, ``median_err_image``
        (fraction of the image side) and ``within`` (share of matched fixations within
        0.5 deg or 1 % of the image).
    """
    key = ["image", "session"]
    errs: list[np.ndarray] = []
    n_matched = 0
    found_by = {k: g for k, g in found.sort("onset_ms").group_by(key)}
    for k, g in truth.group_by(key):
        f = found_by.get(k)
        if f is None:
            continue
        mid = (g["onset_ms"] + g["duration_ms"] / 2).to_numpy()
        on = f["onset_ms"].to_numpy()
        end = on + f["duration_ms"].to_numpy()
        idx = np.searchsorted(on, mid, side="right") - 1
        ok = (idx >= 0) & (end[np.maximum(idx, 0)] >= mid)
        n_matched += int(ok.sum())
        dx = g["x"].to_numpy()[ok] - f["x"].to_numpy()[idx[ok]]
        dy = g["y"].to_numpy()[ok] - f["y"].to_numpy()[idx[ok]]
        errs.append(np.hypot(dx, dy))
    err = np.concatenate(errs) if errs else np.zeros(0)
    err_deg = err * cfg.display / cfg.px_per_deg
    n_true = truth.height
    return {
        "n_true": n_true,
        "n_found": found.height,
        "count_ratio": found.height / max(n_true, 1),
        "matched": n_matched / max(n_true, 1),
        "median_err_deg": float(np.median(err_deg)) if err.size else float("nan"),
        "p95_err_deg": float(np.percentile(err_deg, 95)) if err.size else float("nan"),
        "median_err_image": float(np.median(err)) if err.size else float("nan"),
        "within": float(np.mean((err_deg <= 0.5) | (err <= 0.01))) if err.size else 0.0,
    }
