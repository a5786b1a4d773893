"""A folder replaced in one step (:mod:`gazeprep.contract.folder_swap`): at every step of a
replacement, killed or interrupted there, a reader sees the old folder or the new one whole, and
the user's files in it stay byte-identical (the same inodes, in fact: hard links)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gazeprep.contract import folder_swap
from gazeprep.contract.folder_swap import TOKEN_FILE, recover_folder, replace_folder

OURS = ("data", "record.json")


def owned(name: str) -> bool:
    return name in OURS


def _write(folder: Path, gen: str, n: int) -> None:
    """Our output of generation ``gen``: ``n`` data files and a record naming them."""
    (folder / "data").mkdir()
    for k in range(n):
        (folder / "data" / f"{k}.txt").write_text(f"{gen}{k}")
    (folder / "record.json").write_text(json.dumps({"gen": gen, "n": n}))


def read_whole(folder: Path) -> str:
    """What a reader sees: 'A' or 'B', asserting the set is whole (record and data agree)."""
    rec = json.loads((folder / "record.json").read_text())
    names = sorted(p.name for p in (folder / "data").iterdir())
    assert names == sorted(f"{k}.txt" for k in range(rec["n"])), (rec, names)
    for k in range(rec["n"]):
        assert (folder / "data" / f"{k}.txt").read_text() == f"{rec['gen']}{k}"
    return rec["gen"]


def _user_files(dest: Path) -> None:
    (dest / "notes.txt").write_text("my notes")
    (dest / "imagesTs").mkdir()
    (dest / "imagesTs" / "case_0000.png").write_bytes(b"\x89PNG mine")
    (dest / "imagesTs" / "deep").mkdir()
    (dest / "imagesTs" / "deep" / "x.bin").write_bytes(os.urandom(64))
    os.symlink("notes.txt", dest / "link-to-notes")


def _setup(tmp_path, tree_digest):
    dest = tmp_path / "out" / "Dataset501_Gaze"
    dest.mkdir(parents=True)
    _write(dest, "A", 3)
    _user_files(dest)
    return dest, tree_digest(dest, skip=(*OURS, TOKEN_FILE))


def _replace(dest: Path, notes=None):
    with replace_folder(dest, owned, notes) as build:
        _write(build, "B", 5)


def _leftovers(dest: Path) -> list[str]:
    return [p.name for p in dest.parent.iterdir() if p.name != dest.name]


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_replace_keeps_user_files_as_the_same_inodes(tmp_path, tree_digest, monkeypatch,
                                                     exchange):
    if not exchange:
        monkeypatch.setattr(folder_swap, "_exchange", lambda a, b: False)
    dest, user = _setup(tmp_path, tree_digest)
    inode = os.stat(dest / "imagesTs" / "deep" / "x.bin").st_ino
    _replace(dest)
    assert read_whole(dest) == "B" and tree_digest(dest, skip=(*OURS, TOKEN_FILE)) == user
    assert os.stat(dest / "imagesTs" / "deep" / "x.bin").st_ino == inode
    assert os.readlink(dest / "link-to-notes") == "notes.txt"
    assert _leftovers(dest) == []


def test_first_replacement_creates_the_folder(tmp_path):
    dest = tmp_path / "new" / "Dataset"
    _replace(dest)
    assert read_whole(dest) == "B" and _leftovers(dest) == []


def test_an_error_while_building_leaves_the_old_folder(tmp_path, tree_digest):
    dest, user = _setup(tmp_path, tree_digest)
    with pytest.raises(RuntimeError), replace_folder(dest, owned) as build:
        (build / "data").mkdir()
        raise RuntimeError("disk full")
    assert read_whole(dest) == "A" and tree_digest(dest, skip=OURS) == user
    assert _leftovers(dest) == []


def _steps(monkeypatch, tmp_path, tree_digest) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(folder_swap, "_fault", seen.append)
    dest, _ = _setup(tmp_path / "probe", tree_digest)
    _replace(dest)
    monkeypatch.undo()
    return seen


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_killed_at_every_step_a_reader_sees_old_or_new_whole(tmp_path, tree_digest,
                                                            monkeypatch, exchange):
    """A child process is killed (os._exit) at each step; what a reader sees then, and after
    the next run's recovery, is the old or the new folder whole, with the user's files."""
    if not exchange:
        monkeypatch.setattr(folder_swap, "_exchange", lambda a, b: False)
    steps = _steps(monkeypatch, tmp_path, tree_digest)
    if not exchange:
        monkeypatch.setattr(folder_swap, "_exchange", lambda a, b: False)
    assert steps[:2] == ["built", "carried"] and steps[-1] == "cleaned", steps
    for k, step in enumerate(steps):
        dest, user = _setup(tmp_path / f"kill{k}", tree_digest)
        pid = os.fork()
        if pid == 0:  # the child: killed at ``step``
            def die(s, step=step):
                if s == step:
                    os._exit(9)
            folder_swap._fault = die
            try:
                _replace(dest)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 9, step
        if step == "moved aside":  # the one instant of the fallback with no folder
            assert not dest.exists()
        else:
            assert read_whole(dest) in ("A", "B"), step
            assert tree_digest(dest, skip=(*OURS, TOKEN_FILE)) == user, step
        notes = recover_folder(dest, owned)
        seen = read_whole(dest)
        assert seen == ("A" if step in ("built", "carried") else "B"), (step, notes)
        assert tree_digest(dest, skip=(*OURS, TOKEN_FILE)) == user, step
        assert _leftovers(dest) == [], (step, notes)
        notes = []
        _replace(dest, notes)  # the next run finds nothing left over
        assert read_whole(dest) == "B" and notes == []


def test_a_user_file_that_appears_during_the_build_is_kept(tmp_path, tree_digest):
    dest, _ = _setup(tmp_path, tree_digest)
    with replace_folder(dest, owned) as build:
        _write(build, "B", 2)
    with replace_folder(dest, owned) as build:
        _write(build, "C", 2)
        (dest / "late.txt").write_text("written while the export ran")
    assert (dest / "late.txt").read_text() == "written while the export ran"
    assert read_whole(dest) == "C" and _leftovers(dest) == []


def test_a_user_file_that_cannot_be_linked_stops_before_any_change(tmp_path, tree_digest):
    dest, user = _setup(tmp_path, tree_digest)
    os.mkfifo(dest / "a-fifo")
    with pytest.raises(folder_swap.SwapUnavailable), replace_folder(dest, owned) as build:
        _write(build, "B", 2)
    assert read_whole(dest) == "A" and _leftovers(dest) == []
    assert tree_digest(dest, skip=OURS) == user


def test_blocker_names_what_cannot_be_linked(tmp_path, tree_digest):
    dest, _ = _setup(tmp_path, tree_digest)
    assert folder_swap.blocker(dest, owned) is None
    assert folder_swap.blocker(tmp_path / "missing", owned) is None
    os.mkfifo(dest / "imagesTs" / "a-fifo")
    assert "a-fifo is neither a file nor a folder" in folder_swap.blocker(dest, owned)


def test_links_are_followed_and_the_current_folder_left_alone(tmp_path, tree_digest,
                                                          monkeypatch):
    dest, _ = _setup(tmp_path, tree_digest)
    link = tmp_path / "out" / "link"
    link.symlink_to(dest.name)
    assert folder_swap.blocker(link, owned) is None
    _replace(link)  # the folder it links to is swapped; the link stays
    assert link.is_symlink() and read_whole(link) == "B" and read_whole(dest) == "B"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["Dataset501_Gaze", "link"]
    monkeypatch.chdir(dest / "imagesTs")
    assert "current folder" in folder_swap.blocker(dest, owned)
    monkeypatch.chdir(dest)
    assert "current folder" in folder_swap.blocker(".", owned)


def test_siblings_of_other_names_are_never_touched(tmp_path, tree_digest):
    dest, _ = _setup(tmp_path, tree_digest)
    mine = tmp_path / "out" / f".{dest.name}.old-backup"
    mine.mkdir()
    (mine / "keep.txt").write_text("a user's backup")
    shutil_dest = tmp_path / "out" / "missing"
    other = tmp_path / "out" / ".missing.old-2024"
    other.mkdir()
    assert recover_folder(dest, owned) == [] and recover_folder(shutil_dest, owned) == []
    assert (mine / "keep.txt").is_file() and other.is_dir() and not shutil_dest.exists()
    _replace(dest)
    assert (mine / "keep.txt").read_text() == "a user's backup"


def test_a_new_folder_under_missing_parents_is_swapped(tmp_path):
    assert folder_swap.blocker(tmp_path / "a" / "b" / "Dataset", owned) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a folder to another user")
def test_the_swapped_folder_keeps_its_owner_and_mode(tmp_path, tree_digest):
    dest, _ = _setup(tmp_path, tree_digest)
    os.chown(dest, 1234, 5678)
    os.chmod(dest, 0o2770)
    _replace(dest)
    st = dest.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 5678, 0o2770)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_files_written_into_the_old_folder_during_the_swap_are_never_lost(
        tmp_path, tree_digest, monkeypatch, exchange):
    """Another process writes into the folder while it is swapped: a new file is moved into
    the new folder; one whose name the new folder already has is kept, old folder and all."""
    if not exchange:
        monkeypatch.setattr(folder_swap, "_exchange", lambda a, b: False)
    dest, _ = _setup(tmp_path, tree_digest)

    def late_writer(step):
        if step in ("exchanged", "moved in"):
            old = next(p for p in dest.parent.iterdir() if p.name != dest.name)
            (old / "imagesTs" / "late.png").write_bytes(b"written during the swap")
            (old / "notes.txt").unlink()
            (old / "notes.txt").write_text("edited during the swap")

    monkeypatch.setattr(folder_swap, "_fault", late_writer)
    notes: list[str] = []
    _replace(dest, notes)
    assert (dest / "imagesTs" / "late.png").read_bytes() == b"written during the swap"
    assert (dest / "notes.txt").read_text() == "my notes"
    left = [p for p in dest.parent.iterdir() if p.name != dest.name]
    assert len(left) == 1 and (left[0] / "notes.txt").read_text() == "edited during the swap"
    assert sorted(p.name for p in left[0].rglob("*")) == ["notes.txt"]
    assert any("notes.txt" in n and "check them" in n for n in notes), notes


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_a_folder_another_process_works_in_is_not_swapped(tmp_path, tree_digest):
    import subprocess
    import sys

    dest, _ = _setup(tmp_path, tree_digest)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                             cwd=dest / "imagesTs")
    try:
        why = folder_swap.blocker(dest, owned)
        assert why is not None and f"process {child.pid} works inside" in why
    finally:
        child.kill()
        child.wait()
    assert folder_swap.blocker(dest, owned) is None
