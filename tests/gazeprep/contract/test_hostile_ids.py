"""Id files (``--ids``, ``--val-ids``, ``--test-ids``, ``--exclude-ids``) that are not files: a
folder or a named pipe is named as such (a pipe is never opened, which would block), not called
"not found"."""

from __future__ import annotations

import os

import pytest

from gazeprep.contract.errors import InputError
from gazeprep.contract.ids import read_ids_file


@pytest.mark.parametrize("kind", ["folder", "named pipe"])
def test_an_ids_path_that_is_no_file_says_what_it_is(kind, tmp_path):
    path = tmp_path / "ids.txt"
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)
    with pytest.raises(InputError, match="not a regular file") as got:
        read_ids_file(path)
    assert str(got.value).startswith(str(path))


def test_a_missing_ids_file_is_not_found(tmp_path):
    with pytest.raises(InputError, match="ids file not found"):
        read_ids_file(tmp_path / "none.txt")
