"""`gazeprep export` never replaces or deletes a file it did not write, even with --overwrite,
and its output appears whole to nnU-Net's and MONAI's readers at every instant: the dataset
folder is built beside the old one and swapped in with one rename (killed at every step here)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gazeprep.cli import app
from gazeprep.contract.folder_swap import TOKEN_FILE

#: The kill tests below name the steps of the one-rename swap (renameat2); elsewhere the
#: two-rename fallback runs, tested in tests/gazeprep/contract/test_folder_swap.py.
LINUX_SWAP = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="renameat2(RENAME_EXCHANGE) is Linux's")


OURS_NNUNET = ("imagesTr", "labelsTr", "dataset.json", "gazeprep-export.json", TOKEN_FILE)
OURS_MONAI = ("images", "labels", "datalist.json", "gazeprep-export.json", TOKEN_FILE)


@pytest.fixture()
def cache(tmp_path):
    from gradseg.toydata import write_toy_cache

    path = tmp_path / "c.zarr"
    write_toy_cache(path, n=6, size=16, levels=2, shard=4)
    return path


def _export(*args):
    return CliRunner().invoke(app, ["export", *map(str, args)])


def test_overwrite_never_touches_a_dataset_roots_own_images(cache, tmp_path, tree_digest):
    """The case of the report: --out is a dataset root whose images/ holds the originals."""
    root = tmp_path / "kvasir"
    (root / "images").mkdir(parents=True)
    (root / "images" / "toy000.png").write_bytes(b"the original toy000, full size")
    (root / "images" / "cju0.jpg").write_bytes(b"an image the cache does not hold")
    (root / "masks").mkdir()
    (root / "masks" / "cju0.jpg").write_bytes(b"its mask")
    before = tree_digest(root)
    for extra in ([], ["--overwrite"]):
        res = _export("--to", "monai", "--cache", cache, "--out", root, *extra)
        assert res.exit_code == 1, res.output
        msg = str(res.exception)
        assert "images/cju0.jpg" in msg and "images/toy000.png" in msg, msg
        assert "not written by gazeprep export" in msg and "would be lost" in msg, msg
        assert tree_digest(root) == before


def test_edited_exported_files_need_overwrite(cache, tmp_path, tree_digest):
    raw = tmp_path / "raw"
    d = raw / "Dataset501_Gaze"
    assert _export("--to", "nnunet", "--cache", cache, "--out", raw).exit_code == 0
    (d / "labelsTr" / "toy001.png").write_bytes(b"a label corrected by hand")
    (d / "notes.md").write_text("my notes beside the dataset")
    before = tree_digest(raw)
    res = _export("--to", "nnunet", "--cache", cache, "--out", raw)
    assert res.exit_code == 1 and tree_digest(raw) == before
    msg = str(res.exception)
    assert "labelsTr/toy001.png" in msg and "changed since" in msg and "--overwrite" in msg
    res = _export("--to", "nnunet", "--cache", cache, "--out", raw, "--overwrite")
    assert res.exit_code == 0, res.output
    assert (d / "notes.md").read_text() == "my notes beside the dataset"
    assert [p.name for p in raw.iterdir()] == ["Dataset501_Gaze"]  # no leftover


def test_monai_export_keeps_the_users_files_beside_it(cache, tmp_path, tree_digest):
    out = tmp_path / "monai"
    out.mkdir()
    (out / "README.md").write_text("my dataset")
    (out / "originals").mkdir()
    (out / "originals" / "a.png").write_bytes(b"\x89PNG original")
    mine = tree_digest(out)
    for ids in ("toy000\ntoy001\n", "toy002\n"):
        (tmp_path / "ids.txt").write_text(ids)
        res = _export("--to", "monai", "--cache", cache, "--out", out, "--ids",
                      tmp_path / "ids.txt")
        assert res.exit_code == 0, res.output
        assert tree_digest(out, skip=OURS_MONAI) == mine
    listed = json.loads((out / "datalist.json").read_text())["training"]
    assert [e["image"] for e in listed] == ["images/toy002.png"]
    assert sorted(p.name for p in (out / "images").iterdir()) == ["toy002.png"]


def read_nnunet(d: Path) -> int:
    """What nnU-Net sees: numTraining, every image with its label, the record's sums: whole."""
    from gazeprep.outputs import sha256_file

    desc = json.loads((d / "dataset.json").read_text())
    images = sorted(p.name[:-len("_0000.png")] for p in (d / "imagesTr").iterdir())
    labels = sorted(p.stem for p in (d / "labelsTr").iterdir())
    assert images == labels and len(images) == desc["numTraining"], (images, labels, desc)
    rec = json.loads((d / "gazeprep-export.json").read_text())
    assert rec["n_images"] == desc["numTraining"]
    for rel, want in rec["files"].items():
        assert sha256_file(d / rel) == want, rel
    return desc["numTraining"]


