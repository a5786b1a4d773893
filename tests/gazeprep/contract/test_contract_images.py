"""gazeprep.contract.images: ids, the 8-bit window rule, DICOM/NIfTI/NRRD/PIL images and masks."""

from __future__ import annotations

import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from gazeprep.contract import _volume
from gazeprep.contract._window import auto_window, parse_window, window_to_uint8
from gazeprep.contract.errors import InputError
from gazeprep.contract.images import (
    ImageOptions,
    check_pair,
    image_size,
    index_folder,
    read_image,
    read_mask,
)


def _ref_window(x, lo, hi):
    """Plain reference of the linear window: one value at a time, in Python floats."""
    out = np.zeros(np.shape(x), np.uint8)
    for idx, v in np.ndenumerate(np.asarray(x, dtype=np.float64)):
        if v != v:  # NaN
            continue
        t = min(max((v - lo) / (hi - lo), 0.0), 1.0)
        out[idx] = int(np.rint(t * 255.0))
    return out


def _percentile_window(values):
    """(lo, hi) of the automatic window, computed here from numpy directly."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    return np.percentile(v, 0.5), np.percentile(v, 99.5)


def _expected(values, lo, hi):
    return np.repeat(_ref_window(values, lo, hi)[..., None], 3, axis=2)


# ----------------------------------------------------------------------------- window rule

def test_window_matches_reference_on_hostile_values():
    x = np.array([-np.inf, -3024, -1000, -160, 39.9, 40, 40.1, 239.99, 240, 1e30, np.inf,
                  np.nan, -0.0])
    got = window_to_uint8(x, 40, 400)
    assert np.array_equal(got, _ref_window(x, -160, 240))
    assert got[0] == 0 and got[-4] == 255 and got[-3] == 255 and got[-2] == 0


def test_window_never_wraps_and_is_monotone():
    hu = np.arange(-32768, 32768, 7, dtype=np.int32)
    y = window_to_uint8(hu, 40, 400).astype(int)
    assert np.all(np.diff(y) >= 0)  # a wrap-around would drop from 255 back to 0
    assert y[0] == 0 and y[-1] == 255


def test_window_is_identity_on_8_bit_values():
    v = np.arange(256, dtype=np.float64)
    assert np.array_equal(window_to_uint8(v, 127.5, 255), v.astype(np.uint8))


def test_auto_window_percentiles_minmax_and_degenerate():
    rng = np.random.default_rng(0)
    v = rng.normal(0, 100, 10_000)
    v[:5] = [np.nan, np.inf, -np.inf, 1e9, -1e9]
    c, w = auto_window(v)
    lo, hi = _percentile_window(v)
    assert (c - w / 2, c + w / 2) == pytest.approx((lo, hi))
    c, w = auto_window(v, "minmax")
    assert (c - w / 2, c + w / 2) == pytest.approx((-1e9, 1e9))
    c, w = auto_window(np.full(10, 7.0))
    assert window_to_uint8(np.full(3, 7.0), c, w).tolist() == [0, 0, 0]
    assert auto_window(np.full(4, np.nan)) == (0.5, 1.0)


@pytest.mark.parametrize("text", ["40", "40,0", "40,-1", "a,b", "nan,10", "1,2,3"])
def test_parse_window_refuses(text):
    with pytest.raises(ValueError):
        parse_window(text)


def test_parse_window_accepts():
    assert parse_window("40,400") == (40.0, 400.0)
    assert parse_window(None) == "auto" and parse_window("MinMax") == "minmax"
    assert ImageOptions.from_dict(ImageOptions(window=(1, 2), label=3).to_dict()) == \
        ImageOptions(window=(1.0, 2.0), label=3)


# ----------------------------------------------------------------------------- PIL formats

def test_16_bit_png_is_windowed_not_divided_by_max(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4096, (30, 41)).astype(np.uint16)
    a[0, 0] = 60000  # one hot pixel: dividing by the max would make the image black
    Image.fromarray(a).save(tmp_path / "x.png")
    ref = index_folder(tmp_path)["x"]
    lo, hi = _percentile_window(a)
    assert np.array_equal(read_image(ref), _expected(a, lo, hi))
    opts = ImageOptions(window=(2048, 4096))
    assert np.array_equal(read_image(ref, options=opts), _expected(a, 0, 4096))
    mn = ImageOptions(window="minmax")
    assert np.array_equal(read_image(ref, options=mn), _expected(a, a.min(), 60000))


def test_float_tiff_with_negative_values(tmp_path):
    a = np.linspace(-1000, 2000, 24 * 17, dtype=np.float32).reshape(24, 17)
    Image.fromarray(a).save(tmp_path / "ct.tif")
    ref = index_folder(tmp_path)["ct"]
    got = read_image(ref, options=ImageOptions(window=(40, 400)))
    assert np.array_equal(got, _expected(a, -160, 240))
    assert np.all(np.diff(got[..., 0].ravel().astype(int)) >= 0)  # no wrap-around


def test_kvasir_jpeg_bytes_identical_to_previous_render_code(shared_data):
    """The cache bytes of JPEG inputs are unchanged: compare with the previous implementation."""
    from gazeprep.render.images import load_image, load_mask

    kvasir = shared_data("kvasir-seg", "images").parent
    imgs, msks = index_folder(kvasir / "images"), index_folder(kvasir / "masks")
    ids = sorted(imgs)[::110]  # 8 images of varied sizes
    for i in ids:
        for s in (256, 96):
            old, hw = _previous_load_image(imgs[i].path, s)
            new, new_hw = load_image(imgs[i], s)
            assert np.array_equal(old, new) and hw == new_hw, (i, s)
            assert np.array_equal(_previous_load_mask(msks[i].path, s), load_mask(msks[i], s))


def _previous_load_image(path, size):
    # gazeprep/images.py (now render/images.py) load_image at commit 0753c8d, verbatim but
    # for names.
    im = Image.open(path)
    hw = (int(im.height), int(im.width))
    if im.format == "JPEG":
        im.draft("RGB", (size, size))
    im.load()
    rgb = im.convert("RGB").resize((size, size), Image.BILINEAR)
    return np.ascontiguousarray(np.moveaxis(np.asarray(rgb), -1, 0)), hw


def _previous_load_mask(path, size):
    im = Image.open(path)
    im.load()
    if im.mode not in ("1", "L"):
        im = im.convert("L")
    m = np.asarray(im)
    fg = m > 0 if m.max() <= 1 else m >= 128
    small = Image.fromarray(fg.astype(np.float32), "F").resize((size, size), Image.BILINEAR)
    return (np.asarray(small) >= 0.5).astype(np.uint8)[None]


# ----------------------------------------------------------------------------- DICOM

def _copy(medical, tmp_path, *names):
    for n in names:
        shutil.copy(medical.pydicom_file(n), tmp_path / n)
    return index_folder(tmp_path)


def test_dicom_mr_uses_the_file_window(tmp_path, medical):
    import pydicom

    ix = _copy(medical, tmp_path, "MR_small.dcm")
    ds = pydicom.dcmread(medical.pydicom_file("MR_small.dcm"))
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    assert (c, w) == (600.0, 1600.0)
    got = read_image(ix["MR_small"])
    assert np.array_equal(got, _expected(ds.pixel_array, c - w / 2, c + w / 2))
    # pydicom's own (DICOM LINEAR) windowing agrees within one grey level.
    from pydicom.pixels import apply_windowing

    lin = apply_windowing(ds.pixel_array.astype(np.float64), ds)
    ymin, ymax = -(2 ** 15), 2 ** 15 - 1  # signed 16-bit output range
    assert np.abs((lin - ymin) / (ymax - ymin) * 255 - got[..., 0]).max() <= 1.0
    forced = read_image(ix["MR_small"], options=ImageOptions(window=(1000, 500)))
    assert np.array_equal(forced, _expected(ds.pixel_array, 750, 1250))


def test_dicom_ct_rescaled_to_hounsfield_then_percentile_window(tmp_path, medical):
    import pydicom
    from pydicom.pixels import apply_modality_lut

    ix = _copy(medical, tmp_path, "CT_small.dcm")
    ds = pydicom.dcmread(medical.pydicom_file("CT_small.dcm"))
    assert "WindowCenter" not in ds and float(ds.RescaleIntercept) == -1024
    hu = apply_modality_lut(ds.pixel_array, ds)
    lo, hi = _percentile_window(hu)
    assert np.array_equal(read_image(ix["CT_small"]), _expected(hu, lo, hi))
    soft = read_image(ix["CT_small"], options=ImageOptions(window=(40, 400)))
    assert np.array_equal(soft, _expected(hu, -160, 240))
    assert image_size(ix["CT_small"]) == (128, 128)


@pytest.mark.parametrize("name", ["MR_small_jp2klossless.dcm", "MR_small_RLE.dcm",
                                  "MR_small_jpeg_ls_lossless.dcm"])
def test_dicom_lossless_transfer_syntaxes_give_the_same_pixels(tmp_path, name, medical):
    pytest.importorskip("pylibjpeg", reason="pylibjpeg plugins not installed (extra 'medical')")
    ix = _copy(medical, tmp_path, "MR_small.dcm", name)
    assert np.array_equal(read_image(ix[name[:-4]]), read_image(ix["MR_small"]))


def test_dicom_multiframe_rgb_ids_and_frames(tmp_path, medical):
    import pydicom

    ix = _copy(medical, tmp_path, "SC_rgb_rle_2frame.dcm")
    assert sorted(ix) == ["SC_rgb_rle_2frame_0", "SC_rgb_rle_2frame_1"]
    frames = pydicom.dcmread(medical.pydicom_file("SC_rgb_rle_2frame.dcm")).pixel_array
    for k in range(2):
        assert np.array_equal(read_image(ix[f"SC_rgb_rle_2frame_{k}"]), frames[k])
    one = index_folder(tmp_path, ImageOptions(slice_base=1))
    assert sorted(one) == ["SC_rgb_rle_2frame_1", "SC_rgb_rle_2frame_2"]
    assert np.array_equal(read_image(one["SC_rgb_rle_2frame_2"]), frames[1])


def test_dicom_built_multiframe_shares_one_window_and_rescale(tmp_path, medical):
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 3000, (3, 20, 30)).astype(np.int16)
    frames[2] += 1000  # the last frame is brighter: a per-frame window would hide that
    medical.write_dicom(tmp_path / "ser.dcm", frames, rescale=(2.0, -1024.0))
    ix = index_folder(tmp_path)
    assert sorted(ix) == ["ser_0", "ser_1", "ser_2"] and ix["ser_1"].frames == 3
    hu = frames.astype(np.float64) * 2 - 1024
    lo, hi = _percentile_window(hu)
    for k in range(3):
        assert np.array_equal(read_image(ix[f"ser_{k}"]), _expected(hu[k], lo, hi))


def test_dicom_monochrome1_is_inverted(tmp_path, medical):
    a = np.arange(16 * 12, dtype=np.uint16).reshape(16, 12) * 50
    medical.write_dicom(tmp_path / "m2.dcm", a, window=(4000, 8000))
    medical.write_dicom(tmp_path / "m1.dcm", a, window=(4000, 8000), photometric="MONOCHROME1")
    ix = index_folder(tmp_path)
    assert np.array_equal(read_image(ix["m1"]), 255 - read_image(ix["m2"]))
    b = (np.arange(16 * 12) % 256).astype(np.uint8).reshape(16, 12)
    medical.write_dicom(tmp_path / "b1.dcm", b, photometric="MONOCHROME1")
    assert np.array_equal(read_image(index_folder(tmp_path)["b1"])[..., 0], 255 - b)


def test_dicom_without_extension_and_non_image_objects(tmp_path, medical):
    shutil.copy(medical.pydicom_file("MR_small.dcm"), tmp_path / "1.2.840.113619.2.1")
    # an RT plan has no pixels: not an image
    shutil.copy(medical.pydicom_file("rtplan.dcm"), tmp_path / "rtplan.dcm")
    (tmp_path / "notes.txt").write_text("not an image")
    ix = index_folder(tmp_path)
    assert list(ix) == ["1.2.840.113619.2.1"]
    assert read_image(ix["1.2.840.113619.2.1"]).shape == (64, 64, 3)


def test_a_dcm_file_that_is_not_dicom_is_an_error(tmp_path):
    (tmp_path / "scan.dcm").write_bytes(b"\x89PNG not really" * 20)
    with pytest.raises(InputError, match=r"scan.dcm: not a DICOM file"):
        index_folder(tmp_path)


def test_dicom_corrupt_pixel_data_is_one_line_error(tmp_path, medical):
    ix = _copy(medical, tmp_path, "MR_truncated.dcm")
    with pytest.raises(InputError) as err:
        read_image(ix["MR_truncated"])
    assert "MR_truncated.dcm" in str(err.value) and "\n" not in str(err.value)


def test_missing_reader_library_says_how_to_install(tmp_path, monkeypatch, medical):
    shutil.copy(medical.pydicom_file("MR_small.dcm"), tmp_path / "a.dcm")
    medical.write_nifti(tmp_path / "v.nii.gz", np.zeros((4, 4, 2), np.uint8))
    medical.write_nrrd(tmp_path / "r.nrrd", np.zeros((4, 4, 2), np.uint8))
    for module, folder_file in (("pydicom", "a.dcm"), ("nibabel", "v.nii.gz"),
                                ("nrrd", "r.nrrd")):
        sub = tmp_path / module
        sub.mkdir()
        shutil.copy(tmp_path / folder_file, sub / folder_file)
        with monkeypatch.context() as m:
            m.setitem(sys.modules, module, None)
            with pytest.raises(InputError, match=r"needs py(dicom|nrrd)|needs nibabel") as err:
                index_folder(sub)
        pip = {"nrrd": "pynrrd"}.get(module, module)
        assert str(err.value).endswith(f"needs {pip}: pip install 'gazeprep-gradseg[medical]'")


# ----------------------------------------------------------------------------- volumes

def test_nifti_shipped_volume_slices_and_orientation(tmp_path, medical):
    import nibabel as nib

    shutil.copy(medical.nibabel_file("anatomical.nii"), tmp_path / "anatomical.nii")
    data = nib.load(medical.nibabel_file("anatomical.nii")).get_fdata()
    assert data.shape == (33, 41, 25)
    ix = index_folder(tmp_path)
    assert sorted(ix, key=lambda k: int(k.rsplit("_", 1)[1])) == \
        [f"anatomical_{k}" for k in range(25)]
    lo, hi = _percentile_window(data)  # one window for the whole volume
    for k in (0, 12, 24):
        ref = ix[f"anatomical_{k}"]
        assert image_size(ref) == (41, 33)
        assert np.array_equal(read_image(ref), _expected(data[:, :, k].T, lo, hi))
    ax0 = index_folder(tmp_path, ImageOptions(slice_axis=0, slice_base=1))
    assert len(ax0) == 33 and image_size(ax0["anatomical_1"]) == (25, 41)
    assert np.array_equal(read_image(ax0["anatomical_5"]), _expected(data[4].T, lo, hi))
    ax1 = index_folder(tmp_path, ImageOptions(slice_axis=1))
    assert np.array_equal(read_image(ax1["anatomical_7"]), _expected(data[:, 7, :].T, lo, hi))
    flip = index_folder(tmp_path, ImageOptions(flip=True))
    assert np.array_equal(read_image(flip["anatomical_3"]), _expected(data[:, :, 3], lo, hi))


def test_nifti_uint8_volume_is_kept_as_stored(tmp_path, medical):
    import nibabel as nib

    shutil.copy(medical.nibabel_file("standard.nii.gz"), tmp_path / "standard.nii.gz")
    data = np.asarray(nib.load(medical.nibabel_file("standard.nii.gz")).dataobj)
    assert data.dtype == np.uint8
    ix = index_folder(tmp_path)
    assert len(ix) == data.shape[2]
    for k in range(data.shape[2]):
        assert np.array_equal(read_image(ix[f"standard_{k}"])[..., 1], data[:, :, k].T)


def test_float_nifti_and_4d_refused(tmp_path, medical):
    import nibabel as nib

    shutil.copy(medical.nibabel_file("reoriented_anat_moved.nii"), tmp_path / "f.nii")
    data = nib.load(tmp_path / "f.nii").get_fdata()
    lo, hi = _percentile_window(data)
    ix = index_folder(tmp_path)
    assert np.array_equal(read_image(ix["f_10"]), _expected(data[:, :, 10].T, lo, hi))
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(medical.nibabel_file("example4d.nii.gz"), bad / "example4d.nii.gz")
    with pytest.raises(InputError, match="example4d.nii.gz: volume of shape .*expected a 3-D"):
        index_folder(bad)


def test_generated_nrrd_and_nifti_equal_the_png_slices(tmp_path, medical):
    rng = np.random.default_rng(4)
    slices = [rng.integers(0, 256, (21, 34)).astype(np.uint8) for _ in range(3)]
    for k, s in enumerate(slices):
        Image.fromarray(s).save(tmp_path / f"v_{k}.png")
    vol = medical.slices_to_volume(slices)
    for fmt, writer in (("nii.gz", medical.write_nifti), ("nrrd", medical.write_nrrd)):
        d = tmp_path / fmt
        d.mkdir()
        writer(d / f"v.{fmt}", vol)
        ix = index_folder(d)
        png = index_folder(tmp_path)
        for k in range(3):
            for size in (None, 16):
                assert np.array_equal(read_image(ix[f"v_{k}"], size),
                                      read_image(png[f"v_{k}"], size)), (fmt, k, size)


def test_volume_cache_is_thread_safe_and_decodes_each_volume_once(tmp_path, monkeypatch, medical):
    rng = np.random.default_rng(5)
    for name in ("a", "b"):
        medical.write_nifti(tmp_path / f"{name}.nii",
                            rng.normal(0, 1, (12, 10, 8)).astype(np.float32))
    ix = index_folder(tmp_path)
    _volume._CACHE.clear()
    expected = {k: read_image(r) for k, r in ix.items()}
    _volume._CACHE.clear()
    calls, real = [], _volume.load_volume
    lock = threading.Lock()

    def counting(*args):
        with lock:
            calls.append(args[0].name)
        return real(*args)

    monkeypatch.setattr("gazeprep.contract.images.load_volume", counting)
    keys = sorted(ix) * 4
    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(lambda k: read_image(ix[k]), keys))
    assert all(np.array_equal(g, expected[k]) for g, k in zip(got, keys, strict=True))
    assert sorted(calls) == ["a.nii", "b.nii"]


# ----------------------------------------------------------------------------- masks and ids

def test_mask_rules_across_formats(tmp_path, medical):
    lab = np.zeros((9, 11), np.uint8)
    lab[2:5, 3:7] = 1
    lab[6:8, 1:3] = 2
    Image.fromarray(lab).save(tmp_path / "small_labels.png")
    Image.fromarray(lab * 100).save(tmp_path / "grey.png")  # 0/100/200: >= 128 rule
    Image.fromarray(lab.astype(np.uint16) * 1000).save(tmp_path / "deep.png")
    medical.write_nifti(tmp_path / "vol.nii.gz", medical.slices_to_volume([lab, lab * 0]))
    medical.write_dicom(tmp_path / "seg.dcm", lab.astype(np.uint16))
    ix = index_folder(tmp_path)
    assert np.array_equal(read_mask(ix["small_labels"]), lab > 0)
    assert np.array_equal(read_mask(ix["grey"]), lab == 2)
    assert np.array_equal(read_mask(ix["deep"]), lab > 0)
    assert np.array_equal(read_mask(ix["vol_0"]), lab > 0) and not read_mask(ix["vol_1"]).any()
    assert np.array_equal(read_mask(ix["seg"]), lab > 0)
    two = ImageOptions(label=2)
    for key in ("small_labels", "vol_0", "seg"):
        assert np.array_equal(read_mask(ix[key], options=two), lab == 2), key
    assert read_mask(ix["seg"], size=22).shape == (22, 22)


def test_geometry_mismatch_names_both_files(tmp_path, medical):
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    medical.write_nifti(tmp_path / "i" / "v.nii", np.zeros((8, 6, 5), np.int16))
    medical.write_nifti(tmp_path / "m" / "v.nii", np.zeros((8, 6, 4), np.uint8))
    img, msk = index_folder(tmp_path / "i"), index_folder(tmp_path / "m")
    with pytest.raises(InputError) as err:
        check_pair(img["v_0"], msk["v_0"])
    assert str(tmp_path / "i" / "v.nii") in str(err.value)
    assert str(tmp_path / "m" / "v.nii") in str(err.value) and "4 slices" in str(err.value)
    medical.write_nifti(tmp_path / "m" / "v.nii", np.zeros((6, 8, 5), np.uint8))
    with pytest.raises(InputError, match="mask size 8x6 differs from its image .*6x8"):
        check_pair(img["v_0"], index_folder(tmp_path / "m")["v_0"])


def test_duplicate_ids_across_formats_name_both_files(tmp_path, medical):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "v_1.png")
    medical.write_nifti(tmp_path / "v.nii", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match=r"two files for image id 'v_1' \(v.nii, v_1.png\)"):
        index_folder(tmp_path)
    (tmp_path / "v_1.png").unlink()
    shutil.copy(medical.pydicom_file("MR_small.dcm"), tmp_path / "x.dcm")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(InputError, match=r"'x' \(x.dcm, x.png\)"):
        index_folder(tmp_path)
