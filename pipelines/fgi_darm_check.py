"""Does an FGI student predict from the image, or from DARM's grey blocks?

FGI trains its student on DARM images only: grey blocks placed on the band where the strict and
loose pseudo-masks disagree, i.e. around the target's edge. Its only training on clean images is
the cross supervision, which the ramp-up keeps near zero for the first few thousand steps. This
prints, for the training images of a run (augmented as in training), the student's mean
foreground probability on the clean images and on their DARM images, next to the mean of the
loose target it learns: a student that leans on the blocks predicts far less on clean images.

Run::

    .venv/bin/python pipelines/fgi_darm_check.py runs/bench_train/fgi/last.pt /tmp/kv128.zarr
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path, help="an fgi or gradtrack+fgi checkpoint")
    ap.add_argument("cache", help="the cache it was trained on")
    ap.add_argument("--images", type=int, default=64, help="training images to look at")
    ap.add_argument("--step", type=int, default=0, help="seeds the DARM draw")
    args = ap.parse_args()

    import torch

    from gradseg.checkpoint import load_checkpoint, load_model
    from gradseg.data.augment import AugmentConfig
    from gradseg.data.cache import CacheDataset, open_cache
    from gradseg.methods.fgi.config import FGIConfig
    from gradseg.methods.fgi.darm import darm
    from gradseg.methods.fgi.masks import fgi_fields, strict_loose
    from gradseg.methods.fgi.step import step_generator

    model, config = load_model(args.checkpoint)
    cfg = FGIConfig.from_config(config)
    info = open_cache(args.cache)
    ids = json.loads((args.checkpoint.parent / "split.json").read_text())["train"][:args.images]
    ds = CacheDataset(info, info.positions(ids), fgi_fields(cfg), int(config["size"]),
                      AugmentConfig())
    items = ds.__getitems__([(i, 1000 + i) for i in range(len(ids))])
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0] if k != "index"}
    strict, loose = strict_loose(batch, cfg)
    masked = darm(batch["image"], strict, loose, cfg.darm_ratio, cfg.darm_block, cfg.darm_fill,
                  step_generator("cpu", cfg.seed, args.step))
    with torch.no_grad():
        clean = torch.sigmoid(model.student(batch["image"], features=False)["logits"])
        blocks = torch.sigmoid(model.student(masked.image, features=False)["logits"])
    step = load_checkpoint(args.checkpoint)["step"]
    print(f"{args.checkpoint} (step {step}), {len(ids)} training images: student mean "
          f"foreground probability {clean.mean():.3f} on clean images, "
          f"{blocks.mean():.3f} on their DARM images; DARM loose target mean "
          f"{masked.loose.mean():.3f}; pixels predicted foreground (p > 0.5) "
          f"{(clean > 0.5).float().mean():.3f} clean, {(blocks > 0.5).float().mean():.3f} DARM")


if __name__ == "__main__":
    main()
