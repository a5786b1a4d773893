"""Benchmark: whole-process ``gazeprep ingest`` of other trackers' exports vs pymovements 0.28.

Side by side in one run, as whole processes (``pipelines/_whole.py``: the best of two unsampled
runs of ours before and after the anchor's one; a sampled run of each for CPU and memory), on
files of ``--mb`` megabytes built in a temporary folder:

- **SMI BeGaze sample export** vs ``pymovements.gaze.from_begaze`` (pymovements reads BeGaze
  *sample* exports only). No real sample export is given, so it is rendered from the real
  EMDAT event export (``$GAZE_DATA/vendors/emdat/SMI_Sample_67_Events.txt``, 120 Hz): one
  ``SMP`` row per 1/120 s at the left eye's fixation location, moving linearly through each
  saccade, lost (0, 0) in blinks, with BeGaze's ``L Event Info`` label, its stimulus message
  as ``MSG``; then tiled (its rows repeated with shifted times). Ours runs I-VT on the samples;
  pymovements loads them and gathers BeGaze's labels into events (less work than ours).
- **SMI BeGaze event export**, the real one tiled: ours only (pymovements has no reader).
- **Gazepoint GP3 CSV** and **Pupil Player surface gaze** (``gaze_positions_on_surface_
  <name>.csv``), from ``gazeprep simulate --tracker gazepoint|pupil`` (no real export is
  given), tiled, vs pymovements' generic ``gaze.from_csv`` loading the time and gaze columns
  (no detection: again less work than ours, which forms Gazepoint's fixations / runs I-VT).

Every figure carries the machine's 1-minute load average. Usage::

    .venv/bin/python pipelines/bench_trackers.py            # 30 MB files
    .venv/bin/python pipelines/bench_trackers.py --mb 10 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from _common import data_dir, run

REAL_SMI = data_dir() / "vendors" / "emdat" / "SMI_Sample_67_Events.txt"

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


def build(tmp: Path, mb: float) -> list[dict]:
    """The benchmark's files: what each is, our command's extra options, the anchor."""
    cases = []
    if REAL_SMI.exists():
        p = tmp / "smi_samples.txt"
        n = smi_samples(REAL_SMI, p, mb)
        cases.append({"what": "SMI BeGaze sample export (rendered from the real event export)",
                      "file": p, "rows": n, "ours": ["--screen-px", "1920", "1080"],
                      "anchors": [("pm.gaze.from_begaze", ["-c", PM_BEGAZE, p])]})
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
                  "ours": [], "anchors": _csv_anchors(p, "TIME(2026/01/01 00:00:00.000)",
                                                      "BPOGX", "BPOGY")})
    pu = simulated("pupil", tmp)
    src = sorted((pu / "raw").rglob("gaze_positions_on_surface_*.csv"))[0]
    p = tmp / "gaze_positions_on_surface_x.csv"
    n = tile_csv(src, p, "gaze_timestamp", mb, 1.0)
    cases.append({"what": "Pupil Player surface gaze (simulated, tiled)", "file": p, "rows": n,
                  "ours": [], "anchors": _csv_anchors(p, "gaze_timestamp", "x_norm", "y_norm")})
    return cases


def _csv_anchors(p: Path, time: str, x: str, y: str) -> list[tuple[str, list]]:
    """pymovements' generic CSV path: loading only, and loading then its I-VT (as ours)."""
    return [(f"pm.gaze.from_csv{label}", ["-c", PM_CSV, p, time, "s", x, y, "1000", what])
            for label, what in (("", "load"), (" + pix2deg, pos2vel, detect('ivt')", "ivt"))]


def bench(cases: list[dict], tmp: Path) -> list[dict]:
    """Whole-process timings of every case, ours and the anchor side by side."""
    import shutil

    from _whole import measure

    out = tmp / "out"

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)

    results = []
    for c in cases:
        ours_cmd = ["gazeprep", "ingest", c["file"], "--out", out, *c["ours"]]
        run(ours_cmd, echo=False)  # numba cache warm
        first = measure(ours_cmd, plain=2, before=clean)
        r = {"what": c["what"], "mb": c["file"].stat().st_size / 1e6, "rows": c["rows"],
             "anchors": [{"name": name, **measure([sys.executable, *argv], plain=1)}
                         for name, argv in c["anchors"]]}
        last = measure(ours_cmd, plain=2, before=clean)
        r["ours"] = min(first, last, key=lambda m: m["wall_s"])
        for a in r["anchors"]:
            a["ratio"] = a["wall_s"] / r["ours"]["wall_s"]
        results.append(r)
    return results


def show(results: list[dict]) -> None:
    """A Markdown table (as the docs quote it)."""
    print("| file | MB | rows | ours: wall s | CPU s | peak PSS MiB | load | anchor | wall s "
          "| peak PSS MiB | ratio | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        o = r["ours"]
        for a in r["anchors"] or [{"name": "(none)"}]:
            anchor = (f"{a['wall_s']:.2f} | {a['peak_pss_mib']:.0f} | **{a['ratio']:.1f}x** | "
                      f"{a['load']:.2f}" if "wall_s" in a else "- | - | - | -")
            print(f"| {r['what']} | {r['mb']:.1f} | {r['rows']:,} | {o['wall_s']:.2f} | "
                  f"{o['cpu_s']:.2f} | {o['peak_pss_mib']:.0f} | {o['load']:.2f} | "
                  f"{a['name']} | {anchor} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=30.0, help="size of each file (MB)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_trackers_") as d:
        tmp = Path(d)
        results = bench(build(tmp, args.mb), tmp)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        show(results)


if __name__ == "__main__":
    main()
