"""Hostile image headers: files named outside the folder, sizes the data cannot hold, numbers
that are not numbers.

Each case is a file built here (pydicom, nibabel, pynrrd, or bytes) in ``tmp_path``. The command
line cases run ``gazeprep render`` in a subprocess, as a user would (real exit code, real
stderr), and check that the input files are byte-identical afterwards.

Memory cases run the command under ``RLIMIT_AS`` = 2 GiB (:func:`run_limited`): ``gazeprep
render --jobs 1`` holds about 1.35 GiB of address space when it starts decoding (measured: it
cannot start its threads under a 1 GiB limit, renders a tiny dataset under 2 GiB, and the
refusals below report about 0.65 GiB left there), so 2 GiB leaves it room to work but not to
hold a bomb's 2.5 GiB.
"""

from __future__ import annotations

import bz2
import os
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gazeprep.contract.errors import InputError
from gazeprep.contract.images import index_folder, read_image, read_mask
from gazeprep.contract.spacing import pixel_spacing

pytest.importorskip("nrrd", reason="pynrrd not installed (extra 'medical')")
pytest.importorskip("nibabel", reason="nibabel not installed (extra 'medical')")
pytest.importorskip("pydicom", reason="pydicom not installed (extra 'medical')")

#: Address space a limited command gets (see the module notes).
LIMIT_AS = 2 << 30
#: What a bomb inflates to (2.5 GiB: more than LIMIT_AS), and the sizes that say so.
BOMB_BYTES = 5 << 29
BOMB_SIZES = (1 << 14, 1 << 14, 10)


