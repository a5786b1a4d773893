"""Benchmark: whole-process ``gazeprep ingest`` of other trackers' exports vs pymovements 0.28.

Side by side in one run, as whole processes (``pipelines/_whole.py``: the best of two unsampled
runs of ours before and after the anchor's one; a sampled run of each for CPU and memory;
``--rounds N`` repeats the comparison and takes the median ratio), on files of ``--mb``
megabytes built in a temporary folder. Both packages' modules are compiled to bytecode first,
as a pip install leaves them (:func:`compile_bytecode`):

- **SMI BeGaze sample export** vs ``pymovements.gaze.from_begaze`` (pymovements reads BeGaze
  *sample* exports only). No real sample export is given, so it is rendered from the real
  EMDAT event export (``$GAZE_DATA/vendors/emdat/SMI_Sample_67_Events.txt``, 120 Hz): one
  ``SMP`` row per 1/120 s at the left eye's fixation location, moving linearly through each
  saccade, lost (0, 0) in blinks, with BeGaze's ``L Event Info`` label, its stimulus message
  as ``MSG``; then tiled (its rows repeated with shifted times). Ours runs I-VT on the samples;
  pymovements loads them and gathers BeGaze's labels into events (less work than ours).
- **SMI BeGaze event export**, the real one tiled: ours only (pymovements has no reader).
- **Tobii** (pymovements 0.28 has no Tobii reader: its path for these files is the generic
  ``gaze.from_csv`` with the export's columns named): the real Tobii Studio fixation export
  ``P61-Fixation-Data.tsv`` and Pro SDK dump ``4Ctest.csv`` of ``$GAZE_DATA/vendors/emdat``
  (its truncated last row dropped), and a Pro Lab data export (``--prolab``; default the
  fetched ``/tmp/tobii_bench/ivt_normal_export_short.tsv``, see ``docs/formats/tobii.md``;
  skipped when absent), tiled as text (the header block once, the rows repeated with their
  times shifted). Ours reads Tobii's fixations (Pro Lab also with ``--detector ivt --preset
  tobii``; the SDK dump with I-VT); pymovements reads the table.
- **Gazepoint GP3 CSV** and **Pupil Player surface gaze** (``gaze_positions_on_surface_
  <name>.csv``), from ``gazeprep simulate --tracker gazepoint|pupil`` (no real export is
  given), tiled, vs pymovements' generic ``gaze.from_csv`` loading the time and gaze columns
  (no detection: again less work than ours, which forms Gazepoint's fixations / runs I-VT).

For the CSV and TSV files, a process that only imports polars and reads the file (every
column as text) is timed too: the floor under any reader of it, as a whole process.

Then the same reads in this process, best of 3 after a warm-up (imports excluded): ours
(``gazeprep.cli.main`` with the same arguments: reading, detection and the written outputs),
each anchor's script, and a bare ``polars.read_csv`` of the file (every column as text), the
floor under any reader. Every figure carries the machine's 1-minute load average. Usage::

    .venv/bin/pip install pymovements==0.28.0
    .venv/bin/python pipelines/bench_trackers.py            # 30 MB files
    .venv/bin/python pipelines/bench_trackers.py --mb 200 --only tobii    # or --only others
    .venv/bin/python pipelines/bench_trackers.py --mb 40 --only smi --rounds 3
    .venv/bin/python pipelines/bench_trackers.py --mb 10 --json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from _common import data_dir, run

EMDAT = data_dir() / "vendors" / "emdat"
REAL_SMI = EMDAT / "SMI_Sample_67_Events.txt"
PROLAB = Path("/tmp/tobii_bench/ivt_normal_export_short.tsv")

PM_BEGAZE = """
import sys
import pymovements as pm
g = pm.gaze.from_begaze(sys.argv[1])
print(g.samples.height, g.events.frame.height)
"""
PM_CSV = """
import sys
import pymovements as pm
exp = pm.Experiment(screen_width_px=1920, screen_height_px=1080, screen_width_cm=53.0,
                    screen_height_cm=30.0, distance_cm=60.0, origin="upper left",
                    sampling_rate=float(sys.argv[6]))
g = pm.gaze.from_csv(sys.argv[1], experiment=exp, time_column=sys.argv[2],
                     time_unit=sys.argv[3], pixel_columns=[sys.argv[4], sys.argv[5]])
if sys.argv[7] == "ivt":
    g.pix2deg()
    g.pos2vel()
    g.detect("ivt")
