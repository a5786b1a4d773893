"""``gradseg predict --out`` appears whole: its files show up together when the run ends, a
run interrupted at any image leaves the folder exactly as it was (the user's files and an
earlier run's predictions byte-identical, nothing half-written), and the user's own files in
``--out`` stay (other tools watch prediction folders: they never see half a run)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.io import imsave

from gradseg.cli import main


@pytest.fixture()
def setup(tmp_path, untrained_checkpoint):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for k in range(4):
        imsave(images / f"im{k}.png", rng.integers(0, 255, (24, 32, 3), dtype=np.uint8),
               check_contrast=False)
    out = tmp_path / "pred"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    return untrained_checkpoint(tmp_path / "ckpt", 16), images, out


def _predict(ckpt, images, out, *extra):
    with pytest.raises(SystemExit) as ex:
        main(["predict", "--checkpoint", str(ckpt), "--images", str(images), "--out", str(out),
              *extra])
    return ex.value.code


def test_an_interrupted_predict_leaves_the_folder_as_it_was(setup, tree_digest, monkeypatch):
    ckpt, images, out = setup
    assert _predict(ckpt, images, out, "--ids", _ids(images.parent, ["im0"])) in (0, None)
    before = tree_digest(out)
    from gradseg import predict

    calls = []
    real = predict.write_prediction

    def dies_at_the_third(*args, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(predict, "write_prediction", dies_at_the_third)
    assert _predict(ckpt, images, out, "--overwrite") == 130
    assert tree_digest(out) == before
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []


def test_a_finished_predict_keeps_the_users_files(setup, tree_digest):
    ckpt, images, out = setup
    assert _predict(ckpt, images, out) in (0, None)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["notes.txt"] + [f"im{k}{s}" for k in range(4)
                                            for s in (".png", "_overlay.png")])
    assert (out / "notes.txt").read_text() == "mine\n"


def _ids(folder, ids):
    path = folder / "ids.txt"
    path.write_text("\n".join(ids) + "\n")
    return str(path)
