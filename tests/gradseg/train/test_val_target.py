"""`gradseg train` options that a cache cannot serve are usage errors (exit 2), never a run that
silently validates on nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import zarr

from gradseg.data.split import split_ids


@pytest.fixture()
def train(gradseg_cli, unchanged, flat):
    """``code, err = train(cache, out, *options)``: a 2-step run; the cache is left untouched."""

    def run(cache: Path, out: Path, *args: str) -> tuple[int, str]:
        check = unchanged(cache)
        code, _, err = gradseg_cli("train", "--cache", cache, "--out", out, "--iterations", "2",
                                   "--batch-size", "2", "--base-channels", "4", "--threads",
                                   "1", "--quiet", *args)
        check()
        return code, flat(err)  # the usage error is drawn in a box: compare words

    return run


@pytest.fixture()
def nomask(toy_cache) -> Path:
    return toy_cache(n=8, size=16, levels=2, seed=0, with_mask=False)


@pytest.mark.parametrize(("args", "option", "why"), [
    (("--val-target", "mask"), "--val-target", "has no ground-truth masks"),
    (("--method", "full"), "--method", "has no ground-truth masks"),
])
def test_mask_options_on_a_cache_without_masks(train, nomask, tmp_path, args, option, why):
    code, err = train(nomask, tmp_path / "run", *args)
    assert code == 2, err
    assert option in err and why in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing started


def test_val_target_choices(train, gradseg_cli, nomask, tmp_path, monkeypatch):
    code, err = train(nomask, tmp_path / "run", "--val-target", "gt")
    assert code == 2 and "--val-target" in err and "'gt'" in err, err
    for choice in ("auto", "mask", "pseudo"):
        assert choice in err
    monkeypatch.setenv("COLUMNS", "200")  # help on one line per option
    assert "auto|mask|pseudo" in gradseg_cli("train", "--help")[1]


def test_auto_and_pseudo_still_train_without_masks(train, nomask, tmp_path):
    code, err = train(nomask, tmp_path / "auto")
    assert code == 0, err
    code, err = train(nomask, tmp_path / "pseudo", "--val-target", "pseudo")
    assert code == 0, err
    assert (tmp_path / "pseudo" / "best.pt").is_file()


def test_masks_only_outside_the_validation_split(train, toy_cache, tmp_path):
    # masks on some images, but none of them falls in the validation split
    path = toy_cache(n=8, size=16, levels=2, fresh=True)
    g = zarr.open_group(str(path), mode="r+")
    ids = g["sample"][:].tolist()
    _, val = split_ids(ids, 0.25, 0)
    g["has_mask"][:] = [i not in val for i in ids]
    code, err = train(path, tmp_path / "run", "--val-target", "mask", "--val-fraction", "0.25")
    assert code == 2 and "--val-target" in err and "no validation image has a mask" in err, err
    assert not (tmp_path / "run").exists()
