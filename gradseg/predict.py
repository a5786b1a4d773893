"""Inference on image files and on cache samples, at the images' own sizes.

Files are read by :mod:`gazeprep.contract.images`, the rule ``gazeprep render`` made the
training cache with, so a model sees a new file as it saw its training images.

``predict --out`` never replaces a file unless asked: every output name (``<id>.png``,
``<id>_overlay.png``) is known before anything is written, so :func:`check_out` refuses up
front an ``--out`` that is or lies inside ``--images``, two ids whose outputs would share a
name, and (without ``--overwrite``) any existing file an output would replace. Each file is
written under a temporary name and renamed into place, so none is ever half written.

Calling this module, ``gradseg.predict(...)``, runs :func:`gradseg.api.predict` (the Python
API).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from gazeprep.contract.cache import UNIT_SCALE
from gazeprep.contract.images import (
    RASTER_SUFFIXES,
    ImageOptions,
    ImageRef,
    image_size,
    index_folder,
    read_image,
)
from gazeprep.contract.images import read_mask as contract_read_mask
from gradseg.errors import GradsegError
from gradseg.models.unet import predict_logits


def list_images(folder: str | Path, options: ImageOptions | None = None) -> dict[str, ImageRef]:
    """Images of a folder keyed by id (see :func:`gazeprep.contract.images.index_folder`).

    Raises
    ------
    GradsegError
        The folder is missing or holds no image; two files give one id (InputError).
    """
    d = Path(folder)
    if not d.is_dir():
        raise GradsegError("image folder not found", file=d)
    found = index_folder(d, options)
    if not found:
        raise GradsegError(f"no images ({', '.join(RASTER_SUFFIXES)}, .dcm, .nii, .nii.gz, "
                           f".nrrd) in the folder", file=d)
    return found


def select_images(images: dict[str, ImageRef], ids: list[str] | None, folder: str | Path
                  ) -> dict[str, ImageRef]:
    """The images of ``ids`` (all when None), in the order given; an id without an image is
    an error naming a few of them."""
    if ids is None:
        return images
    missing = [k for k in ids if k not in images]
    if missing:
        raise GradsegError(f"{len(missing)} id(s) have no image, e.g. {missing[:5]}",
                           file=folder)
    return {k: images[k] for k in dict.fromkeys(ids)}


def read_rgb(ref: ImageRef, options: ImageOptions | None = None) -> np.ndarray:
    """An image at its own size as uint8 RGB (H, W, 3), by the rule the cache was made with."""
    return read_image(ref, None, options)


def read_mask(ref: ImageRef, options: ImageOptions | None = None) -> np.ndarray:
    """A ground-truth mask as bool (H, W) (see :func:`gazeprep.contract.images.read_mask`)."""
    return contract_read_mask(ref, None, options)


def model_input(ref: ImageRef, config: dict, options: ImageOptions | None = None
                ) -> torch.Tensor:
    """The image as the model saw training images: float (1, 3, s, s) in [0, 1].

    Read at the cache's size by the contract's rule (the bytes ``gazeprep render`` stored),
    then resampled to the model's size ``config["size"]`` as training resamples the cache.
    Checkpoints without ``cache_size`` are taken to be trained at the cache's size.
    """
    from gradseg.data.augment import apply_affine, identity_params

    size = int(config["size"])
    cache_size = int(config.get("cache_size") or size)
    x = torch.from_numpy(read_image(ref, cache_size, options)).permute(2, 0, 1).float()
    x = apply_affine({"image": x.div_(float(UNIT_SCALE))}, identity_params(), size)["image"]
    return x.unsqueeze(0)


def choose_network(model, config: dict, which: str = "student", text: str | Path | None = None,
                   text_missing: str = "error"):
    """Set which network of a checkpoint predicts; returns the text cues it needs, or None.

    Parameters
    ----------
    model : torch.nn.Module
        From :func:`gradseg.checkpoint.load_model`.
    config : dict
        Its run configuration.
    which : {'student', 'teacher', 'ensemble'}
        The network(s) that predict: FGI checkpoints hold a teacher and a student; every other
        method's checkpoint holds one network (``student``).
    text : str or Path, optional
        Text cues of the images (see :mod:`gradseg.data.text`), for a teacher trained with them.
    text_missing : {'error', 'zero'}

    Raises
    ------
    typer.BadParameter
        (exit 2) ``which`` needs cues that were not given, or cues were given for a network
        that takes none; the message says why.
    """
    from gradseg.data.text import TextCues
    from gradseg.methods import get_method

    method = get_method(config)
    method.set_inference(model, which, text is not None)
    if not method.needs_text(model):
        return None
    return TextCues(text, missing=text_missing)


@torch.no_grad()
def probabilities(model, images: torch.Tensor, amp: bool = False, cue=None) -> torch.Tensor:
    """Foreground probabilities (B, 1, H, W) for a (B, 3, H, W) float batch in [0, 1].

    ``cue``: the batch's text cues ``(text, pad)`` (:meth:`gradseg.data.text.TextCues.batch`)
    for a network that reads them.
    """
    dev = next(model.parameters()).device
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
        extra = () if cue is None else tuple(t.to(dev) for t in cue)
        logits = predict_logits(model(images.to(dev), *extra))
    return torch.sigmoid(logits.float()).cpu()


def predict_image(model, config: dict, ref: ImageRef, options: ImageOptions | None = None,
                  amp: bool = False, cues=None, key: str | None = None) -> np.ndarray:
    """Probability map (H, W) of one image at its own size.

    The model sees :func:`model_input`; its probabilities are resized bilinearly to the image's
    own size before thresholding, so the mask follows the image's pixel grid. ``cues`` (with
    the image's id ``key``): text cues for a network that reads them.
    """
    cue = None if cues is None else cues.batch([key])
    p = probabilities(model, model_input(ref, config, options), amp, cue)
    p = torch.nn.functional.interpolate(p, size=image_size(ref), mode="bilinear",
                                        align_corners=False)
    return p[0, 0].numpy()


def iter_probabilities(model, config: dict, images: dict[str, ImageRef], amp: bool = False,
                       options: ImageOptions | None = None, cues=None
                       ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (id, uint8 RGB image, float32 foreground probability at the image's size)."""
    if cues is not None:
        cues.check(list(images))
    for key, ref in images.items():
        rgb = read_rgb(ref, options)
        yield key, rgb, predict_image(model, config, ref, options, amp, cues, key)


