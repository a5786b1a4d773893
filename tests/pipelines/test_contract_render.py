"""Radiology files end to end: the same pixels in any format give the same cache and the same
pseudo-mask Dice; the image options on render, eval and predict; gradseg sees what render stored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import zarr
from PIL import Image
from typer.testing import CliRunner

from gazeprep.cli import app
from gazeprep.contract.images import ImageOptions, index_folder
from gazeprep.inspect.score import score_cache
from gazeprep.render.params import RenderParams
from gazeprep.render.plan import plan_render
from gazeprep.render.writer import update_cache

S, K, H, W = 32, 3, 36, 44  # cache side, slices, slice rows and columns (not square)
ARRAYS = ("image", "maps", "heatmap", "pseudo", "mask")


def _lesions(seed: int, deep: bool = False):
    """K grey slices with a bright blob (uint8, or uint16 with ``deep``) and their masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W]
    images, masks, tracks = [], [], {}
    for k in range(K):
        cy, cx, r = rng.uniform(12, 24), rng.uniform(14, 30), rng.uniform(5, 9)
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        base = rng.normal(60, 12, (H, W)) + 120 * inside
        img = (np.clip(base, 0, None) * 8 + 1000).astype(np.uint16) if deep else np.clip(
            base, 0, 255).astype(np.uint8)
        images.append(img)
        masks.append(inside.astype(np.uint8))
        n = 6 + k
        tracks[f"v_{k}"] = (cx / W + rng.normal(0, 0.03, n), cy / H + rng.normal(0, 0.03, n),
                            rng.uniform(100, 500, n))
    return images, masks, tracks


def _write_gaze(folder: Path, tracks: dict) -> Path:
    rows = [{"image": i, "session": "s0", "x": [float(v) for v in x], "y": [float(v) for v in y],
             "duration_ms": [float(v) for v in d]} for i, (x, y, d) in tracks.items()]
    folder.mkdir(parents=True)
    schema = {"image": pl.Utf8, "session": pl.Utf8, "x": pl.List(pl.Float32),
              "y": pl.List(pl.Float32), "duration_ms": pl.List(pl.Float32)}
    pl.DataFrame(rows, schema=schema).write_parquet(folder / "tracks.parquet")
    return folder


def _write_as(medical, fmt: str, folder: Path, images, masks) -> tuple[Path, Path]:
    """The same slices and masks stored as ``fmt`` under ``folder``/images, ``folder``/masks."""
    img_dir, msk_dir = folder / "images", folder / "masks"
    img_dir.mkdir(parents=True)
    msk_dir.mkdir()
    if fmt == "png":
        for k, (im, m) in enumerate(zip(images, masks, strict=True)):
            Image.fromarray(im).save(img_dir / f"v_{k}.png")
            Image.fromarray(m * 255).save(msk_dir / f"v_{k}.png")  # 0/255, like most PNG masks
    elif fmt == "dicom-frames":
        for k, (im, m) in enumerate(zip(images, masks, strict=True)):
            medical.write_dicom(img_dir / f"v_{k}.dcm", im)
            medical.write_dicom(msk_dir / f"v_{k}.dcm", m)
    elif fmt == "dicom-multiframe":
        medical.write_dicom(img_dir / "v.dcm", np.stack(images))
        medical.write_dicom(msk_dir / "v.dcm", np.stack(masks))
    else:
        writer = {"nii.gz": medical.write_nifti, "nrrd": medical.write_nrrd}[fmt]
        writer(img_dir / f"v.{fmt}", medical.slices_to_volume(images))
        writer(msk_dir / f"v.{fmt}", medical.slices_to_volume(masks))  # 0/1 label map
    return img_dir, msk_dir


def _render(gaze: Path, img_dir: Path, msk_dir: Path, out: Path, opts: ImageOptions):
    params = RenderParams(size=S, image=opts)
    rep = update_cache(plan_render(gaze, img_dir, msk_dir, opts), params, out)
    assert rep.rendered == [f"v_{k}" for k in range(K)]
    g = zarr.open_group(str(out), mode="r")
    return {n: g[n][:] for n in ARRAYS}, score_cache(g)["pseudo_dice"].to_list()


