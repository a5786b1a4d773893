"""A simulated dataset on disk (images, masks, one ASC per observer, the true fixations) and how
the fixations ingest finds in it compare with the truth."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

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
    """The id of image ``i``: its file stem (``sim<seed>_<i>``) or, for volume formats, slice
    ``<stem>_<k>`` of volume ``sim<seed>_mr<v>`` (as gazeprep indexes volumes: a DICOM of a
    single frame is a 2-D image, its id the stem). The seed is part of it, so splits never
    collide."""
    if cfg.volumes:
        v, k = divmod(i, cfg.slices)
        single = min(cfg.slices, cfg.n_images - v * cfg.slices) == 1
        if single and cfg.image_format == "dicom":
            return volume_stem(cfg, v)
        return f"{volume_stem(cfg, v)}_{k}"
    return f"sim{cfg.seed}_{i:04d}"


def volume_stem(cfg: SimConfig, v: int) -> str:
    """The file stem of volume ``v``."""
    return f"sim{cfg.seed}_mr{v:03d}"


#: File name ending per image format.
SUFFIX = {"png": ".png", "dicom": ".dcm", "nifti": ".nii.gz"}
#: Every file name a simulation may write, relative to its folder (recordings: every
#: ``--tracker``'s, :mod:`gazeprep.simulate.writers`).
OWNED = re.compile(r"^((images|masks)/sim\d+_(\d{4,}\.png|mr\d{3,}\.(dcm|nii\.gz))|"
                   r"raw/obs\d{2,}\.(asc|txt|csv|tsv)|raw/obs\d{2,}/exports/000/(blinks\.csv|"
                   r"surfaces/(fixations|gaze_positions)_on_surface_sim\d+_[\w]+\.csv)|"
                   r"truth\.parquet|simulate\.json)$")


def output_names(cfg: SimConfig) -> list[str]:
    """The files a simulation writes, relative to its folder (``simulate.json`` last)."""
    if cfg.volumes:
        n_vol = -(-cfg.n_images // cfg.slices)
        stems = [volume_stem(cfg, v) for v in range(n_vol)]
    else:
        stems = [simulated_id(cfg, i) for i in range(cfg.n_images)]
    from gazeprep.simulate.writers import WRITERS

    suffix = SUFFIX[cfg.image_format]
    ids = [simulated_id(cfg, i) for i in range(cfg.n_images)]
    return ([f"{d}/{stem}{suffix}" for d in ("images", "masks") for stem in stems]
            + [n for s in range(cfg.sessions)
               for n in WRITERS[cfg.tracker].files(f"obs{s + 1:02d}", ids)]
            + ["truth.parquet", "simulate.json"])


def write_images(out: Path, cfg: SimConfig,
                 progress: Callable[[str, int, int], None] | None = None) -> list[list[np.ndarray]]:
    """Write the images and masks into ``out/images``, ``out/masks``; return each image's
    targets (what the observer scans), in image order."""
    from skimage.io import imsave

    all_blobs: list[list[np.ndarray]] = []
    if cfg.volumes:
        from gazeprep.simulate.mr import make_volume, write_dicom, write_nifti

        n_vol = -(-cfg.n_images // cfg.slices)
        for v in range(n_vol):
            k = min(cfg.slices, cfg.n_images - v * cfg.slices)
            rng = np.random.default_rng((cfg.seed, IMAGE_STREAM, v))
            vol, mask, blobs = make_volume(rng, cfg.size, k, cfg.area_median / 2)
            stem = volume_stem(cfg, v)
            for sub, arr, is_mask in (("images", vol, False), ("masks", mask, True)):
                path = out / sub / f"{stem}{SUFFIX[cfg.image_format]}"
                if cfg.image_format == "dicom":
                    write_dicom(path, arr, uid_seed=f"{cfg.seed}-{v}", mask=is_mask)
                else:
                    write_nifti(path, arr, mask=is_mask)
            all_blobs += blobs
            if progress:
                progress("volumes", v + 1, n_vol)
        return all_blobs
    for i in range(cfg.n_images):
        rng = np.random.default_rng((cfg.seed, IMAGE_STREAM, i))
        rgb, mask, blobs = make_image(rng, cfg.size, cfg.area_median)
        iid = simulated_id(cfg, i)
        imsave(out / "images" / f"{iid}.png", rgb, check_contrast=False)
        imsave(out / "masks" / f"{iid}.png", (mask * 255).astype(np.uint8), check_contrast=False)
        all_blobs.append(blobs)
        if progress:
            progress("images", i + 1, cfg.n_images)
    return all_blobs


def simulate_dataset(
    out: str | Path,
    cfg: SimConfig,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write a simulated dataset: images, masks, one ASC per session and the true fixations.

    Parameters
    ----------
    out : str or Path
        Output folder; ``images/``, ``masks/`` (PNG, or one DICOM / NIfTI file per volume),
        ``raw/``, ``truth.parquet`` and ``simulate.json`` are written inside it (existing
        files of the same names replaced).
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

    from gazeprep.simulate.writers import WRITERS

    out = Path(out)
    for sub in ("images", "masks", "raw"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    all_blobs = write_images(out, cfg, progress)

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
        WRITERS[cfg.tracker].write(out, trials, cfg, session)
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
