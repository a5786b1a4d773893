"""How many images to hand-label to measure a mean Dice: the spread of per-image Dice.

    python pipelines/test_set_size.py data/maps.zarr.score.parquet [--column pseudo_dice]

Reads a per-image table (``gazeprep score``'s or ``gradseg eval``'s Parquet), then for test sets
of 10, 25, 50 and 100 images drawn without replacement (2,000 draws, seed 0) prints the
half-width of the 95 % interval of their mean Dice, next to 1.96 sd / sqrt(n).
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("table")
    ap.add_argument("--column", default="pseudo_dice")
    ap.add_argument("--sizes", default="10,25,50,100")
    args = ap.parse_args()
    d = pl.read_parquet(args.table)[args.column].drop_nans().drop_nulls().to_numpy()
    sd = d.std(ddof=1)
    print(f"{len(d)} images: mean Dice {d.mean():.3f}, per-image sd {sd:.3f}")
    print("| hand-labelled test images | 95 % interval of the mean, +- | 1.96 sd / sqrt(n) |")
    print("|---|---|---|")
    rng = np.random.default_rng(0)
    for n in map(int, args.sizes.split(",")):
        means = [rng.choice(d, n, replace=False).mean() for _ in range(2000)]
        lo, hi = np.percentile(means, [2.5, 97.5])
        print(f"| {n} | {(hi - lo) / 2:.3f} | {1.96 * sd / np.sqrt(n):.3f} |")


if __name__ == "__main__":
    main()
