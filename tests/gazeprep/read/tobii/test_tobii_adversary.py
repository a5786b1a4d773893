"""Tobii exports an adversary writes: numbers no fixation can have, media names and sizes that
place nothing, columns written twice, samples the detector cannot use. Each ends in one line
naming the file and line with exit 1 (``--lenient`` drops and counts such fixations), never a
table of inf durations or a silently emptied image; the inputs stay byte-identical."""

from __future__ import annotations

import json

import pytest

US = "Eyetracker timestamp [\u03bcs]"


def _lines(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines, {c: i for i, c in enumerate(lines[0].split("\t"))}


def _set(lines, cols, column, value, rows):
    """``lines`` with ``column`` set to ``value`` on the data rows ``rows`` (indices) that
    have a value there (or on every row if ``rows`` is "all")."""
    out = list(lines)
    for i in range(1, len(out)) if rows == "all" else rows:
        f = out[i].split("\t")
        if f[cols[column]] or rows != "all":
            f[cols[column]] = value(f[cols[column]]) if callable(value) else value
        out[i] = "\t".join(f)
    return out


def _fixation_rows(lines):
    return [i for i, ln in enumerate(lines) if "\tFixation\t" in ln]


def _hostile(kind: str, prolab):
    """A hostile Pro Lab export of ``kind``, the 1-based line the error must name (None: any)
    and words the message must hold; extra ingest options."""
    path = prolab(f"{kind.replace(' ', '_').replace('/', '_')}.tsv")
    lines, cols = _lines(path)
    fix = _fixation_rows(lines)
    extra: tuple[str, ...] = ()
    if kind == "duration 1e308":
        lines = _set(lines, cols, "Gaze event duration [ms]", "1e308", [fix[5]])
        line, words = fix[0] + 1, "duration"
    elif kind == "duration over a day":
        lines = _set(lines, cols, "Gaze event duration [ms]", "1e12", fix)
        line, words = fix[0] + 1, "over a day"
    elif kind == "pupil 1e308":
        lines = _set(lines, cols, "Pupil diameter left [mm]", "1e308", fix)
        lines = _set(lines, cols, "Pupil diameter right [mm]", "1e308", fix)
        line, words = fix[0] + 1, "float32"
    elif kind == "clock jumps by years":
        later = fix[30]
        lines = _set(lines, cols, US, lambda v: str(int(v) + 10**17) if v else v,
                     range(later, len(lines)))
        line, words = None, "within a day"
    elif kind in ("media width 0", "media width -800", "media width 1e308"):
        lines = _set(lines, cols, "Presented Media width [px]", kind.split()[-1], "all")
        line, words = fix[0] + 1, "media"
    elif kind in ("media ..", "media long", "media dir/"):
        name = {"media ..": "..", "media long": "a" * 300 + ".png", "media dir/": "dir/"}[kind]
        lines = [ln.replace("\ta.png\t", f"\t{name}\t") for ln in lines]
        line, words = next(i for i, ln in enumerate(lines) if f"\t{name}\t" in ln
                           and "Eye Tracker" in ln) + 1, "Presented Media name"
    elif kind in ("index 1e308", "index 2,5"):
        lines = _set(lines, cols, "Eye movement type index", kind.split()[-1], [fix[5]])
        line, words = fix[5] + 1, "index"
    elif kind == "column twice":
        head = lines[0].split("\t")
        head[cols["Gaze point left X [DACS px]"]] = "Gaze point X [DACS px]"
        lines[0] = "\t".join(head)
        line, words = 1, "more than once"
    elif kind == "ivt gaze 1e20":
        lines = _set(lines, cols, "Gaze point left X [DACS px]", "1e20", [fix[5]])
        lines = _set(lines, cols, "Gaze point right X [DACS px]", "1e20", [fix[5]])
        line, words, extra = fix[5] + 1, "beyond", ("--detector", "ivt")
    else:  # "ivt times beyond 2**53 ms"
        lines = _set(lines, cols, US, lambda v: str(int(v) + 10**19) if v else v, "all")
        line, words, extra = None, "2**53", ("--detector", "ivt")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, line, words, extra


CASES = ["duration 1e308", "duration over a day", "pupil 1e308", "clock jumps by years",
         "media width 0", "media width -800", "media width 1e308", "media ..", "media long",
         "media dir/", "column twice", "ivt gaze 1e20", "ivt times beyond 2**53 ms",
         "index 1e308", "index 2,5"]


@pytest.mark.parametrize("kind", CASES)
def test_hostile_prolab_export_ends_in_one_line(kind, prolab, tmp_path, run_cli, error_line,
                                                untouched):
    path, line, words, extra = _hostile(kind, prolab)
    out = tmp_path / "gaze"
    check = untouched(path)
    r = run_cli("gazeprep", "ingest", str(path), "--out", str(out), *extra)
    assert r.returncode == 1, (r.returncode, r.stderr)
    msg = error_line(r.stderr)
    where = f"{path}:{line}: " if line else f"{path}:"
    assert msg.startswith(f"gazeprep: error: {where}") and words in msg, msg
    assert "expected" in msg, msg
    assert not out.exists()
    check()


@pytest.mark.parametrize("kind", ["duration 1e308", "media width 0"])
def test_lenient_drops_and_counts_hostile_fixations(kind, prolab, tmp_path, run_cli):
    path, _line, _words, _extra = _hostile(kind, prolab)
    out = tmp_path / "gaze"
    r = run_cli("gazeprep", "ingest", str(path), "--out", str(out), "--lenient")
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "ingest.json").read_text())["inputs"][0]
    assert report["dropped"].get("bad_value", 0) >= 1, report["dropped"]
    import polars as pl

    f = pl.read_parquet(out / "fixations.parquet")
    assert f["duration_ms"].is_finite().all() and (f["duration_ms"] <= 86_400_000).all()


