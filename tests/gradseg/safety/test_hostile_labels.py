"""Labels arrays (``labels/<name>``) that another program wrote, or that were edited with their
checksums recomputed: the wrong shape, dtype, row count or values, a missing or short list of
checksums. ``gazeprep export --labels``, ``gradseg train --labels`` and ``gradseg refine
--start`` refuse each in one line naming the labels and what was expected (exit 1), never a
16 px label for a 32 px image or a 255 taken for a class, and leave the cache byte-identical."""

from __future__ import annotations

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

from gazeprep.contract.labels import read_labels, write_labels  # noqa: E402
from gazeprep.contract.zarr_io import consolidate, open_arrays, row_checksums  # noqa: E402


def _rewrite(cache, data, attrs=None, drop=(), checksums=True):
    """Replace labels ``st`` by ``data``, with checksums that match it, as another tool
    would write it (``attrs`` added, ``drop`` attributes removed; ``checksums=False``: the old
    ones kept, as a damaged row leaves them)."""
    group = zarr.open_group(str(cache / "labels"), mode="r+", zarr_format=3,
                            use_consolidated=False)
    old = dict(group["st"].attrs)
    del group["st"]
    new = {**old, **({"row_crc32c": row_checksums(data)} if checksums else {}),
           **(attrs or {})}
    for k in drop:
        new.pop(k)
    group.create_array("st", shape=data.shape, chunks=(1, *data.shape[1:]), dtype=data.dtype,
                       dimension_names=("sample", "channel", "y", "x"),
                       attributes=new)[...] = data
    consolidate(cache)


def _hostile_cache(toy_cache, kind):
    cache = toy_cache(n=8, size=32, levels=3, fresh=True)
    p = open_arrays(cache, ["pseudo"])["pseudo"][...]
    write_labels(cache, "st", p.copy(), {"by": "test"})
    if kind == "values 0/255":
        _rewrite(cache, (p * 255).astype(np.uint8))
    elif kind == "value 2":
        _rewrite(cache, (p * 2).astype(np.uint8))
    elif kind == "float32":
        _rewrite(cache, p.astype(np.float32))
    elif kind == "half size":
        _rewrite(cache, np.ascontiguousarray(p[:, :, :16, :16]))
    elif kind == "two channels":
        _rewrite(cache, np.concatenate([p, p], axis=1))
    elif kind == "fewer rows":
        _rewrite(cache, p[:5].copy())
    elif kind == "more rows":
        _rewrite(cache, np.concatenate([p, p]))
    elif kind == "no checksums":
        _rewrite(cache, p, drop=("row_crc32c",))
    elif kind in ("a group", "metadata not JSON"):
        meta = cache / "labels" / "st" / "zarr.json"
        meta.write_text('{"zarr_format": 3, "node_type": "group", "attributes": {}}'
                        if kind == "a group" else "{not json")
    elif kind == "damaged row":
        q = p.copy()
        q[3, 0, 5, 5] ^= 1
        _rewrite(cache, q, checksums=False)
    else:  # "short checksum list"
        _rewrite(cache, p, attrs={"row_crc32c": [0, 1]})
    return cache


KINDS = ["values 0/255", "value 2", "float32", "half size", "two channels", "fewer rows",
         "more rows", "no checksums", "short checksum list", "damaged row", "a group",
         "metadata not JSON"]


@pytest.mark.parametrize("kind", KINDS)
def test_export_refuses_labels_that_do_not_fit_the_cache(kind, toy_cache, tmp_path, run_cli,
                                                         error_line, tree_digest):
    cache = _hostile_cache(toy_cache, kind)
    before = tree_digest(cache)
    out = tmp_path / "raw"
    r = run_cli("gazeprep", "export", "--cache", str(cache), "--to", "nnunet", "--out",
                str(out), "--labels", "st")
    assert r.returncode == 1, r.stderr
    msg = error_line(r.stderr)
    assert msg.startswith(f"gazeprep: error: {cache}") and "labels 'st'" in msg, msg
    assert "expected" in msg or "write them again" in msg, msg
    assert not any(out.rglob("*.png")) if out.exists() else True
    assert tree_digest(cache) == before


@pytest.mark.parametrize("kind", KINDS)
def test_score_refuses_labels_that_do_not_fit_the_cache(kind, toy_cache, run_cli, error_line,
                                                        tree_digest):
    """``gazeprep score`` scored a damaged row as it was, and named no file for a labels
    array of the wrong shape or row count."""
    cache = _hostile_cache(toy_cache, kind)
    before = tree_digest(cache)
    r = run_cli("gazeprep", "score", "--cache", str(cache))
    assert r.returncode == 1, r.stderr
    msg = error_line(r.stderr)
    assert msg.startswith(f"gazeprep: error: {cache}") and "labels 'st'" in msg, msg
    assert tree_digest(cache) == before


@pytest.mark.parametrize("kind", ["values 0/255", "half size", "no checksums"])
def test_train_refuses_labels_that_do_not_fit_the_cache(kind, toy_cache, tmp_path, run_cli,
                                                        tree_digest):
    cache = _hostile_cache(toy_cache, kind)
    before = tree_digest(cache)
    r = run_cli("gradseg", "train", "--cache", str(cache), "--labels", "st", "--out",
                str(tmp_path / "run"), "--iterations", "2", "--batch-size", "2",
                "--base-channels", "4", "--device", "cpu")
    assert r.returncode == 1, r.stderr
    msg = [ln for ln in r.stderr.splitlines() if ln.startswith("gradseg: error:")]
    assert len(msg) == 1 and msg[0].startswith(f"gradseg: error: {cache}"), r.stderr
    assert "labels 'st'" in msg[0] and "Traceback" not in r.stderr, msg
    assert tree_digest(cache) == before


def test_read_labels_refuses_values_other_than_0_and_1(toy_cache):
    from gazeprep.contract.errors import InputError

    cache = _hostile_cache(toy_cache, "value 2")
    with pytest.raises(InputError, match="expected 0 or 1"):
        read_labels(cache, "st")


def test_export_ids_repeated_a_million_times_export_each_image_once(toy_cache, tmp_path,
                                                                     run_cli):
    """An id file holding one id a million times once kept export writing for minutes (each
    repeat exported again); each image is exported once, and the summary says so."""
    cache = toy_cache(n=8, size=32, levels=3)
    ids = tmp_path / "ids.txt"
    ids.write_text("toy001\n" * 1_000_000 + "toy002\n")
    out = tmp_path / "monai"
    r = run_cli("gazeprep", "export", "--cache", str(cache), "--to", "monai", "--out", str(out),
                "--ids", str(ids), timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (out / "images").iterdir()) == ["toy001.png", "toy002.png"]
    assert "999999 repeated id(s)" in r.stderr + r.stdout


@pytest.mark.parametrize("kind", ["values 0/255", "half size", "damaged row", "a group"])
def test_show_refuses_labels_that_do_not_fit_the_cache(kind, toy_cache, tmp_path, run_cli,
                                                       tree_digest):
    """``gazeprep show`` drew every labels array of the cache unchecked."""
    cache = _hostile_cache(toy_cache, kind)
    before = tree_digest(cache)
    out = tmp_path / "toy003.png"
    r = run_cli("gazeprep", "show", "toy003", "--cache", str(cache), "--out", str(out))
    assert r.returncode == 1, r.stderr
    (msg,) = [ln for ln in r.stderr.splitlines() if ln.startswith("gazeprep: error:")]
    assert msg.startswith(f"gazeprep: error: {cache}") and "labels 'st'" in msg, msg
    assert not out.exists() and tree_digest(cache) == before
