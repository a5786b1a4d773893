"""EDF -> ASC conversion speed: the recordings eyelinkio ships, and a tiled ~1M-sample case.

Usage (from the project root)::

    .venv/bin/python pipelines/bench_edf.py [--samples 1000000] [--repeats 3]

For each EDF that eyelinkio ships (``eyelinkio/tests/data``): the whole read
(``gazeprep.read.edf.read_edf``: a child process running the EDF library's item loop), the item loop
alone in this process, the text (``gazeprep.read.edf_asc.asc_from_recording``), the ASC parse of
that text (``gazeprep.asc.parse_asc``), and ``eyelinkio.read_edf`` on the same file for scale.
Then the binocular recording is tiled (copies shifted in time, items with them) to about
``--samples`` samples and its text written and parsed: the text step alone, since an EDF of
that size is not at hand (the read scales with the item count; its rate per sample is printed
for the real files). Best of ``--repeats`` runs each.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np


def best(fn, repeats: int) -> tuple[float, object]:
    """Smallest wall time of ``repeats`` calls of ``fn`` and its last result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def tile(rec, copies: int):
    """``rec`` repeated ``copies`` times, each copy later than the previous one."""
    span = float(rec.t[-1] - rec.t[0]) + 10_000.0
    out = copy.copy(rec)
    n = rec.t.size
    out.t = np.concatenate([rec.t + k * span for k in range(copies)])
    for name in ("gx", "gy", "pa"):
        setattr(out, name, np.concatenate([getattr(rec, name)] * copies, axis=1))
    for name in ("rx", "ry", "errors"):
        setattr(out, name, np.concatenate([getattr(rec, name)] * copies))
    out.item_type = np.concatenate([rec.item_type] * copies)
    out.item_before = np.concatenate([rec.item_before + k * n for k in range(copies)])
    out.events = {}
    for key, v in rec.events.items():
        shift = key in ("sttime", "entime", "rec_time")
        out.events[key] = np.concatenate([v + (k * int(span) if shift else 0)
                                          for k in range(copies)]).astype(v.dtype)
    out.texts = rec.texts * copies
    return out


def parse_seconds(text: bytes, repeats: int) -> tuple[float, int]:
    """Best time of ``parse_asc`` on ``text`` (written to a temporary file) and its samples."""
    from gazeprep.read.asc.parse import parse_asc

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.asc"
        path.write_bytes(text)
        secs, log = best(lambda: parse_asc(str(path)), repeats)
    return secs, int(log.t.size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import eyelinkio

    from gazeprep.read.edf import _read_items, read_edf
    from gazeprep.read.edf_asc import asc_from_recording

    folder = Path(eyelinkio.__file__).parent / "tests" / "data"
    asc_from_recording(read_edf(folder / "test_raw.edf"))  # warm up polars
    recs = {}
    for name in ("test_raw.edf", "test_2_raw.edf", "test_raw_binocular.edf"):
        path = folder / name
        t_read, rec = best(lambda p=path: read_edf(p), args.repeats)
        t_loop, _ = best(lambda p=path: _read_items(str(p)), args.repeats)
        t_text, text = best(lambda r=rec, s=name: asc_from_recording(r, s), args.repeats)
        t_parse, _ = parse_seconds(text, args.repeats)
        t_eio, _ = best(lambda p=path: eyelinkio.read_edf(str(p)), args.repeats)
        n = rec.t.size
        print(f"{name}: {n} samples, {rec.item_type.size} other items, {len(text) / 1e6:.1f} MB"
              f" of ASC | read {t_read:.2f} s (item loop {t_loop:.2f} s = "
              f"{t_loop / n * 1e6:.2f} us/sample) | text {t_text:.2f} s | parse {t_parse:.2f} s"
              f" | eyelinkio.read_edf {t_eio:.2f} s")
        recs[name] = rec
    base = recs["test_raw_binocular.edf"]
    big = tile(base, max(1, round(args.samples / base.t.size)))
    t_text, text = best(lambda: asc_from_recording(big, "tiled.edf"), args.repeats)
    t_parse, n = parse_seconds(text, args.repeats)
    assert n == big.t.size
    print(f"tiled binocular: {big.t.size} samples, {big.item_type.size} other items, "
          f"{len(text) / 1e6:.0f} MB of ASC | text {t_text:.2f} s "
          f"({t_text / big.t.size * 1e6:.2f} us/sample) | parse {t_parse:.2f} s")


if __name__ == "__main__":
    main()
