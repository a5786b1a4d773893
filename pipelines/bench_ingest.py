"""Benchmark: ASC parsing vs pymovements 0.28, and the I-VT / I-DT kernels vs plain Python.

Builds a long EyeLink ASC by tiling the real binocular recording
(``$GAZE_DATA/eyelink/eyelink_binocular_example.asc``: its header once, then its recording
block repeated with shifted timestamps) and times, in the same run:

- ``gazeprep.read.asc.parse.parse_asc`` (samples, events, messages; best of ``--repeat`` runs
  before and ``--repeat`` runs after the anchor) against ``pymovements.gaze.from_asc`` (once;
  it is the slow one) on the same file: samples/s, ratio;
- ``gazeprep ingest`` as a whole on the file (tracker events, then I-VT and I-DT);
- I-VT (array operations) and the numba I-DT kernel on one eye's samples with
  ``numba.set_num_threads(1)``
  (the kernels are sequential: this is the per-core figure) against the plain-Python reference
  implementations of ``tests/test_detect.py`` on a slice.

numba compilation is done before timing (cache warm-up on the small real file).

Whole processes (``--whole``), as a user times them: a folder of ``--files`` recordings of
``--samples`` samples each (the tiled file under several names, hard links), ingested by
``gazeprep ingest FOLDER`` (every core, and ``--jobs 1``) against one process that reads every
file with ``pymovements.gaze.from_asc`` (its import included, as ``gazeprep``'s are). Wall
times, and the ratio, come from unsampled runs (ours: the best of two before and two after the
anchor; the anchor: one); one more run of each, its process tree sampled, gives the CPU seconds,
cores used and peak memory (summed PSS; see ``pipelines/_whole.py``). Then the scaling: the
folder at 1x, 4x and 16x the files, with the same figures. Every figure carries the 1-minute
load average of the (shared) machine when it was taken.

Usage::

    .venv/bin/python pipelines/bench_ingest.py                 # >= 500,000 samples
    .venv/bin/python pipelines/bench_ingest.py --samples 1000000 --no-pymovements
    .venv/bin/python pipelines/bench_ingest.py --asc some.asc --json
    .venv/bin/python pipelines/bench_ingest.py --whole --files 4 --samples 736000 --scales 1,4,16
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, data_dir, run

REAL = data_dir() / "eyelink" / "eyelink_binocular_example.asc"
TIME_FIELDS = {  # token positions holding a timestamp, per line head
    "MSG": (1,), "START": (1,), "END": (1,), "SFIX": (2,), "SSACC": (2,), "SBLINK": (2,),
    "EFIX": (2, 3), "ESACC": (2, 3), "EBLINK": (2, 3), "INPUT": (1,),
}


def _template(line: str) -> tuple[str, list[float]]:
    """The line with its timestamp tokens replaced by ``{}`` slots, and their values."""
    parts = re.split(r"(\s+)", line)
    toks = parts[0::2]
    head = toks[0] if toks else ""
    pos = (0,) if head[:1].isdigit() else TIME_FIELDS.get(head, ())
    times = []
    esc = [p.replace("{", "{{").replace("}", "}}") for p in parts]
    for k in pos:
        if k < len(toks):
            try:
                times.append(float(toks[k]))
            except ValueError:
                continue
            esc[2 * k] = "{}"
    return "".join(esc), times


def build_tiled_asc(src: Path, dst: Path, min_samples: int) -> int:
    """Write ``dst``: ``src``'s header, then its recording block tiled until ``min_samples``.

    Returns
    -------
    int
        Number of sample lines written.
    """
    lines = src.read_text(encoding="latin-1").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("START"))
    # The TRIALID of the real file comes inside the block; keep the preceding MSGs with it.
    header, block = lines[:start], lines[start:]
    n_per = sum(1 for ln in block if ln[:1].isdigit())
    temps = [_template(ln) for ln in block]
    t_all = [t for _, ts in temps for t in ts]
    span = max(t_all) - min(t_all) + 1000.0
    tiles = -(-min_samples // n_per)
    with open(dst, "w", encoding="latin-1") as fh:
        fh.write("\n".join(header) + "\n")
        for k in range(tiles):
            off = k * span
            out = []
            for tpl, ts in temps:
                if ts:
                    out.append(tpl.format(*(_fmt(t + off) for t in ts)))
                else:
                    out.append(tpl)
            fh.write("\n".join(out) + "\n")
    return tiles * n_per


def _fmt(t: float) -> str:
    return str(int(t)) if t == int(t) else f"{t:.1f}"


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _agree(samples, log) -> bool:
    """Do pymovements and we read the same times and gaze positions (NaN = missing)?"""
    import polars as pl

    if samples.height != log.t.size or "pixel" not in samples.columns:
        return False
    ncol = samples.select(pl.col("pixel").list.len().max()).item()
    theirs = np.stack([samples.select(pl.col("pixel").list.get(i).cast(pl.Float64))
                       .to_series().to_numpy() for i in range(ncol)], 1)
    ours = (np.stack([log.x[0], log.y[0], log.x[1], log.y[1]], 1) if ncol == 4
            else np.stack([np.where(np.isfinite(log.x[0]), log.x[0], log.x[1]),
                           np.where(np.isfinite(log.y[0]), log.y[0], log.y[1])], 1))
    return bool(np.array_equal(samples["time"].to_numpy().astype(np.float64), log.t)
                and np.array_equal(ours, theirs, equal_nan=True))


def bench(asc: Path, repeat: int, with_pymovements: bool, ref_samples: int) -> dict:
    """Time everything on ``asc`` (see the module docstring)."""
    import numba

    from gazeprep.detect.geometry import px_per_degree
    from gazeprep.detect.idt import idt
    from gazeprep.detect.ivt import ivt
    from gazeprep.ingest import run_ingest
    from gazeprep.read.asc.parse import parse_asc
    from gazeprep.read.options import IngestOptions

    sys.path.insert(0, str(ROOT / "tests" / "gazeprep" / "detect"))
    from test_detect import ref_idt, ref_ivt  # the plain-Python references

    warm = REAL if REAL.exists() else asc
    parse_asc(str(warm))  # numba compile / cache load outside the timings
    rows: dict = {"file": str(asc), "bytes": asc.stat().st_size}

    # Our runs are spread before and after the (long) pymovements run and the best is kept, so
    # that a burst of load from other users of the machine does not decide the ratio.
    t_parse, log = _best(lambda: parse_asc(str(asc)), repeat)
    if with_pymovements:
        import pymovements as pm

        t0 = time.perf_counter()
        gaze = pm.gaze.from_asc(asc)
        rows["pymovements_parse_s"] = time.perf_counter() - t0
        t_parse = min(t_parse, _best(lambda: parse_asc(str(asc)), repeat)[0])
    n = int(log.t.size)
    rows["samples"] = n
    rows["ours_parse_s"] = t_parse
    rows["ours_samples_per_s"] = n / t_parse
    if with_pymovements:
        rows["pymovements_samples"] = int(gaze.samples.height)
        rows["pymovements_samples_per_s"] = (rows["pymovements_samples"]
                                             / rows["pymovements_parse_s"])
        rows["parse_ratio"] = rows["ours_samples_per_s"] / rows["pymovements_samples_per_s"]
        rows["samples_agree"] = _agree(gaze.samples, log)

    with tempfile.TemporaryDirectory() as tmp:
        for det in ("tracker", "ivt", "idt"):
            opts = IngestOptions(detector=det, eye="both", lenient=True)
            run_ingest([warm], Path(tmp) / "warm", opts)  # compile outside the timing
            secs, summ = _best(lambda o=opts: run_ingest([asc], Path(tmp) / "gaze", o), 2)
            rows[f"ingest_{det}_s"] = secs
            rows[f"ingest_{det}_fixations"] = summ.n_fixations

    numba.set_num_threads(1)
    e = 0 if np.isfinite(log.x[0]).any() else 1
    t, x, y = (np.ascontiguousarray(a) for a in (log.t, log.x[e], log.y[e]))
    ppd = px_per_degree((1920, 1080), (53.0, 30.0), 60.0)
    vel, disp = 30 * ppd / 1000, 1.0 * ppd
    def run_ivt(n):
        return ivt(t[:n], x[:n], y[:n], velocity=vel, window=20.0, max_gap=75.0)

    def run_idt(n):  # min_span 99 ms as in the references: window 100 ms at 1 ms samples
        return idt(t[:n], x[:n], y[:n], dispersion=disp, window=100.0, max_gap=75.0, dt=1.0)

    run_ivt(100)
    run_idt(100)
    t_ivt, _ = _best(lambda: run_ivt(n), repeat)
    t_idt, _ = _best(lambda: run_idt(n), repeat)
    m = min(ref_samples, n)
    tl, xl, yl = t[:m].tolist(), x[:m].tolist(), y[:m].tolist()
    t_rivt, _ = _best(lambda: ref_ivt(tl, xl, yl, vel, 75.0, 10.0), 1)
    t_ridt, _ = _best(lambda: ref_idt(tl, xl, yl, disp, 99.0, 75.0), 1)
    rows.update({
        "kernel_samples": n, "reference_samples": m,
        "ivt_samples_per_s_1core": n / t_ivt, "idt_samples_per_s_1core": n / t_idt,
        "ivt_ref_samples_per_s": m / t_rivt, "idt_ref_samples_per_s": m / t_ridt,
    })
    rows["ivt_speedup"] = rows["ivt_samples_per_s_1core"] / rows["ivt_ref_samples_per_s"]
    rows["idt_speedup"] = rows["idt_samples_per_s_1core"] / rows["idt_ref_samples_per_s"]
    return rows


def show(r: dict) -> None:
    """Rich table of the results."""
    from rich.console import Console
    from rich.table import Table

    tab = Table(title=f"bench_ingest: {Path(r['file']).name} ({r['samples']:,} samples, "
                      f"{r['bytes'] / 1e6:.1f} MB)")
    for c in ("what", "seconds", "samples/s", "vs anchor"):
        tab.add_column(c, justify="right" if c != "what" else "left")
    tab.add_row("gazeprep parse_asc", f"{r['ours_parse_s']:.3f}",
                f"{r['ours_samples_per_s']:,.0f}",
                f"{r['parse_ratio']:.0f}x pymovements" if "parse_ratio" in r else "")
    if "pymovements_parse_s" in r:
        tab.add_row("pymovements.gaze.from_asc", f"{r['pymovements_parse_s']:.3f}",
                    f"{r['pymovements_samples_per_s']:,.0f}", "anchor")
    for det in ("tracker", "ivt", "idt"):
        tab.add_row(f"gazeprep ingest --detector {det} (whole run)", f"{r[f'ingest_{det}_s']:.3f}",
                    f"{r['samples'] / r[f'ingest_{det}_s']:,.0f}",
                    f"{r[f'ingest_{det}_fixations']:,} fixations")
    for k, how in (("ivt", "array operations"), ("idt", "numba kernel")):
        tab.add_row(f"{k.upper()} {how}, 1 thread", "",
                    f"{r[f'{k}_samples_per_s_1core']:,.0f}", f"{r[f'{k}_speedup']:.0f}x reference")
        tab.add_row(f"{k.upper()} plain-Python reference ({r['reference_samples']:,} samples)",
                    "", f"{r[f'{k}_ref_samples_per_s']:,.0f}", "")
    Console().print(tab)
    if "samples_agree" in r:
        Console().print(f"samples identical to pymovements' (time, x, y): {r['samples_agree']}")
    Console().print("[dim]Shared machine: figures are noisy; ratios are measured side by side "
                    "in this run.")


PM_SCRIPT = (
    "import sys\nimport pymovements as pm\n"
    "n = sum(pm.gaze.from_asc(f).samples.height for f in sys.argv[1:])\nprint(n)\n"
)


def recording_folder(tiled: Path, folder: Path, n_files: int) -> list[Path]:
    """``folder`` with ``n_files`` recordings: hard links to ``tiled`` under their own names
    (each is a recording of its own to both readers: its own path, its own session)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(n_files):
        f = folder / f"rec{k:03d}.asc"
        if not f.exists():
            os.link(tiled, f)
        files.append(f)
    return files


