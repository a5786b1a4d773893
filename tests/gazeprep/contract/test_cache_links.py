"""A cache's files are read only inside its folder: a shard or metadata file that is a link
to a file outside the cache (a shared cache carrying ``image/c/0/0/0/0 -> /home/u/.ssh/id``)
is refused before anything is read, in one line naming the link. Links inside the cache, and
a cache folder that is itself a link, are accepted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gazeprep.contract.cache import validate
from gazeprep.contract.errors import InputError
from gradseg.toydata import write_toy_cache


@pytest.fixture()
def cache(tmp_path):
    path = tmp_path / "user" / "toy.zarr"
    write_toy_cache(path, n=8, size=16, levels=2, seed=0)
    return path


def _link(src, target):
    src.unlink()
    os.symlink(target, src)


@pytest.mark.parametrize("member", ["image/c/0/0/0/0", "zarr.json", "maps/zarr.json"])
def test_a_link_out_of_the_cache_is_refused(cache, tmp_path, member, untouched):
    secret = tmp_path / "secret.bin"
    secret.write_bytes((cache / member).read_bytes())  # even a valid file: it is not the cache's
    _link(cache / member, secret)
    check = untouched(cache, secret)
    with pytest.raises(InputError) as err:
        validate(cache)
    assert str(err.value).startswith(f"{cache / member}: links outside the cache"), err.value
    res = subprocess.run([sys.executable, "-m", "gradseg.cli", "train", "--cache", str(cache),
                          "--out", str(tmp_path / "run"), "--iterations", "1"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and "links outside the cache" in res.stderr, res.stderr
    assert not (tmp_path / "run").exists()
    check()


def test_a_folder_link_out_of_the_cache_is_refused(cache, tmp_path):
    outside = tmp_path / "elsewhere"
    os.rename(cache / "maps", outside)
    os.symlink(outside, cache / "maps")
    with pytest.raises(InputError, match="links outside the cache"):
        validate(cache)


def test_links_inside_the_cache_and_a_linked_cache_are_accepted(cache, tmp_path):
    (cache / "extra").mkdir()
    os.symlink(cache / "zarr.json", cache / "extra" / "copy.json")
    linked = tmp_path / "linked.zarr"
    os.symlink(cache, linked)
    assert validate(linked).ids == validate(cache).ids
