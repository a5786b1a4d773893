"""``--label`` picks a value the masks hold: a label no mask holds is an error naming the label
and the values found (it used to make every mask empty without a word, and an empty mask used to
score as perfect); masks without it are counted and named. User files stay byte-identical."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.io import imsave

from gazeprep.cli import main


def _args(d, *extra):
    return ["render", "--gaze", str(d / "gaze"), "--images", str(d / "images"), "--masks",
            str(d / "masks"), "--out", str(d / "maps.zarr"), "--size", "16", *extra]


def test_a_label_no_mask_holds_is_an_error(render_dataset, capsys, tree_digest):
    before = tree_digest(render_dataset)
    with pytest.raises(SystemExit) as ex:
        main(_args(render_dataset, "--label", "7"))
    assert ex.value.code == 1
    first = capsys.readouterr().err.strip().splitlines()[0]
    assert "--label 7 occurs in none of the 4 masks" in first, first
    assert "0" in first and "255" in first and "masks" in first, first
    assert tree_digest(render_dataset) == before
    assert not (render_dataset / "maps.zarr").exists()


@pytest.mark.parametrize("value", ["-1", "65536", "1e9"])
def test_a_label_out_of_range_is_a_usage_error(render_dataset, capsys, value, tree_digest):
    before = tree_digest(render_dataset)
    with pytest.raises(SystemExit) as ex:
        main(_args(render_dataset, "--label", value))
    assert ex.value.code == 2
    assert "--label" in capsys.readouterr().err
    assert tree_digest(render_dataset) == before


def _jpeg_noise_value(path) -> int:
    """A value below 128 that a 0/255 JPEG mask holds only through its compression."""
    from PIL import Image

    held = np.unique(np.asarray(Image.open(path).convert("L")))
    noise = [int(v) for v in held if 0 < v < 128]
    assert noise, held
    return noise[0]


def test_a_label_on_lossy_masks_is_refused(render_dataset, capsys, tree_digest):
    jpeg = render_dataset / "masks" / "im0.jpg"
    label = _jpeg_noise_value(jpeg)  # --label finds it, but it is noise, not a label
    before = tree_digest(render_dataset)
    with pytest.raises(SystemExit) as ex:
        main(_args(render_dataset, "--label", str(label)))
    assert ex.value.code == 1
    first = capsys.readouterr().err.strip().splitlines()[0]
    assert str(jpeg) in first and "JPEG" in first and "--label" in first, first
    assert tree_digest(render_dataset) == before
    assert not (render_dataset / "maps.zarr").exists()


def test_masks_without_the_label_are_counted(render_dataset, capsys, tree_digest):
    (render_dataset / "masks" / "im0.jpg").unlink()  # a lossy mask holds no exact label
    m = np.zeros((30, 40), np.uint8)
    m[8:22, 10:30] = 1  # a 0/1 mask among 0/255 ones: --label 255 is absent from it
    imsave(render_dataset / "masks" / "im2.png", m, check_contrast=False)
    before = tree_digest(render_dataset, skip=("maps.zarr",))
    main_ok = _args(render_dataset, "--label", "255")
    with pytest.raises(SystemExit) as ex:
        main(main_ok)
    assert ex.value.code in (0, None)
    err = capsys.readouterr().err
    assert "--label 255 is absent from 1 mask(s)" in err and "im2" in err, err
    assert tree_digest(render_dataset, skip=("maps.zarr",)) == before


def test_check_label_reads_volumes(tmp_path, medical):
    from gazeprep.contract.errors import InputError
    from gazeprep.contract.images import ImageOptions, check_label, index_folder

    vol = np.zeros((3, 6, 5), np.int16)
    vol[1, 2:4, 1:3] = 2
    (tmp_path / "m").mkdir()
    medical.write_nifti(tmp_path / "m" / "seg.nii.gz", vol)
    refs = list(index_folder(tmp_path / "m").values())
    absent = check_label(refs, ImageOptions(label=2))
    assert sorted(r.index for r in absent) == [0, 3, 4]  # slices k = 1, 2 hold the label
    with pytest.raises(InputError, match=r"--label 7 occurs in none.*values are 0, 2"):
        check_label(refs, ImageOptions(label=7))
    assert check_label(refs, ImageOptions()) == []


@pytest.mark.parametrize("label", [-1, 65536, 2.5, "7", True])
def test_image_options_refuse_a_label_out_of_range(label):
    """A label from a config file or a checkpoint goes through the same check."""
    from gazeprep.contract.images import ImageOptions

    with pytest.raises(ValueError, match="label must be an integer 0..65535"):
        ImageOptions(label=label)
    assert ImageOptions(label=np.uint16(65535)).label == 65535
