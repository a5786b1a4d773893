"""Every writer of a cache leaves consolidated metadata that lists every array: xarray opens
the cache (and its labels) without a warning, and a later write never leaves it stale."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import zarr

from gazeprep.contract.cache import validate
from gazeprep.contract.labels import list_labels, write_labels

xr = pytest.importorskip("xarray", reason="xarray not installed (extra 'test')")


def _arrays_on_disk(path) -> set[str]:
    """Every array below the group, by its own zarr.json (the truth, not the consolidation)."""
    found = set()
    for meta in path.rglob("zarr.json"):
        rel = meta.parent.relative_to(path).as_posix()
        if rel != "." and json.loads(meta.read_text())["node_type"] == "array":
            found.add(rel)
    return found


def _open_strictly(path, group=None):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return xr.open_zarr(path, group=group)


def _check(path) -> None:
    """The consolidated listing equals the arrays on disk; xarray sees them all, no warning."""
    doc = json.loads((path / "zarr.json").read_text())
    listed = {k for k, v in doc["consolidated_metadata"]["metadata"].items()
              if v["node_type"] == "array"}
    assert listed == _arrays_on_disk(path)
    ds = _open_strictly(path)
    assert set(ds.variables) == {k for k in listed if "/" not in k}
    names = list_labels(path)
    if names:
        assert set(_open_strictly(path, "labels").variables) == set(names)
    np.testing.assert_array_equal(ds.pseudo.values, zarr.open_group(str(path))["pseudo"][...])


def test_render_then_labels_keep_the_consolidated_metadata_whole(
        render_dataset, render_plan, render_params):
    from gazeprep.render.writer import update_cache

    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    _check(out)
    pseudo = zarr.open_group(str(out))["pseudo"][...]
    write_labels(out, "a", pseudo, {"made_by": "test"})
    _check(out)
    write_labels(out, "b", 1 - pseudo, {"made_by": "test"})
    write_labels(out, "a", 1 - pseudo, {"made_by": "test", "round": 2}, overwrite=True)
    _check(out)
    assert _open_strictly(out, "labels")["a"].attrs["provenance"]["round"] == 2
    # a render that changes parameters rebuilds the cache: the labels are listed still
    update_cache(render_plan(render_dataset), render_params(tau=0.1), out, shard=2)
    _check(out)
    validate(out)


def test_an_update_without_its_consolidation_leaves_none_not_a_stale_one(
        render_dataset, render_plan, render_params):
    """The record render writes mid-update carries no consolidated copy: a reader between it
    and the final consolidation falls back to the arrays' own metadata."""
    from gazeprep.render.store import write_attrs
    from gazeprep.render.writer import update_cache

    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    write_attrs(out / "zarr.json", out / "zarr.json", {**zarr.open_group(str(out)).attrs})
    assert "consolidated_metadata" not in json.loads((out / "zarr.json").read_text())
    validate(out)


def test_toy_caches_are_consolidated(tmp_path):
    from gradseg.toydata import write_toy_cache

    write_toy_cache(tmp_path / "toy.zarr", n=4, size=16, levels=2, shard=2)
    _check(tmp_path / "toy.zarr")