def whole(tiled: Path, samples: int, n_files: int, scales: list[int], with_pm: bool,
          tmp: Path) -> dict:
    """Whole-process timings: ours vs pymovements on ``n_files`` recordings, then scaling."""
    from _whole import measure

    run(["gazeprep", "ingest", REAL, "--out", tmp / "warm"], echo=False)  # numba cache
    folder = tmp / "x1"
    files = recording_folder(tiled, folder, n_files)

    def ours(*extra: str) -> dict:
        return measure(["gazeprep", "ingest", folder, "--out", tmp / "out", *extra], plain=2)

    r: dict = {"files": n_files, "samples_per_file": samples, "samples": samples * n_files,
               "cores": _cores()}
    first, first1 = ours(), ours("--jobs", "1")
    if with_pm:
        r["pymovements"] = measure([sys.executable, "-c", PM_SCRIPT, *map(str, files)],
                                   plain=1)
    last, last1 = ours(), ours("--jobs", "1")
    r["ours"] = min(first, last, key=lambda m: m["wall_s"])
    r["ours_jobs1"] = min(first1, last1, key=lambda m: m["wall_s"])
    if with_pm:
        r["whole_ratio"] = r["pymovements"]["wall_s"] / r["ours"]["wall_s"]
        r["whole_ratio_jobs1"] = r["pymovements"]["wall_s"] / r["ours_jobs1"]["wall_s"]
    r["scaling"] = []
    for k in scales:
        sub = tmp / f"x{k}"
        recording_folder(tiled, sub, n_files * k)
        m = measure(["gazeprep", "ingest", sub, "--out", tmp / f"out{k}"], plain=1)
        m.update(scale=k, files=n_files * k, samples=samples * n_files * k)
        r["scaling"].append(m)
        shutil.rmtree(tmp / f"out{k}")
    return r


