"""gradseg never overwrites user files, finds damaged caches and checkpoints, names them.

Every test hashes the user's files before and after (the ``unchanged`` / ``untouched``
fixtures) and asserts they are byte-identical. The commands run in a subprocess: real exit
codes, real stderr.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safety_helpers import error_line, run_cli, sha256

from gazeprep.contract.cache import FORMAT_VERSION
from gradseg.train import TrainConfig, train


@pytest.fixture(scope="module")
def cache(toy_cache):
    return toy_cache()


@pytest.fixture(scope="module")
def ckpt(cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("sg") / "run"
    train(TrainConfig(cache=str(cache), out=str(out), batch_size=4, base_channels=4,
                      iterations=4, eval_every=4, checkpoint_every=4, threads=1,
                      val_fraction=0.2), progress=False)
    return out / "best.pt"


def _images(folder: Path, ids: list[str], seed: int = 0) -> Path:
    from skimage.io import imsave

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in ids:
        imsave(folder / f"{i}.png", rng.integers(0, 255, (20, 30, 3), dtype=np.uint8),
               check_contrast=False)
    return folder


# ------------------------------------------------------------------ predict --out


@pytest.mark.slow
def test_predict_into_the_images_folder_is_refused(ckpt, tmp_path, unchanged):
    imgs = _images(tmp_path / "images", ["a", "b"])
    (tmp_path / "link").symlink_to(imgs)
    check = unchanged(tmp_path)
    for out in (imgs, imgs / "pred", tmp_path / "link", tmp_path / "x" / ".." / "images"):
        res = run_cli("gradseg", "predict", "--checkpoint", ckpt, "--images", imgs, "--out", out)
        assert res.returncode == 1, res.stderr
        line = error_line(res.stderr)
        assert "--images" in line and "--out" in line
        check()


def test_predict_never_overwrites_without_overwrite(ckpt, tmp_path, unchanged, untouched):
    imgs = _images(tmp_path / "images", ["a", "b", "c"])
    out = tmp_path / "pred"
    out.mkdir()
    (out / "a.png").write_bytes(b"a user's own a.png")
    (out / "c_overlay.png").write_bytes(b"a user's own overlay")
    (out / "keep.txt").write_text("unrelated\n")
    check, images_kept = unchanged(tmp_path), untouched(imgs)
    before = {name: sha256(out / name) for name in ("a.png", "keep.txt")}
    res = run_cli("gradseg", "predict", "--checkpoint", ckpt, "--images", imgs, "--out", out)
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "2 existing file(s) would be replaced" in line and "--overwrite" in line
    check()  # nothing written, not even b.png
    res = run_cli("gradseg", "predict", "--checkpoint", ckpt, "--images", imgs, "--out", out,
                  "--overwrite")
    assert res.returncode == 0, res.stderr
    assert sha256(out / "keep.txt") == before["keep.txt"]
    assert sha256(out / "a.png") != before["a.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["keep.txt"] + [f"{i}{s}.png" for i in "abc" for s in ("", "_overlay")])
    images_kept()


def test_predict_refuses_ids_whose_outputs_collide(ckpt, tmp_path, unchanged):
    imgs = _images(tmp_path / "images", ["a", "a_overlay"])
    check = unchanged(tmp_path)
    res = run_cli("gradseg", "predict", "--checkpoint", ckpt, "--images", imgs, "--out",
                  tmp_path / "pred")
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "a_overlay.png" in line and "'a'" in line and "'a_overlay'" in line
    check()
    assert not (tmp_path / "pred").exists()


# ------------------------------------------------------------------ checkpoints


def _data_offset(path: Path, member_suffix: str) -> tuple[int, int]:
    """(offset, size) of a stored (uncompressed) zip member's bytes in the file."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if i.filename.endswith(member_suffix)),
                   key=lambda i: i.file_size) if member_suffix else None
        assert info is not None and info.compress_type == zipfile.ZIP_STORED
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        head = f.read(30)
    name_len = int.from_bytes(head[26:28], "little")
    extra_len = int.from_bytes(head[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len, info.file_size


def _largest_tensor_member(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        data = [i for i in z.infolist() if "/data/" in i.filename]
        return max(data, key=lambda i: i.file_size).filename


def test_flipped_byte_in_a_tensor_is_refused(ckpt, cache, tmp_path):
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(ckpt.read_bytes())
    off, size = _data_offset(bad, _largest_tensor_member(bad))
    b = bytearray(bad.read_bytes())
    b[off + size // 2] ^= 0x10
    bad.write_bytes(bytes(b))
    torch.load(bad, weights_only=True)  # torch itself does not notice
    res = run_cli("gradseg", "eval", "--checkpoint", bad, "--cache", cache, "--out",
                  tmp_path / "e.parquet")
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "damaged" in line and "checksum" in line and str(bad) in line


def test_truncated_checkpoint_is_refused(ckpt, cache, tmp_path):
    bad = tmp_path / "trunc.pt"
    bad.write_bytes(ckpt.read_bytes()[:-100])
    res = run_cli("gradseg", "eval", "--checkpoint", bad, "--cache", cache)
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "truncated or corrupt" in line and str(bad) in line


def _flip_in_pickle(ckpt: Path, dest: Path, find: bytes, at: int, byte: int) -> Path:
    """``ckpt`` with the byte ``at`` places into the first ``find`` of its pickle replaced:
    the damage a flipped bit does there (torch checks no CRC, the zip is stored)."""
    raw = bytearray(ckpt.read_bytes())
    i = raw.index(find) + at
    raw[i] = byte
    dest.write_bytes(bytes(raw))
    return dest


@pytest.mark.parametrize(("find", "at", "byte"), [
    (b"FloatStorage", 4, ord("9")),       # a name in the pickle: "Float9torage"
    (b"ctorch\nFloatStorage", 0, 0x2B),  # an opcode: torch says "Unsupported operand 43"
])
def test_a_damaged_pickle_is_called_damaged_not_code(ckpt, cache, tmp_path, find, at, byte):
    bad = _flip_in_pickle(ckpt, tmp_path / "bad.pt", find, at, byte)
    res = run_cli("gradseg", "eval", "--checkpoint", bad, "--cache", cache)
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert str(bad) in line and "damaged" in line and "code" not in line, line


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('SG_PWNED', '/nonexistent/pwned')}",))


def test_pickle_with_code_is_refused_without_suggesting_unsafe_loading(cache, tmp_path,
                                                                       monkeypatch):
    pwned = tmp_path / "pwned"
    monkeypatch.setenv("SG_PWNED", str(pwned))
    evil = tmp_path / "evil.pt"
    torch.save({"format": "gradseg-checkpoint", "version": 2, "x": _Evil()}, evil)
    res = run_cli("gradseg", "eval", "--checkpoint", evil, "--cache", cache)
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "not loaded" in line and "code" in line and "system" in line
    assert "weights_only" not in res.stderr and "weights-only=False" not in res.stderr
    assert not pwned.exists()


@pytest.mark.slow
def test_a_config_claiming_a_huge_network_allocates_nothing(ckpt, cache, tmp_path):
    """The config is inside the checksum, but anyone can recompute a checksum: a file whose
    config claims 100,000 channels is refused by its weights' shapes, within 2 GiB."""
    import resource
    import subprocess
    import sys

    from gradseg.checkpoint import tensor_digest

    raw = torch.load(ckpt, weights_only=True)
    cfg = json.loads(raw["config"])
    cfg["base_channels"] = 100_000
    raw["config"] = json.dumps(cfg)
    raw["sha256"] = tensor_digest(raw)
    bad = tmp_path / "huge.pt"
    torch.save(raw, bad)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))

    res = subprocess.run([sys.executable, "-m", "gradseg.cli", "eval", "--checkpoint", str(bad),
                          "--cache", str(cache)], capture_output=True, text=True, timeout=300,
                         preexec_fn=limit)
    assert res.returncode == 1, res.stderr
    line = error_line(res.stderr)
    assert str(bad) in line and "weights do not match the model its config describes" in line


def test_checkpoint_carries_a_checksum_of_every_tensor(ckpt):
    from gradseg.checkpoint import load_checkpoint, tensor_digest

    raw = torch.load(ckpt, weights_only=True)
    assert raw["version"] == 2 and raw["sha256"] == tensor_digest(raw)
    assert load_checkpoint(ckpt)["step"] == 4


# ------------------------------------------------------------------ damaged cache samples


def _flip_first_chunk(cache: Path, name: str, shard: int) -> None:
    f = cache / name / "c" / str(shard) / "0" / "0" / "0"
    b = bytearray(f.read_bytes())
    b[20] ^= 0xFF
    f.write_bytes(bytes(b))


@pytest.mark.slow
def test_train_and_eval_name_the_damaged_sample(toy_cache, tmp_path):
    import zarr

    path = toy_cache(n=8, size=32, levels=3, seed=2, shard=4, fresh=True)
    ids = zarr.open_group(str(path), mode="r")["sample"][:].tolist()
    _flip_first_chunk(path, "maps", 1)  # sample 4
    for workers in ("0", "1"):  # in the main process, and in a DataLoader worker process
        res = run_cli("gradseg", "train", "--cache", path, "--out", tmp_path / "run",
                      "--iterations", "4", "--batch-size", "2", "--base-channels", "4",
                      "--threads", "1", "--val-fraction", "0", "--quiet", "--workers", workers)
        assert res.returncode == 1
        line = error_line(res.stderr)
        assert "array 'maps'" in line and "sample 4" in line and repr(ids[4]) in line
        assert line.startswith(f"gradseg: error: {path}: array"), line
    _flip_first_chunk(path, "maps", 1)  # undo
    _flip_first_chunk(path, "mask", 0)  # sample 0
    ckpt_dir = tmp_path / "r2"
    assert run_cli("gradseg", "train", "--cache", path, "--out", ckpt_dir, "--iterations",
                   "2", "--batch-size", "2", "--base-channels", "4", "--threads", "1",
                   "--val-fraction", "0", "--quiet", "--method", "gazesup").returncode == 0
    res = run_cli("gradseg", "eval", "--checkpoint", ckpt_dir / "best.pt", "--cache", path)
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "array 'mask'" in line and "sample 0" in line and repr(ids[0]) in line


def test_old_cache_version_is_refused_by_name(toy_cache, tmp_path):
    import zarr

    path = toy_cache(n=4, size=16, levels=2, fresh=True)
    g = zarr.open_group(str(path), mode="r+")
    g.attrs["format_version"] = FORMAT_VERSION - 1
    res = run_cli("gradseg", "train", "--cache", path, "--out", tmp_path / "r")
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert f"format version {FORMAT_VERSION - 1}, expected {FORMAT_VERSION}" in line
    assert "render it again" in line


# ------------------------------------------------------------------ train / eval --out


def test_train_refuses_a_folder_holding_files_named_like_its_outputs(cache, tmp_path,
                                                                     unchanged):
    out = tmp_path / "project"
    out.mkdir()
    (out / "config.json").write_text('{"my": "own config"}\n')
    (out / "data.csv").write_text("1,2\n")
    check = unchanged(tmp_path)
    res = run_cli("gradseg", "train", "--cache", cache, "--out", out, "--iterations", "2",
                  "--batch-size", "4", "--base-channels", "4", "--threads", "1", "--quiet")
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "config.json" in line and "not written by gradseg train" in line
    check()


def test_train_into_a_folder_with_other_user_files_keeps_them(cache, tmp_path, untouched):
    out = tmp_path / "project"
    out.mkdir()
    (out / "data.csv").write_text("1,2\n")
    check = untouched(out / "data.csv")
    res = run_cli("gradseg", "train", "--cache", cache, "--out", out, "--iterations", "2",
                  "--batch-size", "4", "--base-channels", "4", "--threads", "1", "--quiet")
    assert res.returncode == 0, res.stderr
    check()


@pytest.mark.slow
def test_eval_out_never_replaces_a_file_it_did_not_write(ckpt, cache, tmp_path, unchanged):
    mine = tmp_path / "results.parquet"
    mine.write_bytes(b"PAR1 a user's own table")
    check, before = unchanged(tmp_path), sha256(mine)
    res = run_cli("gradseg", "eval", "--checkpoint", ckpt, "--cache", cache, "--out", mine)
    assert res.returncode == 1
    assert "not written by gradseg eval" in error_line(res.stderr)
    check()
    ours = tmp_path / "e.parquet"
    for _ in range(2):  # a previous eval output is replaced
        res = run_cli("gradseg", "eval", "--checkpoint", ckpt, "--cache", cache, "--out", ours,
                      "--json")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["parquet"] == str(ours)
    res = run_cli("gradseg", "eval", "--checkpoint", ckpt, "--cache", cache, "--out", mine,
                  "--overwrite")
    assert res.returncode == 0 and sha256(mine) != before
