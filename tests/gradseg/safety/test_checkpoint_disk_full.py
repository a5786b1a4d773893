"""A full disk while a checkpoint is written names the checkpoint and keeps the previous one."""

from __future__ import annotations

import errno
import os

import pytest
import torch

from gazeprep.contract.errors import InputError
from gradseg.checkpoint import save_checkpoint


def test_a_full_disk_names_the_checkpoint_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    model = torch.nn.Linear(2, 1)
    save_checkpoint(path, model=model, config={}, step=1)
    before = path.read_bytes()

    def full(*_args, **_kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(InputError) as err:
        save_checkpoint(path, model=model, config={}, step=2)
    assert str(err.value).startswith(f"{path}: no space left on the device")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