@pytest.mark.parametrize("fmt", ["nii.gz", "nrrd", "dicom-multiframe", "dicom-frames"])
def test_same_8_bit_pixels_give_the_same_cache_and_dice(tmp_path, fmt, medical):
    images, masks, tracks = _lesions(0)
    gaze = _write_gaze(tmp_path / "gaze", tracks)
    opts = ImageOptions()
    png, png_dice = _render(gaze, *_write_as(medical, "png", tmp_path / "png", images, masks),
                            tmp_path / "png.zarr", opts)
    other, dice = _render(gaze, *_write_as(medical, fmt, tmp_path / "o", images, masks),
                          tmp_path / "o.zarr", opts)
    for name in ARRAYS:
        assert np.array_equal(png[name], other[name]), name
    assert dice == png_dice and min(dice) > 0.5  # a real overlap, not two empty masks
    assert png["mask"].any() and png["image"].std() > 10


def test_same_16_bit_pixels_same_cache_with_the_rules_window(tmp_path, medical):
    images, masks, tracks = _lesions(1, deep=True)
    gaze = _write_gaze(tmp_path / "gaze", tracks)
    auto = ImageOptions()
    # One file per slice: the automatic window is each image's own, in PNG and DICOM alike.
    png, dice = _render(gaze, *_write_as(medical, "png", tmp_path / "png", images, masks),
                        tmp_path / "png.zarr", auto)
    frames = _write_as(medical, "dicom-frames", tmp_path / "dcm", images, masks)
    dcm, dcm_dice = _render(gaze, *frames, tmp_path / "dcm.zarr", auto)
    assert all(np.array_equal(png[n], dcm[n]) for n in ARRAYS) and dice == dcm_dice
    # A volume's automatic window spans the volume; with a stated window every format agrees.
    ct = ImageOptions(window=(1900.0, 1600.0))
    vol, vol_dice = _render(gaze, *_write_as(medical, "nii.gz", tmp_path / "nii", images, masks),
                            tmp_path / "nii.zarr", ct)
    png_ct, png_ct_dice = _render(gaze, tmp_path / "png" / "images", tmp_path / "png" / "masks",
                                  tmp_path / "png_ct.zarr", ct)
    assert all(np.array_equal(vol[n], png_ct[n]) for n in ARRAYS) and vol_dice == png_ct_dice


def test_render_cli_options_recorded_and_changes_rerender(tmp_path, medical, tree_digest):
    images, masks, tracks = _lesions(2, deep=True)
    gaze = _write_gaze(tmp_path / "gaze", tracks)
    img_dir, msk_dir = _write_as(medical, "nii.gz", tmp_path / "d", images, masks)
    before = tree_digest(tmp_path / "d")
    base = ["render", "--gaze", str(gaze), "--images", str(img_dir), "--masks", str(msk_dir),
            "--size", str(S), "--out", str(tmp_path / "c.zarr"), "--slice-base", "1"]
    runner = CliRunner()
    for bad in (["--window", "40"], ["--window", "40,0"], ["--slice-base", "2"],
                ["--slice-axis", "3"]):
        res = runner.invoke(app, base + bad)
        assert res.exit_code == 2, (bad, res.output)
    assert not (tmp_path / "c.zarr").exists()
    res = runner.invoke(app, base + ["--window", "40,400"])
    assert res.exit_code == 0, res.output
    g = zarr.open_group(str(tmp_path / "c.zarr"), mode="r")
    assert g["sample"][:].tolist() == ["v_1", "v_2", "v_3"]
    assert g.attrs["params"]["image"] == {"window": [40.0, 400.0], "slice_axis": 2,
                                          "slice_base": 1, "flip": False, "label": None}
    first = g["image"][:]
    assert "nothing to render" in runner.invoke(app, base + ["--window", "40,400"]).output
    res = runner.invoke(app, base + ["--window", "1900,1600"])
    assert res.exit_code == 0 and "nothing to render" not in res.output
    g = zarr.open_group(str(tmp_path / "c.zarr"), mode="r")
    assert g.attrs["params"]["image"]["window"] == [1900.0, 1600.0]
    assert not np.array_equal(g["image"][:], first)
    assert tree_digest(tmp_path / "d") == before  # user files untouched


