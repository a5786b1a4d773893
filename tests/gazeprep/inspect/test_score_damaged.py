"""`gazeprep score` on a damaged cache: one line naming the array and the samples, not zarr's
raw checksum text."""

from __future__ import annotations

from pathlib import Path


def test_damaged_shard_is_named(tmp_path, run_cli, error_line):
    from gradseg.toydata import write_toy_cache

    cache = tmp_path / "c.zarr"
    write_toy_cache(cache, n=8, shard=4)
    shard = sorted(p for p in Path(cache, "pseudo", "c").rglob("*") if p.is_file())[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    got = run_cli("gazeprep", "score", "--cache", cache)
    assert got.returncode == 1
    line = error_line(got.stderr)
    assert "array 'pseudo' is damaged in samples toy000" in line and "render the cache" in line
    assert "Stored and computed" not in got.stderr
