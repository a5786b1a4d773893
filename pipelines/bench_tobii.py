"""Benchmark: ``gazeprep ingest`` on Tobii exports vs pymovements 0.28's generic CSV reader.

pymovements 0.28 has no Tobii reader: its path for Tobii exports is ``pm.gaze.from_csv`` with
the export's columns named (the ``bench`` extra installs it). Real exports are tiled to
``--mb`` MB in a temporary folder (the header once, the rows repeated with their times
shifted so that time keeps increasing):

- ``P61-Fixation-Data.tsv`` (Tobii Studio split export, ``$GAZE_DATA/vendors/emdat``):
  ours reads Tobii's fixations and places them; pymovements reads the table
  (``skip_rows`` over the ``Key:`` block, the fixation points as pixel columns);
- ``4Ctest.csv`` (Tobii Pro SDK dump, same folder; its truncated last row dropped): ours reads
  the tuple cells and runs I-VT; pymovements' ``from_csv`` is tried as a user would call it;
- ``--prolab PATH``: a Tobii Pro Lab data export of your own (none ships with the data):
  ours reads Tobii's fixations (and, separately, runs ``--detector ivt --preset tobii``);
  pymovements reads it with ``decimal_comma`` and the ``Gaze point X/Y [DACS px]`` columns.

For each: whole processes as a user times them (``pipelines/_whole.py``: ours the best of two
unsampled runs before and two after the anchor, the anchor one; imports included), then the
same reads in this process (best of 3). The numba cache is warmed first. Every figure carries
the 1-minute load average.

Usage::

    .venv/bin/pip install pymovements==0.28.0
    .venv/bin/python pipelines/bench_tobii.py [--mb 40] [--prolab EXPORT.tsv] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from _common import data_dir

EMDAT = data_dir() / "vendors" / "emdat"


def tile(src: Path, dst: Path, mb: float, time_cols: list[str], skip: int = 0,
         sep: str = "\t", drop_last: bool = False) -> int:
    """Write ``src`` tiled to about ``mb`` MB: the preamble (``skip`` lines) and header once,
    the rows again and again with ``time_cols`` shifted past the previous copy. Returns the
    number of data rows written."""
    text = src.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    lines = text.rstrip("\n").split("\n")
    pre, header, rows = lines[:skip], lines[skip], lines[skip + 1:]
    if drop_last:
        rows = rows[:-1]
    names = [c.strip() for c in header.split(sep)]
    idx = [names.index(c) for c in time_cols]
    cells = [r.split(sep) for r in rows]
    values = [[float(c[i]) if c[i].strip() else None for i in idx] for c in cells]
    span = [max(v[k] for v in values if v[k] is not None)
            - min(v[k] for v in values if v[k] is not None) for k in range(len(idx))]
    out, n, size, copy = [*pre, header], 0, 0, 0
    while size < mb * 2**20:
        for c, v in zip(cells, values, strict=True):
            for k, i in enumerate(idx):
                if v[k] is not None:
                    step = (span[k] + (1000 if "us" in time_cols[k] or "μs" in time_cols[k]
                                       or "time_stamp" in time_cols[k] else 1)) * copy
                    c[i] = f"{v[k] + step:.0f}"
            line = sep.join(c)
            out.append(line)
            size += len(line) + 1
            n += 1
        copy += 1
    dst.write_text("\n".join(out) + "\n", encoding="utf-8")
    return n


PM = {
    "studio": ("import sys, pymovements as pm\ng = pm.gaze.from_csv(sys.argv[1], time_column="
               "'Timestamp', time_unit='ms', pixel_columns=['MappedFixationPointX', "
               "'MappedFixationPointY'], read_csv_kwargs={'separator': '\\t', 'skip_rows': "
               "18})\nprint(g.samples.height)\n"),
    "sdk": ("import sys, pymovements as pm\ng = pm.gaze.from_csv(sys.argv[1], time_column="
            "'device_time_stamp', time_unit='us', pixel_columns=["
            "'left_gaze_point_on_display_area'], read_csv_kwargs={'separator': ';'})\n"
            "print(g.samples.height)\n"),
    "prolab": ("import sys, pymovements as pm\ng = pm.gaze.from_csv(sys.argv[1], time_column="
               "'Recording timestamp [ms]', time_unit='ms', pixel_columns=['Gaze point X "
               "[DACS px]', 'Gaze point Y [DACS px]'], read_csv_kwargs={'separator': '\\t', "
               "'decimal_comma': True})\nprint(g.samples.height)\n"),
}


def _pm_in_process(kind: str, path: Path) -> float | str:
    """Best of 3 of pymovements' read in this process (s), or its error."""
    import pymovements as pm  # noqa: F401 (imported once, outside the timing)

    code = PM[kind].split("\n", 1)[1].replace("sys.argv[1]", repr(str(path)))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        try:
            exec(code.replace("print(g.samples.height)", ""), {"pm": pm})
        except Exception as exc:  # pymovements' own error, reported as such
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        best = min(best, time.perf_counter() - t0)
    return best


