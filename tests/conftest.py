"""Fixtures shared by the whole suite: real data, file digests, commands, generated inputs.

Real data (Kvasir-SEG, GazeMedSeg gaze, EyeLink recordings; see ``../shared/data/README.md``)
is never copied into the repository. Tests find it at ``$GAZE_DATA``, by default
``../shared/data`` beside the project, and skip with the way to enable them when it is absent.

The tests mirror the packages (``tests/gazeprep/<stage>/``, ``tests/pipelines/`` for the
end-to-end runs); every helper that tests in several folders use is a fixture here, so no test
imports another test module. Test file names are unique across folders (pytest's default
import mode imports them by name).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from real_data import DATA_ENV, data_root


@pytest.fixture(scope="session")
def shared_data() -> Callable[..., Path]:
    """``shared_data("eyelink", "x.asc")``: the path of a real-data file, or skip the test.

    The skip says where the data was looked for and how to point the tests at it;
    ``required=False`` gives None instead, for a test that uses the file when it is there.
    """

    def get(*parts: str, required: bool = True) -> Path | None:
        path = data_root().joinpath(*parts)
        if not path.exists():
            if not required:
                return None
            pytest.skip(f"real data {path} not found; set {DATA_ENV}=/path/to/shared/data "
                        "to run this test")
        return path

    return get


# -- file digests: user files must come out of every command byte-identical ----------------------

def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tree_digest(*roots: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under each root (a root that is a file: that file).

    Keys are paths relative to the root (posix) when one root is given, so two folders with
    the same content compare equal; absolute paths when several are. ``skip``: top-level names
    under a folder root left out (e.g. a command's own outputs).
    """
    out = {}
    for root in map(Path, roots):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            rel = p.name if p == root else p.relative_to(root).as_posix()
            if rel.split("/")[0] in skip and p != root:
                continue
            out[rel if len(roots) == 1 else str(p)] = _sha256(p)
    return out


@pytest.fixture(scope="session")
def tree_digest() -> Callable[..., dict[str, str]]:
    """``tree_digest(folder_or_file, ..., skip=())``: sha256 of every file (see
    :func:`_tree_digest`); compare before and after a command."""
    return _tree_digest


@pytest.fixture(scope="session")
def file_sha256() -> Callable[[Path], str]:
    """``file_sha256(path)``: the hex sha256 of one file."""
    return _sha256


@pytest.fixture()
def untouched() -> Callable[..., Callable[[], None]]:
    """``check = untouched(folder_or_file, ...)``, later ``check()``: no file under them
    changed, vanished or appeared."""

    def watch(*roots: Path) -> Callable[[], None]:
        before = _tree_digest(*roots)

        def check() -> None:
            assert _tree_digest(*roots) == before

        return check

    return watch


# -- the command line, as a user runs it ---------------------------------------------------------

def _run_cli(tool: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"{tool}.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def _error_line(stderr: str) -> str:
    from safety_helpers import error_line

    return error_line(stderr)


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., subprocess.CompletedProcess]:
    """``run_cli("gazeprep", "ingest", ...)``: ``python -m <tool>.cli args`` in a subprocess
    (real exit code, real stderr)."""
    return _run_cli


@pytest.fixture(scope="session")
def error_line() -> Callable[[str], str]:
    """``error_line(stderr)``: the one error line of a failed command (the hint about
    ``--verbose`` excluded); fails the test when there is not exactly one."""
    return _error_line


# -- radiology files: shipped by the reader libraries, or written on the spot --------------------

def _pydicom_file(name: str) -> Path:
    """A test file that the pydicom wheel ships (never one it would download)."""
    pydicom = pytest.importorskip("pydicom", reason="pydicom not installed (extra 'medical')")
    p = Path(pydicom.__file__).parent / "data" / "test_files" / name
    if not p.is_file():
        pytest.skip(f"pydicom {pydicom.__version__} does not ship {name}")
    return p


def _nibabel_file(name: str) -> Path:
    """A test volume that the nibabel wheel ships."""
    nib = pytest.importorskip("nibabel", reason="nibabel not installed (extra 'medical')")
    p = Path(nib.__file__).parent / "tests" / "data" / name
    if not p.is_file():
        pytest.skip(f"nibabel {nib.__version__} does not ship tests/data/{name}")
    return p


def _write_dicom(path: Path, frames: np.ndarray, *, photometric: str = "MONOCHROME2",
                 rescale: tuple[float, float] | None = None,
                 window: tuple[float, float] | None = None) -> Path:
    """Write ``frames`` ((H, W) one frame, (K, H, W) multi-frame) as an uncompressed DICOM.

    The integer dtype is kept (uint8, uint16, int16); ``rescale`` = (slope, intercept) and
    ``window`` = (center, width) are stored as the file's attributes.
    """
    pytest.importorskip("pydicom", reason="pydicom not installed (extra 'medical')")
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.Modality = "OT"
    arr = np.ascontiguousarray(frames)
    ds.set_pixel_data(arr, photometric, arr.dtype.itemsize * 8)
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.save_as(path, enforce_file_format=True)
    return path


def _write_nifti(path: Path, data: np.ndarray) -> Path:
    """Write a NIfTI-1 volume (identity affine), dtype kept."""
    nib = pytest.importorskip("nibabel", reason="nibabel not installed (extra 'medical')")
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path


def _write_nrrd(path: Path, data: np.ndarray) -> Path:
    """Write an NRRD volume (pynrrd, Fortran index order like its reader's default)."""
    nrrd = pytest.importorskip("nrrd", reason="pynrrd not installed (extra 'medical')")
    nrrd.write(str(path), data)
    return path