def run_limited(*args, limit: int = LIMIT_AS) -> subprocess.CompletedProcess:
    """``python -m gazeprep.cli args`` in a subprocess whose address space is ``limit``."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, "-m", "gazeprep.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300, preexec_fn=cap,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture()
def gaze_on(write_tracks):
    """``gaze_on(root, ids)``: ``root/gaze/tracks.parquet`` with a fixation on each image."""
    def write(root: Path, ids: list[str]) -> None:
        write_tracks(root / "gaze", {i: [(np.array([0.5]), np.array([0.5]), np.array([300.0]))]
                                     for i in ids})

    return write


def render(root: Path, limit: int = LIMIT_AS) -> subprocess.CompletedProcess:
    """Render ``root/images`` with the tracks in ``root/gaze``, under ``limit``."""
    return run_limited("render", "--gaze", root / "gaze", "--images", root / "images",
                       "--out", root / "c.zarr", "--size", "32", "--jobs", "1", limit=limit)


@pytest.fixture()
def render_refuses(gaze_on, untouched, error_line):
    """``line = render_refuses(root, image_id, *more_inputs)``: render ``root/images`` with gaze
    on ``image_id`` under :data:`LIMIT_AS`; asserts exit code 1, one error line (returned) and
    every input byte-identical."""
    def run(root: Path, image_id: str, *more: Path) -> str:
        gaze_on(root, [image_id])
        check = untouched(root / "images", root / "gaze", *more)
        res = render(root)
        assert res.returncode == 1, res.stderr
        line = error_line(res.stderr)
        check()
        return line

    return run


def nrrd_bytes(data: bytes = b"", **fields) -> bytes:
    """An NRRD file: ``fields`` (``data_file`` -> ``data file``) and attached ``data``."""
    head = {"type": "uint8", "dimension": 3, "sizes": "8 8 1", "encoding": "raw", **fields}
    lines = [f"{k.replace('_', ' ')}: {v}" for k, v in head.items()]
    return ("NRRD0004\n" + "\n".join(lines) + "\n\n").encode() + data


@pytest.fixture()
def images(tmp_path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    return folder


# ------------------------------------------------- 1. files are read only where they say

@pytest.fixture()
def secret(tmp_path) -> Path:
    """A file outside the images folder that no image may make us read."""
    (tmp_path / "secret").mkdir()
    p = tmp_path / "secret" / "key.bin"
    p.write_bytes(bytes(range(256)) * 3)  # 768 bytes: more than an 8 x 8 image needs
    return p


def test_nrrd_data_file_outside_its_folder_is_refused_by_render(tmp_path, images, secret,
                                                                render_refuses):
    (images / "vol.nrrd").write_bytes(nrrd_bytes(data_file="../secret/key.bin"))
    line = render_refuses(tmp_path, "vol_0", secret)
    assert "vol.nrrd" in line and "data file '../secret/key.bin'" in line
    assert "768" not in line and "key.bin" not in line.replace("'../secret/key.bin'", "")
    assert not (tmp_path / "c.zarr").exists()


def test_no_header_makes_us_open_a_file_outside_its_folder(images, secret, monkeypatch):
    """Relative, absolute, through a link, missing: never opened, and the message is the same
    whether the outside file exists or not (it tells nothing about it)."""
    import builtins

    (images / "sub").mkdir()
    (images / "sub" / "link.bin").symlink_to(secret)
    (images / "sub" / "up").symlink_to(secret.parent)
    opened, real_open = [], builtins.open

    def spy(file, *args, **kwargs):
        if isinstance(file, str | Path):
            opened.append(os.path.realpath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    names = {"../secret/key.bin": True, str(secret): True, "sub/link.bin": True,
             "sub/up/key.bin": True, "/etc/passwd": True, "../secret/none.bin": False,
             "/nonexistent/x": False, "..": True}
    messages = {}
    for name in names:
        (images / "v.nrrd").write_bytes(nrrd_bytes(data_file=name))
        with pytest.raises(InputError) as err:
            index_folder(images)
        messages[name] = str(err.value).replace(repr(name), "NAME")
    assert len(set(messages.values())) == 1, messages
    assert "not a file in the header's own folder" in next(iter(messages.values()))
    assert str(os.path.getsize("/etc/passwd")) not in "".join(messages.values())
    assert not {p for p in opened if not p.startswith(str(images.resolve()))}


def test_detached_nhdr_and_nrrd_data_beside_the_header_are_read(images, medical):
    vol = np.arange(8 * 6 * 2, dtype=np.uint8).reshape(8, 6, 2, order="F")
    (images / "raw.bin").write_bytes(vol.tobytes(order="F"))
    (images / "a.nhdr").write_bytes(nrrd_bytes(sizes="8 6 2", data_file="raw.bin"))
    (images / "gz.bin").write_bytes(zlib.compress(vol.tobytes(order="F"), wbits=31))
    (images / "b.nrrd").write_bytes(nrrd_bytes(sizes="8 6 2", data_file="gz.bin",
                                               encoding="gzip"))
    (images / "skip.bin").write_bytes(bz2.compress(b"12345" + vol.tobytes(order="F")))
    (images / "d.nhdr").write_bytes(nrrd_bytes(sizes="8 6 2", data_file="skip.bin",
                                               encoding="bzip2", byte_skip=5))
    medical.write_nrrd(images / "c.nrrd", vol)
    refs = index_folder(images)
    assert sorted(refs) == ["a_0", "a_1", "b_0", "b_1", "c_0", "c_1", "d_0", "d_1"]
    for k in (0, 1):
        want = read_image(refs[f"c_{k}"])
        assert np.array_equal(want[..., 0], vol[:, :, k].T)
        for other in "abd":
            assert np.array_equal(read_image(refs[f"{other}_{k}"]), want)


@pytest.mark.parametrize("encoding", ["raw", "gzip", "bzip2", "ascii"])
@pytest.mark.parametrize("dtype", ["<u1", ">i2", "<f4", ">f8"])
def test_nrrd_data_reader_equals_pynrrd_on_honest_files(tmp_path, encoding, dtype):
    """The data reader that replaces pynrrd's (which opens any ``data file`` and inflates
    without a bound) returns pynrrd's arrays on every encoding, type and byte order."""
    nrrd = pytest.importorskip("nrrd")
    from gazeprep.contract._nrrd import read_nrrd

    rng = np.random.default_rng(7)
    vol = (rng.normal(0, 300, (5, 7, 3))).astype(dtype)
    path = tmp_path / "v.nrrd"
    nrrd.write(str(path), vol, {"encoding": encoding,
                                "endian": "big" if dtype[0] == ">" else "little"})
    want, _ = nrrd.read(str(path))
    got = read_nrrd(path)
    assert got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize("named", ["LIST", "LIST 2", "img%03d.raw 1 4 1", "img%d.raw 0 1 1 2"])
def test_nrrd_data_split_over_several_files_is_refused(images, named):
    (images / "v.nhdr").write_bytes(nrrd_bytes(data_file=named) + b"a.raw\nb.raw\n")
    with pytest.raises(InputError, match="several files .LIST or a format string. is not "
                                         "supported"):
        index_folder(images)


