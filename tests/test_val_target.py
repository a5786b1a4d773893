"""`gradseg train` options that a cache cannot serve are usage errors (exit 2), never a run that
silently validates on nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gradseg.cli import main
from gradseg.toydata import write_toy_cache


def hashes(root: Path) -> dict[str, str]:
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(root.rglob("*")) if f.is_file()}


@pytest.fixture(scope="module")
def nomask(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vt") / "nomask.zarr"
    write_toy_cache(path, n=8, size=16, levels=2, with_mask=False)
    return path


def train(capsys, cache: Path, out: Path, *args: str) -> tuple[int, str]:
    before = hashes(cache)
    with pytest.raises(SystemExit) as ex:
        main(["train", "--cache", str(cache), "--out", str(out), "--iterations", "2",
              "--batch-size", "2", "--base-channels", "4", "--threads", "1", "--quiet", *args])
    assert hashes(cache) == before
    # the usage error is drawn in a box wrapped to the terminal: compare words
    err = " ".join(capsys.readouterr().err.replace("\u2502", " ").split())
    return (0 if ex.value.code is None else int(ex.value.code)), err


@pytest.mark.parametrize(("args", "option", "why"), [
    (("--val-target", "mask"), "--val-target", "has no ground-truth masks"),
    (("--method", "full"), "--method", "has no ground-truth masks"),
])
def test_mask_options_on_a_cache_without_masks(capsys, nomask, tmp_path, args, option, why):
    code, err = train(capsys, nomask, tmp_path / "run", *args)
    assert code == 2, err
    assert option in err and why in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing started


def test_val_target_choices(capsys, nomask, tmp_path, monkeypatch):
    code, err = train(capsys, nomask, tmp_path / "run", "--val-target", "gt")
    assert code == 2 and "--val-target" in err and "'gt'" in err, err
    for choice in ("auto", "mask", "pseudo"):
        assert choice in err
    monkeypatch.setenv("COLUMNS", "200")  # help on one line per option
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "auto|mask|pseudo" in capsys.readouterr().out


def test_auto_and_pseudo_still_train_without_masks(capsys, nomask, tmp_path):
    code, err = train(capsys, nomask, tmp_path / "auto")
    assert code == 0, err
    code, err = train(capsys, nomask, tmp_path / "pseudo", "--val-target", "pseudo")
    assert code == 0, err
    assert (tmp_path / "pseudo" / "best.pt").is_file()


def test_masks_only_outside_the_validation_split(capsys, tmp_path):
    # masks on some images, but none of them falls in the validation split
    import zarr

    path = tmp_path / "part.zarr"
    write_toy_cache(path, n=8, size=16, levels=2)
    g = zarr.open_group(str(path), mode="r+")
    from gradseg.train import split_ids

    _, val = split_ids(list(g.attrs["ids"]), 0.25, 0)
    g.attrs["has_mask"] = [i not in val for i in g.attrs["ids"]]
    code, err = train(capsys, path, tmp_path / "run", "--val-target", "mask",
                      "--val-fraction", "0.25")
    assert code == 2 and "--val-target" in err and "no validation image has a mask" in err, err
    assert not (tmp_path / "run").exists()
