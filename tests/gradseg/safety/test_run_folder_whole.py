"""Files of a run folder that other tools read (TensorBoard users, pandas on metrics.jsonl,
torch.load on checkpoints) appear whole at every instant: a write interrupted at any point
leaves the previous file byte-identical and no temporary file behind."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gazeprep.contract import files
from gazeprep.contract.errors import InputError
from gradseg.checkpoint import load_checkpoint, save_checkpoint
from gradseg.outputs import append_line
from gradseg.pictures import dice_label


def _fail_on_fsync(monkeypatch):
    def boom(path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(files, "fsync_file", boom)


def test_metrics_line_interrupted_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    append_line(path, json.dumps({"step": 10, "val_dice": 0.5}))
    before = path.read_bytes()
    _fail_on_fsync(monkeypatch)
    with pytest.raises((OSError, InputError)):  # a full disk is named (InputError)
        append_line(path, json.dumps({"step": 20, "val_dice": 0.6}))
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]
    monkeypatch.undo()
    append_line(path, json.dumps({"step": 20}))
    assert [json.loads(x)["step"] for x in path.read_text().splitlines()] == [10, 20]


def test_a_torn_line_of_an_older_version_is_dropped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 10}\n{"step": 2')  # killed mid-append by an older gradseg
    append_line(path, '{"step": 20}')
    assert path.read_text() == '{"step": 10}\n{"step": 20}\n'


def test_checkpoint_interrupted_leaves_the_old_one(tmp_path, monkeypatch, file_sha256):
    model = torch.nn.Linear(3, 2)
    path = tmp_path / "best.pt"
    save_checkpoint(path, model=model, config={"size": 8}, step=1)
    before = file_sha256(path)
    real = torch.save

    def half(obj, f, *a, **k):
        real(obj, f, *a, **k)
        with open(f, "r+b") as fh:
            fh.truncate(100)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", half)
    with pytest.raises((OSError, InputError)):  # a full disk is named (InputError)
        save_checkpoint(path, model=model, config={"size": 8}, step=2)
    assert file_sha256(path) == before and load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def test_validation_caption_never_shows_a_perfect_empty_pair():
    e = np.zeros((4, 4), bool)
    m = e.copy()
    m[1:3, 1:3] = True
    assert dice_label(e, e) == "Dice n/a (empty target)"
    assert dice_label(m, e) == "Dice 0.00" and dice_label(m, m) == "Dice 1.00"