def test_nifti_reads_only_its_own_file(images):
    """A ``.nii`` carrying an Analyze/NIfTI pair header (vox_offset 0: "the data is in the
    .img") is refused, never read from the ``.img`` beside it; ``.hdr``/``.img`` pairs are
    not images here."""
    nib = pytest.importorskip("nibabel")
    nib.save(nib.Nifti1Pair(np.zeros((4, 4, 2), np.uint8), np.eye(4)), str(images / "p.img"))
    (images / "q.nii").write_bytes((images / "p.hdr").read_bytes())
    with pytest.raises(InputError, match="q.nii: vox_offset 0: expected at least 352 in a "
                                         "single-file NIfTI"):
        index_folder(images)
    (images / "q.nii").unlink()
    assert index_folder(images) == {}


# ----------------------------------------------------- 2. headers are checked against the data

def test_dicom_claiming_2e9_frames_is_refused_in_2_gib(tmp_path, images, medical, render_refuses):
    pydicom = pytest.importorskip("pydicom")
    p = medical.write_dicom(images / "x.dcm", np.zeros((2, 16, 16), np.uint16))
    ds = pydicom.dcmread(p)
    ds.NumberOfFrames = 2_000_000_000
    ds.save_as(p)
    assert p.stat().st_size < 8192
    line = render_refuses(tmp_path, "x_0")
    assert "x.dcm" in line and "NumberOfFrames 2000000000" in line


@pytest.mark.parametrize(("frames", "match"), [
    ("0", "NumberOfFrames 0: expected a whole number from 1 to 100000"),
    ("ab", "NumberOfFrames 'ab': expected a whole"),
    ("10", r"10 frame\(s\) of 16 x 16\) claims"), ("-2", "NumberOfFrames -2")])
def test_dicom_frame_counts_the_data_cannot_hold(images, medical, frames, match):
    pydicom = pytest.importorskip("pydicom")
    p = medical.write_dicom(images / "x.dcm", np.zeros((2, 16, 16), np.uint16))
    ds = pydicom.dcmread(p)
    ds.NumberOfFrames = 98765 if frames == "ab" else frames
    ds.save_as(p)
    if frames == "ab":  # pydicom refuses to write an IS that is no number
        _patch(p, b"98765 ", b"ab    ")
    with pytest.raises(InputError, match=match):
        index_folder(images)


def _patch(path: Path, old: bytes, new: bytes) -> None:
    """Replace the one occurrence of ``old`` in the file by ``new`` (as long)."""
    raw = path.read_bytes()
    assert raw.count(old) == 1 and len(new) == len(old)
    path.write_bytes(raw.replace(old, new))