def test_render_refuses_masks_of_another_geometry(tmp_path, medical):
    images, masks, tracks = _lesions(3)
    gaze = _write_gaze(tmp_path / "gaze", tracks)
    img_dir, msk_dir = _write_as(medical, "png", tmp_path / "p", images, masks)
    Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(msk_dir / "v_1.png")
    out = tmp_path / "c.zarr"
    args = ["render", "--gaze", str(gaze), "--images", str(img_dir), "--masks", str(msk_dir),
            "--size", str(S), "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1
    msg = str(res.exception)
    assert str(msk_dir / "v_1.png") in msg and str(img_dir / "v_1.png") in msg
    assert f"{H + 1}x{W}" in msg and f"{H}x{W}" in msg
    vol_i, vol_m = tmp_path / "vi", tmp_path / "vm"
    vol_i.mkdir()
    vol_m.mkdir()
    medical.write_nifti(vol_i / "v.nii", medical.slices_to_volume(images))
    medical.write_nifti(vol_m / "v.nii", medical.slices_to_volume(masks[:2]))
    res = CliRunner().invoke(app, args[:4] + [str(vol_i), "--masks", str(vol_m)] + args[7:])
    assert res.exit_code == 1 and "mask has 2 slices but its image" in str(res.exception)
    assert str(vol_i / "v.nii") in str(res.exception)


# ----------------------------------------------------------------------------- gradseg

def test_predict_and_eval_on_volumes_use_the_checkpoints_options(tmp_path, capsys, medical,
                                                                 tree_digest,
                                                                 untrained_checkpoint):
    from gradseg.cli import main

    images, masks, _ = _lesions(4, deep=True)
    img_dir, msk_dir = _write_as(medical, "nii.gz", tmp_path / "d", images, masks)
    before = tree_digest(tmp_path / "d")
    ckpt = untrained_checkpoint(tmp_path, S, image_options=ImageOptions(
        window=(1900, 1600), slice_base=1).to_dict())
    with pytest.raises(SystemExit) as e:
        main(["predict", "--checkpoint", str(ckpt), "--images", str(img_dir), "--out",
              str(tmp_path / "pred")])
    assert e.value.code in (0, None)
    written = sorted(p.name for p in (tmp_path / "pred").iterdir())
    # a volume: one NIfTI mask in its voxel grid, and a PNG overlay per slice (ids from 1)
    assert written == sorted(["v.nii.gz"] + [f"v_{k}_overlay.png" for k in (1, 2, 3)])
    import nibabel as nib

    assert nib.load(tmp_path / "pred" / "v.nii.gz").shape == (W, H, K)
    with pytest.raises(SystemExit):
        main(["predict", "--checkpoint", str(ckpt), "--images", str(img_dir), "--out",
              str(tmp_path / "pred0"), "--slice-base", "0"])
    assert (tmp_path / "pred0" / "v_0_overlay.png").is_file()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["eval", "--checkpoint", str(ckpt), "--images", str(img_dir), "--masks",
              str(msk_dir), "--json", "--out", str(tmp_path / "e.parquet")])
    res = json.loads(capsys.readouterr().out)
    assert res["n_images"] == K
    assert pl.read_parquet(tmp_path / "e.parquet")["image"].to_list() == ["v_1", "v_2", "v_3"]
    with pytest.raises(SystemExit) as e:
        main(["eval", "--checkpoint", str(ckpt), "--images", str(img_dir), "--masks",
              str(msk_dir), "--window", "1,2,3"])
    assert e.value.code == 2
    assert tree_digest(tmp_path / "d") == before


def test_eval_refuses_a_mask_of_another_size(tmp_path, capsys, medical, untrained_checkpoint):
    from gradseg.cli import main

    images, masks, _ = _lesions(5)
    img_dir, msk_dir = _write_as(medical, "png", tmp_path / "p", images, masks)
    Image.fromarray(np.zeros((H, W + 2), np.uint8)).save(msk_dir / "v_0.png")
    with pytest.raises(SystemExit) as e:
        main(["eval", "--checkpoint", str(untrained_checkpoint(tmp_path, S)), "--images",
              str(img_dir), "--masks", str(msk_dir), "--out", str(tmp_path / "e.parquet")])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert str(msk_dir / "v_0.png") in err and str(img_dir / "v_0.png") in err


