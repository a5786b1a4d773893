"""FGI building blocks: DARM speed against FGI's loop, and an FGI step's cost against gradtrack's.

- DARM: ``gradseg.methods.fgi.darm.darm`` (vectorised) against the authors' algorithm as a
  Python loop over shuffled uncertain pixels (NumPy, the form their code takes), side by side
  on the same strict/loose masks (heatmap levels 0.5 / 0.3 of synthetic blob heatmaps), best
  of ``--reps``.
- Step: one ``fgi_step`` + backward (4 forward passes, teacher twice the student's width)
  against one gradtrack step + backward of the same student-sized U-Net, best of ``--reps``,
  interleaved; the ratio tells how many gradtrack iterations one FGI iteration costs.

Run::

    .venv/bin/python pipelines/bench_fgi.py --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def blob_masks(b: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Strict/loose masks (heatmap >= 0.5 / >= 0.3) of one smooth random blob per image."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    c = torch.rand(b, 2, generator=g) * size * 0.5 + size * 0.25
    r = torch.rand(b, generator=g) * size * 0.2 + size * 0.15
    d = ((yy - c[:, :1, None]) ** 2 + (xx - c[:, 1:, None]) ** 2).sqrt() / r[:, None, None]
    heat = torch.exp(-(d**2))[:, None]
    return (heat >= 0.5).float(), (heat >= 0.3).float()


def darm_loop(image, strict, loose, ratio=0.3, block=(3, 10), rng=None):
    """FGI's algorithm as its code runs it: host copy, shuffled coordinates, one block a turn."""
    rng = rng or np.random.default_rng(0)
    out, lo = image.clone(), loose.clone()
    unc = (strict != loose)[:, 0].cpu().numpy()
    coords = np.argwhere(unc)
    target = int(len(coords) * ratio)
    rng.shuffle(coords)
    h, w = unc.shape[1:]
    done = 0
    for bi, cy, cx in coords:
        if done >= target:
            break
        s = int(rng.integers(block[0], block[1] + 1))
        y0, y1 = max(0, cy - s // 2), min(h, cy + s // 2 + 1)
        x0, x1 = max(0, cx - s // 2), min(w, cx + s // 2 + 1)
        out[bi, :, y0:y1, x0:x1] = 0
        lo[bi, 0, y0:y1, x0:x1] = 0
        done += (y1 - y0) * (x1 - x0)
    return out, lo


def best(fns: dict, reps: int) -> dict[str, float]:
    for f in fns.values():
        f()
    times = {k: float("inf") for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k] = min(times[k], time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224, help="DARM image side (FGI: 224)")
    ap.add_argument("--step-size", type=int, default=128, help="image side of the step test")
    ap.add_argument("--base-channels", type=int, default=8)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from gradseg.methods import build_model, get_method
    from gradseg.methods.fgi.config import FGIConfig
    from gradseg.methods.fgi.darm import darm
    from gradseg.methods.fgi.method import build_fgi
    from gradseg.methods.fgi.step import fgi_step

    strict, loose = blob_masks(args.batch, args.size)
    image = torch.rand(args.batch, 3, args.size, args.size)
    gen = torch.Generator().manual_seed(0)
    t = best({"vectorised": lambda: darm(image, strict, loose, generator=gen),
              "loop": lambda: darm_loop(image, strict, loose)}, args.reps)
    n_unc = int((strict != loose).sum())
    print(f"DARM, batch {args.batch} x {args.size} px, {n_unc} uncertain pixels: vectorised "
          f"{t['vectorised'] * 1e3:.2f} ms, FGI loop {t['loop'] * 1e3:.2f} ms, "
          f"{t['loop'] / t['vectorised']:.1f}x")

    s, levels = args.step_size, 4
    heat = torch.rand(args.batch, 1, s, s)
    batch = {"image": torch.rand(args.batch, 3, s, s), "heatmap": heat,
             "maps": torch.rand(args.batch, levels, s, s), "pseudo": (heat > 0.5).float()}
    run = {"method": "gradtrack", "levels": levels, "base_channels": args.base_channels,
           "map_order": "whole-first", "att_weight": 0.5, "seg_weight": 1.0}
    model, gt = build_model(run), get_method(run)

    def gradtrack() -> None:
        gt.objective(model(batch["image"]), batch)[0].backward()

    fns = {"gradtrack": gradtrack}
    for method in ("fgi", "gradtrack+fgi"):
        cfg = FGIConfig(method=method, levels=levels, base_channels=args.base_channels)
        pair = build_fgi(cfg)
        fns[method] = (lambda p=pair, c=cfg:
                       fgi_step(p.teacher, p.student, batch, 0, c)[0].backward())
    t = best(fns, args.reps)
    print(f"training step + backward, batch {args.batch} x {s} px, base {args.base_channels}: "
          + ", ".join(f"{k} {v:.3f} s ({v / t['gradtrack']:.1f}x)" for k, v in t.items()))


if __name__ == "__main__":
    main()
