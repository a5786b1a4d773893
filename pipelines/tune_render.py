"""Choose the render defaults on real gaze: 880 Kvasir-SEG training images, 780 tune / 100 confirm.

Usage (from the project root)::

    .venv/bin/python pipelines/tune_render.py [--data $GAZE_DATA] [--gaze data/kvasir/gaze]
        [--size 256] [--search-subset 300] [--out data/tune_render.md]

Split rule (fixed): the ids (image file stems that have gaze) are sorted, shuffled with
``numpy.random.default_rng(20240601).permutation``; the first 100 are the confirming set, the
other 780 the tuning set. Every choice is made on the tuning set only; the confirming set is
scored once per reported row.

Steps: render every map configuration once in memory at S px (numba), score threshold rules
(vectorised) on all 780 tuning images, search the image-refined (watershed) rules on a seeded
subset of the tuning set, re-score the best few on all 780, then report the winner and the
ablations (forward truncation, points only, duration weighting on/off) and the GazeMedSeg heatmap
baseline (> 0.5) on tune and confirm. The gaze comes from ``gazeprep ingest`` of
``gazemedseg/kvasir_fixation.csv`` (run here when ``--gaze`` has no tracks.parquet).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
from _common import data_dir, run
from kvasir_split import SEED, split_ids

from gazeprep.contract.metrics import dice_iou, mean_defined
from gazeprep.render.images import index_folder, load_image, load_mask
from gazeprep.render.maps import render_images
from gazeprep.render.params import RenderParams
from gazeprep.render.pseudo import edges, pseudo_masks
from gazeprep.tracks import read_tracks


def load_data(data: Path, gaze: Path, size: int, decoded: Path | None = None):
    """Tracks, images and masks of every image with gaze, in sorted id order.

    ``decoded`` (optional .npz) keeps the decoded S-px images and masks between runs.
    """
    if not (gaze / "tracks.parquet").is_file():
        csv = data / "gazemedseg" / "kvasir_fixation.csv"
        run(["gazeprep", "ingest", csv, "--out", gaze], label="tune_render")
    tracks, _ = read_tracks(gaze)
    img_ix = index_folder(data / "kvasir-seg" / "images")
    mask_ix = index_folder(data / "kvasir-seg" / "masks")
    ids = sorted(set(tracks) & set(img_ix) & set(mask_ix))
    if decoded is not None and decoded.is_file():
        z = np.load(decoded)
        if list(z["ids"]) == ids and z["images"].shape[-1] == size:
            print(f"decoded images and masks from {decoded}")
            return ids, [tracks[i] for i in ids], z["images"], z["masks"]
    t0 = time.perf_counter()
    images = np.stack([load_image(img_ix[i], size)[0] for i in ids])
    masks = np.stack([load_mask(mask_ix[i], size)[0] for i in ids]).astype(bool)
    print(f"decoded {len(ids)} images + masks in {time.perf_counter() - t0:.1f} s", flush=True)
    if decoded is not None:
        decoded.parent.mkdir(parents=True, exist_ok=True)
        np.savez(decoded, ids=np.array(ids), images=images, masks=masks)
    return ids, [tracks[i] for i in ids], images, masks


def threshold_curve(src: np.ndarray, masks: np.ndarray, ths: np.ndarray) -> np.ndarray:
    """Mean Dice of ``src > th`` for every threshold at once (one histogram pass).

    Parameters
    ----------
    src : ndarray, shape (N, S, S)
    masks : ndarray of bool, shape (N, S, S)
    ths : ndarray, shape (T,), increasing

    Returns
    -------
    ndarray, shape (T,)
    """
    n, t = src.shape[0], len(ths)
    # k = how many thresholds lie strictly below the value: foreground for thresholds j < k.
    k = np.searchsorted(ths, src.reshape(n, -1), side="left")
    flat = (np.arange(n)[:, None] * (t + 1) + k).ravel()
    all_c = np.bincount(flat, minlength=n * (t + 1)).reshape(n, t + 1)
    fg_c = np.bincount(flat, weights=masks.reshape(n, -1).ravel().astype(np.float64),
                       minlength=n * (t + 1)).reshape(n, t + 1)
    pred = np.cumsum(all_c[:, ::-1], axis=1)[:, ::-1][:, 1:]
    inter = np.cumsum(fg_c[:, ::-1], axis=1)[:, ::-1][:, 1:]
    truth = masks.reshape(n, -1).sum(axis=1)[:, None]
    denom = pred + truth
    dice = np.where(denom > 0, 2 * inter / np.maximum(denom, 1), 1.0)
    return dice.mean(axis=0)


def pseudo_dice(maps, heat, images, masks, params, edge_cache):
    """Mean pseudo-mask Dice of ``params`` on the given images (edges precomputed)."""
    if params.refine == "watershed":
        from gazeprep.render.pseudo import pseudo_source, watershed_refine

        src = pseudo_source(maps, params)
        pred = np.stack([watershed_refine(e, s, h, params)
                         for e, s, h in zip(edge_cache, src, heat, strict=True)])
    else:
        pred = pseudo_masks(maps, params)[:, 0] > 0
    return mean_defined(dice_iou(pred, masks)[0])[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=data_dir())
    ap.add_argument("--gaze", type=Path, default=Path("data/kvasir/gaze"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--search-subset", type=int, default=300,
                    help="tuning images used to search watershed rules (then re-scored on all)")
    ap.add_argument("--out", type=Path, default=Path("data/tune_render.md"))
    ap.add_argument("--decoded", type=Path, default=Path("data/kvasir/decoded.npz"),
                    help="cache of the decoded S-px images/masks (reused when ids match)")
    args = ap.parse_args()
    t_start = time.perf_counter()
    ids, tracks, images, masks = load_data(args.data, args.gaze, args.size,
                                            args.decoded)
    tune_ids, confirm_ids = split_ids(ids)
    pos = {i: k for k, i in enumerate(ids)}
    tune = np.array([pos[i] for i in tune_ids])
    conf = np.array([pos[i] for i in confirm_ids])
    sub = np.random.default_rng(SEED + 1).choice(tune, min(args.search_subset, len(tune)),
                                                 replace=False)
    print(f"{len(ids)} images: {len(tune)} tune / {len(conf)} confirm; search subset {len(sub)}")

    base = RenderParams(size=args.size, refine="none")
    laws = {"off": dict(duration_law="off", rho=0.0),
            "const": dict(duration_law="const", rho=0.02),
            "power": dict(duration_law="power", rho=0.02, alpha=0.5)}
    rendered: dict[tuple, tuple] = {}

    def get(**kw):
        # A render of all images is ~1 GB: keep only the last two (re-rendering costs seconds).
        p = dataclasses.replace(base, **kw)
        key = (p.tau, p.gamma, p.duration_law, p.rho, p.alpha, p.direction, p.segments, p.ratios)
        if key not in rendered:
            while len(rendered) >= 2:
                rendered.pop(next(iter(rendered)))
            maps, heat = render_images(tracks, p)
            rendered[key] = (maps, heat[:, 0])
        return p, rendered[key]

    # Stage A: map parameters x threshold rules, all 780 tuning images (vectorised, cheap).
    rows_a = []
    t0 = time.perf_counter()
    for tau in (0.05, 0.08, 0.12, 0.16):
        for gamma in (1.0, 2.0):
            for lkw in laws.values():
                p, (maps, heat) = get(tau=tau, gamma=gamma, **lkw)
                for source, level in (("mean", 1), ("level", 1), ("level", 2), ("level", 3)):
                    q = dataclasses.replace(p, pseudo_source=source, pseudo_level=level)
                    from gazeprep.render.pseudo import pseudo_source as src_of

                    ths = np.round(np.arange(0.1, 0.95, 0.05), 2)
                    curve = threshold_curve(src_of(maps[tune], q), masks[tune], ths)
                    j = int(np.argmax(curve))
                    rows_a.append((float(curve[j]),
                                   dataclasses.replace(q, pseudo_threshold=float(ths[j]))))
    rows_a.sort(key=lambda r: -r[0])
    print(f"stage A: {len(rows_a)} threshold rules in {time.perf_counter() - t0:.0f} s; best "
          f"{rows_a[0][0]:.4f}", flush=True)

    # Stage B: watershed refinement on a seeded subset of the tuning images.
    t0 = time.perf_counter()
    edge_cache = {sig: np.stack([edges(images[i], dataclasses.replace(base, edge_sigma=sig))
                                 for i in range(len(ids))]).astype(np.float32)
                  for sig in (1.0, 2.0, 3.0)}
    rows_b = []
    for tau in (0.05, 0.08, 0.12):
        for law in ("off", "power"):
            p, (maps, heat) = get(tau=tau, gamma=1.0, **laws[law])
            for fg in (0.6, 0.7, 0.8, 0.9):
                for bg in (0.15, 0.2, 0.3):
                    q = dataclasses.replace(p, refine="watershed", pseudo_source="mean",
                                            pseudo_threshold=fg, bg_threshold=bg)
                    d = pseudo_dice(maps[sub], heat[sub], images[sub], masks[sub], q,
                                    edge_cache[q.edge_sigma][sub])
                    rows_b.append((d, q))
    rows_b.sort(key=lambda r: -r[0])
    top = [q for _, q in rows_b[:4]]
    for q in list(top[:2]):
        for sig in (1.0, 3.0):
            top.append(dataclasses.replace(q, edge_sigma=sig))
        top.append(dataclasses.replace(q, pseudo_source="level", pseudo_level=2))
    print(f"stage B: {len(rows_b)} watershed rules on {len(sub)} images in "
          f"{time.perf_counter() - t0:.0f} s; best {rows_b[0][0]:.4f}", flush=True)

    # Stage C: best candidates of both kinds on all 780 tuning images.
    cands = [q for _, q in rows_a[:3]] + top
    scored = []
    for q in cands:
        _, (maps, heat) = get(tau=q.tau, gamma=q.gamma, duration_law=q.duration_law, rho=q.rho,
                              alpha=q.alpha)
        scored.append((pseudo_dice(maps[tune], heat[tune], images[tune], masks[tune], q,
                                   edge_cache[q.edge_sigma][tune]), q))
    scored.sort(key=lambda r: -r[0])
    best = scored[0][1]

    # Report: winner, ablations, levels, heatmap, on tune and confirm.
    def evaluate(q: RenderParams):
        _, (maps, heat) = get(tau=q.tau, gamma=q.gamma, duration_law=q.duration_law, rho=q.rho,
                              alpha=q.alpha, direction=q.direction, segments=q.segments,
                              ratios=q.ratios)
        return [pseudo_dice(maps[ix], heat[ix], images[ix], masks[ix], q,
                            edge_cache[q.edge_sigma][ix]) for ix in (tune, conf)]

    on_law = laws["power"] if best.duration_law == "off" else laws["off"]
    lines = [
        ("**winner** (pseudo-mask)", best),
        ("ablation: forward truncation", dataclasses.replace(best, direction="forward")),
        ("ablation: points only (no saccade segments)", dataclasses.replace(best, segments=False)),
        (f"ablation: duration law {on_law['duration_law']}", dataclasses.replace(best, **on_law)),
        ("ablation: no image refinement (threshold only)",
         dataclasses.replace(best, refine="none")),
    ]
    table = []
    for name, q in lines:
        dt, dc = evaluate(q)
        table.append((name, describe(q), dt, dc))
    _, (maps, heat) = get(tau=best.tau, gamma=best.gamma, duration_law=best.duration_law,
                          rho=best.rho, alpha=best.alpha)
    for k in range(maps.shape[1]):
        table.append((f"level {k + 1} map > 0.5", "", *[
            mean_defined(dice_iou(maps[ix, k] > 0.5, masks[ix])[0])[0] for ix in (tune, conf)]))
    table.append(("GazeMedSeg heatmap > 0.5 (baseline)", "sigma 70 @ 768", *[
        mean_defined(dice_iou(heat[ix] > 0.5, masks[ix])[0])[0] for ix in (tune, conf)]))

    md = [f"# pipelines/tune_render.py — {len(tune)} tune / {len(conf)} confirm, S = {args.size}",
          "", "| rule | parameters | Dice tune (780) | Dice confirm (100) |", "|---|---|---|---|"]
    md += [f"| {n} | {d} | {a:.4f} | {b:.4f} |" for n, d, a, b in table]
    md += ["", "## Search: threshold rules, all tuning images (top 12 of "
           f"{len(rows_a)})", "", "| parameters | Dice tune |", "|---|---|"]
    md += [f"| {describe(q)} | {d:.4f} |" for d, q in rows_a[:12]]
    md += ["", f"## Search: watershed rules, tuning subset of {len(sub)} (top 12 of "
           f"{len(rows_b)})", "", "| parameters | Dice subset |", "|---|---|"]
    md += [f"| {describe(q)} | {d:.4f} |" for d, q in rows_b[:12]]
    md += ["", "## Finalists, all tuning images", "", "| parameters | Dice tune |", "|---|---|"]
    md += [f"| {describe(q)} | {d:.4f} |" for d, q in scored]
    md += ["", f"winner parameters: `{best.to_dict()}`",
           f"total time {time.perf_counter() - t_start:.0f} s"]
    text = "\n".join(md)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(f"written {args.out}")


def describe(q: RenderParams) -> str:
    """Short text of the parameters that the tuning varies."""
    law = q.duration_law if q.duration_law == "off" else f"{q.duration_law} rho={q.rho}"
    if q.duration_law == "power":
        law += f" a={q.alpha}"
    src = "mean" if q.pseudo_source == "mean" else f"L{q.pseudo_level}"
    rule = f"{src}>{q.pseudo_threshold:g}"
    if q.refine == "watershed":
        rule = f"watershed fg {rule}, bg heat<={q.bg_threshold:g}, edge sigma {q.edge_sigma:g}"
    elif q.refine != "none":
        rule += f" +{q.refine}"
    extra = "" if q.direction == "reverse" else ", forward"
    extra += "" if q.segments else ", points only"
    return f"tau={q.tau:g} gamma={q.gamma:g} {law}; {rule}{extra}"


if __name__ == "__main__":
    main()