def _split_export(tmp_path, name: str, rows: list[str], header: str | None = None):
    path = tmp_path / f"{name}-Fixation-Data.tsv"
    head = header or ("FixationIndex\tTimestamp\tFixationDuration\tMappedFixationPointX\t"
                      "MappedFixationPointY")
    path.write_text("\n".join(["Data properties:", "", "Recording name:\tRec1",
                               "Screen resolution:\t1920 x 1080", "", head, *rows]) + "\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["time backwards", "duration 1e308", "column twice"])
def test_hostile_studio_fixation_data(kind, tmp_path, run_cli, error_line, untouched):
    rows = ["1\t100\t200\t500\t400", "2\t400\t200\t600\t400", "3\t700\t200\t700\t400"]
    header, line, words = None, 8, "earlier"
    if kind == "time backwards":
        rows[2] = "3\t50\t200\t700\t400"
        line = 9
    elif kind == "duration 1e308":
        rows[1] = "2\t400\t1e308\t600\t400"
        words = "duration"
    else:
        header = ("FixationIndex\tTimestamp\tFixationDuration\tMappedFixationPointX\t"
                  "MappedFixationPointX")
        line, words = 6, "more than once"
    path = _split_export(tmp_path, "P1", rows, header)
    check = untouched(path)
    r = run_cli("gazeprep", "ingest", str(path), "--out", str(tmp_path / "gaze"))
    assert r.returncode == 1, r.stderr
    msg = error_line(r.stderr)
    assert msg.startswith(f"gazeprep: error: {path}:{line}: ") and words in msg, msg
    check()


def test_sdk_pupil_beyond_float32_is_refused(sdk, tmp_path, run_cli, error_line):
    path = sdk()
    lines = path.read_text().splitlines()
    for i in range(1, len(lines)):
        f = lines[i].split(";")
        f[6] = f[7] = "1e308"
        lines[i] = ";".join(f)
    path.write_text("\n".join(lines) + "\n")
    r = run_cli("gazeprep", "ingest", str(path), "--out", str(tmp_path / "gaze"))
    assert r.returncode == 1, r.stderr
    msg = error_line(r.stderr)
    assert msg.startswith(f"gazeprep: error: {path}:") and "float32" in msg, msg


def _big_prolab(path, prolab, mib: int):
    """The fixture's Pro Lab export repeated (times shifted) to about ``mib`` MiB."""
    lines = prolab().read_text(encoding="utf-8").splitlines()
    head, body = lines[0], lines[1:]
    col = head.split("\t").index(US)
    rows = [ln.split("\t") for ln in body]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(head + "\n")
        rep = 0
        while fh.tell() < mib << 20:
            for f in rows:
                g = list(f)
                if g[col]:
                    g[col] = str(int(g[col]) + rep * 10_000_000)
                fh.write("\t".join(g) + "\n")
            rep += 1
    return path


@pytest.mark.slow
@pytest.mark.parametrize(("detector", "mib"), [("ivt", 34), ("ivt", 45), ("auto", 50)])
def test_a_large_export_under_2_gib_ends_in_one_line_or_runs(detector, mib, prolab, tmp_path,
                                                              error_line):
    """A 45 MiB export with I-VT under a 2 GiB address-space limit was killed by an
    allocation failure (numba's kernels, loaded after the table's memory check, took the
    room it had counted on): now it runs or ends in one line."""
    import resource
    import subprocess
    import sys

    path = _big_prolab(tmp_path / "big.tsv", prolab, mib)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    r = subprocess.run([sys.executable, "-m", "gazeprep.cli", "ingest", str(path), "--out",
                        str(tmp_path / "gaze"), "--detector", detector], capture_output=True,
                       text=True, preexec_fn=limit, timeout=300)
    assert r.returncode in (0, 1), r.stderr[-2000:]
    if r.returncode == 1:
        assert "memory" in error_line(r.stderr), r.stderr


@pytest.mark.parametrize("dialect", ["studio", "prolab"])
def test_a_screen_size_of_zero_names_the_column_it_came_from(dialect, studio, prolab,
                                                             tmp_path, run_cli, error_line):
    """The export's own recording resolution of 0 x 0 was blamed on --image-rect /
    --screen-px, which the user never gave."""
    if dialect == "studio":
        path = studio()
        path.write_bytes(path.read_bytes().replace(b"1920 x 1080", b"0 x 0"))
        column = "RecordingResolution"
    else:
        path = prolab()
        lines, cols = _lines(path)
        lines = _set(lines, cols, "Recording resolution width [px]", "0", "all")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        column = "Recording resolution width"
    r = run_cli("gazeprep", "ingest", str(path), "--out", str(tmp_path / "gaze"))
    assert r.returncode == 1, r.stderr
    msg = error_line(r.stderr)
    assert column in msg and "--image-rect" not in msg and "expected" in msg, msg
