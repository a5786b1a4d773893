"""`gazeprep ingest --out`: only ingest's own files are replaced, crash-safely.

Every test hashes the user's files before and after and asserts they are byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from safety_helpers import write_report

from gazeprep.errors import GazeprepError
from gazeprep.ingest import OUTPUT_FILES, run_ingest
from gazeprep.read.options import IngestOptions
from gazeprep.tracks import read_tracks

#: The kill tests below name the steps of the one-rename swap (renameat2); elsewhere the
#: two-rename fallback runs, tested in tests/gazeprep/contract/test_folder_swap.py.
LINUX_SWAP = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="renameat2(RENAME_EXCHANGE) is Linux's")


IMAGES_A = ["a0", "a1", "a2"]
IMAGES_B = ["b0", "b1"]



def _ingest(report: Path, out: Path):
    return run_ingest([report], out, IngestOptions())


def _output_of(digest, out: Path, notes: list | None = None) -> tuple[str, str]:
    """Which complete output ``out`` holds: ('A'|'B', tracks sha) - checked through the reader."""
    tracks, identity = read_tracks(out, notes)
    ids = sorted(tracks)
    assert ids in (IMAGES_A, IMAGES_B), ids
    rep = json.loads((out / "ingest.json").read_text())
    for name in ("fixations.parquet", "tracks.parquet"):
        assert rep["outputs"][name]["sha256"] == digest(out / name)[name], name
    fix = pl.read_parquet(out / "fixations.parquet")
    assert sorted(fix["image"].unique().to_list()) == ids
    return ("A" if ids == IMAGES_A else "B"), identity["tracks_sha256"]


def test_rerun_replaces_only_ingest_files_and_keeps_user_files(tmp_path, tree_digest, run_cli):
    out = tmp_path / "gaze"
    _ingest(write_report(tmp_path / "a.csv", IMAGES_A, 1), out)
    (out / "notes.txt").write_text("my notes about this recording\n")
    (out / "figures").mkdir()
    (out / "figures" / "fig1.png").write_bytes(b"\x89PNG user figure")
    user = tree_digest(out, skip=OUTPUT_FILES)
    res = run_cli("gazeprep", "ingest", write_report(tmp_path / "b.csv", IMAGES_B, 2),
                  "--out", out)
    assert res.returncode == 0, res.stderr
    assert tree_digest(out, skip=OUTPUT_FILES) == user
    assert _output_of(tree_digest, out)[0] == "B"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*OUTPUT_FILES, "notes.txt", "figures"])


def test_input_inside_out_is_refused_and_nothing_changes(tmp_path, tree_digest, run_cli,
                                                         error_line, shared_data):
    out = tmp_path / "gaze"
    _ingest(write_report(tmp_path / "a.csv", IMAGES_A, 1), out)
    raw = out / "raw"
    real = shared_data("gazemedseg", "kvasir_fixation.csv", required=False)
    if real is not None:  # the real recording a user keeps beside its ingest output
        raw.mkdir()
        shutil.copy(real, raw / real.name)
        src = raw
    else:
        src = write_report(raw / "b.csv", IMAGES_B, 2)
    before = tree_digest(tmp_path)
    res = run_cli("gazeprep", "ingest", src, "--out", out)
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "inside --out" in line and str(out) in line
    assert tree_digest(tmp_path) == before


def test_output_names_not_written_by_ingest_are_refused(tmp_path, tree_digest, run_cli, error_line):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "tracks.parquet").write_bytes(b"a user's own parquet")
    report = write_report(tmp_path / "a.csv", IMAGES_A, 1)
    before = tree_digest(tmp_path)
    res = run_cli("gazeprep", "ingest", report, "--out", out)
    assert res.returncode == 1
    assert "not written by gazeprep ingest" in error_line(res.stderr)
    assert tree_digest(tmp_path) == before


def test_out_folder_of_user_files_gets_only_the_three_outputs(tmp_path, tree_digest):
    out = tmp_path / "project"
    out.mkdir()
    (out / "README.txt").write_text("a user's folder\n")
    before = tree_digest(out)
    _ingest(write_report(tmp_path / "a.csv", IMAGES_A, 1), out)
    assert tree_digest(out, skip=OUTPUT_FILES) == before
    assert _output_of(tree_digest, out)[0] == "A"


def test_reader_refuses_a_half_replaced_set(tmp_path):
    a, b = tmp_path / "ga", tmp_path / "gb"
    _ingest(write_report(tmp_path / "a.csv", IMAGES_A, 1), a)
    _ingest(write_report(tmp_path / "b.csv", IMAGES_B, 2), b)
    shutil.copy(b / "tracks.parquet", a / "tracks.parquet")  # tracks of B, ingest.json of A
    with pytest.raises(GazeprepError, match="tracks.parquet.*sha256"):
        read_tracks(a)


def test_leftovers_of_the_old_whole_folder_swap_are_restored_or_reported(tmp_path, file_sha256):
    # The old code renamed --out to .<name>.old-<pid> before renaming the new folder in: a kill
    # in between left no --out. The next run puts the user's folder back and says so.
    out = tmp_path / "gaze"
    _ingest(write_report(tmp_path / "a.csv", IMAGES_A, 1), out)
    (out / "notes.txt").write_text("notes\n")
    old = tmp_path / ".gaze.old-4242"
    out.rename(old)
    tmp = tmp_path / ".gaze.tmp-4242"
    _ingest(write_report(tmp_path / "b.csv", IMAGES_B, 2), tmp)
    user = file_sha256(old / "notes.txt")
    s = _ingest(write_report(tmp_path / "c.csv", IMAGES_B, 3), out)
    assert file_sha256(out / "notes.txt") == user and not old.exists()
    assert not tmp.exists()
    notes = " ".join(s.notes)
    assert ".gaze.old-4242" in notes and "restored" in notes
    assert ".gaze.tmp-4242" in notes and "removed" in notes
    # With --out present, an old copy is only reported (it may hold user files), never deleted.
    shutil.copytree(out, old)
    s = _ingest(write_report(tmp_path / "c.csv", IMAGES_B, 3), out)
    assert old.is_dir() and ".gaze.old-4242" in " ".join(s.notes)


# ------------------------------------------------------------------ crash safety (fault injection)

_KILL_AT_NTH_FS_CALL = textwrap.dedent("""
    import os, pathlib, shutil, sys
    n = int(sys.argv[1]); calls = [0]
    def wrap(f):
        def g(*a, **k):
            calls[0] += 1
            if calls[0] == n:
                os._exit(77)
            return f(*a, **k)
        return g
    os.replace, os.rename = wrap(os.replace), wrap(os.rename)
    P = pathlib.Path
    P.rename, P.replace = wrap(P.rename), wrap(P.replace)
    shutil.rmtree, os.unlink = wrap(shutil.rmtree), wrap(os.unlink)
    from gazeprep.ingest import run_ingest
    from gazeprep.read.options import IngestOptions
    run_ingest([sys.argv[2]], sys.argv[3], IngestOptions())