print(g.samples.height, g.events.frame.height)
"""
PM_TOBII = """
import sys
import pymovements as pm
g = pm.gaze.from_csv(sys.argv[1], time_column=sys.argv[2], time_unit=sys.argv[3],
                     pixel_columns=sys.argv[4].split("|"),
                     read_csv_kwargs={"separator": sys.argv[5], "skip_rows": int(sys.argv[6]),
                                      "decimal_comma": sys.argv[7] == "comma"})
print(g.samples.height)
"""
PL_READ = """
import sys
import polars as pl
df = pl.read_csv(sys.argv[1], separator=sys.argv[2], skip_rows=int(sys.argv[3]),
                 infer_schema=False)
print(df.height)
"""


def _events(path: Path) -> tuple[list[str], pl.DataFrame]:
    """The header block and the event rows (``kind, start, end, x0, y0, x1, y1``; us, px)
    of the left eye of a BeGaze event export."""
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith(("UserEvent", "Fixation",
                                                                  "Saccade", "Blink")))
    rows = []
    for ln in lines[first:]:
        f = ln.split(",")
        if f[0] == "Fixation L":
            rows.append(("Fixation", int(f[3]), int(f[4]), float(f[6]), float(f[7]),
                         float(f[6]), float(f[7])))
        elif f[0] == "Saccade L":
            rows.append(("Saccade", int(f[3]), int(f[4]), float(f[6]), float(f[7]),
                         float(f[8]), float(f[9])))
        elif f[0] == "Blink L":
            rows.append(("Blink", int(f[3]), int(f[4]), 0.0, 0.0, 0.0, 0.0))
    return lines[:first], pl.DataFrame(rows, schema=["kind", "start", "end", "x0", "y0", "x1",
                                                     "y1"], orient="row").sort("start")


def smi_samples(src: Path, dst: Path, mb: float, max_rows: int | None = None) -> int:
    """A BeGaze sample export rendered from the event export ``src`` (see the module notes),
    tiled to about ``mb`` MB (or its first ``max_rows`` rows); returns the rows written."""
    _, ev = _events(src)
    step = 1e6 / 120
    t = np.arange(ev["start"][0], ev["end"][-1], step).astype(np.int64)
    k = np.clip(np.searchsorted(ev["start"].to_numpy(), t, side="right") - 1, 0, None)
    inside = t < ev["end"].to_numpy()[k]
    frac = (t - ev["start"].to_numpy()[k]) / np.maximum(ev["end"].to_numpy()[k]
                                                        - ev["start"].to_numpy()[k], 1)
    x = ev["x0"].to_numpy()[k] + frac * (ev["x1"].to_numpy()[k] - ev["x0"].to_numpy()[k])
    y = ev["y0"].to_numpy()[k] + frac * (ev["y1"].to_numpy()[k] - ev["y0"].to_numpy()[k])
    label = np.where(inside, ev["kind"].to_numpy()[k], "-")
    one = pl.DataFrame({"Time": t - t[0], "Type": "SMP", "Trial": 1, "L POR X [px]": x.round(2),
                        "L POR Y [px]": y.round(2), "L Pupil Diameter [mm]": 3.5,
                        "L Event Info": label})
    span = int(t[-1] - t[0]) + 1_000_000
    reps = max(1, int(mb * 1e6 / max(len(one.write_csv(separator="\t")), 1)))
    body = pl.concat([one.with_columns(pl.col("Time") + r * span) for r in range(reps)])
    body = body.head(max_rows) if max_rows else body
    head = ("## [BeGaze]\n## Converted from:\tSMI_Sample_67_Events.txt (rendered)\n"
            "## Date:\t09.06.2015 15:27:25\n## Version:\tBeGaze 3.5.90\n## Sample Rate:\t120\n"
            "##\n")
    with open(dst, "w", encoding="utf-8") as fh:  # ASCII content (pymovements reads ASCII)
        fh.write(head)
        fh.write("\t".join(one.columns) + "\n")
        fh.write("0\tMSG\t1\t# Message: stimulus.png\n")
        body.write_csv(fh, separator="\t", include_header=False)
    return body.height


def smi_events(src: Path, dst: Path, mb: float) -> int:
    """The real event export tiled: its header once, its rows repeated with shifted times."""
    text = src.read_text(encoding="utf-8")
    lines = text.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith(("UserEvent", "Fixation")))
    rows = lines[first:]
    times = [int(r.split(",")[3]) for r in rows]
    span = max(times) - min(times) + 10_000_000
    reps = max(1, int(mb * 1e6 / len(text)))
    out = lines[:first]
    for r in range(reps):
        for ln in rows:
            f = ln.split(",")
            f[3] = str(int(f[3]) + r * span)
            if not f[0].startswith("UserEvent"):
                f[4] = str(int(f[4]) + r * span)
            out.append(",".join(f))
    dst.write_text("\n".join(out) + "\n", encoding="utf-8")
    return len(out) - first


def simulated(tracker: str, tmp: Path) -> Path:
    """A one-session simulated dataset in ``tracker``'s format."""
    out = tmp / f"sim_{tracker}"
    run(["gazeprep", "simulate", out, "--images", "16", "--size", "64", "--tracker", tracker],
        echo=False)
    return out


