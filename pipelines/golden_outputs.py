"""Digests of what ingest and render make of the shared Kvasir-SEG gaze, to prove a refactor
changed no output.

    python pipelines/golden_outputs.py --write tests/golden/kvasir_outputs.json   # before
    python pipelines/golden_outputs.py --check tests/golden/kvasir_outputs.json   # after

Runs the user-facing commands (`gazeprep ingest`, `gazeprep render`) in a temporary folder on
``$GAZE_DATA`` (default ``../shared/data``), then hashes every column of ``fixations.parquet``
and ``tracks.parquet`` (as NumPy bytes, so a new Parquet writer version does not matter) and
every array of the cache. The library versions that shape the bytes (numpy, polars, Pillow,
scikit-image, scipy, zarr) are recorded: a check under other versions is reported, not failed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import json
import tempfile
from pathlib import Path

from _common import data_dir, run

VERSIONED = ("numpy", "polars", "pillow", "scikit-image", "scipy", "zarr", "numba",
             "opencv-python-headless")
#: Kvasir-SEG images rendered (the first N ids in sorted order keep the check quick).
N_IMAGES = 120
SIZE = 64


def _digest_frame(path: Path) -> dict[str, str]:
    import numpy as np
    import polars as pl

    df = pl.read_parquet(path)
    out = {"_shape": f"{df.height}x{df.width}", "_schema": str(df.schema)}
    for name in df.columns:
        s = df[name]
        if isinstance(s.dtype, pl.List):
            lens = s.list.len().fill_null(-1).to_numpy()
            s = s.explode()
        else:
            lens = np.zeros(0)
        h = hashlib.sha256(lens.tobytes())
        if s.dtype == pl.String:
            h.update("\x00".join("\x01" if v is None else v for v in s.to_list()).encode())
        else:
            h.update(s.is_null().to_numpy().tobytes())
            h.update(s.fill_null(0).to_numpy().tobytes())
        out[name] = h.hexdigest()
    return out


def _digest_cache(path: Path) -> dict[str, str]:
    """Digests of the cache's row arrays (the contract's ``ARRAYS``) and of its ids, read
    where the contract says they are (so a new place for the ids keeps the digests)."""
    import numpy as np
    import zarr

    from gazeprep.contract.cache import validate

    layout = validate(path)
    g = zarr.open_group(str(path), mode="r")
    out = {name: hashlib.sha256(np.asarray(g[name][:]).tobytes()).hexdigest()
           for name in sorted(layout.arrays)}
    out["_ids"] = hashlib.sha256("\n".join(layout.ids).encode()).hexdigest()
    return out


def _run(*args: str) -> None:
    """Run one user-facing command silently; stop with its message if it fails."""
    run(list(args), echo=False, label="golden_outputs")


def _ingests(t: Path, data: Path) -> dict:
    """Fixation tables of every reader and detector on real and simulated recordings."""
    el = data / "eyelink"
    sim = t / "sim"
    _run("gazeprep", "simulate", str(sim), "--images", "6", "--sessions", "2", "--size", "96")
    runs = {
        "kvasir_report": [str(data / "gazemedseg" / "kvasir_fixation.csv")],
        "nci_old_report": [str(data / "gazemedseg" / "nci-isbi_fixation_old.csv")],
        "binocular_tracker": [str(el / "eyelink_binocular_example.asc"), "--eye", "both"],
        "binocular_ivt": [str(el / "eyelink_binocular_example.asc"), "--detector", "ivt"],
        "binocular_idt": [str(el / "eyelink_binocular_example.asc"), "--detector", "idt"],
        "samples_csv": [str(el / "gaze-toy-example.csv"), "--sample-rate", "250"],
        "sim_tracker": [str(sim / "raw"), "--images", str(sim / "images")],
        "sim_ivt": [str(sim / "raw"), "--images", str(sim / "images"), "--detector", "ivt"],
        "sim_idt": [str(sim / "raw"), "--images", str(sim / "images"), "--detector", "idt"],
    }
    out = {}
    for name, args in runs.items():
        _run("gazeprep", "ingest", *args, "--lenient", "--out", str(t / name))
        out[name] = {f: _digest_frame(t / name / f"{f}.parquet") for f in ("fixations", "tracks")}
    _run("gazeprep", "render", "--levels", "3", "--gaze", str(t / "sim_ivt"), "--images",
         str(sim / "images"), "--masks", str(sim / "masks"), "--size", "48", "--out",
         str(t / "sim.zarr"))
    out["sim_cache"] = _digest_cache(t / "sim.zarr")
    return out


def compute(data: Path) -> dict:
    """Run ingest and render on the shared data and a simulated set; hash the outputs."""
    kv = data / "kvasir-seg"
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        ids = sorted(p.stem for p in (kv / "images").glob("*.jpg"))[:N_IMAGES]
        for sub in ("images", "masks"):
            (t / sub).mkdir()
            for i in ids:
                (t / sub / f"{i}.jpg").symlink_to(kv / sub / f"{i}.jpg")
        outputs = _ingests(t, data)
        _run("gazeprep", "render", "--levels", "4", "--gaze", str(t / "kvasir_report"),
             "--images", str(t / "images"), "--masks", str(t / "masks"), "--size", str(SIZE),
             "--out", str(t / "maps.zarr"))
        outputs["kvasir_cache"] = _digest_cache(t / "maps.zarr")
        return {"versions": versions(), "outputs": outputs}


def versions() -> dict[str, str]:
    """Installed versions of the libraries that shape the output bytes."""
    return {p: md.version(p) for p in VERSIONED}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="write the digests to this JSON file")
    group.add_argument("--check", type=Path, help="compare with this JSON file")
    args = ap.parse_args()
    now = compute(data_dir())
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(now, indent=1) + "\n")
        print(f"wrote {args.write}")
        return
    ref = json.loads(args.check.read_text())
    diff = differences(ref["outputs"], now["outputs"])
    if ref["versions"] != now["versions"]:
        print(f"note: library versions differ from the reference: {ref['versions']}")
    print("identical" if not diff else f"differs: {', '.join(sorted(diff))}")
    raise SystemExit(1 if diff else 0)


def differences(ref: dict, now: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose digests differ between two nested digest dicts."""
    out = []
    for k in set(ref) | set(now):
        a, b = ref.get(k), now.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(prefix + k)
    return out


if __name__ == "__main__":
    main()