def test_cli_image_options_default_to_the_checkpoint_config():
    from gradseg.options import image_options as _image_options

    saved = ImageOptions(window=(40, 400), slice_axis=0, slice_base=1, flip=True, label=2)
    config = {"image_options": saved.to_dict()}
    assert _image_options(config, None, None, None, None, None) == saved
    assert _image_options({}, None, None, None, None, None) == ImageOptions()
    over = _image_options(config, "minmax", 2, 0, False, None)
    assert over == ImageOptions(window="minmax", slice_axis=2, slice_base=0, flip=False, label=2)


def test_model_input_is_what_render_stored_for_16_bit_and_float(tmp_path):
    """One 8-bit rule: gradseg reads a 16-bit PNG and a float TIFF as render does."""
    import torch

    from gazeprep.render.images import load_image
    from gradseg.predict import model_input, read_rgb

    rng = np.random.default_rng(6)
    Image.fromarray(rng.integers(0, 5000, (40, 30)).astype(np.uint16)).save(tmp_path / "a.png")
    Image.fromarray(rng.normal(-300, 500, (25, 50)).astype(np.float32)).save(tmp_path / "b.tif")
    refs = index_folder(tmp_path)
    config = {"size": S, "cache_size": S}
    for key, ref in refs.items():
        stored, _ = load_image(ref, S)
        x = model_input(ref, config, None)[0]
        assert torch.equal(x, torch.from_numpy(stored).float() / 255), key
        assert read_rgb(ref).shape[:2] == Image.open(ref.path).size[::-1]


def test_model_input_equals_the_cache_bytes_on_kvasir(tmp_path, shared_data):
    import torch

    from gradseg.predict import model_input

    imgs = index_folder(shared_data("kvasir-seg", "images"))
    ids = sorted(imgs)[5::200]
    tracks = {i: (np.array([0.5]), np.array([0.5]), np.array([300.0])) for i in ids}
    gaze = _write_gaze(tmp_path / "gaze", tracks)
    sub = tmp_path / "images"
    sub.mkdir()
    for i in ids:
        (sub / imgs[i].path.name).symlink_to(imgs[i].path)
    update_cache(plan_render(gaze, sub), RenderParams(size=64), tmp_path / "k.zarr")
    stored = zarr.open_group(str(tmp_path / "k.zarr"), mode="r")["image"][:]
    for n, i in enumerate(ids):
        x = model_input(imgs[i], {"size": 64, "cache_size": 64})[0]
        assert torch.equal((x * 255).round().to(torch.uint8), torch.from_numpy(stored[n])), i


def test_train_records_the_caches_image_options(tmp_path, medical):
    from gradseg.checkpoint import load_checkpoint
    from gradseg.train import TrainConfig, train

    images, masks, tracks = _lesions(7, deep=True)
    gaze = _write_gaze(tmp_path / "gaze", tracks)
    opts = ImageOptions(window=(1900.0, 1600.0), slice_base=1)
    img_dir, msk_dir = _write_as(medical, "nii.gz", tmp_path / "d", images, masks)
    update_cache(plan_render(gaze, img_dir, msk_dir, opts), RenderParams(size=S, image=opts),
                 tmp_path / "c.zarr")
    cfg = TrainConfig(cache=str(tmp_path / "c.zarr"), out=str(tmp_path / "run"), batch_size=2,
                      base_channels=4, iterations=2, warmup=1, eval_every=2,
                      checkpoint_every=2, threads=1, val_fraction=0.34, augment=False)
    train(cfg, progress=False, log=lambda *a: None)
    config = load_checkpoint(tmp_path / "run" / "best.pt")["config"]
    assert config["image_options"] == opts.to_dict() and config["cache_size"] == S
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert ImageOptions.from_dict(saved["image_options"]) == opts