KILL = textwrap.dedent("""
    import os, sys
    from gazeprep.contract import folder_swap
    from gazeprep.export.layouts import export_cache

    step = sys.argv[1]
    def die(s):
        if s == step:
            os._exit(9)
    folder_swap._fault = die
    export_cache(sys.argv[2], sys.argv[3], "nnunet", ids=["toy000", "toy001"])
""")


@LINUX_SWAP
def test_export_killed_at_every_step_is_seen_old_or_new_whole(cache, tmp_path, tree_digest):
    steps = ["built", "carried", "exchanged", "cleaned"]
    for k, step in enumerate(steps):
        raw = tmp_path / f"raw{k}"
        d = raw / "Dataset501_Gaze"
        assert _export("--to", "nnunet", "--cache", cache, "--out", raw).exit_code == 0
        (d / "imagesTs").mkdir()
        (d / "imagesTs" / "case_0000.png").write_bytes(b"the user's test image")
        mine = tree_digest(d, skip=OURS_NNUNET)
        proc = subprocess.run([sys.executable, "-c", KILL, step, str(cache), str(raw)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 9, (step, proc.stderr[-2000:])
        n = read_nnunet(d)  # what nnU-Net reads right after the kill
        assert n == (6 if step in ("built", "carried") else 2), step
        assert tree_digest(d, skip=OURS_NNUNET) == mine, step
        res = _export("--to", "nnunet", "--cache", cache, "--out", raw)  # recovers, replaces
        assert res.exit_code == 0, res.output
        assert read_nnunet(d) == 6 and tree_digest(d, skip=OURS_NNUNET) == mine
        assert [p.name for p in raw.iterdir()] == ["Dataset501_Gaze"], step


def test_export_finishes_a_torn_replacement_of_an_older_version(cache, tmp_path):
    """An export killed by an earlier version between its renames left labelsTr staged
    (commit marker written): it is rolled forward first, never carried as a user entry."""
    from gazeprep.contract.cache import COMMITTED, STAGING

    raw = tmp_path / "raw"
    d = raw / "Dataset501_Gaze"
    assert _export("--to", "nnunet", "--cache", cache, "--out", raw).exit_code == 0
    staging = d / STAGING
    (staging / "labelsTr").mkdir(parents=True)
    (staging / COMMITTED).write_text(json.dumps({"put": ["labelsTr"], "drop": [],
                                                 "record": "gazeprep-export.json"}))
    res = _export("--to", "nnunet", "--cache", cache, "--out", raw, "--overwrite")
    assert res.exit_code == 0, res.output
    assert "finished an interrupted replacement" in res.output
    assert read_nnunet(d) == 6 and not staging.exists()


def test_a_folder_that_cannot_be_swapped_is_replaced_entry_by_entry(cache, tmp_path,
                                                                    tree_digest):
    import os

    out = tmp_path / "monai"
    out.mkdir()
    os.mkfifo(out / "a-pipe")  # a user's named pipe cannot be hard-linked into a new folder
    (out / "notes.txt").write_text("mine")
    res = _export("--to", "monai", "--cache", cache, "--out", out)
    assert res.exit_code == 0, res.output
    assert "replaced one by one" in " ".join(res.output.split())
    assert (out / "a-pipe").is_fifo() and (out / "notes.txt").read_text() == "mine"
    assert len(json.loads((out / "datalist.json").read_text())["training"]) == 6


def test_export_into_the_current_folder_or_a_link(cache, tmp_path, monkeypatch, tree_digest):
    """`--out .` (the shell's folder) is replaced entry by entry, so the shell is not left in
    a deleted folder; through a symbolic link, the folder it points to is swapped, the link
    stays."""
    out = tmp_path / "monai"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (tmp_path / "link").symlink_to("monai")
    monkeypatch.chdir(out)
    res = _export("--to", "monai", "--cache", cache, "--out", ".")
    assert res.exit_code == 0, res.output
    assert "replaced one by one" in " ".join(res.output.split())
    monkeypatch.chdir(tmp_path)
    res = _export("--to", "monai", "--cache", cache, "--out", "link")
    assert res.exit_code == 0, res.output
    assert "one by one" not in res.output
    assert (out / "notes.txt").read_text() == "mine" and (tmp_path / "link").is_symlink()
    assert len(json.loads((out / "datalist.json").read_text())["training"]) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.zarr", "link", "monai"]