""")


def _killed_run(script: str, *args) -> int:
    return subprocess.run([sys.executable, "-c", script, *map(str, args)],
                          capture_output=True, text=True, timeout=300).returncode


def _check_after_kill(digest, tmp_path, out: Path, user: dict, b_report: Path,
                      reader_first: bool = True) -> str:
    """After a kill: a complete output, user files intact; the reader (render's read_tracks) or
    the next run cleans up the leftovers and says so in one line."""
    assert digest(out, skip=(*OUTPUT_FILES, ".gazeprep-staging", ".gazeprep-swap")) == user
    notes: list[str] = []
    which = None
    if reader_first:
        which = _output_of(digest, out, notes)[0]
    else:  # what the files are, without the reader's recovery
        rep = json.loads((out / "ingest.json").read_text())
        which = "A" if "a.csv" in rep["inputs"][0]["path"] else "B"
    s = _ingest(b_report, out)
    assert _output_of(digest, out)[0] == "B"
    assert digest(out, skip=OUTPUT_FILES) == user
    hidden = [p.name for p in tmp_path.rglob(".*")]
    assert hidden == [], hidden
    return which, notes + s.notes


def _setup(digest, tmp_path):
    out = tmp_path / "gaze"
    _ingest(write_report(tmp_path / "a.csv", IMAGES_A, 1), out)
    (out / "notes.txt").write_text("the user's notes\n")
    return out, digest(out, skip=OUTPUT_FILES), write_report(tmp_path / "b.csv", IMAGES_B, 2)


@pytest.mark.slow
def test_kill_at_every_rename_or_delete_leaves_old_or_new_output(tmp_path, tree_digest):
    """Implementation-agnostic: kill the process at the n-th rename/replace/delete, n = 1, 2..."""
    seen = set()
    for n in range(1, 40):
        case = tmp_path / f"k{n}"
        case.mkdir()
        out, user, b = _setup(tree_digest, case)
        code = _killed_run(_KILL_AT_NTH_FS_CALL, n, b, out)
        if code == 0:
            break
        assert code == 77, code
        which, _ = _check_after_kill(tree_digest, case, out, user, b)
        seen.add(which)
    else:
        pytest.fail("the run never completed")
    assert n > 2, "expected several renames"


_KILL_AT_STEP = textwrap.dedent("""
    import os, sys
    from gazeprep import outputs
    from gazeprep.contract import folder_swap
    step = sys.argv[1]
    def fault(s):
        if s == step:
            os._exit(77)
    outputs._fault = folder_swap._fault = fault
    from gazeprep.ingest import run_ingest
    from gazeprep.read.options import IngestOptions
    run_ingest([sys.argv[2]], sys.argv[3], IngestOptions())
""")


def _steps(digest, tmp_path, monkeypatch) -> list[str]:
    from gazeprep.contract import folder_swap

    steps: list[str] = []
    (tmp_path / "spy").mkdir()
    out, _, b = _setup(digest, tmp_path / "spy")
    monkeypatch.setattr(folder_swap, "_fault", steps.append)
    _ingest(b, out)
    monkeypatch.undo()
    return steps


def _raw_read(out: Path) -> str:
    """What polars sees in the folder, without gazeprep's reader: 'A' or 'B', asserting the
    tables agree with each other and with ingest.json."""
    fix = pl.read_parquet(out / "fixations.parquet")
    tracks = pl.read_parquet(out / "tracks.parquet")
    ids = sorted(tracks["image"].unique().to_list())
    assert sorted(fix["image"].unique().to_list()) == ids
    rep = json.loads((out / "ingest.json").read_text())
    for name in ("fixations.parquet", "tracks.parquet"):
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        assert rep["outputs"][name]["sha256"] == digest, name
    assert ids in (IMAGES_A, IMAGES_B), ids
    return "A" if ids == IMAGES_A else "B"


@LINUX_SWAP
@pytest.mark.slow
def test_fault_injected_at_each_step_of_the_replacement(tmp_path, monkeypatch, tree_digest):
    """The output folder is built beside the old one and swapped in with one rename: killed
    or interrupted at each step, every reader (polars itself included) sees A or B whole."""
    from gazeprep.contract import folder_swap

    steps = _steps(tree_digest, tmp_path, monkeypatch)
    assert steps == ["built", "carried", "exchanged", "cleaned"], steps
    commit = steps.index("exchanged")
    for i, step in enumerate(steps):
        # 1) a kill (os._exit) at this step
        case = tmp_path / f"kill{i}"
        case.mkdir()
        out, user, b = _setup(tree_digest, case)
        assert _killed_run(_KILL_AT_STEP, step, b, out) == 77, step
        assert _raw_read(out) == ("A" if i < commit else "B"), step  # before any recovery
        which, notes = _check_after_kill(tree_digest, case, out, user, b, reader_first=i % 2 == 0)
        assert which == ("A" if i < commit else "B"), step
        if step != "cleaned":  # a build, or the swapped-out old folder, was left beside
            assert any("removed" in n for n in notes), (step, notes)
        # 2) an exception at this step: the output is whole, the next run tidies up
        case = tmp_path / f"exc{i}"
        case.mkdir()
        out, user, b = _setup(tree_digest, case)

        def boom(s, step=step):
            if s == step:
                raise OSError(f"injected at {s}")

        monkeypatch.setattr(folder_swap, "_fault", boom)
        with pytest.raises(OSError, match="injected"):
            _ingest(b, out)
        monkeypatch.undo()
        assert _raw_read(out) == ("A" if i < commit else "B"), step
        assert _output_of(tree_digest, out)[0] == ("A" if i < commit else "B"), step
        assert tree_digest(out, skip=(*OUTPUT_FILES, ".gazeprep-swap")) == user
        _ingest(b, out)
        assert [p.name for p in case.rglob(".*")] == [], step


def test_uncommitted_staging_with_foreign_files_is_not_deleted(tmp_path, tree_digest):
    out, user, b = _setup(tree_digest, tmp_path)
    staging = out / ".gazeprep-staging"
    staging.mkdir()
    (staging / "precious.txt").write_text("not ours\n")
    before = tree_digest(out)
    with pytest.raises(GazeprepError, match="precious.txt"):
        _ingest(b, out)
    assert tree_digest(out) == before


_KILL_OLD_TRANSACTION = textwrap.dedent("""
    import os, shutil, sys
    from pathlib import Path
    from gazeprep import outputs
    from gazeprep.tracks import OUTPUT_FILES, RECORD, owned
    def fault(s):
        if s == "replaced fixations.parquet":
            os._exit(77)
    outputs._fault = fault
    new, out = Path(sys.argv[1]), Path(sys.argv[2])
    with outputs.transaction(out, owned) as st:
        for name in OUTPUT_FILES:
            shutil.copy(new / name, st.file(name))
            st.add(name)
        st.commit(RECORD)
""")


def test_render_finishes_an_interrupted_ingest_and_says_so(tmp_path, tree_digest, run_cli):
    """An ingest of an earlier version, killed between its renames (fixations of B, the rest
    of A, the commit marker staged): render's reader rolls it forward and says so."""
    from skimage.io import imsave

    out, user, b = _setup(tree_digest, tmp_path)
    new = tmp_path / "b-output"
    _ingest(b, new)
    assert _killed_run(_KILL_OLD_TRANSACTION, new, out) == 77
    assert (out / ".gazeprep-staging" / "COMMITTED").is_file()
    imgs = tmp_path / "images"
    imgs.mkdir()
    for i in IMAGES_B:
        imsave(imgs / f"{i}.png", np.zeros((8, 8, 3), np.uint8), check_contrast=False)
    res = run_cli("gazeprep", "render", "--gaze", out, "--images", imgs, "--size", "16",
                  "--out", tmp_path / "maps.zarr")
    assert res.returncode == 0, res.stderr
    notes = [ln for ln in res.stderr.splitlines() if "rolled forward" in ln]
    assert len(notes) == 1 and str(out) in notes[0], res.stderr  # one line, not wrapped
    assert _output_of(tree_digest, out)[0] == "B" and not (out / ".gazeprep-staging").exists()
    assert tree_digest(out, skip=OUTPUT_FILES) == user


def test_hand_edited_outputs_are_not_replaced_without_overwrite(tmp_path, tree_digest, run_cli,
                                                                error_line):
    """ingest.json records the sha256 of what ingest wrote: a file that no longer matches was
    edited by hand, and a rerun refuses to replace it (naming it) unless --overwrite."""
    out = tmp_path / "gaze"
    _ingest(write_report(tmp_path / "a.csv", IMAGES_A, 1), out)
    tracks = pl.read_parquet(out / "tracks.parquet")
    tracks.filter(pl.col("image") != "a1").write_parquet(out / "tracks.parquet")  # an edit
    (out / "quality.parquet").write_bytes(b"notes kept under this name")
    b_report = write_report(tmp_path / "b.csv", IMAGES_B, 2)
    before = tree_digest(tmp_path)
    res = run_cli("gazeprep", "ingest", b_report, "--out", out)
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "tracks.parquet" in line and "quality.parquet" in line and "--overwrite" in line
    assert "fixations.parquet" not in line  # unchanged: ours to replace
    assert tree_digest(tmp_path) == before
    res = run_cli("gazeprep", "ingest", b_report, "--out", out, "--overwrite")
    assert res.returncode == 0, res.stderr
    assert _output_of(tree_digest, out)[0] == "B"
