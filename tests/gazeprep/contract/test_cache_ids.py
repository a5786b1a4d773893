"""A cache's sample ids name files (exports, predictions, pictures): an id that is not a plain
file name (``../../x``, ``/abs/x``, ``a/b``, ``..``, a NUL, empty) is refused when the cache is
opened, in one line naming the id. Before, ``gazeprep export`` of such a cache wrote
``pwned.png`` two folders above the dataset."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gazeprep.contract.cache import validate
from gazeprep.contract.errors import InputError
from gradseg.toydata import write_toy_cache


def _cache_with_id(path, bad: str):
    import zarr

    write_toy_cache(path, n=4, size=16, levels=2, seed=0)
    ids = zarr.open_group(str(path), mode="r+")["sample"]
    values = ids[...]
    values[0] = bad
    ids[...] = values
    return path


@pytest.mark.parametrize("bad", ["../../pwned", "/tmp/abs", "a/b", "..", ".", "a\\b", "x\0y",
                                 ""])
def test_an_id_that_is_not_a_file_name_is_refused(tmp_path, bad):
    cache = _cache_with_id(tmp_path / "c" / "toy.zarr", bad)
    with pytest.raises(InputError) as err:
        validate(cache)
    assert "sample id" in str(err.value) and repr(bad) in str(err.value), err.value


def test_export_of_such_a_cache_writes_nothing(tmp_path, untouched):
    cache = _cache_with_id(tmp_path / "c" / "toy.zarr", "../../pwned")
    check = untouched(tmp_path / "c")
    res = subprocess.run([sys.executable, "-m", "gazeprep.cli", "export", "--cache", str(cache),
                          "--to", "nnunet", "--out", str(tmp_path / "exp")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and "sample id '../../pwned'" in res.stderr, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]
    check()


def test_ids_with_dots_spaces_and_unicode_are_fine(tmp_path):
    cache = _cache_with_id(tmp_path / "toy.zarr", "1.2.840.10008 série ü")
    assert validate(cache).ids[0] == "1.2.840.10008 série ü"
