"""``gradseg train --val-ids`` with a file that holds no id: it once fell back to a seeded
``--val-fraction`` draw without a word, so the run validated on images the user did not choose.
Now a usage error (exit 2) naming the option."""

from __future__ import annotations


def test_an_empty_val_ids_file_is_a_usage_error(toy_cache, tmp_path, run_cli):
    cache = toy_cache(n=8, size=32, levels=3)
    ids = tmp_path / "val.txt"
    ids.write_text("# no validation image\n\n")
    r = run_cli("gradseg", "train", "--cache", str(cache), "--val-ids", str(ids), "--out",
                str(tmp_path / "run"), "--iterations", "1", "--batch-size", "2",
                "--base-channels", "4", "--device", "cpu")
    assert r.returncode == 2, r.stderr
    assert "--val-ids" in r.stderr and "no id" in r.stderr, r.stderr
    assert not (tmp_path / "run").exists()