def _cores() -> int:
    from gazeprep.jobs import cores

    return cores()


def show_whole(r: dict) -> None:
    """Markdown tables of :func:`whole` (as the README quotes them)."""
    print(f"\n# whole processes: {r['files']} recordings x {r['samples_per_file']:,} samples "
          f"= {r['samples']:,}, {r['cores']} usable cores\n")
    print("| what | wall s | wall s, sampled | CPU s | cores used | peak memory (PSS, MiB) | "
          "load |")
    print("|---|---|---|---|---|---|---|")
    rows = [("`gazeprep ingest FOLDER` (all cores)", r["ours"]),
            ("`gazeprep ingest FOLDER --jobs 1`", r["ours_jobs1"])]
    if "pymovements" in r:
        rows.append(("pymovements `gaze.from_asc` on each file, one process", r["pymovements"]))
    for name, m in rows:
        print(f"| {name} | {m['wall_s']:.2f} | {m['wall_s_sampled']:.2f} | {m['cpu_s']:.2f} | "
              f"{m['cores_used']:.2f} | {m['peak_pss_mib']:.0f} | {m['load']:.2f} |")
    if "whole_ratio" in r:
        print(f"\nwhole-process ratio: **{r['whole_ratio']:.1f}x** pymovements (all cores), "
              f"{r['whole_ratio_jobs1']:.1f}x with --jobs 1")
    print("\n| data | files | samples | wall s | s per M samples | CPU s | cores used | "
          "peak PSS MiB | main RSS MiB | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m in r["scaling"]:
        print(f"| {m['scale']}x | {m['files']} | {m['samples']:,} | {m['wall_s']:.2f} | "
              f"{m['wall_s'] / m['samples'] * 1e6:.3f} | {m['cpu_s']:.2f} | "
              f"{m['cores_used']:.2f} | {m['peak_pss_mib']:.0f} | "
              f"{m['peak_rss_main_mib']:.0f} | {m['load']:.2f} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--asc", type=Path, help="time this ASC file instead of a tiled one")
    ap.add_argument("--samples", type=int, default=500_000, help="tiled file size (samples)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for our timings")
    ap.add_argument("--ref-samples", type=int, default=50_000,
                    help="samples given to the plain-Python references")
    ap.add_argument("--no-pymovements", action="store_true", help="skip the anchor")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--whole", action="store_true",
                    help="also time whole processes on a folder of recordings, and the scaling")
    ap.add_argument("--files", type=int, default=4, help="recordings in the --whole folder")
    ap.add_argument("--scales", default="1,4,16", help="--whole: folder sizes, x --files")
    ap.add_argument("--no-in-process", action="store_true", help="only the --whole figures")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        asc = a.asc
        if asc is None:
            if not REAL.exists():
                sys.exit(f"needs {REAL} (real data not present) or --asc FILE")
            asc = Path(tmp) / f"tiled_{a.samples}.asc"
            n = build_tiled_asc(REAL, asc, a.samples)
        else:
            n = sum(1 for ln in asc.open("rb") if ln[:1].isdigit())
        r = {} if a.no_in_process else bench(asc, a.repeat, not a.no_pymovements, a.ref_samples)
        if a.whole:
            r["whole"] = whole(asc, n, a.files, [int(k) for k in a.scales.split(",")],
                               not a.no_pymovements, Path(tmp))
    if a.json:
        print(json.dumps(r, indent=1))
        return
    if not a.no_in_process:
        show(r)
    if a.whole:
        show_whole(r["whole"])


if __name__ == "__main__":
    main()
