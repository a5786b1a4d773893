"""Does a change leave training bit-identical? Train gradtrack, gazesup and full for 20 steps on
the toy cache (CPU, one thread, seed 0) in two checkouts and compare what they saved.

Run in each checkout (e.g. the base commit from ``git worktree add``, and this one)::

    .venv/bin/python pipelines/compare_training.py /tmp/before    # in the base checkout
    .venv/bin/python pipelines/compare_training.py /tmp/after     # here
    .venv/bin/python pipelines/compare_training.py --compare /tmp/before /tmp/after

Compared: the toy cache's arrays and attributes, every tensor of best.pt and last.pt (weights,
optimizer state, RNG state), their step and Dice, and metrics.jsonl (all but the wall time).
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch


def run(outdir: Path) -> None:
    from gradseg.toydata import write_toy_cache
    from gradseg.train import TrainConfig, train

    torch.set_num_threads(1)
    cache = outdir / "toy.zarr"
    write_toy_cache(cache, n=24, size=32, levels=4, seed=3)
    import zarr
    g = zarr.open_group(str(cache), mode="r")
    digest = {k: hashlib.sha256(np.asarray(g[k][:]).tobytes()).hexdigest()
              for k in ("image", "maps", "heatmap", "pseudo", "mask")}
    digest["attrs"] = hashlib.sha256(json.dumps(dict(g.attrs), sort_keys=True).encode()).hexdigest()
    (outdir / "cache_digest.json").write_text(json.dumps(digest, indent=1))
    for method in ("gradtrack", "gazesup", "full"):
        cfg = TrainConfig(cache=str(cache), out=str(outdir / method), method=method,
                          iterations=20, batch_size=4, base_channels=8, eval_every=5,
                          checkpoint_every=5, device="cpu", workers=0, seed=0, threads=1)
        s = train(cfg, progress=False, log=lambda *a: None)
        print(method, s["best_val_dice"], s["final_loss"])


def compare(a: Path, b: Path) -> None:
    ok = True
    da, db = (json.loads((d / "cache_digest.json").read_text()) for d in (a, b))
    print("toy cache identical:", da == db)
    ok &= da == db
    for method in ("gradtrack", "gazesup", "full"):
        for ck in ("best.pt", "last.pt"):
            pa = torch.load(a / method / ck, weights_only=True)
            pb = torch.load(b / method / ck, weights_only=True)
            same = pa["model"].keys() == pb["model"].keys() and all(
                torch.equal(pa["model"][k], pb["model"][k]) for k in pa["model"])
            opt_same = True
            if "optimizer" in pa:
                sa, sb = pa["optimizer"]["state"], pb["optimizer"]["state"]
                opt_same = all(torch.equal(sa[i][n], sb[i][n]) for i in sa for n in sa[i]
                               if isinstance(sa[i][n], torch.Tensor))
            meta = all(pa[k] == pb[k] for k in ("step", "best_dice", "val_dice")
                       if not (isinstance(pa[k], float) and np.isnan(pa[k])))
            meta = meta and torch.equal(pa["rng"], pb["rng"])
            print(f"{method}/{ck}: {len(pa['model'])} tensors bit-identical={same} "
                  f"optimizer state identical={opt_same} step/dice/rng identical={meta} "
                  f"step={pa['step']}")
            ok &= same and opt_same and meta
        ma = [json.loads(x) for x in (a / method / "metrics.jsonl").read_text().splitlines()]
        mb = [json.loads(x) for x in (b / method / "metrics.jsonl").read_text().splitlines()]
        strip = lambda rs: [{k: v for k, v in r.items() if k != "time_s"} for r in rs]  # noqa: E731
        same = strip(ma) == strip(mb)
        print(f"{method}/metrics.jsonl: {len(ma)} rows identical (except time_s)={same}; "
              f"last {strip(mb)[-1]}")
        ok &= same
    print("ALL IDENTICAL" if ok else "DIFFERENCES FOUND")


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        out = Path(sys.argv[1])
        out.mkdir(parents=True, exist_ok=True)
        run(out)
