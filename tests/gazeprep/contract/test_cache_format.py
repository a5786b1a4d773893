"""The cache format (version 4) opens in xarray: dimension names, CF scale, ids as coordinate.

Both writers of the format are checked: ``gazeprep render`` and gradseg's toy caches (written
through :func:`gazeprep.contract.cache.write_cache`).
"""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from gazeprep.contract.cache import (
    ARRAYS,
    DIMENSIONS,
    FORMAT_VERSION,
    SAMPLE_ARRAYS,
    UNIT,
    UNIT_SCALE,
    validate,
)

xr = pytest.importorskip("xarray", reason="xarray not installed (extra 'test')")


def _check_dataset(path) -> None:
    """xarray's view of the cache equals the stored arrays and the contract's layout."""
    layout = validate(path)
    g = zarr.open_group(str(path), mode="r")
    ds = xr.open_zarr(path)
    assert ds.sample.values.tolist() == layout.ids
    assert ds.attrs["format_version"] == FORMAT_VERSION == 4
    for name in layout.arrays:
        var = ds[name]
        assert var.dims == DIMENSIONS[name], name
        stored = g[name][:]
        if name in UNIT:
            # not decoded to float64 (8x the memory): uint8, with the scale in the attributes
            assert var.dtype == np.uint8 and var.attrs["units"] == "1", name
            np.testing.assert_array_equal(var.values, stored)
            assert var.attrs["scale"] == pytest.approx(1 / UNIT_SCALE)
        else:
            np.testing.assert_array_equal(var.values, stored)
            assert set(np.unique(stored)) <= {0, 1}
    assert ds.orig_size.dims == ("sample", "hw")
    assert [tuple(v) for v in ds.orig_size.values.tolist()] == layout.orig_size
    assert ds.has_mask.values.tolist() == layout.has_mask
    assert ds.n_fixations.values.tolist() == layout.n_fixations
    assert set(SAMPLE_ARRAYS) | set(layout.arrays) == set(ds.variables)
    # one sample selected by its id, as a user of xarray would
    k = layout.ids[-1]
    np.testing.assert_array_equal(ds.pseudo.sel(sample=k).values, g["pseudo"][-1])


def test_rendered_cache_opens_in_xarray(render_dataset, render_plan, render_params):
    from gazeprep.render.writer import update_cache

    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    _check_dataset(out)
    ds = xr.open_zarr(out)
    assert "scale_factor" not in ds.maps.encoding and ds.maps.dtype == np.uint8 and "mask" in ds
    assert ds.maps.nbytes == ds.maps.size  # one byte a value, as stored


def test_toy_cache_opens_in_xarray(tmp_path):
    from gradseg.toydata import write_toy_cache

    ids = write_toy_cache(tmp_path / "toy.zarr", n=5, size=16, levels=3, shard=2)
    _check_dataset(tmp_path / "toy.zarr")
    ds = xr.open_zarr(tmp_path / "toy.zarr")
    assert ds.sample.values.tolist() == ids and ds.maps.sizes["level"] == 3
    nomask = write_toy_cache(tmp_path / "nomask.zarr", n=3, size=16, levels=2, with_mask=False)
    _check_dataset(tmp_path / "nomask.zarr")
    assert "mask" not in xr.open_zarr(tmp_path / "nomask.zarr")
    assert nomask == validate(tmp_path / "nomask.zarr").ids


def test_every_array_has_the_contracts_dimension_names(tmp_path):
    from gradseg.toydata import write_toy_cache

    write_toy_cache(tmp_path / "toy.zarr", n=3, size=8, levels=2)
    g = zarr.open_group(str(tmp_path / "toy.zarr"), mode="r")
    for name in ARRAYS:
        assert g[name].metadata.dimension_names == DIMENSIONS[name], name
    for name, spec in SAMPLE_ARRAYS.items():
        assert g[name].metadata.dimension_names == spec.dimensions, name
        assert g[name].attrs["long_name"], name
    assert not {"ids", "orig_size", "has_mask", "n_fixations"} & set(g.attrs)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_older_versions_are_refused_by_name(tmp_path, version):
    from gazeprep.contract.errors import InputError
    from gradseg.toydata import write_toy_cache

    write_toy_cache(tmp_path / "toy.zarr", n=2, size=8, levels=2)
    zarr.open_group(str(tmp_path / "toy.zarr"), mode="r+").attrs["format_version"] = version
    with pytest.raises(InputError, match=f"format version {version}, expected 4.*render it"):
        validate(tmp_path / "toy.zarr")
