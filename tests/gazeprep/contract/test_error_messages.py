"""Error messages name the file, what was wrong and what to do: a full disk (the system's message
names no file), an error raised without a message."""

from __future__ import annotations

import errno
import os

import pytest

from gazeprep.contract.errors import InputError
from gazeprep.contract.files import atomic_write_bytes


def test_a_full_disk_names_the_file_and_leaves_the_old_one(tmp_path):
    target = tmp_path / "out.json"
    target.write_bytes(b"old")

    def full(_tmp):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    from gazeprep.contract import files

    with pytest.raises(InputError) as err:
        files.atomic_write(target, full)
    assert str(err.value).startswith(f"{target}: no space left on the device")
    assert "write the output elsewhere" in str(err.value)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left


def test_other_write_errors_pass_unchanged(tmp_path, monkeypatch):
    monkeypatch.setattr("pathlib.Path.write_bytes",
                        lambda *_: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError) as err:
        atomic_write_bytes(tmp_path / "x.bin", b"1")
    assert err.value.errno == errno.EIO and not isinstance(err.value, InputError)


@pytest.mark.parametrize("exc", [EOFError(), KeyError(""), ValueError("  ")])
def test_an_error_without_a_message_is_named(exc):
    from gazeprep.contract.errors import reason

    assert reason(exc) == f"{type(exc).__name__} with no message"
    assert reason(ValueError("bad header")) == "bad header"
