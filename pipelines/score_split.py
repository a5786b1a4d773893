"""Mean Dice of every labels array of a cache on the 780 tune / 100 held-out split.

Usage (from the project root)::

    .venv/bin/gazeprep score --cache C --out /tmp/score.parquet
    .venv/bin/python pipelines/score_split.py /tmp/score.parquet

Reads the per-image table ``gazeprep score`` writes (``pseudo_dice`` and one
``labels/<name>_dice`` column per labels array) and prints the means over the tuning ids and
the held-out ids of ``pipelines/kvasir_split.py`` (the ids of every image in the table).
"""

from __future__ import annotations

import json
import sys

import polars as pl
from kvasir_split import split_ids


def main() -> None:
    df = pl.read_parquet(sys.argv[1])
    tune, held = split_ids(df["image"].to_list())
    cols = ["pseudo_dice", *[c for c in df.columns if c.startswith("labels/") and
                             c.endswith("_dice")]]
    out = {}
    for part, ids in (("tune", tune), ("held_out", held)):
        sub = df.filter(pl.col("image").is_in(ids))
        out[part] = {c.removesuffix("_dice"): round(float(sub[c].mean()), 4) for c in cols}
        out[part]["n"] = sub.height
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