def tile_csv(src: Path, dst: Path, time_col: str, mb: float, scale: float = 1.0) -> int:
    """``src`` (CSV) repeated with ``time_col`` shifted to about ``mb`` MB; returns rows."""
    one = pl.read_csv(src, infer_schema_length=10000)
    span = float(one[time_col].max() - one[time_col].min()) + scale
    reps = max(1, int(mb * 1e6 / src.stat().st_size))
    shift = [c for c in one.columns if c in (time_col, "FPOGS", "world_timestamp")]
    big = pl.concat([one.with_columns([pl.col(c) + r * span for c in shift])
                     for r in range(reps)])
    if "FPOGID" in big.columns:
        n_id = int(one["FPOGID"].max()) + 1
        big = big.with_columns(pl.col("FPOGID") + (pl.int_range(pl.len()) // one.height) * n_id)
    big.write_csv(dst, float_precision=6)
    return big.height


def tile_text(src: Path, dst: Path, mb: float, time_cols: list[str], skip: int = 0,
              sep: str = "\t", drop_last: bool = False, max_ms: float | None = None) -> int:
    """Write ``src`` tiled to about ``mb`` MB as text: the preamble (``skip`` lines) and header
    once, the rows again and again with ``time_cols`` shifted past the previous copy (other
    cells as written: decimal commas, tuple cells). ``max_ms``: at most as many copies as fit
    in that many ms of the first time column (a viewing longer than a day is refused by the
    readers). Returns the number of data rows."""
    lines = src.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").rstrip("\n").split("\n")
    pre, header, rows = lines[:skip], lines[skip], lines[skip + 1:-1 if drop_last else None]
    names = [c.strip() for c in header.split(sep)]
    idx = [names.index(c) for c in time_cols]
    cells = [r.split(sep) for r in rows]
    values = [[float(c[i]) if c[i].strip() else None for i in idx] for c in cells]
    span = [max(v[k] for v in values if v[k] is not None)
            - min(v[k] for v in values if v[k] is not None) for k in range(len(idx))]
    gap = [1000.0 if re.search(r"us|\u03bcs|time_stamp", c) else 1.0 for c in time_cols]
    one = sum(len(r) + 1 for r in rows)
    reps = max(1, round(mb * 1e6 / one))
    if max_ms is not None:
        reps = max(1, min(reps, int(max_ms // (span[0] + gap[0]))))
    with open(dst, "w", encoding="utf-8") as fh:
        fh.write("\n".join([*pre, header]) + "\n")
        for copy in range(reps):
            for c, v in zip(cells, values, strict=True):
                for k, i in enumerate(idx):
                    if v[k] is not None:
                        c[i] = f"{v[k] + (span[k] + gap[k]) * copy:.0f}"
            fh.write("\n".join(sep.join(c) for c in cells) + "\n")
    return reps * len(rows)


def tobii_cases(tmp: Path, mb: float, prolab: Path | None) -> list[dict]:
    """The Tobii exports (see the module notes), tiled."""
    cases = []
    p = tmp / "P61-Fixation-Data.tsv"
    # one viewing (the export has no media column): at most a day of it, about 4.6 MB
    n = tile_text(EMDAT / "P61-Fixation-Data.tsv", p, mb, ["Timestamp"], skip=18,
                  max_ms=86_400_000.0 - 1.0)
    cases.append({"what": "Tobii Studio fixation export (real P61, tiled)", "file": p,
                  "rows": n, "ours": [], "sep": "\t", "skip": 18, "anchors": [(
                      "pm.gaze.from_csv", ["-c", PM_TOBII, p, "Timestamp", "ms",
                                           "MappedFixationPointX|MappedFixationPointY", "\t",
                                           "18", "point"])]})
    p = tmp / "4Ctest.csv"
    n = tile_text(EMDAT / "4Ctest.csv", p, mb, ["device_time_stamp"], sep=";", drop_last=True)
    cases.append({"what": "Tobii Pro SDK dump (real 4Ctest, tiled; I-VT)", "file": p,
                  "rows": n, "ours": [], "sep": ";", "skip": 0, "anchors": [(
                      "pm.gaze.from_csv", ["-c", PM_TOBII, p, "device_time_stamp", "us",
                                           "left_gaze_point_on_display_area", ";", "0",
                                           "point"])]})
    if prolab is None or not prolab.exists():
        print(f"note: no Pro Lab export ({prolab}): its cases skipped", file=sys.stderr)
        return cases
    head = prolab.read_text(encoding="utf-8").split("\n", 1)[0].split("\t")
    p = tmp / "prolab.tsv"
    n = tile_text(prolab, p, mb, [c for c in head if re.match(r"(Recording|Eyetracker) "
                                                             r"timestamp", c)])
    anchor = [("pm.gaze.from_csv", ["-c", PM_TOBII, p, "Recording timestamp [ms]", "ms",
                                    "Gaze point X [DACS px]|Gaze point Y [DACS px]", "\t",
                                    "0", "comma"])]
    for what, ours in (("Tobii's fixations", []),
                       ("--detector ivt --preset tobii", ["--detector", "ivt", "--preset",
                                                           "tobii"])):
        cases.append({"what": f"Tobii Pro Lab data export ({prolab.name}, tiled; {what})",
                      "file": p, "rows": n, "ours": ours, "sep": "\t", "skip": 0,
                      "anchors": anchor})
    return cases


def build(tmp: Path, mb: float, only: str | None = None,
          prolab: Path | None = PROLAB) -> list[dict]:
    """The benchmark's files: what each is, our command's extra options, the anchor."""
    if only == "tobii":
        return tobii_cases(tmp, mb, prolab)
    cases = []
    if REAL_SMI.exists():
        p = tmp / "smi_samples.txt"
        n = smi_samples(REAL_SMI, p, mb)
        cases.append({"what": "SMI BeGaze sample export (rendered from the real event export)",
                      "file": p, "rows": n, "ours": ["--screen-px", "1920", "1080"],
                      "anchors": [("pm.gaze.from_begaze", ["-c", PM_BEGAZE, p])]})
        if only == "smi":
            return cases
        p = tmp / "smi_events.txt"
        n = smi_events(REAL_SMI, p, mb)
        cases.append({"what": "SMI BeGaze event export (the real one, tiled)", "file": p,
                      "rows": n, "ours": [], "anchors": []})
    else:
        print(f"note: {REAL_SMI} not found: SMI cases skipped", file=sys.stderr)
    gp = simulated("gazepoint", tmp)
    p = tmp / "gazepoint.csv"
    n = tile_csv(gp / "raw" / "obs01.csv", p, "TIME(2026/01/01 00:00:00.000)", mb, 1.0)
    cases.append({"what": "Gazepoint GP3 CSV (simulated, tiled)", "file": p, "rows": n,
                  "ours": [], "sep": ",", "skip": 0,
                  "anchors": _csv_anchors(p, "TIME(2026/01/01 00:00:00.000)", "BPOGX", "BPOGY")})
    pu = simulated("pupil", tmp)
    src = sorted((pu / "raw").rglob("gaze_positions_on_surface_*.csv"))[0]
    p = tmp / "gaze_positions_on_surface_x.csv"
    n = tile_csv(src, p, "gaze_timestamp", mb, 1.0)
    cases.append({"what": "Pupil Player surface gaze (simulated, tiled)", "file": p, "rows": n,
                  "ours": [], "sep": ",", "skip": 0,
                  "anchors": _csv_anchors(p, "gaze_timestamp", "x_norm", "y_norm")})
    if only == "others" or not (EMDAT / "4Ctest.csv").exists():
        return cases
    return cases + tobii_cases(tmp, mb, prolab)


def _csv_anchors(p: Path, time: str, x: str, y: str) -> list[tuple[str, list]]:
    """pymovements' generic CSV path: loading only, and loading then its I-VT (as ours)."""
    return [(f"pm.gaze.from_csv{label}", ["-c", PM_CSV, p, time, "s", x, y, "1000", what])
            for label, what in (("", "load"), (" + pix2deg, pos2vel, detect('ivt')", "ivt"))]


def best_of(fn, n: int = 3) -> float | str:
    """Best wall seconds of ``n`` calls of ``fn`` after one warm-up call, or its error."""
    import contextlib
    import io

    times = []
    for k in range(n + 1):
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                fn()
        except Exception as exc:  # the anchor's own error, reported as such
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
        if k:
            times.append(time.perf_counter() - t0)
    return min(times)


def _ours(args: list) -> None:
    from gazeprep.cli import main

    try:
        main([str(a) for a in args])
    except SystemExit as ex:
        if ex.code:
            raise RuntimeError(f"gazeprep exited {ex.code}") from ex


def _script(argv: list) -> None:
    """Run an anchor's ``-c`` script in this process with its arguments."""
    code = compile(argv[1], "<anchor>", "exec")
    saved, sys.argv = sys.argv, ["-c", *map(str, argv[2:])]
    try:
        exec(code, {"__name__": "__main__"})
    finally:
        sys.argv = saved


def in_process(c: dict, ours_cmd: list) -> dict:
    """Ours, each anchor and a bare ``polars.read_csv`` of the file, in this process."""
    r = {"ours_s": best_of(lambda: _ours(ours_cmd[1:])),
         "anchors": [best_of(lambda a=argv: _script(a)) for _, argv in c["anchors"]]}
    if "sep" in c:
        r["polars_read_s"] = best_of(lambda: pl.read_csv(
            c["file"], separator=c["sep"], skip_rows=c["skip"], infer_schema=False))
    return r


def bench(cases: list[dict], tmp: Path, rounds: int = 1) -> list[dict]:
    """Whole-process timings of every case, ours and the anchor side by side, ``rounds`` times
    (the ratio each round and their median); then the same in this process."""
    import shutil

    from _whole import load_average, measure, plain_wall

    out = tmp / "out"

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)

    def anchor(argv: list) -> dict:
        try:
            return measure([sys.executable, *argv], plain=1)
        except SystemExit as exc:  # pymovements cannot read the file
            lines = [ln.strip() for ln in str(exc).splitlines() if "Error" in ln]
            return {"error": (lines[-1] if lines else str(exc).strip())[:120]}

    results = []
    for c in cases:
        ours_cmd = ["gazeprep", "ingest", c["file"], "--out", out, *c["ours"]]
        run(ours_cmd, echo=False)  # numba cache warm
        first = measure(ours_cmd, plain=2, before=clean)
        r = {"what": c["what"], "mb": c["file"].stat().st_size / 1e6, "rows": c["rows"],
             "command": " ".join(map(str, ours_cmd[:2] + ["FILE", *ours_cmd[3:]])),
             "anchors": [{"name": name, **anchor(argv)} for name, argv in c["anchors"]]}
        last = measure(ours_cmd, plain=2, before=clean)
        r["ours"] = min(first, last, key=lambda m: m["wall_s"])
        if "sep" in c:  # the floor: a process that only imports polars and reads the file
            r["floor"] = measure([sys.executable, "-c", PL_READ, c["file"], c["sep"],
                                  str(c["skip"])], plain=1)
        walls = [[r["ours"]["wall_s"], *(a.get("wall_s") for a in r["anchors"])]]
        loads = [r["ours"]["load"]]
        for _ in range(rounds - 1):  # unsampled: ours best of 4 around the anchors' one run
            loads.append(load_average())
            ours = [plain_wall(ours_cmd, before=clean) for _ in range(2)]
            got = [plain_wall([sys.executable, *argv]) if "wall_s" in a else None
                   for a, (_, argv) in zip(r["anchors"], c["anchors"], strict=True)]
            ours += [plain_wall(ours_cmd, before=clean) for _ in range(2)]
            walls.append([min(ours), *got])
        r["rounds"] = [{"ours_s": w[0], "anchors_s": w[1:], "load": ld}
                       for w, ld in zip(walls, loads, strict=True)]
        for k, a in enumerate(r["anchors"]):
            if "wall_s" in a:
                ratios = [w[k + 1] / w[0] for w in walls]
                a["ratio"] = float(np.median(ratios))
                a["ratios"] = ratios
        clean()
        r["in_process"] = in_process(c, ours_cmd)
        clean()
        results.append(r)
    return results


def _s(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else "-" if v is None else f"fails ({v})"


def show(results: list[dict]) -> None:
    """Markdown tables (as the docs quote them): whole processes, then in this process."""
    print("Whole processes (wall s; ours the best of 4 unsampled runs around the anchor's; "
          "with several rounds the ratio is their median, the times the first round's):\n")
    print("| file | MB | rows | ours: wall s | CPU s | peak PSS MiB | load | anchor | wall s "
          "| peak PSS MiB | ratio | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        o = r["ours"]
        for a in r["anchors"] or [{"name": "(none)"}]:
            anchor = (f"{a['wall_s']:.2f} | {a['peak_pss_mib']:.0f} | **{a['ratio']:.1f}x** | "
                      f"{a['load']:.2f}" if "wall_s" in a else
                      f"fails ({a['error']}) | - | - | -" if "error" in a else "- | - | - | -")
            print(f"| {r['what']} | {r['mb']:.1f} | {r['rows']:,} | {o['wall_s']:.2f} | "
                  f"{o['cpu_s']:.2f} | {o['peak_pss_mib']:.0f} | {o['load']:.2f} | "
                  f"{a['name']} | {anchor} |")
    if any(len(r["rounds"]) > 1 for r in results):
        print("\nEach round (wall s, 1-minute load average at its start):\n")
        for r in results:
            for k, a in enumerate(r["anchors"]):
                if "ratios" in a:
                    each = ", ".join(f"{w['ours_s']:.2f} vs {w['anchors_s'][k]:.2f} = "
                                     f"{w['anchors_s'][k] / w['ours_s']:.1f}x (load "
                                     f"{w['load']:.1f})" for w in r["rounds"])
                    print(f"- {r['what']}, {a['name']}: {each}; median **{a['ratio']:.1f}x**")
    floors = [r for r in results if "floor" in r]
    if floors:
        print("\nThe floor: `python -c 'import polars; polars.read_csv(FILE)'` (every column as "
              "text), whole process, beside ours and the anchors (wall s):\n")
        print("| file | bare read process s | load | ours s | anchors s | anchor / floor |")
        print("|---|---|---|---|---|---|")
        for r in floors:
            f = r["floor"]["wall_s"]
            walls = [a["wall_s"] for a in r["anchors"] if "wall_s" in a]
            print(f"| {r['what']} | {f:.2f} | {r['floor']['load']:.2f} | "
                  f"{r['ours']['wall_s']:.2f} | {', '.join(f'{w:.2f}' for w in walls) or '-'} | "
                  f"{', '.join(f'{w / f:.1f}x' for w in walls) or '-'} |")
    print("\nIn this process (best of 3 after a warm-up; imports excluded):\n")
    print("| file | ours (read + detect + outputs) s | anchor s | bare polars.read_csv s |")
    print("|---|---|---|---|")
    for r in results:
        ip = r["in_process"]
        anchors = "; ".join(f"{a['name']}: {_s(v)}" for a, v in zip(
            r["anchors"], ip["anchors"], strict=True)) or "-"
        print(f"| {r['what']} | {_s(ip['ours_s'])} | {anchors} | "
              f"{_s(ip.get('polars_read_s'))} |")


def compile_bytecode() -> None:
    """Compile gazeprep's and pymovements' modules to bytecode (``__pycache__``), as a pip
    install does: where ``PYTHONDONTWRITEBYTECODE`` is set (this project's machine) or the
    package was installed without it, every run would otherwise compile them from source."""
    import compileall
    import importlib.util

    for name in ("gazeprep", "pymovements"):
        spec = importlib.util.find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(folder, quiet=2)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=30.0, help="size of each file (MB)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--only", choices=["tobii", "others", "smi"],
                    help="only the Tobii files, the others, or only the SMI sample export")
    ap.add_argument("--rounds", type=int, default=1,
                    help="whole-process comparisons per case (the ratio is their median)")
    ap.add_argument("--prolab", type=Path, default=PROLAB,
                    help="a Tobii Pro Lab data export to tile (default: %(default)s)")
    args = ap.parse_args(argv)
    from _whole import load_average

    print(f"load average at start: {load_average():.2f}", file=sys.stderr)
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="bench_trackers_") as d:
        tmp = Path(d)
        results = bench(build(tmp, args.mb, args.only, args.prolab), tmp, args.rounds)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        show(results)


if __name__ == "__main__":
    main()
