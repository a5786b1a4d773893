"""The train / validation / held-out split: seeded by id, held-out ids never used."""

import pytest

from gradseg.data.cache import open_cache
from gradseg.data.split import make_split, read_ids_file, split_ids
from gradseg.errors import GradsegError


def test_split_is_seeded_by_ids_not_by_order():
    ids = [f"im{i}" for i in range(20)]
    a = split_ids(ids, 0.25, 7)
    assert split_ids(ids[::-1], 0.25, 7) == a
    assert len(a[1]) == 5 and sorted(a[0] + a[1]) == sorted(ids)
    assert split_ids(ids, 0.25, 8) != a
    train, val = split_ids(ids, 0.0, 7)
    assert val == [] and train == a[1] + a[0]  # the same shuffle, nothing kept for validation
    assert len(split_ids(ids[:3], 0.01, 0)[1]) == 1  # at least one validation image


def test_ids_file_comments_blank_lines_and_file_names(tmp_path):
    p = tmp_path / "ids.txt"
    p.write_text("# test set\na\n\nb.png  # a file name\n  c \n")
    assert read_ids_file(p) == ["a", "b", "c"]
    with pytest.raises(GradsegError, match="ids file not found"):
        read_ids_file(tmp_path / "nope.txt")


def test_held_out_ids_and_masks_only(toy_cache):
    info = open_cache(toy_cache())
    kw = dict(val_fraction=0.25, seed=0, val_target="mask")
    s = make_split(info, exclude_ids=["toy000", "toy005"], masks_only=False, **kw)
    assert s["held_out"] == ["toy000", "toy005"]
    assert not {"toy000", "toy005"} & set(s["train"] + s["val"])
    assert len(s["train"]) + len(s["val"]) == 10 and s["no_mask"] == []
    with pytest.raises(GradsegError, match="held-out id"):
        make_split(info, exclude_ids=["nope"], masks_only=False, **kw)