def _ours_in_process(path: Path, extra: dict) -> float:
    from gazeprep.ingest import ingest_file
    from gazeprep.read.options import IngestOptions

    opts = IngestOptions(**extra).with_preset()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        ingest_file(path, opts)
        best = min(best, time.perf_counter() - t0)
    return best


def bench_one(kind: str, path: Path, tmp: Path, ours_args: list[str], extra: dict) -> dict:
    """Whole processes and in-process reads of one tiled export."""
    from _whole import load_average, measure

    out = tmp / f"out_{kind}"

    def ours() -> dict:
        return measure(["gazeprep", "ingest", path, "--out", out, "--jobs", "1", *ours_args],
                       plain=2)

    r: dict = {"file": path.name, "mb": path.stat().st_size / 2**20, "load_before":
               load_average()}
    first = ours()
    pm = measure([sys.executable, "-c", PM[kind], str(path)], plain=1) \
        if kind != "sdk" else None
    last = ours()
    r["ours"] = min(first, last, key=lambda m: m["wall_s"])
    if pm is not None and pm.get("returncode", 0) == 0:
        r["pymovements"] = pm
        r["whole_ratio"] = pm["wall_s"] / r["ours"]["wall_s"]
    r["in_process_ours_s"] = _ours_in_process(path, extra)
    pm_in = _pm_in_process(kind, path)
    r["in_process_pymovements"] = pm_in
    if isinstance(pm_in, float):
        r["in_process_ratio"] = pm_in / r["in_process_ours_s"]
    r["load_after"] = load_average()
    return r


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=40.0, help="size of each tiled file (MB)")
    ap.add_argument("--prolab", type=Path, help="a Tobii Pro Lab data export to tile as well")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from _common import run

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_tobii_") as d:
        tmp = Path(d)
        run(["gazeprep", "ingest", EMDAT / "4Ctest.csv", "--lenient", "--out", tmp / "warm",
             "--preset", "tobii"], echo=False)  # numba cache
        studio = tmp / "P61-Fixation-Data.tsv"
        tile(EMDAT / "P61-Fixation-Data.tsv", studio, args.mb, ["Timestamp"], skip=18)
        rows.append(bench_one("studio", studio, tmp, [], {}))
        sdk = tmp / "4C-tiled.csv"
        tile(EMDAT / "4Ctest.csv", sdk, args.mb, ["device_time_stamp"], sep=";",
             drop_last=True)
        rows.append(bench_one("sdk", sdk, tmp, [], {}))
        if args.prolab:
            head = args.prolab.read_text(encoding="utf-8").split("\n", 1)[0].split("\t")
            times = [c for c in head if re.match(r"(Recording|Eyetracker) timestamp", c)]
            prolab = tmp / "prolab-tiled.tsv"
            tile(args.prolab, prolab, args.mb, times)
            rows.append(bench_one("prolab", prolab, tmp, [], {}))
            r = bench_one("prolab", prolab, tmp, ["--detector", "ivt", "--preset", "tobii"],
                          {"detector": "ivt", "preset": "tobii"})
            r["file"] += " (--detector ivt --preset tobii)"
            rows.append(r)
    if args.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        print()
        return
    print("| file | MB | ours, whole process (s) | pymovements, whole process (s) | ratio | "
          "ours in-process (s) | pymovements in-process | ratio | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        pm = r.get("pymovements")
        pin = r["in_process_pymovements"]
        print(f"| {r['file']} | {r['mb']:.0f} | {r['ours']['wall_s']:.2f} | "
              f"{pm['wall_s']:.2f} |" if pm else f"| {r['file']} | {r['mb']:.0f} | "
              f"{r['ours']['wall_s']:.2f} | cannot read it |", end="")
        print(f" {r['whole_ratio']:.1f}x |" if pm else " - |", end="")
        print(f" {r['in_process_ours_s']:.2f} | "
              + (f"{pin:.2f} s | {r['in_process_ratio']:.1f}x |" if isinstance(pin, float)
                 else f"{pin} | - |")
              + f" {r['load_before']:.1f}-{r['load_after']:.1f} |")


if __name__ == "__main__":
    main()
