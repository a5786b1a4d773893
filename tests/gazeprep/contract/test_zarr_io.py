"""Batched row reads of gazeprep.contract.zarr_io against plain per-row zarr reads."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from gazeprep.contract import zarr_io


@pytest.mark.parametrize(
    ("chunks", "shards", "batched"),
    [
        ((1, 2, 6, 6), (4, 2, 6, 6), True),  # the cache layout, last shard partial
        ((3, 2, 6, 6), None, True),  # unsharded, several rows per chunk
        ((2, 1, 6, 6), None, False),  # rows split across chunks: row-by-row fallback
    ],
)
def test_read_rows_matches_per_row_reads(tmp_path, chunks, shards, batched):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 255, (10, 2, 6, 6), dtype=np.uint8)
    g = zarr.create_group(store=str(tmp_path / "g.zarr"), zarr_format=3)
    g.create_array("a", shape=data.shape, dtype="uint8", chunks=chunks, shards=shards)[:] = data
    arr = zarr_io.open_arrays(tmp_path / "g.zarr", ["a"])["a"]
    assert (zarr_io._rows_per_outer_chunk(arr) is not None) == batched
    rows = [9, 0, 4, 4, 7, 1, 9]
    (got,) = zarr_io.read_rows([arr], rows)
    np.testing.assert_array_equal(got, data[rows])


def test_pipeline_is_scoped_to_the_arrays_opened_in_it(tmp_path):
    if not zarr_io.zarrs_available():
        pytest.skip("zarrs is not installed")
    before = zarr.config.get("codec_pipeline.path")
    g = zarr.create_group(store=str(tmp_path / "g.zarr"), zarr_format=3)
    zarr_io.create_rows_array(g, "a", 3, (1, 4, 4), "uint8", 2)
    arr = zarr_io.open_arrays(tmp_path / "g.zarr", ["a"])["a"]
    assert type(arr._async_array.codec_pipeline).__module__.startswith("zarrs")
    assert zarr.config.get("codec_pipeline.path") == before
