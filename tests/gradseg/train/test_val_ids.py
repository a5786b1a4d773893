"""`gradseg train` honours a split: --val-ids, and by default the val.txt beside --test-ids."""

from __future__ import annotations

import json

from gradseg.toydata import write_toy_cache

TRAIN = ("--iterations", "2", "--batch-size", "2", "--base-channels", "4", "--threads", "1",
         "--quiet")


def test_the_split_of_test_ids_gives_the_validation_ids(tmp_path, run_cli):
    cache, split = tmp_path / "c.zarr", tmp_path / "split"
    write_toy_cache(cache)
    got = run_cli("gazeprep", "split", cache, "--out", split, "--counts", "7,3,2", "--seed", "1")
    assert got.returncode == 0, got.stderr
    val = (split / "val.txt").read_text().split("\n")[1:-1]
    test = (split / "test.txt").read_text().split("\n")[1:-1]
    got = run_cli("gradseg", "train", "--cache", cache, "--test-ids", split / "test.txt", *TRAIN,
                  "--out", tmp_path / "run")
    assert got.returncode == 0, got.stderr
    assert f"validation on the 3 ids of {split / 'val.txt'}" in got.stderr
    used = json.loads((tmp_path / "run" / "split.json").read_text())
    assert sorted(used["val"]) == sorted(val) and sorted(used["held_out"]) == sorted(test)
    assert not set(used["train"]) & (set(val) | set(test))

    # --val-fraction given: a seeded draw instead, no note
    got = run_cli("gradseg", "train", "--cache", cache, "--test-ids", split / "test.txt", *TRAIN,
                  "--val-fraction", "0.2", "--out", tmp_path / "run2")
    assert got.returncode == 0 and "validation on the" not in got.stderr


def test_val_ids_file_and_its_errors(tmp_path, run_cli):
    cache = tmp_path / "c.zarr"
    ids = write_toy_cache(cache)
    chosen = tmp_path / "val.txt"
    chosen.write_text("\n".join(ids[:4]) + "\n")
    got = run_cli("gradseg", "train", "--cache", cache, "--val-ids", chosen, *TRAIN,
                  "--out", tmp_path / "run")
    assert got.returncode == 0, got.stderr
    assert json.loads((tmp_path / "run" / "split.json").read_text())["val"] == ids[:4]
    chosen.write_text("nope\n")
    got = run_cli("gradseg", "train", "--cache", cache, "--val-ids", chosen, *TRAIN,
                  "--out", tmp_path / "run3")
    assert got.returncode == 1 and "validation id(s) not in the cache" in got.stderr