def _slices_to_volume(images: list[np.ndarray]) -> np.ndarray:
    """The volume whose slice k along the last axis displays as ``images[k]`` (data[:,:,k].T)."""
    return np.ascontiguousarray(np.stack([im.T for im in images], axis=-1))


@pytest.fixture(scope="session")
def medical() -> SimpleNamespace:
    """Builders of radiology test files: ``pydicom_file(name)``, ``nibabel_file(name)`` (files
    the wheels ship; the test skips without them), ``write_dicom``, ``write_nifti``,
    ``write_nrrd`` and ``slices_to_volume``."""
    return SimpleNamespace(pydicom_file=_pydicom_file, nibabel_file=_nibabel_file,
                           write_dicom=_write_dicom, write_nifti=_write_nifti,
                           write_nrrd=_write_nrrd, slices_to_volume=_slices_to_volume)


# -- a tiny render input: images, masks and tracks.parquet ---------------------------------------

#: Side of the caches rendered from :func:`render_dataset`.
RENDER_SIZE = 24


def _write_tracks(gaze: Path, tracks: dict[str, list[tuple]]) -> None:
    """Write ``tracks.parquet``: per image id, one (x, y, duration_ms) track per session."""
    import polars as pl

    rows = []
    for image, sessions in tracks.items():
        for k, (x, y, d) in enumerate(sessions):
            rows.append({
                "image": image, "session": f"s{k}",
                "x": [float(v) for v in x], "y": [float(v) for v in y],
                "duration_ms": [float(v) for v in d],
                "onset_ms": [float(300 * i) for i in range(len(x))],
                "n_fixations": len(x), "total_duration_ms": float(np.sum(d)),
                "width": 40, "height": 30,
            })
    gaze.mkdir(parents=True, exist_ok=True)
    schema = {"image": pl.Utf8, "session": pl.Utf8, "x": pl.List(pl.Float32),
              "y": pl.List(pl.Float32), "duration_ms": pl.List(pl.Float32),
              "onset_ms": pl.List(pl.Float64), "n_fixations": pl.Int32,
              "total_duration_ms": pl.Float64, "width": pl.Int32, "height": pl.Int32}
    pl.DataFrame(rows, schema=schema).write_parquet(gaze / "tracks.parquet")


@pytest.fixture(scope="session")
def write_tracks() -> Callable[[Path, dict], None]:
    """``write_tracks(gaze_dir, {image: [(x, y, duration_ms), ...]})``: a ``tracks.parquet``."""
    return _write_tracks


@pytest.fixture()
def render_dataset(tmp_path) -> Path:
    """5 tiny images (one JPEG mask, one without gaze, one without mask, two sessions) with
    their tracks in ``gaze/``, plus gaze on an image that does not exist (``ghost``)."""
    from skimage.io import imsave

    rng = np.random.default_rng(1)
    img_dir, mask_dir = tmp_path / "images", tmp_path / "masks"
    img_dir.mkdir()
    mask_dir.mkdir()
    tracks = {}
    for i in range(5):
        iid = f"im{i}"
        imsave(img_dir / f"{iid}.png", rng.integers(0, 255, (30, 40, 3), dtype=np.uint8),
               check_contrast=False)
        m = np.zeros((30, 40), np.uint8)
        m[8:22, 10:30] = 255
        if i == 0:
            m[:, :5] = 120  # a lossy JPEG grey below 128: background
            imsave(mask_dir / f"{iid}.jpg", m, check_contrast=False)
        elif i != 3:
            imsave(mask_dir / f"{iid}.png", m, check_contrast=False)
        if i == 4:
            continue  # no gaze on im4
        n = 3 + i
        tr = [(rng.uniform(0.3, 0.7, n), rng.uniform(0.3, 0.7, n), rng.uniform(80, 600, n))]
        if i == 2:
            tr.append((np.array([0.5]), np.array([0.5]), np.array([300.0])))
        tracks[iid] = tr
    tracks["ghost"] = [(np.array([0.5]), np.array([0.5]), np.array([100.0]))]
    _write_tracks(tmp_path / "gaze", tracks)
    return tmp_path


@pytest.fixture(scope="session")
def render_plan() -> Callable:
    """``render_plan(folder)``: the render plan of a :func:`render_dataset` folder (with masks)."""
    from gazeprep.render.plan import plan_render

    return lambda d: plan_render(d / "gaze", d / "images", d / "masks")


@pytest.fixture(scope="session")
def render_size() -> int:
    """The side (px) of the caches rendered with :func:`render_params`."""
    return RENDER_SIZE


@pytest.fixture(scope="session")
def render_params() -> Callable:
    """``render_params(**kw)``: RenderParams at :data:`RENDER_SIZE` px with ``kw``."""
    from gazeprep.render.params import RenderParams

    return lambda **kw: RenderParams(size=RENDER_SIZE, **kw)


# -- a checkpoint for tests that read and write files, not for tests of what it learnt -----------

def _untrained_checkpoint(folder: Path, size: int, *, cache_size: int | None = None,
                          image_options: dict | None = None) -> Path:
    """``folder/best.pt``: a gradtrack checkpoint with untrained weights (seed 0)."""
    import torch

    from gradseg.checkpoint import save_checkpoint
    from gradseg.methods import build_model

    config = {"method": "gradtrack", "levels": 2, "base_channels": 4, "size": size,
              "cache_size": cache_size or size, "image_options": image_options}
    torch.manual_seed(0)
    path = Path(folder) / "best.pt"
    save_checkpoint(path, model=build_model(config), config=config, step=0)
    return path


@pytest.fixture(scope="session")
def untrained_checkpoint() -> Callable[..., Path]:
    """``untrained_checkpoint(folder, size, cache_size=None, image_options=None)``: the path
    of an untrained gradtrack checkpoint written into ``folder`` (enough for predict and eval
    to read and write files)."""
    return _untrained_checkpoint