@pytest.fixture(scope="session")
def bombs(tmp_path_factory) -> dict[str, bytes]:
    """2.5 GiB of zeros, compressed: ``bzip2`` (~2 KB) and ``gzip`` (~2.5 MB)."""
    zeros = bytes(64 << 20)
    out = {}
    for name, comp in (("bzip2", bz2.BZ2Compressor(9)),
                       ("gzip", zlib.compressobj(9, zlib.DEFLATED, 31))):
        parts = [comp.compress(zeros) for _ in range(BOMB_BYTES // len(zeros))]
        out[name] = b"".join(parts) + comp.flush()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["bzip2", "gzip"])
def test_nrrd_bomb_is_refused_in_2_gib(tmp_path, gaze_on, images, bombs, encoding, render_refuses):
    """A header that honestly claims the 2.5 GiB its data inflates to: refused before
    anything is allocated. A header that claims 8 x 8: decompression stops there."""
    sizes = " ".join(map(str, BOMB_SIZES))
    (images / "bomb.nrrd").write_bytes(nrrd_bytes(bombs[encoding], sizes=sizes,
                                                  encoding=encoding))
    line = render_refuses(tmp_path, "bomb_0")
    assert "bomb.nrrd" in line and "2.5 GiB of memory but this process can use only" in line
    (images / "bomb.nrrd").unlink()
    (images / "small.nrrd").write_bytes(nrrd_bytes(bombs[encoding], sizes="8 8 1",
                                                   encoding=encoding))
    gaze_on(tmp_path, ["small_0"])
    res = render(tmp_path)
    assert res.returncode == 0, res.stderr


@pytest.mark.slow
def test_deflated_dicom_bomb_is_refused_in_2_gib(tmp_path, images, bombs, render_refuses):
    """A DICOM whose data set (transfer syntax Deflated Explicit VR) inflates to 2.5 GiB:
    pydicom would inflate it whole; it is measured a chunk at a time and refused."""
    import io

    from pydicom.dataset import FileMetaDataset
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian, SecondaryCaptureImageStorage

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = "1.2.3"
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = io.BytesIO()
    write_file_meta_info(head, meta)
    raw_deflate = bombs["gzip"][10:-8]  # a gzip member: 10-byte header, deflate, trailer
    (images / "x.dcm").write_bytes(bytes(128) + b"DICM" + head.getvalue() + raw_deflate)
    line = render_refuses(tmp_path, "x")
    assert "x.dcm: the deflated data set inflates to more than" in line


def test_gzip_claims_beyond_deflate_ratio_are_refused_before_inflating(images):
    (images / "v.nrrd").write_bytes(nrrd_bytes(zlib.compress(bytes(64), wbits=31),
                                               sizes="4096 4096 64", encoding="gzip"))
    with pytest.raises(InputError, match="gzip-compressed, claims 1.0 GiB .* but the file "
                                         "holds at most"):
        index_folder(images)


def test_raw_nrrd_claiming_more_than_its_bytes(images):
    (images / "v.nrrd").write_bytes(nrrd_bytes(bytes(63)))
    with pytest.raises(InputError, match=r"claims 64 bytes \(64 bytes\) but the file holds at "
                                         r"most 63 bytes"):
        index_folder(images)


def _nifti_claiming(path: Path, dims: tuple[int, ...], data: bytes, gz: bool) -> Path:
    nib = pytest.importorskip("nibabel")
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(dims)
    hdr.set_data_dtype(np.uint8)
    hdr["vox_offset"] = 352
    raw = hdr.binaryblock + b"\0" * 4 + data
    path.write_bytes(zlib.compress(raw, wbits=31) if gz else raw)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_nifti_dims_the_file_cannot_hold(images, gz):
    _nifti_claiming(images / ("v.nii.gz" if gz else "v.nii"), (30000, 30000, 30000), bytes(64),
                    gz)
    with pytest.raises(InputError, match=r"dim 30000 x 30000 x 30000, uint8.* claims 24.6 TiB"):
        index_folder(images)


@pytest.mark.parametrize("esize", [512 << 20, 24, 0, -16, 16])
def test_nifti_extensions_must_end_by_vox_offset(images, esize):
    """nibabel reads each header extension's claimed size whole (512 MB from a 1 KB gzip)."""
    nib = pytest.importorskip("nibabel")
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((8, 8, 1))
    hdr.set_data_dtype(np.uint8)
    hdr["vox_offset"] = 368
    raw = hdr.binaryblock + bytes([1, 0, 0, 0]) + struct.pack("<ii", esize, 6) + bytes(8 + 64)
    (images / "x.nii.gz").write_bytes(zlib.compress(raw + bytes(1 << 20), wbits=31))
    if esize == 16:  # the one extension that fits
        assert read_image(index_folder(images)["x_0"]).shape == (8, 8, 3)
        return
    with pytest.raises(InputError, match=f"x.nii.gz: header extension at byte 352 claims "
                                         f"{esize} bytes; expected a multiple of 16 that ends "
                                         f"by vox_offset 368"):
        index_folder(images)


@pytest.mark.slow
def test_nifti_gzip_bomb_is_refused_in_2_gib(tmp_path, images, bombs, render_refuses):
    """A ``.nii.gz`` whose dims honestly claim what its 2.5 GiB of zeros inflate to."""
    nib = pytest.importorskip("nibabel")
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(BOMB_SIZES)
    hdr.set_data_dtype(np.uint8)
    hdr["vox_offset"] = 352
    head = zlib.compress(hdr.binaryblock + bytes(4), wbits=31)  # gzip members concatenate
    (images / "bomb.nii.gz").write_bytes(head + bombs["gzip"])
    line = render_refuses(tmp_path, "bomb_0")
    assert "bomb.nii.gz" in line and "of memory but this process can use only" in line


def _png(path: Path, width: int, height: int, idat: bytes) -> Path:
    """A grey 8-bit PNG header claiming ``width`` x ``height`` over the deflate data ``idat``."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


def test_png_bombs_end_with_one_line(tmp_path, images, render_refuses):
    """Past Pillow's pixel limit (it only warns below twice the limit), or claiming more than
    deflate can hold: one line, exit 1."""
    rows = zlib.compressobj(9)
    idat = rows.compress(bytes(10_000 * 10_001)) + rows.flush()
    _png(images / "warn.png", 10_000, 10_000, idat)  # 1e8 pixels, Pillow's limit is 8.9e7
    line = render_refuses(tmp_path, "warn")
    assert "warn.png" in line and "decompression bomb" in line
    (images / "warn.png").unlink()
    _png(images / "ratio.png", 8000, 8000, zlib.compress(bytes(8001 * 10)))
    with pytest.raises(InputError, match="deflate-compressed, claims"):
        read_image(index_folder(images)["ratio"])


def _tiff_claiming(path: Path, width: int, height: int, mode: str) -> Path:
    """A 1 x 1 TIFF whose ImageWidth and ImageLength tags say ``width`` x ``height``."""
    Image.new(mode, (1, 1)).save(path)
    raw = bytearray(path.read_bytes())
    assert raw[:4] == b"II*\0"
    ifd = struct.unpack_from("<I", raw, 4)[0]
    for k in range(struct.unpack_from("<H", raw, ifd)[0]):
        at = ifd + 2 + 12 * k
        tag = struct.unpack_from("<H", raw, at)[0]
        if tag in (256, 257):  # ImageWidth, ImageLength: a LONG each
            struct.pack_into("<HHII", raw, at, tag, 4, 1, width if tag == 256 else height)
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(("side", "mode"), [(100_000, "L"), (9_500, "F"), (20_000, "I;16")])
def test_tiff_bombs_are_refused_before_decoding(images, side, mode):
    """Past Pillow's limit or its warning (9,500 x 9,500 = 9.0e7 pixels), as images and as
    masks."""
    _tiff_claiming(images / "t.tif", side, side, mode)
    ref = index_folder(images)["t"]
    for read in (read_image, read_mask):
        with pytest.raises(InputError, match="t.tif: cannot decode image .Image size .* "
                                             "could be decompression bomb"):
            read(ref)


# --------------------------------------------------------------- 3. header numbers are checked

@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")  # pydicom, as we write them
@pytest.mark.parametrize(("attrs", "match"), [
    ({"WindowCenter": "nan"}, "WindowCenter is nan"),
    ({"WindowWidth": "inf"}, "WindowWidth is inf; expected a finite number > 0"),
    ({"WindowWidth": "0"}, "WindowWidth is 0.0; expected a finite number > 0"),
    ({"WindowWidth": "-40"}, "WindowWidth is -40.0"),
    ({"RescaleSlope": "nan"}, "RescaleSlope is nan"),
    ({"RescaleSlope": "0"}, "RescaleSlope is 0.0: expected a nonzero slope"),
    ({"RescaleIntercept": "-inf"}, "RescaleIntercept is -inf"),
    ({"RescaleSlope": "1e300"},
     "after the Modality LUT or RescaleSlope/RescaleIntercept: 63 infinite value"),
    ({"RescaleSlope": "1.25"}, "RescaleSlope 'ab12': expected a number"),
])
def test_dicom_window_and_rescale_numbers(images, medical, attrs, match):
    pydicom = pytest.importorskip("pydicom")
    p = medical.write_dicom(images / "x.dcm", np.arange(64, dtype=np.uint16).reshape(8, 8),
                            rescale=(1.0, -10.0), window=(40.0, 400.0))
    ds = pydicom.dcmread(p)
    for key, value in attrs.items():
        ds[key].value = value
    ds.save_as(p)
    if attrs == {"RescaleSlope": "1.25"}:  # pydicom refuses to write a DS that is no number
        _patch(p, b"1.25", b"ab12")
    with pytest.raises(InputError, match=match) as err:
        read_image(index_folder(images)["x"])
    assert str(p) in str(err.value)


@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")
@pytest.mark.parametrize(("field", "value", "says"), [
    ("WindowWidth", "inf", "WindowWidth is inf; expected a finite number > 0"),
    ("NumberOfFrames", "ab", "NumberOfFrames 'ab': expected a whole number")])
def test_dicom_bad_numbers_end_render_with_one_line(tmp_path, images, medical, render_refuses,
                                                    field, value, says):
    """One line naming the file and the field: pydicom's own warning about the value is not
    printed besides."""
    pydicom = pytest.importorskip("pydicom")
    p = medical.write_dicom(images / "x.dcm", np.arange(64, dtype=np.uint16).reshape(8, 8),
                            window=(40.0, 400.0))
    ds = pydicom.dcmread(p)
    ds[field] = pydicom.DataElement(pydicom.datadict.tag_for_keyword(field),
                                    pydicom.datadict.dictionary_VR(field), "98765")
    ds.save_as(p)
    _patch(p, b"98765 ", value.encode().ljust(6))
    assert render_refuses(tmp_path, "x").endswith(f"{p}: {says}")


def _nifti_scaled(path: Path, slope: float, inter: float) -> Path:
    nib = pytest.importorskip("nibabel")
    img = nib.Nifti1Image(np.arange(48, dtype=np.int16).reshape(4, 6, 2) + 1000, np.eye(4))
    img.header["scl_slope"], img.header["scl_inter"] = slope, inter
    img.header.set_xyzt_units(xyz="mm")
    img.header["vox_offset"] = 352
    raw = bytearray(img.header.binaryblock + bytes(4) + img.dataobj.tobytes(order="F"))
    raw[112:120] = struct.pack("<ff", slope, inter)  # nibabel resets them on save
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(("slope", "inter", "match"), [
    (3e38, 0.0, "scaled by scl_slope 3e\\+38, scl_inter 0: 48 infinite value"),
    (np.inf, 0.0, "scl_slope is inf"), (-np.inf, 0.0, "scl_slope is -inf"),
    (2.0, np.nan, "scl_inter is nan"), (2.0, np.inf, "scl_inter is inf")])
def test_nifti_scaling_numbers_are_refused(images, slope, inter, match):
    _nifti_scaled(images / "v.nii", slope, inter)
    with pytest.raises(InputError, match=match):
        read_image(index_folder(images)["v_0"])


@pytest.mark.parametrize("slope", [0.0, np.nan])
def test_nifti_slope_zero_or_nan_means_no_scaling(images, slope):
    """The NIfTI standard: scl_slope 0 is no scaling; NaN is what SPM/Analyze converters write
    (nibabel's own anatomical.nii) and is read the same way, as nibabel does."""
    _nifti_scaled(images / "v.nii", slope, np.nan)
    unscaled = _nifti_scaled(images.parent / "u.nii", 1.0, 0.0)
    (images.parent / "u").mkdir()
    unscaled.rename(images.parent / "u" / "u.nii")
    assert np.array_equal(read_image(index_folder(images)["v_1"]),
                          read_image(index_folder(images.parent / "u")["u_1"]))


def test_non_finite_voxels_in_images_and_masks_are_refused(images, medical):
    """Infinity is refused in images and masks, NaN in masks; an image whose values are all
    NaN is refused too."""
    vol = np.ones((4, 6, 2), np.float32)
    vol[1, 2, 1] = np.nan
    medical.write_nrrd(images / "n.nrrd", vol)
    medical.write_nifti(images / "m.nii.gz", np.where(np.isnan(vol), np.inf, vol))
    Image.fromarray(np.array([[0.0, -np.inf], [1.0, 2.0]], np.float32)).save(images / "t.tif")
    Image.fromarray(np.array([[0.0, np.nan], [1.0, 2.0]], np.float32)).save(images / "u.tif")
    medical.write_nrrd(images / "all.nrrd", np.full((4, 6, 2), np.nan, np.float32))
    refs = index_folder(images)
    for key, file, read, kind in (
            ("n_1", "n.nrrd", read_mask, "NaN or infinite"), ("u", "u.tif", read_mask, "NaN or "
                                                               "infinite"),
            ("m_1", "m.nii.gz", read_image, "infinite"), ("m_1", "m.nii.gz", read_mask, "NaN or "
                                                          "infinite"),
            ("t", "t.tif", read_image, "infinite"), ("t", "t.tif", read_mask, "NaN or infinite")):
        with pytest.raises(InputError, match=f"{file}: .*: 1 {kind} value"):
            read(refs[key])
    with pytest.raises(InputError, match="all.nrrd: .*: every value is NaN"):
        read_image(refs["all_0"])


def test_nan_in_an_image_is_no_data_shown_black(images, medical):
    """NaN marks what lies outside the field of view of resampled volumes (nibabel ships one):
    shown black, left out of the window, as before."""
    vol = np.arange(48, dtype=np.float32).reshape(4, 6, 2)
    with_nan = vol.copy()
    with_nan[0, 0, 0] = np.nan
    medical.write_nrrd(images / "n.nrrd", with_nan)
    refs = index_folder(images)
    got = read_image(refs["n_0"])
    assert got[0, 0].tolist() == [0, 0, 0] and got.max() > 200
    shipped = medical.nibabel_file("resampled_anat_moved.nii")
    (images.parent / "r").mkdir()
    (images.parent / "r" / shipped.name).symlink_to(shipped)
    refs = index_folder(images.parent / "r")
    assert read_image(refs["resampled_anat_moved_0"]).shape[2] == 3


@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")
def test_non_finite_spacing_names_the_field(images, medical):
    nrrd = pytest.importorskip("nrrd")
    pydicom = pytest.importorskip("pydicom")
    data = np.zeros((4, 5, 3), np.uint8)
    nrrd.write(str(images / "a.nrrd"), data, {"space": "left-posterior-superior",
                                              "space directions": np.diag([0.8, np.inf, 2.0])})
    nrrd.write(str(images / "b.nrrd"), data, {"space": "left-posterior-superior",
                                              "spacings": [np.inf, 0.5, 2.0]})
    nrrd.write(str(images / "c.nrrd"), np.zeros((4, 5), np.uint8),  # a non-spatial axis
               {"space": "left-posterior-superior",
                "space directions": [[np.nan, np.nan], [0.0, 0.5]]})
    _nifti_scaled(images / "d.nii", 1.0, 0.0)
    raw = bytearray((images / "d.nii").read_bytes())
    raw[80:84] = struct.pack("<f", np.nan)  # pixdim[1]
    (images / "d.nii").write_bytes(bytes(raw))
    p = medical.write_dicom(images / "e.dcm", np.zeros((6, 8), np.uint8))
    ds = pydicom.dcmread(p)
    ds.PixelSpacing = ["nan", "0.5"]
    ds.save_as(p)
    p = medical.write_dicom(images / "f.dcm", np.zeros((6, 8), np.uint8))
    ds = pydicom.dcmread(p)
    ds.PixelSpacing = ["0.25", "0.5"]
    ds.save_as(p)
    _patch(p, b"0.25", b"ab12")
    refs = index_folder(images)
    for key, field in (("a_0", "space directions"), ("b_0", "spacings"), ("d_0", "pixdim"),
                       ("e", "PixelSpacing"), ("f", "PixelSpacing")):
        with pytest.raises(InputError, match=f"{field} (gives a pixel spacing of|holds a "
                                             f"value that is not a number)"):
            pixel_spacing(refs[key])
    assert pixel_spacing(refs["c_0"]) is None


@pytest.mark.parametrize("name", [
    "image_dfl.dcm", "SC_ybr_full_422_uncompressed.dcm", "SC_rgb_rle_16bit_2frame.dcm",
    "SC_rgb_rle_2frame.dcm", "CT_small.dcm", "anatomical.nii", "resampled_anat_moved.nii",
    "standard.nii.gz"])
def test_shipped_files_pass_the_checks(tmp_path, medical, name):
    """Headers the checks must not refuse: a deflated data set, 4:2:2 colour, multi-frame,
    RLE, a NaN scl_slope (SPM), NaN outside the field of view."""
    shipped = (medical.nibabel_file if ".nii" in name else medical.pydicom_file)(name)
    (tmp_path / name).symlink_to(shipped)
    refs = index_folder(tmp_path)
    assert refs
    for ref in list(refs.values())[:2]:
        assert read_image(ref, size=8).shape == (8, 8, 3)


def test_cache_claiming_more_rows_than_memory_holds(tmp_path, untouched):
    """A cache's ``zarr.json`` is a header too: a sample array claiming 3e12 rows (its missing
    chunks would be filled in) is refused before it is read."""
    import json

    from gazeprep.contract.cache import validate
    from gradseg.toydata import write_toy_cache

    cache = tmp_path / "toy.zarr"
    write_toy_cache(cache, n=4, size=16, levels=2, seed=0)
    meta = json.loads((cache / "sample" / "zarr.json").read_text())
    meta["shape"] = meta["chunk_grid"]["configuration"]["chunk_shape"] = [3 * 10**12]
    (cache / "sample" / "zarr.json").write_text(json.dumps(meta))
    check = untouched(cache)
    with pytest.raises(InputError, match="array 'sample' .shape .3000000000000,. in its "
                                         "zarr.json. needs 21.8 TiB of memory"):
        validate(cache)
    check()