def iter_predictions(model, config: dict, images: dict[str, ImageRef], amp: bool = False,
                     options: ImageOptions | None = None, cues=None, threshold: float = 0.5
                     ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (id, uint8 RGB image, bool mask at the image's size: probability >= threshold)."""
    for key, rgb, p in iter_probabilities(model, config, images, amp, options, cues):
        yield key, rgb, p >= threshold


#: What ``predict`` writes for an image of each kind written on its own: its mask's file ending
#: (radiology: NIfTI with the image's pixel spacing) and its probabilities'
#: (``--save-probabilities``). Images of a scan are written per scan instead
#: (:mod:`gradseg.predict_volumes`); DICOM that no scan places comes here.
ENDINGS = {"raster": (".png", ".npy"), "dicom": (".nii.gz", ".nii.gz"),
           "volume": (".nii.gz", ".nii.gz")}


def output_names(key: str, kind: str = "raster", probabilities: bool = False) -> list[str]:
    """The files ``predict`` writes for image ``key`` (of :attr:`ImageRef.kind` ``kind``): its
    mask, its overlay picture and, with ``probabilities``, its probability map."""
    mask, prob = ENDINGS[kind]
    names = [f"{key}{mask}", f"{key}_overlay.png"]
    return names + [f"{key}_probabilities{prob}"] if probabilities else names


def check_out(images: Path, out: Path, ids: list[str], overwrite: bool,
              names_of=output_names) -> list[str]:
    """Refuse, before anything is written, an ``--out`` that would lose a user's file.

    Returns
    -------
    list of str
        One line per leftover temporary file of an interrupted run, removed.

    Raises
    ------
    GradsegError
        ``out`` is, or lies inside, ``images`` (compared resolved); two ids would write the same
        file name (compared case-insensitively, for case-insensitive file systems); ``out`` is
        a file; or, without ``overwrite``, some output file exists already.

    ``names_of(key)``: the files written for ``key`` (default :func:`output_names`).
    """
    root = Path(images).resolve()
    where = Path(out).resolve()
    if where == root or root in where.parents:
        raise GradsegError(f"--out is or lies inside --images ({images}): predictions would "
                           "replace or mix with the input images; choose another --out", file=out)
    owner: dict[str, str] = {}
    for key in ids:
        for name in names_of(key):
            other = owner.setdefault(name.casefold(), key)
            if other != key:
                raise GradsegError(f"image ids {other!r} and {key!r} would both write {name}; "
                                   "rename one of the images", file=images)
    if out.exists() and not out.is_dir():
        raise GradsegError("--out exists and is not a folder", file=out)
    names = [n for key in ids for n in names_of(key)]
    notes = _remove_leftovers(out, set(names))
    existing = [n for n in names if os.path.lexists(out / n)]
    if existing and not overwrite:
        raise GradsegError(f"{len(existing)} existing file(s) would be replaced (e.g. "
                           f"{', '.join(existing[:3])}); pass --overwrite to replace them, or "
                           "choose another --out", file=out)
    return notes


_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-\d+(\.png|\.nii\.gz|\.npy|\.json|\.dcm)$")


def _remove_leftovers(out: Path, ours: set[str]) -> list[str]:
    """Delete temporary files an interrupted ``predict`` left for the outputs ``ours``."""
    if not out.is_dir():
        return []
    notes = []
    for p in out.iterdir():
        m = _TMP.match(p.name)
        if m and m.group("name") in ours and p.is_file():
            p.unlink()
            notes.append(f"{p}: removed, left by an interrupted run")
    return notes


def _save(path: Path, write) -> None:
    """``write(tmp)`` a file whole or not at all (a temporary file beside it, then a rename)."""
    ending = next(e for e in (".nii.gz", ".png", ".npy", ".json", ".dcm") if path.name.endswith(e))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{ending}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _save_png(path: Path, image: np.ndarray) -> None:
    from skimage.io import imsave

    _save(path, lambda tmp: imsave(str(tmp), image, check_contrast=False))


def write_prediction(out: Path, key: str, rgb: np.ndarray, prob: np.ndarray,
                     threshold: float = 0.5, ref: ImageRef | None = None,
                     probabilities: bool = False) -> np.ndarray:
    """Write the files of :func:`output_names` for image ``key`` into ``out``: the mask
    (probability >= ``threshold``; 0/255 PNG for photographs, 0/1 one-slice NIfTI with the
    image's pixel spacing for a DICOM ``ref`` that no scan places), the overlay, and with
    ``probabilities`` the float32 probability map (``.npy``, or NIfTI for radiology). Returns
    the mask. (Images of a volume: :func:`gradseg.predict_volumes.write_scan`.)

    Call :func:`check_out` first: this replaces existing files of those names.
    """
    from gazeprep.contract.source import save_nifti
    from gazeprep.contract.spacing import pixel_spacing
    from gradseg.pictures import overlay

    kind = "raster" if ref is None else ref.kind
    mask = prob >= threshold
    names = output_names(key, kind, probabilities)
    if kind == "raster":
        _save_png(out / names[0], mask.astype(np.uint8) * 255)
        if probabilities:
            _save(out / names[2], lambda tmp: np.save(tmp, prob.astype(np.float32)))
    else:
        spacing = pixel_spacing(ref) or (1.0, 1.0)
        _save(out / names[0], lambda tmp: save_nifti(tmp, mask.astype(np.uint8), spacing))
        if probabilities:
            _save(out / names[2], lambda tmp: save_nifti(tmp, prob.astype(np.float32), spacing))
    _save_png(out / names[1], overlay(rgb, mask))
    return mask


from gazeprep.contract.entry import make_callable  # noqa: E402

make_callable(__name__, "gradseg.api:predict")
